//! L2-regularised logistic regression on standardised features: the trained churn model.
//!
//! # Model and objective
//!
//! For rows `i` with features `x_ij`, label `y_i ∈ {0, 1}` (1 = churned) and weight `w_i > 0`
//! (1 when not given), `W = Σ w_i`:
//!
//! * standardisation: `z_ij = (x_ij − m_j)/s_j` with the weighted mean `m_j = Σ w_i x_ij / W`
//!   and the weighted population standard deviation `s_j = √(Σ w_i (x_ij − m_j)² / W)`
//!   (`s_j = 1` for a constant column, whose coefficient is then 0);
//! * `P(y = 1 | x) = σ(η)`, `η = β_0 + Σ_j β_j z_ij`, `σ(η) = 1/(1 + e^{−η})`;
//! * the fit minimises the mean weighted log-loss plus a ridge penalty on the standardised
//!   coefficients (not the intercept):
//!
//!   `J(β) = (1/W) Σ_i w_i [softplus(η_i) − y_i η_i] + (λ/2) Σ_{j≥1} β_j²`.
//!
//! This is glmnet's objective with `alpha = 0` and `standardize = TRUE`, and scikit-learn's
//! `LogisticRegression(C = 1/(λ W))` (lbfgs, intercept not penalised) on the standardised
//! features: scikit-learn minimises `C Σ w_i ℓ_i + ½ |β|²`, which is `C W` times `J`.
//!
//! # Algorithm
//!
//! Newton's method (iteratively reweighted least squares) from `β = (logit(ȳ), 0, …)`: the
//! gradient `g = (1/W) Zᵀ w∘(p − y) + λ β̃` and Hessian
//! `H = (1/W) Zᵀ diag(w p (1−p)) Z + λ Ĩ` (`~`: intercept excluded) are accumulated in one pass
//! over the rows, the step solves `H Δ = −g` by Cholesky, and a backtracking line search
//! (Armijo, `c = 1e-4`, halving, rounding of `J` tolerated) keeps `J` decreasing. Converged when `max_j |g_j| ≤ tolerance`
//! (default `1e-9`) and the Newton step is below `1e-6 (1 + max_j |β_j|)`. `J` is strictly convex for `λ > 0`, so the optimum is unique; for `λ = 0`
//! and separable data there is no optimum and the fit reports non-convergence.
//!
//! # Determinism
//!
//! The rows are put in a canonical order (by label, weight and feature values) before any sum,
//! and sums run over a fixed number of chunks added in chunk order, so the fitted model is the
//! same, bit for bit, whatever the order of the input rows and the number of cores.
//!
//! # Standard errors
//!
//! From the inverse of the Hessian of the total (weight-summed) penalised objective at the
//! optimum, `(Zᵀ diag(w p (1−p)) Z + λ W Ĩ)^{-1}`: at `λ = 0` the usual maximum-likelihood
//! standard errors (frequency weights, as statsmodels' `GLM(..., freq_weights=w)`), for
//! `λ > 0` those of the Gaussian-prior posterior mode. On the original scale,
//! `β'_j = β_j / s_j` and `β'_0 = β_0 − Σ_j β_j m_j / s_j`, and the covariance is mapped by the
//! same linear transformation.

use serde::{Deserialize, Serialize};

use super::error::ModelError;
use super::{FORMAT_VERSION, ModelKind};

/// Default ridge penalty λ (see the module documentation).
pub const DEFAULT_LAMBDA: f64 = 0.01;

/// Logistic-regression fitter (builder). Defaults: `λ = 0.01`, at most 100 Newton iterations,
/// gradient tolerance `1e-9`, convergence required.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogisticRegression {
    lambda: f64,
    max_iterations: usize,
    tolerance: f64,
    require_convergence: bool,
}

impl Default for LogisticRegression {
    fn default() -> Self {
        LogisticRegression {
            lambda: DEFAULT_LAMBDA,
            max_iterations: 100,
            tolerance: 1e-9,
            require_convergence: true,
        }
    }
}

