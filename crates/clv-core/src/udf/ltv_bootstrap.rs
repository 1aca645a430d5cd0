//! `ltv_bootstrap(customer_id, x, t_x, t [, monetary] [, 'name=value' ...])`: a transaction
//! model fitted with its customer-bootstrap and delta-method intervals.
//!
//! An aggregate over one row per customer (`btyd_summary` output). It fits the model
//! (`'model=bg_nbd'` default, `pareto_nbd`, `mbg_nbd`) and, given `monetary`, a Gamma-Gamma spend
//! model on the customers with x > 0 and monetary > 0 (as `clv_predict` does); then refits both
//! on `replicates` Poisson-bootstrap resamples of the customers whose weights are a seeded hash
//! of `customer_id` ([`crate::ltv::bootstrap`]), so the result is the same whatever the row
//! order, partitioning or number of threads. It returns one struct:
//!
//! * `model` — the fitted transaction model as the prediction functions read it (`model`, the
//!   parameters, `time_unit`: `p_alive(b.model, x, t_x, t)` works), `spend_model` likewise
//!   (null without `monetary`); `selection` says why `'model=auto'` chose it (the lowest
//!   BIC of BG/NBD, Pareto/NBD and MBG/NBD), null for a named model;
//! * `log_likelihood`, `converged`, `customers`, `skipped_rows` of the full-data fit;
//! * `level`, `method` (how the intervals are read, `'method=...'`, default the session's
//!   `clv.ltv.interval_method`, `log_normal`), `replicates` (converged), `failed` (replicates
//!   left out), `seed`;
//! * `parameters` — one row per parameter (transaction model, then spend model): `estimate`,
//!   the bootstrap interval `lower`/`upper` and standard deviation `bootstrap_se`, the
//!   observed-information `std_error` and the delta-method interval on the log scale
//!   `delta_lower`/`delta_upper` (`θ̂·exp(±z·SE/θ̂)`, always positive);
//! * `delta_method` — null, or why the delta-method columns are null: the Hessian of the
//!   log-likelihood is singular or not positive definite at the estimate (degenerate data,
//!   such as every customer with the same history, or a parameter at the boundary of its
//!   space); the bootstrap still answers there;
//! * `horizon` and the population totals over it with intervals: `expected_transactions`
//!   (repeat transactions of all customers), `expected_revenue` (with `monetary`: transactions ×
//!   each customer's conditional expected spend);
//! * `draws` — every converged replicate's parameters (`replicate, parameter, value` rows);
//! * `json` — the full-data model serialized.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, Int64Type, UInt64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::{AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Expr, Signature, Volatility,
};
use serde::Serialize;

use super::ltv_args::{
    LtvArgs, canonical_order, check_customer_type, customer_keys, documented, fit_model, fit_spend, is_text,
    list_of_rows, list_type, session_defaults, spend_summary, struct_row, transaction_model_fields,
    transaction_model_row, with_candidate,
};
use crate::common::doc::{AGGREGATE, doc};
use crate::config::ClvOptions;
use crate::ltv::bootstrap::{
    Bootstrap, BootstrapFit, BootstrapModel, CustomerKeys, DeltaScale, ModelParameters, delta_method_intervals,
};
use crate::ltv::{ModelError, SpendSummary, TimeUnit, TransactionSummary};

const NAME: &str = "ltv_bootstrap";
const ACCEPTED: &[&str] = &[
    "model",
    "replicates",
    "seed",
    "level",
    "method",
    "horizon",
    "time_unit",
    "penalizer",
];

/// The `ltv_bootstrap` aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LtvBootstrap {
    signature: Signature,
}

