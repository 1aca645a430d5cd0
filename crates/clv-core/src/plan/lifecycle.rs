//! Lifecycle stages per customer as of a date, and the transitions between two dates.
//! The stage rules are in [`crate::churn::lifecycle`].

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{JoinType, Result, plan_err};
use datafusion::functions_aggregate::expr_fn::{count, max, min};
use datafusion::functions_aggregate::min_max::max_udaf;
use datafusion::functions_window::expr_fn::lag;
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{Expr, ExprFunctionExt, LogicalPlan, LogicalPlanBuilder, cast, ident, lit};

use super::transactions::columns::{AMOUNT, CUSTOMER, DAY, PURCHASE};
use super::transactions::prepare;
use crate::config::ClvOptions;
use crate::udf::lifecycle_stage::lifecycle_stage_udf;

/// The columns of `lifecycle`.
pub const LIFECYCLE_COLUMNS: [&str; 7] = [
    "customer_id",
    "first_purchase",
    "last_purchase",
    "days_since_first",
    "days_since_last",
    "longest_recent_gap_days",
    "stage",
];

/// Per customer with a purchase on or before the as-of date: first/last purchase, days since
/// each, the longest gap (days) before a purchase inside the active window, and the stage.
pub fn lifecycle_plan(source: LogicalPlan, o: &ClvOptions) -> Result<LogicalPlan> {
    let w = o.lifecycle_windows();
    w.validate()?;
    let prepared = prepare(source, o)?;
    let days = LogicalPlanBuilder::from(prepared)
        .aggregate(
            vec![ident(CUSTOMER), ident(DAY)],
            vec![count(lit(1)).filter(ident(PURCHASE)).build()?.alias("__clv_purchases")],
        )?
        .filter(ident("__clv_purchases").gt(lit(0_i64)))?
        .window(vec![
            lag(ident(DAY), Some(1), None)
                .partition_by(vec![ident(CUSTOMER)])
                .order_by(vec![ident(DAY).sort(true, false)])
                .build()?
                .alias("__clv_prev"),
        ])?;
    // As-of: the given date, or the day after the last purchase of the whole input.
    let carried = [ident(CUSTOMER), ident(DAY), ident("__clv_prev")];
    let days = match o.as_of {
        Some(d) => days.project(carried.into_iter().chain([lit(i64::from(d)).alias("__clv_as_of")]))?,
        None => days
            .window(vec![
                Expr::from(WindowFunction::new(max_udaf(), vec![ident(DAY)])).alias("__clv_max"),
            ])?
            .project(
                carried
                    .into_iter()
                    .chain([(cast(ident("__clv_max"), DataType::Int64) + lit(1_i64)).alias("__clv_as_of")]),
            )?,
    };
    let day = cast(ident(DAY), DataType::Int64);
    let in_window = day.clone().gt(ident("__clv_as_of") - lit(w.active_days));
    let gap = day - cast(ident("__clv_prev"), DataType::Int64);
    let since = |d: &str| ident("__clv_as_of") - cast(ident(d), DataType::Int64);
    days.aggregate(
        vec![ident(CUSTOMER)],
        vec![
            min(ident(DAY)).alias("__clv_first"),
            max(ident(DAY)).alias("__clv_last"),
            max(gap).filter(in_window).build()?.alias("longest_recent_gap_days"),
            max(ident("__clv_as_of")).alias("__clv_as_of"),
        ],
    )?
    .project(vec![
        ident(CUSTOMER),
        cast(ident("__clv_first"), DataType::Date32).alias("first_purchase"),
        cast(ident("__clv_last"), DataType::Date32).alias("last_purchase"),
        since("__clv_first").alias("days_since_first"),
        since("__clv_last").alias("days_since_last"),
        ident("longest_recent_gap_days"),
    ])?
    .project(vec![
        ident(CUSTOMER),
        ident("first_purchase"),
        ident("last_purchase"),
        ident("days_since_first"),
        ident("days_since_last"),
        ident("longest_recent_gap_days"),
        lifecycle_stage_udf()
            .call(vec![
                ident("days_since_first"),
                ident("days_since_last"),
                ident("longest_recent_gap_days"),
                lit(w.new_days),
                lit(w.active_days),
                lit(w.churn_days),
            ])
            .alias("stage"),
    ])?
    .build()
}

/// The columns of `lifecycle_transitions`.
pub const TRANSITION_COLUMNS: [&str; 4] = ["from_stage", "to_stage", "customers", "revenue"];

/// Customers moving between stages from `from` to `to` (both as-of dates), with the revenue
/// (kept amounts, refunds netted) of those customers in `(from, to]`. Customers who had not
/// bought by `from` start in stage `prospect`.
pub fn transitions_plan(source: LogicalPlan, o: &ClvOptions, from: i32, to: i32) -> Result<LogicalPlan> {
    if to <= from {
        return plan_err!("lifecycle_transitions: to_date must be after from_date");
    }
    let at = |d: i32| -> Result<LogicalPlan> {
        let mut oo = o.clone();
        oo.as_of = Some(d);
        lifecycle_plan(source.clone(), &oo)
    };
    let before = LogicalPlanBuilder::from(at(from)?)
        .project(vec![
            ident(CUSTOMER).alias("__clv_c"),
            ident("stage").alias("__clv_from"),
        ])?
        .build()?;
    let mut oo = o.clone();
    oo.as_of = Some(to);
    let revenue = LogicalPlanBuilder::from(prepare(source.clone(), &oo)?).filter(ident(DAY).gt(lit(from)))?;
    let total = super::transactions::exact_total(&revenue, AMOUNT, None)?;
    let revenue = revenue
        .aggregate(vec![ident(CUSTOMER).alias("__clv_rc")], vec![total.alias("__clv_rev")])?
        .build()?;
    let moves = LogicalPlanBuilder::from(at(to)?)
        .join(before, JoinType::Left, (vec![CUSTOMER], vec!["__clv_c"]), None)?
        .join(revenue, JoinType::Left, (vec![CUSTOMER], vec!["__clv_rc"]), None)?;
    let moved_revenue = super::transactions::exact_total(&moves, "__clv_rev", None)?;
    moves
        .aggregate(
            vec![
                datafusion::functions::expr_fn::coalesce(vec![ident("__clv_from"), lit("prospect")])
                    .alias("from_stage"),
                ident("stage").alias("to_stage"),
            ],
            vec![
                count(lit(1)).alias("customers"),
                cast(
                    datafusion::functions::expr_fn::coalesce(vec![moved_revenue, lit(0)]),
                    DataType::Float64,
                )
                .alias("revenue"),
            ],
        )?
        .build()
}
