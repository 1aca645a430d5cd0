//! Times clv `rfm()` against the same computation in plain DataFusion SQL (GROUP BY + three
//! NTILE + CASE), on the same Parquet file, in one process, alternating runs.
//!
//! `rfm-side-by-side FILE [--runs 5] [--partitions N] [--only I] [--memory-limit-mib M] [--out DIR]`

use clap::Parser;
use clv_benches::timing::{median, time_query};
use std::sync::Arc;

use datafusion::common::Result;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

#[derive(Parser)]
struct Args {
    /// Transactions (Parquet) with customer_id, order_date, amount.
    file: String,
    /// Timed runs per variant (after one warm-up each).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Target partitions (default: the number of cores).
    #[arg(long)]
    partitions: Option<usize>,
    /// Run only this variant (0 = clv quantile, 1 = clv ntile, both with the plain SQL's
    /// columns; 2 = plain SQL, 3 = the scan floor, 4 = clv quantile, all 13 columns; 5 = the
    /// plain SQL and 6 = clv quantile, all columns, each written to Parquet by `COPY … TO`) and
    /// print `rows median_seconds`, so a wrapper can measure each one's peak memory in its own
    /// process.
    #[arg(long)]
    only: Option<usize>,
    /// A DataFusion memory limit in MiB (a fair spill pool): operators that reserve memory
    /// spill or fail with `ResourcesExhausted` beyond it.
    #[arg(long)]
    memory_limit_mib: Option<usize>,
    /// Where the `COPY … TO` variants write their Parquet files.
    #[arg(long, default_value = "benches/data")]
    out: String,
}

/// The columns the plain SQL returns, which `rfm()` has under the same names.
const SAME_COLUMNS: &str = "customer_id, recency_days, frequency, monetary, r, f, m, segment";

/// The plain-SQL equivalent of `rfm(file, 'method=ntile')`: same scores and rf_grid segments.
pub const PLAIN_SQL: &str = "
WITH base AS (SELECT customer_id, CAST(CAST(order_date AS DATE) AS INT) AS d, amount FROM tx),
     a AS (SELECT max(d) + 1 AS as_of FROM base),
     s AS (SELECT customer_id, max(d) AS last_d, count(*) AS frequency, sum(amount) AS monetary FROM base GROUP BY customer_id),
     sc AS (SELECT s.customer_id, a.as_of - s.last_d AS recency_days, frequency, monetary,
                   ntile(5) OVER (ORDER BY a.as_of - s.last_d DESC, s.customer_id) AS r,
                   ntile(5) OVER (ORDER BY frequency, s.customer_id) AS f,
                   ntile(5) OVER (ORDER BY monetary, s.customer_id) AS m
            FROM s CROSS JOIN a)
SELECT customer_id, recency_days, frequency, monetary, r, f, m,
  CASE WHEN r = 5 AND f >= 4 THEN 'champions' WHEN r IN (3, 4) AND f >= 4 THEN 'loyal_customers'
       WHEN r >= 4 AND f IN (2, 3) THEN 'potential_loyalists' WHEN r = 5 AND f = 1 THEN 'new_customers'
       WHEN r = 4 AND f = 1 THEN 'promising' WHEN r = 3 AND f = 3 THEN 'need_attention'
       WHEN r = 3 AND f <= 2 THEN 'about_to_sleep' WHEN r <= 2 AND f IN (3, 4) THEN 'at_risk'
       WHEN r <= 2 AND f = 5 THEN 'cant_lose' ELSE 'hibernating' END AS segment
FROM sc";

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let mut config = SessionConfig::new();
    if let Some(p) = args.partitions {
        config = config.with_target_partitions(p);
    }
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(mib) = args.memory_limit_mib {
        runtime = runtime.with_memory_pool(Arc::new(FairSpillPool::new(mib << 20)));
    }
    let ctx = SessionContext::new_with_config_rt(config, runtime.build_arc()?);
    clv::register_all(&ctx)?;
    ctx.register_parquet("tx", &args.file, Default::default()).await?;
    // clv's variants return the plain SQL's columns (the same result); the last one returns
    // every column of rfm().
    let variants = [
        ("clv rfm() quantile", format!("SELECT {SAME_COLUMNS} FROM rfm('tx')")),
        (
            "clv rfm() ntile",
            format!("SELECT {SAME_COLUMNS} FROM rfm('tx', 'method=ntile')"),
        ),
        (
            "plain DataFusion SQL (GROUP BY + 3 NTILE + CASE)",
            PLAIN_SQL.to_string(),
        ),
        (
            "scan floor: the three columns into one trivial aggregate",
            "SELECT count(*), max(customer_id), max(order_date), sum(amount) FROM tx".to_string(),
        ),
        (
            "clv rfm() quantile, all 13 columns",
            "SELECT * FROM rfm('tx')".to_string(),
        ),
        (
            "plain DataFusion SQL, COPY TO Parquet",
            format!("COPY ({PLAIN_SQL}) TO '{}/out_plain.parquet'", args.out),
        ),
        (
            "clv rfm() quantile, all 13 columns, COPY TO Parquet",
            format!("COPY (SELECT * FROM rfm('tx')) TO '{}/out_rfm.parquet'", args.out),
        ),
    ];
    if let Some(i) = args.only {
        let Some((_, sql)) = variants.get(i) else {
            return datafusion::common::plan_err!("--only takes 0 to {}", variants.len() - 1);
        };
        let rows = time_query(&ctx, sql).await?.1; // warm-up
        let mut t = vec![];
        for _ in 0..args.runs {
            t.push(time_query(&ctx, sql).await?.0);
        }
        println!("{rows} {:.3}", median(t));
        return Ok(());
    }
    let mut times: Vec<Vec<f64>> = vec![vec![]; variants.len()];
    let mut rows = vec![0; variants.len()];
    for (i, (_, sql)) in variants.iter().enumerate() {
        rows[i] = time_query(&ctx, sql).await?.1; // warm-up
    }
    for _ in 0..args.runs {
        for (i, (_, sql)) in variants.iter().enumerate() {
            times[i].push(time_query(&ctx, sql).await?.0);
        }
    }
    let base = median(times[2].clone());
    println!(
        "| variant | customers | median s ({} runs) | ratio to plain SQL |",
        args.runs
    );
    println!("|---|---|---|---|");
    for (i, (name, _)) in variants.iter().enumerate() {
        let m = median(times[i].clone());
        println!("| {name} | {} | {m:.3} | {:.2} |", rows[i], m / base);
    }
    Ok(())
}
