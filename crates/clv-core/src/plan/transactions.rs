//! The transaction contract: column checks, data policies and the per-customer summary.
//!
//! Every clv computation starts here. [`prepare`] checks the columns, applies the data
//! policies in a fixed order and yields one row per valid transaction with normalised columns;
//! [`customer_summary`] aggregates that into one row per customer. Both are ordinary logical
//! plans, so projection and filter pushdown reach the scan, and Ballista runs them unchanged.
//!
//! Policy order (a row is attributed to the first policy that applies to it):
//! 1. `dedupe`: exact duplicate rows (all source columns equal) are dropped when on.
//! 2. null customer id or time: excluded.
//! 3. null, NaN or infinite amount: excluded, or an error (`invalid_amounts`).
//! 4. date after the as-of date: excluded (only when an as-of date is given; the default as-of
//!    date is the day after the last remaining transaction, so nothing is after it).
//! 5. negative amount: `net` keeps it as a non-order that reduces monetary, `exclude` drops it,
//!    `error` fails the query.
//!
//! Zero amounts are ordinary orders.

use std::ops::Not;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, Result};
use datafusion::functions_aggregate::expr_fn::{count, max, min, sum};
use datafusion::functions_aggregate::min_max::max_udaf;
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{Expr, ExprFunctionExt, LogicalPlan, LogicalPlanBuilder, cast, ident, lit, when};

use crate::churn::calendar::Period;
use crate::common::types::{is_amount_type, is_id_type, is_time_type};
use crate::config::{ClvOptions, Collapse, IdType, InvalidAmounts, Monetary, NegativeAmounts};
use crate::udf::clv_check::clv_check;
use crate::udf::clv_period_index::clv_period_index_udf;
use crate::udf::clv_period_start::clv_period_start_udf;

/// Output and internal column names.
pub mod columns {
    /// The customer id, as in the source.
    pub const CUSTOMER: &str = "customer_id";
    /// The transaction time, as in the source.
    pub(crate) const TIME: &str = "__clv_time";
    /// The transaction date as days since 1970-01-01 (Int32).
    pub(crate) const DAY: &str = "__clv_day";
    /// The amount, exactly: Decimal128(38, s).
    pub(crate) const AMOUNT: &str = "__clv_amount";
    /// True for purchases, false for netted refunds.
    pub(crate) const PURCHASE: &str = "__clv_purchase";
    /// The order key (order id or day) when orders are counted by key.
    pub(crate) const ORDER: &str = "__clv_order";
    /// The last day with any valid transaction (for the default as-of date).
    pub(crate) const LAST_ACTIVITY: &str = "__clv_last_activity";
    /// The as-of day (Int32 days since 1970-01-01).
    pub(crate) const AS_OF: &str = "__clv_as_of";
}
use columns::*;

const ID_TYPES: &str = "Int32, Int64, UInt32, UInt64, Utf8, LargeUtf8, Utf8View or a Dictionary of those";
const TIME_TYPES: &str = "Date32, Date64 or Timestamp (any unit and time zone)";
const AMOUNT_TYPES: &str = "an integer, a float or Decimal128";

/// The exact type amounts are summed in: integers at scale 0, decimals at their own scale,
/// floats rounded to 9 decimal places (a per-value rounding, so sums stay order-independent).
pub fn exact_amount_type(t: &DataType) -> DataType {
    match t {
        DataType::Decimal128(_, s) => DataType::Decimal128(38, *s),
        t if t.is_floating() => DataType::Decimal128(38, 9),
        _ => DataType::Decimal128(38, 0),
    }
}

/// The magnitude from which a float amount cannot be summed exactly: 10^(38 − 9), the limit
/// of Decimal128(38, 9) ([`exact_amount_type`]).
pub(crate) const FLOAT_AMOUNT_LIMIT: f64 = 1e29;

/// The error for a float amount at or beyond [`FLOAT_AMOUNT_LIMIT`].
pub(crate) fn huge_amount_message(column: &str) -> String {
    format!(
        "amount column '{column}' has a value of 1e29 or more in magnitude, which clv cannot sum exactly \
         (float amounts are summed as decimals with 9 places, below 1e29); check the value, or give the \
         column a decimal type with fewer places"
    )
}

/// The error of `invalid_amounts = 'error'` for the amount column `column`.
pub(crate) fn invalid_amount_message(column: &str) -> String {
    format!(
        "amount column '{column}' has a null, NaN or infinite value and invalid_amounts = 'error'; \
         use invalid_amounts = 'exclude' to drop and count such rows"
    )
}

