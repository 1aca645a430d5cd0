//! `clv_tracking`: actual against expected repeat transactions, period by period, over the
//! calibration period and the holdout that follows it (the tracking plot of Fader, Hardie & Lee
//! 2005, *Marketing Science* 24(2), figure 1).
//!
//! Periods are `ltv.tracking_period` days long (7 for `week`, the default; 1 for `day`) and end on the
//! calibration end's day plus a whole number of periods: the calibration periods end on or
//! before it, the holdout periods after it, the last one on the holdout end (it may be shorter).
//! Days are those of the purchase grain (`collapse`, as in `btyd_summary`: with `week` a purchase
//! is on its Monday). The customers are the calibration cohort, whose first purchase is on or
//! before the calibration end; the first period holds the earliest first purchase.
//!
//! * **actual**: each customer's purchase days after their first (repeat transactions, one per
//!   day at the default grain) that fall in the period; summed over the holdout periods it is
//!   `Σ x_holdout` of `btyd_summary` exactly, over the calibration periods `Σ x`.
//! * **expected**: the model fitted on the calibration summary (`model`, default `bg_nbd`, or
//!   `auto`), `Σ_i E[X(e − f_i)] − E[X(s − f_i)]` over the customers for a period `(s, e]`,
//!   `f_i` the customer's first purchase day and `E[X(u)]` the unconditional expectation
//!   (`expected_purchases_new`), converted explicitly from days to the model's time unit.
//!
//! Both come with their running totals from the first period.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, plan_err};
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::functions_aggregate::min_max::min_udaf;
use datafusion::functions_aggregate::sum::sum_udaf;
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{
    AggregateUDF, Expr, ExprFunctionExt, JoinType, LogicalPlan, LogicalPlanBuilder, WindowFrame, cast, ident, lit, when,
};

use super::btyd::btyd_summary_plan;
use super::ltv::{scoring_fields, transaction_model};
use super::ltv_extra::{compare_call, is_auto};
use super::transactions::columns::{CUSTOMER, DAY, PURCHASE};
use super::transactions::{period_start_day, prepare};
use crate::config::{ClvOptions, Collapse};
use crate::udf::model_fit::ModelFit;
use crate::udf::tracking_expected::tracking_expected_udaf;

/// The columns of `clv_tracking`.
pub const TRACKING_COLUMNS: [&str; 9] = [
    "period",
    "phase",
    "period_start",
    "period_end",
    "actual",
    "expected",
    "actual_cumulative",
    "expected_cumulative",
    "customers",
];

/// A day number (days since 1970-01-01) as a date.
fn date(day: Expr) -> Expr {
    cast(cast(day, DataType::Int32), DataType::Date32)
}