/// Diagnostics of a logistic-regression fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticFitReport {
    /// Total weighted log-likelihood `Σ w_i [y_i ln p_i + (1−y_i) ln(1−p_i)]` at the estimate.
    pub log_likelihood: f64,
    /// The minimised objective `J` (mean log-loss plus penalty).
    pub objective: f64,
    /// Newton iterations.
    pub iterations: usize,
    /// Whether `max_j |∂J/∂β_j| ≤ tolerance` was reached.
    pub converged: bool,
    /// `max_j |∂J/∂β_j|` at the estimate.
    pub gradient_max: f64,
    /// Number of rows.
    pub n_rows: usize,
    /// Sum of the weights.
    pub total_weight: f64,
    /// Weighted share of rows with label 1.
    pub positive_rate: f64,
}

/// One feature of a fitted model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticFeature {
    /// The feature's name.
    pub name: String,
    /// Weighted mean used for standardisation.
    pub mean: f64,
    /// Weighted standard deviation used for standardisation (1 for a constant column).
    pub scale: f64,
    /// Coefficient of the standardised feature.
    pub coefficient: f64,
    /// Its standard error (`None` when the Hessian could not be inverted).
    pub standard_error: Option<f64>,
    /// Coefficient on the original scale, `coefficient / scale` (written for readers; recomputed
    /// on load).
    pub coefficient_original: f64,
    /// Its standard error.
    pub standard_error_original: Option<f64>,
}

/// A fitted logistic regression: `P(label = 1 | x)`.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedLogistic {
    features: Vec<LogisticFeature>,
    intercept: f64,
    intercept_standard_error: Option<f64>,
    intercept_original: f64,
    intercept_standard_error_original: Option<f64>,
    lambda: f64,
    fit: Option<LogisticFitReport>,
}

impl LogisticRegression {
    /// A fitter with the default options.
    pub fn new() -> Self {
        Self::default()
    }

    /// The ridge penalty λ ≥ 0 on the standardised coefficients.
    pub fn lambda(mut self, lambda: f64) -> Self {
        self.lambda = lambda;
        self
    }

    /// Newton iteration cap.
    pub fn max_iterations(mut self, n: usize) -> Self {
        self.max_iterations = n;
        self
    }

    /// Gradient tolerance (max-norm of `∂J/∂β`).
    pub fn tolerance(mut self, tol: f64) -> Self {
        self.tolerance = tol;
        self
    }

    /// Return [`ModelError::NotConverged`] (default) rather than a model flagged
    /// `converged = false`.
    pub fn require_convergence(mut self, yes: bool) -> Self {
        self.require_convergence = yes;
        self
    }

    fn validate(&self) -> Result<(), ModelError> {
        if !(self.lambda.is_finite() && self.lambda >= 0.0) {
            return Err(ModelError::InvalidArgument {
                name: "lambda",
                value: self.lambda,
                reason: "must be finite and >= 0",
            });
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return Err(ModelError::InvalidArgument {
                name: "tolerance",
                value: self.tolerance,
                reason: "must be finite and > 0",
            });
        }
        Ok(())
    }

    /// Fits the model on feature columns `columns` (one slice per feature, named by `names`,
    /// all as long as `labels`), with optional positive weights.
    ///
    /// # Errors
    /// [`ModelError::BadFeature`] for a non-finite value (naming the feature and row) or a
    /// column of the wrong length; [`ModelError::EmptyInput`]; [`ModelError::InvalidArgument`]
    /// for bad options, weights, or labels of one class only; [`ModelError::NotConverged`].
    pub fn fit(
        &self,
        names: &[&str],
        columns: &[&[f64]],
        labels: &[bool],
        weights: Option<&[f64]>,
    ) -> Result<FittedLogistic, ModelError> {
        self.validate()?;
        let n = labels.len();
        check_columns(names, columns, n)?;
        if n == 0 {
            return Err(ModelError::EmptyInput);
        }
        if let Some(w) = weights {
            if w.len() != n {
                return Err(ModelError::LengthMismatch {
                    field: "weights",
                    expected: n,
                    found: w.len(),
                });
            }
            if let Some(row) = w.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
                return Err(ModelError::Negative {
                    row,
                    field: "weights",
                    value: w[row],
                });
            }
        }
        let d = columns.len();
        let weight = |i: usize| weights.map_or(1.0, |w| w[i]);

