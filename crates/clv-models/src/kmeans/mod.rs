//! K-means clustering of customers (issue 18, item 4).
//!
//! ```
//! use clv_models::kmeans::{FeatureMatrix, KMeans};
//! // recency_days, frequency (orders), monetary (total spend), one row per customer
//! let r = [3.0, 5.0, 200.0, 310.0, 8.0, 250.0];
//! let f = [12.0, 9.0, 1.0, 1.0, 15.0, 2.0];
//! let m = [900.0, 700.0, 20.0, 15.0, 1200.0, 40.0];
//! let x = FeatureMatrix::rfm(&r, &f, &m)?;
//! let model = KMeans::new(2).fit(&x)?;
//! assert_eq!(model.clusters()[0].name, "recent, frequent, high spend");
//! assert_eq!(model.assign(&[4.0, 10.0, 1000.0])?, 0);
//! # Ok::<(), clv_models::ModelError>(())
//! ```
//!
//! # Model
//! Rows are customers, columns features ([`FeatureMatrix`]: by default `log1p(recency_days)`,
//! `ln(frequency)`, `log1p(max(monetary, 0))`), each standardised to mean 0 and population
//! standard deviation 1 ([`Standardizer`]). K-means minimises the inertia
//! `Σ_i min_j ‖x_i − c_j‖²` (Lloyd 1982; MacQueen 1967).
//!
//! # Algorithm ([`KMeans::fit`])
//! 1. **Starts.** `n_init` starts (default 10), each seeded by greedy k-means++ (Arthur &
//!    Vassilvitskii 2007: `2 + ⌊ln k⌋` candidates per centre, the one leaving the smallest
//!    potential kept) and iterated to convergence by Lloyd's algorithm with Hamerly's (2010)
//!    bounds; the lowest inertia is kept (ties: the lower start). Starts run in parallel.
//!    With more than `start_rows` rows (default 25,000) the starts run on a seeded uniform
//!    sample of `start_rows` rows (they only choose the basin), and the `refine` (default 1)
//!    starts with the lowest sample inertia are iterated again on all rows from their sample
//!    centroids; the run with the lowest inertia over all rows is kept. On 1M generated
//!    customers this is as good as scikit-learn's 10 starts on all rows (see
//!    `examples/kmeans_speed.py`) at a fraction of the cost.
//! 2. **Convergence** (as scikit-learn): an iteration assigns every row to its nearest centre
//!    and moves each centre to the mean of its rows; the run stops when no row changes cluster
//!    or when `Σ_j ‖c_j(new) − c_j(old)‖² ≤ tol · (mean feature variance)`, with `tol = 1e-4`,
//!    or after `max_iter = 300` iterations ([`KMeansReport::converged`] says which).
//! 3. **Empty clusters** (scikit-learn's policy): a cluster left without rows takes the row
//!    farthest from its centre (among clusters keeping another row; ties: the lowest row), and
//!    is counted in [`KMeansReport::relocations`].
//! 4. **Order and names.** Clusters are numbered by value: descending
//!    `Σ_j sign_j · z_j` over the centroid's standardised coordinates `z`, with sign −1 for
//!    recency, +1 for frequency and monetary, 0 for other features (ties: lexicographic
//!    centroid). Cluster 0 is the most valuable. Each gets a name from its levels
//!    ([`names`]). The final labels, sizes and inertia are those of a nearest-centroid pass
//!    over the ordered centroids (the first nearest on ties): exactly what
//!    [`FittedKMeans::assign`] returns for each row.
//!
//! # Determinism
//! The pseudo-random numbers are SplitMix64 streams written out in this crate (`rng`), so a
//! seed ([`KMeans::DEFAULT_SEED`] = 0) means the same numbers on every platform and crate
//! version. Sums (standardisation, centroids, inertia) are taken in row order within fixed
//! chunks of 4,096 rows and the chunk partials are added in chunk order; each start is
//! computed on one thread; so the result is bit for bit the same for any thread count. It is
//! the same for any partitioning or original row order when the caller passes the rows in a
//! canonical order (the SQL layer sorts by customer id).
//!
//! # Scoring
//! [`FittedKMeans::assign`] takes one customer's raw values (as given to
//! [`FeatureMatrix::from_columns`]), applies the model's transforms and standardisation and
//! returns the nearest centroid (the first on ties). The fitted model serialises to JSON with
//! `"kind": "kmeans"`.

