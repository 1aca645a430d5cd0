//! The purchase panel: every customer's kept transactions (day and exact amount), read in one
//! pass, from which the RFM features and the future outcomes at any number of cutoffs follow.
//!
//! A segmentation evaluated at twelve monthly cutoffs needs, per customer and cutoff, the
//! recency, frequency and monetary value as of the cutoff and what the customer bought in the
//! window after it. Twelve `rfm()` runs and twelve window aggregates would read the
//! transactions 24 times; the panel reads them once. Each input partition folds its rows into
//! a [`PanelBuilder`] (customer index, day, amount per row); the builders merge; and
//! [`PanelBuilder::finish`] lays the rows out customer by customer (customers in customer-id
//! order, each customer's rows in day order). [`PurchasePanel::at_cutoff`] then walks each
//! customer's rows once per cutoff.
//!
//! Definitions (identical to `rfm()` with `as_of` = the cutoff, and to `churn_labels`):
//! * a row is a purchase unless its amount is negative (a refund kept under
//!   `negative_amounts = 'net'`: it reduces monetary but is not an order);
//! * a customer is *present* at cutoff `c` when they have a purchase dated on or before `c`;
//! * `recency_days = c − day of the last purchase ≤ c` (all history, whatever the lookback);
//! * `frequency` = purchases (or, with `collapse = 'day'`, distinct purchase days) and
//!   `monetary` = the exact sum of all kept amounts, dated on or before `c` — or, with a
//!   lookback of `N` days, dated in `(c − N, c]`: a customer without a purchase in the lookback
//!   (dormant) stays present with frequency 0 and monetary 0;
//! * the outcome window is `(c, c + w]`: `future_orders` counted like frequency and
//!   `future_revenue` the exact sum of the kept amounts in it.
//!
//! Sums are exact integers at the amount's decimal scale, so they do not depend on the order
//! rows arrive in; customers are numbered in customer-id order, so everything computed from
//! the panel is the same for any partitioning and row order.

use std::collections::BTreeMap;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Decimal128Array, Int32Array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, internal_err};

use crate::rfm::customers::CustomerKeys;
use crate::rfm::mapped::MappedVec;

/// Marks an amount kept in the wide table (it does not fit an `i64`).
const WIDE: i64 = i64::MIN;

/// How orders are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderCount {
    /// Every purchase row is an order (`collapse = 'none'`, the RFM default).
    #[default]
    Rows,
    /// One order per customer and calendar day with a purchase (`collapse = 'day'`).
    Days,
}

/// One input partition's rows: the customer index and, per row, slot, day and exact amount.
#[derive(Debug)]
pub struct PanelBuilder {
    keys: CustomerKeys,
    slots: MappedVec<u32>,
    days: MappedVec<i32>,
    amounts: MappedVec<i64>,
    /// Amounts outside the `i64` range, by row.
    wide: Vec<(usize, i128)>,
    last_day: Option<i32>,
    scratch: Vec<u32>,
    /// Merged partitions, their rows left where they are: each with its slots' slots in
    /// `keys` (laid out by [`Self::finish`], which copies every row once).
    absorbed: Vec<(Vec<u32>, PanelBuilder)>,
}

impl PanelBuilder {
    /// An empty builder for customer ids of `id_type`.
    pub fn new(id_type: &DataType) -> Result<Self> {
        Ok(Self {
            keys: CustomerKeys::new(id_type)?,
            slots: MappedVec::new(),
            days: MappedVec::new(),
            amounts: MappedVec::new(),
            wide: vec![],
            last_day: None,
            scratch: vec![],
            absorbed: vec![],
        })
    }

    /// Bytes held.
    pub fn memory_size(&self) -> usize {
        self.keys.memory_size()
            + self.slots.capacity() * 16
            + self.wide.capacity() * 32
            + self
                .absorbed
                .iter()
                .map(|(map, b)| map.capacity() * 4 + b.memory_size())
                .sum::<usize>()
    }

