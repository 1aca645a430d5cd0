//! RFM on CDNOW checked against independent plain-SQL computations, and determinism.

mod common;

use std::sync::Arc;

use clv_core::{ClvOptions, RfmTable, TransactionSource};
use common::*;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::common::Result;
use datafusion::datasource::MemTable;
use rand::SeedableRng;
use rand::seq::SliceRandom;

/// Recency, frequency, tenure and monetary per customer from plain SQL over the same file.
const PLAIN_SUMMARY: &str = "
    WITH t AS (SELECT customer_id, CAST(order_date AS INT) AS day, amount FROM orders),
         a AS (SELECT max(day) + 1 AS as_of FROM t)
    SELECT customer_id, as_of - max(day) AS recency_days, count(*) AS frequency,
           sum(amount) AS monetary, as_of - min(day) AS tenure_days
    FROM t CROSS JOIN a GROUP BY customer_id, as_of";

#[tokio::test(flavor = "multi_thread")]
async fn summary_matches_plain_sql() -> Result<()> {
    let ctx = cdnow(4).await?;
    ctx.sql(&format!("CREATE VIEW plain AS {PLAIN_SUMMARY}")).await?;
    let mismatches = scalar_i64(
        &ctx,
        "SELECT count(*) FROM rfm('orders') r JOIN plain p ON r.customer_id = p.customer_id
         WHERE r.recency_days <> p.recency_days OR r.frequency <> p.frequency OR r.tenure_days <> p.tenure_days
            OR abs(r.monetary - p.monetary) > 1e-9 * greatest(1.0, abs(p.monetary))",
    )
    .await?;
    assert_eq!(mismatches, 0);
    // Same customers on both sides.
    assert_eq!(scalar_i64(&ctx, "SELECT count(*) FROM rfm('orders')").await?, 23_570);
    assert_eq!(scalar_i64(&ctx, "SELECT count(*) FROM plain").await?, 23_570);
    assert_eq!(
        scalar_i64(
            &ctx,
            "SELECT count(*) FROM rfm('orders') r JOIN plain p ON r.customer_id = p.customer_id"
        )
        .await?,
        23_570
    );
    // The plain float sum differs from ours in the last bits (hence the stated 1e-9 relative
    // tolerance above); ours is exact: it equals the exact decimal sum of the 2-decimal amounts.
    let inexact = scalar_i64(
        &ctx,
        "WITH d AS (SELECT customer_id, CAST(sum(CAST(amount AS DECIMAL(38, 2))) AS DOUBLE) AS exact FROM orders GROUP BY customer_id)
         SELECT count(*) FROM rfm('orders') r JOIN d ON r.customer_id = d.customer_id
         WHERE abs(r.monetary - d.exact) > 1e-12 * greatest(1.0, abs(d.exact))",
    )
    .await?;
    assert_eq!(inexact, 0);
    Ok(())
}

