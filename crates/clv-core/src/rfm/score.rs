//! Turning one RFM dimension into scores `1..=n` (higher is always better).
//!
//! The methods, and exactly where a value lying on a cut point goes:
//!
//! | method | cut points (from the population) | a value equal to a cut point |
//! |---|---|---|
//! | `quantile` | `q_i = x_(⌈i·N/n⌉)`, `i = 1..n−1`, the type-1 (inverse empirical CDF) quantiles of the sorted values `x_(1) ≤ … ≤ x_(N)` | falls in the bin *below* it: bins are `(q_{i−1}, q_i]` in value order |
//! | `ntile` | none: equal-count groups as SQL `NTILE(n)` (the first `N mod n` groups get one extra member) | ties are split by the tie-break order (the input order, which the SQL layer makes customer-id order) |
//! | `fixed` | the user's thresholds `t_1 < … < t_{n−1}` | falls in the bin below it: bins `(t_{i−1}, t_i]` |
//! | `mean` / `median` | the exact population mean / the median | a two-level split: a value *at or above* the centre is high for higher-is-better dimensions; for lower-is-better dimensions only a value *strictly below* the centre is high |
//!
//! For a lower-is-better dimension (recency in days) the bin index `k` in value order becomes the
//! score `n + 1 − k`, so the most recent customers get the top score. Equal values always share a
//! score except under `ntile`. A population without spread (one customer, or all values equal) has
//! every value in bin 1: score 1 when higher is better, score `n` when lower is better.

use std::fmt;
use std::str::FromStr;

use datafusion::common::{Result, exec_err, plan_err};
use serde::{Deserialize, Serialize};

use super::exact_sum::exact_sum;
use super::mapped::MappedVec;

/// The smallest and largest number of score levels.
pub const MIN_BINS: u8 = 2;
/// See [`MIN_BINS`].
pub const MAX_BINS: u8 = 10;

/// How values become scores. See the module documentation for the exact definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ScoreMethod {
    /// Empirical quantile cut points (type 1); ties share a score. The default.
    #[default]
    Quantile,
    /// Equal-count groups like SQL `NTILE`; ties broken by the tie-break order.
    Ntile,
    /// User-given thresholds.
    Fixed,
    /// High/low split at the population mean (two levels).
    Mean,
    /// High/low split at the population median (two levels).
    Median,
}

impl ScoreMethod {
    /// All methods, in documentation order.
    pub const ALL: [ScoreMethod; 5] = [Self::Quantile, Self::Ntile, Self::Fixed, Self::Mean, Self::Median];

    /// The SQL spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Quantile => "quantile",
            Self::Ntile => "ntile",
            Self::Fixed => "fixed",
            Self::Mean => "mean",
            Self::Median => "median",
        }
    }

    /// `mean` and `median` always make exactly two levels.
    pub fn is_two_level(&self) -> bool {
        matches!(self, Self::Mean | Self::Median)
    }
}

impl fmt::Display for ScoreMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ScoreMethod {
    type Err = datafusion::error::DataFusionError;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|m| m.as_str() == s).map_or_else(
            || plan_err!("unknown score method '{s}': expected one of quantile, ntile, fixed, mean, median"),
            Ok,
        )
    }
}

/// Which end of a dimension is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Larger values are better (frequency, monetary). The default.
    #[default]
    Higher,
    /// Smaller values are better (recency in days).
    Lower,
}

impl Direction {
    /// The SQL spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Higher => "higher",
            Self::Lower => "lower",
        }
    }
}

impl FromStr for Direction {
    type Err = datafusion::error::DataFusionError;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "higher" | "desc" | "higher_is_better" => Ok(Self::Higher),
            "lower" | "asc" | "lower_is_better" => Ok(Self::Lower),
            other => plan_err!(
                "unknown direction '{other}': expected 'higher' (larger is better) or 'lower' (smaller is better)"
            ),
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A fully specified scoring rule for one dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreSpec {
    /// Number of score levels `n` (2..=10). Two for `mean`/`median`; `thresholds.len() + 1` for `fixed`.
    pub bins: u8,
    /// Which end is good.
    pub direction: Direction,
    /// How cut points are chosen.
    pub method: ScoreMethod,
    /// Thresholds for `fixed`, strictly increasing; empty otherwise.
    pub thresholds: Vec<f64>,
}

impl ScoreSpec {
    /// A spec with the given bins, direction and method and no thresholds.
    pub fn new(bins: u8, direction: Direction, method: ScoreMethod) -> Self {
        Self {
            bins,
            direction,
            method,
            thresholds: vec![],
        }
    }

