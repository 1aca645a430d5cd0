//! Memo tables for batch scoring: terms shared by customers with equal `(x, time)` are computed
//! once. Keys are the bit patterns of the `f64` arguments, so a hit returns exactly the value a
//! fresh computation would; the hasher is a fast multiplicative one (the keys are not
//! adversarial: they come from one batch of the caller's own data).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A multiply–rotate hasher for `u64` keys (the FxHash scheme).
#[derive(Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A memo table keyed by `f64` bit patterns.
pub(crate) type Memo<const N: usize, V> = HashMap<[u64; N], V, BuildHasherDefault<KeyHasher>>;
