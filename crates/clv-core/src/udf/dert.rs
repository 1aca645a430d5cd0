//! `dert(model, discount_rate, x, t_x, t [, rate_unit])`: discounted expected residual
//! transactions of a customer over an infinite horizon.
//!
//! `DERT(δ | x, t_x, t) = ∫_0^∞ e^{−δτ} dE[Y(τ) | x, t_x, t]`, each future transaction
//! discounted continuously at the force of interest `δ = discount_rate` per `rate_unit`
//! (default: the model's time unit; `day`, `week` or `month`, converted explicitly). Pareto/NBD:
//! Fader, Hardie & Lee (2005), "RFM and CLV", *JMR* 42(4), eq. 2; BG/NBD and MBG/NBD: the same
//! decomposition (P(alive) times the posterior mean of `λ/(pλ + δ)`), by quadrature. Times in the
//! model's unit; multiplied by a margin and the expected spend it is the customer's residual
//! value. See [`crate::ltv::dert`]. A null argument gives null; `discount_rate ≤ 0` is an error
//! (without discounting the sum can be infinite).

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, AsArray, Float64Array, Float64Builder, StructArray};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::ltv_args::is_text;
use super::model_arg::check_model_type;
use crate::common::doc::{PREDICTION, doc};
use crate::config::parse_time_unit;
use crate::ltv::dert::Dert;
use crate::ltv::{
    BgNbdParams, FittedBgNbd, FittedMbgNbd, FittedParetoNbd, MbgNbdParams, ModelError, ParetoNbdParams, TimeUnit,
};

const NAME: &str = "dert";

/// The `dert` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DertFunction {
    signature: Signature,
}

impl Default for DertFunction {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static UDF: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| Arc::new(ScalarUDF::from(DertFunction::default())));

/// The shared `dert` UDF.
pub fn dert_udf() -> Arc<ScalarUDF> {
    Arc::clone(&UDF)
}

/// A transaction model with DERT.
#[allow(clippy::enum_variant_names)]
enum DertModel {
    BgNbd(FittedBgNbd),
    MbgNbd(FittedMbgNbd),
    ParetoNbd(FittedParetoNbd),
}

impl DertModel {
    fn as_dert(&self) -> &dyn Dert {
        match self {
            DertModel::BgNbd(m) => m,
            DertModel::MbgNbd(m) => m,
            DertModel::ParetoNbd(m) => m,
        }
    }
}

/// The model of row `row` of a model struct column.
fn model_at(models: &StructArray, row: usize) -> Result<Option<DertModel>> {
    if models.is_null(row) {
        return Ok(None);
    }
    let text = |name: &str| -> Result<Option<String>> {
        let Some(c) = models.column_by_name(name) else {
            return Ok(None);
        };
        let c = datafusion::arrow::compute::cast(c, &DataType::Utf8)?;
        let c = c.as_string::<i32>();
        Ok(c.is_valid(row).then(|| c.value(row).to_string()))
    };
    let number = |name: &str| -> Result<f64> {
        let Some(c) = models.column_by_name(name) else {
            return exec_err!("{NAME}: the model struct has no '{name}' field");
        };
        let c = datafusion::arrow::compute::cast(c, &DataType::Float64)?;
        let c = c.as_primitive::<Float64Type>();
        if c.is_null(row) {
            return exec_err!("{NAME}: parameter '{name}' of the model is null");
        }
        Ok(c.value(row))
    };
    let Some(kind) = text("model")? else {
        return Ok(None);
    };
    let unit = match text("time_unit")? {
        Some(u) => parse_time_unit(&u)?,
        None => TimeUnit::Week,
    };
    let e = |e: ModelError| datafusion::error::DataFusionError::Execution(format!("{NAME}: {e}"));
    Ok(Some(match kind.as_str() {
        "bg_nbd" => DertModel::BgNbd(
            FittedBgNbd::from_params(
                BgNbdParams {
                    r: number("r")?,
                    alpha: number("alpha")?,
                    a: number("a")?,
                    b: number("b")?,
                },
                unit,
            )
            .map_err(e)?,
        ),
        "mbg_nbd" => DertModel::MbgNbd(
            FittedMbgNbd::from_params(
                MbgNbdParams {
                    r: number("r")?,
                    alpha: number("alpha")?,
                    a: number("a")?,
                    b: number("b")?,
                },
                unit,
            )
            .map_err(e)?,
        ),
        "pareto_nbd" => DertModel::ParetoNbd(
            FittedParetoNbd::from_params(
                ParetoNbdParams {
                    r: number("r")?,
                    alpha: number("alpha")?,
                    s: number("s")?,
                    beta: number("beta")?,
                },
                unit,
            )
            .map_err(e)?,
        ),
        other => return exec_err!("{NAME}: needs a bg_nbd, pareto_nbd or mbg_nbd model, got a {other} model"),
    }))
}