mod diagnostics;
mod features;
mod lloyd;
pub mod names;
mod rng;
mod seeding;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

pub use diagnostics::{KDiagnostic, Silhouette};
pub use features::{Feature, FeatureMatrix, FeatureRole, FeatureTransform, Standardizer};

use crate::{FORMAT_VERSION, ModelError, ModelKind};
use lloyd::{CHUNK, LloydParams, LloydRun, label_pass, lloyd, map_parallel, nearest};
use rng::{Rng, STREAM_SILHOUETTE, STREAM_START, STREAM_START_SAMPLE};

/// K-means fitter (builder) with documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    k: usize,
    n_init: usize,
    max_iter: usize,
    tol: f64,
    seed: u64,
    standardize: bool,
    start_rows: usize,
    refine: usize,
    threads: usize,
}

impl KMeans {
    /// The seed of the pseudo-random numbers unless [`KMeans::seed`] sets another.
    pub const DEFAULT_SEED: u64 = 0;

    /// `k` clusters; defaults: `n_init = 10`, `max_iter = 300`, `tol = 1e-4`, seed
    /// [`KMeans::DEFAULT_SEED`], standardised features, `start_rows = 25_000`, `refine = 1`,
    /// all cores.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            n_init: 10,
            max_iter: 300,
            tol: 1e-4,
            seed: Self::DEFAULT_SEED,
            standardize: true,
            start_rows: 25_000,
            refine: 1,
            threads: 0,
        }
    }

    /// Number of clusters.
    pub fn k(mut self, k: usize) -> Self {
        self.k = k;
        self
    }

    /// Number of seeded starts (the lowest inertia is kept).
    pub fn n_init(mut self, n_init: usize) -> Self {
        self.n_init = n_init;
        self
    }

    /// Maximum Lloyd iterations per run.
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }

    /// Convergence tolerance, relative to the mean feature variance (scikit-learn's `tol`).
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }

    /// Seed of the starts and of the start sample.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Whether features are standardised before clustering (default true). Without it the
    /// features are clustered in their own units (the names still read standardised levels).
    pub fn standardize(mut self, standardize: bool) -> Self {
        self.standardize = standardize;
        self
    }

    /// Above this many rows the starts run on a seeded sample of this many rows.
    pub fn start_rows(mut self, rows: usize) -> Self {
        self.start_rows = rows;
        self
    }

    /// How many of the best sampled starts are iterated again on all rows.
    pub fn refine(mut self, refine: usize) -> Self {
        self.refine = refine;
        self
    }

    /// Threads (0: all cores). The result does not depend on it.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    fn check(&self, rows: usize) -> Result<(), ModelError> {
        let positive = |name: &'static str, v: usize| {
            if v == 0 {
                Err(ModelError::InvalidArgument {
                    name,
                    value: 0.0,
                    reason: "must be at least 1",
                })
            } else {
                Ok(())
            }
        };
        positive("k", self.k)?;
        positive("n_init", self.n_init)?;
        positive("max_iter", self.max_iter)?;
        positive("start_rows", self.start_rows)?;
        positive("refine", self.refine)?;
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(ModelError::InvalidArgument {
                name: "tol",
                value: self.tol,
                reason: "must be finite and >= 0",
            });
        }
        if rows == 0 {
            return Err(ModelError::EmptyInput);
        }
        if self.k > rows {
            return Err(ModelError::InvalidArgument {
                name: "k",
                value: self.k as f64,
                reason: "more clusters than rows",
            });
        }
        Ok(())
    }

    fn thread_count(&self) -> usize {
        if self.threads == 0 {
            crate::cores()
        } else {
            self.threads
        }
    }

    /// Fits the model (see the [module documentation](self)).
    ///
    /// # Errors
    /// [`ModelError::EmptyInput`] without rows; [`ModelError::InvalidArgument`] for a zero
    /// option, a negative `tol`, or `k` above the number of rows or of distinct rows;
    /// [`ModelError::NumericalFailure`] if a sum overflows (only possible without
    /// standardisation, for values near `1e154`).
    pub fn fit(&self, x: &FeatureMatrix) -> Result<FittedKMeans, ModelError> {
        self.fit_predict(x).map(|(model, _)| model)
    }

    /// [`KMeans::fit`], also returning each row's cluster (equal to [`FittedKMeans::assign`]
    /// of the row).
    pub fn fit_predict(&self, x: &FeatureMatrix) -> Result<(FittedKMeans, Vec<u32>), ModelError> {
        let (n, d, k) = (x.rows(), x.n_features(), self.k);
        self.check(n)?;
        let threads = self.thread_count();
        let standardizer = Standardizer::fit_values(x.values(), n, d, threads)?;
        let data: Cow<[f64]> = if self.standardize {
            Cow::Owned(standardizer.transform_values(x.values(), d, threads))
        } else {
            Cow::Borrowed(x.values())
        };
        // scikit-learn's tolerance: tol × the mean variance of the clustered features.
        let variance: f64 = (0..d)
            .map(|j| match (self.standardize, standardizer.sd[j] > 0.0) {
                (true, true) => 1.0,
                (true, false) => 0.0,
                (false, _) => standardizer.sd[j] * standardizer.sd[j],
            })
            .sum::<f64>()
            / d as f64;
        let params = LloydParams {
            k,
            max_iter: self.max_iter,
            tol: self.tol * variance,
            threads,
        };

        let sample = (n > self.start_rows).then(|| {
            let rows = Rng::stream(self.seed, STREAM_START_SAMPLE).sample_rows(n, self.start_rows);
            let mut s = Vec::with_capacity(rows.len() * d);
            for &i in &rows {
                s.extend_from_slice(&data[i * d..(i + 1) * d]);
            }
            s
        });
        // A sample with fewer distinct rows than k (but not the data) falls back to all rows.
        let (starts, sampled) = match sample.as_deref().map(|s| self.run_starts(s, d, &params)) {
            Some(Ok(runs)) => (runs, true),
            _ => {
                let runs = self
                    .run_starts(&data, d, &params)
                    .map_err(|_| ModelError::InvalidArgument {
                        name: "k",
                        value: k as f64,
                        reason: "more clusters than distinct rows",
                    })?;
                (runs, false)
            }
        };
        let start_reports: Vec<StartReport> = starts
            .iter()
            .map(|r| StartReport {
                inertia: r.labelled.inertia,
                iterations: r.iterations,
                converged: r.converged,
            })
            .collect();
        let mut ranked: Vec<usize> = (0..starts.len()).collect();
        ranked.sort_by(|&a, &b| {
            let (ia, ib) = (starts[a].labelled.inertia, starts[b].labelled.inertia);
            ia.total_cmp(&ib).then(a.cmp(&b))
        });
        let mut relocations = starts.iter().map(|r| r.relocations).sum::<usize>();
        let (best_start, best) = if sampled {
            let mut refined: Vec<(usize, LloydRun)> = ranked
                .iter()
                .take(self.refine)
                .map(|&s| (s, lloyd(&data, d, starts[s].centres.clone(), &params)))
                .collect();
            relocations += refined.iter().map(|r| r.1.relocations).sum::<usize>();
            // The lowest inertia over all rows; ties: the better-ranked start.
            let mut pick = 0;
            for c in 1..refined.len() {
                if refined[c].1.labelled.inertia < refined[pick].1.labelled.inertia {
                    pick = c;
                }
            }
            refined.swap_remove(pick)
        } else {
            let s = ranked[0];
            let mut starts = starts;
            (s, starts.swap_remove(s))
        };

        // Number the clusters by value, then label every row against the ordered centroids.
        let z: Vec<f64> = if self.standardize {
            best.centres.clone()
        } else {
            let st = &standardizer;
            best.centres
                .chunks_exact(d)
                .flat_map(|c| (0..d).map(move |j| (c[j] - st.mean[j]) / st.scale(j)))
                .collect()
        };
        let order = value_order(x.features(), &z, &best.centres, k);
        let centroids: Vec<f64> = order
            .iter()
            .flat_map(|&j| best.centres[j * d..(j + 1) * d].to_vec())
            .collect();
        let z_ordered: Vec<f64> = order.iter().flat_map(|&j| z[j * d..(j + 1) * d].to_vec()).collect();
        // The labels of a refined run without exact ties are kept, renumbered. With ties (the
        // first nearest centroid depends on the numbering), and for a start (which kept no
        // labels), label again.
        let labelled = if !sampled || best.labelled.ties {
            label_pass(&data, d, &centroids, k, threads)
        } else {
            let mut rank = vec![0u32; k];
            for (new, &old) in order.iter().enumerate() {
                rank[old] = new as u32;
            }
            let mut l = best.labelled;
            l.labels.iter_mut().for_each(|v| *v = rank[*v as usize]);
            l.sizes = order.iter().map(|&old| l.sizes[old]).collect();
            l
        };
        let (labels, sizes, inertia) = (labelled.labels, labelled.sizes, labelled.inertia);
        if !inertia.is_finite() || centroids.iter().any(|c| !c.is_finite()) {
            return Err(ModelError::NumericalFailure {
                context: "k-means inertia (overflow)",
            });
        }
        let clusters = names::cluster_names(x.features(), &z_ordered)
            .into_iter()
            .zip(&sizes)
            .map(|((name, name_zh), &size)| ClusterProfile { size, name, name_zh })
            .collect();
        let report = KMeansReport {
            rows: n,
            inertia,
            iterations: best.iterations,
            converged: best.converged,
            seed: self.seed,
            tolerance: params.tol,
            start_rows: if sampled { self.start_rows } else { n },
            starts: start_reports,
            best_start,
            relocations,
        };
        let model = FittedKMeans {
            features: x.features().to_vec(),
            standardized: self.standardize,
            standardizer,
            centroids,
            clusters,
            fit: Some(report),
        };
        Ok((model, labels))
    }

    /// `n_init` seeded runs on the rows `x` (centres and inertia, without labels): across
    /// threads when there are several starts, else with the threads inside the run (the same
    /// results either way).
    fn run_starts(
        &self,
        x: &[f64],
        d: usize,
        params: &LloydParams,
    ) -> Result<Vec<LloydRun>, seeding::TooFewDistinctRows> {
        let inner = LloydParams {
            threads: if self.n_init > 1 { 1 } else { params.threads },
            ..*params
        };
        map_parallel((0..self.n_init as u64).collect(), params.threads, |s| {
            let mut rng = Rng::stream(self.seed, STREAM_START + s);
            let centres = seeding::kmeans_plus_plus(x, d, params.k, &mut rng)?;
            let mut run = lloyd(x, d, centres, &inner);
            // Only the centres and the inertia are kept (the labels could be n_init × rows).
            run.labelled.labels = Vec::new();
            Ok(run)
        })
        .into_iter()
        .collect()
    }

    /// Inertia (elbow) and silhouette for each `k` in `ks`: one fit per `k` with this
    /// builder's other options; the silhouette on a sample of `silhouette_rows` rows drawn
    /// with this builder's seed (see [`FittedKMeans::silhouette`]).
    pub fn diagnose(
        &self,
        x: &FeatureMatrix,
        ks: &[usize],
        silhouette_rows: usize,
    ) -> Result<Vec<KDiagnostic>, ModelError> {
        ks.iter()
            .map(|&k| {
                let model = self.clone().k(k).fit(x)?;
                let report = model.fit.clone().ok_or(ModelError::NumericalFailure {
                    context: "k-means fit report",
                })?;
                let silhouette = if k > 1 {
                    Some(model.silhouette(x, silhouette_rows, self.seed)?)
                } else {
                    None
                };
                Ok(KDiagnostic {
                    k,
                    inertia: report.inertia,
                    silhouette,
                    iterations: report.iterations,
                    converged: report.converged,
                })
            })
            .collect()
    }
}

