//! Per-customer feature matrices for clustering, and their standardisation.
//!
//! A [`FeatureMatrix`] is built from raw columns (recency in days, order counts, spend, or any
//! other per-customer number) and a [`Feature`] description of each column: its name, its
//! [`FeatureRole`] (which the cluster names read) and the [`FeatureTransform`] applied to the
//! raw value (`ln`, `log1p`, ...). The fitted model keeps the descriptions, so scoring a new
//! customer takes the same raw values as fitting.
//!
//! [`Standardizer`] maps each feature to mean 0 and population standard deviation 1. Its
//! means and deviations are compensated sums (Knuth's TwoSum error terms accumulated beside the
//! sum), taken in row order within fixed chunks of rows whose partials are added in chunk
//! order: the same bits on every run, thread count and machine for rows given in the same
//! order.

use serde::{Deserialize, Serialize};

use super::lloyd::{CHUNK, map_parallel};
use crate::ModelError;

/// What a feature measures. The automatic cluster names ([`super::FittedKMeans::clusters`])
/// read the recency, frequency and monetary features; [`FeatureRole::Other`] features take
/// part in the clustering and are named by their column name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureRole {
    /// Days (or another time) since the last purchase: smaller is better.
    Recency,
    /// Number of orders: larger is better.
    Frequency,
    /// Spend: larger is better.
    Monetary,
    /// Any other feature.
    Other,
}

/// How a raw value becomes a feature. The logarithms are the `libm` crate's (a port of musl's),
/// not the platform's, so that features are the same bits on every machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureTransform {
    /// The value as given (any finite number).
    Identity,
    /// `ln(x)`, for `x > 0`.
    Ln,
    /// `ln(1 + x)`, for `x ≥ 0`.
    Log1p,
    /// `ln(1 + max(x, 0))`: a negative value (net refunds exceeding purchases) counts as 0.
    /// This is a policy, and the clamped rows are counted ([`FeatureMatrix::clamped`]).
    Log1pClamped,
}

impl FeatureTransform {
    /// The feature value of raw value `x`, and whether `x` was clamped; `Err(reason)` for a
    /// value outside the transform's domain (NaN and infinities included).
    fn apply(self, x: f64) -> Result<(f64, bool), &'static str> {
        if !x.is_finite() {
            return Err("expected a finite number");
        }
        match self {
            FeatureTransform::Identity => Ok((x, false)),
            FeatureTransform::Ln if x > 0.0 => Ok((libm::log(x), false)),
            FeatureTransform::Ln => Err("ln needs a value > 0"),
            FeatureTransform::Log1p if x >= 0.0 => Ok((libm::log1p(x), false)),
            FeatureTransform::Log1p => Err("log1p needs a value >= 0"),
            FeatureTransform::Log1pClamped => Ok((libm::log1p(x.max(0.0)), x < 0.0)),
        }
    }

    /// The raw value whose feature value is `y` (`exp`, `expm1`, ...): a centroid in raw
    /// units. For a log transform this is a geometric-type mean of the cluster's raw values,
    /// not their arithmetic mean.
    pub fn invert(self, y: f64) -> f64 {
        match self {
            FeatureTransform::Identity => y,
            FeatureTransform::Ln => libm::exp(y),
            FeatureTransform::Log1p | FeatureTransform::Log1pClamped => libm::expm1(y),
        }
    }
}

/// One feature column: name, role and transform.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Feature {
    /// Column name (used in errors and cluster names).
    pub name: String,
    /// What the feature measures.
    pub role: FeatureRole,
    /// Raw value → feature value.
    pub transform: FeatureTransform,
}

impl Feature {
    /// A feature description.
    pub fn new(name: impl Into<String>, role: FeatureRole, transform: FeatureTransform) -> Self {
        Self {
            name: name.into(),
            role,
            transform,
        }
    }

    /// The default features of issue 18: `log1p(recency_days)`, `ln(frequency)`,
    /// `log1p(max(monetary, 0))`.
    pub fn rfm() -> Vec<Feature> {
        vec![
            Feature::new("recency_days", FeatureRole::Recency, FeatureTransform::Log1p),
            Feature::new("frequency", FeatureRole::Frequency, FeatureTransform::Ln),
            Feature::new("monetary", FeatureRole::Monetary, FeatureTransform::Log1pClamped),
        ]
    }