        let k = d + 1;
        let order = canonical_order(columns, labels, &weight);
        // The rows in canonical order: labels, weights and the design matrix (row-major, the
        // intercept column first), written row by row from the input read in its own order.
        let mut y = vec![0.0; n];
        let mut w = vec![0.0; n];
        let mut z = vec![0.0; n * k];
        let mut position = vec![0u32; n];
        for (i, &src) in order.iter().enumerate() {
            position[src as usize] = i as u32;
        }
        for (src, &at) in position.iter().enumerate() {
            let at = at as usize;
            y[at] = f64::from(u8::from(labels[src]));
            w[at] = weight(src);
            let row = &mut z[at * k..(at + 1) * k];
            row[0] = 1.0;
            for (j, c) in columns.iter().enumerate() {
                row[j + 1] = c[src];
            }
        }
        drop(position);
        let total_weight = chunked_sum(n, |r| r.map(|i| w[i]).sum());
        let positive = chunked_sum(n, |r| r.map(|i| w[i] * y[i]).sum());
        let ybar = positive / total_weight;
        if !(ybar > 0.0 && ybar < 1.0) {
            return Err(ModelError::InvalidArgument {
                name: "labels",
                value: ybar,
                reason: "need rows of both classes (churned and not churned)",
            });
        }

        // Standardisation: weighted means, then weighted variances about them (canonical
        // order, fixed chunks), then the columns standardised in place.
        let means: Vec<f64> = chunked(n, |rows| {
            let mut acc = vec![0.0; d];
            for i in rows {
                let row = &z[i * k + 1..(i + 1) * k];
                for (a, x) in acc.iter_mut().zip(row) {
                    *a += w[i] * x;
                }
            }
            acc
        })
        .into_iter()
        .map(|s| s / total_weight)
        .collect();
        let scales: Vec<f64> = chunked(n, |rows| {
            let mut acc = vec![0.0; d];
            for i in rows {
                let row = &z[i * k + 1..(i + 1) * k];
                for ((a, x), m) in acc.iter_mut().zip(row).zip(&means) {
                    let e = x - m;
                    *a += w[i] * e * e;
                }
            }
            acc
        })
        .into_iter()
        .map(|v| {
            let s = (v / total_weight).sqrt();
            if s > 0.0 && s.is_finite() { s } else { 1.0 }
        })
        .collect();
        for row in z.chunks_exact_mut(k) {
            for j in 0..d {
                row[j + 1] = (row[j + 1] - means[j]) / scales[j];
            }
        }

