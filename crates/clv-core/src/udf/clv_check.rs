//! `clv_check(violation, message, customer, value)`: the data-policy guard.
//!
//! Returns `true` for every row, and fails the query at the first row where `violation` is
//! true, with `message` followed by the offending customer and value. The `error` data
//! policies (`invalid_amounts = error`, `negative_amounts = error`) plan it as a filter, so the
//! check runs where the data is, including on Ballista executors.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, AsArray, BooleanArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::common::doc::{INTERNAL, doc};

/// Row `row` of `a` as the error messages show values (`NULL` for null).
pub(crate) fn format_value(a: &dyn Array, row: usize) -> String {
    ArrayFormatter::try_new(a, &FormatOptions::default().with_null("NULL"))
        .map_or_else(|_| "?".into(), |f| f.value(row).to_string())
}

/// The error of a violated data policy: `message` followed by the offending row's customer and
/// value (`clv_check`'s error, also raised by the fused `rfm()` operator).
pub(crate) fn violation_error(
    message: &str,
    customer: &dyn Array,
    value: &dyn Array,
    row: usize,
) -> datafusion::common::DataFusionError {
    crate::error::ClvError::input_data(format!(
        "{message} (customer {}, value {})",
        format_value(customer, row),
        format_value(value, row)
    ))
    .into()
}

/// The `clv_check` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ClvCheck {
    signature: Signature,
}

impl Default for ClvCheck {
    fn default() -> Self {
        Self {
            signature: Signature::any(4, Volatility::Immutable),
        }
    }
}

static UDF: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| Arc::new(ScalarUDF::from(ClvCheck::default())));

/// The shared `clv_check` UDF.
pub fn clv_check_udf() -> Arc<ScalarUDF> {
    Arc::clone(&UDF)
}

/// `clv_check(violation, message, customer, value)` as an expression.
pub fn clv_check(violation: Expr, message: &str, customer: Expr, value: Expr) -> Expr {
    clv_check_udf().call(vec![violation, datafusion::logical_expr::lit(message), customer, value])
}

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        INTERNAL,
        "The guard the error data policies plan as a filter: true for every row; the query fails at the first row where violation is true, with message, the customer and the value.",
        "clv_check(violation, message, customer, value)",
        &[
            ("violation", "the condition that fails the query"),
            ("message", "the error message, a constant"),
            ("customer", "the customer shown in the error"),
            ("value", "the value shown in the error"),
        ],
    )
});

impl ScalarUDFImpl for ClvCheck {
    fn name(&self) -> &str {
        "clv_check"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let message = match &args.args[1] {
            ColumnarValue::Scalar(s) => s.to_string(),
            ColumnarValue::Array(_) => return exec_err!("clv_check: message must be a constant"),
        };
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let violation = arrays[0].as_boolean_opt().map_or_else(
            || exec_err!("clv_check: violation must be a boolean, got {}", arrays[0].data_type()),
            Ok,
        )?;
        if let Some(i) = (0..violation.len()).find(|&i| violation.is_valid(i) && violation.value(i)) {
            return Err(violation_error(&message, &arrays[2], &arrays[3], i));
        }
        Ok(ColumnarValue::Array(Arc::new(BooleanArray::from(vec![true; n]))))
    }
}