/// The tracking table of `source`; see the module docs.
pub fn clv_tracking_plan(source: LogicalPlan, o: &ClvOptions) -> Result<LogicalPlan> {
    let period_days = o.ltv_tracking_period;
    let collapse = o.collapse.unwrap_or(Collapse::Day);
    let Some(grain) = collapse.period() else {
        return plan_err!(
            "clv_tracking counts one purchase per customer per day, week or month (collapse), not '{collapse}'"
        );
    };
    let Some(calibration_end) = o.btyd_calibration_end.or(o.as_of) else {
        return plan_err!("clv_tracking needs calibration_end: the model is fitted on the purchases up to it");
    };
    let start = |d: i32| grain.start(grain.index(d));
    let cut = i64::from(start(calibration_end));
    let end = o.btyd_holdout_end.map_or(cut, |h| i64::from(start(h)));
    // The calibration summary (without holdout columns) and the model fitted on it.
    let mut calibration = o.clone();
    calibration.btyd_calibration_end = Some(calibration_end);
    calibration.btyd_holdout_end = None;
    let summary = btyd_summary_plan(source.clone(), &calibration)?;
    let (x, t_x, t) = (ident("x"), ident("t_x"), ident("t"));
    let model = if is_auto(o) {
        let fitted = LogicalPlanBuilder::from(summary.clone())
            .aggregate(Vec::<Expr>::new(), vec![compare_call(&calibration).alias("comparison")])?;
        fitted.project(vec![
            datafusion::functions::core::expr_fn::get_field(ident("comparison"), "chosen").alias("__clv_model"),
        ])?
    } else {
        let kind = transaction_model(o)?;
        let fit = AggregateUDF::from(ModelFit::new(kind));
        LogicalPlanBuilder::from(summary.clone())
            .aggregate(
                Vec::<Expr>::new(),
                vec![
                    fit.call(vec![
                        x,
                        t_x,
                        t.clone(),
                        lit(1.0),
                        lit(o.btyd_time_unit.name()),
                        lit(o.fit_penalizer),
                    ])
                    .alias("__clv_fit"),
                ],
            )?
            .project(vec![scoring_fields(ident("__clv_fit"), kind).alias("__clv_model")])?
    };
    let expected = model
        .cross_join(summary)?
        .aggregate(
            Vec::<Expr>::new(),
            vec![
                tracking_expected_udaf()
                    .call(vec![ident("__clv_model"), t, lit(cut), lit(end), lit(period_days)])
                    .alias("__clv_periods"),
                count(lit(1)).alias("__clv_customers"),
            ],
        )?
        .unnest_column("__clv_periods")?;
    let field = |name: &str| datafusion::functions::core::expr_fn::get_field(ident("__clv_periods"), name);
    let expected = expected.project(vec![
        field("period").alias("__clv_j"),
        field("start_day").alias("__clv_start"),
        field("end_day").alias("__clv_end"),
        field("expected").alias("expected"),
        field("expected_cumulative").alias("expected_cumulative"),
        ident("__clv_customers"),
    ])?;
    // Actual repeat purchase days per period, on the same grain as the summary.
    let mut data = o.clone();
    data.as_of = Some(grain.start(grain.index(end as i32) + 1) - 1);
    let prepared = prepare(source, &data)?;
    let first = Expr::from(WindowFunction::new(min_udaf(), vec![ident(DAY)]))
        .partition_by(vec![ident(CUSTOMER)])
        .build()?
        .alias("__clv_first");
    // j = ceil((day − cut) / L), in integers of positive numerators (a margin of K periods).
    let k = 1_000_000_i64;
    let j = (cast(ident(DAY), DataType::Int64) - lit(cut) + lit(period_days - 1 + k * period_days)) / lit(period_days)
        - lit(k);
    let actual = LogicalPlanBuilder::from(prepared)
        .filter(ident(PURCHASE))?
        .project(vec![ident(CUSTOMER), period_start_day(ident(DAY), grain).alias(DAY)])?
        .distinct()?
        .window(vec![first])?
        .filter(
            cast(ident("__clv_first"), DataType::Int64)
                .lt_eq(lit(cut))
                .and(cast(ident(DAY), DataType::Int64).gt(cast(ident("__clv_first"), DataType::Int64)))
                .and(cast(ident(DAY), DataType::Int64).lt_eq(lit(end))),
        )?
        .aggregate(vec![j.alias("__clv_aj")], vec![count(lit(1)).alias("__clv_actual")])?
        .build()?;
    // Running sums over the periods in order; both windows share the sort key (the optimizer
    // may merge them into one node), so the first period is the running minimum.
    let running = |f: std::sync::Arc<datafusion::logical_expr::AggregateUDF>, e: Expr| -> Result<Expr> {
        Expr::from(WindowFunction::new(f, vec![e]))
            .order_by(vec![ident("__clv_j").sort(true, false)])
            .window_frame(WindowFrame::new(Some(true)))
            .build()
    };
    expected
        .join(actual, JoinType::Left, (vec!["__clv_j"], vec!["__clv_aj"]), None)?
        .project(vec![
            ident("__clv_j"),
            ident("__clv_start"),
            ident("__clv_end"),
            when(ident("__clv_actual").is_null(), lit(0_i64))
                .otherwise(ident("__clv_actual"))?
                .alias("actual"),
            ident("expected"),
            ident("expected_cumulative"),
            ident("__clv_customers"),
        ])?
        .window(vec![
            running(sum_udaf(), ident("actual"))?.alias("actual_cumulative"),
            running(min_udaf(), ident("__clv_j"))?.alias("__clv_j0"),
        ])?
        .project(vec![
            (ident("__clv_j") - ident("__clv_j0") + lit(1_i64)).alias("period"),
            when(ident("__clv_j").lt_eq(lit(0_i64)), lit("calibration"))
                .otherwise(lit("holdout"))?
                .alias("phase"),
            date(ident("__clv_start") + lit(1_i64)).alias("period_start"),
            date(ident("__clv_end")).alias("period_end"),
            ident("actual"),
            ident("expected"),
            cast(ident("actual_cumulative"), DataType::Int64).alias("actual_cumulative"),
            ident("expected_cumulative"),
            ident("__clv_customers").alias("customers"),
        ])?
        .sort(vec![ident("period").sort(true, false)])?
        .build()
}
