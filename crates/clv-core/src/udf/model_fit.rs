//! The model-fitting aggregates, one per model of the registry ([`crate::ltv::registry`]):
//! `bgnbd_fit`, `pareto_nbd_fit`, `mbgnbd_fit`, `gamma_gamma_fit`, `bgbb_fit` and `sbg_fit`.
//! One generic implementation serves them all; the model's identity ([`crate::ltv::Model`])
//! gives the function name, the inputs, the parameters and diagnostics, and the fit.
//!
//! | function | inputs | parameters |
//! |---|---|---|
//! | `bgnbd_fit(x, t_x, t [, weight [, time_unit [, penalizer]]])` | repeat purchases, recency, age | r, alpha, a, b |
//! | `pareto_nbd_fit(x, t_x, t [, weight [, time_unit [, penalizer]]])` | same | r, alpha, s, beta |
//! | `mbgnbd_fit(x, t_x, t [, weight [, time_unit [, penalizer]]])` | same | r, alpha, a, b |
//! | `gamma_gamma_fit(x, monetary [, weight [, penalizer]])` | repeat purchases, mean repeat spend | p, q, gamma |
//! | `bgbb_fit(x, t_x, n [, weight [, penalizer]])` | discrete: transactions, last period, opportunities | alpha, beta, gamma, delta |
//! | `sbg_fit(t, churned [, weight [, penalizer]])` | contract periods, whether it ended (false = still active) | alpha, beta |
//!
//! Each returns one struct: `model`, the parameters, `log_likelihood`, `iterations`,
//! `converged`, `customers` (sum of weights), `time_unit`, `skipped_rows` (rows with a null
//! input, left out and counted), the standard errors `se_<param>` (null when the Hessian is not
//! positive definite) and `json`, the serialized model. A fit that does not converge is
//! returned with `converged = false` (check it), never hidden and never an error; empty input and
//! invalid rows are errors naming the function and the problem.
//!
//! The partial state is the multiset of distinct input rows with their weights (identical rows
//! are compressed as they arrive), so `GROUP BY` fits and distributed fits see exactly the same
//! data as a single-node fit.
//!
//! `time_unit` is the unit of `t_x` and `t`. Columns from `btyd_summary` carry their unit in
//! their field metadata; the fit takes it from there, and an explicit `time_unit` that differs
//! is an error (a month-based summary is never fitted as weeks). For other columns it defaults
//! to the session option `clv.btyd.time_unit`.
//!
//! `penalizer` is the L2 penalizer λ (a constant ≥ 0, default the session option
//! `clv.fit.penalizer`, itself 0): λ·Σθ² is added to the mean negative log-likelihood per
//! customer, the same scale for every model (see [`crate::ltv::FitOptions::penalizer`]). The
//! reported `log_likelihood` is the unpenalized one; the model JSON records λ.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, ListArray, StringArray, StructArray,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::{AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Expr, Signature, Volatility, lit,
};
use datafusion::physical_expr::expressions::Literal;

use crate::common::doc::{AGGREGATE, doc};
use crate::config::ClvOptions;
use crate::ltv::model::InputKind;
use crate::ltv::{FitData, FitOptions, MODELS, ModelError, ModelKind, ModelSpec, TIME_UNIT_METADATA, TimeUnit};

/// The result struct's fields: `model`, the parameters, the fit report, `time_unit`,
/// `skipped_rows`, the standard errors `se_<param>`, the model's diagnostics and checks, and
/// `json`.
pub fn result_fields(spec: &ModelSpec) -> Fields {
    let mut f = vec![Field::new("model", DataType::Utf8, false)];
    f.extend(spec.params.iter().map(|p| Field::new(*p, DataType::Float64, false)));
    f.extend([
        Field::new("log_likelihood", DataType::Float64, false),
        Field::new("iterations", DataType::Int64, false),
        Field::new("converged", DataType::Boolean, false),
        Field::new("customers", DataType::Float64, false),
        Field::new("time_unit", DataType::Utf8, true),
        Field::new("skipped_rows", DataType::Int64, false),
    ]);
    f.extend(
        spec.params
            .iter()
            .map(|p| Field::new(format!("se_{p}"), DataType::Float64, true)),
    );
    f.extend(spec.diagnostics.iter().map(|d| Field::new(*d, DataType::Float64, true)));
    f.extend(spec.checks.iter().map(|c| Field::new(*c, DataType::Boolean, false)));
    f.push(Field::new("json", DataType::Utf8, false));
    Fields::from(f)
}

