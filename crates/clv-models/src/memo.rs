//! Memo tables for batch scoring: terms shared by customers with equal `(x, time)` are computed
//! once. Keys are the bit patterns of the `f64` arguments, so a hit returns exactly the value a
//! fresh computation would.
//!
//! A scoring loop looks a key up once or twice per customer, so the lookup is most of what a
//! memoised prediction costs. This table is built for that: insert-only, open addressing with
//! linear probing over a table of 4-byte entry numbers (the probed part stays in cache), the
//! entries stored densely beside it, and a multiplicative hash whose top bits pick the slot
//! (the keys are not adversarial: they come from the caller's own data).

/// An insert-only memo keyed by `N` `f64` bit patterns, with `Copy` values.
#[derive(Debug, Clone)]
pub(crate) struct Memo<const N: usize, V> {
    /// Per slot: 0 when empty, else the entry's index + 1. A power of two long, at most half
    /// full.
    slots: Vec<u32>,
    entries: Vec<([u64; N], V)>,
    /// `64 − log2(slots.len())`: the hash's top bits are the slot.
    shift: u32,
}

impl<const N: usize, V: Copy> Default for Memo<N, V> {
    fn default() -> Self {
        Self::with_slots(1 << 10)
    }
}

impl<const N: usize, V: Copy> Memo<N, V> {
    fn with_slots(slots: usize) -> Self {
        debug_assert!(slots.is_power_of_two());
        Memo {
            slots: vec![0; slots],
            entries: Vec::with_capacity(slots / 2),
            shift: 64 - slots.trailing_zeros(),
        }
    }

