//! `clv-scheduler`: a Ballista scheduler whose sessions know every clv function.
//!
//! Takes the flags of the stock `ballista-scheduler` (`--help`); clv changes no flag.

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_core::error::{BallistaError, Result};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::{Config, SchedulerConfig};
use ballista_scheduler::scheduler_process::start_server;
use clap::Parser;

fn main() -> Result<()> {
    // Deep plans recurse when they are (de)serialised: the stock binary's 32 MB stacks.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(32 * 1024 * 1024)
        .build()?
        .block_on(run(Config::parse()))
}

async fn run(opt: Config) -> Result<()> {
    let prefix = format!("scheduler_{}_{}_{}", opt.namespace, opt.external_host, opt.bind_port);
    clv_ballista::server::init_logging(
        &opt.log_level_setting,
        opt.log_dir.as_deref(),
        opt.log_rotation_policy,
        &prefix,
    );
    let address: SocketAddr = format!("{}:{}", opt.bind_host, opt.bind_port)
        .parse()
        .map_err(|e| BallistaError::Configuration(format!("--bind-host/--bind-port: {e}")))?;
    let config = clv_ballista::scheduler_config(SchedulerConfig::try_from(opt)?);
    let cluster = BallistaCluster::new_from_config(&config).await?;
    start_server(cluster, address, Arc::new(config)).await
}