    /// Rows held (this partition's and the absorbed ones').
    fn rows(&self) -> usize {
        self.amounts.len() + self.absorbed.iter().map(|(_, b)| b.rows()).sum::<usize>()
    }

    /// Adds one batch of prepared rows: customer ids (no nulls), days, exact amounts at the
    /// amount's scale (`amount_valid` marks the present ones; an absent amount adds nothing)
    /// and the purchase flags.
    pub fn update(
        &mut self,
        ids: &ArrayRef,
        day: &Int32Array,
        amounts: &[i128],
        amount_valid: Option<&NullBuffer>,
        purchase: &BooleanArray,
    ) -> Result<()> {
        let n = ids.len();
        if day.len() != n || amounts.len() != n || purchase.len() != n {
            return internal_err!("purchase panel: columns of different lengths");
        }
        if day.null_count() > 0 || purchase.null_count() > 0 {
            return internal_err!("purchase panel: null days or purchase flags");
        }
        self.keys.slots(ids, &mut self.scratch)?;
        self.slots.extend_from_slice(&self.scratch);
        self.days.extend_from_slice(day.values());
        let valid = amount_valid.filter(|v| v.null_count() > 0);
        for (i, &a) in amounts.iter().enumerate() {
            let a = if valid.is_none_or(|v| v.is_valid(i)) { a } else { 0 };
            // A row is a purchase exactly when its amount is not negative (see the module
            // documentation); the prepared plan's flag must agree.
            if purchase.value(i) != (a >= 0) {
                return internal_err!("purchase panel: purchase flag {} for amount {a}", purchase.value(i));
            }
            match i64::try_from(a) {
                Ok(v) if v != WIDE => self.amounts.push(v),
                _ => {
                    self.wide.push((self.amounts.len(), a));
                    self.amounts.push(WIDE);
                }
            }
        }
        if let Some(max) = day.values().iter().max() {
            self.last_day = Some(self.last_day.map_or(*max, |d| d.max(*max)));
        }
        Ok(())
    }

    /// Folds another partition's rows into these: its customers join the index; its rows stay
    /// where they are until [`Self::finish`] lays every row out.
    pub fn merge(&mut self, mut other: PanelBuilder) -> Result<()> {
        other.keys.seal();
        let mut map = vec![];
        self.keys.absorb(&other.keys, &mut map)?;
        self.last_day = match (self.last_day, other.last_day) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        for (inner, b) in std::mem::take(&mut other.absorbed) {
            let composed = inner.iter().map(|s| map[*s as usize]).collect();
            self.absorbed.push((composed, b));
        }
        other.keys = CustomerKeys::new(&DataType::Int64)?;
        self.absorbed.push((map, other));
        Ok(())
    }

