//! A scheduler and executors in this process, on loopback: for tests and benchmarks that need a
//! real cluster (gRPC, Flight, shuffle files) without starting processes.
//!
//! ```no_run
//! # #[tokio::main(flavor = "multi_thread")] async fn main() -> datafusion::common::Result<()> {
//! let url = clv_ballista::LocalCluster::new(2).start().await?;     // df://127.0.0.1:PORT
//! let ctx = clv_ballista::remote(&url).await?;
//! # Ok(()) }
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ballista_core::config::TaskSchedulingPolicy;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use datafusion::common::{DataFusionError, Result, exec_err};
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use tokio::net::TcpListener;

/// An in-process cluster: a scheduler and `executors` executors on `127.0.0.1`, started with
/// the same library calls as `clv-scheduler` and `clv-executor`. The servers run as tasks of
/// the current tokio runtime and stop with it.
#[derive(Debug, Clone)]
pub struct LocalCluster {
    /// Executors to start. Default: 2.
    pub executors: usize,
    /// Task slots per executor. Default: 1.
    pub task_slots: usize,
    /// Executors pull tasks (`pull-staged`) instead of the scheduler pushing them
    /// (`push-staged`, Ballista's default). Default: false.
    pub pull: bool,
    /// Whether the scheduler has clv. Default: true; false shows what a stock scheduler does.
    pub clv_scheduler: bool,
    /// Whether the executors have clv. Default: true; false shows what stock executors do.
    pub clv_executors: bool,
    /// Where executors write shuffle files (a folder per executor under it). Default: the
    /// system's temporary folder.
    pub work_dir: PathBuf,
}

impl LocalCluster {
    /// A cluster of `executors` clv executors with one task slot each and a clv scheduler.
    pub fn new(executors: usize) -> Self {
        Self {
            executors,
            task_slots: 1,
            pull: false,
            clv_scheduler: true,
            clv_executors: true,
            work_dir: std::env::temp_dir(),
        }
    }

    /// Starts the scheduler and the executors and returns the scheduler's `df://` address once
    /// every executor has registered (at most 60 s).
    pub async fn start(self) -> Result<String> {
        let policy = if self.pull {
            TaskSchedulingPolicy::PullStaged
        } else {
            TaskSchedulingPolicy::PushStaged
        };
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let config = SchedulerConfig::default()
            .with_hostname("127.0.0.1")
            .with_port(port)
            .with_scheduler_policy(policy);
        let config = if self.clv_scheduler {
            crate::scheduler_config(config)
        } else {
            config
        };
        let cluster = BallistaCluster::new_from_config(&config).await.map_err(external)?;
        let scheduler = create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, Arc::new(config))
            .await
            .map_err(external)?;
        tokio::spawn(start_grpc_service_with_listener(listener, scheduler));

        let mut ready = vec![];
        for _ in 0..self.executors {
            let executor_port = free_port().await?;
            let work_dir = self.work_dir.join(format!("clv-executor-{executor_port}"));
            std::fs::create_dir_all(&work_dir)?;
            let config = ExecutorProcessConfig {
                bind_host: "127.0.0.1".into(),
                external_host: Some("127.0.0.1".into()),
                port: executor_port,
                grpc_port: free_port().await?,
                scheduler_host: "127.0.0.1".into(),
                scheduler_port: port,
                task_scheduling_policy: policy,
                vcores: self.task_slots,
                work_dir: Some(work_dir.display().to_string()),
                ..Default::default()
            };
            let config = if self.clv_executors {
                crate::executor_config(config)?
            } else {
                config
            };
            ready.push(config.health.clone());
            tokio::spawn(start_executor_process(Arc::new(config)));
        }
        let start = Instant::now();
        while !ready.iter().all(|h| h.is_ready()) {
            if start.elapsed() > Duration::from_secs(60) {
                return exec_err!("the local executors did not register with the scheduler within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(format!("df://127.0.0.1:{port}"))
    }
}

fn external(e: ballista_core::error::BallistaError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

async fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0").await?.local_addr()?.port())
}
