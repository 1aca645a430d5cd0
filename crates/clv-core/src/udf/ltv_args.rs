//! The `'name=value'` arguments of the LTV accuracy functions (`ltv_bootstrap`,
//! `ltv_intervals`, `ltv_compare`, the covariate fits) and what they share: customer keys, the
//! time unit their columns carry, reference entries.
//!
//! Every argument is declared once in [`ARGS`]; each function accepts the subset it lists, and
//! an unknown or unaccepted name is an error naming the function and the accepted names.
//! Arguments a call leaves out take the session's value where there is one (`time_unit`,
//! `penalizer`, `model`), filled in by the functions' `simplify` as `'session.<name>=value'`.

use std::sync::Arc;

use crate::common::constant::constant;
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, FieldRef, Int64Type, UInt64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_datafusion_err, plan_err};
use datafusion::logical_expr::{Expr, lit};
use datafusion::physical_plan::PhysicalExpr;

use crate::config::{ClvOptions, parse_time_unit};
use crate::ltv::bootstrap::{DEFAULT_REPLICATES, IntervalMethod, string_key};
use crate::ltv::{ModelKind, Role, TIME_UNIT_METADATA, TimeUnit, registry};

/// Every argument: name and meaning (the reference entries list them from here).
pub const ARGS: &[(&str, &str)] = &[
    (
        "model",
        "transaction model: bg_nbd (default), pareto_nbd, mbg_nbd, or auto (the lowest BIC of the transaction models)",
    ),
    ("replicates", "bootstrap replicates B, at least 2 (default 200)"),
    ("seed", "seed of the replicate weights, a whole number (default 0)"),
    ("level", "interval level, strictly between 0 and 1 (default 0.95)"),
    (
        "method",
        "how bootstrap intervals are read: log_normal (default: normal on the log scale, logit for P(alive)), percentile, bias_corrected or bca (default clv.ltv.interval_method)",
    ),
    ("horizon", "prediction horizon in the time unit (default 52)"),
    ("discount_rate", "discount rate per time unit for clv (default 0)"),
    ("margin", "margin applied to clv (default 1)"),
    (
        "time_unit",
        "unit of t_x and t: day, week or month (default: the unit btyd_summary wrote on the columns, else clv.btyd.time_unit)",
    ),
    ("penalizer", "L2 penalizer of the fits (default clv.fit.penalizer)"),
    (
        "models",
        "candidate models, comma-separated (default bg_nbd,pareto_nbd,mbg_nbd)",
    ),
    ("penalizers", "penalizer grid, comma-separated (default 0)"),
];

/// The parsed arguments (defaults where not given).
#[derive(Debug, Clone, PartialEq)]
pub struct LtvArgs {
    /// Transaction model (`None`: `auto`, the lowest BIC).
    pub model: Option<ModelKind>,
    /// Bootstrap replicates.
    pub replicates: usize,
    /// Seed of the replicate weights.
    pub seed: u64,
    /// Interval level.
    pub level: f64,
    /// Interval method.
    pub method: IntervalMethod,
    /// Horizon in the time unit.
    pub horizon: f64,
    /// Discount rate per time unit.
    pub discount_rate: f64,
    /// Margin.
    pub margin: f64,
    /// Time unit given by the call (`None`: the columns', else the session's).
    pub time_unit: Option<TimeUnit>,
    /// The session's time unit.
    pub session_time_unit: TimeUnit,
    /// Penalizer.
    pub penalizer: f64,
    /// Candidate models.
    pub models: Vec<ModelKind>,
    /// Penalizer grid (`None`: the penalizer alone).
    pub penalizers: Option<Vec<f64>>,
}

impl Default for LtvArgs {
    fn default() -> Self {
        LtvArgs {
            model: Some(ModelKind::BgNbd),
            replicates: DEFAULT_REPLICATES,
            seed: 0,
            level: 0.95,
            method: IntervalMethod::LogNormal,
            horizon: 52.0,
            discount_rate: 0.0,
            margin: 1.0,
            time_unit: None,
            session_time_unit: TimeUnit::Week,
            penalizer: 0.0,
            models: transaction_models(),
            penalizers: None,
        }
    }
}

/// The transaction models of the registry, in registry order.
pub fn transaction_models() -> Vec<ModelKind> {
    registry::models_with(Role::Transactions).map(|m| m.kind).collect()
}