        let problem = Problem {
            z: &z,
            y: &y,
            w: &w,
            k,
            total_weight,
            lambda: self.lambda,
        };
        let mut beta = vec![0.0; k];
        beta[0] = (ybar / (1.0 - ybar)).ln();
        let mut eval = problem.eval(&beta, true);
        let mut iterations = 0;
        let mut converged = false;
        // (A Hessian that is not positive definite ends the iterations unconverged.)
        while let Some(step) = solve_spd(&eval.hessian, &eval.gradient, k) {
            // Converged: a small gradient and a small Newton step (on separable data without a
            // penalty the gradient vanishes while the coefficients run off: the steps do not).
            let beta_max = beta.iter().fold(0.0f64, |m, b| m.max(b.abs()));
            let step_max = step.iter().fold(0.0f64, |m, s| m.max(s.abs()));
            if eval.gradient_max() <= self.tolerance && step_max <= STEP_TOLERANCE * (1.0 + beta_max) {
                converged = true;
                break;
            }
            if iterations == self.max_iterations {
                break;
            }
            iterations += 1;
            let slope: f64 = eval.gradient.iter().zip(&step).map(|(g, s)| g * s).sum();
            let mut t = 1.0;
            let mut accepted = None;
            for _ in 0..60 {
                let trial: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b + t * s).collect();
                let e = problem.eval(&trial, false);
                // Armijo, with the rounding error of J tolerated: near the optimum the predicted
                // decrease is below J's resolution and the full Newton step is taken.
                if e.objective <= eval.objective + 1e-4 * t * slope + 8.0 * f64::EPSILON * eval.objective.abs() {
                    accepted = Some(trial);
                    break;
                }
                t *= 0.5;
            }
            let Some(next) = accepted else {
                // No decrease at floating-point precision.
                break;
            };
            beta = next;
            eval = problem.eval(&beta, true);
        }
        if !converged && self.require_convergence {
            return Err(ModelError::NotConverged {
                model: ModelKind::LogisticRegression,
                iterations,
                log_likelihood: Some(eval.log_likelihood).filter(|v| v.is_finite()),
                gradient_norm: Some(eval.gradient_max()),
            });
        }
        // Covariance: the inverse of the total (weight-summed) penalised Hessian.
        let total_hessian: Vec<f64> = eval.hessian.iter().map(|h| h * total_weight).collect();
        let covariance = invert_spd(&total_hessian, k);
        let report = LogisticFitReport {
            log_likelihood: eval.log_likelihood,
            objective: eval.objective,
            iterations,
            converged,
            gradient_max: eval.gradient_max(),
            n_rows: n,
            total_weight,
            positive_rate: ybar,
        };
        let se = covariance
            .as_ref()
            .map(|c| (0..k).map(|j| c[j * k + j].max(0.0).sqrt()).collect::<Vec<_>>());
        FittedLogistic::build(
            names.iter().map(|s| s.to_string()).collect(),
            means,
            scales,
            beta,
            se,
            covariance,
            self.lambda,
            Some(report),
        )
    }
}

/// The canonical order of the rows: by label, weight, then the feature values in column order
/// (`f64::total_cmp`; rows equal in all of them are interchangeable). Sorted by the label,
/// weight and first feature held in the sort keys, then each run of keys that tie by the
/// remaining columns.
fn canonical_order(columns: &[&[f64]], labels: &[bool], weight: &impl Fn(usize) -> f64) -> Vec<u32> {
    let n = labels.len();
    let first = columns.first();
    let mut keys: Vec<(bool, f64, f64, u32)> = (0..n)
        .map(|i| (labels[i], weight(i), first.map_or(0.0, |c| c[i]), i as u32))
        .collect();
    let head = |a: &(bool, f64, f64, u32), b: &(bool, f64, f64, u32)| {
        a.0.cmp(&b.0)
            .then_with(|| a.1.total_cmp(&b.1))
            .then_with(|| a.2.total_cmp(&b.2))
    };
    keys.sort_unstable_by(head);
    let mut order: Vec<u32> = keys.iter().map(|k| k.3).collect();
    if columns.len() > 1 {
        let rest = |a: &u32, b: &u32| {
            let (a, b) = (*a as usize, *b as usize);
            columns[1..]
                .iter()
                .map(|c| c[a].total_cmp(&c[b]))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        };
        let mut start = 0;
        while start < n {
            let mut end = start + 1;
            while end < n && head(&keys[start], &keys[end]).is_eq() {
                end += 1;
            }
            if end - start > 1 {
                order[start..end].sort_unstable_by(rest);
            }
            start = end;
        }
    }
    order
}

/// Checks the feature columns: as many names as columns, lengths `n`, finite values.
fn check_columns(names: &[&str], columns: &[&[f64]], n: usize) -> Result<(), ModelError> {
    if names.len() != columns.len() {
        return Err(ModelError::LengthMismatch {
            field: "feature names",
            expected: columns.len(),
            found: names.len(),
        });
    }
    for (name, c) in names.iter().zip(columns) {
        if c.len() != n {
            return Err(ModelError::BadFeature {
                feature: name.to_string(),
                row: None,
                reason: "has a different number of rows than the labels",
            });
        }
        if let Some(row) = c.iter().position(|v| !v.is_finite()) {
            return Err(ModelError::BadFeature {
                feature: name.to_string(),
                row: Some(row),
                reason: "is NaN or infinite",
            });
        }
    }
    Ok(())
}

