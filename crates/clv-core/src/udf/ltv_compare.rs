//! `ltv_compare(x, t_x, t [, x_holdout, t_holdout] [, 'name=value' ...])`: fits the candidate
//! transaction models on the calibration period, judges them on the holdout, and chooses one.
//!
//! An aggregate over one row per customer (`btyd_summary` output with a holdout). Each of
//! `models` (default `bg_nbd,pareto_nbd,mbg_nbd`) is fitted with each of `penalizers`
//! (default: the `penalizer`, itself `clv.fit.penalizer`) on `(x, t_x, t)`; each predicts every
//! customer's purchases over the holdout (`t_holdout`, the same for every customer) by the
//! conditional expectation, and is compared with `x_holdout` ([`crate::ltv::holdout`]). The
//! result is one struct:
//!
//! * `chosen` — the chosen model as the prediction functions read it (`model`, its parameters,
//!   `time_unit`): the lowest holdout RMSE per customer when there is a holdout, else the lowest
//!   BIC; `rule` (`holdout_rmse` or `bic`) and `reason` (one sentence: the chosen value and the
//!   runner-up's) say why; `json` is the chosen model's serialized form (as the `*_fit`
//!   aggregates' `json` field: the file `clv fit --model auto` writes);
//! * `candidates` — one row per fit: `model`, `penalizer`, `converged`, `log_likelihood`,
//!   `parameters` (k), `aic`, `bic`, the holdout measures `mae`, `rmse`, `bias` (mean of predicted
//!   − actual), `correlation`, `total_predicted`, `total_actual`, `total_error`, `chosen`,
//!   `error` (a fit that failed: its message, the other columns null); then the naive baseline
//!   `naive_rate` (each customer keeps their calibration rate `x / t`) on the same holdout.
//!
//! Sums are exact, so the choice does not depend on the order or partitioning of the rows.

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
    LtvArgs, documented, is_text, list_of_rows, list_type, session_defaults, struct_row, transaction_model_fields,
    transaction_model_row, with_candidate,
};
use crate::common::doc::{AGGREGATE, doc};
use crate::config::ClvOptions;
use crate::ltv::bootstrap::ModelParameters;
use crate::ltv::holdout::{Comparison, Holdout, HoldoutAccuracy, SelectionRule, compare_models};
use crate::ltv::{ModelError, TimeUnit, TransactionSummary};

const NAME: &str = "ltv_compare";
const ACCEPTED: &[&str] = &["models", "penalizers", "penalizer", "time_unit"];

/// The `ltv_compare` aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LtvCompare {
    signature: Signature,
}

