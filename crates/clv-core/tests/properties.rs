//! Property-based tests over random transaction tables (proptest).
//!
//! Each case is a random table: customer ids of a random type (Int32, Int64, UInt64 beyond
//! 2^63, Utf8 with leading-zero ids, a dictionary), times of a random type (Date32, Date64,
//! Timestamp of every unit, with and without a time zone), amounts of a random type (Int64,
//! Float64, Decimal128); with null ids, null times, null, NaN and ±infinite amounts, zeros,
//! refunds, exact duplicate rows, extreme dates (years 53 to 9909 where the unit holds them)
//! and extreme amounts (±10^15); an explicit or a default as-of date; a purchase grain
//! (`collapse` none, day, week or month); rows in a random order over a random number of
//! partitions and batches.
//!
//! Asserted for every case: nothing panics; the `rfm()` summary, `cohort_retention` and
//! `churn_labels` equal a naive row-by-row reference written here in plain Rust (no clv or
//! DataFusion code); and the three results are identical, row for row and bit for bit, for a
//! second shuffle and partitioning of the same rows (and with the fused `rfm()` operator
//! switched off in one of the two runs).
//!
//! The case budget is fixed for `cargo test` (`DEFAULT_CASES`, a few seconds); set
//! `CLV_PROPTEST_CASES` for a long run, e.g. `CLV_PROPTEST_CASES=2000 cargo test -p clv-core
//! --test properties --release` (docs/guide.md records the last long run).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Date64Array, Decimal128Array, DictionaryArray, Float64Array, Int32Array,
    Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray, TimestampMillisecondArray,
    TimestampNanosecondArray, TimestampSecondArray, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int32Type, Int64Type, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Cases per `cargo test` run.
const DEFAULT_CASES: u32 = 8;