/// The error of `negative_amounts = 'error'` for the amount column `column`.
pub(crate) fn negative_amount_message(column: &str) -> String {
    format!(
        "amount column '{column}' has a negative value and negative_amounts = 'error'; \
         use negative_amounts = 'net' (refunds reduce monetary) or 'exclude'"
    )
}

/// The exact total of the amount column `column` of `builder` (over the rows of `filter`):
/// summed in Decimal256 (which no realistic number of rows can overflow, where a Decimal128
/// sum wraps around silently) and brought back to its Decimal128 type, an error (not a wrong
/// number) if it does not fit.
pub(crate) fn exact_total(builder: &LogicalPlanBuilder, column: &str, filter: Option<Expr>) -> Result<Expr> {
    let t = builder
        .schema()
        .field_with_unqualified_name(column)?
        .data_type()
        .clone();
    let (argument, wide) = match t {
        DataType::Decimal128(_, scale) => (
            cast(ident(column), DataType::Decimal256(76, scale)),
            Some(DataType::Decimal128(38, scale)),
        ),
        _ => (ident(column), None),
    };
    let total = match filter {
        Some(f) => sum(argument).filter(f).build()?,
        None => sum(argument),
    };
    Ok(match wide {
        Some(t) => cast(total, t),
        None => total,
    })
}

fn check_column(
    schema: &DFSchema,
    name: &str,
    role: &str,
    option: &str,
    accepted: fn(&DataType) -> bool,
    accepted_text: &str,
) -> Result<DataType> {
    let Ok(field) = schema.field_with_unqualified_name(name) else {
        let have: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        return crate::input_err!(
            "{role} column '{name}' not found; the input has columns [{}] (choose another with {option})",
            have.join(", ")
        );
    };
    let t = field.data_type();
    if t == &DataType::Null {
        return crate::input_err!(
            "empty input: {role} column '{name}' has no value to tell its type (a file with a header only, empty \
             standard input, or a column that is null in every row)"
        );
    }
    if !accepted(t) {
        return crate::input_err!("{role} column '{name}' has type {t}; expected {accepted_text}");
    }
    Ok(t.clone())
}

/// The text id `id` as an Int64, failing (naming the `role` column) on a text that is not the
/// plain form of its integer: "007" or "+7" would become 7 and merge with "7".
pub fn checked_integer_id(id: Expr, role: &str, column: &str) -> Result<Expr> {
    let number = Expr::TryCast(datafusion::logical_expr::TryCast::new(
        Box::new(id.clone()),
        DataType::Int64,
    ));
    let plain = cast(number.clone(), DataType::Utf8).eq(cast(id.clone(), DataType::Utf8));
    let violation = id.clone().is_not_null().and(plain.is_not_true());
    let message = format!(
        "{role} column '{column}' holds an id that is not the plain form of an integer, so reading the ids as \
         numbers would merge distinct ids (such as '007' and '7'); keep them as text with 'id_type=string'"
    );
    when(clv_check(violation, &message, id.clone(), id), number).end()
}

/// An id column as `id_type` asks: text, integer (checked) or as it is.
fn typed_id(id: Expr, t: &DataType, o: &ClvOptions, role: &str, column: &str) -> Result<Expr> {
    let text = |t: &DataType| match t {
        DataType::Dictionary(_, v) => matches!(**v, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View),
        t => matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View),
    };
    Ok(match o.id_type {
        IdType::String if !text(t) => cast(id, DataType::Utf8),
        IdType::Integer if text(t) => checked_integer_id(id, role, column)?,
        _ => id,
    })
}

/// The checked input columns.
#[derive(Debug, Clone)]
pub struct ContractTypes {
    /// Customer id type.
    pub customer: DataType,
    /// Time type.
    pub time: DataType,
    /// Amount type.
    pub amount: DataType,
    /// Order id type, if an order column is used.
    pub order: Option<DataType>,
}

/// Checks that the source has the contract's columns with accepted types.
pub fn check_contract(schema: &DFSchema, o: &ClvOptions) -> Result<ContractTypes> {
    Ok(ContractTypes {
        customer: check_column(
            schema,
            &o.customer_column,
            "customer id",
            "customer_column",
            is_id_type,
            ID_TYPES,
        )?,
        time: check_column(schema, &o.time_column, "time", "time_column", is_time_type, TIME_TYPES)?,
        amount: check_column(
            schema,
            &o.amount_column,
            "amount",
            "amount_column",
            is_amount_type,
            AMOUNT_TYPES,
        )?,
        order: match &o.order_column {
            Some(c) => Some(check_column(
                schema,
                c,
                "order id",
                "order_column",
                is_id_type,
                ID_TYPES,
            )?),
            None => None,
        },
    })
}