/// Exact mean silhouette of any grouping of rows (e.g. rule-based segments, compared with a
/// clustering in the same units): `points` row-major `m × d`, `labels[i]` the group of row `i`
/// (any numbering). All `m²` distances: pass a sample of a large table.
///
/// # Errors
/// [`ModelError::LengthMismatch`] when `points` is not `labels.len() × d`;
/// [`ModelError::InvalidArgument`] unless there are between 2 and `m − 1` groups.
pub fn silhouette_score(points: &[f64], d: usize, labels: &[u32]) -> Result<f64, ModelError> {
    if d == 0 || points.len() != labels.len() * d {
        return Err(ModelError::LengthMismatch {
            field: "points (rows × features)",
            expected: labels.len() * d,
            found: points.len(),
        });
    }
    let mut groups = labels.to_vec();
    groups.sort_unstable();
    groups.dedup();
    let dense: Vec<u32> = labels
        .iter()
        .map(|l| groups.binary_search(l).unwrap_or_default() as u32)
        .collect();
    diagnostics::silhouette(points, d, &dense, groups.len(), crate::cores())
}

/// Cluster order by value (see the module documentation): indices of the clusters of
/// `centres`, most valuable first.
fn value_order(features: &[Feature], z: &[f64], centres: &[f64], k: usize) -> Vec<usize> {
    let d = features.len();
    let score = |j: usize| -> f64 {
        features
            .iter()
            .zip(&z[j * d..(j + 1) * d])
            .map(|(f, &v)| names::value_sign(f.role) * v)
            .sum()
    };
    let scores: Vec<f64> = (0..k).map(score).collect();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| {
        scores[b]
            .total_cmp(&scores[a])
            .then_with(|| {
                let (ca, cb) = (&centres[a * d..(a + 1) * d], &centres[b * d..(b + 1) * d]);
                ca.iter()
                    .zip(cb)
                    .map(|(x, y)| x.total_cmp(y))
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .then(a.cmp(&b))
    });
    order
}

/// One run of the starts phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartReport {
    /// Inertia on the rows the start ran on (all rows, or the start sample).
    pub inertia: f64,
    /// Lloyd iterations.
    pub iterations: usize,
    /// Whether the tolerance (or a pass without changes) was reached before `max_iter`.
    pub converged: bool,
}