impl ScalarUDFImpl for DertFunction {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(5..=6).contains(&arg_types.len()) {
            return plan_err!(
                "{NAME} takes (model, discount_rate, x, t_x, t [, rate_unit]), got {} arguments",
                arg_types.len()
            );
        }
        check_model_type(NAME, &arg_types[0])?;
        let mut out = vec![arg_types[0].clone()];
        for (t, name) in arg_types[1..5].iter().zip(["discount_rate", "x", "t_x", "t"]) {
            if !(t.is_numeric() || t.is_null()) {
                return plan_err!("{NAME}: {name} must be numeric, got {t}");
            }
            out.push(DataType::Float64);
        }
        if let Some(t) = arg_types.get(5) {
            if !(is_text(t) || t.is_null()) {
                return plan_err!("{NAME}: rate_unit must be text: day, week or month, got {t}");
            }
            out.push(DataType::Utf8);
        }
        Ok(out)
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let rate_unit = match args.args.get(5) {
            None => None,
            Some(ColumnarValue::Scalar(ScalarValue::Utf8(Some(u)))) => Some(parse_time_unit(u)?),
            Some(ColumnarValue::Scalar(v)) if v.is_null() => None,
            Some(_) => return exec_err!("{NAME}: rate_unit must be a constant"),
        };
        let models = args.args[0].to_array(n)?;
        let models = models.as_struct();
        let arrays = args.args[1..5]
            .iter()
            .map(|a| a.to_array(n))
            .collect::<Result<Vec<_>>>()?;
        let v: Vec<&Float64Array> = arrays.iter().map(|a| a.as_primitive::<Float64Type>()).collect();
        let e = |e: ModelError| datafusion::error::DataFusionError::Execution(format!("{NAME}: {e}"));
        let scalar_model = matches!(args.args[0], ColumnarValue::Scalar(_));
        let mut out = Float64Builder::with_capacity(n);
        // One model for the whole batch (a literal, a scalar subquery or a one-row fit joined
        // in): the batch kernel, which shares the (x, t) terms between customers.
        let first = if n > 0 { model_at(models, 0)? } else { None };
        let same = scalar_model || (1..n).all(|i| models.is_valid(i) == models.is_valid(0) && equal_rows(models, 0, i));
        if let (true, Some(m)) = (same, &first)
            && v.iter().all(|c| c.null_count() == 0)
            && v[0].values().iter().all(|&d| d == v[0].value(0))
        {
            let d = m.as_dert();
            let unit = rate_unit.unwrap_or(d.time_unit());
            let r = d
                .dert_many(v[0].value(0), unit, v[1].values(), v[2].values(), v[3].values())
                .map_err(e)?;
            return Ok(ColumnarValue::Array(Arc::new(Float64Array::from(r))));
        }
        // Otherwise row by row, a model parsed again only where its fields change.
        let mut cached: Option<(usize, Option<DertModel>)> = Some((0, first));
        for row in 0..n {
            let at = if same { 0 } else { row };
            let reuse = cached
                .as_ref()
                .is_some_and(|(k, _)| *k == at || equal_rows(models, *k, at));
            if !reuse {
                cached = Some((at, model_at(models, at)?));
            }
            let Some((_, Some(m))) = &cached else {
                out.append_null();
                continue;
            };
            if v.iter().any(|c| c.is_null(row)) {
                out.append_null();
                continue;
            }
            let d = m.as_dert();
            let unit = rate_unit.unwrap_or(d.time_unit());
            out.append_value(
                d.dert(v[0].value(row), unit, v[1].value(row), v[2].value(row), v[3].value(row))
                    .map_err(e)?,
            );
        }
        let out = out.finish();
        if args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?));
        }
        Ok(ColumnarValue::Array(Arc::new(out)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                PREDICTION,
                "Discounted expected residual transactions over an infinite horizon (Fader, Hardie & Lee 2005, JMR, eq. 2 for Pareto/NBD; the same decomposition by quadrature for BG/NBD and MBG/NBD), at a continuous discount rate.",
                "dert(model, discount_rate, x, t_x, t [, rate_unit])",
                &[
                    ("model", "a bg_nbd, pareto_nbd or mbg_nbd model struct"),
                    (
                        "discount_rate",
                        "continuous discount rate (force of interest) > 0 per rate_unit",
                    ),
                    (
                        "x, t_x, t",
                        "repeat purchases, recency and age in the model's time unit",
                    ),
                    ("rate_unit", "day, week or month (default: the model's time unit)"),
                ],
            )
        });
        Some(&DOC)
    }
}

/// Whether rows `i` and `j` of a model struct column hold the same model fields.
fn equal_rows(models: &StructArray, i: usize, j: usize) -> bool {
    models.columns().iter().all(|c| {
        let (a, b) = (c.slice(i, 1), c.slice(j, 1));
        a.to_data() == b.to_data()
    })
}
