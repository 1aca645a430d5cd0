//! The buy-till-you-die summary: per customer `x, t_x, t, monetary` (and a holdout).
//!
//! Definitions (Fader, Hardie & Lee 2005; the CDNOW summaries in testdata follow them):
//! * purchases are collapsed to one per customer per calendar period of the purchase grain
//!   (`collapse`: `day` by default, or `week` (Monday start) or `month`; a refund nets into the
//!   amount of its period; a period with only refunds is not a purchase). A purchase's time is
//!   the first day of its period;
//! * `x` = purchase periods in the calibration period − 1 (repeat purchases);
//! * `t_x` = (last calibration purchase − first purchase) in the time unit;
//! * `t` = (calibration end − first purchase) in the time unit;
//! * `monetary` = the mean amount of the repeat purchase periods (the first excluded), 0 when
//!   x = 0;
//! * with a holdout end: `x_holdout` = purchase periods in (calibration end, holdout end] and
//!   `t_holdout` = (holdout end − calibration end) in the time unit.
//!
//! The calibration end is inclusive, and with a grain coarser than a day it is the first day of
//! its period and the calibration covers that whole period (as Python lifetimes'
//! `summary_data_from_transaction_data(freq='W')` does, unlike its `calibration_and_holdout_data`,
//! which splits on the raw date); likewise the holdout end. By default
//! the calibration end is the as-of date if one is given, else the last transaction date.
//! Customers whose first purchase is after the calibration period are not in the calibration
//! cohort and are left out. The time unit is explicit and separate from the grain: day, week
//! (7 days) or month (365.25 / 12 days).

use datafusion::arrow::datatypes::DataType;
use datafusion::common::metadata::FieldMetadata;
use datafusion::common::{Result, plan_err};
use datafusion::functions_aggregate::expr_fn::{count, first_value, max, min};
use datafusion::functions_aggregate::min_max::max_udaf;
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{Expr, ExprFunctionExt, LogicalPlan, LogicalPlanBuilder, cast, ident, lit, when};

use super::transactions::columns::{AMOUNT, CUSTOMER, DAY, PURCHASE};
use super::transactions::{exact_total, period_start_day, prepare};
use crate::common::dates::format_date;
use crate::config::{ClvOptions, Collapse};
use crate::ltv::TIME_UNIT_METADATA;

/// The columns of `btyd_summary`, without and with a holdout.
pub const BTYD_COLUMNS: [&str; 6] = ["customer_id", "x", "t_x", "t", "monetary", "first_purchase"];
/// The extra holdout columns.
pub const HOLDOUT_COLUMNS: [&str; 2] = ["x_holdout", "t_holdout"];