/// A transaction model of the registry by its SQL name or an alias.
pub fn transaction_model(name: &str) -> Result<ModelKind> {
    let name = name.trim().to_ascii_lowercase();
    match registry::model_or_alias(&name) {
        Some(m) if m.has_role(Role::Transactions) => Ok(m.kind),
        _ => {
            let names: Vec<&str> = registry::models_with(Role::Transactions).map(|m| m.name()).collect();
            plan_err!("model must be one of {}, got '{name}'", names.join(", "))
        }
    }
}

/// The session option each argument is read as, by its one declaration in
/// [`crate::config::OPTIONS`] (parser, range, error text): `level` is `ltv.intervals`, `method`
/// is `ltv.interval_method`, `penalizer` is `fit.penalizer`, `time_unit` is `btyd.time_unit`,
/// the others the `ltv.` option (or `seed`) of their name.
const OPTION_OF: &[(&str, &str)] = &[
    ("model", "ltv.model"),
    ("replicates", "ltv.replicates"),
    ("seed", "seed"),
    ("level", "ltv.intervals"),
    ("method", "ltv.interval_method"),
    ("horizon", "ltv.horizon"),
    ("discount_rate", "ltv.discount_rate"),
    ("margin", "ltv.margin"),
    ("time_unit", "btyd.time_unit"),
    ("penalizer", "fit.penalizer"),
    ("models", "ltv.models"),
    ("penalizers", "ltv.penalizers"),
];