    /// Lays the rows out by customer (customers in id order, rows in day order).
    pub fn finish(mut self, scale: i8) -> Result<PurchasePanel> {
        self.keys.seal();
        let n = self.keys.len();
        let all: Vec<u32> = (0..n as u32).collect();
        let order = self.keys.key_order(&all);
        let mut rank = vec![0u32; n];
        for (i, s) in order.iter().enumerate() {
            rank[*s as usize] = i as u32;
        }
        let rows = self.rows();
        // Each partition's rows with the slot of its customers in the index.
        let absorbed = std::mem::take(&mut self.absorbed);
        let parts: Vec<(Option<&[u32]>, &PanelBuilder)> = std::iter::once((None, &self))
            .chain(absorbed.iter().map(|(map, b)| (Some(map.as_slice()), b)))
            .collect();
        let slot = |map: Option<&[u32]>, s: u32| map.map_or(s, |m| m[s as usize]);
        let mut offsets = vec![0usize; n + 1];
        for (map, b) in &parts {
            for s in b.slots.iter() {
                offsets[rank[slot(*map, *s) as usize] as usize + 1] += 1;
            }
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut days = MappedVec::filled(rows, 0i32);
        let mut amounts = MappedVec::filled(rows, 0i64);
        // The next free place of each customer, by index slot.
        let mut next: Vec<usize> = rank.iter().map(|r| offsets[*r as usize]).collect();
        let mut wide = BTreeMap::new();
        for (map, b) in &parts {
            let wide_rows: BTreeMap<usize, i128> = b.wide.iter().copied().collect();
            for (row, s) in b.slots.iter().enumerate() {
                let at = &mut next[slot(*map, *s) as usize];
                days[*at] = b.days[row];
                amounts[*at] = b.amounts[row];
                if b.amounts[row] == WIDE {
                    wide.insert(*at, wide_rows[&row]);
                }
                *at += 1;
            }
        }
        drop(next);
        drop(parts);
        drop(absorbed);
        drop((self.slots, self.days, self.amounts));
        if wide.is_empty() {
            sort_rows(&offsets, &mut days, &mut amounts);
        } else {
            sort_rows_wide(&offsets, &mut days, &mut amounts, &mut wide);
        }
        Ok(PurchasePanel {
            keys: self.keys,
            order,
            offsets,
            days,
            amounts,
            wide,
            scale,
            last_day: self.last_day,
        })
    }
}

/// Orders each customer's rows by (day, amount), no amount being wide; on every core for
/// large panels (customers split into contiguous ranges).
fn sort_rows(offsets: &[usize], days: &mut [i32], amounts: &mut [i64]) {
    let n = offsets.len() - 1;
    let threads = if days.len() >= 1 << 20 { crate::ltv::cores() } else { 1 };
    let share = n.div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let (mut days, mut amounts) = (days, amounts);
        let mut done = 0;
        for from in (0..n).step_by(share) {
            let to = (from + share).min(n);
            let rows = offsets[to] - offsets[done];
            let (d, rest_d) = std::mem::take(&mut days).split_at_mut(rows);
            let (a, rest_a) = std::mem::take(&mut amounts).split_at_mut(rows);
            (days, amounts) = (rest_d, rest_a);
            let base = offsets[done];
            let offsets = &offsets[from..=to];
            done = to;
            scope.spawn(move || {
                let mut scratch: Vec<(i32, i64)> = vec![];
                for c in offsets.windows(2) {
                    let (from, to) = (c[0] - base, c[1] - base);
                    let (d, a) = (&mut d[from..to], &mut a[from..to]);
                    if d.len() <= 16 {
                        // Insertion sort of the pairs in place.
                        for i in 1..d.len() {
                            let (x, y) = (d[i], a[i]);
                            let mut j = i;
                            while j > 0 && (d[j - 1], a[j - 1]) > (x, y) {
                                d[j] = d[j - 1];
                                a[j] = a[j - 1];
                                j -= 1;
                            }
                            d[j] = x;
                            a[j] = y;
                        }
                    } else {
                        scratch.clear();
                        scratch.extend(d.iter().copied().zip(a.iter().copied()));
                        scratch.sort_unstable();
                        for (k, (x, y)) in scratch.iter().enumerate() {
                            d[k] = *x;
                            a[k] = *y;
                        }
                    }
                }
            });
        }
    });
}

/// Orders each customer's rows by (day, amount) when some amounts are wide.
fn sort_rows_wide(offsets: &[usize], days: &mut [i32], amounts: &mut [i64], wide: &mut BTreeMap<usize, i128>) {
    let mut scratch: Vec<(i32, i128)> = vec![];
    for c in offsets.windows(2) {
        let (from, to) = (c[0], c[1]);
        scratch.clear();
        for at in from..to {
            let a = if amounts[at] == WIDE {
                wide[&at]
            } else {
                i128::from(amounts[at])
            };
            scratch.push((days[at], a));
        }
        scratch.sort_unstable();
        for (k, (d, a)) in scratch.iter().enumerate() {
            let at = from + k;
            days[at] = *d;
            wide.remove(&at);
            amounts[at] = match i64::try_from(*a) {
                Ok(v) if v != WIDE => v,
                _ => {
                    wide.insert(at, *a);
                    WIDE
                }
            };
        }
    }
}

