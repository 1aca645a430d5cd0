//! One pass over prepared transactions into per-customer totals: the state of the fused
//! `rfm()` operator ([`crate::exec::rfm_exec`]).
//!
//! Every row updates its customer's [`CustomerTotals`] in place: purchase count, first and
//! last purchase time, the exact amount sum and the last day with any activity. Customers are
//! found by [`CustomerKeys`]:
//!
//! * integer ids go to a direct-address table while they stay in a compact range (the perfect
//!   hash DuckDB uses for dense keys), grown as new ids widen the range; ids that are too sparse
//!   for it move the whole index to a hash map once;
//! * string ids are stored once in an arena and found through an open-addressing table whose
//!   8-byte entries hold a hash tag and the arena offset; a batch is resolved in a pipeline
//!   that prefetches each row's table line and candidate id well before it compares them; a
//!   dictionary-encoded column resolves each dictionary value once per batch instead of once
//!   per row;
//! * the large per-customer tables are [`MappedVec`]s: from 4 MiB on, each is a memory mapping
//!   of its own, on huge pages (fewer TLB misses on random access), grown by the kernel without
//!   copying and returned to the operating system when the query ends;
//! * a row with the same id as the row before it (sorted input) skips the lookup.
//!
//! The totals do not depend on the order rows arrive in: counts and exact (integer) sums
//! commute, minima and maxima too. Only the order customers are numbered in (their slots)
//! does, and [`CustomerKeys::key_order`] gives the id order whenever it is needed.

mod keys;
mod totals;

use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, internal_err};

use super::mapped::MappedVec;
pub use keys::{CustomerKeys, is_supported_id_type};
use keys::{PREFETCH_AHEAD, prefetch};
pub use totals::CustomerTotals;
use totals::{WideSums, add_amount};

/// The per-customer totals of a stream of prepared transaction batches.
#[derive(Debug)]
pub struct CustomerAggregator {
    /// The index of customers.
    pub keys: CustomerKeys,
    /// Totals per slot.
    pub totals: MappedVec<CustomerTotals>,
    wide: WideSums,
    slots: Vec<u32>,
}

impl CustomerAggregator {
    /// An empty aggregator for ids of `id_type`.
    pub fn new(id_type: &DataType) -> Result<Self> {
        Ok(Self {
            keys: CustomerKeys::new(id_type)?,
            totals: MappedVec::new(),
            wide: WideSums::new(),
            slots: vec![],
        })
    }

    /// Bytes held.
    pub fn memory_size(&self) -> usize {
        self.keys.memory_size()
            + self.totals.capacity() * std::mem::size_of::<CustomerTotals>()
            + self.slots.capacity() * 4
            + self.wide.capacity() * 32
    }

    /// The exact amount sum of `slot` (at the amount's scale).
    pub fn sum(&self, slot: u32) -> i128 {
        i128::from(self.totals[slot as usize].sum) + self.wide.get(&slot).copied().unwrap_or(0)
    }

    /// Adds one batch of kept rows: `ids` (no nulls), the time as `i64` physical values, the
    /// day, the exact amount (at the amount's scale) and whether each row is a purchase
    /// (`None`: all are).
    pub fn update(
        &mut self,
        ids: &ArrayRef,
        time: &[i64],
        day: &[i32],
        amounts: &[i128],
        purchase: Option<&[bool]>,
    ) -> Result<()> {
        let n = ids.len();
        if time.len() != n || day.len() != n || amounts.len() != n || purchase.is_some_and(|p| p.len() != n) {
            return internal_err!("RfmExec: columns of different lengths");
        }
        let Self {
            keys,
            totals,
            wide,
            slots,
        } = self;
        keys.slots(ids, slots)?;
        if totals.len() < keys.len() {
            totals.resize(keys.len(), CustomerTotals::default());
        }
        let totals: &mut [CustomerTotals] = totals;
        for (i, slot) in slots.iter().enumerate() {
            if let Some(ahead) = slots.get(i + PREFETCH_AHEAD) {
                prefetch(&totals[*ahead as usize]);
            }
            let c = &mut totals[*slot as usize];
            // Batches of purchases only (the common case) test no per-row flag.
            if purchase.is_none_or(|p| p[i]) {
                c.add_purchases(1)?;
                c.first = c.first.min(time[i]);
                c.last = c.last.max(time[i]);
            }
            add_amount(c, wide, *slot, amounts[i])?;
            c.last_day = c.last_day.max(day[i]);
        }
        Ok(())
    }