impl LtvArgs {
    /// Sets `name` to `value`, when `name` is one of `accepted` (a `session.` prefix marks a
    /// session default, which an explicit argument overrides). The value is parsed and checked
    /// by the session option the argument is ([`OPTION_OF`]).
    pub fn set(&mut self, function: &str, accepted: &[&str], name: &str, value: &str) -> Result<()> {
        let name = name.trim().to_ascii_lowercase();
        let (name, from_session) = match name.strip_prefix("session.") {
            Some(n) => (n.to_string(), true),
            None => (name, false),
        };
        if !accepted.contains(&name.as_str()) {
            return plan_err!(
                "{function}: unknown argument '{name}'; it takes {}",
                accepted
                    .iter()
                    .map(|a| format!("'{a}=...'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let Some(option) = OPTION_OF
            .iter()
            .find(|(argument, _)| *argument == name)
            .and_then(|(_, key)| crate::config::ClvOption::find(key))
        else {
            return plan_err!("{function}: argument '{name}' is not implemented");
        };
        let e = |err: datafusion::error::DataFusionError| plan_datafusion_err!("{function}: {}", message(&err));
        let mut o = ClvOptions::default();
        option.parse_into(&mut o, value, &name).map_err(e)?;
        match name.as_str() {
            "model" if o.ltv_model == crate::config::AUTO_MODEL => self.model = None,
            "model" => self.model = Some(transaction_model(&o.ltv_model).map_err(e)?),
            "replicates" => self.replicates = o.ltv_replicates,
            "seed" => self.seed = o.seed,
            "level" => {
                self.level = o.ltv_intervals.ok_or_else(|| {
                    plan_datafusion_err!("{function}: level must be strictly between 0 and 1, got '{value}'")
                })?
            }
            "method" => self.method = o.ltv_interval_method,
            "horizon" => self.horizon = o.ltv_horizon,
            "discount_rate" => self.discount_rate = o.ltv_discount_rate,
            "margin" => self.margin = o.ltv_margin,
            "time_unit" if from_session => self.session_time_unit = o.btyd_time_unit,
            "time_unit" => self.time_unit = Some(o.btyd_time_unit),
            // Session defaults are applied first (see `from_physical`): an explicit value wins.
            "penalizer" => self.penalizer = o.fit_penalizer,
            "models" => {
                let Some(models) = o.ltv_models.filter(|m| !m.is_empty()) else {
                    return plan_err!("{function}: models needs at least one transaction model");
                };
                self.models = models
                    .iter()
                    .map(|m| transaction_model(m))
                    .collect::<Result<Vec<_>>>()
                    .map_err(e)?;
            }
            "penalizers" => {
                let Some(grid) = o.ltv_penalizers else {
                    return plan_err!("{function}: penalizers needs at least one number");
                };
                self.penalizers = Some(grid);
            }
            _ => return plan_err!("{function}: argument '{name}' is not implemented"),
        }
        Ok(())
    }

    /// The arguments of the `'name=value'` literals `exprs` (physical), in order.
    pub fn from_physical(function: &str, accepted: &[&str], exprs: &[Arc<dyn PhysicalExpr>]) -> Result<LtvArgs> {
        let mut args = LtvArgs::default();
        // Session defaults first, so that explicit arguments win whatever their position.
        let mut texts = vec![];
        for e in exprs {
            let Some(text) = constant(e).and_then(|v| text_of(&v)) else {
                return plan_err!("{function}: options must be constant text 'name=value', got {e}");
            };
            texts.push(text);
        }
        texts.sort_by_key(|t| !t.trim_start().starts_with("session."));
        for text in texts {
            let Some((name, value)) = text.split_once('=') else {
                return plan_err!("{function}: option '{text}' is not of the form 'name=value'");
            };
            args.set(function, accepted, name, value)?;
        }
        Ok(args)
    }

    /// The time unit of the inputs: the unit `btyd_summary` wrote on the `t_x` and `t` fields
    /// (an explicit `time_unit` that differs is an error), else the explicit one, else the
    /// session's.
    pub fn resolve_time_unit(&self, function: &str, time_fields: &[&FieldRef]) -> Result<TimeUnit> {
        let mut found: Option<(TimeUnit, String)> = None;
        for f in time_fields {
            let Some(text) = f.metadata().get(TIME_UNIT_METADATA) else {
                continue;
            };
            let unit = parse_time_unit(text)?;
            match &found {
                Some((other, column)) if *other != unit => {
                    return plan_err!(
                        "{function}: {column} is in {}s but {} is in {}s; use one btyd_summary for both",
                        other.name(),
                        f.name(),
                        unit.name()
                    );
                }
                Some(_) => {}
                None => found = Some((unit, f.name().clone())),
            }
        }
        match (found, self.time_unit) {
            (Some((column_unit, column)), Some(given)) if column_unit != given => plan_err!(
                "{function}: {column} is in {}s (the time unit btyd_summary wrote on it), but time_unit = '{}'; \
                 pass '{}' or leave time_unit out",
                column_unit.name(),
                given.name(),
                column_unit.name()
            ),
            (Some((column_unit, _)), _) => Ok(column_unit),
            (None, Some(given)) => Ok(given),
            (None, None) => Ok(self.session_time_unit),
        }
    }
}

/// The session defaults a call without them gets, as `'session.<name>=value'` literals.
pub fn session_defaults(options: &ClvOptions, names: &[&str]) -> Vec<Expr> {
    let mut out = vec![];
    for name in names {
        let value = match *name {
            "time_unit" => options.btyd_time_unit.name().to_string(),
            "penalizer" => options.fit_penalizer.to_string(),
            "model" => options.ltv_model.clone(),
            "method" => options.ltv_interval_method.name().to_string(),
            _ => continue,
        };
        out.push(lit(format!("session.{name}={value}")));
    }
    out
}

fn text_of(v: &ScalarValue) -> Option<String> {
    match v {
        ScalarValue::Utf8(s) | ScalarValue::LargeUtf8(s) | ScalarValue::Utf8View(s) => s.clone(),
        _ => None,
    }
}

/// Whether a type is text (an option argument).
pub fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// The bare message of an error (without DataFusion's prefix).
pub fn message(e: &datafusion::error::DataFusionError) -> String {
    match e {
        datafusion::error::DataFusionError::Plan(m) | datafusion::error::DataFusionError::Execution(m) => m.clone(),
        other => other.strip_backtrace(),
    }
}

/// Whether a customer id column has a type the bootstrap can key.
pub fn check_customer_type(function: &str, t: &DataType) -> Result<()> {
    let ok = t.is_integer() || is_text(t) || matches!(t, DataType::Dictionary(_, v) if v.is_integer() || is_text(v));
    if ok {
        Ok(())
    } else {
        plan_err!("{function}: customer_id must be an integer or text column, got {t}")
    }
}

/// The bootstrap key of every customer id (see [`crate::ltv::bootstrap`]): a signed integer
/// id its two's-complement bits (`i64`), an unsigned one itself, a text id the FNV-1a hash of
/// its UTF-8 bytes. A null id is an error.
pub fn customer_keys(function: &str, ids: &ArrayRef) -> Result<Vec<u64>> {
    if ids.null_count() > 0 {
        return exec_err!(
            "{function}: customer_id is null in {} rows; every customer needs an id",
            ids.null_count()
        );
    }
    let t = ids.data_type();
    if let DataType::Dictionary(_, v) = t {
        let plain = datafusion::arrow::compute::cast(ids, v)?;
        return customer_keys(function, &plain);
    }
    if matches!(
        t,
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64
    ) {
        let v = datafusion::arrow::compute::cast(ids, &DataType::UInt64)?;
        return Ok(v.as_primitive::<UInt64Type>().values().to_vec());
    }
    if t.is_integer() {
        let v = datafusion::arrow::compute::cast(ids, &DataType::Int64)?;
        return Ok(v
            .as_primitive::<Int64Type>()
            .values()
            .iter()
            .map(|&i| i as u64)
            .collect());
    }
    if is_text(t) {
        let v = datafusion::arrow::compute::cast(ids, &DataType::Utf8)?;
        return Ok(v
            .as_string::<i32>()
            .iter()
            .map(|s| string_key(s.unwrap_or_default().as_bytes()))
            .collect());
    }
    exec_err!("{function}: customer_id must be an integer or text column, got {t}")
}

/// The documented arguments among `names` (from [`ARGS`]).
pub fn documented(names: &[&str]) -> Vec<(&'static str, &'static str)> {
    ARGS.iter().filter(|(n, _)| names.contains(n)).copied().collect()
}

/// One row of `fields` from `values` (one scalar per field, cast to the field's type; a null
/// of any type becomes the field's null) as a struct scalar.
pub fn struct_row(fields: &datafusion::arrow::datatypes::Fields, values: Vec<ScalarValue>) -> Result<ScalarValue> {
    Ok(ScalarValue::Struct(Arc::new(struct_array(fields, vec![values])?)))
}

/// Rows of `fields` (one `Vec` of scalars per row) as a struct array.
pub fn struct_array(
    fields: &datafusion::arrow::datatypes::Fields,
    rows: Vec<Vec<ScalarValue>>,
) -> Result<datafusion::arrow::array::StructArray> {
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(fields.len());
    for (j, f) in fields.iter().enumerate() {
        let values: Vec<ScalarValue> = rows
            .iter()
            .map(|r| {
                let v = &r[j];
                if v.is_null() {
                    ScalarValue::try_from(f.data_type())
                } else if v.data_type() != *f.data_type() {
                    v.cast_to(f.data_type())
                } else {
                    Ok(v.clone())
                }
            })
            .collect::<Result<_>>()?;
        columns.push(if values.is_empty() {
            datafusion::arrow::array::new_empty_array(f.data_type())
        } else {
            ScalarValue::iter_to_array(values)?
        });
    }
    Ok(datafusion::arrow::array::StructArray::try_new(
        fields.clone(),
        columns,
        None,
    )?)
}

/// A list scalar holding the rows of `fields`.
pub fn list_of_rows(fields: &datafusion::arrow::datatypes::Fields, rows: Vec<Vec<ScalarValue>>) -> Result<ScalarValue> {
    let n = rows.len();
    let values = struct_array(fields, rows)?;
    let item = Arc::new(datafusion::arrow::datatypes::Field::new_list_field(
        DataType::Struct(fields.clone()),
        true,
    ));
    let list = datafusion::arrow::array::ListArray::try_new(
        item,
        datafusion::arrow::buffer::OffsetBuffer::from_lengths([n]),
        Arc::new(values),
        None,
    )?;
    Ok(ScalarValue::List(Arc::new(list)))
}

/// The type of a list of `fields` rows.
pub fn list_type(fields: &datafusion::arrow::datatypes::Fields) -> DataType {
    DataType::List(Arc::new(datafusion::arrow::datatypes::Field::new_list_field(
        DataType::Struct(fields.clone()),
        true,
    )))
}

/// The fields of a transaction model as the prediction functions read it (every parameter of
/// BG/NBD, MBG/NBD and Pareto/NBD; those of other kinds null).
pub fn transaction_model_fields() -> datafusion::arrow::datatypes::Fields {
    use datafusion::arrow::datatypes::Field;
    let mut f = vec![Field::new("model", DataType::Utf8, false)];
    for p in transaction_parameters() {
        f.push(Field::new(p, DataType::Float64, true));
    }
    f.push(Field::new("time_unit", DataType::Utf8, false));
    f.into()
}

/// Every parameter name of the registry's transaction models, each once, in registry order.
fn transaction_parameters() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = vec![];
    for p in registry::models_with(Role::Transactions).flat_map(|m| m.params) {
        if !names.contains(p) {
            names.push(p);
        }
    }
    names
}

/// The struct of [`transaction_model_fields`] for a model with these parameters.
pub fn transaction_model_row(kind: ModelKind, names: &[&str], values: &[f64], unit: TimeUnit) -> Result<ScalarValue> {
    let mut row = vec![ScalarValue::from(kind.name())];
    for p in transaction_parameters() {
        let v = names.iter().position(|n| *n == p).map(|i| values[i]);
        row.push(ScalarValue::Float64(v));
    }
    row.push(ScalarValue::from(unit.name()));
    struct_row(&transaction_model_fields(), row)
}

/// Fits the model of `args` on `data` with its penalizer; for `model=auto`, BG/NBD, Pareto/NBD
/// and MBG/NBD, keeping the lowest BIC, and the reason for the choice.
pub fn fit_model(
    args: &LtvArgs,
    data: &crate::ltv::TransactionSummary,
) -> std::result::Result<(crate::ltv::holdout::CandidateModel, Option<String>), crate::ltv::ModelError> {
    match args.model {
        Some(kind) => Ok((fit_transactions(kind, args.penalizer, data)?, None)),
        None => {
            let c = crate::ltv::holdout::compare_models(data, &transaction_models(), &[args.penalizer], None)?;
            let Some(s) = c.selection else {
                // Every fit failed: the first one's error.
                return Err(c
                    .failed
                    .into_iter()
                    .next()
                    .map_or(crate::ltv::ModelError::EmptyInput, |f| f.error));
            };
            let model = c.candidates.into_iter().nth(s.chosen).map(|c| c.model);
            Ok((model.ok_or(crate::ltv::ModelError::EmptyInput)?, Some(s.reason)))
        }
    }
}

/// Fits `kind` on `data` with `penalizer` (convergence reported, not required).
pub fn fit_transactions(
    kind: ModelKind,
    penalizer: f64,
    data: &crate::ltv::TransactionSummary,
) -> std::result::Result<crate::ltv::holdout::CandidateModel, crate::ltv::ModelError> {
    use crate::ltv::holdout::CandidateModel;
    use crate::ltv::{BgNbd, MbgNbd, ParetoNbd};
    Ok(match kind {
        ModelKind::ParetoNbd => CandidateModel::ParetoNbd(
            ParetoNbd::new()
                .penalizer(penalizer)
                .require_convergence(false)
                .fit(data)?,
        ),
        ModelKind::MbgNbd => CandidateModel::MbgNbd(
            MbgNbd::new()
                .penalizer(penalizer)
                .require_convergence(false)
                .fit(data)?,
        ),
        _ => CandidateModel::BgNbd(BgNbd::new().penalizer(penalizer).require_convergence(false).fit(data)?),
    })
}

/// The spend summary of customers with repeat purchases `x` and mean repeat spend `monetary`:
/// customers whose mean is not positive (all repeat purchases free) are left out of the
/// Gamma-Gamma fit (frequency 0), as `clv_predict` leaves them out.
pub fn spend_summary(
    x: &[f64],
    monetary: &[f64],
) -> std::result::Result<crate::ltv::SpendSummary, crate::ltv::ModelError> {
    let frequency = x
        .iter()
        .zip(monetary)
        .map(|(&x, &m)| if m > 0.0 { x } else { 0.0 })
        .collect();
    crate::ltv::SpendSummary::new(frequency, monetary.to_vec())
}

/// The Gamma-Gamma fit of `spend` with `penalizer` (convergence reported, not required).
pub fn fit_spend(
    penalizer: f64,
    spend: &crate::ltv::SpendSummary,
) -> std::result::Result<crate::ltv::FittedGammaGamma, crate::ltv::ModelError> {
    crate::ltv::GammaGamma::new()
        .penalizer(penalizer)
        .require_convergence(false)
        .fit(spend)
}

/// Runs `$body` with `$m` bound to the fitted model inside a
/// [`crate::ltv::holdout::CandidateModel`].
macro_rules! with_candidate {
    ($model:expr, $m:ident => $body:expr) => {
        match $model {
            crate::ltv::holdout::CandidateModel::BgNbd($m) => $body,
            crate::ltv::holdout::CandidateModel::ParetoNbd($m) => $body,
            crate::ltv::holdout::CandidateModel::MbgNbd($m) => $body,
        }
    };
}
pub(crate) use with_candidate;

/// The order that sorts customer rows canonically (by key, then the values' bits): the kernels
/// then see the same input whatever the partitioning and row order.
pub fn canonical_order(keys: &[u64], columns: &[&[f64]]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&i, &j| {
        keys[i].cmp(&keys[j]).then_with(|| {
            columns
                .iter()
                .fold(std::cmp::Ordering::Equal, |o, c| o.then(c[i].total_cmp(&c[j])))
        })
    });
    order
}
