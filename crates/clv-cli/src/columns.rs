//! Reading result columns into plain vectors (for charts and terminal views).

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};

use crate::error::{CliError, Result};

fn cast(batches: &[RecordBatch], name: &str, to: &DataType) -> Result<Vec<Arc<dyn Array>>> {
    batches
        .iter()
        .map(|b| {
            let c = b
                .column_by_name(name)
                .ok_or_else(|| CliError::internal(format!("the result has no column '{name}'")))?;
            Ok(datafusion::arrow::compute::cast(c, to)?)
        })
        .collect()
}

/// A numeric column as `f64` (null → NaN).
pub fn f64s(batches: &[RecordBatch], name: &str) -> Result<Vec<f64>> {
    let mut out = vec![];
    for a in cast(batches, name, &DataType::Float64)? {
        let a = a.as_primitive::<Float64Type>();
        out.extend((0..a.len()).map(|i| if a.is_null(i) { f64::NAN } else { a.value(i) }));
    }
    Ok(out)
}

/// An integer column as `i64` (null → 0).
pub fn i64s(batches: &[RecordBatch], name: &str) -> Result<Vec<i64>> {
    let mut out = vec![];
    for a in cast(batches, name, &DataType::Int64)? {
        let a = a.as_primitive::<Int64Type>();
        out.extend((0..a.len()).map(|i| if a.is_null(i) { 0 } else { a.value(i) }));
    }
    Ok(out)
}

/// Any column as text (null → None).
pub fn strings(batches: &[RecordBatch], name: &str) -> Result<Vec<Option<String>>> {
    let mut out = vec![];
    for a in cast(batches, name, &DataType::Utf8)? {
        let a = a.as_string::<i32>();
        out.extend((0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i).to_string())));
    }
    Ok(out)
}

/// The first non-null value of a column as text; an internal error naming `what` (the query
/// that should have produced it) and the column when every row is null or there is no row.
pub fn first_string(batches: &[RecordBatch], name: &str, what: &str) -> Result<String> {
    strings(batches, name)?
        .into_iter()
        .flatten()
        .next()
        .ok_or_else(|| CliError::internal(format!("{what} returned no {name}")))
}
