//! Per-customer predictions from a fitted model struct (the result of a `*_fit` aggregate).
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
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use super::model_arg::{Fitted, ModelRows, check_model_type, model_rows};
use crate::ltv::{ModelError, TIME_UNIT_METADATA};

type Eval = fn(&Fitted, &[f64]) -> std::result::Result<Option<f64>, ModelError>;
/// The whole-batch form of an [`Eval`] (one column per argument), for batches whose rows share
/// one model: the models reuse work between customers with equal terms. `None` when the model
/// has no batch form.
type EvalMany = fn(&Fitted, &[&[f64]]) -> Option<std::result::Result<Vec<f64>, ModelError>>;

fn p_alive_many(m: &Fitted, a: &[&[f64]]) -> Option<std::result::Result<Vec<f64>, ModelError>> {
    match m {
        Fitted::Transactions(m) => Some(m.p_alive_many(a[0], a[1], a[2])),
        _ => None,
    }
}

/// A prediction function: name, argument names after the model, and its evaluation.
#[derive(Debug)]
pub struct ModelPrediction {
    name: &'static str,
    args: &'static [&'static str],
    models: &'static str,
    eval: Eval,
    many: Option<EvalMany>,
    signature: Signature,
}

impl PartialEq for ModelPrediction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for ModelPrediction {}
impl std::hash::Hash for ModelPrediction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

fn whole(v: f64, what: &'static str) -> std::result::Result<u32, ModelError> {
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= f64::from(u32::MAX) {
        Ok(v as u32)
    } else {
        Err(ModelError::InvalidArgument {
            name: what,
            value: v,
            reason: "must be a whole number >= 0",
        })
    }
}

/// A prediction horizon (the kernels call it `t`): finite and >= 0.
fn horizon(v: f64) -> std::result::Result<f64, ModelError> {
    length(v, "horizon")
}

/// A horizon or window length: finite and >= 0.
fn length(v: f64, name: &'static str) -> std::result::Result<f64, ModelError> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(ModelError::InvalidArgument {
            name,
            value: v,
            reason: "must be finite and >= 0",
        })
    }
}

const TXN: &str = "a bg_nbd, pareto_nbd, mbg_nbd or bg_bb model";

fn p_alive(m: &Fitted, a: &[f64]) -> std::result::Result<Option<f64>, ModelError> {
    Ok(match m {
        Fitted::Transactions(m) => Some(m.p_alive(a[0], a[1], a[2])?),
        Fitted::BgBb(m) => Some(m.p_alive(a[0], a[1], a[2])?),
        _ => None,
    })
}