    /// This feature's value of raw value `x` (with the row index for the error).
    pub(crate) fn value(&self, row: usize, x: f64) -> Result<(f64, bool), ModelError> {
        self.transform.apply(x).map_err(|reason| ModelError::InvalidFeature {
            row,
            feature: self.name.clone(),
            value: x,
            reason,
        })
    }
}

/// A dense row-major matrix of feature values (one row per customer), built from raw
/// columns by their [`Feature`] transforms.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    features: Vec<Feature>,
    values: Vec<f64>,
    rows: usize,
    clamped: Vec<usize>,
}

impl FeatureMatrix {
    /// Applies each feature's transform to its raw column (`columns[j]` holds the raw values of
    /// `features[j]`, one per customer).
    ///
    /// # Errors
    /// [`ModelError::EmptyInput`] without features; [`ModelError::LengthMismatch`] for a
    /// column count or length that differs; [`ModelError::InvalidFeature`] (naming the row and
    /// the feature) for a value outside its transform's domain.
    pub fn from_columns(features: Vec<Feature>, columns: &[&[f64]]) -> Result<Self, ModelError> {
        let d = features.len();
        if d == 0 {
            return Err(ModelError::EmptyInput);
        }
        if columns.len() != d {
            return Err(ModelError::LengthMismatch {
                field: "columns (one per feature)",
                expected: d,
                found: columns.len(),
            });
        }
        let rows = columns[0].len();
        for c in columns {
            if c.len() != rows {
                return Err(ModelError::LengthMismatch {
                    field: "feature column",
                    expected: rows,
                    found: c.len(),
                });
            }
        }
        let mut values = vec![0.0; rows * d];
        let mut clamped = vec![0; d];
        for (j, (f, column)) in features.iter().zip(columns).enumerate() {
            for (i, &x) in column.iter().enumerate() {
                let (v, c) = f.value(i, x)?;
                values[i * d + j] = v;
                clamped[j] += usize::from(c);
            }
        }
        Ok(Self {
            features,
            values,
            rows,
            clamped,
        })
    }

    /// The default RFM features ([`Feature::rfm`]) of per-customer `recency_days`
    /// (as-of date − last purchase date, ≥ 0), `frequency` (orders, ≥ 1: `ln 0` is undefined,
    /// so a customer without orders in the window is an error here) and `monetary` (total
    /// spend; negative totals count as 0).
    pub fn rfm(recency_days: &[f64], frequency: &[f64], monetary: &[f64]) -> Result<Self, ModelError> {
        Self::from_columns(Feature::rfm(), &[recency_days, frequency, monetary])
    }

    /// The feature descriptions.
    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    /// Number of rows (customers).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of features (columns).
    pub fn n_features(&self) -> usize {
        self.features.len()
    }

    /// Row-major values: row `i` is `values()[i * d .. (i + 1) * d]`.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Row `i`'s feature values.
    pub fn row(&self, i: usize) -> &[f64] {
        let d = self.n_features();
        &self.values[i * d..(i + 1) * d]
    }

    /// Per feature, the rows whose raw value was clamped by [`FeatureTransform::Log1pClamped`].
    pub fn clamped(&self) -> &[usize] {
        &self.clamped
    }
}

/// A compensated sum: each addition's rounding error, computed exactly by Knuth's branch-free
/// TwoSum (TAOCP vol. 2, §4.2.2), is accumulated beside the sum (as in Neumaier 1974). The
/// error does not grow with the number of terms; the result depends only on the terms and
/// their order.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CompensatedSum {
    sum: f64,
    compensation: f64,
}

impl CompensatedSum {
    #[inline]
    pub(crate) fn add(&mut self, x: f64) {
        let t = self.sum + x;
        let x_part = t - self.sum;
        let error = (self.sum - (t - x_part)) + (x - x_part);
        self.compensation += error;
        self.sum = t;
    }

    /// Adds another partial sum (its sum, then its compensation).
    pub(crate) fn merge(&mut self, other: CompensatedSum) {
        self.add(other.sum);
        self.compensation += other.compensation;
    }

