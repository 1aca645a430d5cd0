//! The index of customers: each customer id to its slot, for integer and string ids (see the
//! module documentation of [`super`]).

use std::cmp::Ordering;
use std::hash::BuildHasher;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, DictionaryArray, GenericStringArray, Int32Array, OffsetSizeTrait, PrimitiveArray,
    StringViewArray,
};
use datafusion::arrow::datatypes::{
    ArrowDictionaryKeyType, ArrowNativeType, ArrowPrimitiveType, DataType, Int8Type, Int16Type, Int32Type, Int64Type,
    UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::common::{Result, exec_err, internal_err};
use hashbrown::{DefaultHashBuilder, HashMap};

use crate::rfm::mapped::MappedVec;

/// How many rows ahead the update loops prefetch the customer they will touch: the totals of
/// a million customers do not fit in the cache, so each row's customer is a memory access
/// that prefetching overlaps with the work on the rows before it.
pub(super) const PREFETCH_AHEAD: usize = 16;

/// Asks the CPU to load the cache line of `value` (a hint: no effect on results).
#[inline(always)]
#[allow(unsafe_code)] // the prefetch intrinsic; see the SAFETY note
pub(super) fn prefetch<T>(value: &T) {
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
        table: MappedVec<u32>,
    },
    Hash(HashMap<i64, u32>),
}

#[derive(Debug)]
struct IntKeys {
    keys: MappedVec<i64>,
    order: IntOrder,
    index: IntIndex,
}

impl IntKeys {
    fn new(order: IntOrder) -> Self {
        Self {
            keys: MappedVec::new(),
            order,
            index: IntIndex::Direct {
                base: 0,
                table: MappedVec::new(),
            },
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
            let mut grown = MappedVec::filled((new_hi - new_lo + 1) as usize, 0u32);
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

/// `a == b`, inlined for ids of up to 16 bytes (two overlapping word compares instead of a
/// call to `memcmp`, which is most of the cost of comparing short ids).
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let half = |s: &[u8], at: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&s[at..at + 4]);
        u32::from_le_bytes(w)
    };
    match n {
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        0..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        _ => a == b,
    }
}

/// String ids: the bytes of every id in one arena, found through an open-addressing table.
///
/// The arena holds each customer once, in slot order, as `[len: u32][slot: u32][bytes]`. A
/// table entry is 8 bytes: 24 bits of the id's hash (a tag, never 0) above the 40-bit arena
/// offset of its header, so finding a customer touches two cache lines, the entry's and the
/// arena's, and a batch of ids is resolved in a pipeline that prefetches both ahead of the
/// row being resolved (see [`StrKeys::resolve`]). A tag match is always confirmed on the
/// bytes: the hash only narrows the search.
#[derive(Debug, Default)]
struct StrKeys {
    arena: MappedVec<u8>,
    customers: usize,
    /// Linear probing, a power-of-two length (or empty), at most 3/4 full; 0 is an empty entry.
    table: MappedVec<u64>,
    hasher: DefaultHashBuilder,
    /// `offsets[slot]`: where each slot's header starts, built on first use after the last
    /// insert (only output and sorting need a slot's key).
    offsets: std::sync::OnceLock<MappedVec<u64>>,
    /// Scratch of [`StrKeys::resolve`]: the batch's hashes and candidate offsets (+1, or a
    /// mark for a row that repeats the previous row's id).
    hashes: Vec<u64>,
    candidates: Vec<u64>,
}

const HEADER: usize = 8;
const OFFSET_BITS: u32 = 40;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;

impl StrKeys {
    #[inline(always)]
    fn tag(hash: u64) -> u64 {
        ((hash >> OFFSET_BITS) | 1) << OFFSET_BITS
    }

    /// The id bytes and slot of the header at `offset`.
    #[inline(always)]
    fn at(&self, offset: usize) -> (&[u8], u32) {
        let header = &self.arena[offset..offset + HEADER];
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let slot = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        (&self.arena[offset + HEADER..offset + HEADER + len], slot)
    }