    /// Number of distinct keys stored.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    #[inline]
    fn slot(&self, key: &[u64; N]) -> usize {
        let mut h = 0u64;
        for k in key {
            h = (h.rotate_left(23) ^ k).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
        (h >> self.shift) as usize
    }

    /// The value stored for `key`, or `value()` stored and returned (an error is returned and
    /// nothing is stored).
    #[inline]
    pub(crate) fn get_or_try_insert<E>(&mut self, key: [u64; N], value: impl FnOnce() -> Result<V, E>) -> Result<V, E> {
        let mask = self.slots.len() - 1;
        let mut i = self.slot(&key);
        loop {
            let at = self.slots[i];
            if at == 0 {
                break;
            }
            let (k, v) = &self.entries[at as usize - 1];
            if *k == key {
                return Ok(*v);
            }
            i = (i + 1) & mask;
        }
        let v = value()?;
        self.entries.push((key, v));
        // Entry numbers are u32; a batch has far fewer distinct keys than 2^32.
        self.slots[i] = u32::try_from(self.entries.len()).expect("fewer than 2^32 distinct keys");
        if self.entries.len() * 2 > self.slots.len() {
            self.grow();
        }
        Ok(v)
    }

    /// [`Self::get_or_try_insert`] for a value that cannot fail.
    #[inline]
    pub(crate) fn get_or_insert(&mut self, key: [u64; N], value: impl FnOnce() -> V) -> V {
        match self.get_or_try_insert::<std::convert::Infallible>(key, || Ok(value())) {
            Ok(v) => v,
        }
    }

    /// Doubles the slots and re-inserts the entries.
    fn grow(&mut self) {
        let mut bigger = Self::with_slots(self.slots.len() * 2);
        let mask = bigger.slots.len() - 1;
        for (n, (key, _)) in self.entries.iter().enumerate() {
            let mut i = bigger.slot(key);
            while bigger.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            bigger.slots[i] = n as u32 + 1;
        }
        self.slots = bigger.slots;
        self.shift = bigger.shift;
    }
}

/// Which model a [`ThreadMemo`] holds terms of: a tag for the model kind and its parameters'
/// bit patterns (the memoised terms are functions of these and the key only).
pub(crate) type ModelKey = [u64; 5];

/// The [`ModelKey`] of a model of kind `tag` with parameters `params`.
pub(crate) fn model_key(tag: u64, params: [f64; 4]) -> ModelKey {
    let [a, b, c, d] = params.map(f64::to_bits);
    [tag, a, b, c, d]
}

/// A memo kept by a thread between calls: the SQL functions score a query 8,192 rows at a
/// time, and customers in different batches share terms as much as customers in one batch do.
/// It is emptied when the model changes and when it grows past [`THREAD_MEMO_CAP`] entries, so
/// it never holds more than a few megabytes. A hit returns exactly what a fresh computation
/// would, so results do not depend on what ran before on the thread.
pub(crate) type ThreadMemo<const N: usize, V> = std::cell::RefCell<Option<(ModelKey, Memo<N, V>)>>;

/// Entries a [`ThreadMemo`] keeps at most.
const THREAD_MEMO_CAP: usize = 1 << 16;

/// Runs `f` with this thread's memo in `slot` for `model` (a fresh one when it held another
/// model's terms, when `slot` is in use further up the stack, or while the thread's locals are
/// being destroyed).
pub(crate) fn with_thread_memo<const N: usize, V: Copy + 'static, R>(
    slot: &'static std::thread::LocalKey<ThreadMemo<N, V>>,
    model: ModelKey,
    f: impl FnOnce(&mut Memo<N, V>) -> R,
) -> R {
    let mut f = Some(f);
    let kept = slot.try_with(|cell| {
        let f = f.take()?;
        let Ok(mut held) = cell.try_borrow_mut() else {
            return Some(f(&mut Memo::default()));
        };
        let memo = match &mut *held {
            Some((key, memo)) if *key == model => memo,
            other => &mut other.insert((model, Memo::default())).1,
        };
        let out = f(&mut *memo);
        if memo.len() > THREAD_MEMO_CAP {
            *held = None;
        }
        Some(out)
    });
    match (kept, f) {
        (Ok(Some(out)), _) => out,
        (_, Some(f)) => f(&mut Memo::default()),
        (_, None) => unreachable!("f runs once: in the slot, or here when the slot is gone"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_each_key_once_and_returns_its_value() {
        let mut memo: Memo<2, f64> = Memo::default();
        let mut calls = 0;
        // Day-grid-like keys (many trailing zero bits), enough to grow the table several times.
        for round in 0..2 {
            for x in 0..60u32 {
                for day in 0..365u32 {
                    let (x, y) = (f64::from(x), f64::from(day) / 7.0);
                    let v = memo.get_or_insert([x.to_bits(), y.to_bits()], || {
                        calls += 1;
                        x * 1000.0 + y
                    });
                    assert_eq!(v, x * 1000.0 + y);
                }
            }
            assert_eq!(calls, 60 * 365, "round {round}");
        }
        assert_eq!(memo.len(), 60 * 365);
        // -0.0 and 0.0 are different keys (different bits), as the values may differ.
        let mut memo: Memo<1, u8> = Memo::default();
        assert_eq!(memo.get_or_insert([0.0f64.to_bits()], || 1), 1);
        assert_eq!(memo.get_or_insert([(-0.0f64).to_bits()], || 2), 2);
        // A failed computation stores nothing.
        assert_eq!(memo.get_or_try_insert([7], || Err::<u8, _>("no")), Err("no"));
        assert_eq!(memo.get_or_try_insert::<()>([7], || Ok(3)), Ok(3));
        assert_eq!(memo.len(), 3);
    }

    thread_local! {
        static SLOT: ThreadMemo<1, f64> = const { std::cell::RefCell::new(None) };
    }

    #[test]
    fn a_thread_memo_is_kept_for_one_model_and_emptied_for_another() {
        let square =
            |model: ModelKey, v: f64| with_thread_memo(&SLOT, model, |m| m.get_or_insert([v.to_bits()], || v * v));
        let count = |model: ModelKey| with_thread_memo(&SLOT, model, |m| m.len());
        let (one, two) = ([1; 5], [2; 5]);
        assert_eq!(square(one, 3.0), 9.0);
        assert_eq!(square(one, 4.0), 16.0);
        assert_eq!(count(one), 2);
        assert_eq!(square(two, 3.0), 9.0);
        assert_eq!(count(two), 1);
        // In use further up the stack: a fresh memo, same values.
        let nested = with_thread_memo(&SLOT, two, |_| square(two, 5.0));
        assert_eq!(nested, 25.0);
        assert_eq!(count(two), 1);
        // Past the cap, it starts again.
        for i in 0..=THREAD_MEMO_CAP {
            square(one, i as f64);
        }
        assert_eq!(count(one), 0);
    }
}
