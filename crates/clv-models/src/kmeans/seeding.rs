//! Greedy k-means++ seeding.
//!
//! Arthur & Vassilvitskii (2007), "k-means++: the advantages of careful seeding", SODA: the
//! first centre is a uniformly drawn row; each next centre is drawn with probability
//! proportional to `D(x)²`, the squared distance from row `x` to its nearest centre so far.
//! The greedy variant (their §6, as in scikit-learn) draws `2 + ⌊ln k⌋` candidates per step
//! and keeps the one that leaves the smallest potential `Σ D(x)²`.

use super::lloyd::{sq_dist, with_dimension};
use super::rng::Rng;

/// Why seeding failed: fewer distinct rows than clusters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooFewDistinctRows;

/// `k` centres (row-major, `k × d`) chosen among the rows of `x` (`n × d`, `n ≥ 1`).
pub(crate) fn kmeans_plus_plus(x: &[f64], d: usize, k: usize, rng: &mut Rng) -> Result<Vec<f64>, TooFewDistinctRows> {
    with_dimension!(d, seed(x, d, k, rng))
}

fn seed<const D: usize>(x: &[f64], d: usize, k: usize, rng: &mut Rng) -> Result<Vec<f64>, TooFewDistinctRows> {
    let d = if D == 0 { d } else { D };
    let n = x.len() / d;
    let row = |i: usize| &x[i * d..(i + 1) * d];
    let trials = 2 + libm::log(k as f64).floor() as usize;
    let mut centres = Vec::with_capacity(k * d);
    centres.extend_from_slice(row(rng.below(n)));
    let mut closest: Vec<f64> = (0..n).map(|i| sq_dist(row(i), &centres[..d])).collect();
    let mut potential: f64 = closest.iter().sum();
    let mut cumulative = vec![0.0; n];
    let mut trial = vec![0.0; n];
    let mut best = vec![0.0; n];
    for _ in 1..k {
        if !(potential > 0.0) {
            return Err(TooFewDistinctRows);
        }
        let mut acc = 0.0;
        for (c, &v) in cumulative.iter_mut().zip(&closest) {
            acc += v;
            *c = acc;
        }
        let mut best_potential = f64::INFINITY;
        let mut best_candidate = 0;
        for _ in 0..trials {
            let u = rng.unit() * acc;
            // The first row whose cumulative weight exceeds u: rows at distance 0 (existing
            // centres) are never drawn. Rounding can put u at the total: take the last row
            // with a positive weight.
            let mut candidate = cumulative.partition_point(|&c| c <= u);
            if candidate == n {
                candidate = closest.iter().rposition(|&v| v > 0.0).unwrap_or(n - 1);
            }
            let c = row(candidate);
            let mut p = 0.0;
            for ((t, &old), xi) in trial.iter_mut().zip(&closest).zip(x.chunks_exact(d)) {
                let v = old.min(sq_dist(xi, c));
                *t = v;
                p += v;
            }
            if p < best_potential {
                best_potential = p;
                best_candidate = candidate;
                std::mem::swap(&mut trial, &mut best);
            }
        }
        centres.extend_from_slice(row(best_candidate));
        std::mem::swap(&mut closest, &mut best);
        potential = best_potential;
    }
    Ok(centres)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_distinct_rows_and_spreads_them() {
        // Three tight groups far apart: the three centres land in different groups.
        let mut x = Vec::new();
        for g in 0..3 {
            for i in 0..20 {
                x.extend_from_slice(&[100.0 * g as f64 + 0.01 * i as f64, 0.0]);
            }
        }
        for seed in 0..20 {
            let c = kmeans_plus_plus(&x, 2, 3, &mut Rng::stream(seed, 1)).unwrap();
            let mut groups: Vec<i64> = c.chunks(2).map(|r| (r[0] / 100.0).round() as i64).collect();
            groups.sort();
            assert_eq!(groups, vec![0, 1, 2], "seed {seed}");
        }
    }

    #[test]
    fn too_few_distinct_rows() {
        let x = [1.0, 1.0, 2.0, 2.0, 1.0, 1.0];
        assert!(kmeans_plus_plus(&x, 2, 2, &mut Rng::stream(0, 1)).is_ok());
        assert_eq!(
            kmeans_plus_plus(&x, 2, 3, &mut Rng::stream(0, 1)),
            Err(TooFewDistinctRows)
        );
    }
}
