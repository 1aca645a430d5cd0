//! Issue 21 in SQL: bootstrap and delta-method intervals, tracking, holdout accuracy and model
//! choice, DERT and covariates, each checked against an independent reference.

mod common;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::Result;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/cdnow_sample.parquet");

/// The CDNOW sample registered as `sample`, its ids in `master_customer_id`.
async fn sample(partitions: usize) -> Result<SessionContext> {
    let ctx = common::context(partitions)?;
    ctx.register_parquet("sample", SAMPLE, ParquetReadOptions::default())
        .await?;
    Ok(ctx)
}

const SUMMARY: &str = "btyd_summary('sample', '1997-09-30', 'week', 'customer_column=master_customer_id')";

fn f64s(batches: &[RecordBatch], column: &str) -> Vec<f64> {
    let mut out = vec![];
    for b in batches {
        let c = datafusion::arrow::compute::cast(b.column_by_name(column).unwrap(), &DataType::Float64).unwrap();
        out.extend(c.as_primitive::<Float64Type>().iter().map(|v| v.unwrap_or(f64::NAN)));
    }
    out
}

fn strings(batches: &[RecordBatch], column: &str) -> Vec<String> {
    let mut out = vec![];
    for b in batches {
        let c = datafusion::arrow::compute::cast(b.column_by_name(column).unwrap(), &DataType::Utf8).unwrap();
        out.extend(c.as_string::<i32>().iter().map(|v| v.unwrap_or_default().to_string()));
    }
    out
}

/// FHL (2005): the BG/NBD parameters of the CDNOW sample.
const PUBLISHED: [(&str, f64); 4] = [("r", 0.243), ("alpha", 4.414), ("a", 0.793), ("b", 2.426)];

#[tokio::test(flavor = "multi_thread")]
async fn cdnow_bootstrap_intervals_contain_the_published_parameters() -> Result<()> {
    let ctx = sample(2).await?;
    let batches = common::query(
        &ctx,
        &format!(
            "WITH b AS (SELECT ltv_bootstrap(customer_id, x, t_x, t, 'replicates=200', 'seed=7') AS boot FROM {SUMMARY}),
                  p AS (SELECT unnest(boot.parameters) AS p, boot.replicates AS replicates FROM b)
             SELECT p.parameter, p.estimate, p.lower, p.upper, p.std_error, p.delta_lower, p.delta_upper, replicates
             FROM p"
        ),
    )
    .await?;
    println!("{}", datafusion::arrow::util::pretty::pretty_format_batches(&batches)?);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn scratch() -> Result<()> {
    let ctx = sample(2).await?;
    for q in [
        "SELECT customer_id, x, round(p_alive,3) p, round(p_alive_lower,3) pl, round(p_alive_upper,3) pu, round(expected_purchases,3) e, round(expected_purchases_lower,3) el, round(expected_purchases_upper,3) eu, round(clv,2) c, round(clv_lower,2) cl, round(clv_upper,2) cu FROM clv_predict('sample', '1997-09-30', 39, 'customer_column=master_customer_id', 'intervals=0.9') WHERE customer_id <= 5 ORDER BY customer_id",
        "SELECT customer_id, model, round(p_alive,3) FROM clv_predict('sample', '1997-09-30', 39, 'customer_column=master_customer_id', 'model=auto', 'holdout_end=1998-06-30') WHERE customer_id <= 3 ORDER BY customer_id",
        "SELECT model.model, comparison.rule, comparison.reason FROM clv_model('sample', '1997-09-30', 'customer_column=master_customer_id', 'model=auto', 'holdout_end=1998-06-30')",
        "WITH c AS (SELECT unnest(comparison.candidates) AS c FROM clv_model('sample', '1997-09-30', 'customer_column=master_customer_id', 'model=auto', 'holdout_end=1998-06-30')) SELECT c.model, c.penalizer, round(c.log_likelihood,2) ll, round(c.bic,2) bic, round(c.mae,4) mae, round(c.rmse, 4) rmse, round(c.bias,4) bias, round(c.correlation,4) r, round(c.total_predicted,1) tp, c.total_actual, round(c.total_error,1) te, c.chosen FROM c",
        "SELECT bootstrap.expected_transactions, bootstrap.expected_transactions_lower, bootstrap.expected_transactions_upper, bootstrap.expected_revenue, bootstrap.expected_revenue_lower, bootstrap.expected_revenue_upper FROM clv_model('sample', '1997-09-30', 'customer_column=master_customer_id', 'intervals=0.95', 'horizon=39')",
    ] {
        let t = std::time::Instant::now();
        println!("{}\n{:?}", common::text(&ctx, q).await?, t.elapsed());
    }
    Ok(())
}
