#![allow(dead_code)]
//! Shared test helpers.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::common::Result;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

/// The CDNOW master file (69,659 transactions, 23,570 customers).
pub const CDNOW: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/cdnow_master.parquet");

/// A context with clv registered and `partitions` target partitions.
pub fn context(partitions: usize) -> Result<SessionContext> {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(partitions));
    clv_core::register_all(&ctx)?;
    Ok(ctx)
}

/// A context with CDNOW registered as `orders`.
pub async fn cdnow(partitions: usize) -> Result<SessionContext> {
    let ctx = context(partitions)?;
    ctx.register_parquet("orders", CDNOW, ParquetReadOptions::default())
        .await?;
    Ok(ctx)
}

/// Runs a query and returns its batches.
pub async fn query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    ctx.sql(sql).await?.collect().await
}

/// The result of a query as one pretty-printed text (for exact comparisons).
pub async fn text(ctx: &SessionContext, sql: &str) -> Result<String> {
    Ok(pretty_format_batches(&query(ctx, sql).await?)?.to_string())
}

/// A scalar i64 result.
pub async fn scalar_i64(ctx: &SessionContext, sql: &str) -> Result<i64> {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Int64Type;
    let b = query(ctx, sql).await?;
    let c = datafusion::arrow::compute::cast(b[0].column(0), &datafusion::arrow::datatypes::DataType::Int64)?;
    Ok(c.as_primitive::<Int64Type>().value(0))
}
