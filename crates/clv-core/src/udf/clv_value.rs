//! `clv(model, spend_model, x, t_x, t, monetary, horizon [, horizon_unit [, discount_rate [, discounting [, margin]]]])`:
//! the discounted expected margin of a customer over a horizon, and
//! `historical_clv(average_order_value, purchases_per_period, lifespan_periods [, margin])`, the
//! simple heuristic (clearly not a model).
//!
//! `clv` = margin × E[spend per purchase | x, monetary] (Gamma-Gamma) × the discounted expected
//! number of purchases in `(t, t + horizon]` (BG/NBD, Pareto/NBD or MBG/NBD). `x, t_x, t` are in
//! the transaction model's time unit; `horizon` is in `horizon_unit` (default: the model's unit;
//! day, week or month = 365.25/12 days) and converted explicitly. `discount_rate` (default 0) is
//! per `horizon_unit`: `discrete` (default) discounts the purchases of period k by
//! `(1 + rate)^-k`; `continuous` by `e^(-rate·τ)`. `margin` defaults to 1.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, AsArray, Float64Builder};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::model_arg::{check_model_type, model_rows};
use crate::common::doc::{PREDICTION, doc};
use crate::ltv::registry::{models_with, names_phrase};
use crate::ltv::{ClvSpec, Role, historical_clv};

/// The `clv` function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Clv {
    signature: Signature,
}

impl Default for Clv {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static CLV: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| Arc::new(ScalarUDF::from(Clv::default())));
static HISTORICAL: LazyLock<Arc<ScalarUDF>> = LazyLock::new(|| Arc::new(ScalarUDF::from(HistoricalClv::default())));

/// The shared `clv` and `historical_clv` UDFs.
pub fn clv_udfs() -> Vec<Arc<ScalarUDF>> {
    vec![Arc::clone(&CLV), Arc::clone(&HISTORICAL)]
}

const ARGS: [&str; 12] = [
    "model",
    "spend_model",
    "x",
    "t_x",
    "t",
    "monetary",
    "horizon",
    "horizon_unit",
    "discount_rate",
    "discounting",
    "margin",
    "",
];

fn text(args: &ScalarFunctionArgs, i: usize) -> Result<Option<String>> {
    match args.args.get(i) {
        None => Ok(None),
        Some(ColumnarValue::Scalar(ScalarValue::Utf8(s))) => Ok(s.clone()),
        Some(_) => crate::usage_err!("clv: {} must be a constant", ARGS[i]),
    }
}

static DOC_CLV: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        PREDICTION,
        "The discounted expected margin of a customer over a horizon: margin x the Gamma-Gamma expected spend per purchase x the discounted expected number of purchases of the transaction model.",
        "clv(model, spend_model, x, t_x, t, monetary, horizon [, horizon_unit [, discount_rate [, discounting [, margin]]]])",
        &[
            ("model", "a fitted bg_nbd, pareto_nbd or mbg_nbd model struct"),
            ("spend_model", "a fitted gamma_gamma model struct"),
            ("x, t_x, t", "the customer's BTYD summary, in the model's time unit"),
            ("monetary", "the customer's mean repeat spend"),
            ("horizon", "the horizon in horizon_unit"),
            ("horizon_unit", "day, week or month (default: the model's time unit)"),
            ("discount_rate", "per horizon_unit (default 0)"),
            ("discounting", "discrete (default) or continuous"),
            ("margin", "profit margin (default 1)"),
        ],
    )
});

