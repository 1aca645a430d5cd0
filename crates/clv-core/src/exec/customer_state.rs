//! The per-customer state of `rfm()`: the customer totals of the fused operator
//! ([`super::rfm_exec`]) kept between runs, so a refresh costs what the new rows cost.
//!
//! A [`CustomerState`] holds exactly what the fused operator's aggregation holds per customer
//! ([`CustomerAggregator`]: purchase count, first and last purchase time, the exact amount sum,
//! the last day with any kept row), the row counts of the data policies, the options that
//! shaped the totals ([`StateShape`]) and the ids of the batches folded in. The rules:
//!
//! * **Order does not matter.** Counts and exact (integer) sums add, the first purchase is a
//!   minimum and the last purchase and last day maxima, so a late or out-of-order row (older
//!   than the state's last day) is merged exactly: it moves the first purchase back if it is
//!   the earliest, and leaves the last purchase and recency alone if it is not the latest.
//! * **Refunds** of old orders (negative amounts) under `negative_amounts=net` reduce the sum
//!   whenever they arrive; they are not purchases, as in a full recompute. A customer whose
//!   kept rows are all refunds stays in the state (no purchase: not scored) until a purchase
//!   arrives.
//! * **A batch is folded in once**: every build and refresh names its batch, and a batch id
//!   already in the state is refused.
//! * **No as-of filter**: the state keeps every row whatever `clv.as_of` says; the as-of date is
//!   a scoring option. Scoring as of any date on or after the state's last day equals a full
//!   recompute as of that date; an earlier date is refused (the state cannot forget rows).
//! * **Options that shape the totals** (`negative_amounts`, `invalid_amounts`, and the source's
//!   id, time and amount types, which fix the id index, the days and the amount scale) are
//!   recorded; a refresh under different ones is refused naming the option. Options the state
//!   cannot keep exactly are refused at build time: `collapse` other than `none`,
//!   `order_column`, `dedupe` (duplicates across batches), `rfm_lookback_days`, and `id_type`
//!   other than `auto`. Scoring options (`bins`, `method`, `scheme`, `monetary`, thresholds)
//!   are free at every scoring.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Decimal128Array, Int64Array, RecordBatch, UInt32Array,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Date32Type, Decimal128Type, Field, Schema, SchemaRef, UInt32Type};
use datafusion::common::{Result, internal_err};
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder, ident};
use datafusion::physical_plan::execute_stream;
use futures::StreamExt;

use super::rfm_rows::{PartitionRows, RowPolicies, add_row_counts, time_values};
use crate::config::{ClvOptions, Collapse, IdType, InvalidAmounts, NegativeAmounts};
use crate::plan::report::PolicyReport;
use crate::plan::transactions::{check_contract, exact_amount_type};
use crate::rfm::customers::{CustomerAggregator, CustomerTotals, is_supported_id_type};

/// The version of the state's schema, written in every state file.
pub const STATE_VERSION: u32 = 1;

/// The state's columns, one row per customer with a kept row.
pub const STATE_COLUMNS: [&str; 6] = [
    "customer_id",
    "first_purchase",
    "last_purchase",
    "amount_sum",
    "purchases",
    "last_day",
];

/// What shapes a state's totals: the source's types and the row policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateShape {
    /// The customer id type.
    pub id_type: DataType,
    /// The time type (with its time zone: days are local days).
    pub time_type: DataType,
    /// The exact type amounts are summed in, `Decimal128(38, s)`.
    pub amount_type: DataType,
    /// `clv.invalid_amounts`.
    pub invalid_amounts: InvalidAmounts,
    /// `clv.negative_amounts`.
    pub negative_amounts: NegativeAmounts,
}

impl StateShape {
    /// Refuses `other` (new rows, or another state) unless it has this shape, naming what
    /// differs.
    pub fn check_same(&self, other: &StateShape) -> Result<()> {
        let differs = |what: &str, state: String, new: String| {
            crate::usage_err!(
                "the customer state was built with {what} {state}, the new rows have {new}: \
                 rebuild the state from all transactions to change it"
            )
        };
        if self.invalid_amounts != other.invalid_amounts {
            return differs(
                "the option invalid_amounts =",
                self.invalid_amounts.to_string(),
                other.invalid_amounts.to_string(),
            );
        }
        if self.negative_amounts != other.negative_amounts {
            return differs(
                "the option negative_amounts =",
                self.negative_amounts.to_string(),
                other.negative_amounts.to_string(),
            );
        }
        for (what, a, b) in [
            ("customer id type", &self.id_type, &other.id_type),
            ("time type", &self.time_type, &other.time_type),
            ("exact amount type", &self.amount_type, &other.amount_type),
        ] {
            if a != b {
                return differs(what, a.to_string(), b.to_string());
            }
        }
        Ok(())
    }

