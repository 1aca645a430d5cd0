//! Per-customer predictions from a fitted model struct (the result of a `*_fit` aggregate):
//! one function per [`crate::ltv::Prediction`] of the models in the registry, answered by each
//! model that lists it.
//!
//! | function | models | value |
//! |---|---|---|
//! | `p_alive(model, x, t_x, t)` | bg_nbd, pareto_nbd, mbg_nbd, bg_bb (t = n) | P(alive at t) |
//! | `churn_probability(model, window, x, t_x, t)` | same (bg_bb: window in whole periods) | P(no purchase in (t, t + window]) |
//! | `dropout_probability(model, x, t_x, t)` | same | 1 − P(alive): has dropped out by t |
//! | `expected_purchases(model, horizon, x, t_x, t)` | same (bg_bb: horizon in whole periods) | E[purchases in (t, t + horizon]] |
//! | `expected_purchases_new(model, t)` | same | E[X(t)] for a new customer |
//! | `prob_purchases(model, n, t)` | same | P(X(t) = n) for a new customer |
//! | `expected_spend(model, x, monetary)` | gamma_gamma | E[mean spend per purchase \| x, monetary] |
//! | `survival(model, t)` | sbg | S(t), share of a cohort still active after t periods |
//! | `retention_rate(model, t)` | sbg | r(t) = S(t) / S(t − 1) |
//! | `derl(model, discount_rate)` | sbg | discounted expected residual lifetime of a just-renewed customer |
//!
//! Times (`t_x`, `t`, `horizon`) are in the model's `time_unit`; `t_x` and `t` columns of a
//! `btyd_summary` in another unit are an error. A null argument gives null;
//! a model of the wrong kind or an invalid argument is an error naming the function.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Float64Builder};
use datafusion::arrow::datatypes::{DataType, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::model_arg::{Fitted, ModelRows, check_model_type, model_rows};
use crate::common::doc::{PREDICTION, doc};
use crate::ltv::registry::names_phrase;
use crate::ltv::{MODELS, Prediction, TIME_UNIT_METADATA};

/// A prediction function: one [`Prediction`] of the models in the registry, answered by every
/// model that lists it.
#[derive(Debug)]
pub struct ModelPrediction {
    prediction: &'static Prediction,
    /// The models that answer it, as a phrase: "a bg_nbd, pareto_nbd, mbg_nbd or bg_bb model".
    models: String,
    signature: Signature,
    documentation: Documentation,
}

impl PartialEq for ModelPrediction {
    fn eq(&self, other: &Self) -> bool {
        self.prediction.name == other.prediction.name
    }
}
impl Eq for ModelPrediction {}
impl std::hash::Hash for ModelPrediction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.prediction.name.hash(state);
    }
}

impl ModelPrediction {
    /// The function for `prediction`.
    pub fn new(prediction: &'static Prediction) -> Self {
        let models = format!(
            "{} model",
            names_phrase(MODELS.iter().filter(|m| m.predicts(prediction.name).is_some()))
        );
        let mut arguments = vec![(
            "model",
            "a fitted model struct: the result of a *_fit aggregate or a named_struct",
        )];
        arguments.extend(
            prediction
                .args
                .iter()
                .map(|a| (*a, "numeric, in the model's time unit")),
        );
        let documentation = doc(
            PREDICTION,
            &format!("Needs {models}: {}.", prediction.description),
            &format!("{}(model, {})", prediction.name, prediction.args.join(", ")),
            &arguments,
        );
        Self {
            prediction,
            models,
            signature: Signature::user_defined(Volatility::Immutable),
            documentation,
        }
    }

    fn name(&self) -> &'static str {
        self.prediction.name
    }

    fn args(&self) -> &'static [&'static str] {
        self.prediction.args
    }

    /// One customer: `None` when the model does not answer this prediction.
    fn eval(&self, model: &Fitted, args: &[f64]) -> Option<std::result::Result<f64, crate::ltv::ModelError>> {
        model
            .kind()
            .spec()?
            .predicts(self.name())
            .map(|_| model.predict(self.prediction, args))
    }
}

/// Every prediction function: each prediction of the models in the registry, once, in
/// registry order.
pub fn model_prediction_udfs() -> Vec<Arc<ScalarUDF>> {
    let mut seen: Vec<&str> = vec![];
    let mut out = vec![];
    for p in MODELS.iter().flat_map(|m| m.predictions) {
        if !seen.contains(&p.name) {
            seen.push(p.name);
            out.push(Arc::new(ScalarUDF::from(ModelPrediction::new(p))));
        }
    }
    out
}

