//! The fused `rfm()` operator's pass over the rows ([`super::rfm_exec`]): the data policies
//! applied to each batch where it is (no filter copies the batch), the day of every row computed
//! once ([`DayNumbers`]), and every policy counted as `clv_policy_report` counts it.
//!
//! Per row, in the policy order of [`crate::plan::transactions`]: a null customer id or time
//! excludes it; then a null, NaN or infinite amount (excluded, or an error); then a day after
//! the as-of date (excluded); then a negative amount (netted, excluded, or an error). The rows
//! left update their customers' totals. When the caller asks for the duplicate count the input
//! carries every source column, and each row's 128-bit fingerprint (two seeded hashes of all
//! its columns and its null pattern) is kept: equal fingerprints are duplicate rows, as
//! `SELECT DISTINCT` finds them, up to a chance of about n²/2^129 for n rows that two distinct
//! rows share one (below 10^-22 for 10^8 rows).

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::filter;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Float32Type, Float64Type};
use datafusion::common::hash_utils::{QualityRandomState, create_hashes};
use datafusion::common::{Result, internal_err};

use crate::common::dates::DayNumbers;
use crate::config::{InvalidAmounts, NegativeAmounts};
use crate::plan::report::PolicyReport;
use crate::plan::transactions::{invalid_amount_message, negative_amount_message};
use crate::rfm::customers::CustomerAggregator;
use crate::udf::clv_check::violation_error;

/// How the rows are read, resolved at planning time.
#[derive(Debug, Clone)]
pub(super) struct RowPolicies {
    /// The source's customer id, time and amount columns.
    pub customer: String,
    pub time: String,
    pub amount: String,
    pub time_type: DataType,
    /// The exact type amounts are summed in (Decimal128(38, s)).
    pub exact_amount: DataType,
    pub as_of: Option<i32>,
    pub invalid_amounts: InvalidAmounts,
    pub negative_amounts: NegativeAmounts,
    /// Count duplicate rows: the input has every source column.
    pub fingerprints: bool,
}

/// Adds the row counts of `c` (one partition's, or one batch's) to `into`.
pub(super) fn add_row_counts(into: &mut PolicyReport, c: &PolicyReport) {
    into.rows_read += c.rows_read;
    into.null_customer_or_time += c.null_customer_or_time;
    into.invalid_amount += c.invalid_amount;
    into.after_as_of += c.after_as_of;
    into.negative_amount += c.negative_amount;
    into.zero_amount += c.zero_amount;
    into.rows_used += c.rows_used;
}

/// What one input partition's rows become: customer totals, policy counts, fingerprints.
pub(super) struct PartitionRows {
    pub agg: CustomerAggregator,
    /// The row counts of the policy report (the rest is filled in when the rows are merged).
    pub counts: PolicyReport,
    pub fingerprints: Fingerprints,
    days: DayNumbers,
    // Scratch buffers reused across batches.
    day: Vec<i32>,
    times: Vec<i64>,
    amounts: Vec<i128>,
    overflow: Vec<usize>,
    purchase: Vec<bool>,
    keep: Vec<bool>,
    sign: Vec<i8>,
}

impl PartitionRows {
    pub fn new(p: &RowPolicies, id_type: &DataType) -> Result<Self> {
        Ok(Self {
            agg: CustomerAggregator::new(id_type)?,
            counts: PolicyReport::default(),
            fingerprints: Fingerprints::default(),
            days: DayNumbers::new(&p.time_type)?,
            day: vec![],
            times: vec![],
            amounts: vec![],
            overflow: vec![],
            purchase: vec![],
            keep: vec![],
            sign: vec![],
        })
    }

    /// Bytes held.
    pub fn memory_size(&self) -> usize {
        self.agg.memory_size()
            + self.fingerprints.memory_size()
            + self.day.capacity() * 4
            + self.times.capacity() * 8
            + self.amounts.capacity() * 16
            + self.purchase.capacity()
            + self.keep.capacity()
            + self.sign.capacity()
    }

