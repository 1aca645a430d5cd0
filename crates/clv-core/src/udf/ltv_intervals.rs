//! `ltv_intervals(customer_id, x, t_x, t [, monetary] [, 'name=value' ...]) OVER ([PARTITION BY ...])`:
//! each customer's P(alive), expected purchases and CLV with customer-bootstrap intervals.
//!
//! A window function: each window partition is one population. It fits the transaction model
//! (`'model=bg_nbd'` default) and, given `monetary`, the Gamma-Gamma spend model on the
//! partition's customers exactly as [`super::ltv_bootstrap`] does, bootstraps them
//! (`replicates`, `seed`: weights from a seeded hash of `customer_id`, so the same whatever the
//! row order, partitioning or threads), and returns per row a struct `p_alive, p_alive_lower,
//! p_alive_upper, expected_purchases, expected_purchases_lower, expected_purchases_upper, clv,
//! clv_lower, clv_upper` at `level` (default 0.95): the full-data estimate and the interval
//! read off the replicates by `method` (default the session's `clv.ltv.interval_method`,
//! `log_normal`: normal on the logit scale for P(alive), on the log scale for expected
//! purchases and CLV, so the bounds stay in (0, 1) and above 0; the percentile interval where
//! a replicate sits on a bound, e.g. P(alive) = 1 of a BG/NBD customer without repeat
//! purchases). Expected purchases and CLV are over `horizon` time units
//! (default 52); CLV as `clv(...)` with discrete discounting at `discount_rate` per time unit and
//! `margin` (null without `monetary`). A row with a null input gets a null struct.
//!
//! Cost: the replicate refits, then each distinct `(x, t_x, t)` evaluated once per replicate
//! and prediction (see [`crate::ltv::bootstrap::BootstrapFit::p_alive`]).

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StructArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowFunctionSimplification, WindowUDFFieldArgs};
use datafusion::logical_expr::{
    Documentation, Expr, PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl,
};

use super::ltv_args::{
    LtvArgs, canonical_order, check_customer_type, customer_keys, documented, fit_model, fit_spend, is_text,
    session_defaults, spend_summary, with_candidate,
};
use crate::common::doc::{WINDOW, doc};
use crate::config::ClvOptions;
use crate::ltv::bootstrap::{Bootstrap, BootstrapModel, CustomerKeys, Interval};
use crate::ltv::{ClvSpec, ModelError, TimeUnit, TransactionSummary};

const NAME: &str = "ltv_intervals";
const ACCEPTED: &[&str] = &[
    "model",
    "replicates",
    "seed",
    "level",
    "method",
    "horizon",
    "discount_rate",
    "margin",
    "time_unit",
    "penalizer",
];

/// The predictions with bounds, in the order of the result's fields.
pub const PREDICTIONS: [&str; 3] = ["p_alive", "expected_purchases", "clv"];

/// The `ltv_intervals` window function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LtvIntervals {
    signature: Signature,
}

impl Default for LtvIntervals {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static UDWF: LazyLock<Arc<WindowUDF>> = LazyLock::new(|| Arc::new(WindowUDF::from(LtvIntervals::default())));

/// The shared `ltv_intervals` UDWF.
pub fn ltv_intervals_udwf() -> Arc<WindowUDF> {
    Arc::clone(&UDWF)
}

/// The result struct's fields: each prediction, then its lower and upper bound.
pub fn result_fields() -> Fields {
    PREDICTIONS
        .iter()
        .flat_map(|p| [p.to_string(), format!("{p}_lower"), format!("{p}_upper")])
        .map(|n| Field::new(n, DataType::Float64, true))
        .collect::<Vec<_>>()
        .into()
}

fn usage() -> String {
    format!("{NAME}(customer_id, x, t_x, t [, monetary] [, 'name=value' ...]) OVER (...)")
}

fn has_monetary(types: &[DataType]) -> bool {
    types.get(4).is_some_and(|t| !is_text(t))
}

impl WindowUDFImpl for LtvIntervals {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() < 4 {
            return plan_err!("{NAME} takes {}, got {} arguments", usage(), arg_types.len());
        }
        check_customer_type(NAME, &arg_types[0])?;
        let numeric = 3 + usize::from(has_monetary(arg_types));
        let mut out = vec![arg_types[0].clone()];
        for (i, t) in arg_types[1..].iter().enumerate() {
            if i < numeric {
                if !(t.is_numeric() || t.is_null()) {
                    let name = ["x", "t_x", "t", "monetary"][i];
                    return plan_err!("{NAME}: {name} must be numeric, got {t}");
                }
                out.push(DataType::Float64);
            } else {
                if !is_text(t) {
                    return plan_err!("{NAME}: options must be text 'name=value', got {t}; usage: {}", usage());
                }
                out.push(DataType::Utf8);
            }
        }
        Ok(out)
    }

