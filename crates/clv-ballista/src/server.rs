//! The scheduler and executor sides: what `clv-scheduler` and `clv-executor` install, usable
//! from your own server binaries.
//!
//! ```no_run
//! # async fn f() -> ballista_core::error::Result<()> {
//! use std::sync::Arc;
//! use ballista_scheduler::{cluster::BallistaCluster, config::SchedulerConfig, scheduler_process::start_server};
//! let config = clv_ballista::scheduler_config(SchedulerConfig::default());
//! let cluster = BallistaCluster::new_from_config(&config).await?;
//! start_server(cluster, "0.0.0.0:50050".parse().unwrap(), Arc::new(config)).await
//! # }
//! ```

use std::sync::Arc;

use ballista_core::config::LogRotationPolicy;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::utils::default_session_builder;
use ballista_executor::executor_process::ExecutorProcessConfig;
use ballista_scheduler::config::SchedulerConfig;
use datafusion::common::Result;
use datafusion::execution::session_state::SessionState;
use datafusion::prelude::SessionConfig;
use tracing_subscriber::EnvFilter;

use crate::{ClvLogicalCodec, ClvPhysicalCodec, session_config, with_clv};

/// The scheduler's session for one job: Ballista's default session with every clv function
/// (added to, not replacing, DataFusion's and Ballista's).
pub fn session_state(config: SessionConfig) -> Result<SessionState> {
    let mut state = default_session_builder(with_clv(config))?;
    clv_core::register_all_on_state(&mut state)?;
    Ok(state)
}

/// The executors' function registry: exactly the functions of the scheduler's session.
pub fn function_registry() -> Result<BallistaFunctionRegistry> {
    Ok(BallistaFunctionRegistry::from(&session_state(session_config())?))
}

/// Installs clv on a scheduler configuration: session builder, config producer (so `clv.`
/// options sent by clients are kept) and codecs.
pub fn scheduler_config(config: SchedulerConfig) -> SchedulerConfig {
    let mut config = config
        .with_override_config_producer(Arc::new(session_config))
        .with_override_session_builder(Arc::new(session_state));
    config.override_logical_codec = Some(Arc::new(ClvLogicalCodec::default()));
    config.override_physical_codec = Some(Arc::new(ClvPhysicalCodec::default()));
    config
}

/// Installs clv on an executor configuration: function registry, config producer and codecs.
pub fn executor_config(mut config: ExecutorProcessConfig) -> Result<ExecutorProcessConfig> {
    config.override_function_registry = Some(Arc::new(function_registry()?));
    config.override_config_producer = Some(Arc::new(session_config));
    config.override_logical_codec = Some(Arc::new(ClvLogicalCodec::default()));
    config.override_physical_codec = Some(Arc::new(ClvPhysicalCodec::default()));
    Ok(config)
}

/// Logs of `clv-scheduler` / `clv-executor`: `RUST_LOG` or `level` (e.g. `INFO`,
/// `ballista=debug`), to stdout or, with `log_dir`, to `<log_dir>/<file_prefix>.*` rotated by
/// `rotation`.
pub fn init_logging(level: &str, log_dir: Option<&str>, rotation: LogRotationPolicy, file_prefix: &str) {
    use tracing_appender::rolling;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let logs = tracing_subscriber::fmt().with_ansi(false).with_env_filter(filter);
    let Some(dir) = log_dir else {
        return logs.init();
    };
    let file = match rotation {
        LogRotationPolicy::Minutely => rolling::minutely(dir, file_prefix),
        LogRotationPolicy::Hourly => rolling::hourly(dir, file_prefix),
        LogRotationPolicy::Daily => rolling::daily(dir, file_prefix),
        LogRotationPolicy::Never => rolling::never(dir, file_prefix),
    };
    logs.with_writer(file).init();
}

#[cfg(test)]
mod tests {
    use clv_core::registry::{ClvFunction, functions};

    use super::*;

    /// The scheduler's session and the executors' registry hold every function of the registry,
    /// each as its kind (table functions expand on the client and the scheduler only).
    #[test]
    fn scheduler_and_executors_have_every_registered_function() {
        let state = session_state(session_config()).unwrap();
        let registry = function_registry().unwrap();
        for f in functions() {
            let (scheduler, executors) = match &f {
                ClvFunction::Table(..) => (state.table_functions().contains_key(f.name()), true),
                ClvFunction::Window(_) => (
                    state.window_functions().contains_key(f.name()),
                    registry.window_functions.contains_key(f.name()),
                ),
                ClvFunction::Aggregate(_) => (
                    state.aggregate_functions().contains_key(f.name()),
                    registry.aggregate_functions.contains_key(f.name()),
                ),
                ClvFunction::Scalar(_) => (
                    state.scalar_functions().contains_key(f.name()),
                    registry.scalar_functions.contains_key(f.name()),
                ),
            };
            assert!(scheduler, "the scheduler lacks the {} function {}", f.kind(), f.name());
            assert!(executors, "the executors lack the {} function {}", f.kind(), f.name());
        }
    }
}
