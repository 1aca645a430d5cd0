//! Cohort retention: customers grouped by the calendar period of their first purchase.
//!
//! Per (cohort, period offset): `cohort_customers` (customers whose first purchase is in the
//! cohort period), `active_customers` (of those, customers with a purchase in the period at that
//! offset), `retention_rate` = active / cohort size, `revenue` (all kept amounts of the cohort's
//! customers in that period, refunds netted), `revenue_retention` = revenue / revenue at offset 0,
//! and `cumulative_revenue_per_customer` = revenue up to and including the offset / cohort size
//! (the cohort LTV curve). Offsets are whole calendar periods. A period in which no customer of
//! the cohort bought anything has `active_customers = 0` only if some revenue (a refund) exists
//! there; otherwise it has no row. Customers with only refunds have no cohort.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{JoinType, Result, ScalarValue};
use datafusion::functions_aggregate::expr_fn::{count, min};
use datafusion::functions_aggregate::sum::sum_udaf;
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{
    Expr, ExprFunctionExt, LogicalPlan, LogicalPlanBuilder, WindowFrame, WindowFrameBound, WindowFrameUnits, cast,
    ident, lit, when,
};

use super::transactions::columns::{AMOUNT, CUSTOMER, DAY, PURCHASE};
use super::transactions::prepare;
use crate::churn::Period;
use crate::config::ClvOptions;
use crate::udf::clv_period_index::clv_period_index_udf;
use crate::udf::clv_period_start::clv_period_start_udf;

/// The columns of `cohort_retention`.
pub const COHORT_COLUMNS: [&str; 8] = [
    "cohort",
    "period_offset",
    "cohort_customers",
    "active_customers",
    "retention_rate",
    "revenue",
    "revenue_retention",
    "cumulative_revenue_per_customer",
];

/// `sum(arg) OVER (PARTITION BY cohort ORDER BY period <frame>)`. Every window of the plan
/// shares this sort key: DataFusion's optimizer may merge stacked window nodes, and one node
/// needs one sort key.
fn window_sum(arg: Expr, running: bool) -> Result<Expr> {
    let frame = if running {
        WindowFrame::new(Some(true))
    } else {
        WindowFrame::new_bounds(
            WindowFrameUnits::Rows,
            WindowFrameBound::Preceding(ScalarValue::UInt64(None)),
            WindowFrameBound::Following(ScalarValue::UInt64(None)),
        )
    };
    Expr::from(WindowFunction::new(sum_udaf(), vec![arg]))
        .partition_by(vec![ident("__clv_cohort")])
        .order_by(vec![ident("__clv_p").sort(true, false)])
        .window_frame(frame)
        .build()
}

/// The cohort retention plan at calendar grain `period`.
pub fn cohort_retention_plan(source: LogicalPlan, o: &ClvOptions, period: Period) -> Result<LogicalPlan> {
    let prepared = prepare(source, o)?;
    let index = clv_period_index_udf().call(vec![cast(ident(DAY), DataType::Date32), lit(period.as_str())]);
    let prepared = LogicalPlanBuilder::from(prepared);
    let revenue = super::transactions::exact_total(&prepared, AMOUNT, None)?;
    let per_period = prepared
        .aggregate(
            vec![ident(CUSTOMER), index.alias("__clv_p")],
            vec![
                revenue.alias("__clv_revenue"),
                count(lit(1)).filter(ident(PURCHASE)).build()?.alias("__clv_purchases"),
            ],
        )?
        .build()?;
    let cohorts = LogicalPlanBuilder::from(per_period.clone())
        .filter(ident("__clv_purchases").gt(lit(0_i64)))?
        .aggregate(
            vec![ident(CUSTOMER).alias("__clv_c")],
            vec![min(ident("__clv_p")).alias("__clv_cohort")],
        )?
        .build()?;
    let members = LogicalPlanBuilder::from(per_period)
        .join(cohorts, JoinType::Inner, (vec![CUSTOMER], vec!["__clv_c"]), None)?
        .filter(ident("__clv_p").gt_eq(ident("__clv_cohort")))?;
    let revenue = super::transactions::exact_total(&members, "__clv_revenue", None)?;
    let grid = members.aggregate(
        vec![ident("__clv_cohort"), ident("__clv_p")],
        vec![
            count(lit(1))
                .filter(ident("__clv_purchases").gt(lit(0_i64)))
                .build()?
                .alias("active_customers"),
            cast(revenue, DataType::Float64).alias("revenue"),
        ],
    )?;
    let cohort = ident("__clv_cohort");
    let at_start = |e: Expr, zero: Expr| when(ident("__clv_p").eq(ident("__clv_cohort")), e).otherwise(zero);
    let cumulative = window_sum(ident("revenue"), true)?;
    let size = window_sum(at_start(ident("active_customers"), lit(0_i64))?, false)?;
    let base_revenue = window_sum(at_start(ident("revenue"), lit(0.0))?, false)?;
    let size_f = cast(ident("__clv_size"), DataType::Float64);
    grid.window(vec![
        size.alias("__clv_size"),
        base_revenue.alias("__clv_base"),
        cumulative.alias("__clv_cum"),
    ])?
    .project(vec![
        clv_period_start_udf()
            .call(vec![cohort.clone(), lit(period.as_str())])
            .alias("cohort"),
        (ident("__clv_p") - cohort).alias("period_offset"),
        cast(ident("__clv_size"), DataType::Int64).alias("cohort_customers"),
        ident("active_customers"),
        (cast(ident("active_customers"), DataType::Float64) / size_f.clone()).alias("retention_rate"),
        ident("revenue"),
        when(
            ident("__clv_base").eq(lit(0.0)),
            lit(datafusion::common::ScalarValue::Float64(None)),
        )
        .otherwise(ident("revenue") / ident("__clv_base"))?
        .alias("revenue_retention"),
        (ident("__clv_cum") / size_f).alias("cumulative_revenue_per_customer"),
    ])?
    .build()
}
