//! The bundled CDNOW sample: 69,659 transactions of 23,570 customers (1997-01 .. 1998-06).

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::datasource::MemTable;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::prelude::SessionContext;

/// The name the sample is registered under.
pub const SAMPLE_TABLE: &str = "cdnow";

static CDNOW: &[u8] = include_bytes!("../../../testdata/cdnow_master.parquet");

/// Registers the bundled CDNOW transactions as table `cdnow`.
pub fn register(ctx: &SessionContext) -> Result<()> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from_static(CDNOW))?.build()?;
    let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
    let schema = batches[0].schema();
    ctx.register_table(SAMPLE_TABLE, Arc::new(MemTable::try_new(schema, vec![batches])?))?;
    Ok(())
}
