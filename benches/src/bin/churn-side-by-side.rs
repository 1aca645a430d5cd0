//! Times clv `churn_labels` (12 monthly cutoffs, 90-day window) and `cohort_retention` (by
//! month) against the same computations in plain DataFusion SQL, on the same Parquet file, in
//! one process, alternating runs.
//!
//! `churn-side-by-side FILE [--runs 3] [--partitions N]` (the file from `clv-gen`, whose dates
//! run from 2023-01-01 to 2024-12-31).

use clap::Parser;
use clv_benches::timing::{median, time_query};
use datafusion::common::Result;
use datafusion::prelude::{SessionConfig, SessionContext};

#[derive(Parser)]
struct Args {
    /// Transactions (Parquet) with customer_id, order_date, amount.
    file: String,
    /// Timed runs per variant (after one warm-up each).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Target partitions (default: the number of cores).
    #[arg(long)]
    partitions: Option<usize>,
}

/// The 12 month ends from July 2023 to June 2024.
const CUTOFFS: &str = "2023-07-01..2024-06-30";

/// Plain SQL for the same labels: per cutoff and customer the summary as of the cutoff, three
/// NTILE(5) scores within the cutoff, censoring and the 90-day label.
const PLAIN_LABELS: &str = "
WITH c AS (SELECT CAST(d AS DATE) AS cutoff FROM (VALUES ('2023-07-31'), ('2023-08-31'), ('2023-09-30'), ('2023-10-31'),
             ('2023-11-30'), ('2023-12-31'), ('2024-01-31'), ('2024-02-29'), ('2024-03-31'), ('2024-04-30'),
             ('2024-05-31'), ('2024-06-30')) AS t(d)),
     j AS (SELECT c.cutoff, b.customer_id, b.order_date, b.amount FROM tx b JOIN c ON b.order_date <= c.cutoff + INTERVAL '90 days'),
     s AS (SELECT cutoff, customer_id,
                  max(order_date) FILTER (WHERE order_date <= cutoff) AS last_d,
                  min(order_date) FILTER (WHERE order_date <= cutoff) AS first_d,
                  count(*) FILTER (WHERE order_date <= cutoff) AS frequency,
                  sum(amount) FILTER (WHERE order_date <= cutoff) AS monetary,
                  count(*) FILTER (WHERE order_date > cutoff) AS window_purchases
           FROM j GROUP BY cutoff, customer_id),
     e AS (SELECT max(order_date) AS data_end FROM tx)
SELECT cutoff, customer_id, cutoff - last_d AS recency_days, frequency, monetary, cutoff - first_d AS tenure_days,
       ntile(5) OVER (PARTITION BY cutoff ORDER BY cutoff - last_d DESC, customer_id) AS r,
       ntile(5) OVER (PARTITION BY cutoff ORDER BY frequency, customer_id) AS f,
       ntile(5) OVER (PARTITION BY cutoff ORDER BY monetary, customer_id) AS m,
       cutoff + INTERVAL '90 days' > data_end AS censored, window_purchases = 0 AS churned
FROM s CROSS JOIN e WHERE frequency > 0";

/// Plain SQL for the monthly cohort triangle (as in the cohort test).
const PLAIN_COHORTS: &str = "
WITH t AS (SELECT customer_id, date_trunc('month', order_date) AS p, amount FROM tx),
     f AS (SELECT customer_id, min(p) AS cohort FROM t GROUP BY customer_id),
     g AS (SELECT f.cohort, t.p, count(DISTINCT t.customer_id) AS active, sum(t.amount) AS revenue
           FROM t JOIN f ON t.customer_id = f.customer_id GROUP BY f.cohort, t.p),
     s AS (SELECT cohort, count(*) AS size FROM f GROUP BY cohort)
SELECT g.cohort, g.p, s.size, g.active, CAST(g.active AS DOUBLE) / s.size AS retention_rate, g.revenue,
       sum(g.revenue) OVER (PARTITION BY g.cohort ORDER BY g.p) / s.size AS cum_per_customer,
       g.revenue / first_value(g.revenue) OVER (PARTITION BY g.cohort ORDER BY g.p) AS revenue_retention
FROM g JOIN s ON g.cohort = s.cohort";

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let mut config = SessionConfig::new();
    if let Some(p) = args.partitions {
        config = config.with_target_partitions(p);
    }
    let ctx = SessionContext::new_with_config(config);
    clv::register_all(&ctx)?;
    ctx.register_parquet("tx", &args.file, Default::default()).await?;
    let labels = format!("SELECT * FROM churn_labels('tx', '{CUTOFFS}', 90, 'method=ntile')");
    let workloads = [
        ("churn labels, 12 monthly cutoffs", labels.as_str(), PLAIN_LABELS),
        (
            "cohort retention by month",
            "SELECT * FROM cohort_retention('tx', 'month')",
            PLAIN_COHORTS,
        ),
    ];
    println!(
        "| workload | variant | rows out | median s ({} runs) | ratio to plain SQL |",
        args.runs
    );
    println!("|---|---|---|---|---|");
    for (name, ours, plain) in workloads {
        let (_, n_ours) = time_query(&ctx, ours).await?;
        let (_, n_plain) = time_query(&ctx, plain).await?;
        let (mut t_ours, mut t_plain) = (vec![], vec![]);
        for _ in 0..args.runs {
            t_ours.push(time_query(&ctx, ours).await?.0);
            t_plain.push(time_query(&ctx, plain).await?.0);
        }
        let (a, b) = (median(t_ours), median(t_plain));
        println!("| {name} | clv | {n_ours} | {a:.3} | **{:.2}** |", a / b);
        println!("| {name} | plain DataFusion SQL | {n_plain} | {b:.3} | 1.00 |");
    }
    Ok(())
}