/// A model-fitting aggregate.
#[derive(Debug)]
pub struct ModelFit {
    kind: &'static ModelSpec,
    signature: Signature,
    /// NULL instead of an error when no row (Gamma-Gamma: fewer than two rows) has a repeat
    /// purchase (x > 0).
    null_without_repeats: bool,
}

impl PartialEq for ModelFit {
    fn eq(&self, other: &Self) -> bool {
        self.kind.kind == other.kind.kind
    }
}
impl Eq for ModelFit {}
impl std::hash::Hash for ModelFit {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.kind.kind.hash(state);
    }
}

impl ModelFit {
    /// The aggregate fitting the model `kind`.
    pub fn new(kind: &'static ModelSpec) -> Self {
        assert!(
            kind.inputs.len() <= MAX_INPUTS,
            "{}: a fit aggregate takes at most {MAX_INPUTS} inputs",
            kind.fit_function
        );
        Self {
            kind,
            signature: Signature::user_defined(Volatility::Immutable),
            null_without_repeats: false,
        }
    }

    /// The aggregate fitting `kind` that returns NULL, not an error, for a group without any
    /// repeat purchase (the churn model's per-cutoff fits: a cutoff just after the data starts).
    /// Plans that use it and run on a cluster get the registered, strict function.
    pub fn null_without_repeats(kind: &'static ModelSpec) -> Self {
        Self {
            null_without_repeats: true,
            ..Self::new(kind)
        }
    }
}

/// The fitting aggregate of every model in the registry.
pub fn model_fit_udafs() -> Vec<Arc<AggregateUDF>> {
    MODELS
        .iter()
        .map(|k| Arc::new(AggregateUDF::from(ModelFit::new(k))))
        .collect()
}

/// The input column names (for messages).
fn input_names(kind: &ModelSpec) -> Vec<&'static str> {
    kind.inputs.iter().map(|i| i.name).collect()
}

fn usage(kind: &ModelSpec) -> String {
    let inputs = input_names(kind).join(", ");
    if kind.time_unit {
        format!("{}({inputs} [, weight [, time_unit [, penalizer]]])", kind.fit_function)
    } else {
        format!("{}({inputs} [, weight [, penalizer]])", kind.fit_function)
    }
}

/// The reference entry of a fit.
fn documentation(kind: &ModelSpec) -> Documentation {
    let mut arguments: Vec<(String, String)> = kind
        .inputs
        .iter()
        .map(|i| (i.name.to_string(), "input column, one row per customer".to_string()))
        .collect();
    arguments.push(("weight".into(), "customers the row stands for (default 1)".into()));
    if kind.time_unit {
        arguments.push((
            "time_unit".into(),
            "day, week or month: the unit of t_x and t (default: the unit btyd_summary wrote on them, else clv.btyd.time_unit)".into(),
        ));
    }
    arguments.push((
        "penalizer".into(),
        "L2 penalizer, a constant >= 0 (default clv.fit.penalizer, 0)".into(),
    ));
    let arguments: Vec<(&str, &str)> = arguments.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    doc(
        AGGREGATE,
        &format!(
            "Fits {} by maximum likelihood. One struct: model, the parameters ({}), log_likelihood, iterations, \
             converged, customers, time_unit, skipped_rows, se_<param>{} and json (the serialized model).",
            kind.description,
            kind.params.join(", "),
            kind.diagnostics.iter().map(|d| format!(", {d}")).collect::<String>()
        ),
        &usage(kind),
        &arguments,
    )
}

/// The reference entries of the fits, built once.
static DOCS: LazyLock<Vec<(ModelKind, Documentation)>> =
    LazyLock::new(|| MODELS.iter().map(|k| (k.kind, documentation(k))).collect());