    /// Applies the policies to `batch`, counts them, and adds the rows kept.
    pub fn add(&mut self, batch: &RecordBatch, p: &RowPolicies) -> Result<()> {
        let (ids, times, amounts) = (
            column(batch, &p.customer)?,
            column(batch, &p.time)?,
            column(batch, &p.amount)?,
        );
        let n = batch.num_rows();
        if p.fingerprints {
            self.fingerprints.add(batch.columns())?;
        }
        self.days.compute(times.as_ref(), &mut self.day)?;
        time_values(times, &mut self.times)?;
        exact_amounts(amounts, &p.exact_amount, &mut self.amounts, &mut self.overflow)?;
        let key_nulls = match (ids.logical_nulls(), times.logical_nulls()) {
            (None, t) => t,
            (i, None) => i,
            (Some(i), Some(t)) => NullBuffer::union(Some(&i), Some(&t)),
        };
        let key_nulls = key_nulls.filter(|n| n.null_count() > 0);
        let finite = finite_amounts(amounts.as_ref())?;
        let amount_nulls = amounts.logical_nulls().filter(|n| n.null_count() > 0);
        signs(amounts.as_ref(), &self.amounts, &mut self.sign)?;
        let mut c = PolicyReport {
            rows_read: n as u64,
            ..PolicyReport::default()
        };
        self.keep.clear();
        self.purchase.clear();
        let (mut invalid_at, mut negative_at) = (None, None);
        let clean = key_nulls.is_none()
            && amount_nulls.is_none()
            && finite.is_none()
            && p.as_of.is_none_or(|d| self.day.iter().all(|day| *day <= d))
            && self.sign.iter().all(|s| *s >= 0);
        if clean {
            // Every row is used and is a purchase (the common case: no per-row branch).
            c.zero_amount = self.sign.iter().filter(|s| **s == 0).count() as u64;
            c.rows_used = n as u64;
            self.keep.resize(n, true);
            self.purchase.resize(n, true);
        } else {
            for i in 0..n {
                let negative = self.sign[i] < 0;
                let mut keep = key_nulls.as_ref().is_none_or(|k| k.is_valid(i));
                if !keep {
                    c.null_customer_or_time += 1;
                } else if amount_nulls.as_ref().is_some_and(|a| a.is_null(i)) || finite.as_ref().is_some_and(|f| !f[i])
                {
                    c.invalid_amount += 1;
                    invalid_at.get_or_insert(i);
                    keep = false;
                } else if p.as_of.is_some_and(|d| self.day[i] > d) {
                    c.after_as_of += 1;
                    keep = false;
                } else if negative {
                    c.negative_amount += 1;
                    negative_at.get_or_insert(i);
                    keep = p.negative_amounts != NegativeAmounts::Exclude;
                } else if self.sign[i] == 0 {
                    c.zero_amount += 1;
                }
                c.rows_used += u64::from(keep);
                self.keep.push(keep);
                self.purchase
                    .push(p.negative_amounts != NegativeAmounts::Net || !negative);
            }
        }
        let value_error =
            |message: String, row: usize| Err(violation_error(&message, ids.as_ref(), amounts.as_ref(), row));
        if let (InvalidAmounts::Error, Some(row)) = (p.invalid_amounts, invalid_at) {
            return value_error(invalid_amount_message(&p.amount), row);
        }
        if let (NegativeAmounts::Error, Some(row)) = (p.negative_amounts, negative_at) {
            return value_error(negative_amount_message(&p.amount), row);
        }
        if let Some(row) = self.overflow.iter().find(|r| self.keep[**r]) {
            return Err(crate::error::ClvError::input_data(format!(
                "{} (customer {}, value {})",
                crate::plan::transactions::huge_amount_message(&p.amount),
                crate::udf::clv_check::format_value(ids.as_ref(), *row),
                crate::udf::clv_check::format_value(amounts.as_ref(), *row),
            ))
            .into());
        }
        add_row_counts(&mut self.counts, &c);
        let purchases = self.purchase.iter().all(|x| *x);
        if c.rows_used == n as u64 {
            let purchase = (!purchases).then_some(self.purchase.as_slice());
            return self.agg.update(ids, &self.times, &self.day, &self.amounts, purchase);
        }
        // Some rows are left out: the kept rows' values, compacted in place, and their ids.
        let kept = BooleanArray::from(self.keep.clone());
        let ids = filter(ids.as_ref(), &kept)?;
        let keep = &self.keep;
        retain(&mut self.times, keep);
        retain(&mut self.day, keep);
        retain(&mut self.amounts, keep);
        retain(&mut self.purchase, keep);
        let purchase = (!self.purchase.iter().all(|x| *x)).then_some(self.purchase.as_slice());
        self.agg.update(&ids, &self.times, &self.day, &self.amounts, purchase)
    }
}

