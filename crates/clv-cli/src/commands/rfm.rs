//! `clv rfm`: RFM scores and segments.

use clv::prelude::*;

use super::{Job, exact, exact_decimal};
use crate::cli::{GlobalArgs, RfmArgs};
use crate::error::Result;
use crate::output::{self, Emitted};

/// Registers `--scheme-file` schemes.
pub fn register_schemes(ctx: &datafusion::prelude::SessionContext, files: &[std::path::PathBuf]) -> Result<()> {
    for f in files {
        crate::files::reading_file(f);
        let scheme = SegmentScheme::from_path(f)
            .map_err(|e| crate::error::CliError::usage(crate::error::root_message(&e)).context(f.display()))?;
        clv::register_scheme(ctx, scheme)?;
    }
    Ok(())
}

/// The data-policy counts as text lines.
pub fn policy_lines(report: &PolicyReport, options: &ClvOptions) -> Vec<String> {
    report
        .lines(options)
        .into_iter()
        .map(|(policy, action, n)| {
            if action.is_empty() {
                format!("  {policy:<30} {n:>10}")
            } else {
                format!("  {policy:<30} {n:>10}  {action}")
            }
        })
        .collect()
}

/// Score levels that quantile ties left empty and outsized segments ([`clv::rfm::diagnostics`]);
/// none for k-means clusters, which have no score levels.
pub fn diagnostics(
    job: &super::Job,
    result: &[datafusion::arrow::array::RecordBatch],
) -> Result<Vec<clv::rfm::diagnostics::Diagnostic>> {
    use clv::rfm::diagnostics::{LevelCounts, missing_levels, outsized_segments};
    let options = crate::session::options(&job.ctx);
    if options.rfm_scheme.trim().eq_ignore_ascii_case("kmeans") || output::rows(result) == 0 {
        return Ok(vec![]);
    }
    let specs = clv::plan::rfm::resolve_specs(
        &options,
        &clv::plan::rfm::RfmFunctions::from_session(&job.ctx.state()).schemes(),
    )?;
    let mut dimensions = vec![];
    for (dimension, column, spec) in [
        ("recency", "r", &specs.r),
        ("frequency", "f", &specs.f),
        ("monetary", "m", &specs.m),
    ] {
        let mut counts = vec![0u64; usize::from(spec.bins)];
        for level in crate::columns::i64s(result, column)? {
            if let Some(n) = usize::try_from(level)
                .ok()
                .and_then(|l| l.checked_sub(1))
                .and_then(|i| counts.get_mut(i))
            {
                *n += 1;
            }
        }
        dimensions.push(LevelCounts {
            dimension,
            method: spec.method,
            bins: spec.bins,
            counts,
        });
    }
    let mut segments: Vec<(String, u64)> = vec![];
    for s in crate::columns::strings(result, "segment")?.into_iter().flatten() {
        match segments.iter_mut().find(|(k, _)| *k == s) {
            Some((_, n)) => *n += 1,
            None => segments.push((s, 1)),
        }
    }
    let mut out = missing_levels(&dimensions);
    out.extend(outsized_segments(&segments));
    Ok(out)
}

/// Runs `clv rfm`.
pub async fn run(global: &GlobalArgs, args: RfmArgs) -> Result<()> {
    let job = Job::new(global, &args.input, &args.rfm.options()).await?;
    register_schemes(&job.ctx, &args.rfm.scheme_file)?;
    args.view.output.check()?;
    let src = job.source();
    // The fused operator counts the data policies in its own scan (one pass over the input);
    // other plans (an order column, a cluster) run the policy report as a query of its own.
    crate::session::set_options(&job.ctx, &[("rfm.policy_counts", Some("true".into()))], "")?;
    let (result, executed) = job
        .sql_registered_plan(
            "RFM scores",
            &format!("SELECT * FROM rfm({src}) ORDER BY customer_id"),
            "rfm_result",
        )
        .await?;
    job.warn_if_empty(&result, "RFM result").await?;
    for d in diagnostics(&job, &result)? {
        job.warn(d);
    }
    let emitted = output::emit(&result, &args.view.output, job.quiet)?;
    if emitted == Emitted::Done {
        return Ok(());
    }
    let report = match clv::exec::rfm_exec::policy_report_of(&executed) {
        Some(report) => report,
        None => PolicyReport::from_batches(
            &job.sql("data policies", &format!("SELECT * FROM clv_policy_report({src})"))
                .await?,
        )?,
    };
    let options = crate::session::options(&job.ctx);
    let kmeans = options.rfm_scheme.trim().eq_ignore_ascii_case("kmeans");
    if kmeans {
        job.note(format!(
            "RFM clusters of {}: {} customers as of {}, k-means with k = {}",
            job.input.label,
            report.customers,
            report.as_of.as_deref().unwrap_or("-"),
            options.kmeans_k
        ));
    } else {
        let specs = clv::plan::rfm::resolve_specs(
            &options,
            &clv::plan::rfm::RfmFunctions::from_session(&job.ctx.state()).schemes(),
        )?;
        job.note(format!(
            "RFM of {}: {} customers as of {}, scheme {}, method {} with {} bins{}",
            job.input.label,
            report.customers,
            report.as_of.as_deref().unwrap_or("-"),
            options.rfm_scheme,
            specs.r.method,
            specs.r.bins,
            options
                .rfm_lookback_days
                .map(|d| format!(", frequency and monetary over the last {d} days"))
                .unwrap_or_default()
        ));
    }
    let mut segments = job
        .sql_results(
            "segments",
            &format!(
                "SELECT segment, count(*) AS customers,
                    round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS customer_pct,
                    round({revenue}, 2) AS revenue,
                    round(100.0 * {revenue} / CAST(sum(sum({amount})) OVER () AS DOUBLE), 1) AS revenue_pct,
                    round(avg(recency_days), 1) AS avg_recency_days,
                    round(avg(frequency), 2) AS avg_frequency
             FROM rfm_result GROUP BY segment ORDER BY customers DESC, segment",
                revenue = exact("sum", "monetary"),
                amount = exact_decimal("monetary")
            ),
        )
        .await?;
    if let Some(with_actions) = super::segments::with_actions(&job, &segments, &options.rfm_scheme).await? {
        segments = with_actions;
    }
    let concentration = if output::rows(&result) == 0 {
        vec![]
    } else {
        super::segments::concentration_lines(&result)?
    };
    let preview_columns = if kmeans {
        "customer_id, recency_days, frequency, round(monetary, 2) AS monetary, cluster_id, segment FROM rfm_result ORDER BY cluster_id, customer_id"
    } else {
        "customer_id, recency_days, frequency, round(monetary, 2) AS monetary, r, f, m, rfm_cell, segment FROM rfm_result ORDER BY rfm_total DESC, customer_id"
    };
    let preview = job
        .sql_results(
            "preview",
            &format!("SELECT {preview_columns} LIMIT {}", args.view.preview),
        )
        .await?;
    // Printed once every query has run: a failure leaves stdout empty.
    output::print_table("Segments", &segments)?;
    for line in &concentration {
        println!("{line}");
    }
    output::print_table(
        &if kmeans {
            format!("Preview (first {} by cluster, then customer id)", args.view.preview)
        } else {
            format!("Preview (top {} by R+F+M, then customer id)", args.view.preview)
        },
        &preview,
    )?;
    println!("\nData policies");
    for line in policy_lines(&report, &options) {
        println!("{line}");
    }
    Ok(())
}
