//! `clv_period_index(time, grain)`: the calendar period a date or timestamp falls in, as an
//! index counted from 1970 (`grain`: day, week (Monday start), month, quarter, year).
//! Differences of indexes are whole periods: a cohort's period offset.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{AsArray, Int32Array};
use datafusion::arrow::datatypes::{DataType, Date32Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::period_args::{coerce, grain};
use crate::common::doc::{SCALAR, doc};
use crate::common::types::is_time_type;

/// The `clv_period_index` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ClvPeriodIndex {
    signature: Signature,
}

impl Default for ClvPeriodIndex {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static UDF: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| Arc::new(ScalarUDF::from(ClvPeriodIndex::default())));

/// The shared `clv_period_index` UDF.
pub fn clv_period_index_udf() -> Arc<ScalarUDF> {
    Arc::clone(&UDF)
}

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        SCALAR,
        "The calendar period a date or timestamp falls in, as an index counted from 1970; differences of indexes are whole periods.",
        "clv_period_index(date_or_timestamp, grain)",
        &[
            ("date_or_timestamp", "the time"),
            ("grain", "day, week (Monday start), month, quarter or year"),
        ],
    )
});

impl ScalarUDFImpl for ClvPeriodIndex {
    fn name(&self) -> &str {
        "clv_period_index"
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
            is_time_type,
            DataType::Date32,
            "a date or timestamp",
        )
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let period = grain(self.name(), &args.args[1])?;
        match &args.args[0] {
            ColumnarValue::Scalar(ScalarValue::Date32(d)) => {
                Ok(ColumnarValue::Scalar(ScalarValue::Int32(d.map(|d| period.index(d)))))
            }
            v => {
                let a = v.to_array(args.number_rows)?;
                let out: Int32Array = a.as_primitive::<Date32Type>().unary(|d| period.index(d));
                Ok(ColumnarValue::Array(Arc::new(out)))
            }
        }
    }
}