/// Diagnostics of a fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeansReport {
    /// Rows fitted.
    pub rows: usize,
    /// Σ squared distance of each row to its centroid, in the clustered (standardised) units.
    pub inertia: f64,
    /// Lloyd iterations of the kept run (its refinement on all rows when the starts were
    /// sampled).
    pub iterations: usize,
    /// Whether the kept run converged.
    pub converged: bool,
    /// Seed of the pseudo-random numbers.
    pub seed: u64,
    /// Absolute tolerance on the squared centre shift (`tol` × mean feature variance).
    pub tolerance: f64,
    /// Rows the starts ran on (all rows, or the size of the start sample).
    pub start_rows: usize,
    /// Every start.
    pub starts: Vec<StartReport>,
    /// The start kept (index into `starts`).
    pub best_start: usize,
    /// Empty clusters re-seeded, over all runs.
    pub relocations: usize,
}

/// One cluster of a fitted model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterProfile {
    /// Training rows in the cluster.
    pub size: usize,
    /// English name from the RFM levels ([`names`]).
    pub name: String,
    /// Chinese name.
    pub name_zh: String,
}

/// A fitted k-means model: feature definitions, standardisation, centroids and names.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedKMeans {
    features: Vec<Feature>,
    standardized: bool,
    standardizer: Standardizer,
    /// `k × d`, in the clustered units (standardised when `standardized`).
    centroids: Vec<f64>,
    clusters: Vec<ClusterProfile>,
    fit: Option<KMeansReport>,
}

