//! Input types and the automatic compression of identical rows into weights.
//!
//! # Conventions (BTYD summary)
//!
//! For the continuous-time models (BG/NBD, MBG/NBD, Pareto/NBD) one row per
//! customer holds
//! * `frequency` x — the number of *repeat* purchases in the calibration
//!   period (purchases − 1; several purchases in the same day/period count once
//!   if the caller collapsed them, which is the usual convention);
//! * `recency` t_x — time of the last purchase minus time of the first;
//! * `t` (T) — end of calibration minus time of the first purchase;
//!
//! all three times in the [`TimeUnit`] the caller states. A row with `x = 0`
//! must have `t_x = 0`; a row with `x > 0` must have `0 < t_x ≤ T`.
//!
//! Every input type accepts optional non-negative weights (the number of
//! customers a row stands for). Before fitting, identical rows are merged
//! and their weights summed ([`TransactionSummary::compressed`]), which makes
//! the likelihood loops proportional to the number of *distinct* rows.

use serde::{Deserialize, Serialize};

use super::error::ModelError;

/// The Arrow field metadata key under which `btyd_summary` records the [`TimeUnit`] of its
/// time columns (`t_x`, `t`, `t_holdout`), so that a fit over them takes that unit and a fit
/// asked for another unit fails instead of silently mixing months and weeks.
pub const TIME_UNIT_METADATA: &str = "clv.time_unit";

/// Time unit of the recency / age columns of a summary, and of a fitted
/// continuous-time model.
///
/// Conversions are explicit and exact: a day is 1 day, a week 7 days and a
/// month `365.25 / 12 = 30.4375` days (no "a month is 30 days").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// One day.
    Day,
    /// Seven days.
    Week,
    /// `365.25 / 12` days.
    Month,
}

impl TimeUnit {
    /// Days in an average month: `365.25 / 12`.
    pub const DAYS_PER_MONTH: f64 = 365.25 / 12.0;

    /// Length of the unit in days.
    pub const fn days(self) -> f64 {
        match self {
            TimeUnit::Day => 1.0,
            TimeUnit::Week => 7.0,
            TimeUnit::Month => Self::DAYS_PER_MONTH,
        }
    }

    /// Converts `value` expressed in `self` into unit `to`.
    pub fn convert(self, value: f64, to: TimeUnit) -> f64 {
        if self == to {
            value
        } else {
            value * (self.days() / to.days())
        }
    }

    /// `values` (in this unit) in unit `to`, borrowed when the units are the same.
    pub(crate) fn scale(self, values: &[f64], to: TimeUnit) -> std::borrow::Cow<'_, [f64]> {
        if self == to {
            std::borrow::Cow::Borrowed(values)
        } else {
            let f = self.convert(1.0, to);
            std::borrow::Cow::Owned(values.iter().map(|v| v * f).collect())
        }
    }

    /// Lower-case name (`"day"`, `"week"`, `"month"`).
    pub const fn name(self) -> &'static str {
        match self {
            TimeUnit::Day => "day",
            TimeUnit::Week => "week",
            TimeUnit::Month => "month",
        }
    }
}

impl std::fmt::Display for TimeUnit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn check_len(field: &'static str, expected: usize, found: usize) -> Result<(), ModelError> {
    if expected != found {
        return Err(ModelError::LengthMismatch { field, expected, found });
    }
    Ok(())
}

#[inline]
fn check_nonneg(row: usize, field: &'static str, v: f64) -> Result<(), ModelError> {
    if !v.is_finite() {
        return Err(ModelError::NonFinite { row, field });
    }
    if v < 0.0 {
        return Err(ModelError::Negative { row, field, value: v });
    }
    Ok(())
}

/// Whether `v` (≥ 0 or NaN) is a whole number, without branches: `v.fract()` is a libm call
/// on baseline x86-64, while adding and removing 2^52 rounds a non-negative v below 2^52 to an
/// integer, so it returns v exactly when v is whole (and every f64 from 2^52 up, infinity
/// included, is whole; NaN is not).
#[inline]
pub(crate) fn is_whole(v: f64) -> bool {
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    (v >= TWO_52) | ((v + TWO_52) - TWO_52 == v)
}

