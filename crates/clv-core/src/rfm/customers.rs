//! One pass over prepared transactions into per-customer totals: the state of the fused
//! `rfm()` operator ([`crate::plan::rfm_exec`]).
//!
//! Every row updates its customer's [`CustomerTotals`] in place: purchase count, first and
//! last purchase time, the exact amount sum and the last day with any activity. Customers are
//! found by [`CustomerKeys`]:
//!
//! * integer ids go to a direct-address table while they stay in a compact range (the perfect
//!   hash DuckDB uses for dense keys), grown as new ids widen the range; ids that are too sparse
//!   for it move the whole index to a hash map once;
//! * string ids are hashed once and stored in one arena; a dictionary-encoded column resolves
//!   each dictionary value once per batch instead of once per row;
//! * a row with the same id as the row before it (sorted input) skips the lookup.
//!
//! The totals do not depend on the order rows arrive in: counts and exact (integer) sums
//! commute, minima and maxima too. Only the order customers are numbered in (their slots)
//! does, and [`CustomerKeys::key_order`] gives the id order whenever it is needed.

use std::cmp::Ordering;
use std::hash::BuildHasher;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, DictionaryArray, GenericStringArray, Int32Array, OffsetSizeTrait,
    PrimitiveArray, StringViewArray,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{
    ArrowDictionaryKeyType, ArrowNativeType, ArrowPrimitiveType, DataType, Int8Type, Int16Type, Int32Type, Int64Type,
    UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::common::{Result, exec_err, internal_err};
use hashbrown::{DefaultHashBuilder, HashMap, HashTable};

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
    sum: i64,
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
    fn add_purchases(&mut self, n: u32) -> Result<()> {
        match self.purchases.checked_add(n) {
            Some(p) => {
                self.purchases = p;
                Ok(())
            }
            None => exec_err!("a customer has more than {} purchases", u32::MAX),
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

/// Exact sums that left the `i64` range, by slot: the total is this plus the slot's `sum`.
type WideSums = HashMap<u32, i128>;

/// Adds `amount` to `slot`'s sum, moving it to `wide` when it leaves the `i64` range.
#[inline(always)]
fn add_amount(c: &mut CustomerTotals, wide: &mut WideSums, slot: u32, amount: i128) -> Result<()> {
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

/// How many rows ahead the update loops prefetch the customer they will touch: the totals of
/// a million customers do not fit in the cache, so each row's customer is a memory access
/// that prefetching overlaps with the work on the rows before it.
const PREFETCH_AHEAD: usize = 16;

/// Asks the CPU to load the cache line of `value` (a hint: no effect on results).
#[inline(always)]
fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint that never faults and reads nothing into the program; the
    // pointer comes from a live reference.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((value as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// Direct-address tables are used while the id range is at most this many times the number
/// of customers (plus [`DIRECT_SLACK`]) ...
const DIRECT_DENSITY: i64 = 8;
/// ... or this wide whatever the number of customers.
const DIRECT_SLACK: i64 = 1 << 20;
/// And never wider than this (256 MiB of `u32`).
const DIRECT_MAX: i64 = 1 << 26;

/// How integer ids compare (the id column's type): signed, or unsigned stored bit for bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IntOrder {
    Signed,
    Unsigned,
}

#[derive(Debug)]
enum IntIndex {
    /// `table[id − base]` is slot + 1, 0 for an id not seen.
    Direct {
        base: i64,
        table: Vec<u32>,
    },
    Hash(HashMap<i64, u32>),
}

#[derive(Debug)]
struct IntKeys {
    keys: Vec<i64>,
    order: IntOrder,
    index: IntIndex,
}

impl IntKeys {
    fn new(order: IntOrder) -> Self {
        Self {
            keys: vec![],
            order,
            index: IntIndex::Direct { base: 0, table: vec![] },
        }
    }

    /// The slot of `key`, numbering a new customer when it is not known yet.
    #[inline]
    fn slot(&mut self, key: i64) -> u32 {
        let next = self.keys.len() as u32;
        match &mut self.index {
            IntIndex::Direct { base, table } => {
                let at = i128::from(key) - i128::from(*base);
                if at >= 0 && at < table.len() as i128 {
                    let cell = &mut table[at as usize];
                    if *cell != 0 {
                        return *cell - 1;
                    }
                    *cell = next + 1;
                    self.keys.push(key);
                    return next;
                }
            }
            IntIndex::Hash(map) => {
                let keys = &mut self.keys;
                return *map.entry(key).or_insert_with(|| {
                    keys.push(key);
                    next
                });
            }
        }
        self.slot_outside(key)
    }

    /// A key outside the direct table: grow the table, or move to a hash map.
    #[cold]
    fn slot_outside(&mut self, key: i64) -> u32 {
        let IntIndex::Direct { base, table } = &mut self.index else {
            unreachable!("only called in direct mode")
        };
        let (lo, hi) = if table.is_empty() {
            (i128::from(key), i128::from(key))
        } else {
            let (base, top) = (i128::from(*base), i128::from(*base) + table.len() as i128 - 1);
            (base.min(i128::from(key)), top.max(i128::from(key)))
        };
        let span = hi - lo + 1;
        let customers = self.keys.len() as i128 + 1;
        if span <= i128::from(DIRECT_MAX)
            && span <= (i128::from(DIRECT_DENSITY) * customers).max(i128::from(DIRECT_SLACK))
        {
            // Grow with headroom on the side that moved, so a rising (or falling) id sequence
            // regrows the table a logarithmic number of times; stay inside i64.
            let room = (span / 2).min(i128::from(DIRECT_MAX) - span).max(0);
            let (new_lo, new_hi) = if !table.is_empty() && i128::from(key) < i128::from(*base) {
                ((lo - room).max(i128::from(i64::MIN)), hi)
            } else {
                (lo, (hi + room).min(i128::from(i64::MAX)))
            };
            let mut grown = vec![0u32; (new_hi - new_lo + 1) as usize];
            if !table.is_empty() {
                let shift = (i128::from(*base) - new_lo) as usize;
                grown[shift..shift + table.len()].copy_from_slice(table);
            }
            *base = new_lo as i64;
            *table = grown;
            return self.slot(key);
        }
        // Too sparse for a direct table: index every known id in a hash map, once.
        let mut map = HashMap::with_capacity(self.keys.len() * 2);
        for (slot, k) in self.keys.iter().enumerate() {
            map.insert(*k, slot as u32);
        }
        self.index = IntIndex::Hash(map);
        self.slot(key)
    }

    /// Prefetches the direct-table cell of `key` (nothing in hash mode).
    #[inline(always)]
    fn prefetch(&self, key: i64) {
        if let IntIndex::Direct { base, table } = &self.index
            && let Some(cell) = usize::try_from(i128::from(key) - i128::from(*base))
                .ok()
                .and_then(|at| table.get(at))
        {
            prefetch(cell);
        }
    }

    fn compare(&self, a: u32, b: u32) -> Ordering {
        let (x, y) = (self.keys[a as usize], self.keys[b as usize]);
        match self.order {
            IntOrder::Signed => x.cmp(&y),
            IntOrder::Unsigned => (x as u64).cmp(&(y as u64)),
        }
    }

    fn memory_size(&self) -> usize {
        self.keys.capacity() * 8
            + match &self.index {
                IntIndex::Direct { table, .. } => table.capacity() * 4,
                IntIndex::Hash(map) => map.capacity() * 16,
            }
    }
}

/// String ids: the bytes of every id in one arena, a hash table of slots.
#[derive(Debug, Default)]
struct StrKeys {
    arena: Vec<u8>,
    /// `ends[slot]` is the end of the slot's bytes in `arena` (its start is the previous end).
    ends: Vec<usize>,
    hashes: Vec<u64>,
    table: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl StrKeys {
    fn key(&self, slot: u32) -> &[u8] {
        let s = slot as usize;
        let start = if s == 0 { 0 } else { self.ends[s - 1] };
        &self.arena[start..self.ends[s]]
    }

    #[inline]
    fn slot(&mut self, key: &[u8]) -> u32 {
        let hash = self.hasher.hash_one(key);
        let (arena, ends) = (&self.arena, &self.ends);
        let bytes = |slot: u32| {
            let s = slot as usize;
            let start = if s == 0 { 0 } else { ends[s - 1] };
            &arena[start..ends[s]]
        };
        if let Some(slot) = self.table.find(hash, |&slot| bytes(slot) == key) {
            return *slot;
        }
        let slot = self.ends.len() as u32;
        self.arena.extend_from_slice(key);
        self.ends.push(self.arena.len());
        self.hashes.push(hash);
        let hashes = &self.hashes;
        self.table.insert_unique(hash, slot, |&s| hashes[s as usize]);
        slot
    }

    fn memory_size(&self) -> usize {
        self.arena.capacity() + self.ends.capacity() * 8 + self.hashes.capacity() * 8 + self.table.capacity() * 5
    }
}

/// The customer index: ids to slots `0..len`, in first-seen order.
#[derive(Debug)]
pub struct CustomerKeys {
    id_type: DataType,
    keys: Keys,
}

#[derive(Debug)]
enum Keys {
    Int(IntKeys),
    Str(StrKeys),
}

/// Whether the fused operator takes customer ids of this type.
pub fn is_supported_id_type(t: &DataType) -> bool {
    match t {
        DataType::Int32 | DataType::Int64 | DataType::UInt32 | DataType::UInt64 => true,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => true,
        DataType::Dictionary(k, v) => {
            k.is_dictionary_key_type()
                && matches!(v.as_ref(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
        }
        _ => false,
    }
}

impl CustomerKeys {
    /// An empty index for ids of `id_type` (see [`is_supported_id_type`]).
    pub fn new(id_type: &DataType) -> Result<Self> {
        let keys = match id_type {
            DataType::Int32 | DataType::Int64 => Keys::Int(IntKeys::new(IntOrder::Signed)),
            DataType::UInt32 | DataType::UInt64 => Keys::Int(IntKeys::new(IntOrder::Unsigned)),
            t if is_supported_id_type(t) => Keys::Str(StrKeys::default()),
            t => return internal_err!("customer id type {t} is not supported by the fused RFM operator"),
        };
        Ok(Self {
            id_type: id_type.clone(),
            keys,
        })
    }

    /// Customers seen so far.
    pub fn len(&self) -> usize {
        match &self.keys {
            Keys::Int(k) => k.keys.len(),
            Keys::Str(k) => k.ends.len(),
        }
    }

    /// Whether no customer was seen.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held.
    pub fn memory_size(&self) -> usize {
        match &self.keys {
            Keys::Int(k) => k.memory_size(),
            Keys::Str(k) => k.memory_size(),
        }
    }

    /// The slot of every row of `ids` (no nulls), numbering new customers; into `out`.
    pub fn slots(&mut self, ids: &ArrayRef, out: &mut Vec<u32>) -> Result<()> {
        out.clear();
        if ids.null_count() > 0 {
            return internal_err!("null customer ids reached the fused RFM operator");
        }
        match (&mut self.keys, ids.data_type()) {
            (Keys::Int(k), DataType::Int32) => int_slots(k, ids.as_primitive::<Int32Type>(), out),
            (Keys::Int(k), DataType::Int64) => int_slots(k, ids.as_primitive::<Int64Type>(), out),
            (Keys::Int(k), DataType::UInt32) => int_slots(k, ids.as_primitive::<UInt32Type>(), out),
            (Keys::Int(k), DataType::UInt64) => int_slots(k, ids.as_primitive::<UInt64Type>(), out),
            (Keys::Str(k), DataType::Utf8) => str_slots(k, ids.as_string::<i32>(), out),
            (Keys::Str(k), DataType::LargeUtf8) => str_slots(k, ids.as_string::<i64>(), out),
            (Keys::Str(k), DataType::Utf8View) => view_slots(k, ids.as_string_view(), out),
            (Keys::Str(k), DataType::Dictionary(key, _)) => match key.as_ref() {
                DataType::Int8 => dict_slots(k, ids.as_dictionary::<Int8Type>(), out),
                DataType::Int16 => dict_slots(k, ids.as_dictionary::<Int16Type>(), out),
                DataType::Int32 => dict_slots(k, ids.as_dictionary::<Int32Type>(), out),
                DataType::Int64 => dict_slots(k, ids.as_dictionary::<Int64Type>(), out),
                DataType::UInt8 => dict_slots(k, ids.as_dictionary::<UInt8Type>(), out),
                DataType::UInt16 => dict_slots(k, ids.as_dictionary::<UInt16Type>(), out),
                DataType::UInt32 => dict_slots(k, ids.as_dictionary::<UInt32Type>(), out),
                DataType::UInt64 => dict_slots(k, ids.as_dictionary::<UInt64Type>(), out),
                other => exec_err!("customer id dictionary key type {other} is not supported"),
            },
            (_, t) => internal_err!(
                "customer ids of type {t} reached a fused RFM index built for {}",
                self.id_type
            ),
        }
    }

    /// The slots here of every customer of `other` (in `other`'s slot order), numbering those
    /// not known yet; into `out`.
    pub fn absorb(&mut self, other: &CustomerKeys, out: &mut Vec<u32>) -> Result<()> {
        out.clear();
        match (&mut self.keys, &other.keys) {
            (Keys::Int(k), Keys::Int(o)) => out.extend(o.keys.iter().map(|key| k.slot(*key))),
            (Keys::Str(k), Keys::Str(o)) => {
                for slot in 0..o.ends.len() as u32 {
                    out.push(k.slot(o.key(slot)));
                }
            }
            _ => return internal_err!("merging customer indexes of different id types"),
        }
        Ok(())
    }

    /// Compares two customers by id, as `ORDER BY customer_id` does.
    pub fn compare(&self, a: u32, b: u32) -> Ordering {
        match &self.keys {
            Keys::Int(k) => k.compare(a, b),
            Keys::Str(k) => k.key(a).cmp(k.key(b)),
        }
    }

    /// `slots` ordered by customer id. Direct-address integer ids enumerate in id order
    /// without a sort.
    pub fn key_order(&self, slots: &[u32]) -> Vec<u32> {
        if let Some(ordered) = self.key_order_if_free(slots) {
            return ordered;
        }
        let mut out = slots.to_vec();
        out.sort_unstable_by(|a, b| self.compare(*a, *b));
        out
    }

    /// `slots` in customer-id order when that needs no sort (a direct-address table), else
    /// `None`.
    pub fn key_order_if_free(&self, slots: &[u32]) -> Option<Vec<u32>> {
        let Keys::Int(IntKeys {
            index: IntIndex::Direct { table, base },
            order,
            ..
        }) = &self.keys
        else {
            return None;
        };
        // Unsigned ids above i64::MAX are stored as negative keys: table order is id order
        // only when every key is non-negative.
        if *order == IntOrder::Unsigned && *base < 0 {
            return None;
        }
        let wanted: Option<Vec<bool>> = (slots.len() < self.len()).then(|| {
            let mut w = vec![false; self.len()];
            for s in slots {
                w[*s as usize] = true;
            }
            w
        });
        Some(
            table
                .iter()
                .filter(|c| **c != 0)
                .map(|c| c - 1)
                .filter(|s| wanted.as_ref().is_none_or(|w| w[*s as usize]))
                .collect(),
        )
    }

    /// The ids of `slots`, as an array of the id column's type.
    pub fn ids(&self, slots: &[u32]) -> Result<ArrayRef> {
        use std::sync::Arc;
        let array: ArrayRef = match &self.keys {
            Keys::Int(k) => {
                let values = slots.iter().map(|s| k.keys[*s as usize]);
                match self.id_type {
                    DataType::Int32 => Arc::new(Int32Array::from_iter_values(values.map(|v| v as i32))),
                    DataType::Int64 => Arc::new(PrimitiveArray::<Int64Type>::from_iter_values(values)),
                    DataType::UInt32 => {
                        Arc::new(PrimitiveArray::<UInt32Type>::from_iter_values(values.map(|v| v as u32)))
                    }
                    DataType::UInt64 => {
                        Arc::new(PrimitiveArray::<UInt64Type>::from_iter_values(values.map(|v| v as u64)))
                    }
                    ref t => return internal_err!("integer ids of type {t}"),
                }
            }
            Keys::Str(k) => {
                let strings = slots
                    .iter()
                    .map(|s| {
                        std::str::from_utf8(k.key(*s))
                            .map_err(|e| datafusion::error::DataFusionError::Internal(e.to_string()))
                    })
                    .collect::<Result<Vec<&str>>>()?;
                Arc::new(GenericStringArray::<i32>::from_iter_values(strings))
            }
        };
        if array.data_type() == &self.id_type {
            Ok(array)
        } else {
            Ok(datafusion::arrow::compute::cast(&array, &self.id_type)?)
        }
    }
}

/// Integer values as the index's `i64` keys (unsigned ones bit for bit).
trait AsKey: ArrowPrimitiveType {
    fn key(v: Self::Native) -> i64;
}
impl AsKey for Int32Type {
    fn key(v: i32) -> i64 {
        i64::from(v)
    }
}
impl AsKey for Int64Type {
    fn key(v: i64) -> i64 {
        v
    }
}
impl AsKey for UInt32Type {
    fn key(v: u32) -> i64 {
        i64::from(v)
    }
}
impl AsKey for UInt64Type {
    fn key(v: u64) -> i64 {
        v as i64
    }
}

fn int_slots<T: AsKey>(k: &mut IntKeys, ids: &PrimitiveArray<T>, out: &mut Vec<u32>) -> Result<()> {
    let mut previous: Option<(i64, u32)> = None;
    let values = ids.values();
    for (i, v) in values.iter().enumerate() {
        if let Some(ahead) = values.get(i + PREFETCH_AHEAD) {
            k.prefetch(T::key(*ahead));
        }
        let key = T::key(*v);
        let slot = match previous {
            Some((p, s)) if p == key => s,
            _ => k.slot(key),
        };
        previous = Some((key, slot));
        out.push(slot);
    }
    Ok(())
}

fn str_slots<O: OffsetSizeTrait>(k: &mut StrKeys, ids: &GenericStringArray<O>, out: &mut Vec<u32>) -> Result<()> {
    byte_slots(k, ids.len(), |i| ids.value(i).as_bytes(), out)
}

fn view_slots(k: &mut StrKeys, ids: &StringViewArray, out: &mut Vec<u32>) -> Result<()> {
    byte_slots(k, ids.len(), |i| ids.value(i).as_bytes(), out)
}

/// The slots of `len` string ids read by `value`.
fn byte_slots<'a>(k: &mut StrKeys, len: usize, value: impl Fn(usize) -> &'a [u8], out: &mut Vec<u32>) -> Result<()> {
    let mut previous: Option<(&[u8], u32)> = None;
    for i in 0..len {
        let key = value(i);
        let slot = match previous {
            Some((p, s)) if p == key => s,
            _ => k.slot(key),
        };
        previous = Some((key, slot));
        out.push(slot);
    }
    Ok(())
}

/// Dictionary-encoded ids: each dictionary value is looked up once, rows map through it.
fn dict_slots<K: ArrowDictionaryKeyType>(k: &mut StrKeys, ids: &DictionaryArray<K>, out: &mut Vec<u32>) -> Result<()> {
    let mut value_slots = vec![];
    let values = ids.values();
    match values.data_type() {
        DataType::Utf8 => str_slots(k, values.as_string::<i32>(), &mut value_slots)?,
        DataType::LargeUtf8 => str_slots(k, values.as_string::<i64>(), &mut value_slots)?,
        DataType::Utf8View => view_slots(k, values.as_string_view(), &mut value_slots)?,
        t => return exec_err!("customer id dictionary values of type {t} are not supported"),
    }
    // Dictionary values no row uses still got a slot; they stay without purchases and are
    // never output (a customer needs a purchase row).
    for key in ids.keys().values().iter() {
        let Some(slot) = key.to_usize().and_then(|i| value_slots.get(i)) else {
            return exec_err!("customer id dictionary key out of range");
        };
        out.push(*slot);
    }
    Ok(())
}

/// The per-customer totals of a stream of prepared transaction batches.
#[derive(Debug)]
pub struct CustomerAggregator {
    /// The index of customers.
    pub keys: CustomerKeys,
    /// Totals per slot.
    pub totals: Vec<CustomerTotals>,
    wide: WideSums,
    slots: Vec<u32>,
}

impl CustomerAggregator {
    /// An empty aggregator for ids of `id_type`.
    pub fn new(id_type: &DataType) -> Result<Self> {
        Ok(Self {
            keys: CustomerKeys::new(id_type)?,
            totals: vec![],
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

    /// Adds one batch: `ids`, the time as `i64` physical values, the day, the exact amount
    /// (at the amount's scale) and whether the row is a purchase. `amount_valid` marks the
    /// amounts present (a null amount adds nothing, as SQL `sum` skips it); nothing else may
    /// be null.
    pub fn update(
        &mut self,
        ids: &ArrayRef,
        time: &[i64],
        day: &Int32Array,
        amounts: &[i128],
        amount_valid: Option<&NullBuffer>,
        purchase: &BooleanArray,
    ) -> Result<()> {
        if day.null_count() > 0 || purchase.null_count() > 0 {
            return internal_err!("null days or purchase flags reached the fused RFM operator");
        }
        let n = ids.len();
        if time.len() != n || day.len() != n || amounts.len() != n || purchase.len() != n {
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
        let day = day.values();
        let amount_valid = amount_valid.filter(|n| n.null_count() > 0);
        // Batches of purchases only (the common case) test no per-row flag.
        let all_purchases = purchase.true_count() == n;
        for (i, slot) in slots.iter().enumerate() {
            if let Some(ahead) = slots.get(i + PREFETCH_AHEAD) {
                prefetch(&totals[*ahead as usize]);
            }
            let c = &mut totals[*slot as usize];
            if all_purchases || purchase.value(i) {
                c.add_purchases(1)?;
                c.first = c.first.min(time[i]);
                c.last = c.last.max(time[i]);
            }
            if amount_valid.is_none_or(|v| v.is_valid(i)) {
                add_amount(c, wide, *slot, amounts[i])?;
            }
            c.last_day = c.last_day.max(day[i]);
        }
        Ok(())
    }

    /// Folds the totals of `other` (the same kind of ids, other rows) into these.
    pub fn merge(&mut self, other: CustomerAggregator) -> Result<()> {
        self.keys.absorb(&other.keys, &mut self.slots)?;
        if self.totals.len() < self.keys.len() {
            self.totals.resize(self.keys.len(), CustomerTotals::default());
        }
        for (from, (slot, t)) in self.slots.iter().zip(&other.totals).enumerate() {
            let c = &mut self.totals[*slot as usize];
            c.add_purchases(t.purchases)?;
            c.first = c.first.min(t.first);
            c.last = c.last.max(t.last);
            c.last_day = c.last_day.max(t.last_day);
            add_amount(c, &mut self.wide, *slot, other.sum(from as u32))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Decimal128Array, Int64Array, StringArray, UInt64Array};

    use super::*;

    fn slots_of(keys: &mut CustomerKeys, ids: ArrayRef) -> Vec<u32> {
        let mut out = vec![];
        keys.slots(&ids, &mut out).unwrap();
        out
    }

    #[test]
    fn integer_ids_stay_direct_while_dense_and_move_to_a_hash_when_sparse() {
        let mut keys = CustomerKeys::new(&DataType::Int64).unwrap();
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![5, 3, 5, 9, 3, -2]));
        assert_eq!(slots_of(&mut keys, ids), vec![0, 1, 0, 2, 1, 3]);
        assert!(matches!(
            &keys.keys,
            Keys::Int(IntKeys {
                index: IntIndex::Direct { .. },
                ..
            })
        ));
        assert_eq!(keys.key_order(&[0, 1, 2, 3]), vec![3, 1, 0, 2]);
        // A far id: the index becomes a hash map, with every slot kept.
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![1 << 40, 9, -2, 1 << 40]));
        assert_eq!(slots_of(&mut keys, ids), vec![4, 2, 3, 4]);
        assert!(matches!(
            &keys.keys,
            Keys::Int(IntKeys {
                index: IntIndex::Hash(_),
                ..
            })
        ));
        assert_eq!(keys.key_order(&[4, 0, 3]), vec![3, 0, 4]);
        let ids = keys.ids(&[4, 3]).unwrap();
        assert_eq!(ids.as_primitive::<Int64Type>().values().to_vec(), vec![1 << 40, -2]);
    }

    #[test]
    fn unsigned_ids_order_as_unsigned() {
        let mut keys = CustomerKeys::new(&DataType::UInt64).unwrap();
        let ids: ArrayRef = Arc::new(UInt64Array::from(vec![u64::MAX, 1, u64::MAX - 1]));
        assert_eq!(slots_of(&mut keys, ids), vec![0, 1, 2]);
        assert_eq!(keys.key_order(&[0, 1, 2]), vec![1, 2, 0]);
        let back = keys.ids(&[0]).unwrap();
        assert_eq!(back.as_primitive::<UInt64Type>().value(0), u64::MAX);
    }

    #[test]
    fn string_ids_plain_view_and_dictionary_share_slots() {
        let mut keys = CustomerKeys::new(&DataType::Utf8).unwrap();
        let ids: ArrayRef = Arc::new(StringArray::from(vec!["b", "a", "b", "", "c"]));
        assert_eq!(slots_of(&mut keys, ids), vec![0, 1, 0, 2, 3]);
        let view: ArrayRef = Arc::new(StringViewArray::from(vec!["c", "a long id beyond twelve bytes", "a"]));
        assert_eq!(slots_of(&mut keys, view), vec![3, 4, 1]);
        let dict: ArrayRef = Arc::new(DictionaryArray::<Int32Type>::from_iter(["a", "zz", "a", "b"]));
        assert_eq!(slots_of(&mut keys, dict), vec![1, 5, 1, 0]);
        assert_eq!(keys.key_order(&[0, 1, 2, 5]), vec![2, 1, 0, 5]);
        let back = keys.ids(&[4, 2]).unwrap();
        assert_eq!(back.as_string::<i32>().value(0), "a long id beyond twelve bytes");
        assert_eq!(back.as_string::<i32>().value(1), "");
    }

    #[test]
    fn sums_beyond_i64_stay_exact() {
        let mut agg = CustomerAggregator::new(&DataType::Int64).unwrap();
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 1, 1, 2]));
        let big = i128::from(i64::MAX) - 5;
        let amounts = [big, 7, big, -big, i128::from(i64::MIN)];
        agg.update(
            &ids,
            &[1; 5],
            &Int32Array::from(vec![1; 5]),
            &amounts,
            None,
            &BooleanArray::from(vec![true; 5]),
        )
        .unwrap();
        assert_eq!(agg.sum(0), big);
        assert_eq!(agg.sum(1), 7 + i128::from(i64::MIN));
        // More of it, and a merge of wide sums.
        let mut other = CustomerAggregator::new(&DataType::Int64).unwrap();
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![1, 1]));
        other
            .update(
                &ids,
                &[1; 2],
                &Int32Array::from(vec![1; 2]),
                &[big * 1000, big * 1000],
                None,
                &BooleanArray::from(vec![true; 2]),
            )
            .unwrap();
        agg.merge(other).unwrap();
        assert_eq!(agg.sum(0), big * 2001);
    }

    #[test]
    fn totals_count_purchases_and_sum_everything() {
        let mut agg = CustomerAggregator::new(&DataType::Int64).unwrap();
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![1, 1, 2, 1]));
        let day = Int32Array::from(vec![10, 30, 20, 40]);
        let amount = Decimal128Array::from(vec![Some(500), Some(250), None, Some(-100)]);
        let purchase = BooleanArray::from(vec![true, true, true, false]);
        agg.update(&ids, &[10, 30, 20, 5], &day, amount.values(), amount.nulls(), &purchase)
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
        let day = Int32Array::from(vec![7, 2]);
        let purchase = BooleanArray::from(vec![true, true]);
        other
            .update(&ids, &[7, 2], &day, &[i128::MAX / 2, -1], None, &purchase)
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
        let e = big.update(
            &ids,
            &[1, 1, 1],
            &Int32Array::from(vec![1, 1, 1]),
            &[i128::MAX / 2; 3],
            None,
            &BooleanArray::from(vec![true; 3]),
        );
        assert!(e.unwrap_err().to_string().contains("overflows Decimal128"));
    }
}