/// Type-1 quantile scores in plain SQL: cut q_i = the value at sorted position ceil(i*N/n);
/// score = 1 + #{cuts < v} (for lower-is-better: n + 1 - that).
fn plain_quantile(column: &str, lower: bool) -> String {
    let bin = "1 + sum(CASE WHEN c.q < s.v THEN 1 ELSE 0 END)";
    let score = if lower { format!("6 - ({bin})") } else { bin.to_string() };
    format!(
        "WITH s AS (SELECT customer_id, CAST({column} AS DOUBLE) AS v FROM rfm('orders')),
              sorted AS (SELECT v, row_number() OVER (ORDER BY v) AS pos, count(*) OVER () AS n FROM s),
              cuts AS (SELECT k.i, sorted.v AS q FROM sorted CROSS JOIN (VALUES (1), (2), (3), (4)) k(i)
                       WHERE sorted.pos = (k.i * sorted.n + 4) / 5)
         SELECT s.customer_id, {score} AS score FROM s CROSS JOIN cuts c GROUP BY s.customer_id"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn quantile_scores_match_plain_sql() -> Result<()> {
    let ctx = cdnow(4).await?;
    for (dim, column, lower) in [
        ("r", "recency_days", true),
        ("f", "frequency", false),
        ("m", "monetary", false),
    ] {
        let sql = format!(
            "SELECT count(*) FROM rfm('orders') r JOIN ({}) p USING (customer_id) WHERE r.{dim} <> p.score",
            plain_quantile(column, lower)
        );
        assert_eq!(scalar_i64(&ctx, &sql).await?, 0, "{dim} differs from plain SQL");
    }
    // Every score level is used on CDNOW recency, and equal values always share a score.
    assert_eq!(
        scalar_i64(&ctx, "SELECT count(DISTINCT r) FROM rfm('orders')").await?,
        5
    );
    assert_eq!(
        scalar_i64(
            &ctx,
            "SELECT count(*) FROM (SELECT frequency FROM rfm('orders') GROUP BY frequency HAVING count(DISTINCT f) > 1)"
        )
        .await?,
        0
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn ntile_scores_match_sql_ntile() -> Result<()> {
    let ctx = cdnow(4).await?;
    let sql = "SELECT count(*) FROM rfm('orders', 'method=ntile') r JOIN (
                 SELECT customer_id,
                        ntile(5) OVER (ORDER BY recency_days DESC, customer_id) AS r,
                        ntile(5) OVER (ORDER BY frequency, customer_id) AS f,
                        ntile(5) OVER (ORDER BY monetary, customer_id) AS m
                 FROM rfm('orders')) p USING (customer_id)
               WHERE r.r <> p.r OR r.f <> p.f OR r.m <> p.m";
    assert_eq!(scalar_i64(&ctx, sql).await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn segments_follow_the_rf_grid_table() -> Result<()> {
    let ctx = cdnow(2).await?;
    // An independent CASE version of the rf_grid table.
    let sql = "SELECT count(*) FROM rfm('orders') WHERE segment <> CASE
                 WHEN r = 5 AND f >= 4 THEN 'champions'
                 WHEN r IN (3, 4) AND f >= 4 THEN 'loyal_customers'
                 WHEN r >= 4 AND f IN (2, 3) THEN 'potential_loyalists'
                 WHEN r = 5 AND f = 1 THEN 'new_customers'
                 WHEN r = 4 AND f = 1 THEN 'promising'
                 WHEN r = 3 AND f = 3 THEN 'need_attention'
                 WHEN r = 3 AND f <= 2 THEN 'about_to_sleep'
                 WHEN r <= 2 AND f IN (3, 4) THEN 'at_risk'
                 WHEN r <= 2 AND f = 5 THEN 'cant_lose'
                 ELSE 'hibernating' END";
    assert_eq!(scalar_i64(&ctx, sql).await?, 0);
    Ok(())
}

async fn sorted_rfm(ctx: &datafusion::prelude::SessionContext, args: &str) -> Result<RecordBatch> {
    let b = query(ctx, &format!("SELECT * FROM rfm({args}) ORDER BY customer_id")).await?;
    Ok(concat_batches(&b[0].schema(), &b)?)
}

#[tokio::test(flavor = "multi_thread")]
async fn identical_across_partitionings_and_row_orders() -> Result<()> {
    let one = cdnow(1).await?;
    let eight = cdnow(8).await?;
    for args in [
        "'orders'",
        "'orders', 'method=ntile'",
        "'orders', 'scheme=cn8'",
        "'orders', 'monetary=mean', 'collapse=day'",
    ] {
        let a = sorted_rfm(&one, args).await?;
        let b = sorted_rfm(&eight, args).await?;
        assert_eq!(a, b, "target_partitions 1 vs 8 differ for rfm({args})");
    }
    // The same rows shuffled into 5 partitions of an in-memory table.
    let rows = query(&one, "SELECT * FROM orders").await?;
    let all = concat_batches(&rows[0].schema(), &rows)?;
    let mut order: Vec<u32> = (0..all.num_rows() as u32).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(7));
    let shuffled =
        datafusion::arrow::compute::take_record_batch(&all, &datafusion::arrow::array::UInt32Array::from(order))?;
    let n = shuffled.num_rows();
    let parts: Vec<Vec<RecordBatch>> = (0..5)
        .map(|p| vec![shuffled.slice(p * n / 5, (p + 1) * n / 5 - p * n / 5)])
        .collect();
    let ctx = context(8)?;
    ctx.register_table("orders", Arc::new(MemTable::try_new(all.schema(), parts)?))?;
    assert_eq!(scalar_i64(&ctx, "SELECT count(*) FROM orders").await?, 69_659);
    assert_eq!(sorted_rfm(&ctx, "'orders'").await?, sorted_rfm(&one, "'orders'").await?);
    assert_eq!(
        sorted_rfm(&ctx, "'orders', 'method=ntile'").await?,
        sorted_rfm(&one, "'orders', 'method=ntile'").await?
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn rfm_table_pushes_customer_filters_into_the_scan() -> Result<()> {
    let ctx = cdnow(4).await?;
    let table = RfmTable::try_from_context(&ctx, TransactionSource::from(CDNOW), ClvOptions::default()).await?;
    ctx.register_table("customer_rfm", Arc::new(table))?;
    let ids = "(3, 5, 100, 23570, 17, 9999)";
    let filtered = text(
        &ctx,
        &format!("SELECT * FROM customer_rfm WHERE customer_id IN {ids} ORDER BY customer_id"),
    )
    .await?;
    let full = text(
        &ctx,
        &format!("SELECT * FROM rfm('orders') WHERE customer_id IN {ids} ORDER BY customer_id"),
    )
    .await?;
    assert_eq!(filtered, full);
    let one = text(&ctx, "SELECT segment, r, f, m FROM customer_rfm WHERE customer_id = 3").await?;
    assert!(one.contains("champions"), "{one}");
    // The filter reaches the Parquet scan as a predicate.
    let plan = text(&ctx, "EXPLAIN SELECT segment FROM customer_rfm WHERE customer_id = 3").await?;
    assert!(plan.contains("predicate=customer_id@0 = 3"), "{plan}");
    // Without a customer filter the full computation runs; a projection still works.
    assert_eq!(scalar_i64(&ctx, "SELECT count(*) FROM customer_rfm").await?, 23_570);
    assert_eq!(
        scalar_i64(&ctx, "SELECT count(*) FROM customer_rfm WHERE segment = 'champions'").await?,
        scalar_i64(&ctx, "SELECT count(*) FROM rfm('orders') WHERE segment = 'champions'").await?
    );
    // ntile falls back to the full plan and still agrees.
    let o = ClvOptions {
        rfm_method: Some(clv_core::ScoreMethod::Ntile),
        ..ClvOptions::default()
    };
    let nt = RfmTable::try_from_context(&ctx, "orders", o).await?;
    ctx.register_table("customer_rfm_ntile", Arc::new(nt))?;
    assert_eq!(
        text(
            &ctx,
            &format!("SELECT * FROM customer_rfm_ntile WHERE customer_id IN {ids} ORDER BY customer_id")
        )
        .await?,
        text(
            &ctx,
            &format!("SELECT * FROM rfm('orders', 'method=ntile') WHERE customer_id IN {ids} ORDER BY customer_id")
        )
        .await?
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn parquet_path_and_glob_sources() -> Result<()> {
    let ctx = context(2)?;
    let dir = std::path::Path::new(CDNOW).parent().unwrap().display().to_string();
    let by_path = scalar_i64(&ctx, &format!("SELECT count(*) FROM rfm('{CDNOW}')")).await?;
    let by_glob = scalar_i64(
        &ctx,
        &format!("SELECT count(*) FROM rfm('{dir}/cdnow_master*.parquet')"),
    )
    .await?;
    assert_eq!((by_path, by_glob), (23_570, 23_570));
    Ok(())
}