impl FittedKMeans {
    /// Number of clusters.
    pub fn k(&self) -> usize {
        self.clusters.len()
    }

    /// The feature definitions (what [`FittedKMeans::assign`] expects, in order).
    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    /// The standardisation of the training rows.
    pub fn standardizer(&self) -> &Standardizer {
        &self.standardizer
    }

    /// Whether the features were standardised before clustering.
    pub fn standardized(&self) -> bool {
        self.standardized
    }

    /// The clusters (size, names), cluster 0 the most valuable.
    pub fn clusters(&self) -> &[ClusterProfile] {
        &self.clusters
    }

    /// Fit diagnostics.
    pub fn report(&self) -> Option<&KMeansReport> {
        self.fit.as_ref()
    }

    /// Centroid `j` in the clustered units (standardised when [`FittedKMeans::standardized`]).
    pub fn centroid(&self, j: usize) -> &[f64] {
        let d = self.features.len();
        &self.centroids[j * d..(j + 1) * d]
    }

    /// Centroid `j` in feature units (e.g. `log1p(days)`): the standardisation undone.
    pub fn centroid_in_feature_units(&self, j: usize) -> Vec<f64> {
        let c = self.centroid(j);
        if !self.standardized {
            return c.to_vec();
        }
        let mut out = vec![0.0; c.len()];
        self.standardizer.unstandardize_row(c, &mut out);
        out
    }

