//! RFM over a lookback window (`lookback_days = N`): frequency and monetary count only the
//! transactions dated in the last `N` days, `(as_of − N, as_of]`, while recency, first and last
//! purchase and tenure still see all history.
//!
//! The plan is the ordinary per-customer summary over all history, left-joined with the
//! summary of the rows in the window (the same order counting, collapse grain and monetary
//! aggregation): a customer without a purchase in the window (dormant) stays, with frequency 0
//! and monetary 0. Equals plain SQL: the window filter, the aggregate, and a left join to all
//! customers.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{JoinType, Result};
use datafusion::functions::expr_fn::coalesce;
use datafusion::functions_aggregate::expr_fn::max;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast, ident, lit};

use super::transactions::columns::{AS_OF, CUSTOMER, DAY};
use super::transactions::{customer_summary_with_as_of, prepare, summarize};
use crate::config::ClvOptions;

const WINDOW_AS_OF: &str = "__clv_lookback_as_of";

/// The per-customer RFM summary under `o`: over all history, or with frequency and monetary
/// over `o.rfm_lookback_days` (see the module documentation). `keep_as_of` keeps the
/// `__clv_as_of` column.
pub fn rfm_summary(source: LogicalPlan, o: &ClvOptions, keep_as_of: bool) -> Result<LogicalPlan> {
    let Some(days) = o.rfm_lookback_days else {
        return customer_summary_with_as_of(source, o, keep_as_of);
    };
    let all = customer_summary_with_as_of(source.clone(), o, true)?;
    let prepared = prepare(source, o)?;
    // The as-of day: given, or the day after the last kept row (as the summary takes it).
    let as_of = match o.as_of {
        Some(d) => LogicalPlanBuilder::empty(true).project(vec![lit(d).alias(WINDOW_AS_OF)])?,
        None => LogicalPlanBuilder::from(prepared.clone())
            .aggregate(Vec::<Expr>::new(), vec![max(ident(DAY)).alias("__clv_max_day")])?
            .project(vec![(ident("__clv_max_day") + lit(1_i32)).alias(WINDOW_AS_OF)])?,
    }
    .build()?;
    let since = cast(ident(WINDOW_AS_OF), DataType::Int64) - lit(days);
    let window = LogicalPlanBuilder::from(as_of)
        .cross_join(prepared)?
        .filter(cast(ident(DAY), DataType::Int64).gt(since))?;
    // Recency of the window summary is not used: any as-of expression does.
    let window = summarize(window, o, &[], Some(lit(0_i64)), false)?
        .project(vec![
            ident(CUSTOMER).alias("__clv_lb_customer"),
            ident("frequency").alias("__clv_lb_frequency"),
            ident("monetary").alias("__clv_lb_monetary"),
        ])?
        .build()?;
    let mut columns = vec![
        ident(CUSTOMER),
        ident("recency_days"),
        coalesce(vec![ident("__clv_lb_frequency"), lit(0_i64)]).alias("frequency"),
        coalesce(vec![ident("__clv_lb_monetary"), lit(0.0_f64)]).alias("monetary"),
        ident("first_purchase"),
        ident("last_purchase"),
        ident("tenure_days"),
    ];
    if keep_as_of {
        columns.push(ident(AS_OF));
    }
    LogicalPlanBuilder::from(all)
        .join(
            window,
            JoinType::Left,
            (vec![CUSTOMER], vec!["__clv_lb_customer"]),
            None,
        )?
        .project(columns)?
        .build()
}