    /// Every customer's record offset and id, in slot order (the arena's order).
    fn records(&self) -> impl Iterator<Item = (usize, &[u8])> {
        let mut offset = 0;
        std::iter::from_fn(move || {
            (offset < self.arena.len()).then(|| {
                let (key, _) = self.at(offset);
                let record = (offset, key);
                offset += HEADER + key.len();
                record
            })
        })
    }

    fn key(&self, slot: u32) -> &[u8] {
        let offsets = self
            .offsets
            .get_or_init(|| self.records().map(|(offset, _)| offset as u64).collect());
        self.at(offsets[slot as usize] as usize).0
    }

    /// Asks the CPU for the table line where `hash`'s probe starts.
    #[inline(always)]
    fn prefetch_entry(&self, hash: u64) {
        if !self.table.is_empty() {
            prefetch(&self.table[hash as usize & (self.table.len() - 1)]);
        }
    }

    /// The arena offset + 1 of the first entry whose tag is `hash`'s (0 for none), whose
    /// header and bytes (`len` of them, the length of the id looked up) it prefetches: they
    /// are compared later.
    #[inline(always)]
    fn candidate(&self, hash: u64, len: usize) -> u64 {
        if self.table.is_empty() {
            return 0;
        }
        let (mask, tag) = (self.table.len() - 1, Self::tag(hash));
        let mut at = hash as usize & mask;
        loop {
            let e = self.table[at];
            if e == 0 {
                return 0;
            }
            if e & !OFFSET_MASK == tag {
                let offset = (e & OFFSET_MASK) as usize;
                prefetch(&self.arena[offset]);
                if let Some(last) = self.arena.get(offset + HEADER + len.max(1) - 1) {
                    prefetch(last);
                }
                return offset as u64 + 1;
            }
            at = (at + 1) & mask;
        }
    }

    /// The slot of `key` (hash `hash`), numbering a new customer when it is not known yet.
    fn slot_hashed(&mut self, hash: u64, key: &[u8]) -> Result<u32> {
        if (self.customers + 1) * 4 > self.table.len() * 3 {
            self.grow();
        }
        let (mask, tag) = (self.table.len() - 1, Self::tag(hash));
        let mut at = hash as usize & mask;
        loop {
            let e = self.table[at];
            if e == 0 {
                break;
            }
            if e & !OFFSET_MASK == tag {
                let (bytes, slot) = self.at((e & OFFSET_MASK) as usize);
                if same_bytes(bytes, key) {
                    return Ok(slot);
                }
            }
            at = (at + 1) & mask;
        }
        let (offset, slot) = (self.arena.len() as u64, self.customers as u32);
        let Ok(len) = u32::try_from(key.len()) else {
            return exec_err!("a customer id is longer than {} bytes", u32::MAX);
        };
        if offset > OFFSET_MASK || self.customers >= u32::MAX as usize {
            return exec_err!("more customer ids than the fused RFM operator indexes (2^32 ids or 2^40 bytes)");
        }
        self.arena.reserve(HEADER + key.len());
        self.arena.extend_from_slice(&len.to_le_bytes());
        self.arena.extend_from_slice(&slot.to_le_bytes());
        self.arena.extend_from_slice(key);
        self.table[at] = tag | offset;
        self.customers += 1;
        self.offsets.take();
        Ok(slot)
    }

    /// Doubles the table (1,024 entries at first, or as many as the customers need) and places
    /// every customer again.
    #[cold]
    fn grow(&mut self) {
        // Twice the size, and at least enough for every customer (a sealed index has no table).
        let mut len = (self.table.len() * 2).max(1 << 10);
        while (self.customers + 1) * 4 > len * 3 {
            len *= 2;
        }
        let mut table = MappedVec::filled(len, 0u64);
        // Each id is hashed and its line prefetched `AHEAD` records before it is placed, so the
        // (random) writes into the new table overlap instead of waiting for one another.
        const AHEAD: usize = 32;
        let mask = len - 1;
        let place = |table: &mut [u64], (offset, hash): (u64, u64)| {
            let mut at = hash as usize & mask;
            while table[at] != 0 {
                at = (at + 1) & mask;
            }
            table[at] = Self::tag(hash) | offset;
        };
        let mut ring = [(0u64, 0u64); AHEAD];
        debug_assert_eq!(self.records().count(), self.customers, "one arena record per customer");
        for (i, (offset, key)) in self.records().enumerate() {
            let hash = self.hasher.hash_one(key);
            prefetch(&table[hash as usize & mask]);
            if i >= AHEAD {
                place(&mut table, ring[i % AHEAD]);
            }
            ring[i % AHEAD] = (offset as u64, hash);
        }
        let placed = self.customers.saturating_sub(AHEAD);
        for i in placed..self.customers {
            place(&mut table, ring[i % AHEAD]);
        }
        self.table = table;
    }