/// Every customer's kept transactions, customers in customer-id order. See the module
/// documentation.
#[derive(Debug)]
pub struct PurchasePanel {
    keys: CustomerKeys,
    /// The index slot of each customer, in id order.
    order: Vec<u32>,
    offsets: Vec<usize>,
    days: MappedVec<i32>,
    amounts: MappedVec<i64>,
    wide: BTreeMap<usize, i128>,
    scale: i8,
    last_day: Option<i32>,
}

/// Running totals of one customer's first rows (in day order): how far they reach, the
/// exact amount sum, the orders, and the first and last purchase days.
#[derive(Debug, Default)]
struct Totals {
    rows: usize,
    sum: i128,
    orders: i64,
    first_purchase: Option<i32>,
    last_purchase: Option<i32>,
}

impl Totals {
    /// Takes in the rows dated on or before `day` (`days`: the customer's, starting at panel
    /// row `from`). With orders counted as days, a purchase counts when its day has no earlier
    /// purchase, so the orders between two totals are the purchase days between them.
    #[inline]
    fn advance(&mut self, panel: &PurchasePanel, from: usize, days: &[i32], day: i64, orders: OrderCount) {
        while self.rows < days.len() && i64::from(days[self.rows]) <= day {
            let d = days[self.rows];
            let a = panel.amount(from + self.rows);
            self.sum += a;
            if a >= 0 {
                if orders == OrderCount::Rows || self.last_purchase != Some(d) {
                    self.orders += 1;
                }
                self.first_purchase.get_or_insert(d);
                self.last_purchase = Some(d);
            }
            self.rows += 1;
        }
    }
}

/// The RFM features of the customers present at one cutoff, and their outcomes in the window
/// after it (customers in id order).
#[derive(Debug, Clone, Default)]
pub struct CutoffData {
    /// The cutoff (days since 1970-01-01).
    pub cutoff: i32,
    /// Panel customers present at the cutoff, ascending (= customer-id order).
    pub customers: Vec<u32>,
    /// Days from the last purchase to the cutoff.
    pub recency_days: Vec<i64>,
    /// Orders on or before the cutoff (within the lookback).
    pub frequency: Vec<i64>,
    /// Exact amount sum on or before the cutoff (within the lookback), at the panel's scale.
    pub monetary_sum: Vec<i128>,
    /// Day of the first purchase.
    pub first_day: Vec<i32>,
    /// Day of the last purchase on or before the cutoff.
    pub last_day: Vec<i32>,
    /// Orders in the outcome window.
    pub future_orders: Vec<u32>,
    /// Exact amount sum in the outcome window, at the panel's scale.
    pub future_revenue: Vec<i128>,
}

impl CutoffData {
    /// Customers present.
    pub fn len(&self) -> usize {
        self.customers.len()
    }

    /// Whether no customer is present.
    pub fn is_empty(&self) -> bool {
        self.customers.is_empty()
    }
}

/// What [`PurchasePanel::at_cutoff`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutoffQuery {
    /// The cutoff day.
    pub cutoff: i32,
    /// Frequency and monetary over the last this many days (`None`: all history).
    pub lookback_days: Option<i64>,
    /// The outcome window's length in days (`None`: no outcomes).
    pub window_days: Option<i64>,
    /// How orders are counted.
    pub orders: OrderCount,
}

impl PurchasePanel {
    /// Customers.
    pub fn customers(&self) -> usize {
        self.order.len()
    }

    /// Rows held.
    pub fn rows(&self) -> usize {
        self.days.len()
    }

    /// The decimal scale of the amounts.
    pub fn scale(&self) -> i8 {
        self.scale
    }

    /// The last day with any kept row (`None` without rows).
    pub fn last_day(&self) -> Option<i32> {
        self.last_day
    }