#[derive(Debug, Clone, Copy, PartialEq)]
enum IdType {
    Int32,
    Int64,
    UInt64,
    Utf8,
    Dictionary,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum TimeType {
    Date32,
    Date64,
    Second,
    Millisecond,
    Microsecond,
    Nanosecond,
    /// Timestamp(Second, "+02:00"): a row's day is its date in that zone.
    SecondPlus2,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum AmountType {
    /// Whole units.
    Int64,
    /// Quarters (exact in binary).
    Float64,
    /// Cents, Decimal128(18, 2).
    Decimal,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Amount {
    Null,
    NaN,
    PlusInfinity,
    MinusInfinity,
    /// A value in the amount type's unit (whole units, quarters or cents).
    Value(i64),
}

#[derive(Debug, Clone)]
struct Row {
    id: Option<u8>,
    /// Days since 1970-01-01 (UTC) and seconds into the day.
    day: Option<i32>,
    second: u32,
    amount: Amount,
}

#[derive(Debug, Clone)]
struct Case {
    ids: IdType,
    times: TimeType,
    amounts: AmountType,
    rows: Vec<Row>,
    as_of: Option<i32>,
    cutoffs: [i32; 2],
    window: i32,
    /// The purchase grain of rfm() and churn_labels: none, day, week or month.
    collapse: &'static str,
    /// Two shuffles, each with its partition count and batch size.
    layouts: [(Vec<usize>, usize, usize); 2],
}

/// An ordinary day (around 2024), and the extremes a time type holds.
fn days(times: TimeType) -> impl Strategy<Value = i32> {
    let extreme = if times == TimeType::Nanosecond {
        (-100_000, 100_000) // Timestamp(ns) spans 1677..2262.
    } else {
        (-700_000, 2_900_000) // Years 53 and 9909.
    };
    prop_oneof![
        8 => 19_700..19_760i32,
        1 => Just(extreme.0),
        1 => Just(extreme.1),
    ]
}

fn amount() -> impl Strategy<Value = Amount> {
    prop_oneof![
        12 => (0i64..400).prop_map(Amount::Value),
        2 => Just(Amount::Value(0)),
        3 => (-200i64..0).prop_map(Amount::Value),
        1 => prop_oneof![Just(1_000_000_000_000_000i64), Just(-1_000_000_000_000_000)].prop_map(Amount::Value),
        1 => Just(Amount::Null),
        1 => Just(Amount::NaN),
        1 => Just(Amount::PlusInfinity),
        1 => Just(Amount::MinusInfinity),
    ]
}

fn row(times: TimeType) -> impl Strategy<Value = Row> {
    (
        prop_oneof![12 => (0u8..12).prop_map(Some), 1 => Just(None)],
        prop_oneof![12 => days(times).prop_map(Some), 1 => Just(None)],
        0u32..86_400,
        amount(),
    )
        .prop_map(|(id, day, second, amount)| Row {
            id,
            day,
            second,
            amount,
        })
}

fn layout(n: usize) -> impl Strategy<Value = (Vec<usize>, usize, usize)> {
    (Just((0..n).collect::<Vec<_>>()).prop_shuffle(), 1usize..5, 1usize..8)
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![
            Just(IdType::Int32),
            Just(IdType::Int64),
            Just(IdType::UInt64),
            Just(IdType::Utf8),
            Just(IdType::Dictionary)
        ],
        prop_oneof![
            Just(TimeType::Date32),
            Just(TimeType::Date64),
            Just(TimeType::Second),
            Just(TimeType::Millisecond),
            Just(TimeType::Microsecond),
            Just(TimeType::Nanosecond),
            Just(TimeType::SecondPlus2)
        ],
        prop_oneof![
            Just(AmountType::Int64),
            Just(AmountType::Float64),
            Just(AmountType::Decimal)
        ],
    )
        .prop_flat_map(|(ids, times, amounts)| {
            (
                Just((ids, times, amounts)),
                prop::collection::vec(row(times), 0..40),
                prop::option::of(19_700..19_770i32),
                (19_690..19_770i32, 19_690..19_770i32),
                (
                    prop_oneof![Just(1), Just(7), Just(30)],
                    prop_oneof![
                        3 => Just("none"),
                        1 => Just("day"),
                        1 => Just("week"),
                        1 => Just("month")
                    ],
                ),
                0usize..4,
            )
        })
        .prop_flat_map(
            |((ids, times, amounts), mut rows, as_of, cutoffs, (window, collapse), duplicates)| {
                // Exact duplicates of the first rows.
                let copies: Vec<Row> = rows.iter().take(duplicates).cloned().collect();
                rows.extend(copies);
                let n = rows.len();
                (
                    Just(Case {
                        ids,
                        times,
                        amounts,
                        rows,
                        as_of,
                        cutoffs: [cutoffs.0.min(cutoffs.1), cutoffs.0.max(cutoffs.1)],
                        window,
                        collapse,
                        layouts: [(vec![], 1, 1), (vec![], 1, 1)],
                    }),
                    layout(n),
                    layout(n),
                )
            },
        )
        .prop_map(|(mut case, a, b)| {
            case.layouts = [a, b];
            case
        })
}

// ---------------------------------------------------------------------------------------------
// The table as Arrow data.

fn id_text(ids: IdType, id: u8) -> String {
    match ids {
        IdType::Int32 | IdType::Int64 => id.to_string(),
        IdType::UInt64 => ((1u64 << 63) + u64::from(id)).to_string(),
        // Leading zeros on every fifth id: "00", "01", ... next to "1", "2", ...; all distinct.
        IdType::Utf8 | IdType::Dictionary if id.is_multiple_of(5) => format!("0{}", id / 5),
        IdType::Utf8 | IdType::Dictionary => id.to_string(),
    }
}

fn batch(case: &Case, rows: &[Row]) -> RecordBatch {
    let ids: ArrayRef = match case.ids {
        IdType::Int32 => Arc::new(Int32Array::from_iter(rows.iter().map(|r| r.id.map(i32::from)))),
        IdType::Int64 => Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.id.map(i64::from)))),
        IdType::UInt64 => Arc::new(UInt64Array::from_iter(
            rows.iter().map(|r| r.id.map(|i| (1u64 << 63) + u64::from(i))),
        )),
        IdType::Utf8 => Arc::new(StringArray::from_iter(
            rows.iter().map(|r| r.id.map(|i| id_text(case.ids, i))),
        )),
        IdType::Dictionary => {
            let texts: Vec<Option<String>> = rows.iter().map(|r| r.id.map(|i| id_text(case.ids, i))).collect();
            Arc::new(
                texts
                    .iter()
                    .map(Option::as_deref)
                    .collect::<DictionaryArray<Int32Type>>(),
            )
        }
    };
    let seconds = |r: &Row| r.day.map(|d| i64::from(d) * 86_400 + i64::from(r.second));
    let times: ArrayRef = match case.times {
        TimeType::Date32 => Arc::new(Date32Array::from_iter(rows.iter().map(|r| r.day))),
        TimeType::Date64 => Arc::new(Date64Array::from_iter(
            rows.iter().map(|r| r.day.map(|d| i64::from(d) * 86_400_000)),
        )),
        TimeType::Second => Arc::new(TimestampSecondArray::from_iter(rows.iter().map(seconds))),
        TimeType::Millisecond => Arc::new(TimestampMillisecondArray::from_iter(
            rows.iter().map(|r| seconds(r).map(|s| s * 1_000)),
        )),
        TimeType::Microsecond => Arc::new(TimestampMicrosecondArray::from_iter(
            rows.iter().map(|r| seconds(r).map(|s| s * 1_000_000)),
        )),
        TimeType::Nanosecond => Arc::new(TimestampNanosecondArray::from_iter(
            rows.iter().map(|r| seconds(r).map(|s| s * 1_000_000_000)),
        )),
        TimeType::SecondPlus2 => {
            Arc::new(TimestampSecondArray::from_iter(rows.iter().map(seconds)).with_timezone("+02:00"))
        }
    };
    let amounts: ArrayRef = match case.amounts {
        AmountType::Int64 => Arc::new(Int64Array::from_iter(rows.iter().map(|r| match r.amount {
            Amount::Value(v) => Some(v),
            _ => None,
        }))),
        AmountType::Decimal => Arc::new(
            Decimal128Array::from_iter(rows.iter().map(|r| match r.amount {
                Amount::Value(v) => Some(i128::from(v)),
                _ => None,
            }))
            .with_precision_and_scale(18, 2)
            .unwrap(),
        ),
        AmountType::Float64 => Arc::new(Float64Array::from_iter(rows.iter().map(|r| match r.amount {
            Amount::Value(v) => Some(v as f64 / 4.0),
            Amount::Null => None,
            Amount::NaN => Some(f64::NAN),
            Amount::PlusInfinity => Some(f64::INFINITY),
            Amount::MinusInfinity => Some(f64::NEG_INFINITY),
        }))),
    };
    let schema = Schema::new(vec![
        Field::new("customer_id", ids.data_type().clone(), true),
        Field::new("order_date", times.data_type().clone(), true),
        Field::new("amount", amounts.data_type().clone(), true),
    ]);
    RecordBatch::try_new(Arc::new(schema), vec![ids, times, amounts]).unwrap()
}