/// The policy conditions over the projected columns (see the module docs for the order).
pub(crate) struct Conditions {
    /// Customer id and time are both present.
    pub valid_key: Expr,
    /// The amount is present and finite.
    pub valid_amount: Expr,
    /// The date is on or before the as-of date (true when none is given).
    pub within_as_of: Expr,
    /// The amount is negative.
    pub negative: Expr,
    /// The amount is zero.
    pub zero: Expr,
}

const RAW_AMOUNT: &str = "__clv_raw_amount";

/// Projects the source to the contract columns and builds the policy conditions.
pub(crate) fn project_contract(
    source: LogicalPlan,
    o: &ClvOptions,
) -> Result<(LogicalPlanBuilder, ContractTypes, Conditions)> {
    let types = check_contract(source.schema(), o)?;
    let mut builder = LogicalPlanBuilder::from(source);
    if o.dedupe {
        builder = builder.distinct()?;
    }
    let mut exprs = vec![
        typed_id(
            ident(&o.customer_column),
            &types.customer,
            o,
            "customer id",
            &o.customer_column,
        )?
        .alias(CUSTOMER),
        ident(&o.time_column).alias(TIME),
        cast(cast(ident(&o.time_column), DataType::Date32), DataType::Int32).alias(DAY),
        ident(&o.amount_column).alias(RAW_AMOUNT),
    ];
    if let (Some(order), Some(t)) = (&o.order_column, &types.order) {
        exprs.push(typed_id(ident(order), t, o, "order id", order)?.alias(ORDER));
    }
    let builder = builder.project(exprs)?;

    let amount = ident(RAW_AMOUNT);
    let valid_amount = if types.amount.is_floating() {
        let big = lit(f64::MAX);
        amount
            .clone()
            .is_not_null()
            .and(cast(amount.clone(), DataType::Float64).between(-big.clone(), big))
    } else {
        amount.clone().is_not_null()
    };
    let within_as_of = match o.as_of {
        Some(d) => ident(DAY).lt_eq(lit(d)),
        None => lit(true),
    };
    let conditions = Conditions {
        valid_key: ident(CUSTOMER).is_not_null().and(ident(TIME).is_not_null()),
        valid_amount,
        within_as_of,
        negative: amount.clone().lt(lit(0)),
        zero: amount.eq(lit(0)),
    };
    Ok((builder, types, conditions))
}

/// Applies the data policies; one row per valid transaction with columns
/// `customer_id, __clv_time, __clv_day, __clv_amount, __clv_purchase [, __clv_order]`.
pub fn prepare(source: LogicalPlan, o: &ClvOptions) -> Result<LogicalPlan> {
    prepare_amounts(source, o, Amounts::Exact)
}

/// How [`prepare_amounts`] hands over `__clv_amount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Amounts {
    /// In its exact type ([`exact_amount_type`]), as [`prepare`] does.
    Exact,
    /// As in the source, for an operator that converts each value itself, exactly as the cast
    /// would.
    AsInSource,
    /// As in the source, with the rows whose amount is null, NaN or infinite left in: the
    /// operator drops them itself (`invalid_amounts = 'exclude'` only; with `'error'` the
    /// check stays in the plan).
    Unchecked,
}

