//! How well a churn score predicts observed labels: AUC, Brier score, log loss, decile
//! calibration, lift and gain at the top of the ranking.
//!
//! Everything is computed from the counts of churned and retained customers per distinct score
//! ([`ScoreCounts`]), summed in ascending score order, so the figures do not depend on the order
//! the rows arrived in, on the partitioning or on the thread count.
//!
//! Definitions, for `n` labelled customers of whom `P` churned, and a score `s` that is higher
//! for customers more likely to churn:
//!
//! * **AUC**: the probability that a random churned customer scores higher than a random
//!   retained one, ties counting ½ ([`ScoreCounts::auc`]).
//! * **Brier score** `Σ (s − y)² / n` and **log loss** `−Σ [y ln s + (1 − y) ln(1 − s)] / n`
//!   (`s` clamped to `[1e-15, 1 − 1e-15]`), only for probability scores: every score in
//!   `[0, 1]`. Other scores (days since the last purchase, a rank) get `None`.
//! * **Deciles**: the customers sorted by ascending score and cut into ten groups of
//!   `⌊n/10⌋ + 1` (the first `n mod 10` groups) or `⌊n/10⌋` customers, as numpy's
//!   `array_split`: decile 10 holds the highest scores. Customers with tied scores that straddle
//!   a decile boundary are shared among the deciles in proportion to the positions each decile
//!   takes from the tie, churned and retained alike: every decile's observed churn rate is then
//!   the expectation over a random order of the tied customers, and no arbitrary tie-break (such
//!   as the customer id) decides it. Each decile reports the mean score and the observed churn
//!   rate; for probability scores the largest absolute difference of the two is
//!   `max_decile_gap`.
//! * **Gain at the top q** (q = 10 %, 20 %): the share of all churned customers among the `q·n`
//!   highest-scored customers (ties shared as above); **lift** = gain / q, the churn rate of the
//!   top `q` against the overall rate (1 = no better than picking customers at random).

use super::ScoreCounts;

/// Scores are clamped to `[LOG_LOSS_EPS, 1 − LOG_LOSS_EPS]` in the log loss.
pub const LOG_LOSS_EPS: f64 = 1e-15;

/// One calibration decile.
#[derive(Debug, Clone, PartialEq)]
pub struct Decile {
    /// 1 (lowest scores) to 10 (highest).
    pub decile: u32,
    /// Customers in the decile.
    pub customers: u64,
    /// Mean score of the decile.
    pub mean_score: f64,
    /// Observed churn rate of the decile.
    pub observed_churn: f64,
}

/// The figures of one score on one set of labels; see the [module documentation](self).
#[derive(Debug, Clone, PartialEq)]
pub struct ChurnMetrics {
    /// Labelled customers.
    pub customers: u64,
    /// Churned customers among them.
    pub churned: u64,
    /// `churned / customers`.
    pub churn_rate: f64,
    /// Whether every score lies in `[0, 1]` (a probability).
    pub probability: bool,
    /// Area under the ROC curve (`None` without churned or without retained customers).
    pub auc: Option<f64>,
    /// Brier score (probability scores only).
    pub brier: Option<f64>,
    /// Log loss (probability scores only).
    pub log_loss: Option<f64>,
    /// The calibration deciles (fewer than ten when there are fewer than ten customers).
    pub deciles: Vec<Decile>,
    /// The largest `|mean score − observed churn rate|` over the deciles (probability scores).
    pub max_decile_gap: Option<f64>,
    /// Lift at the top 10 %.
    pub lift_10: Option<f64>,
    /// Share of the churned customers among the top 10 %.
    pub gain_10: Option<f64>,
    /// Lift at the top 20 %.
    pub lift_20: Option<f64>,
    /// Share of the churned customers among the top 20 %.
    pub gain_20: Option<f64>,
}