/// A session with the case's rows registered as `t`, in the order and partitioning of `layout`.
fn session(case: &Case, layout: &(Vec<usize>, usize, usize), target_partitions: usize) -> SessionContext {
    let (order, partitions, batch_rows) = layout;
    let rows: Vec<Row> = order.iter().map(|&i| case.rows[i].clone()).collect();
    let schema = batch(case, &[]).schema();
    let mut parts: Vec<Vec<RecordBatch>> = vec![vec![]; *partitions];
    for (k, chunk) in rows.chunks(*batch_rows).enumerate() {
        parts[k % partitions].push(batch(case, chunk));
    }
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(target_partitions));
    clv_core::register_all(&ctx).unwrap();
    ctx.register_table("t", Arc::new(MemTable::try_new(schema, parts).unwrap()))
        .unwrap();
    ctx
}

// ---------------------------------------------------------------------------------------------
// The reference: the data policies and definitions of docs/guide.md, row by row.

/// The amount's scale: whole units, quarters as 9-decimal units (the exact sum of floats), cents.
fn units(case: &Case, v: i64) -> i128 {
    match case.amounts {
        AmountType::Int64 | AmountType::Decimal => i128::from(v),
        AmountType::Float64 => i128::from(v) * 250_000_000,
    }
}

fn to_f64(case: &Case, total: i128) -> f64 {
    let scale = match case.amounts {
        AmountType::Int64 => 1.0,
        AmountType::Float64 => 1e9,
        AmountType::Decimal => 100.0,
    };
    total as f64 / scale
}

/// A kept transaction: customer, day (in the column's time zone), amount in units.
#[derive(Debug, Clone)]
struct Kept {
    customer: String,
    day: i32,
    amount: i128,
}

impl Kept {
    fn purchase(&self) -> bool {
        self.amount >= 0
    }
}