    /// The Arrow schema of the state's rows.
    pub fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new(STATE_COLUMNS[0], self.id_type.clone(), false),
            Field::new(STATE_COLUMNS[1], self.time_type.clone(), true),
            Field::new(STATE_COLUMNS[2], self.time_type.clone(), true),
            Field::new(STATE_COLUMNS[3], self.amount_type.clone(), false),
            Field::new(STATE_COLUMNS[4], DataType::UInt32, false),
            Field::new(STATE_COLUMNS[5], DataType::Date32, false),
        ]))
    }
}

/// Refuses options a customer state cannot keep exactly (see the module documentation).
pub fn check_state_options(o: &ClvOptions) -> Result<()> {
    let refuse =
        |option: &str, why: &str| crate::usage_err!("the customer state does not support the option {option}: {why}");
    if o.collapse.is_some_and(|c| c != Collapse::None) {
        return refuse("collapse", "purchases are kept per row (collapse=none)");
    }
    if o.order_column.is_some() {
        return refuse("order_column", "frequency counts rows, not distinct orders");
    }
    if o.dedupe {
        return refuse("dedupe", "duplicates across batches cannot be found from totals");
    }
    if o.rfm_lookback_days.is_some() {
        return refuse(
            "rfm_lookback_days",
            "a lookback window forgets rows; the state keeps them all",
        );
    }
    if o.id_type != IdType::Auto {
        return refuse("id_type", "ids are kept as the source has them (id_type=auto)");
    }
    Ok(())
}

/// The per-customer state of `rfm()`; see the module documentation.
#[derive(Debug)]
pub struct CustomerState {
    agg: CustomerAggregator,
    /// The row counts of the data policies over every batch folded in (`after_as_of` is 0:
    /// the state has no as-of filter; the customer counts are not kept).
    pub counts: PolicyReport,
    /// The options and types that shaped the totals.
    pub shape: StateShape,
    /// The ids of the batches folded in, in order.
    pub batches: Vec<String>,
}

impl CustomerState {
    /// The state of the rows of `source` under `o`, as batch `batch`.
    pub async fn build(session: &SessionState, source: LogicalPlan, o: &ClvOptions, batch: &str) -> Result<Self> {
        check_state_options(o)?;
        let types = check_contract(source.schema(), o)?;
        if !is_supported_id_type(&types.customer) {
            return crate::usage_err!(
                "the customer state does not support customer ids of type {} (column {})",
                types.customer,
                o.customer_column
            );
        }
        let shape = StateShape {
            id_type: types.customer.clone(),
            time_type: types.time.clone(),
            amount_type: exact_amount_type(&types.amount),
            invalid_amounts: o.invalid_amounts,
            negative_amounts: o.negative_amounts,
        };
        let policies = RowPolicies {
            customer: o.customer_column.clone(),
            time: o.time_column.clone(),
            amount: o.amount_column.clone(),
            time_type: types.time,
            exact_amount: shape.amount_type.clone(),
            as_of: None,
            invalid_amounts: o.invalid_amounts,
            negative_amounts: o.negative_amounts,
            fingerprints: false,
        };
        let mut columns: Vec<&String> = vec![];
        for c in [&o.customer_column, &o.time_column, &o.amount_column] {
            if !columns.contains(&c) {
                columns.push(c);
            }
        }
        let input = LogicalPlanBuilder::from(source)
            .project(columns.into_iter().map(ident))?
            .build()?;
        let plan = session.create_physical_plan(&input).await?;
        let mut rows = PartitionRows::new(&policies, &shape.id_type)?;
        let mut stream = execute_stream(plan, session.task_ctx())?;
        while let Some(b) = stream.next().await {
            rows.add(&b?, &policies)?;
        }
        Ok(Self {
            agg: rows.agg,
            counts: rows.counts,
            shape,
            batches: vec![batch.to_string()],
        })
    }

    /// Folds `other` (the state of new rows) into this state: time linear in `other`'s
    /// customers. Refused when the shapes differ or a batch of `other` is already in.
    pub fn merge(&mut self, other: CustomerState) -> Result<()> {
        self.shape.check_same(&other.shape)?;
        if let Some(b) = other.batches.iter().find(|b| self.batches.contains(b)) {
            return crate::usage_err!(
                "the batch '{b}' is already in the customer state: a batch is merged once \
                 (batches in the state: {})",
                self.batches.join(", ")
            );
        }
        self.agg.merge(other.agg)?;
        add_row_counts(&mut self.counts, &other.counts);
        self.batches.extend(other.batches);
        Ok(())
    }

