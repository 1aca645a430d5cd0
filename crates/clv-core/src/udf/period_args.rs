//! Shared argument handling of the calendar period functions.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::ColumnarValue;

use crate::churn::Period;

/// Checks `(value, grain)`; `value` is cast to `value_type`, the grain to text.
pub(crate) fn coerce(
    name: &str,
    arg_types: &[DataType],
    accepts: fn(&DataType) -> bool,
    value_type: DataType,
    what: &str,
) -> Result<Vec<DataType>> {
    if arg_types.len() != 2 {
        return plan_err!("{name} takes ({what}, grain), got {} arguments", arg_types.len());
    }
    if !(accepts(&arg_types[0]) || arg_types[0].is_null()) {
        return plan_err!("{name}: expected {what}, got {}", arg_types[0]);
    }
    Ok(vec![value_type, DataType::Utf8])
}

/// The constant grain argument.
pub(crate) fn grain(name: &str, arg: &ColumnarValue) -> Result<Period> {
    match arg {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(s))) => s.parse(),
        _ => crate::usage_err!("{name}: grain must be a constant: day, week, month, quarter or year"),
    }
}