impl Default for LtvCompare {
    fn default() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

static UDAF: LazyLock<Arc<AggregateUDF>> = LazyLock::new(|| Arc::new(AggregateUDF::from(LtvCompare::default())));

/// The shared `ltv_compare` UDAF.
pub fn ltv_compare_udaf() -> Arc<AggregateUDF> {
    Arc::clone(&UDAF)
}

/// The columns of a candidate row.
pub fn candidate_fields() -> Fields {
    let f = |n: &str| Field::new(n, DataType::Float64, true);
    vec![
        Field::new("model", DataType::Utf8, false),
        f("penalizer"),
        Field::new("converged", DataType::Boolean, true),
        f("log_likelihood"),
        Field::new("parameters", DataType::Int64, true),
        f("aic"),
        f("bic"),
        f("mae"),
        f("rmse"),
        f("bias"),
        f("correlation"),
        f("total_predicted"),
        f("total_actual"),
        f("total_error"),
        Field::new("chosen", DataType::Boolean, false),
        Field::new("error", DataType::Utf8, true),
    ]
    .into()
}

/// The result struct's fields.
pub fn result_fields() -> Fields {
    vec![
        Field::new("chosen", DataType::Struct(transaction_model_fields()), false),
        Field::new("rule", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("candidates", list_type(&candidate_fields()), false),
        Field::new("json", DataType::Utf8, false),
    ]
    .into()
}

fn usage() -> String {
    format!("{NAME}(x, t_x, t [, x_holdout, t_holdout] [, 'name=value' ...])")
}

/// Whether the call has the holdout columns.
fn has_holdout(types: &[DataType]) -> bool {
    types.len() >= 5 && !is_text(&types[3]) && !is_text(&types[4])
}

impl AggregateUDFImpl for LtvCompare {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() < 3 {
            return plan_err!("{NAME} takes {}, got {} arguments", usage(), arg_types.len());
        }
        let numeric = if has_holdout(arg_types) { 5 } else { 3 };
        let names = ["x", "t_x", "t", "x_holdout", "t_holdout"];
        let mut out = vec![];
        for (i, t) in arg_types.iter().enumerate() {
            if i < numeric {
                if !(t.is_numeric() || t.is_null()) {
                    return plan_err!("{NAME}: {} must be numeric, got {t}", names[i]);
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
        let list = DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)));
        Ok(["x", "t_x", "t", "x_holdout", "t_holdout", "w"]
            .iter()
            .map(|n| Arc::new(Field::new(format_state_name(args.name, n), list.clone(), true)))
            .collect())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let types: Vec<DataType> = args.expr_fields.iter().map(|f| f.data_type().clone()).collect();
        let holdout = has_holdout(&types);
        let first_option = if holdout { 5 } else { 3 };
        let options = LtvArgs::from_physical(NAME, ACCEPTED, &args.exprs[first_option.min(args.exprs.len())..])?;
        let unit = options.resolve_time_unit(NAME, &[&args.expr_fields[1], &args.expr_fields[2]])?;
        Ok(Box::new(CompareAccumulator {
            options,
            unit,
            holdout,
            rows: std::collections::HashMap::new(),
        }))
    }

    /// Fills the session's time unit and penalizer when the call does not give them.
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
                f.params
                    .args
                    .extend(session_defaults(&options, &["time_unit", "penalizer"]));
            }
            Ok(Expr::AggregateFunction(f))
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            let mut args = vec![
                (
                    "x, t_x, t",
                    "calibration repeat purchases, recency and age (btyd_summary columns)",
                ),
                (
                    "x_holdout, t_holdout",
                    "optional: purchases in the holdout and its length (btyd_summary with holdout_end)",
                ),
            ];
            args.extend(documented(ACCEPTED));
            doc(
                AGGREGATE,
                "Fits BG/NBD, Pareto/NBD and MBG/NBD (and a penalizer grid) on the calibration period, measures each on the holdout (MAE, RMSE, bias, correlation, total error) with log-likelihood, AIC and BIC, beside the naive baseline, and chooses one: lowest holdout RMSE, else lowest BIC.",
                &usage(),
                &args,
            )
        });
        Some(&DOC)
    }
}

/// Row key: the bits of `(x, t_x, t, x_holdout, t_holdout)`.
type Key = [u64; 5];

#[derive(Debug)]
struct CompareAccumulator {
    options: LtvArgs,
    unit: TimeUnit,
    holdout: bool,
    rows: std::collections::HashMap<Key, f64>,
}

fn model_err(e: ModelError) -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::Execution(format!("{NAME}: {e}"))
}

impl Accumulator for CompareAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let n = if self.holdout { 5 } else { 3 };
        let cols: Vec<_> = values[..n].iter().map(|v| v.as_primitive::<Float64Type>()).collect();
        for i in 0..values[0].len() {
            if cols.iter().any(|c| c.is_null(i)) {
                continue;
            }
            let mut key = [0u64; 5];
            for (k, c) in cols.iter().enumerate() {
                key[k] = (c.value(i) + 0.0).to_bits();
            }
            *self.rows.entry(key).or_insert(0.0) += 1.0;
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let mut rows: Vec<(Key, f64)> = self.rows.iter().map(|(k, w)| (*k, *w)).collect();
        rows.sort_by_key(|a| a.0);
        if rows.is_empty() {
            return exec_err!("{NAME}: no customers (every row had a null input or the input was empty)");
        }
        let col = |j: usize| rows.iter().map(|r| f64::from_bits(r.0[j])).collect::<Vec<f64>>();
        let data = TransactionSummary::new(col(0), col(1), col(2), self.unit)
            .and_then(|d| d.with_weights(rows.iter().map(|r| r.1).collect()))
            .map_err(model_err)?;
        let actual = col(3);
        let lengths = col(4);
        let holdout = if self.holdout {
            let length = lengths[0];
            if lengths.iter().any(|&l| l != length) {
                return exec_err!(
                    "{NAME}: t_holdout differs between customers ({length} and others); the holdout is one period after the calibration end"
                );
            }
            if !(length.is_finite() && length > 0.0) {
                return exec_err!("{NAME}: t_holdout must be > 0, got {length}");
            }
            Some(Holdout {
                actual: &actual,
                length,
                unit: self.unit,
            })
        } else {
            None
        };
        let penalizers = self.options.penalizers.clone().unwrap_or(vec![self.options.penalizer]);
        let comparison = compare_models(&data, &self.options.models, &penalizers, holdout).map_err(model_err)?;
        comparison_struct(&comparison)
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.rows.capacity() * (std::mem::size_of::<Key>() + 16)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let mut rows: Vec<(Key, f64)> = self.rows.iter().map(|(k, w)| (*k, *w)).collect();
        rows.sort_by_key(|a| a.0);
        let list = |v: Vec<f64>| {
            ScalarValue::List(Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>([Some(
                v.into_iter().map(Some),
            )])))
        };
        let mut out: Vec<ScalarValue> = (0..5)
            .map(|j| list(rows.iter().map(|r| f64::from_bits(r.0[j])).collect()))
            .collect();
        out.push(list(rows.iter().map(|r| r.1).collect()));
        Ok(out)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists: Vec<&ListArray> = states.iter().map(|s| s.as_list::<i32>()).collect();
        for row in 0..states[0].len() {
            if lists[0].is_null(row) {
                continue;
            }
            let cols: Vec<ArrayRef> = lists.iter().map(|l| l.value(row)).collect();
            let cols: Vec<_> = cols.iter().map(|c| c.as_primitive::<Float64Type>()).collect();
            for i in 0..cols[0].len() {
                let mut key = [0u64; 5];
                for (k, c) in cols[..5].iter().enumerate() {
                    key[k] = (c.value(i) + 0.0).to_bits();
                }
                *self.rows.entry(key).or_insert(0.0) += cols[5].value(i);
            }
        }
        Ok(())
    }
}