/// The rows the data policies keep, and the as-of day.
fn kept(case: &Case) -> (Vec<Kept>, Option<i32>) {
    let mut out = vec![];
    for r in &case.rows {
        let (Some(id), Some(day)) = (r.id, r.day) else { continue };
        let Amount::Value(v) = r.amount else { continue };
        let day = match case.times {
            TimeType::SecondPlus2 => (i64::from(day) * 86_400 + i64::from(r.second) + 7_200).div_euclid(86_400) as i32,
            _ => day,
        };
        if case.as_of.is_some_and(|a| day > a) {
            continue;
        }
        out.push(Kept {
            customer: id_text(case.ids, id),
            day,
            amount: units(case, v),
        });
    }
    let as_of = case.as_of.or_else(|| out.iter().map(|k| k.day).max().map(|d| d + 1));
    (out, as_of)
}

/// Per customer: recency, frequency, monetary, first and last purchase day, tenure.
type Summary = BTreeMap<String, (i64, i64, f64, i32, i32, i64)>;

fn summary(case: &Case, rows: &[&Kept], as_of: i32) -> Summary {
    let mut by: BTreeMap<String, Vec<&Kept>> = BTreeMap::new();
    for k in rows {
        by.entry(k.customer.clone()).or_default().push(k);
    }
    by.into_iter()
        .filter_map(|(c, ks)| {
            let purchases: Vec<i32> = ks.iter().filter(|k| k.purchase()).map(|k| k.day).collect();
            let (first, last) = (*purchases.iter().min()?, *purchases.iter().max()?);
            // Orders: purchase rows, or the periods of the grain with a purchase.
            let orders = match case.collapse {
                "none" => purchases.len(),
                grain => purchases
                    .iter()
                    .map(|&d| match grain {
                        "day" => i64::from(d),
                        "week" => i64::from(d + 3).div_euclid(7),
                        _ => month_index(d),
                    })
                    .collect::<BTreeSet<_>>()
                    .len(),
            };
            let total: i128 = ks.iter().map(|k| k.amount).sum();
            Some((
                c,
                (
                    i64::from(as_of - last),
                    orders as i64,
                    to_f64(case, total),
                    first,
                    last,
                    i64::from(as_of - first),
                ),
            ))
        })
        .collect()
}

/// (year, month) of a day, Howard Hinnant's civil_from_days.
fn year_month(day: i32) -> (i64, i64) {
    let z = i64::from(day) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m)
}

fn month_index(day: i32) -> i64 {
    let (y, m) = year_month(day);
    12 * (y - 1970) + m - 1
}

/// (cohort month, offset) -> (cohort customers, active customers, revenue).
type Cohorts = BTreeMap<(i64, i64), (i64, i64, f64)>;

fn cohorts(case: &Case, rows: &[Kept]) -> Cohorts {
    let mut first: BTreeMap<&str, i64> = BTreeMap::new();
    for k in rows.iter().filter(|k| k.purchase()) {
        let m = month_index(k.day);
        let e = first.entry(&k.customer).or_insert(m);
        *e = (*e).min(m);
    }
    let mut size: BTreeMap<i64, i64> = BTreeMap::new();
    for c in first.values() {
        *size.entry(*c).or_default() += 1;
    }
    let mut cells: BTreeMap<(i64, i64), (BTreeSet<&str>, i128)> = BTreeMap::new();
    for k in rows {
        let Some(&c) = first.get(k.customer.as_str()) else {
            continue;
        };
        let m = month_index(k.day);
        if m < c {
            continue;
        }
        let cell = cells.entry((c, m - c)).or_default();
        if k.purchase() {
            cell.0.insert(&k.customer);
        }
        cell.1 += k.amount;
    }
    cells
        .into_iter()
        .map(|((c, o), (active, revenue))| ((c, o), (size[&c], active.len() as i64, to_f64(case, revenue))))
        .collect()
}

/// (cutoff, customer) -> (recency, frequency, monetary, censored, churned).
type Labels = BTreeMap<(i32, String), (i64, i64, f64, bool, Option<bool>)>;

