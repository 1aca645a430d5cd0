//! A segmentation: how the customers present at a cutoff get their segment labels.
//!
//! Rule-based segmentations score recency, frequency and monetary value among the customers
//! present at the cutoff (exactly as `rfm()` with `as_of` = the cutoff, ties of `ntile` in
//! customer-id order) and label each score cell by a segment scheme. Besides the named
//! schemes there are four labellers without a rule table:
//!
//! | name | segment |
//! |---|---|
//! | `cell` | the RFM cell code, e.g. `545` (any number of bins) |
//! | `total` | the total score R + F + M, e.g. `12` |
//! | `recency` | the recency score alone, e.g. `R5`: the baseline every segmentation should beat |
//! | `kmeans` | the k-means cluster of the customer's default features (see below) |
//!
//! `kmeans` clusters the present customers (in customer-id order, so the result does not
//! depend on partitioning) on `log1p(recency_days)`, `ln(frequency)` and
//! `log1p(max(monetary, 0))`, standardised ([`clv_models::kmeans`]); with a lookback window a
//! dormant customer has frequency 0, so the frequency feature is then `log1p(frequency)`
//! (defined at 0) instead. The segment is the cluster's automatic English name.

use std::sync::Arc;

use datafusion::common::{DataFusionError, Result, plan_err};

use super::panel::CutoffData;
use crate::config::Monetary;
use crate::ltv::kmeans::{Feature, FeatureMatrix, FeatureRole, FeatureTransform, FittedKMeans, KMeans};
use crate::rfm::{CutPoints, ScoreMethod, ScoreSpec, SegmentScheme, cell_code, score_population};

/// What assigns the labels.
#[derive(Debug, Clone)]
pub enum Labeller {
    /// A named rule table over the scores.
    Scheme(Arc<SegmentScheme>),
    /// The cell code.
    Cell,
    /// The total score.
    Total,
    /// The recency score alone (`R1` .. `Rn`).
    Recency,
    /// K-means clusters of the default features.
    KMeans {
        /// Clusters.
        k: usize,
        /// Seed of the starts.
        seed: u64,
    },
}

impl Labeller {
    /// The names of the labellers without a rule table.
    pub const BUILT_IN: [&'static str; 4] = ["cell", "total", "recency", "kmeans"];

    /// The labeller's name: the scheme's, or one of [`Labeller::BUILT_IN`].
    pub fn name(&self) -> &str {
        match self {
            Self::Scheme(s) => s.name(),
            Self::Cell => "cell",
            Self::Total => "total",
            Self::Recency => "recency",
            Self::KMeans { .. } => "kmeans",
        }
    }
}

/// A complete segmentation: labeller, scoring and feature window.
#[derive(Debug, Clone)]
pub struct Segmentation {
    /// What assigns the labels.
    pub labeller: Labeller,
    /// Recency scoring (lower is better).
    pub r: ScoreSpec,
    /// Frequency scoring.
    pub f: ScoreSpec,
    /// Monetary scoring.
    pub m: ScoreSpec,
    /// Frequency and monetary over the last this many days (`None`: all history).
    pub lookback_days: Option<i64>,
    /// Monetary as the sum or the mean per order.
    pub monetary: Monetary,
}

/// The labels of the customers present at a cutoff.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    /// Every label the segmentation can give, in its order (rule order, cluster order, ...).
    pub names: Vec<String>,
    /// The label of each present customer (index into `names`), aligned with
    /// [`CutoffData::customers`].
    pub of: Vec<u32>,
}

/// The values the scores are computed from, aligned with [`CutoffData::customers`].
#[derive(Debug, Clone)]
pub struct RfmValues {
    /// Recency in days.
    pub recency: Vec<f64>,
    /// Frequency.
    pub frequency: Vec<f64>,
    /// Monetary (sum, or mean per order; 0 without orders).
    pub monetary: Vec<f64>,
}

impl RfmValues {
    /// The values of `data` whose exact monetary sums are `monetary_sum` as `Float64`.
    pub fn new(data: &CutoffData, monetary_sum: &[f64], monetary: Monetary) -> Self {
        Self {
            recency: data.recency_days.iter().map(|d| *d as f64).collect(),
            frequency: data.frequency.iter().map(|f| *f as f64).collect(),
            monetary: monetary_sum
                .iter()
                .zip(&data.frequency)
                .map(|(s, n)| match monetary {
                    Monetary::Sum => *s,
                    Monetary::Mean if *n == 0 => 0.0,
                    Monetary::Mean => *s / *n as f64,
                })
                .collect(),
        }
    }
}

