//! Evaluating churn scores against observed outcomes: the exact AUC.

use std::collections::HashMap;

/// Counts of churned (positive) and retained (negative) customers per distinct score.
#[derive(Debug, Clone, Default)]
pub struct ScoreCounts {
    counts: HashMap<u64, (u64, u64)>,
}

impl ScoreCounts {
    /// Adds `positives` and `negatives` at `score` (which must not be NaN).
    pub fn add(&mut self, score: f64, positives: u64, negatives: u64) {
        debug_assert!(!score.is_nan());
        // +0.0 and −0.0 are the same score.
        let key = if score == 0.0 {
            0.0f64.to_bits()
        } else {
            score.to_bits()
        };
        let e = self.counts.entry(key).or_default();
        e.0 += positives;
        e.1 += negatives;
    }

    /// Every distinct score with its counts, ascending by score.
    pub fn sorted(&self) -> Vec<(f64, u64, u64)> {
        let mut v: Vec<(f64, u64, u64)> = self
            .counts
            .iter()
            .map(|(k, (p, n))| (f64::from_bits(*k), *p, *n))
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v
    }

    /// The area under the ROC curve: the probability that a random positive scores higher than
    /// a random negative, ties counting one half (the Mann–Whitney U statistic over `P·N`).
    /// Computed in integers, so it does not depend on the order the counts were added in.
    /// `None` without positives or without negatives.
    pub fn auc(&self) -> Option<f64> {
        let (mut below, mut twice_u, mut pos) = (0u128, 0u128, 0u128);
        for (_, p, n) in self.sorted() {
            let (p, n) = (u128::from(p), u128::from(n));
            twice_u += p * (2 * below + n);
            below += n;
            pos += p;
        }
        (pos > 0 && below > 0).then(|| twice_u as f64 / (2.0 * pos as f64 * below as f64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force over all positive–negative pairs.
    fn pairwise(scores: &[(f64, bool)]) -> f64 {
        let (mut wins, mut pairs) = (0.0, 0.0);
        for (sp, _) in scores.iter().filter(|s| s.1) {
            for (sn, _) in scores.iter().filter(|s| !s.1) {
                pairs += 1.0;
                wins += if sp > sn {
                    1.0
                } else if sp == sn {
                    0.5
                } else {
                    0.0
                };
            }
        }
        wins / pairs
    }

    #[test]
    fn auc_equals_the_pairwise_definition_with_ties() {
        let scores = [
            (0.9, true),
            (0.8, false),
            (0.8, true),
            (0.7, true),
            (0.3, false),
            (0.3, false),
            (0.3, true),
            (-0.0, false),
            (0.0, true),
        ];
        let mut c = ScoreCounts::default();
        for (s, churned) in scores {
            c.add(s, u64::from(churned), u64::from(!churned));
        }
        assert!((c.auc().unwrap() - pairwise(&scores)).abs() < 1e-15);
        // 5 positives, 4 negatives; hand count: 0.9 beats 4; 0.8 beats 3 + ½; 0.7 beats 3;
        // 0.3 beats 1 + 2·½; 0.0 ties ½  →  U = 4 + 3.5 + 3 + 2 + 0.5 = 13 over 20 pairs.
        assert_eq!(c.auc(), Some(13.0 / 20.0));
    }

    #[test]
    fn perfect_reversed_and_undefined() {
        let mut c = ScoreCounts::default();
        c.add(1.0, 3, 0);
        c.add(0.0, 0, 2);
        assert_eq!(c.auc(), Some(1.0));
        let mut r = ScoreCounts::default();
        r.add(0.0, 3, 0);
        r.add(1.0, 0, 2);
        assert_eq!(r.auc(), Some(0.0));
        let mut only = ScoreCounts::default();
        only.add(0.5, 4, 0);
        assert_eq!(only.auc(), None);
        assert_eq!(ScoreCounts::default().auc(), None);
    }
}