impl Default for LtvBootstrap {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static UDAF: LazyLock<Arc<AggregateUDF>> = LazyLock::new(|| Arc::new(AggregateUDF::from(LtvBootstrap::default())));

/// The shared `ltv_bootstrap` UDAF.
pub fn ltv_bootstrap_udaf() -> Arc<AggregateUDF> {
    Arc::clone(&UDAF)
}

/// The rows of a `parameters` list.
pub fn parameter_fields() -> Fields {
    let f = |n: &str, t: DataType, null: bool| Field::new(n, t, null);
    vec![
        f("model", DataType::Utf8, false),
        f("parameter", DataType::Utf8, false),
        f("estimate", DataType::Float64, false),
        f("lower", DataType::Float64, false),
        f("upper", DataType::Float64, false),
        f("bootstrap_se", DataType::Float64, false),
        f("std_error", DataType::Float64, true),
        f("delta_lower", DataType::Float64, true),
        f("delta_upper", DataType::Float64, true),
    ]
    .into()
}

fn draw_fields() -> Fields {
    vec![
        Field::new("replicate", DataType::Int64, false),
        Field::new("parameter", DataType::Utf8, false),
        Field::new("value", DataType::Float64, false),
    ]
    .into()
}

fn spend_model_fields() -> Fields {
    vec![
        Field::new("model", DataType::Utf8, false),
        Field::new("p", DataType::Float64, false),
        Field::new("q", DataType::Float64, false),
        Field::new("gamma", DataType::Float64, false),
    ]
    .into()
}

/// The result struct's fields.
pub fn result_fields() -> Fields {
    let f64_field = |n: &str, null: bool| Field::new(n, DataType::Float64, null);
    vec![
        Field::new("model", DataType::Struct(transaction_model_fields()), false),
        Field::new("spend_model", DataType::Struct(spend_model_fields()), true),
        Field::new("selection", DataType::Utf8, true),
        f64_field("log_likelihood", false),
        Field::new("converged", DataType::Boolean, false),
        f64_field("customers", false),
        Field::new("skipped_rows", DataType::Int64, false),
        f64_field("level", false),
        Field::new("method", DataType::Utf8, false),
        Field::new("replicates", DataType::Int64, false),
        Field::new("failed", DataType::Int64, false),
        Field::new("seed", DataType::UInt64, false),
        Field::new("parameters", list_type(&parameter_fields()), false),
        Field::new("delta_method", DataType::Utf8, true),
        f64_field("horizon", false),
        f64_field("expected_transactions", false),
        f64_field("expected_transactions_lower", false),
        f64_field("expected_transactions_upper", false),
        f64_field("expected_revenue", true),
        f64_field("expected_revenue_lower", true),
        f64_field("expected_revenue_upper", true),
        Field::new("draws", list_type(&draw_fields()), false),
        Field::new("json", DataType::Utf8, false),
    ]
    .into()
}

fn usage() -> String {
    format!("{NAME}(customer_id, x, t_x, t [, monetary] [, 'name=value' ...])")
}

/// Whether the call has a `monetary` argument (a fifth argument that is not an option).
fn has_monetary(types: &[DataType]) -> bool {
    types.get(4).is_some_and(|t| !is_text(t))
}

impl AggregateUDFImpl for LtvBootstrap {
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
        let mut out = vec![arg_types[0].clone()];
        let numeric = 3 + usize::from(has_monetary(arg_types));
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

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(result_fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |t: DataType| DataType::List(Arc::new(Field::new_list_field(t, true)));
        let mut f: Vec<FieldRef> = vec![Arc::new(Field::new(
            format_state_name(args.name, "key"),
            list(DataType::UInt64),
            true,
        ))];
        for name in ["x", "t_x", "t", "monetary"] {
            f.push(Arc::new(Field::new(
                format_state_name(args.name, name),
                list(DataType::Float64),
                true,
            )));
        }
        f.push(Arc::new(Field::new(
            format_state_name(args.name, "skipped"),
            DataType::Int64,
            true,
        )));
        Ok(f)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let types: Vec<DataType> = args.expr_fields.iter().map(|f| f.data_type().clone()).collect();
        let monetary = has_monetary(&types);
        let first_option = 4 + usize::from(monetary);
        let options = LtvArgs::from_physical(NAME, ACCEPTED, &args.exprs[first_option.min(args.exprs.len())..])?;
        let unit = options.resolve_time_unit(NAME, &[&args.expr_fields[2], &args.expr_fields[3]])?;
        Ok(Box::new(BootstrapAccumulator {
            options,
            unit,
            monetary,
            rows: Vec::new(),
            skipped: 0,
        }))
    }

    /// Fills the session's time unit, penalizer, model and interval method when the call does
    /// not give them.
    fn simplify(&self) -> Option<AggregateFunctionSimplification> {
        Some(Box::new(|f: AggregateFunction, info| {
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
            Ok(Expr::AggregateFunction(f))
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
                (
                    "monetary",
                    "optional: mean repeat spend, for a Gamma-Gamma model and revenue totals",
                ),
            ];
            args.extend(documented(ACCEPTED));
            doc(
                AGGREGATE,
                "Fits a transaction model (and a Gamma-Gamma spend model) with customer-bootstrap intervals (log_normal by default, see method) and delta-method intervals of every parameter, and bootstrap intervals of the population's expected transactions and revenue over the horizon.",
                &usage(),
                &args,
            )
        });
        Some(&DOC)
    }
}

/// One customer row: key and inputs.
type Row = (u64, [f64; 4]);

#[derive(Debug)]
struct BootstrapAccumulator {
    options: LtvArgs,
    unit: TimeUnit,
    monetary: bool,
    rows: Vec<Row>,
    skipped: i64,
}

fn model_err(e: ModelError) -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::Execution(format!("{NAME}: {e}"))
}