/// The scores `1..=bins` of `values` (customer-id order, which breaks `ntile` ties).
pub fn scores(spec: &ScoreSpec, values: &[f64]) -> Result<Vec<u8>> {
    if spec.method == ScoreMethod::Ntile {
        let v: Vec<Option<f64>> = values.iter().map(|x| Some(*x)).collect();
        return Ok(score_population(spec, &v)?
            .into_iter()
            .map(|s| s.unwrap_or(1))
            .collect());
    }
    let cuts = CutPoints::fit(spec, values)?;
    Ok(values.iter().map(|v| cuts.score(*v)).collect())
}

/// The three score columns of a segmentation.
#[derive(Debug, Clone)]
pub struct Scores {
    /// R scores.
    pub r: Vec<u8>,
    /// F scores.
    pub f: Vec<u8>,
    /// M scores.
    pub m: Vec<u8>,
}

impl Segmentation {
    /// Checks that the labeller can read the scores (a scheme's levels equal the bins).
    pub fn validate(&self) -> Result<()> {
        for (what, spec) in [("recency", &self.r), ("frequency", &self.f), ("monetary", &self.m)] {
            spec.validate(what)?;
        }
        if let Labeller::Scheme(s) = &self.labeller {
            for (dim, spec) in [("r", &self.r), ("f", &self.f), ("m", &self.m)] {
                if spec.bins != s.levels() {
                    return plan_err!(
                        "scheme '{}' labels scores 1..{}, but the {dim} scores run 1..{}",
                        s.name(),
                        s.levels(),
                        spec.bins
                    );
                }
            }
        }
        if let Labeller::KMeans { k, .. } = self.labeller
            && !(1..=100).contains(&k)
        {
            return plan_err!("k must be between 1 and 100, got {k}");
        }
        if let Some(n) = self.lookback_days
            && n <= 0
        {
            return plan_err!("lookback_days must be a positive number of days, got {n}");
        }
        Ok(())
    }

    /// A short description, e.g. `rf_grid, quantile x5, all history`.
    pub fn describe(&self) -> String {
        let window = match self.lookback_days {
            Some(n) => format!("last {n} days"),
            None => "all history".to_string(),
        };
        match &self.labeller {
            Labeller::KMeans { k, .. } => format!("kmeans, k={k}, {window}"),
            l => format!("{}, {} x{}, {window}", l.name(), self.r.method, self.r.bins),
        }
    }

    /// The R, F and M scores of the present customers.
    pub fn scores(&self, values: &RfmValues) -> Result<Scores> {
        Ok(Scores {
            r: scores(&self.r, &values.recency)?,
            f: scores(&self.f, &values.frequency)?,
            m: scores(&self.m, &values.monetary)?,
        })
    }

    /// The labels from precomputed scores (every labeller except `kmeans`).
    pub fn labels_from_scores(&self, s: &Scores) -> Result<Labels> {
        let b = u32::from(self.r.bins);
        let (names, of): (Vec<String>, Vec<u32>) = match &self.labeller {
            Labeller::Scheme(scheme) => {
                // The label of every cell, looked up once.
                let names: Vec<String> = scheme.labels().to_vec();
                let mut cells = vec![0u32; (b * b * b) as usize];
                for r in 1..=b {
                    for f in 1..=b {
                        for m in 1..=b {
                            let label = scheme.assign(i64::from(r), i64::from(f), i64::from(m))?;
                            let at = names.iter().position(|n| n == label).unwrap_or_default();
                            cells[(((r - 1) * b + (f - 1)) * b + (m - 1)) as usize] = at as u32;
                        }
                    }
                }
                let of = (0..s.r.len())
                    .map(|i| {
                        let (r, f, m) = (u32::from(s.r[i]), u32::from(s.f[i]), u32::from(s.m[i]));
                        cells[(((r - 1) * b + (f - 1)) * b + (m - 1)) as usize]
                    })
                    .collect();
                (names, of)
            }
            Labeller::Cell => {
                let mut names = vec![];
                for r in 1..=b {
                    for f in 1..=b {
                        for m in 1..=b {
                            names.push(cell_code(r as u8, f as u8, m as u8));
                        }
                    }
                }
                // Cells in descending code order: the best cell first.
                names.reverse();
                let of = (0..s.r.len())
                    .map(|i| {
                        let (r, f, m) = (u32::from(s.r[i]), u32::from(s.f[i]), u32::from(s.m[i]));
                        b * b * b - 1 - (((r - 1) * b + (f - 1)) * b + (m - 1))
                    })
                    .collect();
                (names, of)
            }
            Labeller::Total => {
                // Totals 3b (best) down to 3.
                let names = (3..=3 * b).rev().map(|t| t.to_string()).collect();
                let of = (0..s.r.len())
                    .map(|i| 3 * b - (u32::from(s.r[i]) + u32::from(s.f[i]) + u32::from(s.m[i])))
                    .collect();
                (names, of)
            }
            Labeller::Recency => {
                let names = (1..=b).rev().map(|r| format!("R{r}")).collect();
                let of = s.r.iter().map(|r| b - u32::from(*r)).collect();
                (names, of)
            }
            Labeller::KMeans { .. } => {
                return plan_err!("k-means labels come from the features, not from scores");
            }
        };
        Ok(Labels { names, of })
    }

