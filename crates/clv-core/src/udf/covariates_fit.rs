//! `bgnbd_covariates_fit(x, t_x, t, purchase, dropout [, 'name=value' ...])` and
//! `pareto_nbd_covariates_fit(...)`: BG/NBD and Pareto/NBD with static covariates.
//!
//! Fader & Hardie (2007), "Incorporating time-invariant covariates into the Pareto/NBD and
//! BG/NBD models": `purchase` and `dropout` are structs of numeric covariates
//! (`named_struct('web', web, 'female', female)`, or `NULL` for none), passed after the summary
//! columns. The purchase covariates scale the purchase rate, `α_i = α₀·exp(−γ₁ᵀz)` (a positive
//! coefficient means more purchases); the dropout covariates scale `β_i = β₀·exp(−γ₂ᵀz)`
//! (Pareto/NBD: positive means earlier dropout) or `a_i = a₀·exp(γ_aᵀz)`, `b_i = b₀·exp(γ_bᵀz)`
//! (BG/NBD). Maximum likelihood with analytic gradients ([`crate::ltv::covariates`]); options
//! `time_unit`, `penalizer` as for the other fits.
//!
//! The result struct: `model` (the base model, a customer whose covariates are all 0, as the
//! prediction functions read it), `coefficients` (one row per coefficient: `covariate`,
//! `parameter` (`alpha`, `a`, `b` or `beta`), `estimate`, `std_error`, `z`, `p_value` — the
//! Wald test; standard errors null when the Hessian is not positive definite, e.g. a constant
//! or collinear covariate), `log_likelihood`, `converged`, `iterations`, `customers`, and the
//! likelihood-ratio test against the same model without covariates fitted on the same
//! customers (`log_likelihood_without`, `lr_statistic`, `lr_df`, `lr_p_value`).
//! `customer_model(fit, purchase, dropout)` gives each customer's own model for the prediction
//! functions.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::{AccumulatorArgs, AggregateFunctionSimplification, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Expr, Signature, Volatility,
};

use super::ltv_args::{
    LtvArgs, documented, fit_transactions, is_text, list_of_rows, list_type, session_defaults, struct_row,
    transaction_model_fields, transaction_model_row,
};
use crate::common::doc::{AGGREGATE, doc};
use crate::config::ClvOptions;
use crate::ltv::covariates::{BgNbdCovariates, Coefficient, CovariateFitReport, Covariates, ParetoNbdCovariates};
use crate::ltv::model::Params;
use crate::ltv::{ModelError, ModelKind, TimeUnit, TransactionSummary};

const ACCEPTED: &[&str] = &["time_unit", "penalizer"];

/// A covariate-fitting aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CovariatesFit {
    kind: ModelKind,
    signature: Signature,
}