impl AggregateUDFImpl for ModelFit {
    fn name(&self) -> &str {
        self.kind.fit_function
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        DOCS.iter().find(|(k, _)| *k == self.kind.kind).map(|(_, d)| d)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let k = self.kind;
        let n = k.inputs.len();
        let max = n + 2 + usize::from(k.time_unit);
        if !(n..=max).contains(&arg_types.len()) {
            return plan_err!(
                "{} takes {}, got {} arguments",
                k.fit_function,
                usage(k),
                arg_types.len()
            );
        }
        let mut out = vec![];
        for (i, t) in arg_types.iter().enumerate() {
            let input = k.inputs.get(i);
            let name = input.map(|i| i.name).unwrap_or(if i == n {
                "weight"
            } else if i == n + 1 && k.time_unit {
                "time_unit"
            } else {
                "penalizer"
            });
            let flag = input.is_some_and(|i| i.kind == InputKind::Flag);
            let ok = if flag {
                matches!(t, DataType::Boolean | DataType::Null)
            } else if name == "time_unit" {
                matches!(
                    t,
                    DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null
                )
            } else {
                t.is_numeric() || t.is_null()
            };
            if !ok {
                let want = if flag {
                    "boolean"
                } else if name == "time_unit" {
                    "text: day, week or month"
                } else {
                    "numeric"
                };
                return plan_err!("{}: {name} must be {want}, got {t}", k.fit_function);
            }
            out.push(if flag {
                DataType::Boolean
            } else if name == "time_unit" {
                DataType::Utf8
            } else {
                DataType::Float64
            });
        }
        Ok(out)
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(result_fields(self.kind)))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)));
        let mut f: Vec<FieldRef> = (0..self.kind.inputs.len())
            .map(|i| {
                Arc::new(Field::new(
                    format_state_name(args.name, &format!("k{i}")),
                    list.clone(),
                    true,
                ))
            })
            .collect();
        f.push(Arc::new(Field::new(format_state_name(args.name, "w"), list, true)));
        f.push(Arc::new(Field::new(
            format_state_name(args.name, "skipped"),
            DataType::Int64,
            true,
        )));
        Ok(f)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let k = self.kind;
        let n = k.inputs.len();
        let penalizer_at = n + 1 + usize::from(k.time_unit);
        let penalizer = match args.exprs.get(penalizer_at) {
            None => 0.0,
            Some(e) => match e.downcast_ref::<Literal>().map(|l| l.value()) {
                Some(ScalarValue::Float64(Some(p))) if p.is_finite() && *p >= 0.0 => *p,
                Some(ScalarValue::Float64(None)) | Some(ScalarValue::Null) => 0.0,
                other => {
                    return plan_err!(
                        "{}: penalizer must be a constant number >= 0, got {}",
                        k.fit_function,
                        other.map_or("an expression".to_string(), |v| v.to_string())
                    );
                }
            },
        };
        if !k.time_unit {
            return Ok(Box::new(FitAccumulator::new(
                k,
                None,
                penalizer,
                self.null_without_repeats,
            )));
        }
        let Some(e) = args.exprs.get(n + 1) else {
            return Ok(Box::new(FitAccumulator::new(
                k,
                None,
                penalizer,
                self.null_without_repeats,
            )));
        };
        let Some(ScalarValue::Utf8(Some(text))) = e.downcast_ref::<Literal>().map(|l| l.value()) else {
            return plan_err!("{}: time_unit must be a constant: day, week or month", k.fit_function);
        };
        let (given, is_default) = match text.strip_suffix(SESSION_DEFAULT) {
            Some(unit) => (crate::config::parse_time_unit(unit)?, true),
            None => (crate::config::parse_time_unit(text)?, false),
        };
        // The unit btyd_summary wrote on its time columns wins over the session default and must
        // agree with an explicit argument: a month-based summary is never fitted as weeks.
        let input_unit = input_time_unit(k, &args.expr_fields[1..3])?;
        let unit = match input_unit {
            Some((column_unit, _)) if is_default || column_unit == given => column_unit,
            Some((column_unit, column)) => {
                return plan_err!(
                    "{}: {column} is in {}s (the time unit btyd_summary wrote on it), but time_unit = '{}'; \
                     pass '{}' or leave time_unit out",
                    k.fit_function,
                    column_unit.name(),
                    given.name(),
                    column_unit.name()
                );
            }
            None => given,
        };
        Ok(Box::new(FitAccumulator::new(
            k,
            Some(unit),
            penalizer,
            self.null_without_repeats,
        )))
    }

    /// Fills a missing weight (1), time unit (the session's `clv.btyd.time_unit`, marked as the
    /// default) and penalizer (the session's `clv.fit.penalizer`).
    fn simplify(&self) -> Option<AggregateFunctionSimplification> {
        let kind = self.kind;
        Some(Box::new(move |f: AggregateFunction, info| {
            let n = kind.inputs.len();
            let full = n + 2 + usize::from(kind.time_unit);
            let mut f = f;
            if f.params.args.len() < full {
                let o = ClvOptions::from_session_config(info.config_options());
                if f.params.args.len() == n {
                    f.params.args.push(lit(1.0));
                }
                if kind.time_unit && f.params.args.len() == n + 1 {
                    // Marked as the session default: the unit of the input columns, when they
                    // carry one, takes its place.
                    f.params
                        .args
                        .push(lit(format!("{} {SESSION_DEFAULT}", o.btyd_time_unit.name())));
                }
                f.params.args.push(lit(o.fit_penalizer));
            }
            Ok(Expr::AggregateFunction(f))
        }))
    }
}