    /// The last day (days since 1970-01-01) with a kept row, `None` for an empty state.
    pub fn last_day(&self) -> Option<i32> {
        self.agg
            .totals
            .iter()
            .map(|c| c.last_day)
            .filter(|d| *d != i32::MIN)
            .max()
    }

    /// Customers in the state (with a kept row, purchases or not).
    pub fn customers(&self) -> usize {
        self.agg.totals.iter().filter(|c| c.last_day != i32::MIN).count()
    }

    /// The state's rows ([`StateShape::schema`]), in customer-id order (the same bytes
    /// whatever order the rows arrived in).
    pub fn to_batch(&self) -> Result<RecordBatch> {
        let totals = &self.agg.totals;
        let kept: Vec<u32> = (0..totals.len() as u32)
            .filter(|s| totals[*s as usize].last_day != i32::MIN)
            .collect();
        let slots = self.agg.keys.key_order(&kept);
        let at = |s: &u32| &totals[*s as usize];
        let time = |f: fn(&CustomerTotals) -> i64| -> Result<ArrayRef> {
            let values: Int64Array = slots.iter().map(|s| (at(s).purchases > 0).then(|| f(at(s)))).collect();
            Ok(cast(&values, &self.shape.time_type)?)
        };
        let DataType::Decimal128(precision, scale) = self.shape.amount_type else {
            return internal_err!("customer state: amount type {}", self.shape.amount_type);
        };
        let sums = Decimal128Array::from_iter_values(slots.iter().map(|s| self.agg.sum(*s)))
            .with_precision_and_scale(precision, scale)?;
        let columns: Vec<ArrayRef> = vec![
            self.agg.keys.ids(&slots)?,
            time(|c| c.first)?,
            time(|c| c.last)?,
            Arc::new(sums),
            Arc::new(UInt32Array::from_iter_values(slots.iter().map(|s| at(s).purchases))),
            Arc::new(Date32Array::from_iter_values(slots.iter().map(|s| at(s).last_day))),
        ];
        Ok(RecordBatch::try_new(self.shape.schema(), columns)?)
    }

    /// A state from its rows (as [`Self::to_batch`] writes them), counts and batches.
    pub fn from_batches(
        shape: StateShape,
        batches: &[RecordBatch],
        counts: PolicyReport,
        batch_ids: Vec<String>,
    ) -> Result<Self> {
        let mut agg = CustomerAggregator::new(&shape.id_type)?;
        for b in batches {
            fold_state_rows(&mut agg, b, None)?;
        }
        Ok(Self {
            agg,
            counts,
            shape,
            batches: batch_ids,
        })
    }
}

/// Folds a batch of state rows (the columns of [`STATE_COLUMNS`]) into `agg`. With `as_of`,
/// a row whose last day is after it is refused: the state cannot be scored as of a date
/// before rows it holds.
pub(super) fn fold_state_rows(agg: &mut CustomerAggregator, batch: &RecordBatch, as_of: Option<i32>) -> Result<()> {
    let column = |name: &str| -> Result<&ArrayRef> { Ok(batch.column(batch.schema_ref().index_of(name)?)) };
    let ids = column(STATE_COLUMNS[0])?;
    let (mut first, mut last) = (vec![], vec![]);
    time_values(column(STATE_COLUMNS[1])?, &mut first)?;
    time_values(column(STATE_COLUMNS[2])?, &mut last)?;
    let sums = column(STATE_COLUMNS[3])?.as_primitive::<Decimal128Type>().values();
    let purchases = column(STATE_COLUMNS[4])?.as_primitive::<UInt32Type>().values();
    let last_day = column(STATE_COLUMNS[5])?.as_primitive::<Date32Type>().values();
    if ids.null_count() > 0 {
        return crate::input_err!("the customer state has a null customer_id");
    }
    if let (Some(d), Some(max)) = (as_of, last_day.iter().max())
        && *max > d
    {
        return crate::usage_err!(
            "the customer state holds rows up to {}, after the as-of date {}: score it as of a \
             date on or after its last day, or recompute from the transactions",
            crate::common::dates::format_date(*max),
            crate::common::dates::format_date(d)
        );
    }
    let totals: Vec<CustomerTotals> = (0..batch.num_rows())
        .map(|i| {
            let bought = purchases[i] > 0;
            CustomerTotals::new(
                if bought { first[i] } else { i64::MAX },
                if bought { last[i] } else { i64::MIN },
                purchases[i],
                last_day[i],
            )
        })
        .collect();
    agg.add_totals(ids, &totals, sums)
}