impl CovariatesFit {
    fn new(kind: ModelKind) -> Self {
        Self {
            kind,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    fn function_name(&self) -> &'static str {
        match self.kind {
            ModelKind::ParetoNbd => "pareto_nbd_covariates_fit",
            _ => "bgnbd_covariates_fit",
        }
    }
}

/// `bgnbd_covariates_fit` and `pareto_nbd_covariates_fit`.
pub fn covariates_fit_udafs() -> Vec<Arc<AggregateUDF>> {
    static UDAFS: LazyLock<Vec<Arc<AggregateUDF>>> = LazyLock::new(|| {
        [ModelKind::BgNbd, ModelKind::ParetoNbd]
            .into_iter()
            .map(|k| Arc::new(AggregateUDF::from(CovariatesFit::new(k))))
            .collect()
    });
    UDAFS.clone()
}

/// The rows of `coefficients`.
pub fn coefficient_fields() -> Fields {
    vec![
        Field::new("covariate", DataType::Utf8, false),
        Field::new("parameter", DataType::Utf8, false),
        Field::new("estimate", DataType::Float64, false),
        Field::new("std_error", DataType::Float64, true),
        Field::new("z", DataType::Float64, true),
        Field::new("p_value", DataType::Float64, true),
    ]
    .into()
}

/// The result struct's fields.
pub fn result_fields() -> Fields {
    let f = |n: &str, null: bool| Field::new(n, DataType::Float64, null);
    vec![
        Field::new("model", DataType::Struct(transaction_model_fields()), false),
        Field::new("coefficients", list_type(&coefficient_fields()), false),
        f("log_likelihood", false),
        Field::new("converged", DataType::Boolean, false),
        Field::new("iterations", DataType::Int64, false),
        f("customers", false),
        Field::new("skipped_rows", DataType::Int64, false),
        f("log_likelihood_without", true),
        f("lr_statistic", true),
        Field::new("lr_df", DataType::Int64, true),
        f("lr_p_value", true),
        Field::new("json", DataType::Utf8, false),
    ]
    .into()
}

/// The covariate names of a struct argument (none for `NULL`).
fn covariate_names(t: &DataType) -> Vec<String> {
    match t {
        DataType::Struct(fields) => fields.iter().map(|f| f.name().clone()).collect(),
        _ => vec![],
    }
}

fn check_covariates(function: &str, what: &str, t: &DataType) -> Result<()> {
    match t {
        DataType::Null => Ok(()),
        DataType::Struct(fields) => {
            for f in fields {
                if !(f.data_type().is_numeric() || f.data_type().is_null()) {
                    return plan_err!(
                        "{function}: {what} covariate '{}' must be numeric, got {} (encode categories as 0/1 columns)",
                        f.name(),
                        f.data_type()
                    );
                }
            }
            Ok(())
        }
        other => plan_err!(
            "{function}: {what} covariates must be a struct of numeric columns, e.g. named_struct('web', web), or NULL; got {other}"
        ),
    }
}

/// The values of a covariate struct column as `f64` columns (`None` for a null struct row or
/// value, reported by the caller).
pub fn covariate_columns(array: &ArrayRef) -> Result<Vec<ArrayRef>> {
    match array.data_type() {
        DataType::Struct(_) => array
            .as_struct()
            .columns()
            .iter()
            .map(|c| Ok(datafusion::arrow::compute::cast(c, &DataType::Float64)?))
            .collect(),
        _ => Ok(vec![]),
    }
}

impl AggregateUDFImpl for CovariatesFit {
    fn name(&self) -> &str {
        self.function_name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let name = self.function_name();
        if arg_types.len() < 5 {
            return plan_err!(
                "{name} takes (x, t_x, t, purchase, dropout [, 'name=value' ...]), got {} arguments",
                arg_types.len()
            );
        }
        let mut out = vec![];
        for (t, n) in arg_types[..3].iter().zip(["x", "t_x", "t"]) {
            if !(t.is_numeric() || t.is_null()) {
                return plan_err!("{name}: {n} must be numeric, got {t}");
            }
            out.push(DataType::Float64);
        }
        check_covariates(name, "purchase", &arg_types[3])?;
        check_covariates(name, "dropout", &arg_types[4])?;
        out.push(arg_types[3].clone());
        out.push(arg_types[4].clone());
        for t in &arg_types[5..] {
            if !is_text(t) {
                return plan_err!("{name}: options must be text 'name=value', got {t}");
            }
            out.push(DataType::Utf8);
        }
        Ok(out)
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(result_fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)));
        Ok(vec![
            Arc::new(Field::new(format_state_name(args.name, "values"), list.clone(), true)),
            Arc::new(Field::new(format_state_name(args.name, "w"), list, true)),
            Arc::new(Field::new(
                format_state_name(args.name, "skipped"),
                DataType::Int64,
                true,
            )),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let name = self.function_name();
        let options = LtvArgs::from_physical(name, ACCEPTED, &args.exprs[5.min(args.exprs.len())..])?;
        let unit = options.resolve_time_unit(name, &[&args.expr_fields[1], &args.expr_fields[2]])?;
        let purchase = covariate_names(args.expr_fields[3].data_type());
        let dropout = covariate_names(args.expr_fields[4].data_type());
        Ok(Box::new(CovariatesAccumulator {
            name,
            kind: self.kind,
            options,
            unit,
            width: 3 + purchase.len() + dropout.len(),
            purchase,
            dropout,
            rows: std::collections::HashMap::new(),
            skipped: 0,
        }))
    }

    /// Fills the session's time unit and penalizer when the call does not give them.
    fn simplify(&self) -> Option<AggregateFunctionSimplification> {
        Some(Box::new(|f: AggregateFunction, info| {
            let options = ClvOptions::from_session_config(info.config_options());
            let mut f = f;
            if !f
                .params
                .args
                .iter()
                .any(|a| matches!(a, Expr::Literal(v, _) if v.to_string().starts_with("session.")))
            {
                f.params
                    .args
                    .extend(session_defaults(&options, &["time_unit", "penalizer"]));
            }
            Ok(Expr::AggregateFunction(f))
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOCS: LazyLock<[Documentation; 2]> = LazyLock::new(|| {
            [ModelKind::BgNbd, ModelKind::ParetoNbd].map(|k| {
                let f = CovariatesFit::new(k);
                let mut args = vec![
                    ("x, t_x, t", "repeat purchases, recency and age (btyd_summary columns)"),
                    ("purchase", "struct of numeric covariates on the purchase rate, or NULL"),
                    ("dropout", "struct of numeric covariates on the dropout process, or NULL"),
                ];
                args.extend(documented(ACCEPTED));
                doc(
                    AGGREGATE,
                    "Fits the model with static covariates (Fader & Hardie 2007): coefficients with standard errors, Wald tests and the likelihood-ratio test against the model without covariates.",
                    &format!("{}(x, t_x, t, purchase, dropout [, 'name=value' ...])", f.function_name()),
                    &args,
                )
            })
        });
        Some(&DOCS[usize::from(self.kind == ModelKind::ParetoNbd)])
    }
}

#[derive(Debug)]
struct CovariatesAccumulator {
    name: &'static str,
    kind: ModelKind,
    options: LtvArgs,
    unit: TimeUnit,
    purchase: Vec<String>,
    dropout: Vec<String>,
    /// Values per row: `x, t_x, t`, the purchase then the dropout covariates.
    width: usize,
    /// Distinct rows (bits of the values) with their weights.
    rows: std::collections::HashMap<Vec<u64>, f64>,
    skipped: i64,
}

impl CovariatesAccumulator {
    fn err(&self, e: ModelError) -> datafusion::error::DataFusionError {
        datafusion::error::DataFusionError::Execution(format!("{}: {e}", self.name))
    }
}

fn coefficient_rows(c: &[Coefficient]) -> Vec<Vec<ScalarValue>> {
    c.iter()
        .map(|c| {
            vec![
                ScalarValue::from(c.covariate.as_str()),
                ScalarValue::from(c.parameter),
                ScalarValue::from(c.estimate),
                ScalarValue::Float64(c.std_error),
                ScalarValue::Float64(c.z),
                ScalarValue::Float64(c.p_value),
            ]
        })
        .collect()
}

impl Accumulator for CovariatesAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let mut cols: Vec<ArrayRef> = values[..3].to_vec();
        cols.extend(covariate_columns(&values[3])?);
        cols.extend(covariate_columns(&values[4])?);
        let cols: Vec<_> = cols.iter().map(|c| c.as_primitive::<Float64Type>()).collect();
        for i in 0..values[0].len() {
            let null_struct = values[3..5]
                .iter()
                .any(|v| matches!(v.data_type(), DataType::Struct(_)) && v.is_null(i));
            if null_struct || cols.iter().any(|c| c.is_null(i)) {
                self.skipped += 1;
                continue;
            }
            let key: Vec<u64> = cols.iter().map(|c| (c.value(i) + 0.0).to_bits()).collect();
            *self.rows.entry(key).or_insert(0.0) += 1.0;
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let mut rows: Vec<(&Vec<u64>, f64)> = self.rows.iter().map(|(k, w)| (k, *w)).collect();
        rows.sort_by(|a, b| a.0.cmp(b.0));
        if rows.is_empty() {
            return exec_err!(
                "{}: no customers (every row had a null input or the input was empty)",
                self.name
            );
        }
        let col = |j: usize| rows.iter().map(|r| f64::from_bits(r.0[j])).collect::<Vec<f64>>();
        let n = rows.len();
        let data = TransactionSummary::new(col(0), col(1), col(2), self.unit)
            .and_then(|d| d.with_weights(rows.iter().map(|r| r.1).collect()))
            .map_err(|e| self.err(e))?;
        let (k1, k2) = (self.purchase.len(), self.dropout.len());
        let purchase =
            Covariates::new(self.purchase.clone(), (3..3 + k1).map(col).collect(), n).map_err(|e| self.err(e))?;
        let dropout = Covariates::new(self.dropout.clone(), (3 + k1..3 + k1 + k2).map(col).collect(), n)
            .map_err(|e| self.err(e))?;
        let p = self.options.penalizer;
        let without = fit_transactions(self.kind, p, &data)
            .ok()
            .and_then(|m| m.log_likelihood());
        let (model, coefficients, report, lr, json) = match self.kind {
            ModelKind::ParetoNbd => {
                let m = ParetoNbdCovariates::new()
                    .penalizer(p)
                    .require_convergence(false)
                    .fit(&data, &purchase, &dropout)
                    .map_err(|e| self.err(e))?;
                let q = m.params();
                (
                    transaction_model_row(ModelKind::ParetoNbd, names_of(&q), &q.values(), self.unit)?,
                    m.coefficients(),
                    m.fit_report().cloned(),
                    without.and_then(|w| m.likelihood_ratio_test(w).ok()),
                    serde_json::to_string(&m),
                )
            }
            _ => {
                let m = BgNbdCovariates::new()
                    .penalizer(p)
                    .require_convergence(false)
                    .fit(&data, &purchase, &dropout)
                    .map_err(|e| self.err(e))?;
                let q = m.params();
                (
                    transaction_model_row(ModelKind::BgNbd, names_of(&q), &q.values(), self.unit)?,
                    m.coefficients(),
                    m.fit_report().cloned(),
                    without.and_then(|w| m.likelihood_ratio_test(w).ok()),
                    serde_json::to_string(&m),
                )
            }
        };
        let report: CovariateFitReport = report.ok_or_else(|| {
            datafusion::error::DataFusionError::Execution(format!("{}: the fit returned no report", self.name))
        })?;
        let json = json.map_err(|e| datafusion::error::DataFusionError::Execution(format!("{}: {e}", self.name)))?;
        let df = coefficients.len() as i64;
        struct_row(
            &result_fields(),
            vec![
                model,
                list_of_rows(&coefficient_fields(), coefficient_rows(&coefficients))?,
                ScalarValue::from(report.log_likelihood),
                ScalarValue::from(report.converged),
                ScalarValue::Int64(Some(report.iterations as i64)),
                ScalarValue::from(report.n_customers),
                ScalarValue::Int64(Some(self.skipped)),
                ScalarValue::Float64(without),
                ScalarValue::Float64(lr.map(|t| t.statistic)),
                ScalarValue::Int64(lr.map(|_| df)),
                ScalarValue::Float64(lr.map(|t| t.p_value)),
                ScalarValue::from(json),
            ],
        )
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.rows.len() * (self.width * 8 + 40)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let mut rows: Vec<(&Vec<u64>, f64)> = self.rows.iter().map(|(k, w)| (k, *w)).collect();
        rows.sort_by(|a, b| a.0.cmp(b.0));
        let list = |v: Vec<f64>| {
            ScalarValue::List(Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>([Some(
                v.into_iter().map(Some),
            )])))
        };
        Ok(vec![
            list(
                rows.iter()
                    .flat_map(|r| r.0.iter().map(|b| f64::from_bits(*b)))
                    .collect(),
            ),
            list(rows.iter().map(|r| r.1).collect()),
            ScalarValue::Int64(Some(self.skipped)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (values, weights) = (states[0].as_list::<i32>(), states[1].as_list::<i32>());
        let skipped = states[2].as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        for row in 0..states[0].len() {
            if skipped.is_valid(row) {
                self.skipped += skipped.value(row);
            }
            if values.is_null(row) {
                continue;
            }
            let (v, w) = (values.value(row), weights.value(row));
            let (v, w) = (v.as_primitive::<Float64Type>(), w.as_primitive::<Float64Type>());
            for (i, chunk) in v.values().chunks(self.width).enumerate() {
                let key: Vec<u64> = chunk.iter().map(|x| (x + 0.0).to_bits()).collect();
                *self.rows.entry(key).or_insert(0.0) += w.value(i);
            }
        }
        Ok(())
    }
}

/// The parameter names of a model's parameter struct (as the model registry lists them).
fn names_of<P: Params>(_: &P) -> &'static [&'static str] {
    P::NAMES
}