    /// Folds the totals of `other` (the same kind of ids, other rows) into these.
    pub fn merge(&mut self, mut other: CustomerAggregator) -> Result<()> {
        // `other`'s ids are only read in order: its lookup table can go before ours grows.
        other.keys.seal();
        self.keys.absorb(&other.keys, &mut self.slots)?;
        if self.totals.len() < self.keys.len() {
            self.totals.resize(self.keys.len(), CustomerTotals::default());
        }
        for (from, (slot, t)) in self.slots.iter().zip(&other.totals).enumerate() {
            fold(
                &mut self.totals[*slot as usize],
                &mut self.wide,
                *slot,
                t,
                other.sum(from as u32),
            )?;
        }
        Ok(())
    }

    /// Folds one row of totals per entry of `ids` (another aggregation's customers, e.g. a
    /// stored customer state) into these, exactly as [`Self::merge`] folds an aggregator:
    /// `totals[i]`'s `sum` is ignored, `sums[i]` is the exact amount sum. Time is linear in
    /// the rows given plus the customers they add.
    pub fn add_totals(&mut self, ids: &ArrayRef, totals: &[CustomerTotals], sums: &[i128]) -> Result<()> {
        if totals.len() != ids.len() || sums.len() != ids.len() {
            return internal_err!("customer totals: columns of different lengths");
        }
        self.keys.slots(ids, &mut self.slots)?;
        if self.totals.len() < self.keys.len() {
            self.totals.resize(self.keys.len(), CustomerTotals::default());
        }
        for ((slot, t), sum) in self.slots.iter().zip(totals).zip(sums) {
            fold(&mut self.totals[*slot as usize], &mut self.wide, *slot, t, *sum)?;
        }
        Ok(())
    }
}

/// Folds the totals `t` with exact sum `sum` into `c` (at `slot`): counts and sums add, the
/// first purchase is the minimum, the last purchase and last day the maximum, so the result
/// does not depend on the order totals are folded in.
fn fold(c: &mut CustomerTotals, wide: &mut WideSums, slot: u32, t: &CustomerTotals, sum: i128) -> Result<()> {
    c.add_purchases(t.purchases)?;
    c.first = c.first.min(t.first);
    c.last = c.last.max(t.last);
    c.last_day = c.last_day.max(t.last_day);
    add_amount(c, wide, slot, sum)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::Int64Array;

    use super::*;

    #[test]
    fn sums_beyond_i64_stay_exact() {
        let mut agg = CustomerAggregator::new(&DataType::Int64).unwrap();
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 1, 1, 2]));
        let big = i128::from(i64::MAX) - 5;
        let amounts = [big, 7, big, -big, i128::from(i64::MIN)];
        agg.update(&ids, &[1; 5], &[1; 5], &amounts, None).unwrap();
        assert_eq!(agg.sum(0), big);
        assert_eq!(agg.sum(1), 7 + i128::from(i64::MIN));
        // More of it, and a merge of wide sums.
        let mut other = CustomerAggregator::new(&DataType::Int64).unwrap();
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![1, 1]));
        other
            .update(&ids, &[1; 2], &[1; 2], &[big * 1000, big * 1000], None)
            .unwrap();
        agg.merge(other).unwrap();
        assert_eq!(agg.sum(0), big * 2001);
    }

    #[test]
    fn totals_count_purchases_and_sum_everything() {
        let mut agg = CustomerAggregator::new(&DataType::Int64).unwrap();
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![1, 1, 2, 1]));
        let day = [10, 30, 20, 40];
        let purchase = [true, true, true, false];
        agg.update(&ids, &[10, 30, 20, 5], &day, &[500, 250, 0, -100], Some(&purchase))
            .unwrap();
        let c = agg.totals[0];
        assert_eq!(
            (c.first, c.last, agg.sum(0), c.purchases, c.last_day),
            (10, 30, 650, 2, 40)
        );
        assert_eq!(agg.sum(1), 0);
        assert_eq!(agg.totals[1].purchases, 1);
        // Another partition's rows, merged: the same as one pass over all rows.
        let mut other = CustomerAggregator::new(&DataType::Int64).unwrap();
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![3, 1]));
        other
            .update(&ids, &[7, 2], &[7, 2], &[i128::MAX / 2, -1], None)
            .unwrap();
        agg.merge(other).unwrap();
        let c = agg.totals[0];
        assert_eq!(
            (c.first, c.last, agg.sum(0), c.purchases, c.last_day),
            (2, 30, 649, 3, 40)
        );
        assert_eq!(agg.sum(2), i128::MAX / 2);
        assert_eq!(std::mem::size_of::<CustomerTotals>(), 32);
        assert_eq!(agg.keys.len(), 3);
        // Sums beyond Decimal128 are an error, never a wrapped value.
        let mut big = CustomerAggregator::new(&DataType::Int64).unwrap();
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![1, 1, 1]));
        let e = big.update(&ids, &[1, 1, 1], &[1, 1, 1], &[i128::MAX / 2; 3], None);
        assert!(e.unwrap_err().to_string().contains("overflows Decimal128"));
    }
}
