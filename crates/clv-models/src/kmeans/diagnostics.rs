//! Diagnostics for choosing the number of clusters: inertia for a range of k (the elbow) and
//! the silhouette on a seeded sample of rows.
//!
//! Silhouette (Rousseeuw 1987, "Silhouettes: a graphical aid to the interpretation and
//! validation of cluster analysis", *J. Comput. Appl. Math.* 20, 53–65): for row `i` in
//! cluster `A`, `a(i)` is its mean distance to the other rows of `A`, `b(i)` the smallest mean
//! distance to the rows of another cluster, and `s(i) = (b − a) / max(a, b)`; `s(i) = 0` when
//! `i` is alone in its cluster. The score is the mean of `s(i)`. Computed exactly over the
//! sample (all pairs, as scikit-learn's `silhouette_score(X, labels, sample_size=...)`).

use serde::{Deserialize, Serialize};

use super::lloyd::{map_parallel, sq_dist};
use crate::ModelError;

/// Rows per parallel piece of the silhouette (its partial sums are added in piece order).
const PIECE: usize = 256;

/// Exact mean silhouette of the rows of `x` (`m × d`) labelled `labels` (each `< k`).
///
/// # Errors
/// [`ModelError::InvalidArgument`] unless the rows hold between 2 and `m − 1` distinct labels.
pub(crate) fn silhouette(x: &[f64], d: usize, labels: &[u32], k: usize, threads: usize) -> Result<f64, ModelError> {
    let m = labels.len();
    let mut counts = vec![0usize; k];
    for &l in labels {
        counts[l as usize] += 1;
    }
    let present = counts.iter().filter(|&&c| c > 0).count();
    if present < 2 || present >= m {
        return Err(ModelError::InvalidArgument {
            name: "clusters in the silhouette rows",
            value: present as f64,
            reason: "the silhouette needs between 2 and (rows - 1) clusters",
        });
    }
    let pieces: Vec<usize> = (0..m).step_by(PIECE).collect();
    let partials = map_parallel(pieces, threads, |from| {
        let mut total = 0.0;
        let mut sums = vec![0.0; k];
        for i in from..m.min(from + PIECE) {
            sums.iter_mut().for_each(|s| *s = 0.0);
            let xi = &x[i * d..(i + 1) * d];
            for (j, xj) in x.chunks_exact(d).enumerate() {
                sums[labels[j] as usize] += sq_dist(xi, xj).sqrt();
            }
            let own = labels[i] as usize;
            if counts[own] < 2 {
                continue;
            }
            let a = sums[own] / (counts[own] - 1) as f64;
            let b = (0..k)
                .filter(|&c| c != own && counts[c] > 0)
                .map(|c| sums[c] / counts[c] as f64)
                .fold(f64::INFINITY, f64::min);
            let scale = a.max(b);
            if scale > 0.0 {
                total += (b - a) / scale;
            }
        }
        total
    });
    Ok(partials.iter().sum::<f64>() / m as f64)
}

/// The silhouette of a fitted model on a sample of rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Silhouette {
    /// Mean silhouette over the sampled rows, in `[−1, 1]`.
    pub value: f64,
    /// Rows in the sample.
    pub rows: usize,
}

/// One row of [`super::KMeans::diagnose`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KDiagnostic {
    /// Number of clusters.
    pub k: usize,
    /// Sum of squared distances to the nearest centroid (standardised units), all rows.
    pub inertia: f64,
    /// Silhouette on the sample; `None` for k = 1.
    pub silhouette: Option<Silhouette>,
    /// Lloyd iterations of the chosen run.
    pub iterations: usize,
    /// Whether that run converged.
    pub converged: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_silhouette() {
        // Rows 0, 1, 5 on a line; clusters {0, 1} and {5}.
        // Row 0: a = 1, b = 5 → 0.8. Row 1: a = 1, b = 4 → 0.75. Row 5: alone → 0.
        let s = silhouette(&[0.0, 1.0, 5.0], 1, &[0, 0, 1], 2, 1).unwrap();
        assert!((s - (0.8 + 0.75) / 3.0).abs() < 1e-15);
        // Cluster labels 0 and 2 of k = 3 (one cluster absent from the rows).
        let s2 = silhouette(&[0.0, 1.0, 5.0], 1, &[2, 2, 0], 3, 2).unwrap();
        assert_eq!(s, s2);
        assert!(silhouette(&[0.0, 1.0], 1, &[0, 0], 1, 1).is_err());
        assert!(silhouette(&[0.0, 1.0], 1, &[0, 1], 2, 1).is_err());
    }
}