/// [`prepare`], with `__clv_amount` handed over as `amounts` says.
pub(crate) fn prepare_amounts(source: LogicalPlan, o: &ClvOptions, amounts: Amounts) -> Result<LogicalPlan> {
    let (builder, types, c) = project_contract(source, o)?;
    let customer = ident(CUSTOMER);
    let amount = ident(RAW_AMOUNT);
    // Beyond this the exact conversion below cannot represent a float amount (the fused
    // operator converts, and checks, each amount itself).
    let huge_check = (amounts == Amounts::Exact && types.amount.is_floating()).then(|| {
        let huge = c.valid_key.clone().and(c.valid_amount.clone()).and(
            datafusion::functions::math::expr_fn::abs(cast(amount.clone(), DataType::Float64))
                .gt_eq(lit(FLOAT_AMOUNT_LIMIT)),
        );
        clv_check(
            huge,
            &huge_amount_message(&o.amount_column),
            customer.clone(),
            amount.clone(),
        )
    });
    let mut keep = c.valid_key.clone();
    match o.invalid_amounts {
        InvalidAmounts::Exclude if amounts == Amounts::Unchecked => {}
        InvalidAmounts::Exclude => keep = keep.and(c.valid_amount.clone()),
        InvalidAmounts::Error => {
            let violation = c.valid_key.clone().and(c.valid_amount.clone().not());
            let message = invalid_amount_message(&o.amount_column);
            keep = keep
                .and(clv_check(violation, &message, customer.clone(), amount.clone()))
                .and(c.valid_amount.clone());
        }
    }
    keep = keep.and(c.within_as_of.clone());
    let purchase = match o.negative_amounts {
        NegativeAmounts::Net => c.negative.clone().not(),
        NegativeAmounts::Exclude => {
            keep = keep.and(c.negative.clone().not());
            lit(true)
        }
        NegativeAmounts::Error => {
            let violation = c
                .valid_key
                .and(c.valid_amount)
                .and(c.within_as_of)
                .and(c.negative.clone());
            let message = negative_amount_message(&o.amount_column);
            keep = keep.and(clv_check(violation, &message, customer.clone(), amount.clone()));
            lit(true)
        }
    };
    let mut exprs = vec![
        customer,
        ident(TIME),
        ident(DAY),
        match (amounts, huge_check) {
            // In the projection, not a filter: the scan's pushed-down predicates stay as they are.
            (Amounts::Exact, Some(check)) => when(check, cast(amount, exact_amount_type(&types.amount))).end()?,
            (Amounts::Exact, None) => cast(amount, exact_amount_type(&types.amount)),
            _ => amount,
        }
        .alias(AMOUNT),
        purchase.alias(PURCHASE),
    ];
    if o.order_column.is_some() {
        exprs.push(ident(ORDER));
    }
    builder.filter(keep)?.project(exprs)?.build()
}

/// The last purchase time of an order (period), next to its first in `__clv_time`.
const LAST_TIME: &str = "__clv_last_time";
/// The orders a per-order row stands for.
const ORDERS: &str = "__clv_orders";

fn day_of(e: Expr) -> Expr {
    cast(cast(e, DataType::Date32), DataType::Int64)
}

/// One row per customer with at least one purchase:
/// `customer_id, recency_days, frequency, monetary, first_purchase, last_purchase, tenure_days`.
///
/// * frequency counts orders: rows, distinct order ids (`order_column`), or distinct days
///   (`collapse = day`, which takes precedence over `order_column`). Refund rows (negative
///   amounts under `net`) are not orders; an order counts if any of its rows is a purchase.
/// * monetary is the exact sum of all kept amounts (refunds included), or that sum divided by
///   frequency (`monetary = mean`), as Float64.
/// * first/last purchase are the earliest/latest purchase times, in the source's time type.
/// * recency_days = as_of − date(last_purchase); tenure_days = as_of − date(first_purchase).
/// * customers whose rows are all refunds have no purchase and are excluded (and counted by
///   the policy report as `customers_without_purchases`).
pub fn customer_summary(source: LogicalPlan, o: &ClvOptions) -> Result<LogicalPlan> {
    customer_summary_with_as_of(source, o, false)
}

/// [`customer_summary`], optionally keeping the `__clv_as_of` column.
pub(crate) fn customer_summary_with_as_of(
    source: LogicalPlan,
    o: &ClvOptions,
    keep_as_of: bool,
) -> Result<LogicalPlan> {
    let prepared = prepare(source, o)?;
    let as_of = o.as_of.map(|d| cast(lit(d), DataType::Int64));
    summarize(LogicalPlanBuilder::from(prepared), o, &[], as_of, keep_as_of)?.build()
}

/// The first day (Int32 days since 1970-01-01) of the calendar `period` containing the Int32
/// day `day`: the day itself for `day`, the Monday for `week`, the 1st for `month`.
pub(crate) fn period_start_day(day: Expr, period: Period) -> Expr {
    if period == Period::Day {
        return day;
    }
    let grain = || lit(period.as_str());
    let index = clv_period_index_udf().call(vec![cast(day, DataType::Date32), grain()]);
    cast(clv_period_start_udf().call(vec![index, grain()]), DataType::Int32)
}

