//! `clv-executor`: a Ballista executor whose function registry holds every clv function.
//!
//! Takes the flags of the stock `ballista-executor` (`--help`); clv changes no flag.

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_core::error::{BallistaError, Result};
use ballista_executor::config::Config;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_executor::health::spawn_health_server;
use clap::Parser;

#[tokio::main]
async fn main() -> Result<()> {
    let opt = Config::parse();
    let health_address: SocketAddr = format!("{}:{}", opt.bind_host, opt.bind_health_port)
        .parse()
        .map_err(|e| BallistaError::Configuration(format!("--bind-host/--bind-health-port: {e}")))?;
    let config = clv_ballista::executor_config(ExecutorProcessConfig::try_from(opt)?)?;
    clv_ballista::server::init_logging(
        &config.special_mod_log_level,
        config.log_dir.as_deref(),
        config.log_rotation_policy,
        &config.log_file_name_prefix(),
    );
    // Liveness (/healthz) and readiness (/readyz) for orchestrators, as the stock binary serves.
    let (stop_health, stopped) = tokio::sync::oneshot::channel();
    let health = spawn_health_server(health_address, config.health.clone(), stopped);
    let result = start_executor_process(Arc::new(config)).await;
    let _ = stop_health.send(());
    let _ = health.await;
    result
}