#[inline]
fn check_count(row: usize, field: &'static str, v: f64) -> Result<(), ModelError> {
    check_nonneg(row, field, v)?;
    if !is_whole(v) {
        return Err(ModelError::NotInteger { row, field, value: v });
    }
    Ok(())
}

fn check_weights(w: &[f64]) -> Result<(), ModelError> {
    for (i, &v) in w.iter().enumerate() {
        check_nonneg(i, "weight", v)?;
    }
    Ok(())
}

/// Validates one continuous-time row `(x, t_x, T)`; `row` is only used in the
/// error. Used by the summaries and by every scoring method.
#[inline]
pub(crate) fn check_rft(row: usize, x: f64, t_x: f64, t: f64) -> Result<(), ModelError> {
    check_count(row, "frequency", x)?;
    check_nonneg(row, "recency", t_x)?;
    check_nonneg(row, "T", t)?;
    if t_x > t {
        return Err(ModelError::InconsistentRow {
            row,
            reason: "recency t_x is larger than the age T",
        });
    }
    if x > 0.0 && t_x == 0.0 {
        return Err(ModelError::InconsistentRow {
            row,
            reason: "frequency > 0 but recency t_x = 0 (repeat purchases happen after the first one)",
        });
    }
    if x == 0.0 && t_x > 0.0 {
        return Err(ModelError::InconsistentRow {
            row,
            reason: "frequency = 0 but recency t_x > 0",
        });
    }
    Ok(())
}

/// Per-customer repeat-transaction summary for the continuous-time models.
///
/// Built with [`TransactionSummary::new`] (which validates every row) and
/// optionally [`TransactionSummary::with_weights`].
#[derive(Debug, Clone, PartialEq)]
pub struct TransactionSummary {
    frequency: Vec<f64>,
    recency: Vec<f64>,
    t: Vec<f64>,
    weights: Vec<f64>,
    time_unit: TimeUnit,
}

impl TransactionSummary {
    /// Creates a summary from the columns `frequency` (x), `recency` (t_x) and
    /// `t` (T), all times in `time_unit`. Each row gets weight 1.
    ///
    /// # Errors
    /// [`ModelError::LengthMismatch`], [`ModelError::NonFinite`],
    /// [`ModelError::Negative`], [`ModelError::NotInteger`] (frequency) and
    /// [`ModelError::InconsistentRow`] (`t_x > T`, `x > 0` with `t_x = 0`,
    /// `x = 0` with `t_x > 0`). An empty summary is allowed here; fitting it
    /// fails with [`ModelError::EmptyInput`].
    pub fn new(frequency: Vec<f64>, recency: Vec<f64>, t: Vec<f64>, time_unit: TimeUnit) -> Result<Self, ModelError> {
        let n = frequency.len();
        check_len("recency", n, recency.len())?;
        check_len("T", n, t.len())?;
        for i in 0..n {
            check_rft(i, frequency[i], recency[i], t[i])?;
        }
        Ok(TransactionSummary {
            frequency,
            recency,
            t,
            weights: vec![1.0; n],
            time_unit,
        })
    }

    /// Creates a summary from `(x, t_x, T)` tuples.
    pub fn from_rows(rows: &[(f64, f64, f64)], time_unit: TimeUnit) -> Result<Self, ModelError> {
        Self::new(
            rows.iter().map(|r| r.0).collect(),
            rows.iter().map(|r| r.1).collect(),
            rows.iter().map(|r| r.2).collect(),
            time_unit,
        )
    }

