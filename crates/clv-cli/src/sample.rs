//! The bundled CDNOW sample: 69,659 transactions of 23,570 customers (1997-01 .. 1998-06).

use std::sync::Arc;

use datafusion::common::{Result, exec_err};
use datafusion::datasource::MemTable;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::prelude::SessionContext;

/// The name the sample is registered under.
pub const SAMPLE_TABLE: &str = "cdnow";

static CDNOW: &[u8] = include_bytes!("../../../testdata/cdnow_master.parquet");

fn reader() -> Result<ParquetRecordBatchReaderBuilder<bytes::Bytes>> {
    Ok(ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from_static(
        CDNOW,
    ))?)
}

/// Registers the bundled CDNOW transactions as table `cdnow`.
pub fn register(ctx: &SessionContext) -> Result<()> {
    let batches = reader()?.build()?.collect::<std::result::Result<Vec<_>, _>>()?;
    let Some(first) = batches.first() else {
        return exec_err!("the bundled CDNOW sample is empty");
    };
    let schema = first.schema();
    ctx.register_table(SAMPLE_TABLE, Arc::new(MemTable::try_new(schema, vec![batches])?))?;
    Ok(())
}

/// Rows in the sample, from its Parquet metadata.
pub fn rows() -> Result<u64> {
    Ok(reader()?.metadata().file_metadata().num_rows().max(0) as u64)
}