    /// Centroid `j` in raw units (days, orders, money): the standardisation and each feature's
    /// transform undone ([`FeatureTransform::invert`]; for log features a geometric-type mean).
    pub fn centroid_in_raw_units(&self, j: usize) -> Vec<f64> {
        self.centroid_in_feature_units(j)
            .iter()
            .zip(&self.features)
            .map(|(&v, f)| f.transform.invert(v))
            .collect()
    }

    /// The nearest centroid of one customer's raw values (one per feature, as given to
    /// [`FeatureMatrix::from_columns`]); the first on ties.
    ///
    /// # Errors
    /// [`ModelError::LengthMismatch`] for a wrong number of values;
    /// [`ModelError::InvalidFeature`] (row 0) for a value outside its transform's domain.
    pub fn assign(&self, raw: &[f64]) -> Result<u32, ModelError> {
        let d = self.features.len();
        if raw.len() != d {
            return Err(ModelError::LengthMismatch {
                field: "feature values",
                expected: d,
                found: raw.len(),
            });
        }
        let mut v = vec![0.0; d];
        for j in 0..d {
            v[j] = self.features[j].value(0, raw[j])?.0;
        }
        Ok(self.nearest_of_features(&v))
    }

    /// The nearest centroid of a row of feature values (transforms already applied).
    fn nearest_of_features(&self, v: &[f64]) -> u32 {
        if self.standardized {
            let mut z = vec![0.0; v.len()];
            self.standardizer.standardize_row(v, &mut z);
            nearest(&z, &self.centroids, self.k()).0 as u32
        } else {
            nearest(v, &self.centroids, self.k()).0 as u32
        }
    }

    fn check_features(&self, x: &FeatureMatrix) -> Result<(), ModelError> {
        if x.n_features() != self.features.len() {
            return Err(ModelError::LengthMismatch {
                field: "features",
                expected: self.features.len(),
                found: x.n_features(),
            });
        }
        match x.features().iter().zip(&self.features).position(|(a, b)| a != b) {
            Some(j) => Err(ModelError::InvalidArgument {
                name: "features",
                value: j as f64,
                reason: "the feature with this index differs from the model's (name, role or transform)",
            }),
            None => Ok(()),
        }
    }

