//! `rfm_cell(r, f, m)`: the cell code, one character per score (`'545'`; a score of 10 is `A`).

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::rfm_segment::{coerce_scores, map_score_cells};
use crate::common::doc::{SCALAR, doc};
use crate::rfm::cell_code;

/// The `rfm_cell` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RfmCell {
    signature: Signature,
}

impl Default for RfmCell {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static UDF: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| Arc::new(ScalarUDF::from(RfmCell::default())));

/// The shared `rfm_cell` UDF.
pub fn rfm_cell_udf() -> Arc<ScalarUDF> {
    Arc::clone(&UDF)
}

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        SCALAR,
        "The cell code of three scores, one character per score: 1-9, and A for 10.",
        "rfm_cell(r, f, m)",
        &[("r, f, m", "the scores, 1..10")],
    )
});

impl ScalarUDFImpl for RfmCell {
    fn name(&self) -> &str {
        "rfm_cell"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_scores(self.name(), arg_types, 0)
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        map_score_cells(&args, 3, |r, f, m| {
            let mut scores = [0u8; 3];
            for (k, (v, name)) in [(r, "r"), (f, "f"), (m, "m")].into_iter().enumerate() {
                if !(1..=10).contains(&v) {
                    return exec_err!("rfm_cell: {name} = {v} is outside the score range 1..10");
                }
                scores[k] = v as u8;
            }
            Ok(cell_code(scores[0], scores[1], scores[2]))
        })
    }
}