/// Largest Newton step (relative to `1 + max |β|`) accepted as converged.
const STEP_TOLERANCE: f64 = 1e-6;

/// Row chunks of every sum: a constant, so the sums do not depend on the core count.
const CHUNKS: usize = 16;
/// Rows below which sums run on the calling thread.
const PARALLEL_ROWS: usize = 50_000;

/// `Σ` over `0..n` of `part(range)` for [`CHUNKS`] fixed ranges, added in range order (the
/// parts computed over the cores when `n` is large).
fn chunked_sum(n: usize, part: impl Fn(std::ops::Range<usize>) -> f64 + Sync) -> f64 {
    chunked(n, |r| vec![part(r)]).into_iter().next().unwrap_or(0.0)
}

/// Element-wise sums of `part(range)` over [`CHUNKS`] fixed ranges, added in range order.
fn chunked(n: usize, part: impl Fn(std::ops::Range<usize>) -> Vec<f64> + Sync) -> Vec<f64> {
    let ranges: Vec<std::ops::Range<usize>> = (0..CHUNKS).map(|c| n * c / CHUNKS..n * (c + 1) / CHUNKS).collect();
    let threads = crate::cores().min(CHUNKS);
    let parts: Vec<Vec<f64>> = if n < PARALLEL_ROWS || threads < 2 {
        ranges.into_iter().map(&part).collect()
    } else {
        let mut parts = vec![Vec::new(); CHUNKS];
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (ranges, part) = (&ranges, &part);
                    scope.spawn(move || {
                        (t..CHUNKS)
                            .step_by(threads)
                            .map(|c| (c, part(ranges[c].clone())))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in handles {
                for (c, v) in h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)) {
                    parts[c] = v;
                }
            }
        });
        parts
    };
    let mut total = vec![0.0; parts.iter().map(Vec::len).max().unwrap_or(0)];
    for p in &parts {
        for (t, v) in total.iter_mut().zip(p) {
            *t += v;
        }
    }
    total
}

/// `ln(1 + e^η)` without overflow.
#[inline]
fn softplus(eta: f64) -> f64 {
    eta.max(0.0) + (-eta.abs()).exp().ln_1p()
}

/// `σ(η)` without overflow.
#[inline]
fn sigmoid(eta: f64) -> f64 {
    if eta >= 0.0 {
        1.0 / (1.0 + (-eta).exp())
    } else {
        let e = eta.exp();
        e / (1.0 + e)
    }
}

/// The standardised design, labels and weights in canonical order.
struct Problem<'a> {
    z: &'a [f64],
    y: &'a [f64],
    w: &'a [f64],
    k: usize,
    total_weight: f64,
    lambda: f64,
}

/// `J`, the log-likelihood and (when asked) the gradient and Hessian of `J` at a point.
struct Eval {
    objective: f64,
    log_likelihood: f64,
    gradient: Vec<f64>,
    /// Row-major `k × k`.
    hessian: Vec<f64>,
}

impl Eval {
    fn gradient_max(&self) -> f64 {
        self.gradient.iter().fold(0.0f64, |m, g| m.max(g.abs()))
    }
}