    /// The first day with any kept row (`None` without rows).
    pub fn first_day(&self) -> Option<i32> {
        self.days.iter().copied().min()
    }

    /// Bytes held.
    pub fn memory_size(&self) -> usize {
        self.keys.memory_size() + self.order.len() * 4 + self.offsets.len() * 8 + self.days.len() * 12
    }

    /// The customer ids of panel customers `customers`, as an array of the id column's type.
    pub fn ids(&self, customers: &[u32]) -> Result<ArrayRef> {
        let slots: Vec<u32> = customers.iter().map(|c| self.order[*c as usize]).collect();
        self.keys.ids(&slots)
    }

    fn amount(&self, at: usize) -> i128 {
        match self.amounts[at] {
            WIDE => self.wide.get(&at).copied().unwrap_or(0),
            a => i128::from(a),
        }
    }

    /// The features (and outcomes) of every customer present at `q.cutoff`: the walk of
    /// [`Self::at_cutoffs`] at that one cutoff (on every core for large panels).
    pub fn at_cutoff(&self, q: CutoffQuery) -> CutoffData {
        self.at_cutoffs(&[q.cutoff], q).pop().unwrap_or_default()
    }

    /// The features (and outcomes) of the customers present at each of `cutoffs` (any order)
    /// with the same lookback, window and order count, in one walk of each customer's rows: running totals up to the
    /// lookback's start, the cutoff and the window's end, advanced cutoff by cutoff; the
    /// figures of a range are differences of exact totals. On every core for large panels.
    pub fn at_cutoffs(&self, cutoffs: &[i32], q: CutoffQuery) -> Vec<CutoffData> {
        let n = self.customers();
        let threads = if n >= 1 << 17 { crate::ltv::cores() } else { 1 };
        let share = n.div_ceil(threads.max(1)).max(1);
        let mut sorted: Vec<usize> = (0..cutoffs.len()).collect();
        sorted.sort_by_key(|k| cutoffs[*k]);
        let ascending: Vec<i32> = sorted.iter().map(|k| cutoffs[*k]).collect();
        let parts: Vec<Vec<CutoffData>> = if threads <= 1 {
            vec![self.range_at_cutoffs(0..n, &ascending, q)]
        } else {
            std::thread::scope(|scope| {
                let ascending = &ascending;
                let handles: Vec<_> = (0..n)
                    .step_by(share)
                    .map(|from| scope.spawn(move || self.range_at_cutoffs(from..(from + share).min(n), ascending, q)))
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
            })
        };
        let mut out: Vec<CutoffData> = vec![CutoffData::default(); cutoffs.len()];
        for (k, &at) in sorted.iter().enumerate() {
            let o = &mut out[at];
            o.cutoff = ascending[k];
            let len: usize = parts.iter().map(|p| p[k].len()).sum();
            o.customers.reserve(len);
            o.recency_days.reserve(len);
            o.frequency.reserve(len);
            o.monetary_sum.reserve(len);
            o.first_day.reserve(len);
            o.last_day.reserve(len);
            for p in &parts {
                let p = &p[k];
                o.customers.extend_from_slice(&p.customers);
                o.recency_days.extend_from_slice(&p.recency_days);
                o.frequency.extend_from_slice(&p.frequency);
                o.monetary_sum.extend_from_slice(&p.monetary_sum);
                o.first_day.extend_from_slice(&p.first_day);
                o.last_day.extend_from_slice(&p.last_day);
                o.future_orders.extend_from_slice(&p.future_orders);
                o.future_revenue.extend_from_slice(&p.future_revenue);
            }
        }
        out
    }