/// The per-customer summary of prepared transaction rows (see [`customer_summary`]), grouped by
/// the customer and the extra `keys` columns (e.g. a cutoff date), which are kept after
/// `customer_id`. `as_of` is the as-of day (Int64 days since 1970-01-01) as an expression over
/// the keys; `None` takes the day after the last transaction of the whole input.
pub(crate) fn summarize(
    prepared: LogicalPlanBuilder,
    o: &ClvOptions,
    keys: &[&str],
    as_of: Option<Expr>,
    keep_as_of: bool,
) -> Result<LogicalPlanBuilder> {
    let group = |extra: Vec<Expr>| -> Vec<Expr> {
        std::iter::once(ident(CUSTOMER))
            .chain(keys.iter().map(|k| ident(*k)))
            .chain(extra)
            .collect()
    };
    let order_key = match (o.collapse.unwrap_or(Collapse::None).period(), &o.order_column) {
        (Some(period), _) => Some(period_start_day(ident(DAY), period)),
        (None, Some(_)) => Some(ident(ORDER)),
        (None, None) => None,
    };
    let per_order = order_key.is_some();
    let mut builder = prepared;
    // The latest purchase time of each row: the transaction's own, or its order's (period's),
    // whose last purchase may be later than its first (in `__clv_time`).
    let mut last = TIME;
    if let Some(order_key) = order_key {
        // One row per (customer, order): the order's first and last purchase times and net amount.
        let purchases = count(lit(1)).filter(ident(PURCHASE)).build()?;
        let order_total = exact_total(&builder, AMOUNT, None)?;
        builder = builder
            .aggregate(
                group(vec![order_key.alias("__clv_key")]),
                vec![
                    min(ident(TIME)).filter(ident(PURCHASE)).build()?.alias(TIME),
                    max(ident(TIME)).filter(ident(PURCHASE)).build()?.alias(LAST_TIME),
                    max(ident(DAY)).alias(DAY),
                    order_total.alias(AMOUNT),
                    purchases.alias("__clv_purchases"),
                ],
            )?
            .project(group(vec![
                ident(TIME),
                ident(LAST_TIME),
                ident(DAY),
                ident(AMOUNT),
                ident("__clv_purchases").gt(lit(0)).alias(PURCHASE),
                // Orders: 1 for an order with a purchase; the rows with a null order id are
                // grouped together here but are each an order of their own.
                when(ident("__clv_key").is_null(), ident("__clv_purchases"))
                    .when(ident("__clv_purchases").gt(lit(0)), lit(1_i64))
                    .otherwise(lit(0_i64))?
                    .alias(ORDERS),
            ]))?;
        last = LAST_TIME;
    }
    let frequency = if per_order {
        sum(ident(ORDERS))
    } else {
        count(lit(1)).filter(ident(PURCHASE)).build()?
    };
    let total = exact_total(&builder, AMOUNT, None)?;
    let builder = builder.aggregate(
        group(vec![]),
        vec![
            frequency.alias("frequency"),
            min(ident(TIME))
                .filter(ident(PURCHASE))
                .build()?
                .alias("first_purchase"),
            max(ident(last)).filter(ident(PURCHASE)).build()?.alias("last_purchase"),
            total.alias("__clv_sum"),
            max(ident(DAY)).alias(LAST_ACTIVITY),
        ],
    )?;
    // The default as-of date is the day after the last valid transaction of the whole input.
    let (builder, as_of) = match as_of {
        Some(as_of) => (builder, as_of),
        None => (
            builder.window(vec![
                Expr::from(WindowFunction::new(max_udaf(), vec![ident(LAST_ACTIVITY)])).alias(AS_OF),
            ])?,
            cast(ident(AS_OF), DataType::Int64) + lit(1_i64),
        ),
    };
    let total = cast(ident("__clv_sum"), DataType::Float64);
    let monetary = match o.rfm_monetary {
        Monetary::Sum => total,
        Monetary::Mean => total / cast(ident("frequency"), DataType::Float64),
    };
    let mut exprs = group(vec![]);
    exprs.extend([
        (as_of.clone() - day_of(ident("last_purchase"))).alias("recency_days"),
        ident("frequency"),
        monetary.alias("monetary"),
        ident("first_purchase"),
        ident("last_purchase"),
        (as_of.clone() - day_of(ident("first_purchase"))).alias("tenure_days"),
    ]);
    if keep_as_of {
        exprs.push(cast(as_of, DataType::Int32).alias(AS_OF));
    }
    builder.filter(ident("frequency").gt(lit(0)))?.project(exprs)
}