impl ScalarUDFImpl for ModelPrediction {
    fn name(&self) -> &str {
        self.prediction.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.documentation)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        // The old meaning, 1 - P(alive), took (model, x, t_x, t): name its new home.
        if self.name() == "churn_probability" && arg_types.len() == 4 {
            return plan_err!(
                "churn_probability takes (model, window, x, t_x, t): the probability of no purchase in the window \
                 (t, t + window]; for 1 - P(alive), the probability of having dropped out, use dropout_probability(model, x, t_x, t)"
            );
        }
        if arg_types.len() != self.args().len() + 1 {
            return plan_err!(
                "{} takes (model, {}), got {} arguments",
                self.name(),
                self.args().join(", "),
                arg_types.len()
            );
        }
        check_model_type(self.name(), &arg_types[0])?;
        let mut out = vec![arg_types[0].clone()];
        for (t, a) in arg_types[1..].iter().zip(self.args()) {
            if !(t.is_numeric() || t.is_null()) {
                return plan_err!("{}: {a} must be numeric, got {t}", self.name());
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
        let models = model_rows(self.name(), &args.args[0], n)?;
        self.check_time_units(&args.arg_fields[1..], &models)?;
        let arrays = args.args[1..]
            .iter()
            .map(|a| a.to_array(n))
            .collect::<Result<Vec<_>>>()?;
        let values: Vec<_> = arrays.iter().map(|a| a.as_primitive::<Float64Type>()).collect();
        if let Some(out) = self.invoke_many(&models, &values, n)? {
            return Ok(ColumnarValue::Array(Arc::new(out)));
        }
        let mut out = Float64Builder::with_capacity(n);
        let mut a = vec![0.0; values.len()];
        for (row, model) in models.iter().enumerate().take(n) {
            let Some(model) = model else {
                out.append_null();
                continue;
            };
            if values.iter().any(|v| v.is_null(row)) {
                out.append_null();
                continue;
            }
            for (k, v) in values.iter().enumerate() {
                a[k] = v.value(row);
            }
            match self.eval(model, &a) {
                Some(Ok(v)) => out.append_value(v),
                None => {
                    return crate::usage_err!("{}: needs {}, got a {} model", self.name(), self.models, model.kind());
                }
                Some(Err(e)) => return Err(self.error(&e, &a)),
            }
        }
        let out = out.finish();
        if args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?));
        }
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

impl ModelPrediction {
    /// Fails when a time argument (`t_x`, `t`) carries a time unit from `btyd_summary` (see
    /// [`TIME_UNIT_METADATA`]) other than its model's: months are never scored as weeks.
    fn check_time_units(&self, fields: &[FieldRef], models: &ModelRows) -> Result<()> {
        for (field, arg) in fields.iter().zip(self.args()) {
            let Some(text) = field.metadata().get(TIME_UNIT_METADATA) else {
                continue;
            };
            if !matches!(*arg, "t_x" | "t") {
                continue;
            }
            let unit = crate::config::parse_time_unit(text)?;
            for model in models.models() {
                if let Some(m) = model.transaction_model()
                    && m.time_unit() != unit
                {
                    return crate::usage_err!(
                        "{}: {arg} is in {}s (the time unit btyd_summary wrote on it), but the model was fitted in {}s; \
                         summarise in the model's unit (btyd_summary(..., '{}')) or fit on this summary",
                        self.name(),
                        unit.name(),
                        m.time_unit().name(),
                        m.time_unit().name()
                    );
                }
            }
        }
        Ok(())
    }

    /// The batch path: every row has the same model and no null argument (the usual case of a
    /// model joined in from a one-row fit). `None` when it does not apply.
    fn invoke_many(
        &self,
        models: &ModelRows,
        values: &[&datafusion::arrow::array::Float64Array],
        n: usize,
    ) -> Result<Option<datafusion::arrow::array::Float64Array>> {
        let Some(first) = models.single(n) else {
            return Ok(None);
        };
        if first
            .kind()
            .spec()
            .is_none_or(|spec| spec.predicts(self.name()).is_none())
        {
            return Ok(None);
        }
        if n < 2 || values.iter().any(|v| v.null_count() > 0 || v.len() < n) {
            return Ok(None);
        }
        let columns: Vec<&[f64]> = values.iter().map(|v| &v.values()[..n]).collect();
        match first.predict_many(self.prediction, &columns) {
            None => Ok(None),
            Some(Ok(v)) => Ok(Some(datafusion::arrow::array::Float64Array::from(v))),
            Some(Err(e)) => {
                let row: Vec<f64> = values.iter().map(|v| v.value(e.row().unwrap_or(0))).collect();
                Err(self.error(&e, &row))
            }
        }
    }

    /// A model error for the row with the argument values `row`.
    fn error(&self, e: &crate::ltv::ModelError, row: &[f64]) -> datafusion::error::DataFusionError {
        crate::error::ClvError::from_model(self.name(), e, |_| {
            self.args()
                .iter()
                .zip(row)
                .map(|(name, v)| format!("{name} = {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .into()
    }
}