    pub(crate) fn value(self) -> f64 {
        self.sum + self.compensation
    }
}

/// Each feature to mean 0 and population standard deviation 1: `z = (x − mean) / sd`.
///
/// A constant feature (sd = 0) is only centred (divided by 1, as scikit-learn's
/// `StandardScaler` does): it becomes 0 for every row and takes no part in the distances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Mean of each feature.
    pub mean: Vec<f64>,
    /// Population standard deviation of each feature (`sqrt(Σ (x − mean)² / n)`).
    pub sd: Vec<f64>,
}

impl Standardizer {
    /// Means and population standard deviations of `x`'s columns: two passes of compensated
    /// sums in row order (the mean, then the squared deviations from it).
    ///
    /// # Errors
    /// [`ModelError::EmptyInput`] for a matrix without rows.
    pub fn fit(x: &FeatureMatrix) -> Result<Self, ModelError> {
        Self::fit_values(x.values(), x.rows(), x.n_features(), crate::cores())
    }

    pub(crate) fn fit_values(values: &[f64], rows: usize, d: usize, threads: usize) -> Result<Self, ModelError> {
        if rows == 0 {
            return Err(ModelError::EmptyInput);
        }
        let n = rows as f64;
        // Σ f(row) per feature: compensated partials per chunk, added in chunk order.
        let column_sums = |f: &(dyn Fn(usize, f64) -> f64 + Sync)| -> Vec<f64> {
            let parts = map_parallel(values.chunks(CHUNK * d).collect(), threads, |piece: &[f64]| {
                let mut sums = vec![CompensatedSum::default(); d];
                for row in piece.chunks_exact(d) {
                    for (j, (s, &v)) in sums.iter_mut().zip(row).enumerate() {
                        s.add(f(j, v));
                    }
                }
                sums
            });
            let mut total = vec![CompensatedSum::default(); d];
            for part in parts {
                for (t, p) in total.iter_mut().zip(part) {
                    t.merge(p);
                }
            }
            total.into_iter().map(CompensatedSum::value).collect()
        };
        let mean: Vec<f64> = column_sums(&|_, v| v).into_iter().map(|s| s / n).collect();
        let sd = column_sums(&|j, v| (v - mean[j]) * (v - mean[j]))
            .into_iter()
            .map(|s| (s / n).sqrt())
            .collect();
        let out = Self { mean, sd };
        out.validate(d)?;
        Ok(out)
    }

    /// Checks dimensions and values (of a deserialized transform).
    pub(crate) fn validate(&self, d: usize) -> Result<(), ModelError> {
        for (field, v) in [("mean", &self.mean), ("sd", &self.sd)] {
            if v.len() != d {
                return Err(ModelError::LengthMismatch {
                    field,
                    expected: d,
                    found: v.len(),
                });
            }
        }
        for j in 0..d {
            if !self.mean[j].is_finite() {
                return Err(ModelError::NumericalFailure {
                    context: "feature mean (overflow)",
                });
            }
            if !(self.sd[j].is_finite() && self.sd[j] >= 0.0) {
                return Err(ModelError::NumericalFailure {
                    context: "feature standard deviation (overflow)",
                });
            }
        }
        Ok(())
    }

    /// The divisor of feature `j`: its sd, or 1 for a constant feature.
    #[inline]
    pub fn scale(&self, j: usize) -> f64 {
        if self.sd[j] > 0.0 { self.sd[j] } else { 1.0 }
    }

    /// `out[j] = (row[j] − mean[j]) / scale(j)`.
    #[inline]
    pub fn standardize_row(&self, row: &[f64], out: &mut [f64]) {
        for j in 0..row.len() {
            out[j] = (row[j] - self.mean[j]) / self.scale(j);
        }
    }

    /// `out[j] = mean[j] + z[j] · scale(j)`: back to feature units.
    #[inline]
    pub fn unstandardize_row(&self, z: &[f64], out: &mut [f64]) {
        for j in 0..z.len() {
            out[j] = self.mean[j] + z[j] * self.scale(j);
        }
    }

    /// Every row of `x` standardised (row-major, as [`FeatureMatrix::values`]).
    pub fn transform(&self, x: &FeatureMatrix) -> Vec<f64> {
        self.transform_values(x.values(), x.n_features(), crate::cores())
    }

