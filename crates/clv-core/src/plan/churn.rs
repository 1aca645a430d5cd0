//! `churn_labels`: a training table for churn models. One row per customer with a purchase on
//! or before each cutoff: the features as of the cutoff and the label for the window after it.
//!
//! Definitions, for a cutoff `c` and a window of `w` days:
//! * features use only the transactions dated on or before `c`, with the same data policies,
//!   order counting and scores as `rfm()` at `as_of = c` (scores are computed among the
//!   customers of the same cutoff);
//! * `churned` = no purchase dated in `(c, c + w]`;
//! * the data end is the as-of date when one is given, else the last transaction date of the
//!   input; `censored` = the window runs past it (`c + w` > data end). A censored customer who
//!   bought in the observed part of the window is not churned (`churned = false`); one who did
//!   not has an unknown label (`churned` is NULL), never a false "churned". Train on
//!   `WHERE NOT censored` to avoid favouring buyers;
//! * with `btyd = true`: `x`, `t_x`, `t` as in `btyd_summary` with `calibration_end = c`, the
//!   transaction model (`ltv.model`) fitted separately for every cutoff on those rows, and
//!   `p_alive`, `churn_probability` = P(no purchase in the window), `dropout_probability` =
//!   1 − `p_alive` and `expected_purchases` over the window.
//!
//! Transactions after a cutoff only reach its label: the features of a cutoff do not depend on
//! them (tested by changing them).

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{JoinType, Result, ScalarValue, plan_err};
use datafusion::functions::expr_fn::coalesce;
use datafusion::functions_aggregate::expr_fn::{count, max, min};
use datafusion::logical_expr::{
    AggregateUDF, Expr, ExprFunctionExt, LogicalPlan, LogicalPlanBuilder, cast, ident, lit, when,
};

use super::ltv::{scalar, transaction_model};
use super::rfm::{RfmFunctions, resolve_specs, score_columns, score_windows};
use super::transactions::columns::{CUSTOMER, DAY, PURCHASE};
use super::transactions::{prepare, summarize};
use crate::churn::parse_cutoffs;
use crate::config::ClvOptions;
use crate::udf::model_fit::ModelFit;

const CUTOFF: &str = "cutoff";
const CUTOFF_DAY: &str = "__clv_cutoff_day";
const WINDOW_END: &str = "__clv_window_end";
const DATA_END: &str = "__clv_data_end";
/// The longest churn window (about 270 years).
const MAX_WINDOW_DAYS: i64 = 100_000;

/// The columns of `churn_labels` without BTYD features.
pub const CHURN_LABEL_COLUMNS: [&str; 17] = [
    "cutoff",
    "customer_id",
    "recency_days",
    "frequency",
    "monetary",
    "tenure_days",
    "first_purchase",
    "last_purchase",
    "r",
    "f",
    "m",
    "rfm_cell",
    "rfm_total",
    "segment",
    "window_end",
    "censored",
    "churned",
];

/// The BTYD feature columns added with `btyd = true` (before `window_end`).
pub const CHURN_BTYD_COLUMNS: [&str; 7] = [
    "x",
    "t_x",
    "t",
    "p_alive",
    "churn_probability",
    "dropout_probability",
    "expected_purchases",
];

fn as_days(e: Expr) -> Expr {
    cast(cast(e, DataType::Date32), DataType::Int64)
}

/// The `churn_labels` plan; see the module documentation.
pub fn churn_labels_plan(source: LogicalPlan, o: &ClvOptions, fns: &RfmFunctions) -> Result<LogicalPlan> {
    let Some(text) = &o.churn_cutoffs else {
        return plan_err!(
            "churn_labels needs cutoffs: a list 'cutoffs=1997-06-30,1997-09-30' or a range 'cutoffs=1997-01-01..1997-12-31' (month ends)"
        );
    };
    if o.rfm_lookback_days.is_some() {
        return plan_err!("churn_labels does not support lookback_days; segment_evaluate does");
    }
    let cutoffs = parse_cutoffs(text, o.churn_every)?;
    let window = o.churn_window_days;
    if window > MAX_WINDOW_DAYS {
        return plan_err!("window_days must be at most {MAX_WINDOW_DAYS}, got {window}");
    }
    let specs = resolve_specs(o, &fns.schemes())?;
    let prepared = prepare(source, o)?;

    // The data end: the as-of date, else the last transaction day (one row).
    let data_end = match o.as_of {
        Some(d) => LogicalPlanBuilder::empty(true).project(vec![lit(d).alias(DATA_END)])?,
        None => LogicalPlanBuilder::from(prepared.clone())
            .aggregate(Vec::<Expr>::new(), vec![max(ident(DAY)).alias(DATA_END)])?,
    }
    .build()?;
    let cutoff_rows = cutoffs
        .iter()
        .map(|&d| vec![lit(ScalarValue::Date32(Some(d))), lit(d), lit(d + window as i32)])
        .collect();
    let cutoff_plan = LogicalPlanBuilder::values(cutoff_rows)?
        .project(vec![
            ident("column1").alias(CUTOFF),
            ident("column2").alias(CUTOFF_DAY),
            ident("column3").alias(WINDOW_END),
        ])?
        .build()?;
    // Every transaction up to the end of a cutoff's window, once per such cutoff. The few
    // cutoffs are the build side of the join.
    let rows = LogicalPlanBuilder::from(cutoff_plan)
        .join_on(prepared, JoinType::Inner, vec![ident(DAY).lt_eq(ident(WINDOW_END))])?
        .build()?;
    let before_cutoff = || LogicalPlanBuilder::from(rows.clone()).filter(ident(DAY).lt_eq(ident(CUTOFF_DAY)));

    let features = summarize(before_cutoff()?, o, &[CUTOFF], Some(as_days(ident(CUTOFF))), false)?;
    let window_purchases = LogicalPlanBuilder::from(rows.clone())
        .filter(ident(DAY).gt(ident(CUTOFF_DAY)).and(ident(PURCHASE)))?
        .aggregate(
            vec![ident(CUSTOMER).alias("__clv_lc"), ident(CUTOFF).alias("__clv_lcut")],
            vec![count(lit(1)).alias("__clv_window_purchases")],
        )?
        .build()?;
    let features = features
        .join(
            window_purchases,
            JoinType::Left,
            (vec![CUSTOMER, CUTOFF], vec!["__clv_lc", "__clv_lcut"]),
            None,
        )?
        .build()?;
    // The one-row side is the build side: a cross join emits one batch per build row.
    let mut labelled = LogicalPlanBuilder::from(data_end).cross_join(features)?;
    if o.churn_btyd {
        labelled = add_btyd_features(labelled, before_cutoff()?, o)?;
    }

    let window_end_day = as_days(ident(CUTOFF)) + lit(window);
    let censored = window_end_day.clone().gt(cast(ident(DATA_END), DataType::Int64));
    let bought = coalesce(vec![ident("__clv_window_purchases"), lit(0_i64)]).gt(lit(0_i64));
    let churned = when(bought, lit(false))
        .when(censored.clone(), lit(ScalarValue::Boolean(None)))
        .otherwise(lit(true))?;
    let mut columns = vec![
        ident(CUTOFF),
        ident(CUSTOMER),
        ident("recency_days"),
        ident("frequency"),
        ident("monetary"),
        ident("tenure_days"),
        ident("first_purchase"),
        ident("last_purchase"),
    ];
    columns.extend(score_columns(&specs, fns));
    if o.churn_btyd {
        columns.extend(CHURN_BTYD_COLUMNS.iter().map(|c| ident(*c)));
    }
    columns.extend([
        cast(cast(window_end_day, DataType::Int32), DataType::Date32).alias("window_end"),
        censored.alias("censored"),
        churned.alias("churned"),
    ]);
    labelled
        .window(score_windows(&specs, fns, &[ident(CUTOFF)])?)?
        .project(columns)?
        .build()
}

