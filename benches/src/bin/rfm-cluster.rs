//! Times the same `rfm()` query locally and on a Ballista cluster of two executors started in
//! this process on loopback (`clv_ballista::LocalCluster`), alternating runs, and prints the
//! overhead ratio. Both return the full per-customer result to this process.
//!
//! `rfm-cluster FILE [--runs 5] [--executors 2] [--slots 1]`

use clap::Parser;
use clv_ballista::LocalCluster;
use clv_benches::timing::{median, time_query};
use datafusion::common::Result;
use datafusion::prelude::{SessionConfig, SessionContext};

#[derive(Parser)]
struct Args {
    /// Transactions (Parquet) with customer_id, order_date, amount.
    file: String,
    /// Timed runs per variant (after one warm-up each).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Executors in the cluster.
    #[arg(long, default_value_t = 2)]
    executors: usize,
    /// Task slots per executor.
    #[arg(long, default_value_t = 1)]
    slots: usize,
}

const SQL: &str = "SELECT * FROM rfm('tx')";

fn main() -> Result<()> {
    // Deep plans recurse when Ballista (de)serialises them: 32 MiB stacks, as clv-scheduler.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(32 * 1024 * 1024)
        .build()?
        .block_on(run(Args::parse()))
}

async fn run(args: Args) -> Result<()> {
    let local = SessionContext::new_with_config(SessionConfig::new());
    clv::register_all(&local)?;
    // The plan the cluster runs: Ballista sessions use the ordinary (unfused) rfm() plan.
    let local_unfused = SessionContext::new_with_config(SessionConfig::new());
    clv::register_all(&local_unfused)?;
    local_unfused.sql("SET clv.rfm.fused = false").await?.collect().await?;
    let url = LocalCluster {
        task_slots: args.slots,
        ..LocalCluster::new(args.executors)
    }
    .start()
    .await?;
    let cluster = clv_ballista::remote(&url).await?;
    let file = std::fs::canonicalize(&args.file)?.display().to_string();
    for ctx in [&local, &local_unfused, &cluster] {
        ctx.register_parquet("tx", &file, Default::default()).await?;
    }
    let on_cluster = format!(
        "Ballista: scheduler + {} executors x {} slots on loopback",
        args.executors, args.slots
    );
    let variants = [
        ("local (one process, target_partitions = cores)", &local),
        (
            "local, the ordinary plan the cluster runs (clv.rfm.fused = false)",
            &local_unfused,
        ),
        (on_cluster.as_str(), &cluster),
    ];
    let mut rows = vec![0; variants.len()];
    for (i, (_, ctx)) in variants.iter().enumerate() {
        rows[i] = time_query(ctx, SQL).await?.1; // warm-up
    }
    let mut times: Vec<Vec<f64>> = vec![vec![]; variants.len()];
    for _ in 0..args.runs {
        for (i, (_, ctx)) in variants.iter().enumerate() {
            times[i].push(time_query(ctx, SQL).await?.0);
        }
    }
    let base = median(times[0].clone());
    println!(
        "| variant | customers | median s ({} runs) | ratio to local | ratio to local unfused |",
        args.runs
    );
    println!("|---|---|---|---|---|");
    let unfused = median(times[1].clone());
    for (i, (name, _)) in variants.iter().enumerate() {
        let m = median(times[i].clone());
        println!(
            "| {name} | {} | {m:.3} | {:.2} | {:.2} |",
            rows[i],
            m / base,
            m / unfused
        );
    }
    Ok(())
}