    /// Replaces the weights (number of customers each row stands for; must be
    /// finite and non-negative; rows with weight 0 are ignored by the fits).
    pub fn with_weights(mut self, weights: Vec<f64>) -> Result<Self, ModelError> {
        check_len("weight", self.frequency.len(), weights.len())?;
        check_weights(&weights)?;
        self.weights = weights;
        Ok(self)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.frequency.len()
    }
    /// `true` when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.frequency.is_empty()
    }
    /// Frequency column x.
    pub fn frequency(&self) -> &[f64] {
        &self.frequency
    }
    /// Recency column t_x.
    pub fn recency(&self) -> &[f64] {
        &self.recency
    }
    /// Age column T.
    pub fn t(&self) -> &[f64] {
        &self.t
    }
    /// Row weights.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
    /// `recency` in `unit` (borrowed when it is already in `unit`).
    pub(crate) fn recency_in(&self, unit: TimeUnit) -> std::borrow::Cow<'_, [f64]> {
        self.time_unit.scale(&self.recency, unit)
    }
    /// `t` in `unit` (borrowed when it is already in `unit`).
    pub(crate) fn t_in(&self, unit: TimeUnit) -> std::borrow::Cow<'_, [f64]> {
        self.time_unit.scale(&self.t, unit)
    }
    /// Unit of `recency` and `t`.
    pub fn time_unit(&self) -> TimeUnit {
        self.time_unit
    }
    /// Sum of the weights (the number of customers).
    pub fn total_weight(&self) -> f64 {
        self.weights.iter().sum()
    }

    /// The same data with times expressed in another unit.
    pub fn to_unit(&self, unit: TimeUnit) -> TransactionSummary {
        let f = self.time_unit.convert(1.0, unit);
        TransactionSummary {
            frequency: self.frequency.clone(),
            recency: self.recency.iter().map(|v| v * f).collect(),
            t: self.t.iter().map(|v| v * f).collect(),
            weights: self.weights.clone(),
            time_unit: unit,
        }
    }

    /// Identical rows merged, weights summed, zero-weight rows dropped, rows
    /// sorted by `(x, t_x, T)`. The fits do this automatically.
    pub fn compressed(&self) -> TransactionSummary {
        let c = Compressed::new(&self.frequency, &self.recency, &self.t, &self.weights);
        TransactionSummary {
            frequency: c.k0,
            recency: c.k1,
            t: c.k2,
            weights: c.w,
            time_unit: self.time_unit,
        }
    }

    pub(crate) fn compress_internal(&self) -> Compressed {
        Compressed::new(&self.frequency, &self.recency, &self.t, &self.weights)
    }
}

/// Per-customer spend summary for the Gamma-Gamma model.
///
/// `monetary` is the mean value of the *repeat* transactions (the first
/// purchase excluded), the convention of Fader & Hardie (2013). Rows with
/// `frequency = 0` are accepted (their `monetary` must be finite and is
/// ignored by the fit).
#[derive(Debug, Clone, PartialEq)]
pub struct SpendSummary {
    frequency: Vec<f64>,
    monetary: Vec<f64>,
    weights: Vec<f64>,
}

impl SpendSummary {
    /// Creates a spend summary.
    ///
    /// # Errors
    /// Length mismatch, non-finite values, negative or non-integer frequency,
    /// and `monetary ≤ 0` for a row with `frequency > 0`.
    pub fn new(frequency: Vec<f64>, monetary: Vec<f64>) -> Result<Self, ModelError> {
        let n = frequency.len();
        check_len("monetary", n, monetary.len())?;
        for i in 0..n {
            check_count(i, "frequency", frequency[i])?;
            if !monetary[i].is_finite() {
                return Err(ModelError::NonFinite {
                    row: i,
                    field: "monetary",
                });
            }
            if frequency[i] > 0.0 && monetary[i] <= 0.0 {
                return Err(ModelError::Negative {
                    row: i,
                    field: "monetary",
                    value: monetary[i],
                });
            }
        }
        Ok(SpendSummary {
            frequency,
            monetary,
            weights: vec![1.0; n],
        })
    }

