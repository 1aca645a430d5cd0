//! The data-policy report: how many rows each policy affected.

use std::ops::Not;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, exec_err};
use datafusion::functions_aggregate::expr_fn::{count, max, sum};
use datafusion::logical_expr::{Expr, ExprFunctionExt, LogicalPlan, LogicalPlanBuilder, cast, ident, lit, when};

use super::transactions::{Conditions, columns, project_contract};
use crate::common::dates::format_date;
use crate::config::{ClvOptions, InvalidAmounts, NegativeAmounts};

/// Counts for each data policy, for one input and one set of options.
///
/// Each row is attributed to the first policy that applies (see [`super::transactions`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyReport {
    /// The as-of date used (YYYY-MM-DD), `None` for empty input.
    pub as_of: Option<String>,
    /// Rows in the source.
    pub rows_read: u64,
    /// Rows that exactly repeat an earlier row (dropped when `dedupe`, kept otherwise).
    pub duplicate_rows: u64,
    /// Rows excluded for a null customer id or time.
    pub null_customer_or_time: u64,
    /// Rows with a null, NaN or infinite amount (excluded, or the query fails).
    pub invalid_amount: u64,
    /// Rows dated after the as-of date (excluded).
    pub after_as_of: u64,
    /// Rows with a negative amount (netted, excluded, or the query fails).
    pub negative_amount: u64,
    /// Rows with a zero amount (kept as orders).
    pub zero_amount: u64,
    /// Rows that reach the per-customer summary.
    pub rows_used: u64,
    /// Customers in the summary.
    pub customers: u64,
    /// Customers excluded because all their kept rows are refunds.
    pub customers_without_purchases: u64,
    /// Purchases with a null order id, when orders are counted by `order_column`: each is an
    /// order of its own.
    pub null_order_id: u64,
}

/// The report's SQL columns, in order.
pub const REPORT_COLUMNS: [&str; 11] = [
    "rows_read",
    "duplicate_rows",
    "null_customer_or_time",
    "invalid_amount",
    "after_as_of",
    "negative_amount",
    "zero_amount",
    "rows_used",
    "customers",
    "customers_without_purchases",
    "null_order_id",
];

fn count_if(condition: Expr) -> Expr {
    sum(when(condition, lit(1_i64))
        .otherwise(lit(0_i64))
        .unwrap_or_else(|_| lit(0_i64)))
}

/// Whether orders are counted by `order_column` (not by a `collapse` period).
fn orders_by_id(o: &ClvOptions) -> bool {
    o.order_column.is_some() && o.collapse.is_none_or(|c| c == crate::config::Collapse::None)
}

/// A one-row plan: `as_of` (Date32) then [`REPORT_COLUMNS`] (Int64).
pub fn policy_report_plan(source: LogicalPlan, o: &ClvOptions) -> Result<LogicalPlan> {
    let rows_read = LogicalPlanBuilder::from(source.clone())
        .aggregate(Vec::<Expr>::new(), vec![count(lit(1)).alias("rows_read")])?
        .build()?;
    let distinct_rows = LogicalPlanBuilder::from(source.clone())
        .distinct()?
        .aggregate(Vec::<Expr>::new(), vec![count(lit(1)).alias("__clv_distinct")])?
        .build()?;
    let (rows, _, c) = project_contract(source, o)?;
    let Conditions {
        valid_key,
        valid_amount,
        within_as_of,
        negative,
        zero,
    } = c;
    let reaches_as_of = valid_key.clone().and(valid_amount.clone());
    let reaches_negative = reaches_as_of.clone().and(within_as_of.clone());
    let used = match o.negative_amounts {
        NegativeAmounts::Exclude => reaches_negative.clone().and(negative.clone().not()),
        _ => reaches_negative.clone(),
    };
    let is_purchase = match o.negative_amounts {
        NegativeAmounts::Net => used.clone().and(negative.clone().not()),
        _ => used.clone(),
    };
    let row_counts = rows
        .clone()
        .aggregate(
            Vec::<Expr>::new(),
            vec![
                count_if(valid_key.clone().not()).alias("null_customer_or_time"),
                count_if(valid_key.clone().and(valid_amount.not())).alias("invalid_amount"),
                count_if(reaches_as_of.and(within_as_of.not())).alias("after_as_of"),
                count_if(reaches_negative.clone().and(negative)).alias("negative_amount"),
                count_if(reaches_negative.and(zero)).alias("zero_amount"),
                count_if(used.clone()).alias("rows_used"),
                if orders_by_id(o) {
                    count_if(is_purchase.clone().and(ident(columns::ORDER).is_null()))
                } else {
                    lit(0_i64)
                }
                .alias("null_order_id"),
                max(ident(columns::DAY))
                    .filter(used.clone())
                    .build()?
                    .alias("__clv_last_day"),
            ],
        )?
        .build()?;
    let customers = rows
        .filter(used)?
        .aggregate(
            vec![ident(columns::CUSTOMER)],
            vec![count_if(is_purchase).alias("__clv_purchases")],
        )?
        .aggregate(
            Vec::<Expr>::new(),
            vec![
                count_if(ident("__clv_purchases").gt(lit(0_i64))).alias("customers"),
                count_if(ident("__clv_purchases").eq(lit(0_i64))).alias("customers_without_purchases"),
            ],
        )?
        .build()?;
    let as_of = match o.as_of {
        Some(d) => cast(lit(d), DataType::Date32),
        None => cast(ident("__clv_last_day") + lit(1), DataType::Date32),
    };
    let zero_if_null = |name: &str| datafusion::functions::expr_fn::coalesce(vec![ident(name), lit(0_i64)]).alias(name);
    // Duplicates are counted whether or not `dedupe` drops them.
    let duplicates = (ident("rows_read") - ident("__clv_distinct")).alias("duplicate_rows");
    LogicalPlanBuilder::from(rows_read)
        .cross_join(distinct_rows)?
        .cross_join(row_counts)?
        .cross_join(customers)?
        .project(vec![
            as_of.alias("as_of"),
            ident("rows_read"),
            duplicates,
            zero_if_null("null_customer_or_time"),
            zero_if_null("invalid_amount"),
            zero_if_null("after_as_of"),
            zero_if_null("negative_amount"),
            zero_if_null("zero_amount"),
            zero_if_null("rows_used"),
            zero_if_null("customers"),
            zero_if_null("customers_without_purchases"),
            zero_if_null("null_order_id"),
        ])?
        .build()
}