    /// [`Self::at_cutoffs`] of the customers `customers`, at ascending `cutoffs`.
    fn range_at_cutoffs(&self, customers: std::ops::Range<usize>, cutoffs: &[i32], q: CutoffQuery) -> Vec<CutoffData> {
        let mut out: Vec<CutoffData> = cutoffs
            .iter()
            .map(|c| CutoffData {
                cutoff: *c,
                ..Default::default()
            })
            .collect();
        for customer in customers {
            let (from, to) = (self.offsets[customer], self.offsets[customer + 1]);
            let days = &self.days[from..to];
            // Running totals of the rows up to the lookback's start, the cutoff and the window's
            // end (each only moves forward as the cutoffs ascend).
            let (mut start, mut upto, mut end) = (Totals::default(), Totals::default(), Totals::default());
            for (k, &c) in cutoffs.iter().enumerate() {
                upto.advance(self, from, days, i64::from(c), q.orders);
                // Present: a purchase on or before the cutoff.
                let (Some(first), Some(last)) = (upto.first_purchase, upto.last_purchase) else {
                    continue;
                };
                let (mut frequency, mut sum) = (upto.orders, upto.sum);
                if let Some(n) = q.lookback_days {
                    start.advance(self, from, days, i64::from(c) - n.max(0), q.orders);
                    frequency -= start.orders;
                    sum -= start.sum;
                    // A dormant customer (no purchase in the lookback) has monetary 0, whatever
                    // refunds the window holds.
                    if frequency == 0 {
                        sum = 0;
                    }
                }
                let o = &mut out[k];
                o.customers.push(customer as u32);
                o.recency_days.push(i64::from(c) - i64::from(last));
                o.frequency.push(frequency);
                o.monetary_sum.push(sum);
                o.first_day.push(first);
                o.last_day.push(last);
                if let Some(w) = q.window_days {
                    end.advance(self, from, days, i64::from(c) + w.max(0), q.orders);
                    o.future_orders.push((end.orders - upto.orders) as u32);
                    o.future_revenue.push(end.sum - upto.sum);
                }
            }
        }
        out
    }

    /// The exact sum of the kept amounts of each of `customers` dated in `(from, to]`.
    pub fn revenue_between(&self, customers: &[u32], from: i32, to: i32) -> Vec<i128> {
        customers
            .iter()
            .map(|c| {
                let (start, end) = (self.offsets[*c as usize], self.offsets[*c as usize + 1]);
                let days = &self.days[start..end];
                let (a, b) = (days.partition_point(|d| *d <= from), days.partition_point(|d| *d <= to));
                (start + a..start + b).map(|at| self.amount(at)).sum()
            })
            .collect()
    }

    /// Exact sums at the panel's scale as `Float64`, exactly as `CAST(sum AS DOUBLE)` of the
    /// `Decimal128(38, scale)` sum `rfm()` computes.
    pub fn to_f64(&self, sums: &[i128]) -> Result<Vec<f64>> {
        decimal_to_f64(sums, self.scale)
    }
}