    /// A `fixed` spec from thresholds; `bins` is `thresholds.len() + 1`.
    pub fn fixed(direction: Direction, thresholds: Vec<f64>) -> Self {
        let bins = u8::try_from(thresholds.len() + 1).unwrap_or(u8::MAX);
        Self {
            bins,
            direction,
            method: ScoreMethod::Fixed,
            thresholds,
        }
    }

    /// Checks the combination of bins, method and thresholds; `what` names the argument in errors.
    pub fn validate(&self, what: &str) -> Result<()> {
        let n = self.bins;
        match self.method {
            ScoreMethod::Mean | ScoreMethod::Median if n != 2 => {
                return plan_err!(
                    "{what}: method '{}' splits into high/low, so bins must be 2 (got {n})",
                    self.method
                );
            }
            ScoreMethod::Fixed => {
                if self.thresholds.is_empty() {
                    return plan_err!("{what}: method 'fixed' needs thresholds, e.g. '30,90,180,365'");
                }
                if let Some(t) = self.thresholds.iter().find(|t| !t.is_finite()) {
                    return plan_err!("{what}: threshold {t} is not a finite number");
                }
                if self.thresholds.windows(2).any(|w| w[0] >= w[1]) {
                    return plan_err!(
                        "{what}: thresholds must be strictly increasing, got {:?}",
                        self.thresholds
                    );
                }
                if usize::from(n) != self.thresholds.len() + 1 {
                    return plan_err!(
                        "{what}: {} thresholds make {} bins, but bins = {n}",
                        self.thresholds.len(),
                        self.thresholds.len() + 1
                    );
                }
            }
            _ if !self.thresholds.is_empty() => {
                return plan_err!(
                    "{what}: thresholds are only used by method 'fixed' (method is '{}')",
                    self.method
                );
            }
            _ => {}
        }
        if !(MIN_BINS..=MAX_BINS).contains(&n) {
            return plan_err!("{what}: bins must be between {MIN_BINS} and {MAX_BINS}, got {n}");
        }
        Ok(())
    }
}

/// Which side of a cut point a value lying on it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closed {
    /// Bins `(c_{i−1}, c_i]`: a value on a cut point goes to the lower bin.
    Right,
    /// Bins `[c_{i−1}, c_i)`: a value on a cut point goes to the upper bin.
    Left,
}

/// Cut points fitted on a population, applicable to any value (every method except `ntile`).
#[derive(Debug, Clone, PartialEq)]
pub struct CutPoints {
    bins: u8,
    direction: Direction,
    closed: Closed,
    cuts: Vec<f64>,
}

impl CutPoints {
    /// Fits the cut points of `spec` on `values` (finite, non-null). `ntile` has no value cut points.
    pub fn fit(spec: &ScoreSpec, values: &[f64]) -> Result<Self> {
        spec.validate("rfm score")?;
        check_finite(values)?;
        let n = usize::from(spec.bins);
        let (closed, cuts) = match spec.method {
            ScoreMethod::Quantile => {
                let big_n = values.len();
                let cuts = if big_n == 0 {
                    vec![]
                } else {
                    // q_i = x_(ceil(i*N/n)), 1-based order statistics, found by selection
                    // (O(N) per cut point, no full sort).
                    let ranks: Vec<usize> = (1..n).map(|i| (i * big_n).div_ceil(n) - 1).collect();
                    order_statistics(values, &ranks)
                };
                (Closed::Right, cuts)
            }
            ScoreMethod::Fixed => (Closed::Right, spec.thresholds.clone()),
            ScoreMethod::Mean => {
                let cuts = if values.is_empty() {
                    vec![]
                } else {
                    vec![exact_sum(values.iter().copied()) / values.len() as f64]
                };
                (Closed::Left, cuts)
            }
            ScoreMethod::Median => (Closed::Left, median(values).into_iter().collect()),
            ScoreMethod::Ntile => {
                return plan_err!("rfm score: method 'ntile' ranks a population; it has no value cut points");
            }
        };
        Ok(Self {
            bins: spec.bins,
            direction: spec.direction,
            closed,
            cuts,
        })
    }

