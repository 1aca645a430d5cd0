//! The `clv-scheduler` and `clv-executor` binaries as child processes on loopback.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use datafusion::common::{Result, exec_err};

use crate::common::*;

/// A child process killed when dropped (also when the test fails).
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(binary: &str, args: &[String]) -> Result<Process> {
    Ok(Process(
        Command::new(binary)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    ))
}

/// Whether the executor's `/readyz` answers 200 (registered and heartbeating).
fn ready(health_port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", health_port)) else {
        return false;
    };
    let mut answer = String::new();
    s.write_all(b"GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_ok()
        && s.read_to_string(&mut answer).is_ok()
        && answer.split_whitespace().nth(1) == Some("200")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn scheduler_and_two_executor_processes_match_local() -> Result<()> {
    let scheduler = free_address().await?;
    let mut processes = vec![spawn(
        env!("CARGO_BIN_EXE_clv-scheduler"),
        &[
            "--bind-host".into(),
            "127.0.0.1".into(),
            "--external-host".into(),
            "127.0.0.1".into(),
            "--bind-port".into(),
            scheduler.port().to_string(),
        ],
    )?];
    let mut health = vec![];
    for _ in 0..2 {
        let [port, grpc, health_port] =
            [free_address().await?, free_address().await?, free_address().await?].map(|a| a.port());
        health.push(health_port);
        // The executor writes its shuffle files there: the folder exists before it starts.
        let dir = work_dir(&format!("executor-process-{port}"));
        std::fs::create_dir_all(&dir)?;
        processes.push(spawn(
            env!("CARGO_BIN_EXE_clv-executor"),
            &[
                "--scheduler-host",
                "127.0.0.1",
                "--bind-host",
                "127.0.0.1",
                "--external-host",
                "127.0.0.1",
            ]
            .map(String::from)
            .into_iter()
            .chain([
                format!("--scheduler-port={}", scheduler.port()),
                format!("--bind-port={port}"),
                format!("--bind-grpc-port={grpc}"),
                format!("--bind-health-port={health_port}"),
                "--scheduler-connect-timeout-seconds=30".into(),
                "--vcores=1".into(),
                format!("--work-dir={dir}"),
            ])
            .collect::<Vec<_>>(),
        )?);
    }
    let start = Instant::now();
    while !health.iter().all(|&p| ready(p)) {
        for p in &mut processes {
            if let Some(status) = p.0.try_wait()? {
                return exec_err!("a clv server process exited early: {status}");
            }
        }
        if start.elapsed() > Duration::from_secs(60) {
            return exec_err!("clv-executor processes not ready within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cluster = client(&format!("df://{scheduler}")).await?;
    let sql = "SELECT * FROM rfm('orders') ORDER BY customer_id";
    assert_same(
        "rfm() on clv-scheduler + 2 clv-executor processes",
        &run(&local().await?, &[], sql).await?,
        &run(&cluster, &[], sql).await?,
    );
    Ok(())
}