fn accuracy_values(h: Option<&HoldoutAccuracy>) -> Vec<ScalarValue> {
    vec![
        ScalarValue::Float64(h.map(|h| h.mae)),
        ScalarValue::Float64(h.map(|h| h.rmse)),
        ScalarValue::Float64(h.map(|h| h.bias)),
        ScalarValue::Float64(h.and_then(|h| h.correlation)),
        ScalarValue::Float64(h.map(|h| h.total_predicted)),
        ScalarValue::Float64(h.map(|h| h.total_actual)),
        ScalarValue::Float64(h.map(|h| h.total_error)),
    ]
}

/// The result struct of a comparison.
pub fn comparison_struct(c: &Comparison) -> Result<ScalarValue> {
    let Some(selection) = &c.selection else {
        let errors: Vec<String> = c
            .failed
            .iter()
            .map(|f| format!("{} (penalizer {}): {}", f.kind, f.penalizer, f.error))
            .collect();
        return exec_err!("{NAME}: every candidate fit failed: {}", errors.join("; "));
    };
    let mut rows = vec![];
    for (i, cand) in c.candidates.iter().enumerate() {
        let converged = with_candidate!(&cand.model, m => m.fit_report().is_some_and(|r| r.converged));
        let mut row = vec![
            ScalarValue::from(cand.kind.name()),
            ScalarValue::from(cand.penalizer),
            ScalarValue::from(converged),
            ScalarValue::from(cand.criteria.log_likelihood),
            ScalarValue::Int64(Some(cand.criteria.parameters as i64)),
            ScalarValue::from(cand.criteria.aic),
            ScalarValue::from(cand.criteria.bic),
        ];
        row.extend(accuracy_values(cand.holdout.as_ref()));
        row.push(ScalarValue::from(i == selection.chosen));
        row.push(ScalarValue::Utf8(None));
        rows.push(row);
    }
    for f in &c.failed {
        let mut row = vec![ScalarValue::from(f.kind.name()), ScalarValue::from(f.penalizer)];
        row.extend(std::iter::repeat_n(ScalarValue::Null, 12));
        row.push(ScalarValue::from(false));
        row.push(ScalarValue::from(f.error.to_string()));
        rows.push(row);
    }
    if let Some(b) = &c.baseline {
        let mut row = vec![ScalarValue::from("naive_rate")];
        row.extend(std::iter::repeat_n(ScalarValue::Null, 6));
        row.extend(accuracy_values(Some(b)));
        row.push(ScalarValue::from(false));
        row.push(ScalarValue::Utf8(None));
        rows.push(row);
    }
    let chosen = &c.candidates[selection.chosen];
    let model = with_candidate!(&chosen.model, m => transaction_model_row(
        m.kind(),
        m.parameter_names(),
        &m.parameter_values(),
        m.time_unit()
    ))?;
    let json = with_candidate!(&chosen.model, m => crate::ltv::FittedModel::to_json(m))
        .map_err(|e| datafusion::error::DataFusionError::Execution(format!("{NAME}: {e}")))?;
    struct_row(
        &result_fields(),
        vec![
            model,
            ScalarValue::from(match selection.rule {
                SelectionRule::HoldoutRmse => "holdout_rmse",
                SelectionRule::Bic => "bic",
            }),
            ScalarValue::from(selection.reason.clone()),
            list_of_rows(&candidate_fields(), rows)?,
            ScalarValue::from(json),
        ],
    )
}
