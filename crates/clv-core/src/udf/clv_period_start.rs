//! `clv_period_start(index, grain)`: the first day (a date) of the calendar period with this
//! index; the inverse of `clv_period_index`.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{AsArray, Date32Array};
use datafusion::arrow::datatypes::{DataType, Int32Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::period_args::{coerce, grain};
use crate::common::doc::{SCALAR, doc};

/// The `clv_period_start` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ClvPeriodStart {
    signature: Signature,
}

impl Default for ClvPeriodStart {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static UDF: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| Arc::new(ScalarUDF::from(ClvPeriodStart::default())));

/// The shared `clv_period_start` UDF.
pub fn clv_period_start_udf() -> Arc<ScalarUDF> {
    Arc::clone(&UDF)
}

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        SCALAR,
        "The first day of the calendar period with this index: the inverse of clv_period_index.",
        "clv_period_start(index, grain)",
        &[
            ("index", "a period index from clv_period_index"),
            ("grain", "day, week (Monday start), month, quarter or year"),
        ],
    )
});

impl ScalarUDFImpl for ClvPeriodStart {
    fn name(&self) -> &str {
        "clv_period_start"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce(
            self.name(),
            arg_types,
            DataType::is_integer,
            DataType::Int32,
            "an integer period index",
        )
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Date32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let period = grain(self.name(), &args.args[1])?;
        // An index whose period starts outside the supported dates is an error, never a
        // wrapped-around date.
        let start = |i: i32| {
            period.checked_start(i).ok_or_else(|| {
                let (first, last) = period.index_range();
                crate::usage_error!(
                    "clv_period_start: {period} index {i} is out of range: periods {first} to {last} start on the supported dates {} to {}",
                    crate::common::dates::format_date(period.start(first)),
                    crate::common::dates::format_date(period.start(last))
                )
            })
        };
        match &args.args[0] {
            ColumnarValue::Scalar(ScalarValue::Int32(i)) => {
                Ok(ColumnarValue::Scalar(ScalarValue::Date32(i.map(start).transpose()?)))
            }
            v => {
                let a = v.to_array(args.number_rows)?;
                let out: Date32Array = a.as_primitive::<Int32Type>().try_unary(start)?;
                Ok(ColumnarValue::Array(Arc::new(out)))
            }
        }
    }
}