    /// The cut points in increasing value order.
    pub fn cuts(&self) -> &[f64] {
        &self.cuts
    }

    /// True when a value equal to a cut point goes to the upper bin (`mean`, `median`).
    pub fn is_left_closed(&self) -> bool {
        self.closed == Closed::Left
    }

    /// The number of score levels.
    pub fn bins(&self) -> u8 {
        self.bins
    }

    /// Which end is good.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The score of `v` (1..=bins).
    pub fn score(&self, v: f64) -> u8 {
        let below = match self.closed {
            Closed::Right => self.cuts.partition_point(|&c| c < v),
            Closed::Left => self.cuts.partition_point(|&c| c <= v),
        };
        // `below` <= cuts.len() <= bins - 1, so the bin fits in u8.
        let bin = below as u8 + 1;
        match self.direction {
            Direction::Higher => bin,
            Direction::Lower => self.bins + 1 - bin,
        }
    }
}

/// The order statistics of `values` at the 0-based `ranks` (ascending), by successive
/// selections on the part right of the previous rank.
fn order_statistics(values: &[f64], ranks: &[usize]) -> Vec<f64> {
    let mut v = MappedVec::from(values);
    let mut out = Vec::with_capacity(ranks.len());
    let mut done = 0; // v[..done] holds values <= every later rank's
    let mut last: Option<(usize, f64)> = None;
    for &k in ranks {
        if let Some((rank, value)) = last
            && rank == k
        {
            out.push(value);
            continue;
        }
        let (_, nth, _) = v[done..].select_nth_unstable_by(k - done, f64::total_cmp);
        let value = *nth;
        out.push(value);
        last = Some((k, value));
        done = k + 1;
    }
    out
}

/// The median (mean of the two middle values for an even count), `None` for no values.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = MappedVec::from(values);
    let mid = v.len() / 2;
    let (lower, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let m = *m;
    if values.len() % 2 == 1 {
        Some(m)
    } else {
        let lo = lower.iter().copied().max_by(f64::total_cmp).unwrap_or(m);
        Some(lo / 2.0 + m / 2.0)
    }
}

fn check_finite(values: &[f64]) -> Result<()> {
    match values.iter().find(|v| !v.is_finite()) {
        Some(v) => exec_err!(
            "rfm score: value {v} is not finite; scores need finite numbers (filter NaN and infinities first)"
        ),
        None => Ok(()),
    }
}

/// Scores a whole population. `None` values get no score. Under `ntile`, ties keep their input
/// order (a stable sort), so the caller fixes the tie-break order by ordering the input.
pub fn score_population(spec: &ScoreSpec, values: &[Option<f64>]) -> Result<Vec<Option<u8>>> {
    spec.validate("rfm score")?;
    if spec.method == ScoreMethod::Ntile {
        let present: Vec<(usize, f64)> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (i, v)))
            .collect();
        check_finite(&present.iter().map(|p| p.1).collect::<Vec<_>>())?;
        let mut order = present;
        match spec.direction {
            Direction::Higher => order.sort_by(|a, b| a.1.total_cmp(&b.1)),
            Direction::Lower => order.sort_by(|a, b| b.1.total_cmp(&a.1)),
        }
        let mut out = vec![None; values.len()];
        for (pos, (i, _)) in order.iter().enumerate() {
            out[*i] = Some(ntile_bucket(pos, order.len(), spec.bins));
        }
        return Ok(out);
    }
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let cuts = CutPoints::fit(spec, &present)?;
    Ok(values.iter().map(|v| v.map(|v| cuts.score(v))).collect())
}