/// The column `name` of `batch`.
fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    Ok(batch.column(batch.schema_ref().index_of(name)?))
}

/// Keeps the values of `v` whose `keep` is true, in order.
fn retain<T: Copy>(v: &mut Vec<T>, keep: &[bool]) {
    let mut at = 0;
    v.retain(|_| {
        at += 1;
        keep[at - 1]
    });
}

/// For float amounts, whether each is finite (`None` for other types, or when all are).
fn finite_amounts(amounts: &dyn Array) -> Result<Option<Vec<bool>>> {
    fn check<T: Copy>(values: &[T], finite: fn(T) -> bool) -> Option<Vec<bool>> {
        if values.iter().all(|x| finite(*x)) {
            return None;
        }
        Some(values.iter().map(|x| finite(*x)).collect())
    }
    Ok(match amounts.data_type() {
        DataType::Float64 => check(amounts.as_primitive::<Float64Type>().values(), f64::is_finite),
        DataType::Float32 => check(amounts.as_primitive::<Float32Type>().values(), f32::is_finite),
        _ => None,
    })
}

/// The sign of each amount into `out` (−1, 0, 1), as `amount < 0` and `amount = 0` compare
/// the source's values (a float is compared as it is, not as its rounded exact amount; NaN
/// gives 1, its row is invalid anyway).
fn signs(amounts: &dyn Array, exact: &[i128], out: &mut Vec<i8>) -> Result<()> {
    fn of<T: PartialOrd + Default + Copy>(values: &[T], out: &mut Vec<i8>) {
        let zero = T::default();
        out.extend(values.iter().map(|v| {
            if *v < zero {
                -1
            } else if *v == zero {
                0
            } else {
                1
            }
        }));
    }
    out.clear();
    match amounts.data_type() {
        DataType::Float64 => of(amounts.as_primitive::<Float64Type>().values(), out),
        DataType::Float32 => of(amounts.as_primitive::<Float32Type>().values(), out),
        _ => of(exact, out),
    }
    Ok(())
}

/// The physical `i64` values of a time column (dates as days, timestamps in their unit) into
/// `out`.
pub(super) fn time_values(times: &ArrayRef, out: &mut Vec<i64>) -> Result<()> {
    use datafusion::arrow::datatypes::{
        Date32Type, Date64Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
        TimestampSecondType,
    };
    out.clear();
    match times.data_type() {
        DataType::Date32 => out.extend(
            times
                .as_primitive::<Date32Type>()
                .values()
                .iter()
                .map(|d| i64::from(*d)),
        ),
        DataType::Date64 => out.extend_from_slice(times.as_primitive::<Date64Type>().values()),
        DataType::Timestamp(TimeUnit::Second, _) => {
            out.extend_from_slice(times.as_primitive::<TimestampSecondType>().values())
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            out.extend_from_slice(times.as_primitive::<TimestampMillisecondType>().values())
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            out.extend_from_slice(times.as_primitive::<TimestampMicrosecondType>().values())
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            out.extend_from_slice(times.as_primitive::<TimestampNanosecondType>().values())
        }
        t => return internal_err!("RfmExec: time type {t}"),
    }
    Ok(())
}

/// Below this magnitude (2^52) [`round_small`] is exact.
const SMALL: f64 = 4_503_599_627_370_496.0;

