//! `is_churned(last_purchase, as_of, threshold_days)`: whether a customer whose last purchase
//! was on `last_purchase` counts as churned on `as_of` under an inactivity threshold.
//!
//! Definition: churned ⇔ `as_of − last_purchase ≥ threshold_days` (whole calendar days; times
//! are truncated to their date). This is the label of `churn_labels` seen from the end of the
//! window, and the `churned` lifecycle stage with `churn_days = threshold_days`. The threshold
//! is any expression, so the three usual rules are one argument away (see the SQL reference):
//! a fixed number of days, a population inter-purchase-time quantile
//! (`percentile_cont(0.95) WITHIN GROUP (ORDER BY gap)`), or `k × median(gap)` per customer.
//!
//! NULL in, NULL out. A negative, NaN or infinite threshold, or a last purchase after `as_of`
//! (the customer's history is then not as of that date) is an error naming the argument.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, AsArray, BooleanBuilder};
use datafusion::arrow::datatypes::{DataType, Date32Type, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::common::dates::format_date;
use crate::common::doc::{SCALAR, doc};
use crate::common::types::is_time_type;

/// The `is_churned` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IsChurned {
    signature: Signature,
}

impl Default for IsChurned {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static UDF: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| Arc::new(ScalarUDF::from(IsChurned::default())));

/// The shared `is_churned` UDF.
pub fn is_churned_udf() -> Arc<ScalarUDF> {
    Arc::clone(&UDF)
}

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        SCALAR,
        "Whether a customer counts as churned on as_of: as_of - last_purchase >= threshold_days, in whole calendar days. NULL in, NULL out.",
        "is_churned(last_purchase, as_of, threshold_days)",
        &[
            ("last_purchase", "date or timestamp of the last purchase"),
            ("as_of", "date or timestamp to judge at"),
            (
                "threshold_days",
                "the inactivity threshold in days, any expression >= 0",
            ),
        ],
    )
});

impl ScalarUDFImpl for IsChurned {
    fn name(&self) -> &str {
        "is_churned"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [last, as_of, threshold] = arg_types else {
            return plan_err!(
                "is_churned takes (last_purchase, as_of, threshold_days), got {} arguments",
                arg_types.len()
            );
        };
        for (name, t) in [("last_purchase", last), ("as_of", as_of)] {
            if !(is_time_type(t) || t.is_null()) {
                return plan_err!("is_churned: {name} must be a date or timestamp, got {t}");
            }
        }
        if !(threshold.is_integer() || threshold.is_floating() || threshold.is_null()) {
            return plan_err!("is_churned: threshold_days must be a number of days, got {threshold}");
        }
        Ok(vec![DataType::Date32, DataType::Date32, DataType::Float64])
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let last = arrays[0].as_primitive::<Date32Type>();
        let as_of = arrays[1].as_primitive::<Date32Type>();
        let threshold = arrays[2].as_primitive::<Float64Type>();
        let mut out = BooleanBuilder::with_capacity(args.number_rows);
        for i in 0..args.number_rows {
            if last.is_null(i) || as_of.is_null(i) || threshold.is_null(i) {
                out.append_null();
                continue;
            }
            let (l, a, k) = (last.value(i), as_of.value(i), threshold.value(i));
            if !(k.is_finite() && k >= 0.0) {
                return exec_err!("is_churned: threshold_days must be a finite number >= 0, got {k}");
            }
            if l > a {
                return exec_err!(
                    "is_churned: last_purchase {} is after as_of {}; use the last purchase on or before as_of (e.g. from rfm(source, as_of))",
                    format_date(l),
                    format_date(a)
                );
            }
            out.append_value(f64::from(a - l) >= k);
        }
        let out = out.finish();
        if scalar {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?));
        }
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}