/// Marks a time unit that `simplify` took from the session rather than from the call.
const SESSION_DEFAULT: &str = "(clv.btyd.time_unit)";

/// The time unit the `t_x` and `t` input fields carry in their metadata (see
/// [`TIME_UNIT_METADATA`]), with the column that has it; an error when the two disagree.
fn input_time_unit(kind: &ModelSpec, fields: &[FieldRef]) -> Result<Option<(TimeUnit, &'static str)>> {
    let mut found: Option<(TimeUnit, &'static str)> = None;
    for (field, column) in fields.iter().zip(kind.inputs[1..].iter().map(|i| i.name)) {
        let Some(text) = field.metadata().get(TIME_UNIT_METADATA) else {
            continue;
        };
        let unit = crate::config::parse_time_unit(text)?;
        match found {
            Some((other, other_column)) if other != unit => {
                return plan_err!(
                    "{}: {other_column} is in {}s but {column} is in {}s; use one btyd_summary for both",
                    kind.fit_function,
                    other.name(),
                    unit.name()
                );
            }
            Some(_) => {}
            None => found = Some((unit, column)),
        }
    }
    Ok(found)
}

/// The most inputs a fit aggregate takes.
const MAX_INPUTS: usize = 3;

/// Row keys are the bit patterns of the inputs (-0.0 folded into 0.0).
type Key = [u64; MAX_INPUTS];

#[derive(Debug)]
struct FitAccumulator {
    kind: &'static ModelSpec,
    rows: HashMap<Key, f64>,
    skipped: i64,
    time_unit: Option<TimeUnit>,
    penalizer: f64,
    null_without_repeats: bool,
}

fn key_bits(v: f64) -> u64 {
    (v + 0.0).to_bits()
}

impl FitAccumulator {
    fn new(kind: &'static ModelSpec, time_unit: Option<TimeUnit>, penalizer: f64, null_without_repeats: bool) -> Self {
        Self {
            kind,
            rows: HashMap::new(),
            skipped: 0,
            time_unit,
            penalizer,
            null_without_repeats,
        }
    }

    fn add(&mut self, key: Key, w: f64) {
        *self.rows.entry(key).or_insert(0.0) += w;
    }

    fn columns(&self) -> (Vec<[f64; MAX_INPUTS]>, Vec<f64>) {
        // Sorted, so the fit sees the same rows in the same order whatever the partitioning.
        let mut rows: Vec<(Key, f64)> = self.rows.iter().map(|(k, w)| (*k, *w)).collect();
        rows.sort_by_key(|r| r.0);
        let keys = rows.iter().map(|(k, _)| k.map(f64::from_bits)).collect();
        (keys, rows.iter().map(|r| r.1).collect())
    }
}

/// A model error of the fit `kind`, naming an offending row by its input values (`keys`, in
/// the order the fit received them).
fn model_err(kind: &ModelSpec, keys: &[[f64; MAX_INPUTS]], e: ModelError) -> datafusion::error::DataFusionError {
    crate::error::ClvError::from_model(kind.fit_function, &e, |row| {
        kind.inputs
            .iter()
            .zip(keys.get(row).copied().unwrap_or_default())
            .map(|(input, v)| format!("{} = {v}", input.name))
            .collect::<Vec<_>>()
            .join(", ")
    })
    .into()
}

impl Accumulator for FitAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let n = self.kind.inputs.len();
        let len = values[0].len();
        let weight = values.get(n).map(|w| w.as_primitive::<Float64Type>());
        for i in 0..len {
            if values[..n].iter().any(|v| v.is_null(i)) || weight.is_some_and(|w| w.is_null(i)) {
                self.skipped += 1;
                continue;
            }
            let mut key = [0u64; MAX_INPUTS];
            for (k, v) in values[..n].iter().enumerate() {
                key[k] = match v.data_type() {
                    DataType::Boolean => key_bits(f64::from(u8::from(v.as_boolean().value(i)))),
                    _ => key_bits(v.as_primitive::<Float64Type>().value(i)),
                };
            }
            self.add(key, weight.map_or(1.0, |w| w.value(i)));
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let k = self.kind;
        let (keys, weights) = self.columns();
        // Gamma-Gamma needs two repeat buyers, the transaction models one.
        let needed = if k.kind == ModelKind::GammaGamma { 2 } else { 1 };
        if self.null_without_repeats && keys.iter().filter(|r| r[0] > 0.0).count() < needed {
            return ScalarValue::try_from(DataType::Struct(result_fields(k)));
        }
        let data = FitData {
            columns: (0..k.inputs.len())
                .map(|j| keys.iter().map(|r| r[j]).collect())
                .collect(),
            weights,
            time_unit: self.time_unit.unwrap_or(TimeUnit::Week),
        };
        let unit = data.time_unit;
        let diagnostics = k.diagnostics_of(&data);
        // Convergence is reported, not required.
        let options = FitOptions {
            penalizer: self.penalizer,
            require_convergence: false,
            ..FitOptions::default()
        };
        let m = k.fit(data, &options).map_err(|e| model_err(k, &keys, e))?;
        let report = m.fit_summary();
        let ll = report.as_ref().map_or(f64::NAN, |r| r.log_likelihood);
        if !ll.is_finite() {
            return exec_err!("{}: the fit returned no finite log-likelihood", k.fit_function);
        }
        let json = m
            .to_json()
            .map_err(|er| datafusion::error::DataFusionError::Execution(er.to_string()))?;
        let se = report.as_ref().and_then(|r| r.standard_errors.clone());
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(StringArray::from(vec![k.name()]))];
        arrays.extend(
            m.params()
                .iter()
                .map(|p| Arc::new(Float64Array::from(vec![*p])) as ArrayRef),
        );
        arrays.push(Arc::new(Float64Array::from(vec![ll])));
        arrays.push(Arc::new(Int64Array::from(vec![
            report.as_ref().map_or(0, |r| r.iterations) as i64,
        ])));
        arrays.push(Arc::new(BooleanArray::from(vec![
            report.as_ref().is_some_and(|r| r.converged),
        ])));
        arrays.push(Arc::new(Float64Array::from(vec![
            report.as_ref().map_or(0.0, |r| r.n_customers),
        ])));
        arrays.push(Arc::new(StringArray::from(vec![k.time_unit.then(|| unit.name())])));
        arrays.push(Arc::new(Int64Array::from(vec![self.skipped])));
        arrays.extend(
            (0..k.params.len()).map(|i| Arc::new(Float64Array::from(vec![se.as_ref().map(|s| s[i])])) as ArrayRef),
        );
        arrays.extend(
            diagnostics
                .iter()
                .map(|d| Arc::new(Float64Array::from(vec![*d])) as ArrayRef),
        );
        arrays.extend(
            m.checks()
                .into_iter()
                .map(|c| Arc::new(BooleanArray::from(vec![c])) as ArrayRef),
        );
        arrays.push(Arc::new(StringArray::from(vec![json])));
        Ok(ScalarValue::Struct(Arc::new(StructArray::try_new(
            result_fields(k),
            arrays,
            None,
        )?)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.rows.capacity() * (std::mem::size_of::<Key>() + 16)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let n = self.kind.inputs.len();
        let (keys, w) = self.columns();
        let list = |v: Vec<f64>| {
            ScalarValue::List(Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>([Some(
                v.into_iter().map(Some),
            )])))
        };
        let mut out: Vec<ScalarValue> = (0..n).map(|j| list(keys.iter().map(|r| r[j]).collect())).collect();
        out.push(list(w));
        out.push(ScalarValue::Int64(Some(self.skipped)));
        Ok(out)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let n = self.kind.inputs.len();
        let lists: Vec<&ListArray> = states[..=n].iter().map(|s| s.as_list::<i32>()).collect();
        let skipped = states[n + 1].as_primitive::<Int64Type>();
        for row in 0..states[0].len() {
            if lists[0].is_null(row) {
                continue;
            }
            let cols: Vec<ArrayRef> = lists.iter().map(|l| l.value(row)).collect();
            let cols: Vec<&Float64Array> = cols.iter().map(|c| c.as_primitive::<Float64Type>()).collect();
            for i in 0..cols[0].len() {
                let mut key = [0u64; MAX_INPUTS];
                for j in 0..n {
                    key[j] = key_bits(cols[j].value(i));
                }
                self.add(key, cols[n].value(i));
            }
            if skipped.is_valid(row) {
                self.skipped += skipped.value(row);
            }
        }
        Ok(())
    }
}