impl Accumulator for BootstrapAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let n = 3 + usize::from(self.monetary);
        let keys = customer_keys(NAME, &values[0])?;
        let cols: Vec<_> = values[1..=n].iter().map(|v| v.as_primitive::<Float64Type>()).collect();
        for (i, &key) in keys.iter().enumerate() {
            if cols.iter().any(|c| c.is_null(i)) {
                self.skipped += 1;
                continue;
            }
            let mut v = [0.0; 4];
            for (k, c) in cols.iter().enumerate() {
                v[k] = c.value(i);
            }
            self.rows.push((key, v));
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.rows.is_empty() {
            return exec_err!("{NAME}: no customers (every row had a null input or the input was empty)");
        }
        // A canonical order: the same input to the kernels whatever the partitioning.
        let keys: Vec<u64> = self.rows.iter().map(|r| r.0).collect();
        let cols: Vec<Vec<f64>> = (0..4).map(|j| self.rows.iter().map(|r| r.1[j]).collect()).collect();
        let order = canonical_order(&keys, &cols.iter().map(Vec::as_slice).collect::<Vec<_>>());
        let col = |j: usize| order.iter().map(|&i| cols[j][i]).collect::<Vec<f64>>();
        let data = TransactionSummary::new(col(0), col(1), col(2), self.unit).map_err(model_err)?;
        let keys = CustomerKeys::from_u64(&order.iter().map(|&i| keys[i]).collect::<Vec<_>>());
        let spend = if self.monetary {
            Some(spend_summary(&col(0), &col(3)).map_err(model_err)?)
        } else {
            None
        };
        let run = Run {
            options: &self.options,
            data: &data,
            spend: spend.as_ref(),
            keys: &keys,
            skipped: self.skipped,
        };
        let (model, selection) = fit_model(&self.options, &data).map_err(model_err)?;
        with_candidate!(model, m => run.with(m, selection))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.rows.capacity() * std::mem::size_of::<Row>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let f64_list = |j: usize| {
            ScalarValue::List(Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>([Some(
                self.rows.iter().map(|r| Some(r.1[j])),
            )])))
        };
        Ok(vec![
            ScalarValue::List(Arc::new(ListArray::from_iter_primitive::<UInt64Type, _, _>([Some(
                self.rows.iter().map(|r| Some(r.0)),
            )]))),
            f64_list(0),
            f64_list(1),
            f64_list(2),
            f64_list(3),
            ScalarValue::Int64(Some(self.skipped)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists: Vec<&ListArray> = states[..5].iter().map(|s| s.as_list::<i32>()).collect();
        let skipped = states[5].as_primitive::<Int64Type>();
        for row in 0..states[0].len() {
            if skipped.is_valid(row) {
                self.skipped += skipped.value(row);
            }
            if lists[0].is_null(row) {
                continue;
            }
            let keys = lists[0].value(row);
            let keys = keys.as_primitive::<UInt64Type>();
            let cols: Vec<ArrayRef> = lists[1..].iter().map(|l| l.value(row)).collect();
            let cols: Vec<_> = cols.iter().map(|c| c.as_primitive::<Float64Type>()).collect();
            for i in 0..keys.len() {
                self.rows.push((
                    keys.value(i),
                    [cols[0].value(i), cols[1].value(i), cols[2].value(i), cols[3].value(i)],
                ));
            }
        }
        Ok(())
    }
}

/// One evaluation's inputs.
struct Run<'a> {
    options: &'a LtvArgs,
    data: &'a TransactionSummary,
    spend: Option<&'a SpendSummary>,
    keys: &'a CustomerKeys,
    skipped: i64,
}

/// The rows of `parameters` for a model's intervals.
fn parameter_rows(
    model: &str,
    bootstrap: &[crate::ltv::bootstrap::ParameterInterval],
    delta: Option<&[crate::ltv::bootstrap::ParameterInterval]>,
) -> Vec<Vec<ScalarValue>> {
    bootstrap
        .iter()
        .enumerate()
        .map(|(j, p)| {
            let d = delta.map(|d| d[j]);
            vec![
                ScalarValue::from(model),
                ScalarValue::from(p.name),
                ScalarValue::from(p.estimate),
                ScalarValue::from(p.lower),
                ScalarValue::from(p.upper),
                ScalarValue::from(p.std_error),
                ScalarValue::Float64(d.map(|d| d.std_error)),
                ScalarValue::Float64(d.map(|d| d.lower)),
                ScalarValue::Float64(d.map(|d| d.upper)),
            ]
        })
        .collect()
}

