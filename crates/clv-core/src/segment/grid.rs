//! Tuning grids: schemes × bins × methods × lookback windows × k, expanded to the valid
//! segmentations, and the metrics they are ranked by.
//!
//! Expansion rules (documented in docs/guide.md):
//! * a named scheme labels scores `1..levels`, so its bins are its levels (the grid's bins do
//!   not apply to it); it takes every grid method that can make that many levels (`mean` and
//!   `median` only two; `fixed` only with thresholds of the right length), or, without a
//!   methods list, its own method (`mean` for `cn8`, quantile for the others);
//! * `cell`, `total` and `recency` take every grid bins × method combination (`mean` and
//!   `median` with 2 bins only);
//! * `kmeans` takes every k (bins and methods do not apply);
//! * every combination takes every lookback window;
//! * the baseline `recency` with 5 quantile bins over all history is always evaluated;
//! * duplicates are evaluated once.

use std::str::FromStr;

use datafusion::common::{Result, plan_err};

use super::segmentation::{Labeller, Segmentation};
use crate::config::Monetary;
use crate::rfm::{Direction, SchemeRegistry, ScoreMethod, ScoreSpec};

/// The metric a grid is ranked by (higher is better), averaged over the cutoffs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RankMetric {
    /// η² of future revenue per customer (default).
    #[default]
    Eta2Revenue,
    /// η² of repurchase.
    Eta2Repurchase,
    /// Future-revenue lift of the best segment.
    Lift,
    /// Share of customers keeping their segment between consecutive cutoffs.
    Stability,
}

impl RankMetric {
    /// Every metric.
    pub const ALL: [RankMetric; 4] = [Self::Eta2Revenue, Self::Eta2Repurchase, Self::Lift, Self::Stability];

    /// The SQL spelling (a column of `segment_tune`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Eta2Revenue => "eta2_revenue",
            Self::Eta2Repurchase => "eta2_repurchase",
            Self::Lift => "best_lift",
            Self::Stability => "stability",
        }
    }
}

impl FromStr for RankMetric {
    type Err = datafusion::error::DataFusionError;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim().to_ascii_lowercase();
        match s.as_str() {
            "lift" => return Ok(Self::Lift),
            "eta2" => return Ok(Self::Eta2Revenue),
            _ => {}
        }
        match Self::ALL.iter().find(|m| m.as_str() == s) {
            Some(m) => Ok(*m),
            None => plan_err!("rank_by must be one of eta2_revenue, eta2_repurchase, best_lift, stability, got '{s}'"),
        }
    }
}

/// A tuning grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Scheme names, or `cell`, `total`, `recency`, `kmeans`.
    pub schemes: Vec<String>,
    /// Bins for the labellers without levels.
    pub bins: Vec<u8>,
    /// Score methods; empty: each scheme's own method (quantile for `cell`, `total`,
    /// `recency`).
    pub methods: Vec<ScoreMethod>,
    /// Lookback windows in days (`None`: all history).
    pub lookbacks: Vec<Option<i64>>,
    /// Cluster counts for `kmeans`.
    pub ks: Vec<usize>,
    /// Seed of the k-means starts.
    pub seed: u64,
    /// Monetary aggregation.
    pub monetary: Monetary,
    /// Thresholds of method `fixed` (recency, frequency, monetary).
    pub thresholds: [Option<Vec<f64>>; 3],
}

/// One configuration of an expanded grid.
#[derive(Debug, Clone)]
pub struct GridEntry {
    /// The segmentation.
    pub segmentation: Segmentation,
    /// Whether it is the baseline added by the expansion.
    pub baseline: bool,
}

/// The most configurations one grid may expand to.
pub const MAX_CONFIGURATIONS: usize = 1000;

