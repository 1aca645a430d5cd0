//! `churn_evaluate` and `churn_calibration`: every churn score side by side on the same labels.
//!
//! For each cutoff `c` of `churn.cutoffs`, the customers with a known label for the window after
//! `c` (as `churn_labels`: not censored, or censored after a purchase) are scored by
//! ([`SCORES`]):
//!
//! | score | value (higher = more likely to churn) |
//! |---|---|
//! | `churn_model` | the trained model's `churn_probability` (as `churn_risk` at `c`) |
//! | `window_probability` | the transaction model's P(no purchase in the window), fitted at `c` |
//! | `expected_purchases` | −E[purchases in the window] of the same model |
//! | `recency_days` | days since the last purchase |
//! | `rfm_segment` | the churn rate, at the model's training cutoffs, of the customer's RFM segment (the segment's rank by churn; segments not seen in training get the training churn rate) |
//! | `dropout_probability` | 1 − P(alive) of the same model |
//! | `base_rate` | the training churn rate, the same for everyone |
//!
//! and by every numeric column of the `churn.scores` table (joined on `customer_id`, and on
//! `cutoff` when it has one), each evaluated with `churn_metrics`. Every score is computed from
//! the transactions up to `c` only (the model and the segment rates from complete windows that
//! end by `c`), so only the labels read the window after `c`.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{JoinType, Result, ScalarValue, plan_err};
use datafusion::functions::core::expr_fn::get_field;
use datafusion::functions_aggregate::expr_fn::avg;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast, ident, lit, when};

use super::churn::churn_labels_plan;
use super::churn_model::{
    MODEL, SCORED_AT, days_of, label_columns, scored_rows, scoring_cutoffs, training_pairs, training_rows, window_days,
};
use super::rfm::RfmFunctions;
use super::transactions::columns::CUSTOMER;
use crate::churn::cutoffs::format_cutoffs;
use crate::config::ClvOptions;
use crate::udf::churn_metrics::{METRIC_FIELDS, churn_metrics_udaf, decile_fields};

/// The built-in scores: name and description.
pub const SCORES: [(&str, &str); 7] = [
    ("churn_model", "trained model: the default churn_probability"),
    (
        "window_probability",
        "P(no purchase in the window) from transaction model",
    ),
    (
        "expected_purchases",
        "-E[purchases in the window] from transaction model",
    ),
    ("recency_days", "days since the last purchase"),
    (
        "rfm_segment",
        "churn rate of the customer's RFM segment at the training cutoffs",
    ),
    ("dropout_probability", "1 - P(alive) from transaction model"),
    ("base_rate", "training churn rate: the same for everyone"),
];

/// The columns of `churn_evaluate`.
pub const CHURN_EVALUATE_COLUMNS: [&str; 14] = [
    "cutoff",
    "score",
    "description",
    "customers",
    "churned",
    "churn_rate",
    "auc",
    "brier",
    "log_loss",
    "max_decile_gap",
    "lift_10",
    "gain_10",
    "lift_20",
    "gain_20",
];

/// The columns of `churn_calibration`.
pub const CHURN_CALIBRATION_COLUMNS: [&str; 6] =
    ["cutoff", "score", "decile", "customers", "mean_score", "observed_churn"];

const CUTOFF: &str = "cutoff";
const SCORE: &str = "score";
const METRICS: &str = "__clv_metrics";

/// The numeric columns of a `churn.scores` table (every column but `customer_id` and `cutoff`),
/// and whether it has a `cutoff` column.
fn extra_scores(scores: &LogicalPlan) -> Result<(Vec<String>, bool)> {
    let schema = scores.schema();
    if schema.field_with_unqualified_name(CUSTOMER).is_err() {
        return plan_err!("churn_evaluate: the scores table needs a customer_id column");
    }
    let mut names = vec![];
    let mut has_cutoff = false;
    for f in schema.fields() {
        match f.name().as_str() {
            CUSTOMER => {}
            CUTOFF => {
                if !matches!(
                    f.data_type(),
                    DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _)
                ) {
                    return plan_err!(
                        "churn_evaluate: the scores table's cutoff must be a date, got {}",
                        f.data_type()
                    );
                }
                has_cutoff = true;
            }
            name if f.data_type().is_numeric() => {
                if SCORES.iter().any(|(s, _)| *s == name) {
                    return plan_err!(
                        "churn_evaluate: the scores table's column '{name}' has the name of a built-in score; rename it"
                    );
                }
                names.push(name.to_string());
            }
            name => {
                return plan_err!(
                    "churn_evaluate: the scores table's column '{name}' is {}, not a number (a score column must be numeric)",
                    f.data_type()
                );
            }
        }
    }
    Ok((names, has_cutoff))
}