/// Joins `x, t_x, t` (per customer and cutoff, from the rows on or before the cutoff), fits the
/// transaction model per cutoff and adds `p_alive`, `churn_probability` (no purchase in the
/// window), `dropout_probability` and `expected_purchases` over the window.
fn add_btyd_features(
    labelled: LogicalPlanBuilder,
    before_cutoff: LogicalPlanBuilder,
    o: &ClvOptions,
) -> Result<LogicalPlanBuilder> {
    let unit = o.btyd_time_unit;
    let per_unit = |days: Expr| cast(days, DataType::Float64) / lit(unit.days());
    let btyd = before_cutoff
        .aggregate(
            vec![ident(CUSTOMER), ident(CUTOFF), ident(DAY)],
            vec![count(lit(1)).filter(ident(PURCHASE)).build()?.alias("__clv_purchases")],
        )?
        .filter(ident("__clv_purchases").gt(lit(0_i64)))?
        .aggregate(
            vec![ident(CUSTOMER).alias("__clv_bc"), ident(CUTOFF).alias("__clv_bcut")],
            vec![
                count(lit(1)).alias("__clv_days"),
                min(ident(DAY)).alias("__clv_first"),
                max(ident(DAY)).alias("__clv_last"),
            ],
        )?
        .project(vec![
            ident("__clv_bc"),
            ident("__clv_bcut"),
            (ident("__clv_days") - lit(1_i64)).alias("x"),
            per_unit(cast(ident("__clv_last"), DataType::Int64) - cast(ident("__clv_first"), DataType::Int64))
                .alias("t_x"),
            per_unit(as_days(ident("__clv_bcut")) - cast(ident("__clv_first"), DataType::Int64)).alias("t"),
        ])?
        .build()?;
    let fit = AggregateUDF::from(ModelFit::new(transaction_model(o)?));
    let (x, t_x, t) = (ident("x"), ident("t_x"), ident("t"));
    let models = LogicalPlanBuilder::from(btyd.clone())
        .aggregate(
            vec![ident("__clv_bcut").alias("__clv_mcut")],
            vec![
                fit.call(vec![
                    x.clone(),
                    t_x.clone(),
                    t.clone(),
                    lit(1.0),
                    lit(unit.name()),
                    lit(o.fit_penalizer),
                ])
                .alias("__clv_model"),
            ],
        )?
        .build()?;
    let model = ident("__clv_model");
    let p_alive = scalar("p_alive").call(vec![model.clone(), x.clone(), t_x.clone(), t.clone()]);
    let horizon = lit(o.churn_window_days as f64 / unit.days());
    let scored = LogicalPlanBuilder::from(btyd)
        .join(models, JoinType::Inner, (vec!["__clv_bcut"], vec!["__clv_mcut"]), None)?
        .project(vec![
            ident("__clv_bc"),
            ident("__clv_bcut"),
            x.clone(),
            t_x.clone(),
            t.clone(),
            p_alive.clone().alias("p_alive"),
            scalar("churn_probability")
                .call(vec![model.clone(), horizon.clone(), x.clone(), t_x.clone(), t.clone()])
                .alias("churn_probability"),
            (lit(1.0) - p_alive).alias("dropout_probability"),
            scalar("expected_purchases")
                .call(vec![model, horizon, x, t_x, t])
                .alias("expected_purchases"),
        ])?
        .build()?;
    labelled.join(
        scored,
        JoinType::Inner,
        (vec![CUSTOMER, CUTOFF], vec!["__clv_bc", "__clv_bcut"]),
        None,
    )
}