    /// Replaces the weights.
    pub fn with_weights(mut self, weights: Vec<f64>) -> Result<Self, ModelError> {
        check_len("weight", self.frequency.len(), weights.len())?;
        check_weights(&weights)?;
        self.weights = weights;
        Ok(self)
    }
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.frequency.len()
    }
    /// `true` when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.frequency.is_empty()
    }
    /// Frequency column x.
    pub fn frequency(&self) -> &[f64] {
        &self.frequency
    }
    /// Mean repeat-transaction value column.
    pub fn monetary(&self) -> &[f64] {
        &self.monetary
    }
    /// Row weights.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Rows with `x > 0`, compressed, keys `(x, monetary)`.
    pub(crate) fn compress_internal(&self) -> Compressed {
        let n = self.len();
        let mut x = Vec::with_capacity(n);
        let mut m = Vec::with_capacity(n);
        let mut w = Vec::with_capacity(n);
        for i in 0..n {
            if self.frequency[i] > 0.0 {
                x.push(self.frequency[i]);
                m.push(self.monetary[i]);
                w.push(self.weights[i]);
            }
        }
        let zeros = vec![0.0; x.len()];
        Compressed::new(&x, &m, &zeros, &w)
    }
}

/// Discrete-time summary for BG/BB: `frequency` x (number of periods with a
/// transaction), `recency` t_x (the last period with a transaction, 0 if
/// none) and `periods` n (number of transaction opportunities).
/// Constraints: all whole numbers, `x ≤ t_x ≤ n`, `x = 0 ⇔ t_x = 0`.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscreteSummary {
    frequency: Vec<f64>,
    recency: Vec<f64>,
    periods: Vec<f64>,
    weights: Vec<f64>,
    period_unit: Option<TimeUnit>,
}

#[inline]
pub(crate) fn check_discrete(row: usize, x: f64, t_x: f64, n: f64) -> Result<(), ModelError> {
    check_count(row, "frequency", x)?;
    check_count(row, "recency", t_x)?;
    check_count(row, "periods", n)?;
    if t_x > n {
        return Err(ModelError::InconsistentRow {
            row,
            reason: "recency t_x is larger than the number of periods n",
        });
    }
    if x > t_x {
        return Err(ModelError::InconsistentRow {
            row,
            reason: "frequency x is larger than recency t_x",
        });
    }
    if x == 0.0 && t_x > 0.0 {
        return Err(ModelError::InconsistentRow {
            row,
            reason: "frequency = 0 but recency t_x > 0",
        });
    }
    Ok(())
}

impl DiscreteSummary {
    /// Creates a discrete-time summary (validated, see the type docs).
    pub fn new(frequency: Vec<f64>, recency: Vec<f64>, periods: Vec<f64>) -> Result<Self, ModelError> {
        let n = frequency.len();
        check_len("recency", n, recency.len())?;
        check_len("periods", n, periods.len())?;
        for i in 0..n {
            check_discrete(i, frequency[i], recency[i], periods[i])?;
        }
        Ok(DiscreteSummary {
            frequency,
            recency,
            periods,
            weights: vec![1.0; n],
            period_unit: None,
        })
    }
    /// Replaces the weights.
    pub fn with_weights(mut self, weights: Vec<f64>) -> Result<Self, ModelError> {
        check_len("weight", self.frequency.len(), weights.len())?;
        check_weights(&weights)?;
        self.weights = weights;
        Ok(self)
    }
    /// Records the length of one period (optional; carried into the fitted model).
    pub fn with_period_unit(mut self, unit: TimeUnit) -> Self {
        self.period_unit = Some(unit);
        self
    }
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.frequency.len()
    }
    /// `true` when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.frequency.is_empty()
    }
    /// Frequency column.
    pub fn frequency(&self) -> &[f64] {
        &self.frequency
    }
    /// Recency column.
    pub fn recency(&self) -> &[f64] {
        &self.recency
    }
    /// Periods column.
    pub fn periods(&self) -> &[f64] {
        &self.periods
    }
    /// Row weights.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
    /// Period length, if stated.
    pub fn period_unit(&self) -> Option<TimeUnit> {
        self.period_unit
    }
    pub(crate) fn compress_internal(&self) -> Compressed {
        Compressed::new(&self.frequency, &self.recency, &self.periods, &self.weights)
    }
}