/// `y.round()` (half away from zero) as an integer, for `|y| <` [`SMALL`]: the truncation is
/// exact there, and so is the remainder `y − trunc(y)`, so comparing it with ±0.5 rounds as
/// `f64::round` does, with no call to the math library.
#[inline(always)]
fn round_small(y: f64) -> i64 {
    let t = y as i64;
    let rest = y - t as f64;
    t + i64::from(rest >= 0.5) - i64::from(rest <= -0.5)
}

/// The amounts in the exact type `exact` (Decimal128(38, s)) into `out`, with the values
/// `CAST(amount AS exact)` gives (null, NaN and infinite amounts give 0: the policies drop
/// those rows). Floats are scaled by 10^s, rounded half away from zero and checked against the
/// precision inline (the cast kernel's own formula); the rows whose finite value does not fit
/// go to `overflow` (an error if the policies keep them); decimals of the same scale are
/// copied; anything else goes through the cast. Returns which amounts are present.
fn exact_amounts(
    amounts: &ArrayRef,
    exact: &DataType,
    out: &mut Vec<i128>,
    overflow: &mut Vec<usize>,
) -> Result<Option<NullBuffer>> {
    let DataType::Decimal128(precision, scale) = *exact else {
        return internal_err!("RfmExec: exact amount type {exact}");
    };
    out.clear();
    overflow.clear();
    match amounts.data_type() {
        DataType::Decimal128(_, s) if *s == scale => {
            out.extend_from_slice(amounts.as_primitive::<Decimal128Type>().values());
        }
        DataType::Float64 => {
            let floats = amounts.as_primitive::<Float64Type>();
            let mul = 10_f64.powi(i32::from(scale));
            let max = 10_i128.pow(u32::from(precision)) - 1;
            for (i, x) in floats.values().iter().enumerate() {
                let y = mul * x;
                out.push(if y.abs() < SMALL {
                    // The common case, without a call to the math library.
                    i128::from(round_small(y))
                } else {
                    let v = y.round();
                    if v.abs() < 9.0e18 {
                        v as i64 as i128
                    } else if v.is_finite() && v.abs() < 1e38 && (v as i128).abs() <= max {
                        v as i128
                    } else {
                        if x.is_finite() {
                            overflow.push(i);
                        }
                        0
                    }
                });
            }
        }
        DataType::Float32 => {
            let wide = datafusion::arrow::compute::cast(amounts, &DataType::Float64)?;
            exact_amounts(&wide, exact, out, overflow)?;
        }
        _ => {
            let decimals = datafusion::arrow::compute::cast(amounts, exact)?;
            out.extend_from_slice(decimals.as_primitive::<Decimal128Type>().values());
            return Ok(decimals.nulls().cloned());
        }
    }
    Ok(amounts.nulls().cloned())
}

/// The amounts of an operator that reads present, finite amounts only (the purchase panel,
/// [`super::panel_exec`]) in the exact type `exact` into `out`, as [`exact_amounts`] gives
/// them; a present amount too large for `exact` is an error naming `column`. Returns which
/// amounts are present.
pub(crate) fn checked_exact_amounts(
    amounts: &ArrayRef,
    exact: &DataType,
    column: &str,
    out: &mut Vec<i128>,
) -> Result<Option<NullBuffer>> {
    let mut overflow = vec![];
    let present = exact_amounts(amounts, exact, out, &mut overflow)?;
    if let Some(row) = overflow
        .iter()
        .find(|r| present.as_ref().is_none_or(|p| p.is_valid(**r)))
    {
        return Err(crate::error::ClvError::input_data(format!(
            "{} (the value {})",
            crate::plan::transactions::huge_amount_message(column),
            crate::udf::clv_check::format_value(amounts.as_ref(), *row),
        ))
        .into());
    }
    Ok(present)
}

/// `batch` without the rows whose amount (column `a`) is null, NaN or infinite; the batch
/// itself, uncopied, when there are none.
pub(crate) fn valid_amount_rows(batch: RecordBatch, a: usize) -> Result<RecordBatch> {
    let amounts = batch.column(a);
    let nulls = amounts.logical_nulls().filter(|n| n.null_count() > 0);
    let finite = finite_amounts(amounts.as_ref())?;
    if nulls.is_none() && finite.is_none() {
        return Ok(batch);
    }
    let keep: BooleanArray = (0..batch.num_rows())
        .map(|i| Some(finite.as_ref().is_none_or(|f| f[i]) && nulls.as_ref().is_none_or(|n| n.is_valid(i))))
        .collect();
    Ok(datafusion::arrow::compute::filter_record_batch(&batch, &keep)?)
}