impl Problem<'_> {
    fn eval(&self, beta: &[f64], derivatives: bool) -> Eval {
        let k = self.k;
        let n = self.y.len();
        // Per chunk: [loss, gradient (k), Hessian (k × k, upper triangle filled)].
        let width = 1 + if derivatives { k + k * k } else { 0 };
        let sums = chunked(n, |rows| {
            let mut acc = vec![0.0; width];
            let (loss, rest) = acc.split_at_mut(1);
            let (grad, hess) = rest.split_at_mut(if derivatives { k } else { 0 });
            for i in rows {
                let zi = &self.z[i * k..(i + 1) * k];
                let eta: f64 = zi.iter().zip(beta).map(|(z, b)| z * b).sum();
                let (wi, yi) = (self.w[i], self.y[i]);
                loss[0] += wi * (softplus(eta) - yi * eta);
                if derivatives {
                    let p = sigmoid(eta);
                    let r = wi * (p - yi);
                    let h = wi * p * (1.0 - p);
                    for (g, z) in grad.iter_mut().zip(zi) {
                        *g += r * z;
                    }
                    for a in 0..k {
                        let ha = h * zi[a];
                        let row = &mut hess[a * k + a..(a + 1) * k];
                        for (v, zb) in row.iter_mut().zip(&zi[a..]) {
                            *v += ha * zb;
                        }
                    }
                }
            }
            acc
        });
        let inv_w = 1.0 / self.total_weight;
        let penalty: f64 = beta[1..].iter().map(|b| b * b).sum::<f64>() * 0.5 * self.lambda;
        let mut e = Eval {
            objective: sums[0] * inv_w + penalty,
            log_likelihood: -sums[0],
            gradient: vec![],
            hessian: vec![],
        };
        if derivatives {
            e.gradient = (0..k)
                .map(|a| sums[1 + a] * inv_w + if a > 0 { self.lambda * beta[a] } else { 0.0 })
                .collect();
            let mut hess = vec![0.0; k * k];
            for a in 0..k {
                for b in a..k {
                    let v = sums[1 + k + a * k + b] * inv_w + if a == b && a > 0 { self.lambda } else { 0.0 };
                    hess[a * k + b] = v;
                    hess[b * k + a] = v;
                }
            }
            e.hessian = hess;
        }
        e
    }
}

/// Lower Cholesky factor of the symmetric `k × k` matrix `a`, `None` unless positive definite.
fn cholesky(a: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; k * k];
    for i in 0..k {
        for j in 0..=i {
            let s: f64 = a[i * k + j] - (0..j).map(|m| l[i * k + m] * l[j * k + m]).sum::<f64>();
            if i == j {
                if !(s > 0.0) || !s.is_finite() {
                    return None;
                }
                l[i * k + i] = s.sqrt();
            } else {
                l[i * k + j] = s / l[j * k + j];
            }
        }
    }
    Some(l)
}

/// Solves `L Lᵀ x = b` given the Cholesky factor `l`.
fn cholesky_solve(l: &[f64], b: &[f64], k: usize) -> Vec<f64> {
    let mut y = vec![0.0; k];
    for i in 0..k {
        y[i] = (b[i] - (0..i).map(|m| l[i * k + m] * y[m]).sum::<f64>()) / l[i * k + i];
    }
    let mut x = vec![0.0; k];
    for i in (0..k).rev() {
        x[i] = (y[i] - (i + 1..k).map(|m| l[m * k + i] * x[m]).sum::<f64>()) / l[i * k + i];
    }
    x
}

/// The Newton step `−H⁻¹ g`, `None` when `H` is not positive definite.
fn solve_spd(h: &[f64], g: &[f64], k: usize) -> Option<Vec<f64>> {
    let l = cholesky(h, k)?;
    Some(cholesky_solve(&l, g, k).into_iter().map(|v| -v).collect())
}

/// `H⁻¹` (row-major), `None` when `H` is not positive definite.
fn invert_spd(h: &[f64], k: usize) -> Option<Vec<f64>> {
    let l = cholesky(h, k)?;
    let mut inv = vec![0.0; k * k];
    for c in 0..k {
        let mut e = vec![0.0; k];
        e[c] = 1.0;
        let col = cholesky_solve(&l, &e, k);
        for r in 0..k {
            inv[r * k + c] = col[r];
        }
    }
    Some(inv)
}