/// Contract-duration data for the shifted-beta-geometric model: for each
/// customer (or group of customers, via weights) the number of periods `t`
/// and whether the customer churned at the end of period `t` (`churned =
/// true`, requires `t ≥ 1`; likelihood `P(T = t)`) or was still active after
/// `t` periods (`churned = false`, right-censored; likelihood `S(t)`).
#[derive(Debug, Clone, PartialEq)]
pub struct SurvivalData {
    t: Vec<f64>,
    churned: Vec<bool>,
    weights: Vec<f64>,
    period_unit: Option<TimeUnit>,
}

impl SurvivalData {
    /// Per-customer lifetimes. `t` must be whole numbers; churned rows need `t ≥ 1`.
    pub fn new(t: Vec<f64>, churned: Vec<bool>) -> Result<Self, ModelError> {
        let n = t.len();
        check_len("churned", n, churned.len())?;
        for i in 0..n {
            check_count(i, "t", t[i])?;
            if churned[i] && t[i] < 1.0 {
                return Err(ModelError::InconsistentRow {
                    row: i,
                    reason: "a churned customer needs t >= 1",
                });
            }
        }
        Ok(SurvivalData {
            t,
            churned,
            weights: vec![1.0; n],
            period_unit: None,
        })
    }

    /// Builds the data from a cohort survival curve: `surviving[t]` is the
    /// fraction of the cohort still active after `t` periods (so
    /// `surviving[0] = 1`), non-increasing, and `cohort_size` the number of
    /// customers at `t = 0`. The customers lost in period `t` contribute
    /// `P(T = t)` with weight `cohort_size·(S(t−1) − S(t))`; the survivors at
    /// the last period are right-censored with weight `cohort_size·S(last)`.
    pub fn from_survival_curve(surviving: &[f64], cohort_size: f64) -> Result<Self, ModelError> {
        if surviving.len() < 2 {
            return Err(ModelError::EmptyInput);
        }
        if !(cohort_size.is_finite() && cohort_size > 0.0) {
            return Err(ModelError::InvalidArgument {
                name: "cohort_size",
                value: cohort_size,
                reason: "must be positive and finite",
            });
        }
        for (i, &s) in surviving.iter().enumerate() {
            if !s.is_finite() {
                return Err(ModelError::NonFinite {
                    row: i,
                    field: "surviving",
                });
            }
            if !(0.0..=1.0).contains(&s) {
                return Err(ModelError::InconsistentRow {
                    row: i,
                    reason: "surviving fraction outside [0, 1]",
                });
            }
            if i > 0 && s > surviving[i - 1] {
                return Err(ModelError::InconsistentRow {
                    row: i,
                    reason: "survival curve increases",
                });
            }
        }
        if (surviving[0] - 1.0).abs() > 1e-9 {
            return Err(ModelError::InconsistentRow {
                row: 0,
                reason: "surviving[0] must be 1 (the whole cohort)",
            });
        }
        let k = surviving.len() - 1;
        let mut t = Vec::with_capacity(k + 1);
        let mut churned = Vec::with_capacity(k + 1);
        let mut w = Vec::with_capacity(k + 1);
        for i in 1..=k {
            t.push(i as f64);
            churned.push(true);
            w.push(cohort_size * (surviving[i - 1] - surviving[i]));
        }
        t.push(k as f64);
        churned.push(false);
        w.push(cohort_size * surviving[k]);
        Ok(SurvivalData {
            t,
            churned,
            weights: w,
            period_unit: None,
        })
    }