/// One row per cutoff and score: `cutoff`, `score`, `description` and the
/// `churn_metrics` struct `__clv_metrics` (scores without any value are left out).
fn metrics_by_score(
    source: LogicalPlan,
    o: &ClvOptions,
    fns: &RfmFunctions,
    scores: Option<LogicalPlan>,
) -> Result<LogicalPlanBuilder> {
    let cutoffs = scoring_cutoffs(o, "churn_evaluate")?;
    let window = window_days(o)?;
    let pairs = training_pairs(&cutoffs, o)?;
    let scored = scored_rows(source.clone(), o, &cutoffs)?;
    let mut columns: Vec<Expr> = scored.schema().columns().into_iter().map(Expr::Column).collect();
    columns.extend(label_columns(o)?);
    let labelled = LogicalPlanBuilder::from(scored)
        .project(columns)?
        .filter(ident("churned").is_not_null())?;

    // RFM segments at the scoring and training cutoffs, with the same options as churn_labels.
    let mut seg_options = o.clone();
    let mut all: Vec<i32> = cutoffs.iter().copied().chain(pairs.iter().map(|p| p.1)).collect();
    all.sort_unstable();
    all.dedup();
    seg_options.churn_cutoffs = Some(format_cutoffs(&all));
    seg_options.churn_btyd = false;
    let segments = churn_labels_plan(source, &seg_options, fns)?;
    let segment_rates = training_rows(&pairs, segments.clone())?
        .filter(
            ident("churned")
                .is_not_null()
                .and((days_of(ident(CUTOFF)) + lit(window)).lt_eq(cast(ident(SCORED_AT), DataType::Int64))),
        )?
        .aggregate(
            vec![
                ident(SCORED_AT).alias("__clv_rate_at"),
                ident("segment").alias("__clv_rate_segment"),
            ],
            vec![avg(cast(ident("churned"), DataType::Float64)).alias("__clv_segment_rate")],
        )?
        .build()?;
    let current_segments = LogicalPlanBuilder::from(segments)
        .project(vec![
            ident(CUTOFF).alias("__clv_seg_cutoff"),
            ident(CUSTOMER).alias("__clv_seg_customer"),
            ident("segment").alias("__clv_segment"),
        ])?
        .build()?;
    let mut labelled = labelled
        .join(
            current_segments,
            JoinType::Left,
            (vec![CUTOFF, CUSTOMER], vec!["__clv_seg_cutoff", "__clv_seg_customer"]),
            None,
        )?
        .join_on(
            segment_rates,
            JoinType::Left,
            vec![
                ident("__clv_rate_at").eq(cast(days_of(ident(CUTOFF)), DataType::Int32)),
                ident("__clv_rate_segment")
                    .eq(ident("__clv_segment"))
                    .or(ident("__clv_rate_segment")
                        .is_null()
                        .and(ident("__clv_segment").is_null())),
            ],
        )?;

    let base_rate = get_field(ident(MODEL), "positive_rate");
    let mut definitions: Vec<(String, String, Expr)> = vec![];
    let model_name = o.ltv_model.as_str();
    for (name, description) in SCORES {
        let value = match name {
            "churn_model" => ident("churn_probability"),
            "window_probability" => ident("window_probability"),
            "expected_purchases" => -ident("expected_purchases"),
            "recency_days" => cast(ident("recency_days"), DataType::Float64),
            "rfm_segment" => {
                when(ident("__clv_segment_rate").is_null(), base_rate.clone()).otherwise(ident("__clv_segment_rate"))?
            }
            "dropout_probability" => ident("dropout_probability"),
            _ => base_rate.clone(),
        };
        definitions.push((
            name.to_string(),
            description.replace("transaction model", model_name),
            value,
        ));
    }
    if let Some(scores) = scores {
        let (names, has_cutoff) = extra_scores(&scores)?;
        let id_type = labelled
            .schema()
            .field_with_unqualified_name(CUSTOMER)?
            .data_type()
            .clone();
        let mut keep = vec![cast(ident(CUSTOMER), id_type).alias("__clv_sc_customer")];
        if has_cutoff {
            keep.push(cast(ident(CUTOFF), DataType::Date32).alias("__clv_sc_cutoff"));
        }
        keep.extend(
            names
                .iter()
                .map(|n| cast(ident(n.as_str()), DataType::Float64).alias(format!("__clv_sc_{n}"))),
        );
        let scores = LogicalPlanBuilder::from(scores).project(keep)?.build()?;
        let (left, right) = if has_cutoff {
            (vec![CUSTOMER, CUTOFF], vec!["__clv_sc_customer", "__clv_sc_cutoff"])
        } else {
            (vec![CUSTOMER], vec!["__clv_sc_customer"])
        };
        labelled = labelled.join(scores, JoinType::Left, (left, right), None)?;
        for n in names {
            let value = ident(format!("__clv_sc_{n}"));
            definitions.push((n, "from the scores table".to_string(), value));
        }
    }

    // One row per customer and score, then the metrics per cutoff and score.
    let score_rows = definitions
        .iter()
        .map(|(name, description, _)| vec![lit(name.as_str()), lit(description.as_str())])
        .collect();
    let names = LogicalPlanBuilder::values(score_rows)?
        .project(vec![
            ident("column1").alias(SCORE),
            ident("column2").alias("description"),
        ])?
        .build()?;
    let mut value = when(lit(false), lit(ScalarValue::Float64(None)));
    for (name, _, expr) in &definitions {
        value = value.when(
            ident(SCORE).eq(lit(name.as_str())),
            cast(expr.clone(), DataType::Float64),
        );
    }
    let value = value.end()?;
    LogicalPlanBuilder::from(names)
        .cross_join(labelled.build()?)?
        .aggregate(
            vec![ident(CUTOFF), ident(SCORE), ident("description")],
            vec![churn_metrics_udaf().call(vec![value, ident("churned")]).alias(METRICS)],
        )?
        .filter(ident(METRICS).is_not_null())
}