impl FittedLogistic {
    /// Assembles a model; `beta` = `[β_0, β_1..]` on the standardised scale, `se` their
    /// standard errors and `covariance` their covariance (row-major), when available.
    fn build(
        names: Vec<String>,
        means: Vec<f64>,
        scales: Vec<f64>,
        beta: Vec<f64>,
        se: Option<Vec<f64>>,
        covariance: Option<Vec<f64>>,
        lambda: f64,
        fit: Option<LogisticFitReport>,
    ) -> Result<Self, ModelError> {
        let d = names.len();
        let k = d + 1;
        // Original scale: β'_j = β_j/s_j, β'_0 = β_0 − Σ β_j m_j/s_j; A maps β to β'.
        let original: Vec<f64> = (0..d).map(|j| beta[j + 1] / scales[j]).collect();
        let intercept_original = beta[0] - (0..d).map(|j| original[j] * means[j]).sum::<f64>();
        let se_original = covariance.as_ref().map(|c| {
            // Row 0 of A: [1, −m_1/s_1, …]; row j: e_j / s_j.
            let a0: Vec<f64> = std::iter::once(1.0)
                .chain((0..d).map(|j| -means[j] / scales[j]))
                .collect();
            let var0: f64 = (0..k)
                .map(|r| (0..k).map(|s| a0[r] * c[r * k + s] * a0[s]).sum::<f64>())
                .sum();
            let mut out = vec![var0.max(0.0).sqrt()];
            out.extend((0..d).map(|j| c[(j + 1) * k + j + 1].max(0.0).sqrt() / scales[j]));
            out
        });
        let features = (0..d)
            .map(|j| LogisticFeature {
                name: names[j].clone(),
                mean: means[j],
                scale: scales[j],
                coefficient: beta[j + 1],
                standard_error: se.as_ref().map(|s| s[j + 1]),
                coefficient_original: original[j],
                standard_error_original: se_original.as_ref().map(|s| s[j + 1]),
            })
            .collect();
        let m = FittedLogistic {
            features,
            intercept: beta[0],
            intercept_standard_error: se.as_ref().map(|s| s[0]),
            intercept_original,
            intercept_standard_error_original: se_original.as_ref().map(|s| s[0]),
            lambda,
            fit,
        };
        m.validate()?;
        Ok(m)
    }

    fn validate(&self) -> Result<(), ModelError> {
        let bad = |name: &'static str, value: f64| ModelError::InvalidParameter { name, value };
        for f in &self.features {
            if !f.mean.is_finite() {
                return Err(bad("mean", f.mean));
            }
            if !(f.scale.is_finite() && f.scale > 0.0) {
                return Err(bad("scale", f.scale));
            }
            if !f.coefficient.is_finite() {
                return Err(bad("coefficient", f.coefficient));
            }
        }
        if !self.intercept.is_finite() {
            return Err(bad("intercept", self.intercept));
        }
        Ok(())
    }

    /// Always [`ModelKind::LogisticRegression`].
    pub fn kind(&self) -> ModelKind {
        ModelKind::LogisticRegression
    }
    /// The features, in the order of the fit (and of every prediction's columns).
    pub fn features(&self) -> &[LogisticFeature] {
        &self.features
    }
    /// The feature names.
    pub fn feature_names(&self) -> Vec<&str> {
        self.features.iter().map(|f| f.name.as_str()).collect()
    }
    /// Intercept on the standardised scale (`β_0`) and its standard error.
    pub fn intercept(&self) -> (f64, Option<f64>) {
        (self.intercept, self.intercept_standard_error)
    }
    /// Intercept on the original scale and its standard error.
    pub fn intercept_original(&self) -> (f64, Option<f64>) {
        (self.intercept_original, self.intercept_standard_error_original)
    }
    /// The ridge penalty λ of the fit.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }
    /// Fit diagnostics.
    pub fn fit_report(&self) -> Option<&LogisticFitReport> {
        self.fit.as_ref()
    }

    /// The linear predictor `η` of one row of original-scale features (in the order of
    /// [`Self::features`]).
    #[inline]
    fn eta(&self, row: impl Fn(usize) -> f64) -> f64 {
        let mut eta = self.intercept;
        for (j, f) in self.features.iter().enumerate() {
            eta += f.coefficient * ((row(j) - f.mean) / f.scale);
        }
        eta
    }

    /// `P(label = 1 | x)` for one row (`x` in the order of [`Self::features`]).
    pub fn predict(&self, x: &[f64]) -> Result<f64, ModelError> {
        if x.len() != self.features.len() {
            return Err(ModelError::LengthMismatch {
                field: "features",
                expected: self.features.len(),
                found: x.len(),
            });
        }
        let names: Vec<&str> = self.feature_names();
        let columns: Vec<&[f64]> = x.iter().map(std::slice::from_ref).collect();
        check_columns(&names, &columns, 1)?;
        Ok(sigmoid(self.eta(|j| x[j])))
    }