fn labels(case: &Case, rows: &[Kept]) -> Labels {
    let data_end = case.as_of.or_else(|| rows.iter().map(|k| k.day).max());
    let mut out = Labels::new();
    for &c in &case.cutoffs {
        let before: Vec<&Kept> = rows.iter().filter(|k| k.day <= c).collect();
        for (customer, (recency, frequency, monetary, ..)) in summary(case, &before, c) {
            let bought = rows
                .iter()
                .any(|k| k.customer == customer && k.purchase() && k.day > c && k.day <= c + case.window);
            let censored = data_end.is_some_and(|e| c + case.window > e);
            let churned = if bought {
                Some(false)
            } else if censored {
                None
            } else {
                Some(true)
            };
            out.insert((c, customer), (recency, frequency, monetary, censored, churned));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Reading results.

fn column(batches: &[RecordBatch], name: &str, t: &DataType) -> Vec<Option<ArrayRef>> {
    batches
        .iter()
        .map(|b| {
            b.column_by_name(name)
                .map(|c| datafusion::arrow::compute::cast(c, t).unwrap())
        })
        .collect()
}

fn strings(batches: &[RecordBatch], name: &str) -> Vec<String> {
    column(batches, name, &DataType::Utf8)
        .into_iter()
        .flatten()
        .flat_map(|a| {
            let a = a.as_string::<i32>().clone();
            (0..a.len()).map(move |i| a.value(i).to_string())
        })
        .collect()
}

fn ints(batches: &[RecordBatch], name: &str) -> Vec<i64> {
    column(batches, name, &DataType::Int64)
        .into_iter()
        .flatten()
        .flat_map(|a| a.as_primitive::<Int64Type>().values().to_vec())
        .collect()
}

fn days_of(batches: &[RecordBatch], name: &str) -> Vec<i32> {
    column(batches, name, &DataType::Date32)
        .into_iter()
        .flatten()
        .flat_map(|a| {
            a.as_primitive::<datafusion::arrow::datatypes::Date32Type>()
                .values()
                .to_vec()
        })
        .collect()
}

fn floats(batches: &[RecordBatch], name: &str) -> Vec<f64> {
    column(batches, name, &DataType::Float64)
        .into_iter()
        .flatten()
        .flat_map(|a| a.as_primitive::<Float64Type>().values().to_vec())
        .collect()
}

fn booleans(batches: &[RecordBatch], name: &str) -> Vec<Option<bool>> {
    column(batches, name, &DataType::Boolean)
        .into_iter()
        .flatten()
        .flat_map(|a| a.as_boolean().iter().collect::<Vec<_>>())
        .collect()
}

/// Every row of a result as text, sorted: the form compared across layouts (floats print as
/// their shortest round-trip text, so equal text is equal bits).
fn rows_text(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = vec![];
    for b in batches {
        let columns: Vec<ArrayRef> = b
            .columns()
            .iter()
            .map(|c| datafusion::arrow::compute::cast(c, &DataType::Utf8).unwrap())
            .collect();
        for i in 0..b.num_rows() {
            out.push(
                columns
                    .iter()
                    .map(|c| {
                        let c = c.as_string::<i32>();
                        if c.is_null(i) {
                            "∅".to_string()
                        } else {
                            c.value(i).to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("|"),
            );
        }
    }
    out.sort();
    out
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

async fn run(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>, TestCaseError> {
    let df = ctx
        .sql(sql)
        .await
        .map_err(|e| TestCaseError::fail(format!("{sql}: {e}")))?;
    df.collect()
        .await
        .map_err(|e| TestCaseError::fail(format!("{sql}: {e}")))
}

/// The three queries of a case, with the fused `rfm()` operator on or off.
fn queries(case: &Case, fused: bool) -> [String; 3] {
    let as_of = case
        .as_of
        .map(|d| format!(", 'as_of={}'", clv_date(d)))
        .unwrap_or_default();
    [
        format!(
            "SELECT * FROM rfm('t', 'scheme=none', 'fused={fused}', 'collapse={}'{as_of})",
            case.collapse
        ),
        format!("SELECT * FROM cohort_retention('t', 'month'{as_of})"),
        format!(
            "SELECT * FROM churn_labels('t', 'cutoffs={},{}', 'window_days={}', 'scheme=none', 'collapse={}'{as_of})",
            clv_date(case.cutoffs[0]),
            clv_date(case.cutoffs[1]),
            case.window,
            case.collapse
        ),
    ]
}

/// YYYY-MM-DD of a day (years 1..9999).
fn clv_date(day: i32) -> String {
    let (y, m) = year_month(day);
    let first = (1..=31)
        .map(|d| day - d + 1)
        .find(|&f| year_month(f - 1) != (y, m))
        .unwrap_or(day);
    format!("{y:04}-{m:02}-{:02}", day - first + 1)
}

async fn check(case: Case) -> Result<(), TestCaseError> {
    let (rows, as_of) = kept(&case);
    let first = session(&case, &case.layouts[0], 1);
    let second = session(&case, &case.layouts[1], 4);
    let mut results = vec![];
    for (ctx, fused) in [(&first, true), (&second, false)] {
        let mut r = vec![];
        for sql in queries(&case, fused) {
            r.push(run(ctx, &sql).await?);
        }
        results.push(r);
    }
    // The same rows, shuffled and partitioned otherwise (and the ordinary rfm() plan): the same
    // results, bit for bit.
    for (q, (a, b)) in results[0].iter().zip(&results[1]).enumerate() {
        prop_assert_eq!(rows_text(a), rows_text(b), "query {} differs across layouts", q);
    }
    let [rfm, cohort, label] = [&results[0][0], &results[0][1], &results[0][2]];

    // rfm(): the summary columns.
    let expected = as_of
        .map(|a| summary(&case, &rows.iter().collect::<Vec<_>>(), a))
        .unwrap_or_default();
    let (ids, recency, frequency, monetary, first_day, last_day, tenure) = (
        strings(rfm, "customer_id"),
        ints(rfm, "recency_days"),
        ints(rfm, "frequency"),
        floats(rfm, "monetary"),
        days_of(rfm, "first_purchase"),
        days_of(rfm, "last_purchase"),
        ints(rfm, "tenure_days"),
    );
    prop_assert_eq!(
        ids.len(),
        expected.len(),
        "customers: {:?} vs {:?}",
        ids,
        expected.keys()
    );
    for i in 0..ids.len() {
        let Some(e) = expected.get(&ids[i]) else {
            return Err(TestCaseError::fail(format!("unexpected customer {}", ids[i])));
        };
        prop_assert_eq!((recency[i], frequency[i]), (e.0, e.1), "customer {}", ids[i]);
        prop_assert!(
            close(monetary[i], e.2),
            "monetary of {}: {} vs {}",
            ids[i],
            monetary[i],
            e.2
        );
        prop_assert_eq!(
            (first_day[i], last_day[i], tenure[i]),
            (e.3, e.4, e.5),
            "customer {}",
            ids[i]
        );
    }

    // cohort_retention.
    let expected = cohorts(&case, &rows);
    let (cohort_day, offset, size, active, revenue) = (
        days_of(cohort, "cohort"),
        ints(cohort, "period_offset"),
        ints(cohort, "cohort_customers"),
        ints(cohort, "active_customers"),
        floats(cohort, "revenue"),
    );
    prop_assert_eq!(cohort_day.len(), expected.len(), "cohort cells");
    for i in 0..cohort_day.len() {
        let key = (month_index(cohort_day[i]), offset[i]);
        let Some(e) = expected.get(&key) else {
            return Err(TestCaseError::fail(format!("unexpected cohort cell {key:?}")));
        };
        prop_assert_eq!((size[i], active[i]), (e.0, e.1), "cell {:?}", key);
        prop_assert!(
            close(revenue[i], e.2),
            "revenue of {:?}: {} vs {}",
            key,
            revenue[i],
            e.2
        );
    }

    // churn_labels.
    let expected = labels(&case, &rows);
    let (cutoff, ids, recency, frequency, monetary, censored, churned) = (
        days_of(label, "cutoff"),
        strings(label, "customer_id"),
        ints(label, "recency_days"),
        ints(label, "frequency"),
        floats(label, "monetary"),
        booleans(label, "censored"),
        booleans(label, "churned"),
    );
    prop_assert_eq!(cutoff.len(), expected.len(), "label rows");
    for i in 0..cutoff.len() {
        let key = (cutoff[i], ids[i].clone());
        let Some(e) = expected.get(&key) else {
            return Err(TestCaseError::fail(format!("unexpected label row {key:?}")));
        };
        prop_assert_eq!((recency[i], frequency[i]), (e.0, e.1), "label {:?}", key);
        prop_assert!(close(monetary[i], e.2), "monetary of {:?}", key);
        prop_assert_eq!((censored[i], churned[i]), (Some(e.3), e.4), "label {:?}", key);
    }
    Ok(())
}

#[test]
fn random_tables_match_the_reference_and_every_layout() {
    let cases = std::env::var("CLV_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&case(), |case| runtime.block_on(check(case)));
    if let Err(e) = outcome {
        panic!("{e}");
    }
    eprintln!("properties: {cases} random tables checked");
}

#[test]
fn the_reference_dates_are_right() {
    assert_eq!(clv_date(0), "1970-01-01");
    assert_eq!(clv_date(19_753), "2024-01-31");
    assert_eq!(clv_date(19_723), "2024-01-01");
    assert_eq!(clv_date(-1), "1969-12-31");
    assert_eq!(month_index(19_753), 12 * 54);
}