impl Grid {
    /// The valid configurations, baseline included (see the module documentation).
    pub fn expand(&self, schemes: &SchemeRegistry) -> Result<Vec<GridEntry>> {
        let mut out: Vec<GridEntry> = vec![];
        let mut any_valid = false;
        // Adds a valid configuration once; whether it was valid.
        let mut push = |s: Segmentation, baseline: bool| -> bool {
            if s.validate().is_err() {
                return false;
            }
            match out.iter_mut().find(|e| same(&e.segmentation, &s)) {
                // The grid itself holds the baseline's configuration: it is the baseline.
                Some(e) => e.baseline |= baseline,
                None => out.push(GridEntry {
                    segmentation: s,
                    baseline,
                }),
            }
            true
        };
        let spec = |method: ScoreMethod, bins: u8, d: Direction, k: usize| -> Option<ScoreSpec> {
            if method == ScoreMethod::Fixed {
                let t = self.thresholds[k].clone()?;
                return (t.len() + 1 == usize::from(bins)).then(|| ScoreSpec::fixed(d, t));
            }
            Some(ScoreSpec::new(bins, d, method))
        };
        let make = |labeller: Labeller, method: ScoreMethod, bins: u8, lookback: Option<i64>| {
            Some(Segmentation {
                labeller,
                r: spec(method, bins, Direction::Lower, 0)?,
                f: spec(method, bins, Direction::Higher, 1)?,
                m: spec(method, bins, Direction::Higher, 2)?,
                lookback_days: lookback,
                monetary: self.monetary,
            })
        };
        if self.schemes.is_empty() {
            return plan_err!("the grid has no schemes");
        }
        for name in &self.schemes {
            let labeller = match name.trim().to_ascii_lowercase().as_str() {
                "cell" => Labeller::Cell,
                "total" => Labeller::Total,
                "recency" => Labeller::Recency,
                "kmeans" => Labeller::KMeans { k: 0, seed: self.seed },
                "none" => return plan_err!("scheme 'none' gives no segments; use 'cell' for the score cells"),
                _ => Labeller::Scheme(schemes.get(name)?),
            };
            for &lookback in &self.lookbacks {
                match &labeller {
                    Labeller::KMeans { seed, .. } => {
                        for &k in &self.ks {
                            if let Some(s) =
                                make(Labeller::KMeans { k, seed: *seed }, ScoreMethod::Quantile, 5, lookback)
                            {
                                any_valid |= push(s, false);
                            }
                        }
                    }
                    Labeller::Scheme(scheme) => {
                        let own = [scheme.method()];
                        let methods = if self.methods.is_empty() {
                            &own[..]
                        } else {
                            &self.methods
                        };
                        for &method in methods {
                            if let Some(s) = make(labeller.clone(), method, scheme.levels(), lookback) {
                                any_valid |= push(s, false);
                            }
                        }
                    }
                    _ => {
                        let own = [ScoreMethod::Quantile];
                        let methods = if self.methods.is_empty() {
                            &own[..]
                        } else {
                            &self.methods
                        };
                        for &bins in &self.bins {
                            for &method in methods {
                                let bins = if method.is_two_level() { 2 } else { bins };
                                if let Some(s) = make(labeller.clone(), method, bins, lookback) {
                                    any_valid |= push(s, false);
                                }
                            }
                        }
                    }
                }
            }
        }
        if let Some(s) = make(Labeller::Recency, ScoreMethod::Quantile, 5, None) {
            push(s, true);
        }
        if out.len() > MAX_CONFIGURATIONS {
            return plan_err!(
                "the grid expands to {} configurations, more than {MAX_CONFIGURATIONS}; shorten its lists",
                out.len()
            );
        }
        if !any_valid {
            return plan_err!(
                "no configuration of the grid is valid: a scheme's bins are its levels, mean and median make 2 bins, fixed needs thresholds"
            );
        }
        Ok(out)
    }
}

/// Whether two segmentations are the same configuration.
fn same(a: &Segmentation, b: &Segmentation) -> bool {
    a.labeller.name() == b.labeller.name()
        && match (&a.labeller, &b.labeller) {
            (Labeller::KMeans { k: x, .. }, Labeller::KMeans { k: y, .. }) => x == y,
            (Labeller::KMeans { .. }, _) | (_, Labeller::KMeans { .. }) => false,
            _ => a.r == b.r && a.f == b.f && a.m == b.m,
        }
        && a.lookback_days == b.lookback_days
        && a.monetary == b.monetary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_keeps_valid_combinations_once() {
        let grid = Grid {
            schemes: vec!["rf_grid".into(), "cn8_en".into(), "cell".into(), "kmeans".into()],
            bins: vec![3, 5],
            methods: vec![ScoreMethod::Quantile, ScoreMethod::Mean],
            lookbacks: vec![None, Some(365)],
            ks: vec![4, 6],
            seed: 0,
            monetary: Monetary::Sum,
            thresholds: Default::default(),
        };
        let e = grid.expand(&SchemeRegistry::new()).unwrap();
        let d: Vec<String> = e.iter().map(|e| e.segmentation.describe()).collect();
        // rf_grid: quantile x5 only (mean makes 2 levels), cn8_en: quantile x2 and mean x2,
        // cell: quantile x3, quantile x5, mean x2; kmeans: k 4 and 6; each twice (lookbacks);
        // plus the baseline.
        assert_eq!(e.len(), (1 + 2 + 3 + 2) * 2 + 1, "{d:#?}");
        assert!(d.contains(&"rf_grid, quantile x5, all history".to_string()));
        assert!(d.contains(&"cn8_en, mean x2, last 365 days".to_string()));
        assert!(d.contains(&"kmeans, k=6, last 365 days".to_string()));
        assert!(e.last().unwrap().baseline);
        assert_eq!(d.last().unwrap(), "recency, quantile x5, all history");
        assert_eq!("lift".parse::<RankMetric>().unwrap(), RankMetric::Lift);
        assert!("auc".parse::<RankMetric>().is_err());
    }

    #[test]
    fn a_grid_holding_the_baseline_marks_it_once() {
        let grid = Grid {
            schemes: vec!["recency".into(), "cell".into()],
            bins: vec![4, 5],
            methods: vec![ScoreMethod::Quantile],
            lookbacks: vec![None],
            ks: vec![5],
            seed: 0,
            monetary: Monetary::Sum,
            thresholds: Default::default(),
        };
        let e = grid.expand(&SchemeRegistry::new()).unwrap();
        let baselines: Vec<String> = e
            .iter()
            .filter(|e| e.baseline)
            .map(|e| e.segmentation.describe())
            .collect();
        assert_eq!(e.len(), 4);
        assert_eq!(baselines, ["recency, quantile x5, all history"]);
        // A grid of the baseline alone is valid too.
        let only = Grid {
            schemes: vec!["recency".into()],
            bins: vec![5],
            ..grid
        };
        let e = only.expand(&SchemeRegistry::new()).unwrap();
        assert_eq!(e.len(), 1);
        assert!(e[0].baseline);
    }
}