    /// `P(label = 1 | x)` for every row of `columns` (one slice per feature, in the order of
    /// [`Self::features`]). A non-finite value is an error naming its feature and row.
    pub fn predict_many(&self, columns: &[&[f64]]) -> Result<Vec<f64>, ModelError> {
        if columns.len() != self.features.len() {
            return Err(ModelError::LengthMismatch {
                field: "features",
                expected: self.features.len(),
                found: columns.len(),
            });
        }
        let n = columns.first().map_or(0, |c| c.len());
        check_columns(&self.feature_names(), columns, n)?;
        Ok((0..n).map(|i| sigmoid(self.eta(|j| columns[j][i]))).collect())
    }
}

/// Serialized form: `{"kind": "logistic_regression", "format_version": 1, "lambda", "intercept",
/// "intercept_standard_error", "intercept_original", "intercept_standard_error_original",
/// "features": [...], "fit": {...}}`; the original-scale values are recomputed on load.
#[derive(Serialize, Deserialize)]
struct Repr {
    kind: ModelKind,
    #[serde(default)]
    format_version: Option<u32>,
    #[serde(default)]
    lambda: Option<f64>,
    #[serde(default)]
    intercept: Option<f64>,
    #[serde(default)]
    intercept_standard_error: Option<f64>,
    #[serde(default)]
    intercept_original: Option<f64>,
    #[serde(default)]
    intercept_standard_error_original: Option<f64>,
    #[serde(default)]
    features: Option<Vec<LogisticFeature>>,
    #[serde(default)]
    fit: Option<LogisticFitReport>,
}

impl Serialize for FittedLogistic {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Repr {
            kind: ModelKind::LogisticRegression,
            format_version: Some(FORMAT_VERSION),
            lambda: Some(self.lambda),
            intercept: Some(self.intercept),
            intercept_standard_error: self.intercept_standard_error,
            intercept_original: Some(self.intercept_original),
            intercept_standard_error_original: self.intercept_standard_error_original,
            features: Some(self.features.clone()),
            fit: self.fit.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for FittedLogistic {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let r = Repr::deserialize(d)?;
        r.kind.ensure(ModelKind::LogisticRegression).map_err(D::Error::custom)?;
        let version = r
            .format_version
            .ok_or_else(|| D::Error::missing_field("format_version"))?;
        if version != FORMAT_VERSION {
            return Err(D::Error::custom(ModelError::UnsupportedFormatVersion {
                found: version,
            }));
        }
        let features = r.features.ok_or_else(|| D::Error::missing_field("features"))?;
        let intercept = r.intercept.ok_or_else(|| D::Error::missing_field("intercept"))?;
        let lambda = r.lambda.ok_or_else(|| D::Error::missing_field("lambda"))?;
        let k = features.len() + 1;
        // The covariance is not stored: the original-scale standard errors are kept as written
        // (they need the off-diagonal terms), the rest is recomputed.
        let mut beta = vec![intercept];
        beta.extend(features.iter().map(|f| f.coefficient));
        let se: Option<Vec<f64>> = std::iter::once(r.intercept_standard_error)
            .chain(features.iter().map(|f| f.standard_error))
            .collect();
        let names = features.iter().map(|f| f.name.clone()).collect();
        let means = features.iter().map(|f| f.mean).collect();
        let scales = features.iter().map(|f| f.scale).collect();
        let mut m =
            FittedLogistic::build(names, means, scales, beta, se, None, lambda, r.fit).map_err(D::Error::custom)?;
        debug_assert_eq!(k, m.features.len() + 1);
        m.intercept_standard_error_original = r.intercept_standard_error_original;
        for (f, g) in m.features.iter_mut().zip(&features) {
            f.standard_error_original = g.standard_error_original;
        }
        Ok(m)
    }
}
