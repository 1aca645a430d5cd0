//! `likelihood_ratio_test(restricted_log_likelihood, full_log_likelihood, df [, nesting])`: the
//! likelihood-ratio test of a restricted model nested in a full one, both fitted on the same
//! customers.
//!
//! Returns a struct `statistic` (`Λ = 2 (ln L_full − ln L_restricted)`), `df` and `p_value`:
//! against χ²_df for `nesting = 'interior'` (default: restrictions at interior points, e.g. a
//! model with covariates against the same model without them, `γ = 0`), or the χ̄² mixture of
//! Self & Liang (1987) for `'boundary'` (parameters restricted to the edge of their space). BG/NBD,
//! Pareto/NBD and MBG/NBD are not nested in one another (compare them with AIC/BIC or on a
//! holdout, see `ltv_compare`), and the NBD is a limit of them where the χ² reference does not
//! hold; see [`crate::ltv::holdout`]. A full model whose log-likelihood is below the restricted
//! one's is an error (not nested, or a fit that did not converge); null arguments give null.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, StructArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Float64Type, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::ltv_args::is_text;
use crate::common::doc::{SCALAR, doc};
use crate::ltv::holdout::{Nesting, likelihood_ratio_test};

const NAME: &str = "likelihood_ratio_test";

/// The `likelihood_ratio_test` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LikelihoodRatioTest {
    signature: Signature,
}

impl Default for LikelihoodRatioTest {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static UDF: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| Arc::new(ScalarUDF::from(LikelihoodRatioTest::default())));

/// The shared `likelihood_ratio_test` UDF.
pub fn likelihood_ratio_test_udf() -> Arc<ScalarUDF> {
    Arc::clone(&UDF)
}

fn result_fields() -> Fields {
    vec![
        Field::new("statistic", DataType::Float64, true),
        Field::new("df", DataType::Int64, true),
        Field::new("p_value", DataType::Float64, true),
    ]
    .into()
}

impl ScalarUDFImpl for LikelihoodRatioTest {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(3..=4).contains(&arg_types.len()) {
            return plan_err!(
                "{NAME} takes (restricted_log_likelihood, full_log_likelihood, df [, nesting]), got {} arguments",
                arg_types.len()
            );
        }
        for (t, name) in arg_types[..2]
            .iter()
            .zip(["restricted_log_likelihood", "full_log_likelihood"])
        {
            if !(t.is_numeric() || t.is_null()) {
                return plan_err!("{NAME}: {name} must be numeric, got {t}");
            }
        }
        if !(arg_types[2].is_integer() || arg_types[2].is_null()) {
            return plan_err!("{NAME}: df must be a whole number, got {}", arg_types[2]);
        }
        let mut out = vec![DataType::Float64, DataType::Float64, DataType::Int64];
        if let Some(t) = arg_types.get(3) {
            if !(is_text(t) || t.is_null()) {
                return plan_err!("{NAME}: nesting must be 'interior' or 'boundary', got {t}");
            }
            out.push(DataType::Utf8);
        }
        Ok(out)
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(result_fields()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let boundary = match args.args.get(3) {
            None => false,
            Some(ColumnarValue::Scalar(ScalarValue::Utf8(Some(t)))) => match t.trim().to_ascii_lowercase().as_str() {
                "interior" => false,
                "boundary" => true,
                other => return exec_err!("{NAME}: nesting must be 'interior' or 'boundary', got '{other}'"),
            },
            Some(ColumnarValue::Scalar(v)) if v.is_null() => false,
            Some(_) => return exec_err!("{NAME}: nesting must be a constant"),
        };
        let arrays = args.args[..3]
            .iter()
            .map(|a| a.to_array(n))
            .collect::<Result<Vec<_>>>()?;
        let (restricted, full) = (
            arrays[0].as_primitive::<Float64Type>(),
            arrays[1].as_primitive::<Float64Type>(),
        );
        let df = arrays[2].as_primitive::<Int64Type>();
        let (mut stat, mut dfs, mut p, mut valid) = (vec![], vec![], vec![], vec![]);
        for i in 0..n {
            if restricted.is_null(i) || full.is_null(i) || df.is_null(i) {
                stat.push(None);
                dfs.push(None);
                p.push(None);
                valid.push(false);
                continue;
            }
            let k = df.value(i);
            if k < 1 {
                return exec_err!("{NAME}: df must be >= 1, got {k}");
            }
            let nesting = if boundary {
                Nesting::Boundary { df: k as usize }
            } else {
                Nesting::Interior { df: k as usize }
            };
            let t = likelihood_ratio_test(restricted.value(i), full.value(i), nesting)
                .map_err(|e| datafusion::error::DataFusionError::Execution(format!("{NAME}: {e}")))?;
            stat.push(Some(t.statistic));
            dfs.push(Some(k));
            p.push(Some(t.p_value));
            valid.push(true);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from(stat)),
            Arc::new(Int64Array::from(dfs)),
            Arc::new(Float64Array::from(p)),
        ];
        let out = StructArray::try_new(result_fields(), columns, Some(NullBuffer::from(valid)))?;
        if args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?));
        }
        Ok(ColumnarValue::Array(Arc::new(out)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                SCALAR,
                "The likelihood-ratio test of a restricted model nested in a full one (Wilks 1938; Self & Liang 1987 on the boundary): statistic, df and p-value.",
                "likelihood_ratio_test(restricted_log_likelihood, full_log_likelihood, df [, nesting])",
                &[
                    ("restricted_log_likelihood", "log-likelihood of the restricted model"),
                    (
                        "full_log_likelihood",
                        "log-likelihood of the full model, fitted on the same customers",
                    ),
                    ("df", "number of restrictions"),
                    (
                        "nesting",
                        "'interior' (default: chi-square) or 'boundary' (chi-bar-square mixture)",
                    ),
                ],
            )
        });
        Some(&DOC)
    }
}