/// SQL-standard `NTILE(n)` bucket (1-based) of 0-based position `pos` among `rows` rows:
/// with `base = rows / n` and `extra = rows % n`, the first `extra` buckets hold `base + 1` rows.
pub fn ntile_bucket(pos: usize, rows: usize, bins: u8) -> u8 {
    let n = usize::from(bins);
    let base = rows / n;
    let extra = rows % n;
    let large = extra * (base + 1);
    let bucket = if pos < large {
        pos / (base + 1)
    } else {
        extra + (pos - large) / base.max(1)
    };
    bucket as u8 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(spec: &ScoreSpec, v: &[f64]) -> Vec<u8> {
        let v: Vec<Option<f64>> = v.iter().map(|x| Some(*x)).collect();
        score_population(spec, &v)
            .unwrap()
            .into_iter()
            .map(Option::unwrap)
            .collect()
    }

    #[test]
    fn order_statistics_equal_a_full_sort() {
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % 50) as f64 // many ties
        };
        for len in [1usize, 2, 7, 100, 1001] {
            let values: Vec<f64> = (0..len).map(|_| next()).collect();
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            for bins in 2..=10usize {
                let ranks: Vec<usize> = (1..bins).map(|i| (i * len).div_ceil(bins) - 1).collect();
                let want: Vec<f64> = ranks.iter().map(|&k| sorted[k]).collect();
                assert_eq!(order_statistics(&values, &ranks), want, "len {len} bins {bins}");
            }
        }
    }

    #[test]
    fn quantile_cut_points_are_type_one_and_right_closed() {
        // N = 10, n = 5: cut points at order statistics ceil(2i) = 2, 4, 6, 8 -> values 2, 4, 6, 8.
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        let spec = ScoreSpec::new(5, Direction::Higher, ScoreMethod::Quantile);
        assert_eq!(CutPoints::fit(&spec, &v).unwrap().cuts(), &[2.0, 4.0, 6.0, 8.0]);
        assert_eq!(score(&spec, &v), vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
        // Lower is better reverses: the smallest value gets 5.
        let spec = ScoreSpec::new(5, Direction::Lower, ScoreMethod::Quantile);
        assert_eq!(score(&spec, &v), vec![5, 5, 4, 4, 3, 3, 2, 2, 1, 1]);
    }

    #[test]
    fn quantile_ties_share_a_score_and_massive_ties_stay_low() {
        // Nine one-time buyers and one loyal customer (N = 10, n = 5): all cut points are 1,
        // so every 1 is in the lowest bin and 10 is in the top bin.
        let v = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 10.0];
        let spec = ScoreSpec::new(5, Direction::Higher, ScoreMethod::Quantile);
        assert_eq!(score(&spec, &v), vec![1, 1, 1, 1, 1, 1, 1, 1, 1, 5]);
        // N = 7, n = 3: positions ceil(7/3)=3, ceil(14/3)=5 -> cuts x(3)=2, x(5)=3.
        let v = [1.0, 2.0, 2.0, 2.0, 3.0, 3.0, 9.0];
        let spec = ScoreSpec::new(3, Direction::Higher, ScoreMethod::Quantile);
        assert_eq!(score(&spec, &v), vec![1, 1, 1, 1, 2, 2, 3]);
    }

    #[test]
    fn populations_without_spread() {
        let spec = ScoreSpec::new(5, Direction::Higher, ScoreMethod::Quantile);
        assert_eq!(score(&spec, &[7.0]), vec![1]);
        assert_eq!(score(&spec, &[3.0, 3.0, 3.0]), vec![1, 1, 1]);
        let spec = ScoreSpec::new(5, Direction::Lower, ScoreMethod::Quantile);
        assert_eq!(score(&spec, &[7.0]), vec![5]);
        assert_eq!(score_population(&spec, &[]).unwrap(), vec![]);
    }

    #[test]
    fn more_bins_than_distinct_values() {
        // 3 distinct values, 10 bins, N = 4: cuts at ceil(0.4i) -> x(1),x(1),x(2),x(2),x(2),x(3),x(3),x(4),x(4)
        let v = [5.0, 1.0, 3.0, 3.0];
        let spec = ScoreSpec::new(10, Direction::Higher, ScoreMethod::Quantile);
        let cuts = CutPoints::fit(&spec, &v).unwrap();
        assert_eq!(cuts.cuts(), &[1.0, 1.0, 3.0, 3.0, 3.0, 3.0, 3.0, 5.0, 5.0]);
        // The maximum lies on the top cut points (N < n), so it lands in bin 8 of 10.
        assert_eq!(score(&spec, &v), vec![8, 1, 3, 3]);
    }

    #[test]
    fn ntile_matches_sql_bucket_sizes_and_breaks_ties_by_input_order() {
        let sizes = |rows: usize, n: u8| {
            let mut c = vec![0; usize::from(n)];
            for p in 0..rows {
                c[usize::from(ntile_bucket(p, rows, n)) - 1] += 1;
            }
            c
        };
        assert_eq!(sizes(10, 4), vec![3, 3, 2, 2]);
        assert_eq!(sizes(3, 5), vec![1, 1, 1, 0, 0]);
        assert_eq!(sizes(10, 5), vec![2, 2, 2, 2, 2]);
        // Four equal values into two groups: input order decides.
        let spec = ScoreSpec::new(2, Direction::Higher, ScoreMethod::Ntile);
        assert_eq!(score(&spec, &[4.0, 4.0, 4.0, 4.0]), vec![1, 1, 2, 2]);
        let spec = ScoreSpec::new(2, Direction::Lower, ScoreMethod::Ntile);
        assert_eq!(score(&spec, &[1.0, 9.0, 4.0, 4.0]), vec![2, 1, 1, 2]);
    }

    #[test]
    fn fixed_thresholds_are_right_closed() {
        // recency <= 30 -> 5, <= 90 -> 4, <= 180 -> 3, <= 365 -> 2, else 1.
        let spec = ScoreSpec::fixed(Direction::Lower, vec![30.0, 90.0, 180.0, 365.0]);
        assert_eq!(
            score(&spec, &[0.0, 30.0, 31.0, 90.0, 180.0, 365.0, 366.0]),
            vec![5, 5, 4, 4, 3, 2, 1]
        );
        let spec = ScoreSpec::fixed(Direction::Higher, vec![1.0, 2.0, 5.0]);
        assert_eq!(score(&spec, &[1.0, 2.0, 3.0, 5.0, 6.0]), vec![1, 2, 3, 3, 4]);
    }

    #[test]
    fn mean_split_uses_at_or_above_for_higher_and_strictly_below_for_lower() {
        // mean = 2
        let v = [1.0, 2.0, 3.0];
        let spec = ScoreSpec::new(2, Direction::Higher, ScoreMethod::Mean);
        assert_eq!(score(&spec, &v), vec![1, 2, 2]);
        // Recency: 1 day is recent (high = 2); exactly the mean is not.
        let spec = ScoreSpec::new(2, Direction::Lower, ScoreMethod::Mean);
        assert_eq!(score(&spec, &v), vec![2, 1, 1]);
        let spec = ScoreSpec::new(2, Direction::Higher, ScoreMethod::Median);
        assert_eq!(score(&spec, &[1.0, 1.0, 5.0, 100.0]), vec![1, 1, 2, 2]); // median 3
        assert_eq!(median(&[1.0, 1.0, 5.0, 100.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 9.0]), Some(4.0));
    }

    #[test]
    fn mean_cut_is_exact_whatever_the_order() {
        let mut v: Vec<f64> = (0..1000)
            .map(|i| 0.1 * f64::from(i % 7) + 1e6 * f64::from(i % 3))
            .collect();
        let spec = ScoreSpec::new(2, Direction::Higher, ScoreMethod::Mean);
        let a = CutPoints::fit(&spec, &v).unwrap();
        v.reverse();
        let b = CutPoints::fit(&spec, &v).unwrap();
        assert_eq!(a.cuts()[0].to_bits(), b.cuts()[0].to_bits());
    }

    #[test]
    fn nulls_get_no_score_and_bad_input_is_an_error() {
        let spec = ScoreSpec::new(2, Direction::Higher, ScoreMethod::Quantile);
        assert_eq!(
            score_population(&spec, &[None, Some(1.0), Some(2.0)]).unwrap(),
            vec![None, Some(1), Some(2)]
        );
        let err = score_population(&spec, &[Some(f64::NAN)]).unwrap_err().to_string();
        assert!(err.contains("not finite"), "{err}");
        let err = ScoreSpec::new(11, Direction::Higher, ScoreMethod::Quantile)
            .validate("bins")
            .unwrap_err()
            .to_string();
        assert!(err.contains("between 2 and 10"), "{err}");
        let err = ScoreSpec::new(5, Direction::Higher, ScoreMethod::Mean)
            .validate("x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("bins must be 2"), "{err}");
        let err = ScoreSpec::fixed(Direction::Higher, vec![3.0, 1.0])
            .validate("x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("strictly increasing"), "{err}");
        assert!(
            "bogus"
                .parse::<ScoreMethod>()
                .unwrap_err()
                .to_string()
                .contains("quantile, ntile")
        );
    }
}
