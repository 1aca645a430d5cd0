//! The DataFusion session every command runs in, and the clv options it carries: defaults, then
//! `clv.toml`, then flags.

use std::path::{Path, PathBuf};

use clv::prelude::*;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::error::{CliError, Result};
use crate::sample;

/// Where the session runs: this process (with the bundled sample as table `cdnow`), or the
/// Ballista cluster at `cluster`. The single place a `SessionContext` is created.
pub async fn new_context(cluster: Option<&str>) -> Result<SessionContext> {
    match cluster {
        None => {
            let config = SessionConfig::new().with_information_schema(true);
            let ctx = SessionContext::new_with_config(config);
            clv::register_all(&ctx)?;
            sample::register(&ctx)?;
            Ok(ctx)
        }
        // The bundled sample lives in this process, where executors cannot read it.
        Some(url) => remote(url).await,
    }
}

#[cfg(feature = "cluster")]
async fn remote(url: &str) -> Result<SessionContext> {
    if !url.starts_with("df://") {
        return Err(CliError::usage(format!(
            "--cluster: '{url}' is not a scheduler address; expected df://host:port (e.g. df://localhost:50050)"
        )));
    }
    // Ballista connects on the first query; look for the scheduler now, for a clear message.
    let address = url.trim_start_matches("df://");
    let address = if address.contains(':') {
        address.to_string()
    } else {
        format!("{address}:50050")
    };
    let reachable = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tokio::net::TcpStream::connect(&address),
    )
    .await;
    if let Some(cause) = match reachable {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("no answer within 10 s".to_string()),
    } {
        return Err(CliError::usage(format!(
            "--cluster: cannot connect to the Ballista scheduler at {url} ({cause}); check the address and that clv-scheduler runs there (docs/distributed.md)"
        )));
    }
    let config = clv_ballista::session_config().with_information_schema(true);
    Ok(clv_ballista::remote_with_config(url, config).await?)
}

#[cfg(not(feature = "cluster"))]
async fn remote(_: &str) -> Result<SessionContext> {
    Err(CliError::usage(
        "--cluster: this clv was built without cluster support; rebuild clv-cli with --features cluster",
    ))
}

/// A session with the options of `clv.toml` (the given file, else `./clv.toml` when present),
/// local or on the cluster at `--cluster`, planning `--partitions` partitions when given.
pub async fn context(global: &crate::cli::GlobalArgs) -> Result<SessionContext> {
    let (config, cluster) = (global.config.as_deref(), global.cluster.as_deref());
    let ctx = new_context(cluster).await?;
    if let Some(n) = global.partitions {
        set_partitions(&ctx, n)?;
    }
    if let Some(path) = config_path(config)? {
        for (key, value) in read_config(&path)? {
            set_options(
                &ctx,
                &[(key.as_str(), Some(value))],
                &format!("{}: {key}", path.display()),
            )?;
        }
    }
    Ok(ctx)
}

fn config_path(given: Option<&Path>) -> Result<Option<PathBuf>> {
    match given {
        Some(p) if p.is_file() => Ok(Some(p.to_path_buf())),
        Some(p) => Err(CliError::usage(format!(
            "--config: no file at '{}'; pass the path of a clv.toml",
            p.display()
        ))),
        None => Ok(Some(PathBuf::from("clv.toml")).filter(|p| p.is_file())),
    }
}

/// Reads `clv.toml`: top-level keys are clv options (`customer_column = "cust"`), tables give
/// the prefixed ones (`[rfm] scheme = "rfm11"` is `rfm.scheme`).
pub fn read_config(path: &Path) -> Result<Vec<(String, String)>> {
    crate::files::reading_file(path);
    let text =
        std::fs::read_to_string(path).map_err(|e| CliError::usage(format!("cannot read '{}': {e}", path.display())))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        CliError::usage(format!("'{}' is not valid TOML: {}", path.display(), e.message()))
    })?;
    let mut out = vec![];
    flatten("", &table, &mut out).map_err(|e| e.context(path.display()))?;
    Ok(out)
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut Vec<(String, String)>) -> Result<()> {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let text = match v {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Datetime(d) => d.to_string(),
            toml::Value::Array(a) => a
                .iter()
                .map(|v| match v {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            toml::Value::Table(t) => {
                flatten(&key, t, out)?;
                continue;
            }
        };
        out.push((key, text));
    }
    Ok(())
}

/// Applies clv options to the session, so the library reads them like `SET clv.…` options.
/// `origin` names where they came from (a flag or the configuration file) in errors.
pub fn set_options(ctx: &SessionContext, options: &[(&str, Option<String>)], origin: &str) -> Result<()> {
    let state = ctx.state_ref();
    let mut state = state.write();
    let clv = state
        .config_mut()
        .options_mut()
        .extensions
        .get_mut::<ClvOptions>()
        .ok_or_else(|| CliError::internal("clv options are not registered"))?;
    for (key, value) in options {
        if let Some(v) = value {
            clv.set_option(key, v).map_err(|e| {
                let origin = if origin.is_empty() {
                    format!("--{}", key.rsplit('.').next().unwrap_or(key).replace('_', "-"))
                } else {
                    origin.to_string()
                };
                CliError::usage(format!("{origin}: {}", crate::error::root_message(&e)))
            })?;
        }
    }
    Ok(())
}

/// Plans `n` partitions per scan and repartition (DataFusion's `target_partitions`; the default
/// is the number of cores). Results do not depend on it: every command's output is ordered and
/// its sums exact.
pub fn set_partitions(ctx: &SessionContext, n: usize) -> Result<()> {
    if n == 0 {
        return Err(CliError::usage(
            "--partitions: expected a positive number of partitions, got 0",
        ));
    }
    ctx.state_ref()
        .write()
        .config_mut()
        .options_mut()
        .execution
        .target_partitions = n;
    Ok(())
}

/// The session's effective clv options.
pub fn options(ctx: &SessionContext) -> ClvOptions {
    ClvOptions::from_context(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_tables_become_prefixed_options() {
        let dir = std::env::temp_dir().join(format!("clv-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("clv.toml");
        std::fs::write(
            &p,
            "customer_column = \"cust\"\ndedupe = true\n[rfm]\nbins = 4\nrecency_thresholds = [30, 90, 180]\n",
        )
        .unwrap();
        let mut got = read_config(&p).unwrap();
        got.sort();
        assert_eq!(
            got,
            [
                ("customer_column", "cust"),
                ("dedupe", "true"),
                ("rfm.bins", "4"),
                ("rfm.recency_thresholds", "30,90,180")
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        let ctx = futures::executor::block_on(new_context(None)).unwrap();
        for (k, v) in &got {
            set_options(&ctx, &[(k.as_str(), Some(v.clone()))], "clv.toml").unwrap();
        }
        let o = options(&ctx);
        assert_eq!(o.customer_column, "cust");
        assert_eq!(o.rfm_bins, Some(4));
        assert_eq!(o.rfm_recency_thresholds, Some(vec![30.0, 90.0, 180.0]));
        let err = set_options(&ctx, &[("colour", Some("red".into()))], "clv.toml: colour").unwrap_err();
        assert!(
            err.message.starts_with("clv.toml: colour: unknown clv option 'colour'"),
            "{}",
            err.message
        );
    }
}