/// `churn_evaluate`: one row per cutoff and score; see [`CHURN_EVALUATE_COLUMNS`].
pub fn churn_evaluate_plan(
    source: LogicalPlan,
    o: &ClvOptions,
    fns: &RfmFunctions,
    scores: Option<LogicalPlan>,
) -> Result<LogicalPlan> {
    let mut columns = vec![ident(CUTOFF), ident(SCORE), ident("description")];
    for f in ["customers", "churned", "churn_rate"].into_iter().chain(METRIC_FIELDS) {
        columns.push(get_field(ident(METRICS), f).alias(f));
    }
    metrics_by_score(source, o, fns, scores)?
        .project(columns)?
        .project(CHURN_EVALUATE_COLUMNS.iter().map(|c| ident(*c)))?
        .build()
}

/// `churn_calibration`: one row per cutoff, score and decile; see [`CHURN_CALIBRATION_COLUMNS`].
pub fn churn_calibration_plan(
    source: LogicalPlan,
    o: &ClvOptions,
    fns: &RfmFunctions,
    scores: Option<LogicalPlan>,
) -> Result<LogicalPlan> {
    let mut columns = vec![ident(CUTOFF), ident(SCORE)];
    columns.extend(
        decile_fields()
            .iter()
            .map(|f| get_field(ident("__clv_decile"), f.name().as_str()).alias(f.name())),
    );
    metrics_by_score(source, o, fns, scores)?
        .project(vec![
            ident(CUTOFF),
            ident(SCORE),
            get_field(ident(METRICS), "deciles").alias("__clv_decile"),
        ])?
        .unnest_column("__clv_decile")?
        .project(columns)?
        .project(CHURN_CALIBRATION_COLUMNS.iter().map(|c| ident(*c)))?
        .build()
}