impl PolicyReport {
    /// Reads the report from the one-row batch of [`policy_report_plan`].
    pub fn from_batches(batches: &[RecordBatch]) -> Result<Self> {
        let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else {
            return exec_err!("policy report: the report query returned no row");
        };
        let int = |name: &str| -> Result<u64> {
            let a = b
                .column_by_name(name)
                .ok_or_else(|| datafusion::common::exec_datafusion_err!("policy report: no column {name}"))?;
            let a = datafusion::arrow::compute::cast(a, &DataType::Int64)?;
            let a = a.as_primitive::<Int64Type>();
            Ok(if a.is_null(0) { 0 } else { a.value(0).max(0) as u64 })
        };
        let as_of = b.column_by_name("as_of").and_then(|a| {
            let a = datafusion::arrow::compute::cast(a, &DataType::Int32).ok()?;
            let a = a.as_primitive::<datafusion::arrow::datatypes::Int32Type>();
            (!a.is_null(0)).then(|| format_date(a.value(0)))
        });
        Ok(Self {
            as_of,
            rows_read: int("rows_read")?,
            duplicate_rows: int("duplicate_rows")?,
            null_customer_or_time: int("null_customer_or_time")?,
            invalid_amount: int("invalid_amount")?,
            after_as_of: int("after_as_of")?,
            negative_amount: int("negative_amount")?,
            zero_amount: int("zero_amount")?,
            rows_used: int("rows_used")?,
            customers: int("customers")?,
            customers_without_purchases: int("customers_without_purchases")?,
            null_order_id: int("null_order_id")?,
        })
    }

    /// One line per policy: (policy, action under `o`, rows or customers affected).
    pub fn lines(&self, o: &ClvOptions) -> Vec<(&'static str, &'static str, u64)> {
        let mut lines = vec![
            ("rows read", "", self.rows_read),
            (
                "duplicate rows",
                if o.dedupe { "dropped" } else { "kept" },
                self.duplicate_rows,
            ),
            ("null customer id or time", "excluded", self.null_customer_or_time),
            (
                "null/NaN/infinite amount",
                match o.invalid_amounts {
                    InvalidAmounts::Exclude => "excluded",
                    InvalidAmounts::Error => "error",
                },
                self.invalid_amount,
            ),
            ("after the as-of date", "excluded", self.after_as_of),
            (
                "negative amount",
                match o.negative_amounts {
                    NegativeAmounts::Net => "netted",
                    NegativeAmounts::Exclude => "excluded",
                    NegativeAmounts::Error => "error",
                },
                self.negative_amount,
            ),
            ("zero amount", "kept", self.zero_amount),
            ("rows used", "", self.rows_used),
            ("customers", "", self.customers),
            (
                "customers with only refunds",
                "excluded",
                self.customers_without_purchases,
            ),
        ];
        if orders_by_id(o) {
            lines.insert(7, ("null order id", "one order per row", self.null_order_id));
        }
        lines
    }
}