    /// The labels of the customers present at a cutoff, with the fitted model for `kmeans`.
    pub fn labels(&self, data: &CutoffData, values: &RfmValues) -> Result<(Labels, Option<FittedKMeans>)> {
        match self.labeller {
            Labeller::KMeans { k, seed } => {
                let (model, of) = fit_kmeans(data, values, k, seed, self.lookback_days.is_some())?;
                let names = model.clusters().iter().map(|c| c.name.clone()).collect();
                Ok((Labels { names, of }, Some(model)))
            }
            _ => Ok((self.labels_from_scores(&self.scores(values)?)?, None)),
        }
    }
}

/// The default k-means features ([`Feature::rfm`]); with a lookback window the frequency
/// feature is `log1p(frequency)`, defined for dormant customers.
pub fn kmeans_features(lookback: bool) -> Vec<Feature> {
    let mut features = Feature::rfm();
    if lookback {
        features[1] = Feature::new("frequency", FeatureRole::Frequency, FeatureTransform::Log1p);
    }
    features
}

/// Fits k-means on the present customers (customer-id order) and returns the model and each
/// customer's cluster.
pub fn fit_kmeans(
    data: &CutoffData,
    values: &RfmValues,
    k: usize,
    seed: u64,
    lookback: bool,
) -> Result<(FittedKMeans, Vec<u32>)> {
    if data.is_empty() {
        return plan_err!("k-means: no customer is present at the cutoff");
    }
    let x = FeatureMatrix::from_columns(
        kmeans_features(lookback),
        &[&values.recency, &values.frequency, &values.monetary],
    )
    .map_err(|e| DataFusionError::Execution(format!("k-means features: {e}")))?;
    let k = k.min(data.len());
    KMeans::new(k)
        .seed(seed)
        .fit_predict(&x)
        .map_err(|e| DataFusionError::Execution(format!("k-means: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfm::{Direction, SchemeRegistry};

    fn seg(labeller: Labeller, bins: u8, method: ScoreMethod) -> Segmentation {
        Segmentation {
            labeller,
            r: ScoreSpec::new(bins, Direction::Lower, method),
            f: ScoreSpec::new(bins, Direction::Higher, method),
            m: ScoreSpec::new(bins, Direction::Higher, method),
            lookback_days: None,
            monetary: Monetary::Sum,
        }
    }

    #[test]
    fn labellers_without_rules() {
        let s = Scores {
            r: vec![5, 1, 3],
            f: vec![4, 1, 3],
            m: vec![5, 2, 1],
        };
        let names = |seg: &Segmentation| {
            let l = seg.labels_from_scores(&s).unwrap();
            l.of.iter().map(|i| l.names[*i as usize].clone()).collect::<Vec<_>>()
        };
        assert_eq!(
            names(&seg(Labeller::Cell, 5, ScoreMethod::Quantile)),
            ["545", "112", "331"]
        );
        assert_eq!(names(&seg(Labeller::Total, 5, ScoreMethod::Quantile)), ["14", "4", "7"]);
        assert_eq!(
            names(&seg(Labeller::Recency, 5, ScoreMethod::Quantile)),
            ["R5", "R1", "R3"]
        );
        let grid = Labeller::Scheme(SchemeRegistry::new().get("rf_grid").unwrap());
        assert_eq!(
            names(&seg(grid, 5, ScoreMethod::Quantile)),
            ["champions", "hibernating", "need_attention"]
        );
        let bad = Labeller::Scheme(SchemeRegistry::new().get("rf_grid").unwrap());
        assert!(seg(bad, 4, ScoreMethod::Quantile).validate().is_err());
    }
}