    /// The nearest centroid of every row of `x` (built with the model's [`Feature`]s).
    pub fn assign_matrix(&self, x: &FeatureMatrix) -> Result<Vec<u32>, ModelError> {
        self.check_features(x)?;
        let d = x.n_features();
        let pieces: Vec<&[f64]> = x.values().chunks(CHUNK * d).collect();
        Ok(map_parallel(pieces, crate::cores(), |rows| {
            rows.chunks_exact(d)
                .map(|r| self.nearest_of_features(r))
                .collect::<Vec<u32>>()
        })
        .concat())
    }

    /// Exact silhouette of this model's clusters on a seeded sample of `sample_rows` rows of
    /// `x` (all rows when `x` has fewer): the rows are drawn uniformly without replacement
    /// (SplitMix64 stream of `seed`), labelled by [`FittedKMeans::assign`], and compared in
    /// the clustered units. Cost: `sample_rows²` distances.
    ///
    /// # Errors
    /// [`ModelError::InvalidArgument`] unless the sample holds between 2 and
    /// `sample_rows − 1` clusters; feature mismatches as [`FittedKMeans::assign_matrix`].
    pub fn silhouette(&self, x: &FeatureMatrix, sample_rows: usize, seed: u64) -> Result<Silhouette, ModelError> {
        self.check_features(x)?;
        let d = x.n_features();
        let rows = Rng::stream(seed, STREAM_SILHOUETTE).sample_rows(x.rows(), sample_rows);
        let mut points = Vec::with_capacity(rows.len() * d);
        let mut labels = Vec::with_capacity(rows.len());
        let mut z = vec![0.0; d];
        for &i in &rows {
            let v = x.row(i);
            if self.standardized {
                self.standardizer.standardize_row(v, &mut z);
            } else {
                z.copy_from_slice(v);
            }
            labels.push(nearest(&z, &self.centroids, self.k()).0 as u32);
            points.extend_from_slice(&z);
        }
        let value = diagnostics::silhouette(&points, d, &labels, self.k(), crate::cores())?;
        Ok(Silhouette {
            value,
            rows: rows.len(),
        })
    }

    fn to_repr(&self) -> KMeansRepr {
        let d = self.features.len();
        KMeansRepr {
            kind: ModelKind::KMeans,
            format_version: FORMAT_VERSION,
            features: self.features.clone(),
            standardized: self.standardized,
            standardizer: self.standardizer.clone(),
            centroids: self.centroids.chunks_exact(d).map(<[f64]>::to_vec).collect(),
            clusters: self.clusters.clone(),
            fit: self.fit.clone(),
        }
    }

    fn from_repr(r: KMeansRepr) -> Result<Self, ModelError> {
        if r.format_version != FORMAT_VERSION {
            return Err(ModelError::UnsupportedFormatVersion {
                found: r.format_version,
            });
        }
        let d = r.features.len();
        if d == 0 || r.centroids.is_empty() {
            return Err(ModelError::EmptyInput);
        }
        r.standardizer.validate(d)?;
        if r.clusters.len() != r.centroids.len() {
            return Err(ModelError::LengthMismatch {
                field: "clusters",
                expected: r.centroids.len(),
                found: r.clusters.len(),
            });
        }
        for c in &r.centroids {
            if c.len() != d {
                return Err(ModelError::LengthMismatch {
                    field: "centroid",
                    expected: d,
                    found: c.len(),
                });
            }
            if let Some(&v) = c.iter().find(|v| !v.is_finite()) {
                return Err(ModelError::InvalidParameter {
                    name: "centroid",
                    value: v,
                });
            }
        }
        Ok(Self {
            features: r.features,
            standardized: r.standardized,
            standardizer: r.standardizer,
            centroids: r.centroids.concat(),
            clusters: r.clusters,
            fit: r.fit,
        })
    }
}

