//! `lifecycle_stage(days_since_first, days_since_last [, longest_recent_gap_days [, new_days, active_days, churn_days]])`:
//! the lifecycle stage (`new`, `active`, `reactivated`, `silent`, `churned`) of a customer.
//!
//! Windows default to the session options `clv.lifecycle.new_days` (30), `active_days` (90) and
//! `churn_days` (180). A negative day count (first purchase after the as-of date) gives NULL.
//! The rules are in [`crate::churn::lifecycle`].

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::churn::StageWindows;
use crate::common::doc::{SCALAR, doc};
use crate::config::ClvOptions;

/// The `lifecycle_stage` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LifecycleStage {
    signature: Signature,
}

impl Default for LifecycleStage {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static UDF: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| Arc::new(ScalarUDF::from(LifecycleStage::default())));

/// The shared `lifecycle_stage` UDF.
pub fn lifecycle_stage_udf() -> Arc<ScalarUDF> {
    Arc::clone(&UDF)
}

fn constant(args: &ScalarFunctionArgs, i: usize, default: i64, name: &str) -> Result<i64> {
    match args.args.get(i) {
        None => Ok(default),
        Some(ColumnarValue::Scalar(ScalarValue::Int64(Some(v)))) => Ok(*v),
        Some(_) => crate::usage_err!("lifecycle_stage: {name} must be a non-null constant"),
    }
}

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        SCALAR,
        "The lifecycle stage (new, active, reactivated, silent or churned) by the rules of lifecycle(); a negative day count gives NULL.",
        "lifecycle_stage(days_since_first, days_since_last [, longest_recent_gap_days [, new_days, active_days, churn_days]])",
        &[
            ("days_since_first", "days since the first purchase"),
            ("days_since_last", "days since the last purchase"),
            (
                "longest_recent_gap_days",
                "the longest gap before a purchase in the active window",
            ),
            (
                "new_days, active_days, churn_days",
                "the windows (default the clv.lifecycle.* options: 30, 90, 180)",
            ),
        ],
    )
});

impl ScalarUDFImpl for LifecycleStage {
    fn name(&self) -> &str {
        "lifecycle_stage"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !matches!(arg_types.len(), 2 | 3 | 6) {
            return plan_err!(
                "lifecycle_stage takes (days_since_first, days_since_last [, longest_recent_gap_days [, new_days, active_days, churn_days]]), got {} arguments",
                arg_types.len()
            );
        }
        for (i, t) in arg_types.iter().enumerate() {
            if !(t.is_integer() || t.is_null()) {
                return plan_err!(
                    "lifecycle_stage: argument {} must be an integer number of days, got {t}",
                    i + 1
                );
            }
        }
        Ok(vec![DataType::Int64; arg_types.len()])
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let session = ClvOptions::from_session_config(&args.config_options).lifecycle_windows();
        let w = StageWindows {
            new_days: constant(&args, 3, session.new_days, "new_days")?,
            active_days: constant(&args, 4, session.active_days, "active_days")?,
            churn_days: constant(&args, 5, session.churn_days, "churn_days")?,
        };
        w.validate()?;
        let n = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args[..args.args.len().min(3)])?;
        let first = arrays[0].as_primitive::<Int64Type>();
        let last = arrays[1].as_primitive::<Int64Type>();
        let gap = arrays.get(2).map(|a| a.as_primitive::<Int64Type>());
        let mut out = StringBuilder::with_capacity(n, n * 8);
        for i in 0..n {
            let g = gap.and_then(|g| g.is_valid(i).then(|| g.value(i)));
            match (first.is_valid(i) && last.is_valid(i))
                .then(|| w.stage(first.value(i), last.value(i), g))
                .flatten()
            {
                Some(s) => out.append_value(s.as_str()),
                None => out.append_null(),
            }
        }
        let out = out.finish();
        if args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?));
        }
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}