/// Row fingerprints in 256 buckets by their top byte, each a list of fixed-size chunks (no
/// doubling growth: at most one partly filled chunk per bucket); see the module documentation.
#[derive(Default)]
pub(super) struct Fingerprints {
    buckets: Vec<Vec<Vec<u128>>>,
    hashes: [Vec<u64>; 2],
}

/// Fingerprints per chunk (64 KiB).
const CHUNK: usize = 4096;

const SEEDS: [QualityRandomState; 2] = [
    QualityRandomState::with_seed(0x243f_6a88_85a3_08d3),
    QualityRandomState::with_seed(0x1319_8a2e_0370_7344),
];

/// A bijective mix of 64 bits (splitmix64's finaliser).
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Fingerprints {
    fn memory_size(&self) -> usize {
        let chunks: usize = self.buckets.iter().map(Vec::len).sum();
        chunks * CHUNK * 16 + self.hashes.iter().map(|h| h.capacity() * 8).sum::<usize>()
    }

    /// Adds the fingerprints of the rows of `columns`.
    fn add(&mut self, columns: &[ArrayRef]) -> Result<()> {
        let n = columns.first().map_or(0, |c| c.len());
        if self.buckets.is_empty() {
            self.buckets = vec![vec![]; 256];
        }
        for (hashes, seed) in self.hashes.iter_mut().zip(&SEEDS) {
            hashes.clear();
            hashes.resize(n, 0);
            create_hashes(columns, seed, hashes)?;
        }
        // The hashes skip null values: the null pattern is mixed in, so rows whose values sit
        // in different columns stay apart.
        let [first, second] = &mut self.hashes;
        for (k, c) in columns.iter().enumerate() {
            if let Some(nulls) = c.logical_nulls().filter(|n| n.null_count() > 0) {
                let (a, b) = (mix(k as u64 + 1), mix(!(k as u64)));
                for i in (0..n).filter(|i| nulls.is_null(*i)) {
                    first[i] = mix(first[i] ^ a);
                    second[i] = mix(second[i] ^ b);
                }
            }
        }
        for (h1, h2) in first.iter().zip(second.iter()) {
            let chunks = &mut self.buckets[(h1 >> 56) as usize];
            if chunks.last().is_none_or(|c| c.len() == CHUNK) {
                chunks.push(Vec::with_capacity(CHUNK));
            }
            if let Some(chunk) = chunks.last_mut() {
                chunk.push((u128::from(*h1) << 64) | u128::from(*h2));
            }
        }
        Ok(())
    }

    /// The rows of all `parts` that repeat an earlier row (the rows minus the distinct ones),
    /// the buckets spread over `threads` threads.
    pub fn duplicates(parts: Vec<Fingerprints>, threads: usize) -> Result<u64> {
        let mut buckets: Vec<Vec<Vec<u128>>> = (0..256).map(|_| vec![]).collect();
        for part in parts {
            for (into, chunks) in buckets.iter_mut().zip(part.buckets) {
                into.extend(chunks);
            }
        }
        let count = |group: &mut [Vec<Vec<u128>>]| -> u64 {
            group
                .iter_mut()
                .map(|chunks| {
                    let mut all = std::mem::take(chunks).concat();
                    all.sort_unstable();
                    all.windows(2).filter(|w| w[0] == w[1]).count() as u64
                })
                .sum()
        };
        let per = 256_usize.div_ceil(threads.max(1));
        std::thread::scope(|scope| {
            let handles: Vec<_> = buckets.chunks_mut(per).map(|g| scope.spawn(move || count(g))).collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .or_else(|_| internal_err!("RfmExec: a duplicate-counting thread panicked"))
                })
                .sum()
        })
    }
}