impl Run<'_> {
    fn with<M: BootstrapModel + Serialize + FitSummary>(
        &self,
        model: M,
        selection: Option<String>,
    ) -> Result<ScalarValue> {
        let o = self.options;
        let settings = Bootstrap::new()
            .replicates(o.replicates)
            .seed(o.seed)
            .interval_method(o.method);
        let spend_model = self
            .spend
            .map(|s| fit_spend(o.penalizer, s))
            .transpose()
            .map_err(model_err)?;
        let boot: BootstrapFit<M> = match (&spend_model, self.spend) {
            (Some(g), Some(s)) => settings.run_with_spend(&model, self.data, g, s, self.keys),
            _ => settings.run(&model, self.data, self.keys),
        }
        .map_err(model_err)?;
        let level = o.level;
        let kind = model.kind();
        let params = boot.parameter_intervals(level).map_err(model_err)?;
        let delta = delta_method_intervals(&model, level, DeltaScale::Log);
        let mut rows = parameter_rows(kind.name(), &params, delta.as_deref().ok());
        let mut delta_note = delta.as_ref().err().map(|e| format!("{}: {e}", kind.name()));
        if let Some(g) = &spend_model {
            let sp = boot.spend_parameter_intervals(level).map_err(model_err)?;
            let gd = delta_method_intervals(g, level, DeltaScale::Log);
            rows.extend(parameter_rows("gamma_gamma", &sp, gd.as_deref().ok()));
            if let Err(e) = &gd {
                let note = format!("gamma_gamma: {e}");
                delta_note = Some(match delta_note {
                    Some(n) => format!("{n}; {note}"),
                    None => note,
                });
            }
        }
        let totals = boot
            .totals(level, o.horizon, self.data, self.spend)
            .map_err(model_err)?;
        let mut draws = vec![];
        for r in boot.replicates() {
            let names = r.model.parameter_names();
            for (name, v) in names.iter().zip(r.model.parameter_values()) {
                draws.push(vec![
                    ScalarValue::Int64(Some(r.number as i64)),
                    ScalarValue::from(*name),
                    ScalarValue::from(v),
                ]);
            }
            if let Some(g) = &r.spend {
                for (name, v) in g.parameter_names().iter().zip(g.parameter_values()) {
                    draws.push(vec![
                        ScalarValue::Int64(Some(r.number as i64)),
                        ScalarValue::from(*name),
                        ScalarValue::from(v),
                    ]);
                }
            }
        }
        let report = model.fit_summary();
        let json = serde_json::to_string(&model)
            .map_err(|e| datafusion::error::DataFusionError::Execution(format!("{NAME}: {e}")))?;
        let spend_struct = match &spend_model {
            Some(g) => {
                let p = g.params();
                struct_row(
                    &spend_model_fields(),
                    vec![
                        ScalarValue::from("gamma_gamma"),
                        ScalarValue::from(p.p),
                        ScalarValue::from(p.q),
                        ScalarValue::from(p.gamma),
                    ],
                )?
            }
            None => ScalarValue::try_from(DataType::Struct(spend_model_fields()))?,
        };
        let revenue = totals.revenue;
        struct_row(
            &result_fields(),
            vec![
                transaction_model_row(
                    kind,
                    model.parameter_names(),
                    &model.parameter_values(),
                    model.time_unit(),
                )?,
                spend_struct,
                ScalarValue::Utf8(selection),
                ScalarValue::from(report.0),
                ScalarValue::from(report.1),
                ScalarValue::from(report.2),
                ScalarValue::Int64(Some(self.skipped)),
                ScalarValue::from(level),
                ScalarValue::from(o.method.name()),
                ScalarValue::Int64(Some(boot.replicates().len() as i64)),
                ScalarValue::Int64(Some(boot.failed().len() as i64)),
                ScalarValue::UInt64(Some(o.seed)),
                list_of_rows(&parameter_fields(), rows)?,
                ScalarValue::Utf8(delta_note),
                ScalarValue::from(o.horizon),
                ScalarValue::from(totals.transactions.estimate),
                ScalarValue::from(totals.transactions.lower),
                ScalarValue::from(totals.transactions.upper),
                ScalarValue::Float64(revenue.map(|r| r.estimate)),
                ScalarValue::Float64(revenue.map(|r| r.lower)),
                ScalarValue::Float64(revenue.map(|r| r.upper)),
                list_of_rows(&draw_fields(), draws)?,
                ScalarValue::from(json),
            ],
        )
    }
}

/// `(log-likelihood, converged, customers)` of a fit.
pub(crate) trait FitSummary {
    /// From the fit report (NaN, false, NaN for a model built from parameters).
    fn fit_summary(&self) -> (f64, bool, f64);
}

macro_rules! fit_summary {
    ($($t:ty),*) => {$(
        impl FitSummary for $t {
            fn fit_summary(&self) -> (f64, bool, f64) {
                self.fit_report()
                    .map_or((f64::NAN, false, f64::NAN), |r| (r.log_likelihood, r.converged, r.n_customers))
            }
        }
    )*};
}
fit_summary!(
    crate::ltv::FittedBgNbd,
    crate::ltv::FittedParetoNbd,
    crate::ltv::FittedMbgNbd
);