    /// Replaces the weights.
    pub fn with_weights(mut self, weights: Vec<f64>) -> Result<Self, ModelError> {
        check_len("weight", self.t.len(), weights.len())?;
        check_weights(&weights)?;
        self.weights = weights;
        Ok(self)
    }
    /// Records the length of one period (optional; carried into the fitted model).
    pub fn with_period_unit(mut self, unit: TimeUnit) -> Self {
        self.period_unit = Some(unit);
        self
    }
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.t.len()
    }
    /// `true` when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }
    /// Period counts.
    pub fn t(&self) -> &[f64] {
        &self.t
    }
    /// Churn flags.
    pub fn churned(&self) -> &[bool] {
        &self.churned
    }
    /// Row weights.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
    /// Period length, if stated.
    pub fn period_unit(&self) -> Option<TimeUnit> {
        self.period_unit
    }
    pub(crate) fn compress_internal(&self) -> Compressed {
        let c: Vec<f64> = self.churned.iter().map(|&c| if c { 1.0 } else { 0.0 }).collect();
        let z = vec![0.0; c.len()];
        Compressed::new(&self.t, &c, &z, &self.weights)
    }
}

/// Rows with up to three keys, identical rows merged, sorted by
/// `(k0, k1, k2)`, zero weights dropped.
#[derive(Debug, Clone)]
pub(crate) struct Compressed {
    pub k0: Vec<f64>,
    pub k1: Vec<f64>,
    pub k2: Vec<f64>,
    pub w: Vec<f64>,
    pub total_weight: f64,
}

/// An order-preserving map of `f64` (under `f64::total_cmp`, with -0.0 = +0.0) onto `u64`.
fn sort_key(v: f64) -> u64 {
    let bits = (v + 0.0).to_bits();
    if bits >> 63 == 1 { !bits } else { bits | 1 << 63 }
}

/// The inverse of [`sort_key`].
pub(crate) fn key_value(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// One key column as dense ranks: its distinct values (as [`sort_key`]s, ascending; decode with
/// [`key_value`]) and each row's rank among them.
pub(crate) fn ranks(v: &[f64]) -> (Vec<u64>, Vec<u32>) {
    let mut ids: hashbrown::HashMap<u64, u32> = hashbrown::HashMap::new();
    let mut keys: Vec<u64> = Vec::new();
    let mut row_ids: Vec<u32> = v
        .iter()
        .map(|&x| {
            let k = sort_key(x);
            *ids.entry(k).or_insert_with(|| {
                keys.push(k);
                (keys.len() - 1) as u32
            })
        })
        .collect();
    let mut order: Vec<u32> = (0..keys.len() as u32).collect();
    order.sort_unstable_by_key(|&i| keys[i as usize]);
    let mut rank = vec![0u32; keys.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i as usize] = r as u32;
    }
    for id in row_ids.iter_mut() {
        *id = rank[*id as usize];
    }
    (order.iter().map(|&i| keys[i as usize]).collect(), row_ids)
}

/// Stable LSD radix sort of `(code, weight)` pairs on the low `bits` bits of the code.
fn radix_sort(v: &mut Vec<(u64, f64)>, bits: u32) {
    const DIGIT: u32 = 12;
    let mask = (1u64 << DIGIT) - 1;
    let mut buf = vec![(0u64, 0.0f64); v.len()];
    let mut shift = 0;
    while shift < bits {
        let mut start = vec![0usize; 1 << DIGIT];
        for &(c, _) in v.iter() {
            start[((c >> shift) & mask) as usize] += 1;
        }
        let mut sum = 0;
        for s in start.iter_mut() {
            (*s, sum) = (sum, sum + *s);
        }
        for &e in v.iter() {
            let d = ((e.0 >> shift) & mask) as usize;
            buf[start[d]] = e;
            start[d] += 1;
        }
        std::mem::swap(v, &mut buf);
        shift += DIGIT;
    }
}

impl Compressed {
    /// Merges identical rows (summaries built from dates repeat rows a lot) and sorts them.
    ///
    /// Each key column is first mapped to dense ranks of its distinct values (few: a frequency,
    /// and times on a day grid), the three ranks are packed into one integer code, and the codes
    /// are radix-sorted (stable) and merged; weights of one row are summed in input order. When
    /// the packed code would not fit in 64 bits, rows are merged by hashing instead.
    pub fn new(k0: &[f64], k1: &[f64], k2: &[f64], w: &[f64]) -> Compressed {
        Self::by_ranks(k0, k1, k2, w).unwrap_or_else(|| Self::by_hashing(k0, k1, k2, w))
    }

