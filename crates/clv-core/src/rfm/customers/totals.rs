//! The running totals of one customer and the exact sums that outgrow them.

use datafusion::common::{Result, exec_err};
use hashbrown::HashMap;

/// The running totals of one customer: 32 bytes, aligned, so one cache line holds whole
/// customers (at 40 bytes every other customer would straddle two lines, two memory accesses
/// where one prefetch brings one). The exact amount sum is an `i64` here; the rare customer
/// whose sum leaves that range keeps the excess in its aggregator's wide sums, so the total is
/// still exact (see [`CustomerAggregator::sum`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, align(32))]
pub struct CustomerTotals {
    /// Earliest purchase time (the time column's physical value); `i64::MAX` before any.
    pub first: i64,
    /// Latest purchase time; `i64::MIN` before any.
    pub last: i64,
    /// The part of the exact amount sum (at the amount's scale) that fits in an `i64`.
    pub(super) sum: i64,
    /// Purchase rows (refund rows are not purchases).
    pub purchases: u32,
    /// Latest day (days since 1970-01-01) with any kept row.
    pub last_day: i32,
}

impl Default for CustomerTotals {
    fn default() -> Self {
        Self {
            first: i64::MAX,
            last: i64::MIN,
            sum: 0,
            purchases: 0,
            last_day: i32::MIN,
        }
    }
}

impl CustomerTotals {
    /// Totals without an amount (sums are passed beside them, exactly, as `i128`).
    pub fn new(first: i64, last: i64, purchases: u32, last_day: i32) -> Self {
        Self {
            first,
            last,
            sum: 0,
            purchases,
            last_day,
        }
    }

    #[inline(always)]
    pub(super) fn add_purchases(&mut self, n: u32) -> Result<()> {
        match self.purchases.checked_add(n) {
            Some(p) => {
                self.purchases = p;
                Ok(())
            }
            None => too_many_purchases(),
        }
    }

    /// Adds `amount` to the `i64` sum when it stays in range; false when it does not (the
    /// caller moves the sum to the wide sums).
    #[inline(always)]
    fn try_add_amount(&mut self, amount: i128) -> bool {
        match i64::try_from(amount).ok().and_then(|a| self.sum.checked_add(a)) {
            Some(sum) => {
                self.sum = sum;
                true
            }
            None => false,
        }
    }
}

#[cold]
fn too_many_purchases() -> Result<()> {
    exec_err!("a customer has more than {} purchases", u32::MAX)
}

/// Exact sums that left the `i64` range, by slot: the total is this plus the slot's `sum`.
pub(super) type WideSums = HashMap<u32, i128>;

/// Adds `amount` to `slot`'s sum, moving it to `wide` when it leaves the `i64` range.
#[inline(always)]
pub(super) fn add_amount(c: &mut CustomerTotals, wide: &mut WideSums, slot: u32, amount: i128) -> Result<()> {
    if c.try_add_amount(amount) {
        return Ok(());
    }
    let excess = wide.entry(slot).or_insert(0);
    match excess
        .checked_add(i128::from(c.sum))
        .and_then(|e| e.checked_add(amount))
    {
        Some(e) => {
            *excess = e;
            c.sum = 0;
            Ok(())
        }
        None => exec_err!("a customer's amount sum overflows Decimal128(38)"),
    }
}
