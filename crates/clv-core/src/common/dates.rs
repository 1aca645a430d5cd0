//! Dates as clv reads and writes them: `YYYY-MM-DD` text and days since 1970-01-01 (Arrow's
//! Date32).

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, plan_err};

/// Parses `YYYY-MM-DD` into days since 1970-01-01.
pub fn parse_date(text: &str, what: &str) -> Result<i32> {
    match ScalarValue::Utf8(Some(text.trim().to_string())).cast_to(&DataType::Date32) {
        Ok(ScalarValue::Date32(Some(d))) => Ok(d),
        _ => plan_err!("{what}: '{text}' is not a date; expected YYYY-MM-DD"),
    }
}

/// Formats days since 1970-01-01 as `YYYY-MM-DD`.
pub fn format_date(days: i32) -> String {
    ScalarValue::Date32(Some(days)).to_string()
}