    /// The slots of `len` ids read by `value`, into `out` (cleared first). Three stages run
    /// [`PREFETCH_AHEAD`] rows apart: the table line of row `i + 2d` is prefetched, row
    /// `i + d` finds its candidate entry there and prefetches the candidate's arena bytes,
    /// and row `i` compares the bytes (or, with no candidate or a tag collision, searches and
    /// inserts). A row with the same id as the row before it reuses its slot.
    fn resolve<'a>(&mut self, len: usize, value: impl Fn(usize) -> &'a [u8], out: &mut Vec<u32>) -> Result<()> {
        const D: usize = PREFETCH_AHEAD;
        let (mut hashes, mut candidates) = (std::mem::take(&mut self.hashes), std::mem::take(&mut self.candidates));
        out.clear();
        hashes.clear();
        candidates.clear();
        candidates.resize(len, 0);
        // A row with the previous row's id is marked once, here, and skips the other stages.
        const REPEAT: u64 = u64::MAX;
        for i in 0..len {
            let key = value(i);
            if i > 0 && same_bytes(key, value(i - 1)) {
                hashes.push(hashes[i - 1]);
                candidates[i] = REPEAT;
            } else {
                hashes.push(self.hasher.hash_one(key));
            }
        }
        for h in hashes.iter().take(2 * D) {
            self.prefetch_entry(*h);
        }
        for i in 0..len.min(D) {
            if candidates[i] != REPEAT {
                candidates[i] = self.candidate(hashes[i], value(i).len());
            }
        }
        let result = (|| {
            for i in 0..len {
                if let Some(h) = hashes.get(i + 2 * D) {
                    self.prefetch_entry(*h);
                }
                if let Some(h) = hashes.get(i + D)
                    && candidates[i + D] != REPEAT
                {
                    candidates[i + D] = self.candidate(*h, value(i + D).len());
                }
                let c = candidates[i];
                if c == REPEAT {
                    out.push(out[i - 1]);
                    continue;
                }
                let key = value(i);
                let slot = match (c > 0).then(|| self.at(c as usize - 1)) {
                    Some((bytes, slot)) if same_bytes(bytes, key) => slot,
                    _ => self.slot_hashed(hashes[i], key)?,
                };
                out.push(slot);
            }
            Ok(())
        })();
        self.hashes = hashes;
        self.candidates = candidates;
        result
    }

    /// Frees the hash table and the scratch buffers once no more ids will be looked up (an
    /// insert after this rebuilds the table from the arena).
    fn seal(&mut self) {
        self.table = MappedVec::new();
        self.hashes = vec![];
        self.candidates = vec![];
    }

    fn memory_size(&self) -> usize {
        self.arena.capacity()
            + self.table.capacity() * 8
            + self.offsets.get().map_or(0, |o| o.capacity() * 8)
            + (self.hashes.capacity() + self.candidates.capacity()) * 8
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
            Keys::Str(k) => k.customers,
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
                // Through the prefetching pipeline, a chunk of ids at a time.
                let (mut chunk, mut slots) = (Vec::with_capacity(8192), vec![]);
                let mut keys = o.records().map(|(_, key)| key).peekable();
                while keys.peek().is_some() {
                    chunk.clear();
                    chunk.extend(keys.by_ref().take(8192));
                    k.resolve(chunk.len(), |i| chunk[i], &mut slots)?;
                    out.extend_from_slice(&slots);
                }
            }
            _ => return internal_err!("merging customer indexes of different id types"),
        }
        Ok(())
    }

    /// Frees what only looking ids up needs (string ids' hash table), once every row is in:
    /// the ids, their order and their slots stay.
    pub fn seal(&mut self) {
        if let Keys::Str(k) = &mut self.keys {
            k.seal();
        }
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
                // Views are built directly (ids of up to 12 bytes sit inside the view): a cast
                // from a string array would keep both.
                if self.id_type == DataType::Utf8View {
                    Arc::new(StringViewArray::from_iter_values(strings))
                } else {
                    Arc::new(GenericStringArray::<i32>::from_iter_values(strings))
                }
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
    k.resolve(ids.len(), |i| ids.value(i).as_bytes(), out)
}