/// The BTYD summary plan; see the module documentation.
pub fn btyd_summary_plan(source: LogicalPlan, o: &ClvOptions) -> Result<LogicalPlan> {
    let collapse = o.collapse.unwrap_or(Collapse::Day);
    let Some(period) = collapse.period() else {
        return plan_err!(
            "btyd_summary counts one purchase per customer per period (collapse = 'day', 'week' or 'month'); collapse = '{collapse}' would give repeat purchases at time 0, which the models cannot represent"
        );
    };
    // A date's period start, and the last day of its period (days since 1970-01-01).
    let start = |d: i32| period.start(period.index(d));
    let end = |d: i32| period.start(period.index(d) + 1) - 1;
    let calibration_end = o.btyd_calibration_end.or(o.as_of);
    // The as-of date ends the data: no period of the summary may run past it.
    if let Some(as_of) = o.as_of {
        for (name, end) in [
            ("calibration_end", o.btyd_calibration_end),
            ("holdout_end", o.btyd_holdout_end),
        ] {
            if let Some(end) = end.filter(|e| *e > as_of) {
                return crate::usage_err!(
                    "{name} {} is after as_of {}: the data ends at the as-of date, so the period cannot run past it; \
                     give '{name}=YYYY-MM-DD' on or before it, or a later 'as_of=YYYY-MM-DD'",
                    format_date(end),
                    format_date(as_of)
                );
            }
        }
    }
    if let (Some(h), Some(c)) = (o.btyd_holdout_end, calibration_end)
        && h <= c
    {
        return plan_err!("holdout_end must be after calibration_end");
    }
    if o.btyd_holdout_end.is_some() && calibration_end.is_none() {
        return plan_err!("a holdout needs calibration_end: the holdout is the period after it");
    }
    if let (Some(h), Some(c)) = (o.btyd_holdout_end, calibration_end)
        && start(h) <= start(c)
    {
        return plan_err!("holdout_end must be in a later {period} than calibration_end (collapse = '{collapse}')");
    }
    // Rows after the last period of interest are excluded (and counted by the policy report).
    let mut options = o.clone();
    options.as_of = o.btyd_holdout_end.or(calibration_end).map(end);
    let prepared = prepare(source, &options)?;
    // From here on a purchase's day is its period's first day (the day itself for `day`).
    let prepared = LogicalPlanBuilder::from(prepared)
        .project(vec![
            ident(CUSTOMER),
            ident(DAY).alias("__clv_date"),
            period_start_day(ident(DAY), period).alias(DAY),
            ident(AMOUNT),
            ident(PURCHASE),
        ])?
        .build()?;
    let calibration_end = calibration_end.map(start);
    let holdout_end = o.btyd_holdout_end.map(start);
    let unit = o.btyd_time_unit.days();
    let in_calibration = |e: Expr| match calibration_end {
        Some(c) => e.filter(ident(DAY).lt_eq(lit(c))).build(),
        None => Ok(e),
    };
    let amount = ident(AMOUNT);
    let prepared = LogicalPlanBuilder::from(prepared);
    let day_total = exact_total(&prepared, AMOUNT, None)?;
    let days = prepared
        .aggregate(
            vec![ident(CUSTOMER), ident(DAY)],
            vec![
                day_total.alias(AMOUNT),
                count(lit(1)).filter(ident(PURCHASE)).build()?.alias("__clv_purchases"),
                min(ident("__clv_date"))
                    .filter(ident(PURCHASE))
                    .build()?
                    .alias("__clv_date"),
            ],
        )?
        .filter(ident("__clv_purchases").gt(lit(0)))?;
    let calibration_total = exact_total(&days, AMOUNT, calibration_end.map(|c| ident(DAY).lt_eq(lit(c))))?;
    let customers = days.aggregate(
        vec![ident(CUSTOMER)],
        vec![
            min(ident(DAY)).alias("__clv_first"),
            min(ident("__clv_date")).alias("__clv_first_date"),
            in_calibration(count(lit(1)))?.alias("__clv_n"),
            in_calibration(max(ident(DAY)))?.alias("__clv_last"),
            calibration_total.alias("__clv_sum"),
            first_value(amount, vec![ident(DAY).sort(true, false)]).alias("__clv_first_amount"),
            match calibration_end {
                Some(c) => count(lit(1)).filter(ident(DAY).gt(lit(c))).build()?,
                None => lit(0_i64),
            }
            .alias("x_holdout"),
        ],
    )?;
    let (customers, cal) = match calibration_end {
        Some(c) => (customers, lit(c)),
        None => {
            let w = Expr::from(WindowFunction::new(max_udaf(), vec![ident("__clv_last")]));
            (customers.window(vec![w.alias("__clv_cal")])?, ident("__clv_cal"))
        }
    };
    let days_between =
        |a: Expr, b: Expr| cast(cast(a, DataType::Int64) - cast(b, DataType::Int64), DataType::Float64) / lit(unit);
    // The time columns record their unit, which the fits read (see TIME_UNIT_METADATA).
    let in_unit = |e: Expr, name: &str| {
        let metadata =
            std::collections::BTreeMap::from([(TIME_UNIT_METADATA.to_string(), o.btyd_time_unit.name().to_string())]);
        e.alias_with_metadata(name, Some(FieldMetadata::from(metadata)))
    };
    let x = ident("__clv_n") - lit(1_i64);
    let repeat_sum = cast(ident("__clv_sum") - ident("__clv_first_amount"), DataType::Float64);
    let mut exprs = vec![
        ident(CUSTOMER),
        x.clone().alias("x"),
        in_unit(days_between(ident("__clv_last"), ident("__clv_first")), "t_x"),
        in_unit(days_between(cal.clone(), ident("__clv_first")), "t"),
        when(x.clone().gt(lit(0_i64)), repeat_sum / cast(x, DataType::Float64))
            .otherwise(lit(0.0))?
            .alias("monetary"),
        cast(ident("__clv_first_date"), DataType::Date32).alias("first_purchase"),
    ];
    if let (Some(h), Some(c)) = (holdout_end, calibration_end) {
        exprs.push(ident("x_holdout"));
        exprs.push(in_unit(lit((f64::from(h) - f64::from(c)) / unit), "t_holdout"));
    }
    customers
        .filter(ident("__clv_n").gt(lit(0_i64)))?
        .project(exprs)?
        .build()
}