impl ScalarUDFImpl for Clv {
    fn name(&self) -> &str {
        "clv"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC_CLV)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(7..=11).contains(&arg_types.len()) {
            return plan_err!(
                "clv takes (model, spend_model, x, t_x, t, monetary, horizon [, horizon_unit [, discount_rate [, discounting [, margin]]]]), got {} arguments",
                arg_types.len()
            );
        }
        check_model_type("clv", &arg_types[0])?;
        check_model_type("clv", &arg_types[1])?;
        let mut out = vec![arg_types[0].clone(), arg_types[1].clone()];
        for (i, t) in arg_types.iter().enumerate().skip(2) {
            let is_text = matches!(ARGS[i], "horizon_unit" | "discounting");
            let ok = t.is_null()
                || if is_text {
                    matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
                } else {
                    t.is_numeric()
                };
            if !ok {
                return plan_err!(
                    "clv: {} must be {}, got {t}",
                    ARGS[i],
                    if is_text { "text" } else { "numeric" }
                );
            }
            out.push(if is_text { DataType::Utf8 } else { DataType::Float64 });
        }
        Ok(out)
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let horizon_unit = text(&args, 7)?
            .map(|u| crate::config::parse_time_unit(&u))
            .transpose()?;
        let discounting = text(&args, 9)?.unwrap_or_else(|| "discrete".into());
        if !matches!(discounting.as_str(), "discrete" | "continuous") {
            return crate::usage_err!("clv: discounting must be 'discrete' or 'continuous', got '{discounting}'");
        }
        let models = model_rows("clv", &args.args[0], n)?;
        let spends = model_rows("clv", &args.args[1], n)?;
        // The two model structs were read above; only the numeric arguments become arrays.
        let arrays = args
            .args
            .iter()
            .enumerate()
            .map(|(i, a)| {
                if i < 2 {
                    Ok(datafusion::arrow::array::new_null_array(&DataType::Null, 0))
                } else {
                    a.to_array(n)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let num = |i: usize| {
            arrays
                .get(i)
                .filter(|a| a.data_type() == &DataType::Float64)
                .map(|a| a.as_primitive::<Float64Type>())
        };
        let (x, t_x, t, monetary, horizon) = (num(2), num(3), num(4), num(5), num(6));
        let (rate, margin) = (num(8), num(10));
        let mut out = Float64Builder::with_capacity(n);
        for (row, (m, s)) in models.iter().zip(spends.iter()).enumerate().take(n) {
            let get = |a: Option<&datafusion::arrow::array::Float64Array>| {
                a.and_then(|a| a.is_valid(row).then(|| a.value(row)))
            };
            let (Some(m), Some(s), Some(x), Some(t_x), Some(t), Some(z), Some(h)) =
                (m, s, get(x), get(t_x), get(t), get(monetary), get(horizon))
            else {
                out.append_null();
                continue;
            };
            let (Some(m), Some(s)) = (m.transaction_model(), s.spend_model()) else {
                return crate::usage_err!(
                    "clv: needs {} model and {} spend model, got {} and {}",
                    names_phrase(models_with(Role::Transactions)),
                    names_phrase(models_with(Role::Spend)),
                    m.kind(),
                    s.kind()
                );
            };
            let unit = horizon_unit.unwrap_or_else(|| m.time_unit());
            let mut spec = ClvSpec::new(h, unit).margin(get(margin).unwrap_or(1.0));
            let r = get(rate).unwrap_or(0.0);
            spec = if discounting == "continuous" {
                spec.continuous(r, unit)
            } else {
                spec.discrete(r, unit)
            };
            match spec.clv(m, s, x, t_x, t, z) {
                Ok(v) => out.append_value(v),
                Err(e) => {
                    let values = format!("x = {x}, t_x = {t_x}, t = {t}, monetary = {z}");
                    return Err(crate::error::ClvError::from_model("clv", &e, |_| values).into());
                }
            }
        }
        let out = out.finish();
        if args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?));
        }
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// The `historical_clv` heuristic: average order value × purchases per period × lifespan in
/// periods × margin. No model, no discounting; for users who want the back-of-envelope figure.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HistoricalClv {
    signature: Signature,
}

impl Default for HistoricalClv {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static DOC_HISTORICAL_CLV: LazyLock<Documentation> = LazyLock::new(|| {
    doc(
        PREDICTION,
        "The back-of-envelope heuristic, not a model: average order value x purchases per period x lifespan in periods x margin.",
        "historical_clv(average_order_value, purchases_per_period, lifespan_periods [, margin])",
        &[
            ("average_order_value", "mean spend per order"),
            ("purchases_per_period", "orders per period"),
            ("lifespan_periods", "expected lifespan in periods"),
            ("margin", "profit margin (default 1)"),
        ],
    )
});

impl ScalarUDFImpl for HistoricalClv {
    fn name(&self) -> &str {
        "historical_clv"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC_HISTORICAL_CLV)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if !(3..=4).contains(&arg_types.len()) || arg_types.iter().any(|t| !(t.is_numeric() || t.is_null())) {
            return plan_err!(
                "historical_clv takes numeric (average_order_value, purchases_per_period, lifespan_periods [, margin])"
            );
        }
        Ok(vec![DataType::Float64; arg_types.len()])
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let a: Vec<_> = arrays.iter().map(|a| a.as_primitive::<Float64Type>()).collect();
        let mut out = Float64Builder::with_capacity(n);
        for row in 0..n {
            if a.iter().any(|c| c.is_null(row)) {
                out.append_null();
                continue;
            }
            let margin = a.get(3).map_or(1.0, |m| m.value(row));
            match historical_clv(a[0].value(row), a[1].value(row), a[2].value(row), margin) {
                Ok(v) => out.append_value(v),
                Err(e) => {
                    return Err(crate::error::ClvError::from_model("historical_clv", &e, |_| String::new()).into());
                }
            }
        }
        let out = out.finish();
        if args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?));
        }
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}