/// Exact sums at `scale` as `Float64`, through arrow's decimal cast (the values `rfm()` has).
pub fn decimal_to_f64(sums: &[i128], scale: i8) -> Result<Vec<f64>> {
    let array = Decimal128Array::from_iter_values(sums.iter().copied()).with_precision_and_scale(38, scale)?;
    let f = datafusion::arrow::compute::cast(&array, &DataType::Float64)?;
    Ok(f.as_primitive::<Float64Type>().values().to_vec())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::Int64Array;

    use super::*;

    fn panel(rows: &[(i64, i32, i128)], parts: usize) -> PurchasePanel {
        let mut builders = vec![];
        for p in 0..parts {
            let mine: Vec<_> = rows
                .iter()
                .enumerate()
                .filter(|(i, _)| i % parts == p)
                .map(|r| *r.1)
                .collect();
            let mut b = PanelBuilder::new(&DataType::Int64).unwrap();
            let ids: ArrayRef = Arc::new(Int64Array::from(mine.iter().map(|r| r.0).collect::<Vec<_>>()));
            let days = Int32Array::from(mine.iter().map(|r| r.1).collect::<Vec<_>>());
            let amounts: Vec<i128> = mine.iter().map(|r| r.2).collect();
            let purchase = BooleanArray::from(amounts.iter().map(|a| *a >= 0).collect::<Vec<_>>());
            b.update(&ids, &days, &amounts, None, &purchase).unwrap();
            builders.push(b);
        }
        let mut first = builders.remove(0);
        for b in builders {
            first.merge(b).unwrap();
        }
        first.finish(2).unwrap()
    }

    /// Customer 7 buys on days 10, 20 (twice), 40 and refunds on 25; customer 3 buys on 30
    /// only; customer 5 only refunds.
    const ROWS: [(i64, i32, i128); 7] = [
        (7, 20, 1000),
        (3, 30, 500),
        (7, 10, 250),
        (5, 12, -100),
        (7, 25, -300),
        (7, 40, 2000),
        (7, 20, 50),
    ];

    #[test]
    fn features_and_outcomes_at_a_cutoff_by_hand() {
        for parts in [1, 2, 3] {
            let p = panel(&ROWS, parts);
            assert_eq!(p.customers(), 3);
            assert_eq!(p.last_day(), Some(40));
            // Customers in id order: 3, 5, 7.
            let ids = p.ids(&[0, 1, 2]).unwrap();
            assert_eq!(
                ids.as_primitive::<datafusion::arrow::datatypes::Int64Type>().values(),
                &[3, 5, 7]
            );
            let q = CutoffQuery {
                cutoff: 25,
                lookback_days: None,
                window_days: Some(15),
                orders: OrderCount::Rows,
            };
            let d = p.at_cutoff(q);
            // Present at 25: customer 7 only (3 buys on 30, 5 never buys).
            assert_eq!(d.customers, vec![2]);
            assert_eq!(d.recency_days, vec![5]);
            assert_eq!(d.frequency, vec![3]);
            assert_eq!(d.monetary_sum, vec![1000]); // 250 + 1000 + 50 - 300
            assert_eq!((d.future_orders[0], d.future_revenue[0]), (1, 2000)); // day 40 in (25, 40]
            let days = p.at_cutoff(CutoffQuery {
                orders: OrderCount::Days,
                ..q
            });
            assert_eq!(days.frequency, vec![2]); // days 10 and 20
            // A 10-day lookback at 35: (25, 35] has no purchase of 7: dormant, kept.
            let d = p.at_cutoff(CutoffQuery {
                cutoff: 35,
                lookback_days: Some(10),
                window_days: None,
                orders: OrderCount::Rows,
            });
            assert_eq!(d.customers, vec![0, 2]);
            assert_eq!(d.frequency, vec![1, 0]);
            assert_eq!(d.monetary_sum, vec![500, 0]);
            assert_eq!(d.recency_days, vec![5, 15]);
            assert!(d.future_orders.is_empty());
            // (15, 25]: customer 7 bought on 20 and refunded on 25.
            let d = p.at_cutoff(CutoffQuery {
                cutoff: 25,
                lookback_days: Some(10),
                window_days: None,
                orders: OrderCount::Rows,
            });
            assert_eq!((d.frequency.clone(), d.monetary_sum.clone()), (vec![2], vec![750]));
        }
    }

    /// The straightforward walk at one cutoff (every row of each customer compared with the
    /// cutoff, the lookback and the window): the reference of the running-total walk.
    fn reference_at_cutoff(p: &PurchasePanel, q: CutoffQuery) -> CutoffData {
        let customers = 0..p.customers();
        let c = q.cutoff;
        let since = q.lookback_days.map(|n| i64::from(c) - n);
        let until = q.window_days.map(|w| i64::from(c) + w);
        let mut out = CutoffData {
            cutoff: c,
            ..Default::default()
        };
        for customer in customers {
            let (from, to) = (p.offsets[customer], p.offsets[customer + 1]);
            let days = &p.days[from..to];
            // Rows on or before the cutoff.
            let end = days.partition_point(|d| *d <= c);
            let (mut first, mut last) = (None, None);
            let (mut frequency, mut sum) = (0i64, 0i128);
            let mut last_order_day = None;
            for (k, &d) in days[..end].iter().enumerate() {
                let a = p.amount(from + k);
                let within = since.is_none_or(|s| i64::from(d) > s);
                if within {
                    sum += a;
                }
                if a >= 0 {
                    first.get_or_insert(d);
                    last = Some(d);
                    if within && (q.orders == OrderCount::Rows || last_order_day != Some(d)) {
                        frequency += 1;
                        last_order_day = Some(d);
                    }
                }
            }
            let (Some(first), Some(last)) = (first, last) else {
                continue;
            };
            // A dormant customer (no purchase in the lookback) has monetary 0, whatever refunds
            // the window holds.
            if since.is_some() && frequency == 0 {
                sum = 0;
            }
            out.customers.push(customer as u32);
            out.recency_days.push(i64::from(c) - i64::from(last));
            out.frequency.push(frequency);
            out.monetary_sum.push(sum);
            out.first_day.push(first);
            out.last_day.push(last);
            if let Some(until) = until {
                let (mut orders, mut revenue) = (0u32, 0i128);
                let mut last_order_day = None;
                for (k, &d) in days[end..].iter().enumerate() {
                    if i64::from(d) > until {
                        break;
                    }
                    let a = p.amount(from + end + k);
                    revenue += a;
                    if a >= 0 && (q.orders == OrderCount::Rows || last_order_day != Some(d)) {
                        orders += 1;
                        last_order_day = Some(d);
                    }
                }
                out.future_orders.push(orders);
                out.future_revenue.push(revenue);
            }
        }
        out
    }

    /// Every figure of the walk over several cutoffs equals the straightforward walk at each
    /// cutoff alone, for any cutoff order, lookback, window and order count, and any
    /// partitioning.
    #[test]
    fn cutoffs_in_one_walk_equal_one_walk_each() {
        // Customer 9 has two purchases and a refund on day 20 and a wide amount on day 33.
        let mut rows = ROWS.to_vec();
        rows.extend([
            (9, 20, 10),
            (9, 20, 30),
            (9, 20, -5),
            (9, 33, i128::from(i64::MAX) * 3),
            (9, 5, 1),
        ]);
        let cutoffs = [25, 10, 4, 33, 40, 20, 25];
        for parts in [1, 2, 3] {
            let p = panel(&rows, parts);
            for lookback_days in [None, Some(0), Some(5), Some(13), Some(-1)] {
                for window_days in [None, Some(0), Some(7), Some(100), Some(-3)] {
                    for orders in [OrderCount::Rows, OrderCount::Days] {
                        let q = CutoffQuery {
                            cutoff: 0,
                            lookback_days,
                            window_days,
                            orders,
                        };
                        let all = p.at_cutoffs(&cutoffs, q);
                        for (c, d) in cutoffs.iter().zip(&all) {
                            let one = reference_at_cutoff(&p, CutoffQuery { cutoff: *c, ..q });
                            let key = |d: &CutoffData| {
                                format!(
                                    "{} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
                                    d.cutoff,
                                    d.customers,
                                    d.recency_days,
                                    d.frequency,
                                    d.monetary_sum,
                                    d.first_day,
                                    d.last_day,
                                    d.future_orders,
                                    d.future_revenue
                                )
                            };
                            assert_eq!(key(d), key(&one), "cutoff {c}, {q:?}, {parts} parts");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn wide_amounts_stay_exact() {
        let big = i128::from(i64::MAX) * 4;
        let p = panel(&[(1, 5, big), (1, 3, 7), (1, 4, big)], 2);
        let d = p.at_cutoff(CutoffQuery {
            cutoff: 4,
            lookback_days: None,
            window_days: Some(1),
            orders: OrderCount::Rows,
        });
        assert_eq!(d.monetary_sum, vec![big + 7]);
        assert_eq!(d.future_revenue, vec![big]);
    }
}