/// Serialized form of [`FittedKMeans`].
#[derive(Serialize, Deserialize)]
struct KMeansRepr {
    /// Checked as soon as it is read (it is written first), so that another model's file fails
    /// with [`ModelError::WrongModelKind`] rather than a missing field.
    #[serde(deserialize_with = "kmeans_kind")]
    kind: ModelKind,
    format_version: u32,
    features: Vec<Feature>,
    standardized: bool,
    standardizer: Standardizer,
    centroids: Vec<Vec<f64>>,
    clusters: Vec<ClusterProfile>,
    #[serde(default)]
    fit: Option<KMeansReport>,
}

fn kmeans_kind<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ModelKind, D::Error> {
    let kind = ModelKind::deserialize(d)?;
    kind.ensure(ModelKind::KMeans).map_err(serde::de::Error::custom)?;
    Ok(kind)
}

impl Serialize for FittedKMeans {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_repr().serialize(s)
    }
}

impl<'de> Deserialize<'de> for FittedKMeans {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        FittedKMeans::from_repr(KMeansRepr::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two well-separated groups of three customers, plus one feature without a role.
    fn small() -> FeatureMatrix {
        FeatureMatrix::from_columns(
            vec![
                Feature::new("recency_days", FeatureRole::Recency, FeatureTransform::Identity),
                Feature::new("visits", FeatureRole::Other, FeatureTransform::Identity),
            ],
            &[
                &[1.0, 2.0, 3.0, 300.0, 310.0, 320.0],
                &[50.0, 52.0, 54.0, 5.0, 6.0, 7.0],
            ],
        )
        .unwrap()
    }

    #[test]
    fn unstandardised_fit_keeps_feature_units() {
        let x = small();
        let (model, labels) = KMeans::new(2).standardize(false).fit_predict(&x).unwrap();
        assert!(!model.standardized());
        // Cluster 0 has the smaller recency (value order); centroids are plain means.
        assert_eq!(labels, vec![0, 0, 0, 1, 1, 1]);
        assert_eq!(model.centroid(0), &[2.0, 52.0]);
        assert_eq!(model.centroid_in_feature_units(1), vec![310.0, 6.0]);
        assert_eq!(model.centroid_in_raw_units(1), vec![310.0, 6.0]);
        // Inertia: (1 + 0 + 1)(recency) + (4 + 0 + 4)(visits) + (100 + 0 + 100) + (1 + 0 + 1).
        assert_eq!(model.report().unwrap().inertia, 212.0);
        assert_eq!(model.clusters()[0].name, "recent, high visits");
        assert_eq!(model.clusters()[1].name_zh, "久未消费、visits低");
        let json = serde_json::to_string(&model).unwrap();
        assert_eq!(serde_json::from_str::<FittedKMeans>(&json).unwrap(), model);
    }

    #[test]
    fn options_are_checked() {
        let x = small();
        for (b, name) in [
            (KMeans::new(2).n_init(0), "n_init"),
            (KMeans::new(2).max_iter(0), "max_iter"),
            (KMeans::new(2).start_rows(0), "start_rows"),
            (KMeans::new(2).refine(0), "refine"),
            (KMeans::new(2).tol(-1.0), "tol"),
            (KMeans::new(7), "k"),
        ] {
            match b.fit(&x) {
                Err(ModelError::InvalidArgument { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{name}: {other:?}"),
            }
        }
        // Features that differ from the model's are refused.
        let model = KMeans::new(2).fit(&x).unwrap();
        let rfm = FeatureMatrix::rfm(&[1.0], &[1.0], &[1.0]).unwrap();
        assert!(matches!(
            model.assign_matrix(&rfm),
            Err(ModelError::LengthMismatch { .. })
        ));
        let renamed = FeatureMatrix::from_columns(
            vec![
                Feature::new("recency_days", FeatureRole::Recency, FeatureTransform::Identity),
                Feature::new("orders", FeatureRole::Other, FeatureTransform::Identity),
            ],
            &[&[1.0], &[1.0]],
        )
        .unwrap();
        assert!(matches!(
            model.assign_matrix(&renamed),
            Err(ModelError::InvalidArgument { .. })
        ));
    }
}