/// The churned customers and the score sum of the sorted positions `[from, to)`, with tie
/// groups shared in proportion to their overlap. `groups` are `(score, churned, retained)`
/// ascending; `starts[i]` is the first position of group `i`.
fn range_sums(groups: &[(f64, u64, u64)], starts: &[u64], from: f64, to: f64) -> (f64, f64) {
    let (mut churned, mut score_sum) = (0.0, 0.0);
    // The first group that ends after `from`.
    let first = starts.partition_point(|&s| (s as f64) <= from).saturating_sub(1);
    for (i, &(s, p, q)) in groups.iter().enumerate().skip(first) {
        let (a, size) = (starts[i] as f64, (p + q) as f64);
        let b = a + size;
        if a >= to {
            break;
        }
        let overlap = b.min(to) - a.max(from);
        if overlap <= 0.0 {
            continue;
        }
        if overlap == size {
            churned += p as f64;
            score_sum += s * size;
        } else {
            churned += p as f64 * (overlap / size);
            score_sum += s * overlap;
        }
    }
    (churned, score_sum)
}

/// The figures of the counted scores; `None` when no customer is counted.
pub fn churn_metrics(counts: &ScoreCounts) -> Option<ChurnMetrics> {
    let groups = counts.sorted();
    let mut starts = Vec::with_capacity(groups.len());
    let (mut n, mut churned) = (0u64, 0u64);
    for &(_, p, q) in &groups {
        starts.push(n);
        n += p + q;
        churned += p;
    }
    if n == 0 {
        return None;
    }
    let probability = groups.iter().all(|g| (0.0..=1.0).contains(&g.0));
    let (brier, log_loss) = if probability {
        let (mut b, mut l) = (0.0, 0.0);
        for &(s, p, q) in &groups {
            let (p, q) = (p as f64, q as f64);
            b += p * (1.0 - s) * (1.0 - s) + q * s * s;
            let c = s.clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS);
            l -= p * c.ln() + q * (-c).ln_1p();
        }
        (Some(b / n as f64), Some(l / n as f64))
    } else {
        (None, None)
    };
    let mut deciles = Vec::with_capacity(10);
    let mut at = 0u64;
    for d in 0..10u64 {
        let size = n / 10 + u64::from(d < n % 10);
        if size == 0 {
            continue;
        }
        let (c, s) = range_sums(&groups, &starts, at as f64, (at + size) as f64);
        deciles.push(Decile {
            decile: d as u32 + 1,
            customers: size,
            mean_score: s / size as f64,
            observed_churn: c / size as f64,
        });
        at += size;
    }
    let max_decile_gap = probability.then(|| {
        deciles
            .iter()
            .map(|d| (d.mean_score - d.observed_churn).abs())
            .fold(0.0, f64::max)
    });
    let top = |share: f64| -> (Option<f64>, Option<f64>) {
        if churned == 0 {
            return (None, None);
        }
        let from = n as f64 * (1.0 - share);
        let (c, _) = range_sums(&groups, &starts, from, n as f64);
        let gain = c / churned as f64;
        (Some(gain / share), Some(gain))
    };
    let (lift_10, gain_10) = top(0.1);
    let (lift_20, gain_20) = top(0.2);
    Some(ChurnMetrics {
        customers: n,
        churned,
        churn_rate: churned as f64 / n as f64,
        probability,
        auc: counts.auc(),
        brier,
        log_loss,
        deciles,
        max_decile_gap,
        lift_10,
        gain_10,
        lift_20,
        gain_20,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(rows: &[(f64, bool)]) -> ScoreCounts {
        let mut c = ScoreCounts::default();
        for &(s, y) in rows {
            c.add(s, u64::from(y), u64::from(!y));
        }
        c
    }

    /// Brute force: every order of the tied customers, averaged (small inputs only).
    fn brute_deciles(rows: &[(f64, bool)]) -> Vec<(f64, f64)> {
        // Average over all permutations within tie groups = the expectation per position:
        // position k holds a churner with probability (churners in its tie group)/(group size).
        let mut sorted: Vec<(f64, bool)> = rows.to_vec();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        let n = sorted.len();
        let expected: Vec<f64> = (0..n)
            .map(|k| {
                let s = sorted[k].0;
                let group: Vec<&(f64, bool)> = sorted.iter().filter(|r| r.0 == s).collect();
                group.iter().filter(|r| r.1).count() as f64 / group.len() as f64
            })
            .collect();
        let mut out = vec![];
        let mut at = 0;
        for d in 0..10 {
            let size = n / 10 + usize::from(d < n % 10);
            if size == 0 {
                continue;
            }
            let mean = sorted[at..at + size].iter().map(|r| r.0).sum::<f64>() / size as f64;
            let obs = expected[at..at + size].iter().sum::<f64>() / size as f64;
            out.push((mean, obs));
            at += size;
        }
        out
    }

    #[test]
    fn deciles_share_ties_and_match_the_expected_order() {
        // 23 customers, heavy ties across decile boundaries.
        let rows: Vec<(f64, bool)> = (0..23)
            .map(|i| (f64::from((i * 7 % 5) as u8) / 4.0, (i * 3) % 4 != 0))
            .collect();
        let m = churn_metrics(&counts(&rows)).unwrap();
        let brute = brute_deciles(&rows);
        assert_eq!(m.deciles.len(), 10);
        assert_eq!(
            m.deciles.iter().map(|d| d.customers).collect::<Vec<_>>(),
            [3, 3, 3, 2, 2, 2, 2, 2, 2, 2]
        );
        for (d, (mean, obs)) in m.deciles.iter().zip(brute) {
            assert!((d.mean_score - mean).abs() < 1e-12, "{d:?} vs {mean}");
            assert!((d.observed_churn - obs).abs() < 1e-12, "{d:?} vs {obs}");
        }
        // The decile churners add up to all churners.
        let total: f64 = m.deciles.iter().map(|d| d.observed_churn * d.customers as f64).sum();
        assert!((total - m.churned as f64).abs() < 1e-9);
    }

    #[test]
    fn brier_log_loss_lift_and_gain_by_hand() {
        // Scores 0.9 (churned), 0.8 (retained), 0.6 (churned), 0.2 (retained), 0.1 (churned).
        let rows = [(0.9, true), (0.8, false), (0.6, true), (0.2, false), (0.1, true)];
        let m = churn_metrics(&counts(&rows)).unwrap();
        let brier = (0.01 + 0.64 + 0.16 + 0.04 + 0.81) / 5.0;
        assert!((m.brier.unwrap() - brier).abs() < 1e-15);
        let ll = -(0.9f64.ln() + 0.2f64.ln() + 0.6f64.ln() + 0.8f64.ln() + 0.1f64.ln()) / 5.0;
        assert!((m.log_loss.unwrap() - ll).abs() < 1e-14);
        // Top 20 % = the one customer at 0.9 (churned): gain 1/3, lift 5/3.
        assert!((m.gain_20.unwrap() - 1.0 / 3.0).abs() < 1e-15);
        assert!((m.lift_20.unwrap() - 5.0 / 3.0).abs() < 1e-15);
        // Top 10 % = half of that customer.
        assert!((m.gain_10.unwrap() - 1.0 / 6.0).abs() < 1e-15);
        assert!((m.lift_10.unwrap() - 5.0 / 3.0).abs() < 1e-15);
        assert_eq!((m.customers, m.churned), (5, 3));
        // AUC: churners 0.9, 0.6, 0.1 vs retained 0.8, 0.2: wins 2 + 1 + 0 = 3 of 6.
        assert_eq!(m.auc, Some(0.5));
        // Five customers: five deciles of one.
        assert_eq!(m.deciles.len(), 5);
        assert!((m.max_decile_gap.unwrap() - 0.9).abs() < 1e-15);
    }

    #[test]
    fn scores_outside_zero_one_are_not_probabilities() {
        let rows = [(120.0, true), (3.0, false), (45.0, true)];
        let m = churn_metrics(&counts(&rows)).unwrap();
        assert!(!m.probability);
        assert_eq!((m.brier, m.log_loss, m.max_decile_gap), (None, None, None));
        assert_eq!(m.auc, Some(1.0));
        assert!(churn_metrics(&ScoreCounts::default()).is_none());
        // A constant score: no better than random.
        let flat = counts(&[(0.5, true), (0.5, false), (0.5, true), (0.5, false)]);
        let m = churn_metrics(&flat).unwrap();
        assert_eq!(m.auc, Some(0.5));
        assert!((m.lift_20.unwrap() - 1.0).abs() < 1e-15);
    }
}