/// Every prediction function.
pub fn model_prediction_udfs() -> Vec<Arc<ScalarUDF>> {
    let defs: [(&'static str, &'static [&'static str], &'static str, Eval); 10] = [
        ("p_alive", &["x", "t_x", "t"], TXN, p_alive),
        ("churn_probability", &["window", "x", "t_x", "t"], TXN, |m, a| {
            Ok(match m {
                Fitted::Transactions(m) => Some(m.prob_no_purchase(length(a[0], "window")?, a[1], a[2], a[3])?),
                Fitted::BgBb(m) => Some(m.prob_no_transaction(whole(a[0], "window")?, a[1], a[2], a[3])?),
                _ => None,
            })
        }),
        ("dropout_probability", &["x", "t_x", "t"], TXN, |m, a| {
            Ok(p_alive(m, a)?.map(|p| 1.0 - p))
        }),
        ("expected_purchases", &["horizon", "x", "t_x", "t"], TXN, |m, a| {
            Ok(match m {
                Fitted::Transactions(m) => Some(m.expected_purchases(horizon(a[0])?, a[1], a[2], a[3])?),
                Fitted::BgBb(m) => Some(m.expected_transactions(whole(a[0], "horizon")?, a[1], a[2], a[3])?),
                _ => None,
            })
        }),
        ("expected_purchases_new", &["t"], TXN, |m, a| {
            Ok(match m {
                Fitted::Transactions(m) => Some(m.expected_purchases_new(a[0])?),
                Fitted::BgBb(m) => Some(m.expected_transactions_new(whole(a[0], "t")?)?),
                _ => None,
            })
        }),
        ("prob_purchases", &["n", "t"], TXN, |m, a| {
            Ok(match m {
                Fitted::Transactions(m) => Some(m.prob_purchases(whole(a[0], "n")?, a[1])?),
                Fitted::BgBb(m) => Some(m.prob_transactions(whole(a[0], "n")?, whole(a[1], "t")?)?),
                _ => None,
            })
        }),
        ("expected_spend", &["x", "monetary"], "a gamma_gamma model", |m, a| {
            Ok(match m {
                Fitted::GammaGamma(m) => Some(m.conditional_expected_spend(a[0], a[1])?),
                _ => None,
            })
        }),
        ("survival", &["t"], "an sbg model", |m, a| {
            Ok(match m {
                Fitted::Sbg(m) => Some(m.survival(whole(a[0], "t")?)?),
                _ => None,
            })
        }),
        ("retention_rate", &["t"], "an sbg model", |m, a| {
            Ok(match m {
                Fitted::Sbg(m) => Some(m.retention_rate(whole(a[0], "t")?)?),
                _ => None,
            })
        }),
        ("derl", &["discount_rate"], "an sbg model", |m, a| {
            Ok(match m {
                Fitted::Sbg(m) => Some(m.derl(a[0], 1)?),
                _ => None,
            })
        }),
    ];
    let many: [(&str, EvalMany); 4] = [
        ("p_alive", p_alive_many),
        ("dropout_probability", |m, a| {
            p_alive_many(m, a).map(|r| r.map(|v| v.into_iter().map(|p| 1.0 - p).collect()))
        }),
        ("churn_probability", |m, a| match m {
            Fitted::Transactions(m) => Some(
                a[0].iter()
                    .try_for_each(|w| length(*w, "window").map(|_| ()))
                    .and_then(|_| m.prob_no_purchase_many(a[0], a[1], a[2], a[3])),
            ),
            _ => None,
        }),
        ("expected_purchases", |m, a| match m {
            Fitted::Transactions(m) => Some(
                a[0].iter()
                    .try_for_each(|h| horizon(*h).map(|_| ()))
                    .and_then(|_| m.expected_purchases_many(a[0], a[1], a[2], a[3])),
            ),
            _ => None,
        }),
    ];
    defs.into_iter()
        .map(|(name, args, models, eval)| {
            Arc::new(ScalarUDF::from(ModelPrediction {
                name,
                args,
                models,
                eval,
                many: many.iter().find(|(n, _)| *n == name).map(|(_, f)| *f),
                signature: Signature::user_defined(Volatility::Immutable),
            }))
        })
        .collect()
}

impl ScalarUDFImpl for ModelPrediction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if self.name == "churn_probability" && arg_types.len() == 4 {
            return plan_err!(
                "churn_probability takes (model, window, x, t_x, t): the probability of no purchase in the window \
                 (t, t + window]; for 1 - P(alive), the probability of having dropped out, use dropout_probability(model, x, t_x, t)"
            );
        }
        if arg_types.len() != self.args.len() + 1 {
            return plan_err!(
                "{} takes (model, {}), got {} arguments",
                self.name,
                self.args.join(", "),
                arg_types.len()
            );
        }
        check_model_type(self.name, &arg_types[0])?;
        let mut out = vec![arg_types[0].clone()];
        for (t, a) in arg_types[1..].iter().zip(self.args) {
            if !(t.is_numeric() || t.is_null()) {
                return plan_err!("{}: {a} must be numeric, got {t}", self.name);
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
        let models = model_rows(self.name, &args.args[0], n)?;
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
            match (self.eval)(model, &a) {
                Ok(Some(v)) => out.append_value(v),
                Ok(None) => return exec_err!("{}: needs {}, got a {} model", self.name, self.models, model.name()),
                Err(e) => return exec_err!("{}: {e}", self.name),
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
        for (field, arg) in fields.iter().zip(self.args) {
            let Some(text) = field.metadata().get(TIME_UNIT_METADATA) else {
                continue;
            };
            if !matches!(*arg, "t_x" | "t") {
                continue;
            }
            let unit = crate::config::parse_time_unit(text)?;
            for model in models.models() {
                if let Fitted::Transactions(m) = model
                    && m.time_unit() != unit
                {
                    return exec_err!(
                        "{}: {arg} is in {}s (the time unit btyd_summary wrote on it), but the model was fitted in {}s; \
                         summarise in the model's unit (btyd_summary(..., '{}')) or fit on this summary",
                        self.name,
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
        let (Some(many), Some(first)) = (self.many, models.single(n)) else {
            return Ok(None);
        };
        if n < 2 || values.iter().any(|v| v.null_count() > 0 || v.len() < n) {
            return Ok(None);
        }
        let columns: Vec<&[f64]> = values.iter().map(|v| &v.values()[..n]).collect();
        match many(first, &columns) {
            None => Ok(None),
            Some(Ok(v)) => Ok(Some(datafusion::arrow::array::Float64Array::from(v))),
            Some(Err(e)) => exec_err!("{}: {e}", self.name),
        }
    }
}
