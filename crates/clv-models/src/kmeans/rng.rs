//! The seeded pseudo-random numbers of k-means, written out here so that results never
//! depend on the version of a random-number crate.
//!
//! SplitMix64 (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators",
//! OOPSLA; the constants of Vigna's reference `splitmix64.c`): the state advances by the
//! golden-ratio increment `0x9E3779B97F4A7C15` and each output is the state mixed by two
//! xor-shift-multiply rounds. Independent streams of one seed start from the seed and the
//! stream number mixed together ([`Rng::stream`]).

/// A SplitMix64 generator.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    state: u64,
}

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Stream numbers: the row sample of the starts, start `s` (`START + s`), the silhouette sample.
pub(crate) const STREAM_START_SAMPLE: u64 = 0;
pub(crate) const STREAM_START: u64 = 1;
pub(crate) const STREAM_SILHOUETTE: u64 = 1 << 40;

impl Rng {
    /// Stream `stream` of `seed`: starts at `mix(seed ^ mix(stream + GAMMA))`.
    pub(crate) fn stream(seed: u64, stream: u64) -> Self {
        Self {
            state: mix(seed ^ mix(stream.wrapping_add(GAMMA))),
        }
    }

    #[inline]
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix(self.state)
    }

    /// Uniform on `[0, 1)`: the top 53 bits over `2^53`.
    #[inline]
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform on `0..n` (`n ≥ 1`): the high word of `next_u64() · n` (Lemire 2019; the bias,
    /// below `n / 2^64`, is immaterial here).
    #[inline]
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// `m` of the row indices `0..n`, in increasing order, each `m`-subset equally likely
    /// (Floyd's algorithm, Bentley & Floyd 1987, "A sample of brilliance", *CACM* 30(9); then
    /// sorted). All rows when `m ≥ n`.
    pub(crate) fn sample_rows(&mut self, n: usize, m: usize) -> Vec<usize> {
        if m >= n {
            return (0..n).collect();
        }
        let mut chosen = hashbrown::HashSet::with_capacity(m);
        for j in n - m..n {
            let t = self.below(j + 1);
            if !chosen.insert(t) {
                chosen.insert(j);
            }
        }
        let mut out: Vec<usize> = chosen.into_iter().collect();
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_outputs() {
        // Vigna's splitmix64.c seeded with 0 (state = 0) gives these first outputs.
        let mut r = Rng { state: 0 };
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(r.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn sampling_is_uniform_and_sorted() {
        let mut r = Rng::stream(7, 3);
        let s = r.sample_rows(10, 4);
        assert_eq!(s.len(), 4);
        assert!(s.windows(2).all(|w| w[0] < w[1]) && s[3] < 10);
        assert_eq!(Rng::stream(7, 3).sample_rows(10, 4), s);
        assert_eq!(r.sample_rows(3, 5), vec![0, 1, 2]);
        // Each row is picked with probability m / n.
        let mut counts = [0usize; 10];
        for _ in 0..20_000 {
            for i in r.sample_rows(10, 3) {
                counts[i] += 1;
            }
        }
        for c in counts {
            assert!((c as f64 / 20_000.0 - 0.3).abs() < 0.015, "{counts:?}");
        }
        let u: f64 = (0..10_000).map(|_| r.unit()).sum::<f64>() / 10_000.0;
        assert!((u - 0.5).abs() < 0.01);
    }
}