    fn from_sorted_rows(rows: impl Iterator<Item = (f64, f64, f64, f64)>) -> Compressed {
        let mut c = Compressed {
            k0: Vec::new(),
            k1: Vec::new(),
            k2: Vec::new(),
            w: Vec::new(),
            total_weight: 0.0,
        };
        for (a, b, d, w) in rows {
            c.k0.push(a);
            c.k1.push(b);
            c.k2.push(d);
            c.w.push(w);
        }
        c.total_weight = c.w.iter().sum();
        c
    }

    fn by_ranks(k0: &[f64], k1: &[f64], k2: &[f64], w: &[f64]) -> Option<Compressed> {
        let (v0, r0) = ranks(k0);
        let (v1, r1) = ranks(k1);
        let (v2, r2) = ranks(k2);
        let (n1, n2) = (v1.len() as u64, v2.len() as u64);
        let combinations = (v0.len() as u64).checked_mul(n1)?.checked_mul(n2)?;
        let bits = 64 - combinations.saturating_sub(1).leading_zeros();
        let mut codes: Vec<(u64, f64)> = (0..k0.len())
            .filter(|&i| w[i] > 0.0)
            .map(|i| ((r0[i] as u64 * n1 + r1[i] as u64) * n2 + r2[i] as u64, w[i]))
            .collect();
        radix_sort(&mut codes, bits);
        let mut merged: Vec<(u64, f64)> = Vec::new();
        for (code, weight) in codes {
            match merged.last_mut() {
                Some(last) if last.0 == code => last.1 += weight,
                _ => merged.push((code, weight)),
            }
        }
        Some(Self::from_sorted_rows(merged.into_iter().map(|(code, weight)| {
            let i2 = (code % n2) as usize;
            let i1 = (code / n2 % n1) as usize;
            let i0 = (code / n2 / n1) as usize;
            (key_value(v0[i0]), key_value(v1[i1]), key_value(v2[i2]), weight)
        })))
    }

    fn by_hashing(k0: &[f64], k1: &[f64], k2: &[f64], w: &[f64]) -> Compressed {
        let mut merged: hashbrown::HashMap<[u64; 3], f64> = hashbrown::HashMap::with_capacity(k0.len() / 4);
        for i in (0..k0.len()).filter(|&i| w[i] > 0.0) {
            *merged
                .entry([sort_key(k0[i]), sort_key(k1[i]), sort_key(k2[i])])
                .or_insert(0.0) += w[i];
        }
        let mut sorted: Vec<([u64; 3], f64)> = merged.into_iter().collect();
        sorted.sort_unstable_by_key(|r| r.0);
        Self::from_sorted_rows(
            sorted
                .into_iter()
                .map(|(k, w)| (key_value(k[0]), key_value(k[1]), key_value(k[2]), w)),
        )
    }

    pub fn len(&self) -> usize {
        self.k0.len()
    }

    /// Replaces the weights (one per row, zeros allowed: the rows stay) and their total.
    /// `false`, and nothing changed, when `w` has the wrong length.
    pub fn set_weights(&mut self, w: &[f64]) -> bool {
        if w.len() != self.w.len() {
            return false;
        }
        self.w.copy_from_slice(w);
        self.total_weight = w.iter().sum();
        true
    }