fn view_slots(k: &mut StrKeys, ids: &StringViewArray, out: &mut Vec<u32>) -> Result<()> {
    k.resolve(ids.len(), |i| ids.value(i).as_bytes(), out)
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, StringArray, UInt64Array};

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
    fn string_ids_match_a_reference_numbering_across_growth_merges_and_sealing() {
        // Ids of every length from 0 to 40 bytes (the inline comparisons of 0-3, 4-7, 8-16
        // bytes and the general one), in a scrambled order with runs of repeats (the
        // previous-row shortcut), over batches of uneven size; numbered as a HashMap would.
        let id = |i: u64| {
            let n = (i % 41) as usize;
            let digits = format!("{:040}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 10_000_000_019);
            digits[40 - n..].to_string()
        };
        let mut rows: Vec<String> = Vec::with_capacity(120_000);
        for r in 0..120_000u64 {
            if r % 5 == 4 {
                rows.push(rows[r as usize - 1].clone());
            } else {
                rows.push(id(r.wrapping_mul(2_654_435_761) % 50_000));
            }
        }
        let mut reference: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
        let want: Vec<u32> = rows
            .iter()
            .map(|r| {
                let next = reference.len() as u32;
                *reference.entry(r.as_str()).or_insert(next)
            })
            .collect();
        let mut keys = CustomerKeys::new(&DataType::Utf8View).unwrap();
        let mut got = vec![];
        let mut start = 0;
        for (k, size) in [1, 7, 8192, 30_000, 333, 81_467].into_iter().enumerate() {
            let batch: Vec<&str> = rows[start..start + size].iter().map(String::as_str).collect();
            let ids: ArrayRef = if k % 2 == 0 {
                Arc::new(StringViewArray::from(batch))
            } else {
                Arc::new(StringArray::from(batch))
            };
            got.extend(slots_of(&mut keys, ids));
            start += size;
        }
        assert_eq!(start, rows.len());
        assert_eq!(got, want);
        assert_eq!(keys.len(), reference.len());
        for (text, slot) in &reference {
            let back = keys.ids(&[*slot]).unwrap();
            assert_eq!(back.as_string_view().value(0), *text);
        }
        // Sealed, then looked up again: the table is rebuilt, the slots are the same.
        keys.seal();
        let again: ArrayRef = Arc::new(StringViewArray::from(
            rows[..1000].iter().map(String::as_str).collect::<Vec<_>>(),
        ));
        assert_eq!(slots_of(&mut keys, again), want[..1000].to_vec());
        // A second index over other rows, absorbed: known ids keep their slots, new ones follow.
        let mut other = CustomerKeys::new(&DataType::Utf8View).unwrap();
        let extra: Vec<String> = (0..20_000u64).map(|i| format!("extra-{i}")).collect();
        let mixed: Vec<&str> = extra
            .iter()
            .map(String::as_str)
            .chain(rows[..5_000].iter().map(String::as_str))
            .collect();
        let mixed_slots = slots_of(&mut other, Arc::new(StringViewArray::from(mixed.clone())));
        let mut absorbed = vec![];
        keys.absorb(&other, &mut absorbed).unwrap();
        let before = reference.len() as u32;
        for (row, text) in mixed.iter().enumerate() {
            let slot = absorbed[mixed_slots[row] as usize];
            match reference.get(text) {
                Some(s) => assert_eq!(slot, *s),
                None => assert!(slot >= before),
            }
            assert_eq!(keys.ids(&[slot]).unwrap().as_string_view().value(0), *text);
        }
        assert_eq!(keys.len(), reference.len() + extra.len());
    }
}