    fn partition_evaluator(&self, args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        let fields = args.input_fields();
        let types: Vec<DataType> = fields.iter().map(|f| f.data_type().clone()).collect();
        let monetary = has_monetary(&types);
        let exprs = args.input_exprs();
        let first_option = (4 + usize::from(monetary)).min(exprs.len());
        let options = LtvArgs::from_physical(NAME, ACCEPTED, &exprs[first_option..])?;
        let unit = options.resolve_time_unit(NAME, &[&fields[2], &fields[3]])?;
        Ok(Box::new(IntervalsEvaluator {
            options,
            unit,
            monetary,
        }))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(
            field_args.name(),
            DataType::Struct(result_fields()),
            true,
        )))
    }

    /// Fills the session's time unit, penalizer, model and interval method when the call does
    /// not give them.
    fn simplify(&self) -> Option<WindowFunctionSimplification> {
        Some(Box::new(|f: WindowFunction, info| {
            let options = ClvOptions::from_session_config(info.config_options())?;
            let mut f = f;
            if !f
                .params
                .args
                .iter()
                .any(|a| matches!(a, Expr::Literal(v, _) if v.to_string().starts_with("session.")))
            {
                f.params.args.extend(session_defaults(
                    &options,
                    &["time_unit", "penalizer", "model", "method"],
                ));
            }
            Ok(Expr::from(f))
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            let mut args = vec![
                (
                    "customer_id",
                    "the customer's id (integer or text): the key of the replicate weights",
                ),
                ("x, t_x, t", "repeat purchases, recency and age (btyd_summary columns)"),
                ("monetary", "optional: mean repeat spend, for CLV and its interval"),
            ];
            args.extend(documented(ACCEPTED));
            doc(
                WINDOW,
                "Each customer's P(alive), expected purchases over the horizon and CLV with customer-bootstrap intervals (log_normal by default: logit scale for P(alive), log scale for the others); each window partition is one population, fitted and bootstrapped on its own.",
                &usage(),
                &args,
            )
        });
        Some(&DOC)
    }
}

#[derive(Debug)]
struct IntervalsEvaluator {
    options: LtvArgs,
    unit: TimeUnit,
    monetary: bool,
}

fn model_err(e: ModelError) -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::Execution(format!("{NAME}: {e}"))
}

/// The intervals of the customers of `data` (canonical order) under `model`.
fn intervals<M: BootstrapModel>(
    model: M,
    o: &LtvArgs,
    data: &TransactionSummary,
    keys: &CustomerKeys,
    monetary: Option<&[f64]>,
) -> Result<[Vec<Interval>; 3], ModelError> {
    let settings = Bootstrap::new()
        .replicates(o.replicates)
        .seed(o.seed)
        .interval_method(o.method);
    let (x, t_x, t) = (data.frequency(), data.recency(), data.t());
    let (boot, spend) = match monetary {
        Some(m) => {
            let spend = spend_summary(x, m)?;
            let g = fit_spend(o.penalizer, &spend)?;
            (settings.run_with_spend(&model, data, &g, &spend, keys)?, true)
        }
        None => (settings.run(&model, data, keys)?, false),
    };
    let p_alive = boot.p_alive(o.level, x, t_x, t)?;
    let purchases = boot.expected_purchases(o.level, o.horizon, x, t_x, t)?;
    let clv = match monetary {
        Some(m) if spend => {
            let unit = model.time_unit();
            let spec = ClvSpec::new(o.horizon, unit)
                .discrete(o.discount_rate, unit)
                .margin(o.margin);
            boot.clv(o.level, &spec, x, t_x, t, m)?
        }
        _ => vec![],
    };
    Ok([p_alive, purchases, clv])
}

impl PartitionEvaluator for IntervalsEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let n_inputs = 3 + usize::from(self.monetary);
        let cols: Vec<_> = values[1..=n_inputs]
            .iter()
            .map(|v| v.as_primitive::<Float64Type>())
            .collect();
        let valid: Vec<usize> = (0..num_rows)
            .filter(|&i| values[0].is_valid(i) && cols.iter().all(|c| c.is_valid(i)))
            .collect();
        let fields = result_fields();
        if valid.is_empty() {
            return Ok(Arc::new(StructArray::new_null(fields, num_rows)));
        }
        let ids = datafusion::arrow::compute::take(
            &values[0],
            &datafusion::arrow::array::UInt64Array::from(valid.iter().map(|&i| i as u64).collect::<Vec<_>>()),
            None,
        )?;
        let keys = customer_keys(NAME, &ids)?;
        let raw: Vec<Vec<f64>> = cols
            .iter()
            .map(|c| valid.iter().map(|&i| c.value(i)).collect())
            .collect();
        let order = canonical_order(&keys, &raw.iter().map(Vec::as_slice).collect::<Vec<_>>());
        let col = |j: usize| order.iter().map(|&k| raw[j][k]).collect::<Vec<f64>>();
        let data = TransactionSummary::new(col(0), col(1), col(2), self.unit).map_err(model_err)?;
        let sorted_keys = CustomerKeys::from_u64(&order.iter().map(|&k| keys[k]).collect::<Vec<_>>());
        let monetary = self.monetary.then(|| col(3));
        let o = &self.options;
        let (model, _) = fit_model(o, &data).map_err(model_err)?;
        let iv = with_candidate!(model, m => intervals(m, o, &data, &sorted_keys, monetary.as_deref()))
            .map_err(model_err)?;
        // Back to the rows: canonical position k is valid row order[k].
        let mut columns: Vec<Vec<Option<f64>>> = vec![vec![None; num_rows]; fields.len()];
        for (p, ivs) in iv.iter().enumerate() {
            for (k, v) in ivs.iter().enumerate() {
                let row = valid[order[k]];
                columns[3 * p][row] = Some(v.estimate);
                columns[3 * p + 1][row] = Some(v.lower);
                columns[3 * p + 2][row] = Some(v.upper);
            }
        }
        let arrays: Vec<ArrayRef> = columns
            .into_iter()
            .map(|c| Arc::new(datafusion::arrow::array::Float64Array::from(c)) as ArrayRef)
            .collect();
        let mut is_valid = vec![false; num_rows];
        for &i in &valid {
            is_valid[i] = true;
        }
        Ok(Arc::new(StructArray::try_new(
            fields,
            arrays,
            Some(NullBuffer::from(is_valid)),
        )?))
    }
}
