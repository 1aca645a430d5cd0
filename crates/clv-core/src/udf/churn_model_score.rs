//! `churn_model_score(model, feature1, feature2, ...)`: the churn probability of a trained churn
//! model (`churn_model_fit`) for one row of features, `σ(β₀ + Σ βⱼ (xⱼ − mⱼ)/sⱼ)`.
//!
//! `model` is the struct `churn_model_fit` returns (its `json` field is read) or the model's JSON
//! text (e.g. a file written by `clv churn model --out`). The features are matched by position,
//! in the order of the fit. An argument named like one of the model's features but at another
//! position is an error (the features were passed in the wrong order); so is a wrong number of
//! features, a model of another kind or a NaN or infinite feature. A NULL model or feature gives
//! NULL.
//!
//! A model repeated on every row (a joined one-row fit, a literal) is parsed once per batch.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, AsArray, Float64Array, Float64Builder, StringArray};
use datafusion::arrow::datatypes::{DataType, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::common::doc::{SCALAR, doc};
use crate::ltv::FittedLogistic;

const NAME: &str = "churn_model_score";

/// The `churn_model_score` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ChurnModelScore {
    signature: Signature,
}

impl Default for ChurnModelScore {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static UDF: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| Arc::new(ScalarUDF::from(ChurnModelScore::default())));

/// The shared `churn_model_score` UDF.
pub fn churn_model_score_udf() -> Arc<ScalarUDF> {
    Arc::clone(&UDF)
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
}

/// Parses a serialized churn model, naming the function in errors.
pub fn parse_model(json: &str) -> Result<FittedLogistic> {
    serde_json::from_str(json).map_err(|e| {
        datafusion::error::DataFusionError::Execution(format!(
            "{NAME}: the model is not a churn model (logistic_regression) JSON: {e}"
        ))
    })
}

/// Checks the feature arguments against the model: their number, and that no argument named
/// like a model feature stands at another feature's position.
fn check_features(model: &FittedLogistic, fields: &[FieldRef]) -> Result<()> {
    let names = model.feature_names();
    if fields.len() != names.len() {
        return exec_err!(
            "{NAME}: the model has {} features ({}), got {}",
            names.len(),
            names.join(", "),
            fields.len()
        );
    }
    for (i, field) in fields.iter().enumerate() {
        let given = field.name();
        if given != names[i]
            && let Some(j) = names.iter().position(|n| n == given)
        {
            return exec_err!(
                "{NAME}: feature {} is '{given}', which the model has as feature {}; pass the features in the fit's order: {}",
                i + 1,
                j + 1,
                names.join(", ")
            );
        }
    }
    Ok(())
}

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        SCALAR,
        "The churn probability of a model from churn_model_fit: the logistic function of its linear predictor on the standardised features, matched by position.",
        "churn_model_score(model, feature1, feature2, ...)",
        &[
            ("model", "the churn_model_fit struct or its JSON text"),
            ("feature1, feature2, ...", "the features, in the fit's order"),
        ],
    )
});

impl ScalarUDFImpl for ChurnModelScore {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let Some((model, features)) = arg_types.split_first() else {
            return plan_err!("{NAME} takes (model, feature1, ...), got no arguments");
        };
        let model = match model {
            DataType::Struct(fields) if fields.iter().any(|f| f.name() == "json") => model.clone(),
            t if is_text(t) || t.is_null() => DataType::Utf8,
            other => {
                return plan_err!(
                    "{NAME}: model must be the struct churn_model_fit returns or its JSON text, got {other}"
                );
            }
        };
        if features.is_empty() {
            return plan_err!("{NAME} needs the model's features after the model");
        }
        let mut out = vec![model];
        for (i, t) in features.iter().enumerate() {
            if !(t.is_numeric() || t.is_null()) {
                return plan_err!("{NAME}: feature {} must be numeric, got {t}", i + 1);
            }
            out.push(DataType::Float64);
        }
        Ok(out)
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let models = args.args[0].to_array(n)?;
        let json: StringArray = match models.data_type() {
            DataType::Struct(_) => {
                let s = models.as_struct();
                let Some(j) = s.column_by_name("json") else {
                    return exec_err!("{NAME}: the model struct has no 'json' field");
                };
                let j = datafusion::arrow::compute::cast(j, &DataType::Utf8)?;
                let j = j.as_string::<i32>();
                // A null struct row is a null model.
                StringArray::from_iter((0..n).map(|i| (s.is_valid(i) && j.is_valid(i)).then(|| j.value(i))))
            }
            _ => datafusion::arrow::compute::cast(&models, &DataType::Utf8)?
                .as_string::<i32>()
                .clone(),
        };
        let features: Vec<ArrayRefF64> = args.args[1..]
            .iter()
            .map(|a| a.to_array(n).map(ArrayRefF64))
            .collect::<Result<_>>()?;
        let features: Vec<&Float64Array> = features.iter().map(|a| a.0.as_primitive::<Float64Type>()).collect();
        let mut out = Float64Builder::with_capacity(n);
        let mut current: Option<(usize, FittedLogistic)> = None;
        let mut row = 0;
        while row < n {
            if json.is_null(row) {
                out.append_null();
                row += 1;
                continue;
            }
            // A run of rows with the same model.
            let mut end = row + 1;
            while end < n && json.is_valid(end) && json.value(end) == json.value(row) {
                end += 1;
            }
            let same = current
                .as_ref()
                .is_some_and(|(at, _)| json.value(*at) == json.value(row));
            if !same {
                let model = parse_model(json.value(row))?;
                check_features(&model, &args.arg_fields[1..])?;
                current = Some((row, model));
            }
            let Some((_, model)) = &current else {
                unreachable!("set above")
            };
            let err = |e| datafusion::error::DataFusionError::Execution(format!("{NAME}: {e}"));
            if features.iter().all(|f| f.null_count() == 0) {
                let columns: Vec<&[f64]> = features.iter().map(|f| &f.values()[row..end]).collect();
                out.append_slice(&model.predict_many(&columns).map_err(err)?);
            } else {
                let mut values = vec![0.0; features.len()];
                for i in row..end {
                    if features.iter().any(|f| f.is_null(i)) {
                        out.append_null();
                        continue;
                    }
                    for (v, f) in values.iter_mut().zip(&features) {
                        *v = f.value(i);
                    }
                    out.append_value(model.predict(&values).map_err(err)?);
                }
            }
            row = end;
        }
        let out = out.finish();
        if args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?));
        }
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// An owned feature array (kept alive while its `Float64Array` view is used).
struct ArrayRefF64(datafusion::arrow::array::ArrayRef);