    /// The row holding the key `(k0, k1, k2)` (binary search in the sorted rows; equal keys are
    /// compared as [`Compressed::new`] merges them, -0.0 = +0.0), `None` when absent (a row
    /// whose weight was 0).
    pub fn row_of(&self, k0: f64, k1: f64, k2: f64) -> Option<usize> {
        let key = [sort_key(k0), sort_key(k1), sort_key(k2)];
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let at = [sort_key(self.k0[mid]), sort_key(self.k1[mid]), sort_key(self.k2[mid])];
            match at.cmp(&key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// Runs of equal `k0` as `(k0, start, end)`.
    pub fn groups(&self) -> Vec<(f64, usize, usize)> {
        let mut g = Vec::new();
        let mut start = 0;
        for i in 1..=self.k0.len() {
            if i == self.k0.len() || self.k0[i] != self.k0[start] {
                g.push((self.k0[start], start, i));
                start = i;
            }
        }
        g
    }

    /// Every `stride`-th row (rows are sorted, so the sample is stratified by
    /// `k0`), or `None` when there are fewer than `2·max_rows` rows.
    pub fn subsample(&self, max_rows: usize) -> Option<Compressed> {
        if self.len() < 2 * max_rows.max(1) {
            return None;
        }
        let stride = self.len() / max_rows;
        let idx: Vec<usize> = (0..self.len()).step_by(stride).collect();
        let pick = |v: &Vec<f64>| idx.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        let w = pick(&self.w);
        Some(Compressed {
            k0: pick(&self.k0),
            k1: pick(&self.k1),
            k2: pick(&self.k2),
            total_weight: w.iter().sum(),
            w,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_merges_identical_rows() {
        let s = TransactionSummary::from_rows(
            &[
                (0.0, 0.0, 10.0),
                (1.0, 2.0, 10.0),
                (0.0, 0.0, 10.0),
                (0.0, -0.0, 10.0),
                (1.0, 2.0, 9.0),
            ],
            TimeUnit::Week,
        )
        .unwrap();
        let c = s.compressed();
        assert_eq!(c.len(), 3);
        assert_eq!(c.weights(), &[3.0, 1.0, 1.0]);
        assert_eq!(c.total_weight(), 5.0);
    }

    #[test]
    fn compression_sorts_like_total_cmp_and_keeps_values() {
        let k0 = [3.0, -1.5, 0.0, -0.0, 1e300, -1e-300, 3.0, 2.5];
        let k1 = [1.0, 2.0, -3.0, -3.0, 0.5, 7.0, 1.0, -0.25];
        let k2 = [0.0; 8];
        let w = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 0.0];
        let c = Compressed::new(&k0, &k1, &k2, &w);
        // (0, -3) merged with (-0, -3); (3, 1) merged; the zero-weight row dropped.
        assert_eq!(c.k0, vec![-1.5, -1e-300, 0.0, 3.0, 1e300]);
        assert_eq!(c.k1, vec![2.0, 7.0, -3.0, 1.0, 0.5]);
        assert_eq!(c.w, vec![2.0, 6.0, 7.0, 8.0, 5.0]);
        assert_eq!(c.total_weight, 28.0);
    }

    #[test]
    fn ranked_and_hashed_compression_agree() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for (n, spread) in [(0, 1), (1, 1), (50, 3), (5_000, 40), (20_000, 400)] {
            let mut col = |scale: f64| -> Vec<f64> {
                (0..n)
                    .map(|_| match next() % 50 {
                        0 => -0.0,
                        1 => -((next() % spread) as f64) / scale,
                        _ => (next() % spread) as f64 / scale,
                    })
                    .collect()
            };
            let (k0, k1, k2) = (col(1.0), col(7.0), col(3.0));
            let w: Vec<f64> = (0..n).map(|_| (next() % 4) as f64).collect();
            let ranked = Compressed::by_ranks(&k0, &k1, &k2, &w).unwrap();
            let hashed = Compressed::by_hashing(&k0, &k1, &k2, &w);
            assert_eq!(ranked.k0, hashed.k0, "n = {n}");
            assert_eq!(ranked.k1, hashed.k1);
            assert_eq!(ranked.k2, hashed.k2);
            assert_eq!(ranked.w, hashed.w);
            assert_eq!(ranked.total_weight, hashed.total_weight);
            assert_eq!(ranked.total_weight, w.iter().sum::<f64>());
        }
    }

    #[test]
    fn units() {
        assert_eq!(TimeUnit::Month.days(), 30.4375);
        assert!((TimeUnit::Week.convert(1.0, TimeUnit::Day) - 7.0).abs() < 1e-15);
        assert!((TimeUnit::Month.convert(12.0, TimeUnit::Day) - 365.25).abs() < 1e-12);
    }
}