    pub(crate) fn transform_values(&self, values: &[f64], d: usize, threads: usize) -> Vec<f64> {
        let mut out = vec![0.0; values.len()];
        let pieces: Vec<_> = values.chunks(CHUNK * d).zip(out.chunks_mut(CHUNK * d)).collect();
        map_parallel(pieces, threads, |(piece, o)| {
            for (row, z) in piece.chunks_exact(d).zip(o.chunks_exact_mut(d)) {
                self.standardize_row(row, z);
            }
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms_and_their_domains() {
        let m = FeatureMatrix::rfm(&[0.0, 9.0], &[1.0, 4.0], &[-5.0, 99.0]).unwrap();
        assert_eq!(m.rows(), 2);
        assert_eq!(m.row(0), &[0.0, 0.0, 0.0]);
        assert_eq!(m.row(1), &[libm::log(10.0), libm::log(4.0), libm::log(100.0)]);
        assert_eq!(m.clamped(), &[0, 0, 1]);
        let err = FeatureMatrix::rfm(&[1.0, 2.0], &[1.0, 0.0], &[1.0, 1.0]).unwrap_err();
        assert_eq!(
            err,
            ModelError::InvalidFeature {
                row: 1,
                feature: "frequency".into(),
                value: 0.0,
                reason: "ln needs a value > 0"
            }
        );
        assert!(err.to_string().contains("row 2") && err.to_string().contains("frequency"));
        let err = FeatureMatrix::rfm(&[-1.0], &[1.0], &[1.0]).unwrap_err();
        assert!(matches!(err, ModelError::InvalidFeature { row: 0, ref feature, .. } if feature == "recency_days"));
        let err = FeatureMatrix::rfm(&[1.0], &[1.0], &[f64::NAN]).unwrap_err();
        assert!(matches!(
            err,
            ModelError::InvalidFeature {
                reason: "expected a finite number",
                ..
            }
        ));
        let err = FeatureMatrix::rfm(&[1.0], &[1.0, 2.0], &[1.0]).unwrap_err();
        assert!(matches!(err, ModelError::LengthMismatch { .. }));
        for t in [
            FeatureTransform::Identity,
            FeatureTransform::Ln,
            FeatureTransform::Log1p,
            FeatureTransform::Log1pClamped,
        ] {
            let (y, _) = t.apply(7.25).unwrap();
            assert!((t.invert(y) - 7.25).abs() < 1e-12);
        }
    }

    #[test]
    fn standardizer_matches_hand_computation() {
        // Column 0: 1, 2, 3, 6 → mean 3, population variance (4 + 1 + 0 + 9) / 4 = 3.5.
        // Column 1 is constant: centred, divided by 1.
        let x = FeatureMatrix::from_columns(
            vec![
                Feature::new("a", FeatureRole::Other, FeatureTransform::Identity),
                Feature::new("b", FeatureRole::Other, FeatureTransform::Identity),
            ],
            &[&[1.0, 2.0, 3.0, 6.0], &[5.0; 4]],
        )
        .unwrap();
        let s = Standardizer::fit(&x).unwrap();
        assert_eq!(s.mean, vec![3.0, 5.0]);
        assert_eq!(s.sd, vec![3.5f64.sqrt(), 0.0]);
        let z = s.transform(&x);
        assert_eq!(z[0], -2.0 / 3.5f64.sqrt());
        assert_eq!(z[1], 0.0);
        let mut back = [0.0; 2];
        s.unstandardize_row(&z[6..8], &mut back);
        assert!((back[0] - 6.0).abs() < 1e-15 && back[1] == 5.0);
        assert_eq!(
            Standardizer::fit_values(&[], 0, 2, 1).unwrap_err(),
            ModelError::EmptyInput
        );
    }

    #[test]
    fn compensated_sum_is_exact_where_naive_is_not() {
        let mut s = CompensatedSum::default();
        let mut naive = 0.0;
        for x in [1e16, 1.0, -1e16, 1.0] {
            s.add(x);
            naive += x;
        }
        assert_eq!(s.value(), 2.0);
        assert_ne!(naive, 2.0);
    }
}
