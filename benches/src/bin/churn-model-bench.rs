//! Times the trained churn model (issue 17) on a generated file: the per-cutoff activity
//! features (clv's kernel, the same definitions `benches/churn_duckdb.py` computes in DuckDB),
//! `churn_features` (with a BG/NBD fit per cutoff), the logistic fit and scoring alone on
//! materialized features, and `churn_model`, `churn_risk` and `churn_contacts` end to end.
//!
//! `churn-model-bench FILE [--runs 3] [--cutoff 2024-09-30]` (the file from `clv-gen`, dates
//! 2023-01-01 … 2024-12-31). Prints a markdown table; the DuckDB side is `churn_duckdb.py`.

use std::sync::Arc;

use clap::Parser;
use clv_benches::timing::{median, time_query};
use datafusion::common::Result;
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};

#[derive(Parser)]
struct Args {
    /// Transactions (Parquet) with customer_id, order_date, amount.
    file: String,
    /// Timed runs per workload (after one warm-up each).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// The scoring cutoff (90-day window; the model trains on the 12 month ends before it).
    #[arg(long, default_value = "2024-09-30")]
    cutoff: String,
}

/// The 12 training month ends of a 2024-09-30 cutoff and the cutoff.
const CUTOFFS: &str = "2023-07-31,2023-08-31,2023-09-30,2023-10-31,2023-11-30,2023-12-31,2024-01-31,2024-02-29,2024-03-31,2024-04-30,2024-05-31,2024-06-30,2024-09-30";

const FEATURES: &str = "log_recency, log_frequency, log_monetary_mean, log_tenure, log_p30, log_p90, log_s30, log_s90, \
                        trend_p90, trend_s90, trend_p30, log_gap_ratio, single, logit_p_none, log_e_window";

async fn time(ctx: &SessionContext, name: &str, sql: &str, runs: usize) -> Result<()> {
    let (_, rows) = time_query(ctx, sql).await?;
    let mut t = vec![];
    for _ in 0..runs {
        t.push(time_query(ctx, sql).await?.0);
    }
    println!("| {name} | {rows} | {:.3} |", median(t));
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let ctx = SessionContext::new_with_config(SessionConfig::new());
    clv::register_all(&ctx)?;
    ctx.register_parquet("tx", &args.file, Default::default()).await?;
    let c = &args.cutoff;
    println!(
        "| workload (13 cutoffs: 12 month ends + {c}, 90-day window) | rows out | median s ({} runs) |",
        args.runs
    );
    println!("|---|---|---|");
    // The activity features only: the plan churn_features builds before the BTYD fits.
    let activity = format!(
        "WITH d AS (SELECT customer_id, CAST(CAST(order_date AS DATE) AS INT) AS day,
                           sum(CAST(amount AS DECIMAL(38, 9))) AS amount, bool_or(amount >= 0) AS purchase
                    FROM tx GROUP BY 1, 2),
              h AS (SELECT customer_id, array_agg(named_struct('day', day, 'amount', amount, 'purchase', purchase)) AS history
                    FROM d GROUP BY customer_id)
         SELECT customer_id, unnest(clv_cutoff_features(history, '{CUTOFFS}', 90)) AS f FROM h"
    );
    time(&ctx, "activity features (clv_cutoff_features)", &activity, args.runs).await?;
    let features = format!("SELECT * FROM churn_features('tx', '{CUTOFFS}', 90)");
    time(
        &ctx,
        "churn_features (+ 13 BG/NBD fits, window terms, model inputs)",
        &features,
        args.runs,
    )
    .await?;
    // The logistic fit and the scoring alone, on materialized features.
    let batches = ctx.sql(&features).await?.collect().await?;
    let schema = batches[0].schema();
    ctx.register_table("f", Arc::new(MemTable::try_new(schema, vec![batches])?))?;
    let fit =
        format!("SELECT churn_model_fit(churned, {FEATURES}) AS m FROM f WHERE cutoff < DATE '{c}' AND NOT censored");
    time(&ctx, "churn_model_fit on the training rows", &fit, args.runs).await?;
    let model = ctx.sql(&fit).await?.collect().await?;
    ctx.register_table("m", Arc::new(MemTable::try_new(model[0].schema(), vec![model])?))?;
    let score = format!(
        "SELECT customer_id, churn_model_score(m.m, {FEATURES}) AS p FROM f CROSS JOIN m WHERE cutoff = DATE '{c}'"
    );
    time(&ctx, "churn_model_score on the scoring rows", &score, args.runs).await?;
    time(
        &ctx,
        "churn_model (features, fits, logistic fit)",
        &format!("SELECT * FROM churn_model('tx', '{c}', 90)"),
        args.runs,
    )
    .await?;
    time(
        &ctx,
        "churn_risk (trained and scored, tiers, expected value)",
        &format!("SELECT * FROM churn_risk('tx', '{c}', 90)"),
        args.runs,
    )
    .await?;
    time(
        &ctx,
        "churn_contacts (churn_risk ranked by value at risk)",
        &format!("SELECT * FROM churn_contacts('tx', '{c}', 90)"),
        args.runs,
    )
    .await?;
    Ok(())
}
