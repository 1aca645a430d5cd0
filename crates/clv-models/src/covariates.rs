//! Static (time-invariant) covariates on BG/NBD, Pareto/NBD and Gamma-Gamma.
//!
//! Fader, P. S. & Hardie, B. G. S. (2007), "Incorporating Time-Invariant Covariates into the
//! Pareto/NBD and BG/NBD Models" (note 019): the covariates of customer `i` scale the gamma
//! rate of the purchase process and the dropout process through `exp(γᵀz)`, so that the
//! mixing distributions — and every expression of the models — stay the same with
//! customer-specific parameters.
//!
//! * **Purchase process** (both models): `α_i = α₀ · exp(−γ₁ᵀ z₁ᵢ)`. With `λ ~ Gamma(r, α_i)`
//!   the mean purchase rate is `r/α₀ · exp(γ₁ᵀ z₁ᵢ)`: a **positive** coefficient means **more**
//!   purchases.
//! * **Dropout, Pareto/NBD**: `β_i = β₀ · exp(−γ₂ᵀ z₂ᵢ)`; with `μ ~ Gamma(s, β_i)` the mean
//!   dropout rate is `s/β₀ · exp(γ₂ᵀ z₂ᵢ)`: a positive coefficient means **earlier** dropout.
//! * **Dropout, BG/NBD**: `a_i = a₀ · exp(γ_aᵀ z₂ᵢ)`, `b_i = b₀ · exp(γ_bᵀ z₂ᵢ)`, one coefficient
//!   vector for each beta shape, as in the note (and pymc-marketing); the mean dropout
//!   probability is `a_i/(a_i + b_i)`, so `γ_a − γ_b > 0` means earlier dropout. CLVTools uses
//!   one vector for both (`γ_a = γ_b`), which changes only the concentration of `p` and not its
//!   mean; that model is nested in this one (`df` = number of dropout covariates, see
//!   [`crate::holdout::likelihood_ratio_test`]).
//!
//! * **Spend, Gamma-Gamma** (a stretch beyond the note, which covers the transaction models):
//!   `γ_i = γ₀ · exp(δᵀ zᵢ)` on the scale of ν's gamma distribution, so the mean spend per
//!   transaction `p γ_i/(q−1)` scales with `exp(δᵀzᵢ)`: a positive coefficient means higher
//!   spend ([`GammaGammaCovariates`]).
//!
//! `r` (and `s`; `p`, `q`) carry no covariates. The likelihood of customer `i` is the model's likelihood
//! (BG/NBD: FHL 2005 eq. 6; Pareto/NBD: Fader & Hardie's note 009 eq. 18) at the customer's
//! parameters. With no covariates (or all γ = 0) the models are the plain ones.
//!
//! # Fitting
//!
//! Maximum likelihood over `(ln r, ln α₀, ln a₀, ln b₀, γ₁, γ_a, γ_b)` (Pareto/NBD:
//! `(ln r, ln α₀, ln s, ln β₀, γ₁, γ₂)`) with the L-BFGS and fallbacks of [`crate::optimize`] and
//! **analytic gradients**: every customer's log-likelihood and its derivatives in their own
//! `(r, α_i, a_i, b_i)` come from the models' own kernels (BG/NBD: the per-row terms of
//! [`crate::bgnbd`]; Pareto/NBD: its likelihood differentiated exactly with dual numbers), and
//! the chain rule through `α_i = α₀ e^{−γ₁ᵀz}` etc. gives the gradient in the coefficients. The
//! fit starts at the model without covariates (`γ = 0`), first on a stratified subsample of
//! about 3,000 rows when there are at least twice as many.
//!
//! Customers with the same covariates, frequency, recency and age are merged into weights, and
//! the terms that depend on `(covariates, x)` only are computed once per distinct pair; the
//! rows are put in a canonical order first (grouped by a hash of the covariate values, then by
//! `(x, t_x, T)`), so the fit does not depend on the order of the customers. Covariates with a few distinct values (channel,
//! gender, campaign dummies) therefore cost little more than the plain model; continuous
//! covariates make every customer distinct (BG/NBD: a few special-function calls per customer
//! and evaluation; Pareto/NBD: a hypergeometric series per customer and evaluation, much
//! slower).
//!
//! Standard errors: the inverse of the Hessian of the total log-likelihood in the optimiser's
//! variables (forward differences of the analytic gradient), `SE(θ) = θ·SE(ln θ)` for the base
//! parameters, the coefficients' directly; `None` when the Hessian is not positive definite
//! (e.g. a constant covariate column, or two collinear ones). Covariates should be on a
//! moderate scale (standardised, or dummies): `|γ|` beyond 30 is treated as outside the
//! parameter space.
//!
//! A covariate model against the same model without covariates is a likelihood-ratio test with
//! `df` = the number of coefficients ([`FittedBgNbdCovariates::likelihood_ratio_test`]).

use serde::Serialize;

use super::beta_geo::{BetaGeoObjective, Variant, XTerms};
use super::bootstrap::mix;
use super::data::{Compressed, SpendSummary, TransactionSummary, check_rft, ranks};
use super::error::{ModelError, finite};
use super::gamma_gamma::{FittedGammaGamma, GammaGamma, GammaGammaParams};
use super::holdout::{LikelihoodRatioTest, Nesting, likelihood_ratio_test};
use super::optimize::{FitOptions, Memory, Objective, Penalized, fit_builder_methods, minimize};
use super::pareto_nbd::ParetoObjective;
use super::probability::normal_cdf;
use super::refine::{cholesky_inverse, hessian, refine};
use super::special::{digamma, ln_gamma};
use super::{BgNbd, BgNbdParams, FittedBgNbd, FittedParetoNbd, ModelKind, ParetoNbd, ParetoNbdParams, TimeUnit};

/// The covariates of each customer: named columns of finite values, one value per customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Covariates {
    names: Vec<String>,
    columns: Vec<Vec<f64>>,
    rows: usize,
}

impl Covariates {
    /// Covariates from named columns (all of length `rows`).
    ///
    /// # Errors
    /// [`ModelError::LengthMismatch`] when a column's length or the number of names differs,
    /// [`ModelError::InvalidCovariate`] for a value that is NaN or infinite.
    pub fn new(names: Vec<String>, columns: Vec<Vec<f64>>, rows: usize) -> Result<Self, ModelError> {
        if names.len() != columns.len() {
            return Err(ModelError::LengthMismatch {
                field: "covariate names",
                expected: columns.len(),
                found: names.len(),
            });
        }
        for (c, col) in columns.iter().enumerate() {
            if col.len() != rows {
                return Err(ModelError::LengthMismatch {
                    field: "covariate",
                    expected: rows,
                    found: col.len(),
                });
            }
            if let Some((row, &value)) = col.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(ModelError::InvalidCovariate { column: c, row, value });
            }
        }
        Ok(Covariates { names, columns, rows })
    }

    /// No covariates for `rows` customers.
    pub fn none(rows: usize) -> Self {
        Covariates {
            names: vec![],
            columns: vec![],
            rows,
        }
    }

    /// Number of covariates.
    pub fn len(&self) -> usize {
        self.columns.len()
    }
    /// `true` without covariates.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }
    /// Number of customers.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Covariate names.
    pub fn names(&self) -> &[String] {
        &self.names
    }
    /// Covariate `c`'s column.
    pub fn column(&self, c: usize) -> &[f64] {
        &self.columns[c]
    }
    fn value(&self, c: usize, row: usize) -> f64 {
        self.columns[c][row]
    }
}

/// Per customer, a 64-bit hash of the covariate vector (bit patterns of the values, −0 = +0)
/// in the high half of a `u128` and the dense ranks of `(x, t_x, T)` packed in the low half;
/// `None` when the ranks need more than 64 bits. Sorting by these keys groups the customers by
/// covariate vector (in hash order, which depends on the values only) and orders each group by
/// `(x, t_x, T)`.
fn hashed_keys(z1: &Covariates, z2: &Covariates, k: [&[f64]; 3]) -> Option<Vec<u128>> {
    let n = k[0].len();
    let mut keys: Vec<u128> = (0..n)
        .map(|i| {
            let h = z1
                .columns
                .iter()
                .chain(&z2.columns)
                .fold(0x243F_6A88_85A3_08D3u64, |h, c| mix(h ^ (c[i] + 0.0).to_bits()));
            u128::from(h) << 64
        })
        .collect();
    let mut shift = 64u32;
    for col in k {
        let (distinct, rank) = ranks(col);
        let bits = 64 - (distinct.len() as u64).saturating_sub(1).leading_zeros();
        shift = shift.checked_sub(bits)?;
        for (key, &r) in keys.iter_mut().zip(&rank) {
            *key |= u128::from(r) << shift;
        }
    }
    Some(keys)
}

/// Customers merged by `(covariates, x, t_x, T)` in canonical order, grouped by
/// `(covariates, x)`.
#[derive(Debug, Clone)]
struct CovRows {
    x: Vec<f64>,
    t_x: Vec<f64>,
    t: Vec<f64>,
    w: Vec<f64>,
    /// Runs of rows with equal `(pattern, x)`.
    groups: Vec<Group>,
    /// Distinct x values, ascending.
    xs: Vec<f64>,
    /// Covariate vectors, one row of `k1` (purchase) and `k2` (dropout) values per pattern.
    z1: Vec<f64>,
    z2: Vec<f64>,
    k1: usize,
    k2: usize,
    total_weight: f64,
}

#[derive(Debug, Clone, Copy)]
struct Group {
    start: usize,
    end: usize,
    pattern: usize,
    xi: usize,
}

impl CovRows {
    fn new(data: &TransactionSummary, z1: &Covariates, z2: &Covariates) -> Result<Self, ModelError> {
        Self::from_columns([data.frequency(), data.recency(), data.t()], data.weights(), z1, z2)
    }

    /// Rows from key columns `(x, k1, k2)` and weights (rows of weight 0 left out).
    fn from_columns(k: [&[f64]; 3], w: &[f64], z1: &Covariates, z2: &Covariates) -> Result<Self, ModelError> {
        Self::build(k, w, z1, z2, true)
    }

    /// [`CovRows::from_columns`], sorting by hashed integer keys when `pack` and they fit.
    fn build(k: [&[f64]; 3], w: &[f64], z1: &Covariates, z2: &Covariates, pack: bool) -> Result<Self, ModelError> {
        let n = w.len();
        for c in [z1, z2] {
            if c.rows() != n {
                return Err(ModelError::LengthMismatch {
                    field: "covariates",
                    expected: n,
                    found: c.rows(),
                });
            }
        }
        let [x, t_x, t] = k;
        let key = |i: usize| {
            (0..z1.len())
                .map(move |c| z1.value(c, i) + 0.0)
                .chain((0..z2.len()).map(move |c| z2.value(c, i) + 0.0))
        };
        let cmp_values = |a: usize, b: usize| {
            key(a)
                .zip(key(b))
                .map(|(p, q)| p.total_cmp(&q))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        };
        let mut order: Vec<usize> = (0..n).filter(|&i| w[i] > 0.0).collect();
        // Each column as dense ranks (ordered like `total_cmp`, −0 = +0): when they pack into
        // 128 bits, one integer key per customer sorts the rows (the usual case); else the
        // values are compared column by column.
        // Sorted by hashed keys when they exist and no two covariate vectors share a hash (then
        // rows with equal high halves have equal covariates); else by the values.
        let mut hashed = if pack { hashed_keys(z1, z2, [x, t_x, t]) } else { None };
        if let Some(keys) = &hashed {
            order.sort_unstable_by_key(|&i| keys[i]);
            let collision = order
                .windows(2)
                .any(|p| keys[p[0]] >> 64 == keys[p[1]] >> 64 && cmp_values(p[0], p[1]).is_ne());
            if collision {
                hashed = None;
            }
        }
        if hashed.is_none() {
            order.sort_unstable_by(|&a, &b| {
                cmp_values(a, b)
                    .then(x[a].total_cmp(&x[b]))
                    .then((t_x[a] + 0.0).total_cmp(&(t_x[b] + 0.0)))
                    .then((t[a] + 0.0).total_cmp(&(t[b] + 0.0)))
            });
        }
        let cmp_z = |a: usize, b: usize| match &hashed {
            Some(keys) => (keys[a] >> 64).cmp(&(keys[b] >> 64)),
            None => cmp_values(a, b),
        };
        let mut rows = CovRows {
            x: vec![],
            t_x: vec![],
            t: vec![],
            w: vec![],
            groups: vec![],
            xs: vec![],
            z1: vec![],
            z2: vec![],
            k1: z1.len(),
            k2: z2.len(),
            total_weight: 0.0,
        };
        let mut patterns = 0usize;
        let mut last: Option<usize> = None;
        let mut pattern_of_row = Vec::with_capacity(order.len());
        for &i in &order {
            let new_pattern = last.is_none_or(|l| cmp_z(l, i).is_ne());
            if new_pattern {
                patterns += 1;
                rows.z1.extend((0..z1.len()).map(|c| z1.value(c, i) + 0.0));
                rows.z2.extend((0..z2.len()).map(|c| z2.value(c, i) + 0.0));
            }
            let same_row = !new_pattern && last.is_some_and(|l| x[l] == x[i] && t_x[l] == t_x[i] && t[l] == t[i]);
            if same_row {
                *rows.w.last_mut().expect("a previous row") += w[i];
            } else {
                rows.x.push(x[i]);
                rows.t_x.push(t_x[i]);
                rows.t.push(t[i]);
                rows.w.push(w[i]);
                pattern_of_row.push(patterns - 1);
            }
            last = Some(i);
        }
        rows.finish(&pattern_of_row);
        Ok(rows)
    }

    /// Groups, distinct x and the total weight from the rows and their patterns.
    fn finish(&mut self, pattern_of_row: &[usize]) {
        let mut xs = self.x.clone();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        self.groups.clear();
        let mut start = 0;
        for i in 1..=self.x.len() {
            if i == self.x.len() || pattern_of_row[i] != pattern_of_row[start] || self.x[i] != self.x[start] {
                let xi = xs.partition_point(|&v| v < self.x[start]);
                self.groups.push(Group {
                    start,
                    end: i,
                    pattern: pattern_of_row[start],
                    xi,
                });
                start = i;
            }
        }
        self.xs = xs;
        self.total_weight = self.w.iter().sum();
    }

    fn len(&self) -> usize {
        self.x.len()
    }

    fn patterns(&self) -> usize {
        self.groups.last().map_or(0, |g| g.pattern + 1)
    }

    fn z1_of(&self, p: usize) -> &[f64] {
        &self.z1[p * self.k1..(p + 1) * self.k1]
    }

    fn z2_of(&self, p: usize) -> &[f64] {
        &self.z2[p * self.k2..(p + 1) * self.k2]
    }

    /// Every `stride`-th row (rows are in pattern and x order, so the sample is stratified),
    /// or `None` below `2·max_rows` rows.
    fn subsample(&self, max_rows: usize) -> Option<Self> {
        if self.len() < 2 * max_rows.max(1) {
            return None;
        }
        let stride = self.len() / max_rows;
        let mut pattern_of = vec![0; self.len()];
        for g in &self.groups {
            pattern_of[g.start..g.end].fill(g.pattern);
        }
        let idx: Vec<usize> = (0..self.len()).step_by(stride).collect();
        let pick = |v: &[f64]| idx.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        let mut sub = CovRows {
            x: pick(&self.x),
            t_x: pick(&self.t_x),
            t: pick(&self.t),
            w: pick(&self.w),
            groups: vec![],
            xs: vec![],
            z1: self.z1.clone(),
            z2: self.z2.clone(),
            k1: self.k1,
            k2: self.k2,
            total_weight: 0.0,
        };
        let patterns: Vec<usize> = idx.iter().map(|&i| pattern_of[i]).collect();
        sub.finish(&patterns);
        Some(sub)
    }
}

/// A negative mean log-likelihood over a runtime number of parameters, with its gradient.
trait Kernel: Sized {
    fn dim(&self) -> usize;
    fn eval(&mut self, p: &[f64], g: &mut [f64]) -> f64;
    fn total_weight(&self) -> f64;
    fn subsample(&self, max_rows: usize) -> Option<Self>;
}

/// A [`Kernel`] as an [`Objective`] of fixed size `N ≥ dim` (the extra coordinates have a zero
/// gradient and never move).
struct Padded<'a, K, const N: usize>(&'a mut K);

impl<K: Kernel, const N: usize> Objective<N> for Padded<'_, K, N> {
    fn eval(&mut self, phi: &[f64; N], grad: &mut [f64; N]) -> f64 {
        let d = self.0.dim();
        *grad = [0.0; N];
        self.0.eval(&phi[..d], &mut grad[..d])
    }
    fn total_weight(&self) -> f64 {
        self.0.total_weight()
    }
}

/// The outcome of [`fit_kernel`].
struct KernelFit {
    x: Vec<f64>,
    log_likelihood: f64,
    iterations: usize,
    converged: bool,
    /// Covariance of the estimate in the optimiser's variables.
    covariance: Option<Vec<Vec<f64>>>,
}

/// Rows of the warm-start subsample.
const WARM_START_ROWS: usize = 3_000;

fn fit_kernel<K: Kernel>(
    kernel: &mut K,
    start: &[f64],
    options: &FitOptions,
    kind: ModelKind,
) -> Result<KernelFit, ModelError> {
    match kernel.dim() {
        0..=8 => fit_padded::<K, 8>(kernel, start, options, kind),
        9..=16 => fit_padded::<K, 16>(kernel, start, options, kind),
        17..=32 => fit_padded::<K, 32>(kernel, start, options, kind),
        d => Err(ModelError::InvalidArgument {
            name: "covariates",
            value: d as f64,
            reason: "at most 28 covariate coefficients",
        }),
    }
}

fn fit_padded<K: Kernel, const N: usize>(
    kernel: &mut K,
    start: &[f64],
    options: &FitOptions,
    kind: ModelKind,
) -> Result<KernelFit, ModelError> {
    let dim = kernel.dim();
    let mut x0 = [0.0; N];
    x0[..dim].copy_from_slice(start);
    let mut iterations = 0;
    // The subsample's optimum and its inverse Hessian (per customer, like the full data's)
    // start the full fit: BFGS from there needs a handful of evaluations of the full data.
    let mut h0 = None;
    if let Some(mut sub) = kernel.subsample(WARM_START_ROWS) {
        let mut padded = Padded::<K, N>(&mut sub);
        let mut pen = Penalized {
            inner: &mut padded,
            lambda: 0.0,
        };
        let r = minimize(&mut pen, x0, options.max_iterations, 1e-7, &mut Memory::empty());
        iterations += r.iterations;
        if r.f.is_finite() {
            x0 = r.x;
            h0 = hessian(&mut pen, &r.x, &r.g, dim).and_then(|h| cholesky_inverse(&h));
        }
    }
    let weight = kernel.total_weight();
    let mut padded = Padded::<K, N>(kernel);
    let mut pen = Penalized {
        inner: &mut padded,
        lambda: 0.0,
    };
    let res = match h0 {
        Some(h0) => refine(&mut pen, x0, &h0, options.max_iterations, options.tolerance, None),
        None => minimize(
            &mut pen,
            x0,
            options.max_iterations,
            options.tolerance,
            &mut Memory::empty(),
        ),
    };
    iterations += res.iterations;
    let gnorm = res.g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let ll = -res.f * weight;
    if !res.f.is_finite() || (!res.converged && options.require_convergence) {
        return Err(ModelError::NotConverged {
            model: kind,
            iterations,
            log_likelihood: ll.is_finite().then_some(ll),
            gradient_norm: gnorm.is_finite().then_some(gnorm),
        });
    }
    let covariance = hessian(&mut pen, &res.x, &res.g, dim)
        .and_then(|h| cholesky_inverse(&h))
        .map(|inv| {
            (0..dim)
                .map(|i| (0..dim).map(|j| inv[i][j] / weight).collect())
                .collect()
        });
    Ok(KernelFit {
        x: res.x[..dim].to_vec(),
        log_likelihood: ll,
        iterations,
        converged: res.converged,
        covariance,
    })
}

/// `λ (Σ_{j<base} e^{2 p_j} + Σ_{j≥base} p_j²)` added to `f` and its gradient to `g`: the
/// [`FitOptions::penalizer`] on the `base` parameters' natural scale and on the coefficients.
fn add_penalty(lambda: f64, base: usize, p: &[f64], f: &mut f64, g: &mut [f64]) {
    if lambda == 0.0 {
        return;
    }
    for (j, (&v, gj)) in p.iter().zip(g.iter_mut()).enumerate() {
        if j < base {
            let th2 = (2.0 * v).exp();
            *f += lambda * th2;
            *gj += 2.0 * lambda * th2;
        } else {
            *f += lambda * v * v;
            *gj += 2.0 * lambda * v;
        }
    }
}

/// `Σ_k γ_k z_k`.
fn dot(gamma: &[f64], z: &[f64]) -> f64 {
    gamma.iter().zip(z).map(|(g, z)| g * z).sum()
}

/// BG/NBD (or MBG/NBD) with covariates: the per-customer kernel.
struct BetaGeoCovKernel {
    variant: Variant,
    rows: CovRows,
    lambda: f64,
}

/// Row chunks of an evaluation: a constant, so the sums do not depend on the core count.
const EVAL_CHUNKS: usize = 8;
/// Rows below which an evaluation runs on the calling thread only.
const PARALLEL_ROWS: usize = 20_000;

/// The pattern-level constants of a BG/NBD evaluation. The dropout side is computed when a
/// row first needs it (customers without repeat purchases do not, under BG/NBD).
struct PatternTerms {
    alpha: f64,
    ln_alpha: f64,
    ln_a: f64,
    ln_b: f64,
    /// `(a, b, 1/a)`.
    dropout: Option<(f64, f64, f64)>,
    /// `(ln Γ(a+b) − ln Γ(b), ψ(a+b), ψ(b))`, for frequencies beyond [`SMALL_M`].
    special: Option<(f64, f64, f64)>,
}

impl PatternTerms {
    fn dropout(&mut self) -> (f64, f64, f64) {
        let (ln_a, ln_b) = (self.ln_a, self.ln_b);
        *self.dropout.get_or_insert_with(|| {
            let a = ln_a.exp();
            (a, ln_b.exp(), 1.0 / a)
        })
    }

    fn special(&mut self) -> (f64, f64, f64) {
        let (a, b, _) = self.dropout();
        *self
            .special
            .get_or_insert_with(|| (ln_gamma(a + b) - ln_gamma(b), digamma(a + b), digamma(b)))
    }
}

/// Up to this `m`, the beta ratios come from finite products (no special function).
const SMALL_M: f64 = 16.0;

impl BetaGeoCovKernel {
    fn dim(&self) -> usize {
        4 + self.rows.k1 + 2 * self.rows.k2
    }

    fn pattern_terms(&self, p: &[f64], pattern: usize) -> PatternTerms {
        let (k1, k2) = (self.rows.k1, self.rows.k2);
        let ln_alpha = p[1] - dot(&p[4..4 + k1], self.rows.z1_of(pattern));
        let ln_a = p[2] + dot(&p[4 + k1..4 + k1 + k2], self.rows.z2_of(pattern));
        let ln_b = p[3] + dot(&p[4 + k1 + k2..4 + k1 + 2 * k2], self.rows.z2_of(pattern));
        PatternTerms {
            alpha: ln_alpha.exp(),
            ln_alpha,
            ln_a,
            ln_b,
            dropout: None,
            special: None,
        }
    }

    /// The [`XTerms`] of `x` under a pattern, from FHL 2005 eq. 6's beta ratios with
    /// `m = x` (BG/NBD) or `x + 1` (MBG/NBD):
    ///
    /// `c1 = ln B(a, b+m)/B(a, b) = Σ_{j<m} [ln(b+j) − ln(a+b+j)]`,
    /// `c2 = ln B(a+1, b+m−1)/B(a, b) = ln a + Σ_{j<m−1} ln(b+j) − Σ_{j<m} ln(a+b+j)`,
    ///
    /// and their derivatives `∂c1/∂a = −Σ_{j<m} 1/(a+b+j)`, `∂c1/∂b = Σ_{j<m} 1/(b+j) + ∂c1/∂a`,
    /// `∂c2/∂a = 1/a + ∂c1/∂a`, `∂c2/∂b = Σ_{j<m−1} 1/(b+j) + ∂c1/∂a` — finite products and
    /// sums for `m ≤ 16` (most customers: no special function at all); beyond, the same through
    /// `ln Γ` and `ψ` (`ln Γ(b+m) = ln Γ(b+m−1) + ln(b+m−1)`, `ψ(b+m) = ψ(b+m−1) + 1/(b+m−1)`).
    fn x_terms(&self, r: f64, pt: &mut PatternTerms, x: f64, (lg_rx, dg_rx): (f64, f64)) -> XTerms {
        let rx = r + x;
        let k = lg_rx + r * pt.ln_alpha;
        let dk_dr = dg_rx + pt.ln_alpha;
        let two_terms = self.variant == Variant::Mbg || x > 0.0;
        if !two_terms {
            return XTerms {
                rx,
                k,
                dk_dr,
                ..XTerms::default()
            };
        }
        let m = match self.variant {
            Variant::Bg => x,
            Variant::Mbg => x + 1.0,
        };
        let (a, b, inv_a) = pt.dropout();
        // ln Γ(b+m−1) − ln Γ(b), ln Γ(a+b+m) − ln Γ(a+b) and the matching ψ differences.
        let mut diffs = None;
        if m <= SMALL_M {
            let (mut pb, mut pab, mut sb, mut sab) = (1.0, 1.0, 0.0, 0.0);
            let mut j = 0.0;
            while j < m {
                if j < m - 1.0 {
                    pb *= b + j;
                    sb += 1.0 / (b + j);
                }
                pab *= a + b + j;
                sab += 1.0 / (a + b + j);
                j += 1.0;
            }
            if pb.is_finite() && pab.is_finite() && pb > 0.0 {
                diffs = Some((pb.ln(), pab.ln(), sb, sab));
            }
        }
        let (g1, g2, p1, p2) = match diffs {
            Some(d) => d,
            None => {
                let (l0, dg_ab, dg_b) = pt.special();
                let bm1 = b + m - 1.0;
                // lnΓ(a+b) − lnΓ(b) = l0 carries the two ln Γ of the base.
                (
                    ln_gamma(bm1) - ln_gamma(b),
                    ln_gamma(a + b + m) - ln_gamma(b) - l0,
                    digamma(bm1) - dg_b,
                    digamma(a + b + m) - dg_ab,
                )
            }
        };
        let bm1 = b + m - 1.0;
        let (g1b, p1b) = (g1 + bm1.ln(), p1 + 1.0 / bm1);
        XTerms {
            rx,
            k,
            dk_dr,
            two_terms,
            c1: g1b - g2,
            c1a: -p2,
            c1b: p1b - p2,
            c2: pt.ln_a + g1 - g2,
            c2a: inv_a - p2,
            c2b: p1 - p2,
        }
    }

    /// The total log-likelihood of groups `groups` and its gradient in the optimiser's
    /// variables (`out[0]` the value, `out[1..]` the gradient).
    fn chunk(&self, p: &[f64], groups: &[Group], x_table: &[(f64, f64)]) -> Vec<f64> {
        let (k1, k2) = (self.rows.k1, self.rows.k2);
        let r = p[0].exp();
        let rows = &self.rows;
        let mut out = vec![0.0; 1 + self.dim()];
        let mut current: Option<(usize, PatternTerms)> = None;
        // Weighted sums of [∂r, ∂α, ∂a, ∂b] over the current pattern's rows.
        let mut acc = [0.0; 4];
        let flush = |out: &mut [f64], pattern: usize, pt: &PatternTerms, acc: &[f64; 4]| {
            let g = &mut out[1..];
            g[0] += r * acc[0];
            // Without a row that needed the dropout side, its sums are 0.
            let (a, b, _) = pt.dropout.unwrap_or((0.0, 0.0, 0.0));
            let (da, db, dc) = (pt.alpha * acc[1], a * acc[2], b * acc[3]);
            g[1] += da;
            g[2] += db;
            g[3] += dc;
            for (k, z) in rows.z1_of(pattern).iter().enumerate() {
                g[4 + k] -= da * z;
            }
            for (k, z) in rows.z2_of(pattern).iter().enumerate() {
                g[4 + k1 + k] += db * z;
                g[4 + k1 + k2 + k] += dc * z;
            }
        };
        for grp in groups {
            if current.as_ref().is_none_or(|c| c.0 != grp.pattern) {
                if let Some((pat, pt)) = &current {
                    flush(&mut out, *pat, pt, &acc);
                }
                acc = [0.0; 4];
                current = Some((grp.pattern, self.pattern_terms(p, grp.pattern)));
            }
            let pt = &mut current.as_mut().expect("set above").1;
            let xt = self.x_terms(r, pt, rows.xs[grp.xi], x_table[grp.xi]);
            let pt = &*pt;
            let logs = |y: f64| {
                let v = pt.alpha + y;
                (v.ln(), 1.0 / v)
            };
            let r_over_alpha = r / pt.alpha;
            for i in grp.start..grp.end {
                let v = BetaGeoObjective::row(&xt, r, r_over_alpha, logs(rows.t[i]), || logs(rows.t_x[i]));
                let wi = rows.w[i];
                out[0] += wi * v[0];
                for j in 0..4 {
                    acc[j] += wi * v[j + 1];
                }
            }
        }
        if let Some((pat, pt)) = &current {
            flush(&mut out, *pat, pt, &acc);
        }
        out
    }
}

impl Kernel for BetaGeoCovKernel {
    fn dim(&self) -> usize {
        BetaGeoCovKernel::dim(self)
    }

    fn eval(&mut self, p: &[f64], g: &mut [f64]) -> f64 {
        let r = p[0].exp();
        let (lg_r, dg_r) = (ln_gamma(r), digamma(r));
        let x_table: Vec<(f64, f64)> = self
            .rows
            .xs
            .iter()
            .map(|&x| (ln_gamma(r + x) - lg_r, digamma(r + x) - dg_r))
            .collect();
        // Chunks of groups holding about as many rows each.
        let groups = &self.rows.groups;
        let n = self.rows.len();
        let mut bounds = vec![0];
        for c in 1..EVAL_CHUNKS {
            let target = n * c / EVAL_CHUNKS;
            bounds.push(
                groups
                    .partition_point(|g| g.start < target)
                    .max(*bounds.last().unwrap_or(&0)),
            );
        }
        bounds.push(groups.len());
        let threads = crate::cores().min(EVAL_CHUNKS);
        let this = &*self;
        let sums: Vec<Vec<f64>> = if n < PARALLEL_ROWS || threads < 2 {
            bounds
                .windows(2)
                .map(|w| this.chunk(p, &groups[w[0]..w[1]], &x_table))
                .collect()
        } else {
            let mut sums = vec![vec![]; EVAL_CHUNKS];
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let (bounds, x_table) = (&bounds, &x_table);
                        scope.spawn(move || {
                            (t..EVAL_CHUNKS)
                                .step_by(threads)
                                .map(|c| (c, this.chunk(p, &groups[bounds[c]..bounds[c + 1]], x_table)))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                for h in handles {
                    for (c, v) in h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)) {
                        sums[c] = v;
                    }
                }
            });
            sums
        };
        let mut total = vec![0.0; 1 + self.dim()];
        for s in &sums {
            for (t, v) in total.iter_mut().zip(s) {
                *t += v;
            }
        }
        let scale = -1.0 / self.rows.total_weight;
        for (gj, t) in g.iter_mut().zip(&total[1..]) {
            *gj = t * scale;
        }
        let mut f = total[0] * scale;
        add_penalty(self.lambda, 4, p, &mut f, g);
        if !f.is_finite() || g.iter().any(|v| !v.is_finite()) {
            return f64::INFINITY;
        }
        f
    }

    fn total_weight(&self) -> f64 {
        self.rows.total_weight
    }

    fn subsample(&self, max_rows: usize) -> Option<Self> {
        Some(BetaGeoCovKernel {
            variant: self.variant,
            rows: self.rows.subsample(max_rows)?,
            lambda: self.lambda,
        })
    }
}

/// Pareto/NBD with covariates: one Pareto/NBD likelihood per covariate pattern, at the
/// pattern's `(r, α_p, s, β_p)`, its gradient chained into the coefficients.
struct ParetoCovKernel {
    rows: CovRows,
    /// Per pattern: its objective and its weight.
    parts: Vec<(ParetoObjective, f64)>,
    lambda: f64,
}

impl ParetoCovKernel {
    fn new(rows: CovRows, lambda: f64) -> Self {
        let mut parts = Vec::with_capacity(rows.patterns());
        let mut g = 0;
        while g < rows.groups.len() {
            let pattern = rows.groups[g].pattern;
            let start = rows.groups[g].start;
            while g < rows.groups.len() && rows.groups[g].pattern == pattern {
                g += 1;
            }
            let end = rows.groups[g - 1].end;
            let w = rows.w[start..end].to_vec();
            let total: f64 = w.iter().sum();
            let c = Compressed {
                k0: rows.x[start..end].to_vec(),
                k1: rows.t_x[start..end].to_vec(),
                k2: rows.t[start..end].to_vec(),
                w,
                total_weight: total,
            };
            parts.push((ParetoObjective::new(c), total));
        }
        ParetoCovKernel { rows, parts, lambda }
    }
}

impl Kernel for ParetoCovKernel {
    fn dim(&self) -> usize {
        4 + self.rows.k1 + self.rows.k2
    }

    fn eval(&mut self, p: &[f64], g: &mut [f64]) -> f64 {
        let (k1, k2) = (self.rows.k1, self.rows.k2);
        let rows = &self.rows;
        let eval_part = |pattern: usize, obj: &mut ParetoObjective| -> (f64, [f64; 4]) {
            let phi = [
                p[0],
                p[1] - dot(&p[4..4 + k1], rows.z1_of(pattern)),
                p[2],
                p[3] - dot(&p[4 + k1..4 + k1 + k2], rows.z2_of(pattern)),
            ];
            let mut gp = [0.0; 4];
            let f = obj.eval(&phi, &mut gp);
            (f, gp)
        };
        let threads = if self.parts.len() >= 2 {
            crate::cores().min(self.parts.len())
        } else {
            1
        };
        let per = self.parts.len().div_ceil(threads);
        let results: Vec<(f64, [f64; 4])> = if threads < 2 {
            self.parts
                .iter_mut()
                .enumerate()
                .map(|(i, (o, _))| eval_part(i, o))
                .collect()
        } else {
            let eval_part = &eval_part;
            std::thread::scope(|scope| {
                let handles: Vec<_> = self
                    .parts
                    .chunks_mut(per)
                    .enumerate()
                    .map(|(c, chunk)| {
                        scope.spawn(move || {
                            chunk
                                .iter_mut()
                                .enumerate()
                                .map(|(i, (o, _))| eval_part(c * per + i, o))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                    .collect()
            })
        };
        let total = self.rows.total_weight;
        let mut f = 0.0;
        g.fill(0.0);
        for (pattern, ((fp, gp), (_, wp))) in results.iter().zip(&self.parts).enumerate() {
            let share = wp / total;
            f += share * fp;
            g[0] += share * gp[0];
            g[1] += share * gp[1];
            g[2] += share * gp[2];
            g[3] += share * gp[3];
            for (k, z) in rows.z1_of(pattern).iter().enumerate() {
                g[4 + k] -= share * gp[1] * z;
            }
            for (k, z) in rows.z2_of(pattern).iter().enumerate() {
                g[4 + k1 + k] -= share * gp[3] * z;
            }
        }
        add_penalty(self.lambda, 4, p, &mut f, g);
        if !f.is_finite() || g.iter().any(|v| !v.is_finite()) {
            return f64::INFINITY;
        }
        f
    }

    fn total_weight(&self) -> f64 {
        self.rows.total_weight
    }

    fn subsample(&self, max_rows: usize) -> Option<Self> {
        Some(ParetoCovKernel::new(self.rows.subsample(max_rows)?, self.lambda))
    }
}

/// A covariate coefficient with its standard error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coefficient {
    /// The covariate's name.
    pub covariate: String,
    /// The parameter it scales: `"alpha"` (purchase), `"a"`, `"b"` (BG/NBD dropout) or `"beta"`
    /// (Pareto/NBD dropout).
    pub parameter: &'static str,
    /// The estimate γ.
    pub estimate: f64,
    /// Its standard error (`None` when the Hessian was not positive definite).
    pub std_error: Option<f64>,
    /// `γ / SE`.
    pub z: Option<f64>,
    /// Two-sided p-value of `γ = 0` (Wald test, normal reference).
    pub p_value: Option<f64>,
}

/// Diagnostics of a covariate fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CovariateFitReport {
    /// Log-likelihood at the estimate (without the penalty).
    pub log_likelihood: f64,
    /// Number of estimated parameters (4 + the coefficients).
    pub parameters: usize,
    /// Optimiser iterations (warm start included).
    pub iterations: usize,
    /// Whether the convergence criterion was met.
    pub converged: bool,
    /// Number of customers (sum of the weights).
    pub n_customers: f64,
    /// Penalizer used.
    pub penalizer: f64,
    /// Standard errors of the base parameters on their natural scale (in the order of the
    /// paper), `None` when the Hessian was not positive definite.
    pub base_standard_errors: Option<Vec<f64>>,
    /// Covariance matrix of the optimiser's variables: the logarithms of the base parameters
    /// (`r, α₀, a₀, b₀`; `r, α₀, s, β₀`; `p, q, γ₀`), then the coefficients in the order of
    /// [`FittedBgNbdCovariates::coefficients`] (and the others').
    pub covariance: Option<Vec<Vec<f64>>>,
}

/// Coefficient blocks of a fitted covariate model: `(parameter, names, values, offset)`.
fn coefficients_of(
    report: Option<&CovariateFitReport>,
    blocks: &[(&'static str, &[String], &[f64], usize)],
) -> Vec<Coefficient> {
    let mut out = vec![];
    for &(parameter, names, values, offset) in blocks {
        for (k, (name, &v)) in names.iter().zip(values).enumerate() {
            let se = report
                .and_then(|r| r.covariance.as_ref())
                .map(|c| c[offset + k][offset + k].sqrt())
                .filter(|s| s.is_finite() && *s > 0.0);
            let z = se.map(|s| v / s);
            out.push(Coefficient {
                covariate: name.clone(),
                parameter,
                estimate: v,
                std_error: se,
                z,
                p_value: z.map(|z| 2.0 * normal_cdf(-z.abs())),
            });
        }
    }
    out
}

/// The report of a [`KernelFit`] whose first `base` parameters are logarithms.
fn report_of(fit: &KernelFit, base: usize, n_customers: f64, penalizer: f64) -> CovariateFitReport {
    let base = fit.covariance.as_ref().and_then(|c| {
        let se: Vec<f64> = (0..base).map(|j| fit.x[j].exp() * c[j][j].sqrt()).collect();
        se.iter().all(|v| v.is_finite()).then_some(se)
    });
    CovariateFitReport {
        log_likelihood: fit.log_likelihood,
        parameters: fit.x.len(),
        iterations: fit.iterations,
        converged: fit.converged,
        n_customers,
        penalizer,
        base_standard_errors: base,
        covariance: fit.covariance.clone(),
    }
}

/// A named coefficient block: as many names as values, all finite.
fn check_block(field: &'static str, names: &[String], values: &[f64]) -> Result<(), ModelError> {
    if names.len() != values.len() {
        return Err(ModelError::LengthMismatch {
            field,
            expected: names.len(),
            found: values.len(),
        });
    }
    if let Some(&value) = values.iter().find(|v| !v.is_finite()) {
        return Err(ModelError::InvalidArgument {
            name: field,
            value,
            reason: "a coefficient must be finite",
        });
    }
    Ok(())
}

/// Checks a customer's covariate vectors against the model's.
fn check_vectors(purchase: &[f64], k1: usize, dropout: &[f64], k2: usize) -> Result<(), ModelError> {
    for (field, v, k) in [
        ("purchase covariates", purchase, k1),
        ("dropout covariates", dropout, k2),
    ] {
        if v.len() != k {
            return Err(ModelError::LengthMismatch {
                field,
                expected: k,
                found: v.len(),
            });
        }
        if let Some((column, &value)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            return Err(ModelError::InvalidCovariate { column, row: 0, value });
        }
    }
    Ok(())
}

/// Scores every customer with the model of their covariates (one model per distinct covariate
/// vector).
fn score_by_pattern<M>(
    purchase: &Covariates,
    dropout: &Covariates,
    x: &[f64],
    t_x: &[f64],
    T: &[f64],
    model_of: impl Fn(&[f64], &[f64]) -> Result<M, ModelError>,
    score: impl Fn(&M, f64, f64, f64) -> Result<f64, ModelError>,
) -> Result<Vec<f64>, ModelError> {
    let n = x.len();
    for (field, len) in [("recency", t_x.len()), ("T", T.len())] {
        if len != n {
            return Err(ModelError::LengthMismatch {
                field,
                expected: n,
                found: len,
            });
        }
    }
    for_each_customer(purchase, dropout, n, model_of, |i, m| {
        check_rft(i, x[i], t_x[i], T[i])?;
        score(m, x[i], t_x[i], T[i])
    })
}

/// `each(i, model of customer i's covariates)` for `i < n`, one model per distinct covariate
/// vector.
fn for_each_customer<M>(
    purchase: &Covariates,
    dropout: &Covariates,
    n: usize,
    model_of: impl Fn(&[f64], &[f64]) -> Result<M, ModelError>,
    mut each: impl FnMut(usize, &M) -> Result<f64, ModelError>,
) -> Result<Vec<f64>, ModelError> {
    for (field, rows) in [
        ("purchase covariates", purchase.rows()),
        ("dropout covariates", dropout.rows()),
    ] {
        if rows != n {
            return Err(ModelError::LengthMismatch {
                field,
                expected: n,
                found: rows,
            });
        }
    }
    let mut models: std::collections::HashMap<Vec<u64>, M> = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let zp: Vec<f64> = (0..purchase.len()).map(|c| purchase.value(c, i)).collect();
        let zd: Vec<f64> = (0..dropout.len()).map(|c| dropout.value(c, i)).collect();
        let key: Vec<u64> = zp.iter().chain(&zd).map(|v| (v + 0.0).to_bits()).collect();
        if !models.contains_key(&key) {
            models.insert(key.clone(), model_of(&zp, &zd)?);
        }
        out.push(each(i, &models[&key])?);
    }
    Ok(out)
}

/// The report methods every fitted covariate model has (they need `coefficient_count` and
/// the field `report`).
macro_rules! covariate_report_methods {
    () => {
        /// Fit diagnostics (`None` for a model built from parameters).
        pub fn fit_report(&self) -> Option<&CovariateFitReport> {
            self.report.as_ref()
        }
        /// Log-likelihood at the estimate, if fitted.
        pub fn log_likelihood(&self) -> Option<f64> {
            self.report.as_ref().map(|r| r.log_likelihood)
        }
        /// Likelihood-ratio test of the model without covariates (log-likelihood `without`,
        /// fitted on the same customers) against this one: `df` = the number of coefficients,
        /// interior nesting (`γ = 0`).
        pub fn likelihood_ratio_test(&self, without: f64) -> Result<LikelihoodRatioTest, ModelError> {
            let with = self.log_likelihood().ok_or(ModelError::InvalidArgument {
                name: "model",
                value: f64::NAN,
                reason: "a likelihood-ratio test needs a fitted model (this one was built from parameters)",
            })?;
            likelihood_ratio_test(
                without,
                with,
                Nesting::Interior {
                    df: self.coefficient_count(),
                },
            )
        }
    };
}

/// The prediction methods both fitted transaction models with covariates share (they need
/// `customer_model` and the field `time_unit`).
macro_rules! covariate_model_methods {
    () => {
        covariate_report_methods!();

        /// Time unit.
        pub fn time_unit(&self) -> TimeUnit {
            self.time_unit
        }

        /// P(alive) of every customer from their covariates and history (model units).
        pub fn p_alive_many(
            &self,
            purchase: &Covariates,
            dropout: &Covariates,
            x: &[f64],
            t_x: &[f64],
            T: &[f64],
        ) -> Result<Vec<f64>, ModelError> {
            score_by_pattern(
                purchase,
                dropout,
                x,
                t_x,
                T,
                |a, b| self.customer_model(a, b),
                |m, x, t_x, T| m.p_alive(x, t_x, T),
            )
        }

        /// Expected purchases in `(T, T + t]` of every customer from their covariates and
        /// history.
        pub fn expected_purchases_many(
            &self,
            t: f64,
            purchase: &Covariates,
            dropout: &Covariates,
            x: &[f64],
            t_x: &[f64],
            T: &[f64],
        ) -> Result<Vec<f64>, ModelError> {
            score_by_pattern(
                purchase,
                dropout,
                x,
                t_x,
                T,
                |a, b| self.customer_model(a, b),
                |m, x, t_x, T| m.expected_purchases(t, x, t_x, T),
            )
        }
    };
}

/// BG/NBD with static covariates (builder). Defaults: [`FitOptions`].
#[derive(Debug, Clone, Default)]
pub struct BgNbdCovariates {
    options: FitOptions,
}

impl BgNbdCovariates {
    /// A fitter with default options.
    pub fn new() -> Self {
        Self::default()
    }
    fit_builder_methods!();

    /// Maximum-likelihood fit of BG/NBD with `purchase` covariates on α and `dropout` covariates
    /// on a and b (see the module docs), started at the fit without covariates.
    ///
    /// # Errors
    /// As [`BgNbd::fit`]; [`ModelError::LengthMismatch`] or [`ModelError::InvalidCovariate`] for
    /// bad covariates; [`ModelError::InvalidArgument`] for more than 28 coefficients.
    pub fn fit(
        &self,
        data: &TransactionSummary,
        purchase: &Covariates,
        dropout: &Covariates,
    ) -> Result<FittedBgNbdCovariates, ModelError> {
        let rows = CovRows::new(data, purchase, dropout)?;
        let plain = BgNbd::new()
            .penalizer(self.options.penalizer)
            .require_convergence(false)
            .fit(data)?;
        let mut start = plain.params().to_array().map(f64::ln).to_vec();
        start.resize(4 + purchase.len() + 2 * dropout.len(), 0.0);
        let n = rows.total_weight;
        let mut kernel = BetaGeoCovKernel {
            variant: Variant::Bg,
            rows,
            lambda: self.options.penalizer,
        };
        let fit = fit_kernel(&mut kernel, &start, &self.options, ModelKind::BgNbd)?;
        let (k1, k2) = (purchase.len(), dropout.len());
        let x = &fit.x;
        Ok(FittedBgNbdCovariates {
            params: BgNbdParams::from_array([x[0].exp(), x[1].exp(), x[2].exp(), x[3].exp()]),
            purchase_names: purchase.names().to_vec(),
            dropout_names: dropout.names().to_vec(),
            gamma_purchase: x[4..4 + k1].to_vec(),
            gamma_a: x[4 + k1..4 + k1 + k2].to_vec(),
            gamma_b: x[4 + k1 + k2..].to_vec(),
            time_unit: data.time_unit(),
            report: Some(report_of(&fit, 4, n, self.options.penalizer)),
        })
    }
}

/// A fitted BG/NBD model with static covariates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FittedBgNbdCovariates {
    params: BgNbdParams,
    purchase_names: Vec<String>,
    dropout_names: Vec<String>,
    gamma_purchase: Vec<f64>,
    gamma_a: Vec<f64>,
    gamma_b: Vec<f64>,
    time_unit: TimeUnit,
    report: Option<CovariateFitReport>,
}

impl FittedBgNbdCovariates {
    /// A model with known parameters (no fit report): base parameters `(r, α₀, a₀, b₀)`, the
    /// purchase coefficients on α and the dropout coefficients on a and b, named.
    pub fn from_params(
        params: BgNbdParams,
        purchase: (Vec<String>, Vec<f64>),
        dropout: (Vec<String>, Vec<f64>, Vec<f64>),
        time_unit: TimeUnit,
    ) -> Result<Self, ModelError> {
        params.validate()?;
        let (purchase_names, gamma_purchase) = purchase;
        let (dropout_names, gamma_a, gamma_b) = dropout;
        check_block("purchase coefficients", &purchase_names, &gamma_purchase)?;
        check_block("dropout coefficients on a", &dropout_names, &gamma_a)?;
        check_block("dropout coefficients on b", &dropout_names, &gamma_b)?;
        Ok(FittedBgNbdCovariates {
            params,
            purchase_names,
            dropout_names,
            gamma_purchase,
            gamma_a,
            gamma_b,
            time_unit,
            report: None,
        })
    }

    /// The base parameters `(r, α₀, a₀, b₀)`: a customer whose covariates are all 0 has these.
    pub fn params(&self) -> BgNbdParams {
        self.params
    }
    /// Purchase coefficients γ₁ (on α), in the order of the purchase covariates.
    pub fn purchase_coefficients(&self) -> &[f64] {
        &self.gamma_purchase
    }
    /// Dropout coefficients `(γ_a, γ_b)`, in the order of the dropout covariates.
    pub fn dropout_coefficients(&self) -> (&[f64], &[f64]) {
        (&self.gamma_a, &self.gamma_b)
    }
    covariate_model_methods!();

    fn coefficient_count(&self) -> usize {
        self.gamma_purchase.len() + self.gamma_a.len() + self.gamma_b.len()
    }

    /// Every coefficient with its standard error, z and Wald p-value: purchase (`alpha`), then
    /// dropout on `a`, then on `b`.
    pub fn coefficients(&self) -> Vec<Coefficient> {
        let (k1, k2) = (self.gamma_purchase.len(), self.gamma_a.len());
        coefficients_of(
            self.report.as_ref(),
            &[
                ("alpha", &self.purchase_names, &self.gamma_purchase, 4),
                ("a", &self.dropout_names, &self.gamma_a, 4 + k1),
                ("b", &self.dropout_names, &self.gamma_b, 4 + k1 + k2),
            ],
        )
    }

    /// The parameters of a customer with covariates `purchase` and `dropout` (in the order
    /// fitted): `α₀e^{−γ₁ᵀz₁}`, `a₀e^{γ_aᵀz₂}`, `b₀e^{γ_bᵀz₂}`.
    pub fn customer_params(&self, purchase: &[f64], dropout: &[f64]) -> Result<BgNbdParams, ModelError> {
        check_vectors(purchase, self.gamma_purchase.len(), dropout, self.gamma_a.len())?;
        let p = self.params;
        let params = BgNbdParams {
            r: p.r,
            alpha: p.alpha * (-dot(&self.gamma_purchase, purchase)).exp(),
            a: p.a * dot(&self.gamma_a, dropout).exp(),
            b: p.b * dot(&self.gamma_b, dropout).exp(),
        };
        params.validate()?;
        Ok(params)
    }

    /// The BG/NBD model of a customer with these covariates (every prediction of
    /// [`FittedBgNbd`] is then available).
    pub fn customer_model(&self, purchase: &[f64], dropout: &[f64]) -> Result<FittedBgNbd, ModelError> {
        FittedBgNbd::from_params(self.customer_params(purchase, dropout)?, self.time_unit)
    }

    /// Total log-likelihood of `data` with these covariates under the fitted parameters.
    pub fn log_likelihood_of(
        &self,
        data: &TransactionSummary,
        purchase: &Covariates,
        dropout: &Covariates,
    ) -> Result<f64, ModelError> {
        let rows = CovRows::new(&data.to_unit(self.time_unit), purchase, dropout)?;
        let mut kernel = BetaGeoCovKernel {
            variant: Variant::Bg,
            rows,
            lambda: 0.0,
        };
        let mut p = self.params.to_array().map(f64::ln).to_vec();
        p.extend(&self.gamma_purchase);
        p.extend(&self.gamma_a);
        p.extend(&self.gamma_b);
        covariate_log_likelihood(&mut kernel, &p)
    }
}

/// `−W ×` the kernel's mean objective at `p`.
fn covariate_log_likelihood<K: Kernel>(kernel: &mut K, p: &[f64]) -> Result<f64, ModelError> {
    if p.len() != kernel.dim() {
        return Err(ModelError::LengthMismatch {
            field: "coefficients",
            expected: kernel.dim(),
            found: p.len(),
        });
    }
    let mut g = vec![0.0; p.len()];
    finite(-kernel.eval(p, &mut g) * kernel.total_weight(), "log-likelihood")
}

/// Pareto/NBD with static covariates (builder). Defaults: [`FitOptions`].
#[derive(Debug, Clone, Default)]
pub struct ParetoNbdCovariates {
    options: FitOptions,
}

impl ParetoNbdCovariates {
    /// A fitter with default options.
    pub fn new() -> Self {
        Self::default()
    }
    fit_builder_methods!();

    /// Maximum-likelihood fit of Pareto/NBD with `purchase` covariates on α and `dropout`
    /// covariates on β (see the module docs), started at the fit without covariates.
    ///
    /// # Errors
    /// As [`ParetoNbd::fit`] and [`BgNbdCovariates::fit`].
    pub fn fit(
        &self,
        data: &TransactionSummary,
        purchase: &Covariates,
        dropout: &Covariates,
    ) -> Result<FittedParetoNbdCovariates, ModelError> {
        let rows = CovRows::new(data, purchase, dropout)?;
        let plain = ParetoNbd::new()
            .penalizer(self.options.penalizer)
            .require_convergence(false)
            .fit(data)?;
        let b = plain.params();
        let mut start = vec![b.r.ln(), b.alpha.ln(), b.s.ln(), b.beta.ln()];
        start.resize(4 + purchase.len() + dropout.len(), 0.0);
        let n = rows.total_weight;
        let mut kernel = ParetoCovKernel::new(rows, self.options.penalizer);
        let fit = fit_kernel(&mut kernel, &start, &self.options, ModelKind::ParetoNbd)?;
        let k1 = purchase.len();
        let x = &fit.x;
        Ok(FittedParetoNbdCovariates {
            params: ParetoNbdParams {
                r: x[0].exp(),
                alpha: x[1].exp(),
                s: x[2].exp(),
                beta: x[3].exp(),
            },
            purchase_names: purchase.names().to_vec(),
            dropout_names: dropout.names().to_vec(),
            gamma_purchase: x[4..4 + k1].to_vec(),
            gamma_dropout: x[4 + k1..].to_vec(),
            time_unit: data.time_unit(),
            report: Some(report_of(&fit, 4, n, self.options.penalizer)),
        })
    }
}

/// A fitted Pareto/NBD model with static covariates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FittedParetoNbdCovariates {
    params: ParetoNbdParams,
    purchase_names: Vec<String>,
    dropout_names: Vec<String>,
    gamma_purchase: Vec<f64>,
    gamma_dropout: Vec<f64>,
    time_unit: TimeUnit,
    report: Option<CovariateFitReport>,
}

impl FittedParetoNbdCovariates {
    /// A model with known parameters (no fit report): base parameters `(r, α₀, s, β₀)`, the
    /// purchase coefficients on α and the dropout coefficients on β, named.
    pub fn from_params(
        params: ParetoNbdParams,
        purchase: (Vec<String>, Vec<f64>),
        dropout: (Vec<String>, Vec<f64>),
        time_unit: TimeUnit,
    ) -> Result<Self, ModelError> {
        FittedParetoNbd::from_params(params, time_unit)?;
        let (purchase_names, gamma_purchase) = purchase;
        let (dropout_names, gamma_dropout) = dropout;
        check_block("purchase coefficients", &purchase_names, &gamma_purchase)?;
        check_block("dropout coefficients", &dropout_names, &gamma_dropout)?;
        Ok(FittedParetoNbdCovariates {
            params,
            purchase_names,
            dropout_names,
            gamma_purchase,
            gamma_dropout,
            time_unit,
            report: None,
        })
    }

    /// The base parameters `(r, α₀, s, β₀)`.
    pub fn params(&self) -> ParetoNbdParams {
        self.params
    }
    /// Purchase coefficients γ₁ (on α).
    pub fn purchase_coefficients(&self) -> &[f64] {
        &self.gamma_purchase
    }
    /// Dropout coefficients γ₂ (on β).
    pub fn dropout_coefficients(&self) -> &[f64] {
        &self.gamma_dropout
    }
    covariate_model_methods!();

    fn coefficient_count(&self) -> usize {
        self.gamma_purchase.len() + self.gamma_dropout.len()
    }

    /// Every coefficient with its standard error: purchase (`alpha`), then dropout (`beta`).
    pub fn coefficients(&self) -> Vec<Coefficient> {
        let k1 = self.gamma_purchase.len();
        coefficients_of(
            self.report.as_ref(),
            &[
                ("alpha", &self.purchase_names, &self.gamma_purchase, 4),
                ("beta", &self.dropout_names, &self.gamma_dropout, 4 + k1),
            ],
        )
    }
    /// A customer's parameters: `α₀e^{−γ₁ᵀz₁}`, `β₀e^{−γ₂ᵀz₂}`.
    pub fn customer_params(&self, purchase: &[f64], dropout: &[f64]) -> Result<ParetoNbdParams, ModelError> {
        check_vectors(purchase, self.gamma_purchase.len(), dropout, self.gamma_dropout.len())?;
        let p = self.params;
        let params = ParetoNbdParams {
            r: p.r,
            alpha: p.alpha * (-dot(&self.gamma_purchase, purchase)).exp(),
            s: p.s,
            beta: p.beta * (-dot(&self.gamma_dropout, dropout)).exp(),
        };
        for (name, v) in [("alpha", params.alpha), ("beta", params.beta)] {
            super::check_param(name, v)?;
        }
        Ok(params)
    }
    /// The Pareto/NBD model of a customer with these covariates.
    pub fn customer_model(&self, purchase: &[f64], dropout: &[f64]) -> Result<FittedParetoNbd, ModelError> {
        FittedParetoNbd::from_params(self.customer_params(purchase, dropout)?, self.time_unit)
    }
    /// Total log-likelihood of `data` with these covariates under the fitted parameters.
    pub fn log_likelihood_of(
        &self,
        data: &TransactionSummary,
        purchase: &Covariates,
        dropout: &Covariates,
    ) -> Result<f64, ModelError> {
        let rows = CovRows::new(&data.to_unit(self.time_unit), purchase, dropout)?;
        let mut kernel = ParetoCovKernel::new(rows, 0.0);
        let p = self.params;
        let mut v = vec![p.r.ln(), p.alpha.ln(), p.s.ln(), p.beta.ln()];
        v.extend(&self.gamma_purchase);
        v.extend(&self.gamma_dropout);
        covariate_log_likelihood(&mut kernel, &v)
    }
}

/// Gamma-Gamma with covariates on the scale of spend (the stretch goal; no published
/// parameterisation): `γ_i = γ₀ · exp(δᵀ zᵢ)`, so that a customer's population mean spend per
/// transaction `p γ_i/(q−1)` is `p γ₀/(q−1) · exp(δᵀzᵢ)` — a **positive** coefficient means
/// **higher** spend. `p` and `q` carry no covariates. Likelihood: the Gamma-Gamma density of z̄
/// (Fader & Hardie 2013, note 025, as in [`crate::gamma_gamma`]) at each customer's `γ_i`,
/// over the customers with `x > 0`.
struct GammaGammaCovKernel {
    rows: CovRows,
    lambda: f64,
}

impl Kernel for GammaGammaCovKernel {
    fn dim(&self) -> usize {
        3 + self.rows.k1
    }

    fn eval(&mut self, p: &[f64], g: &mut [f64]) -> f64 {
        let (pp, q) = (p[0].exp(), p[1].exp());
        let (lg_q, dg_q) = (ln_gamma(q), digamma(q));
        let rows = &self.rows;
        // Per distinct x: the head `ln Γ(px+q) − ln Γ(px) − ln Γ(q) + px ln x` and its
        // derivatives in p and q.
        let table: Vec<(f64, f64, f64)> = rows
            .xs
            .iter()
            .map(|&x| {
                let px = pp * x;
                let dg = digamma(px + q);
                (
                    ln_gamma(px + q) - ln_gamma(px) - lg_q + px * x.ln(),
                    x * (dg - digamma(px) + x.ln()),
                    dg - dg_q,
                )
            })
            .collect();
        let mut total = vec![0.0; 1 + self.dim()];
        for grp in &rows.groups {
            let z = rows.z1_of(grp.pattern);
            let ln_g = p[2] + dot(&p[3..], z);
            let gm = ln_g.exp();
            let x = rows.xs[grp.xi];
            let px = pp * x;
            let (head, dh_dp, dh_dq) = table[grp.xi];
            let (mut ll, mut dp, mut dq, mut dg) = (0.0, 0.0, 0.0, 0.0);
            for i in grp.start..grp.end {
                let (w, zbar) = (rows.w[i], rows.t_x[i]);
                let den = gm + x * zbar;
                let (lz, ld) = (zbar.ln(), den.ln());
                ll += w * (head + q * ln_g + (px - 1.0) * lz - (px + q) * ld);
                dp += w * (dh_dp + x * (lz - ld));
                dq += w * (dh_dq + ln_g - ld);
                dg += w * (q / gm - (px + q) / den);
            }
            total[0] += ll;
            total[1] += pp * dp;
            total[2] += q * dq;
            total[3] += gm * dg;
            for (k, zk) in z.iter().enumerate() {
                total[4 + k] += gm * dg * zk;
            }
        }
        let scale = -1.0 / rows.total_weight;
        for (gj, t) in g.iter_mut().zip(&total[1..]) {
            *gj = t * scale;
        }
        let mut f = total[0] * scale;
        add_penalty(self.lambda, 3, p, &mut f, g);
        if !f.is_finite() || g.iter().any(|v| !v.is_finite()) {
            return f64::INFINITY;
        }
        f
    }

    fn total_weight(&self) -> f64 {
        self.rows.total_weight
    }

    fn subsample(&self, max_rows: usize) -> Option<Self> {
        Some(GammaGammaCovKernel {
            rows: self.rows.subsample(max_rows)?,
            lambda: self.lambda,
        })
    }
}

/// The spend rows of `spend` (customers with `x > 0`) with their covariates.
fn spend_rows(spend: &SpendSummary, covariates: &Covariates) -> Result<CovRows, ModelError> {
    let x = spend.frequency();
    let w: Vec<f64> = (0..spend.len())
        .map(|i| if x[i] > 0.0 { spend.weights()[i] } else { 0.0 })
        .collect();
    let zeros = vec![0.0; spend.len()];
    let rows = CovRows::from_columns(
        [x, spend.monetary(), &zeros],
        &w,
        covariates,
        &Covariates::none(spend.len()),
    )?;
    if rows.len() == 0 {
        return Err(ModelError::NoRepeatPurchases);
    }
    Ok(rows)
}

/// Gamma-Gamma with static covariates on the spend scale (builder). Defaults: [`FitOptions`].
#[derive(Debug, Clone, Default)]
pub struct GammaGammaCovariates {
    options: FitOptions,
}

impl GammaGammaCovariates {
    /// A fitter with default options.
    pub fn new() -> Self {
        Self::default()
    }
    fit_builder_methods!();

    /// Maximum-likelihood fit on the customers with `x > 0` (see [`GammaGammaCovKernel`]'s
    /// parameterisation in [`FittedGammaGammaCovariates`]), started at the fit without
    /// covariates.
    ///
    /// # Errors
    /// As [`GammaGamma::fit`] and [`BgNbdCovariates::fit`].
    pub fn fit(&self, spend: &SpendSummary, covariates: &Covariates) -> Result<FittedGammaGammaCovariates, ModelError> {
        let rows = spend_rows(spend, covariates)?;
        let plain = GammaGamma::new()
            .penalizer(self.options.penalizer)
            .require_convergence(false)
            .fit(spend)?;
        let b = plain.params();
        let mut start = vec![b.p.ln(), b.q.ln(), b.gamma.ln()];
        start.resize(3 + covariates.len(), 0.0);
        let n = rows.total_weight;
        let mut kernel = GammaGammaCovKernel {
            rows,
            lambda: self.options.penalizer,
        };
        let fit = fit_kernel(&mut kernel, &start, &self.options, ModelKind::GammaGamma)?;
        let x = &fit.x;
        Ok(FittedGammaGammaCovariates {
            params: GammaGammaParams {
                p: x[0].exp(),
                q: x[1].exp(),
                gamma: x[2].exp(),
            },
            names: covariates.names().to_vec(),
            delta: x[3..].to_vec(),
            report: Some(report_of(&fit, 3, n, self.options.penalizer)),
        })
    }
}

/// A fitted Gamma-Gamma model with covariates on the spend scale:
/// `γ_i = γ₀ · exp(δᵀ zᵢ)`; a customer's mean spend per transaction scales with `exp(δᵀzᵢ)`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FittedGammaGammaCovariates {
    params: GammaGammaParams,
    names: Vec<String>,
    delta: Vec<f64>,
    report: Option<CovariateFitReport>,
}

impl FittedGammaGammaCovariates {
    /// A model with known parameters (no fit report): `(p, q, γ₀)` and the named coefficients δ.
    pub fn from_params(params: GammaGammaParams, names: Vec<String>, delta: Vec<f64>) -> Result<Self, ModelError> {
        FittedGammaGamma::from_params(params)?;
        check_block("spend coefficients", &names, &delta)?;
        Ok(FittedGammaGammaCovariates {
            params,
            names,
            delta,
            report: None,
        })
    }

    covariate_report_methods!();

    fn coefficient_count(&self) -> usize {
        self.delta.len()
    }

    /// The base parameters `(p, q, γ₀)`.
    pub fn params(&self) -> GammaGammaParams {
        self.params
    }
    /// The coefficients δ, in the order of the covariates.
    pub fn spend_coefficients(&self) -> &[f64] {
        &self.delta
    }
    /// Every coefficient (on `"gamma"`) with its standard error, z and Wald p-value.
    pub fn coefficients(&self) -> Vec<Coefficient> {
        coefficients_of(self.report.as_ref(), &[("gamma", &self.names, &self.delta, 3)])
    }
    /// A customer's parameters: `(p, q, γ₀e^{δᵀz})`.
    pub fn customer_params(&self, covariates: &[f64]) -> Result<GammaGammaParams, ModelError> {
        check_vectors(covariates, self.delta.len(), &[], 0)?;
        let p = self.params;
        let params = GammaGammaParams {
            gamma: p.gamma * dot(&self.delta, covariates).exp(),
            ..p
        };
        super::check_param("gamma", params.gamma)?;
        Ok(params)
    }
    /// The Gamma-Gamma model of a customer with these covariates.
    pub fn customer_model(&self, covariates: &[f64]) -> Result<FittedGammaGamma, ModelError> {
        FittedGammaGamma::from_params(self.customer_params(covariates)?)
    }
    /// Conditional expected spend per transaction of every customer (`x`, mean repeat spend
    /// `zbar`, and covariates; see [`FittedGammaGamma::conditional_expected_spend`]).
    pub fn conditional_expected_spend_many(
        &self,
        covariates: &Covariates,
        x: &[f64],
        zbar: &[f64],
    ) -> Result<Vec<f64>, ModelError> {
        if zbar.len() != x.len() {
            return Err(ModelError::LengthMismatch {
                field: "zbar",
                expected: x.len(),
                found: zbar.len(),
            });
        }
        for_each_customer(
            covariates,
            &Covariates::none(x.len()),
            x.len(),
            |z, _| self.customer_model(z),
            |i, m| m.conditional_expected_spend(x[i], zbar[i]),
        )
    }
    /// Total log-likelihood (density-of-z̄ convention) of the customers of `spend` with
    /// `x > 0` under the fitted parameters.
    pub fn log_likelihood_of(&self, spend: &SpendSummary, covariates: &Covariates) -> Result<f64, ModelError> {
        let mut kernel = GammaGammaCovKernel {
            rows: spend_rows(spend, covariates)?,
            lambda: 0.0,
        };
        let p = self.params;
        let mut v = vec![p.p.ln(), p.q.ln(), p.gamma.ln()];
        v.extend(&self.delta);
        covariate_log_likelihood(&mut kernel, &v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> (TransactionSummary, Covariates, Covariates) {
        let rows = [
            (0.0, 0.0, 30.0),
            (2.0, 10.0, 30.0),
            (5.0, 29.0, 31.0),
            (1.0, 0.5, 12.0),
            (0.0, 0.0, 2.0),
            (3.0, 20.0, 25.0),
            (2.0, 10.0, 30.0),
            // Beyond the finite products: the ln Γ / ψ path.
            (25.0, 28.0, 31.0),
        ];
        let s = TransactionSummary::from_rows(&rows, TimeUnit::Week).unwrap();
        let z1 = Covariates::new(
            vec!["z1".into()],
            vec![vec![0.5, -1.0, 0.0, 2.0, 0.3, 1.0, -1.0, 0.4]],
            8,
        )
        .unwrap();
        let z2 = Covariates::new(
            vec!["u".into(), "v".into()],
            vec![
                vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0],
                vec![0.2, -0.4, 1.5, 0.0, -1.0, 0.7, -0.4, 0.3],
            ],
            8,
        )
        .unwrap();
        (s, z1, z2)
    }

    fn check_kernel<K: Kernel>(k: &mut K, p: &[f64]) {
        let mut g = vec![0.0; p.len()];
        k.eval(p, &mut g);
        for j in 0..p.len() {
            let h = 1e-6;
            let (mut a, mut b) = (p.to_vec(), p.to_vec());
            a[j] += h;
            b[j] -= h;
            let mut tmp = vec![0.0; p.len()];
            let fd = (k.eval(&a, &mut tmp) - k.eval(&b, &mut tmp)) / (2.0 * h);
            assert!(
                (fd - g[j]).abs() < 1e-6 * (1.0 + fd.abs()),
                "component {j}: analytic {} fd {fd}",
                g[j]
            );
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let (s, z1, z2) = toy();
        let p = [
            0.3f64.ln(),
            4.0f64.ln(),
            0.8f64.ln(),
            2.5f64.ln(),
            0.3,
            -0.2,
            0.4,
            0.1,
            -0.5,
        ];
        for variant in [Variant::Bg, Variant::Mbg] {
            let mut k = BetaGeoCovKernel {
                variant,
                rows: CovRows::new(&s, &z1, &z2).unwrap(),
                lambda: 0.01,
            };
            check_kernel(&mut k, &p);
        }
        let mut k = ParetoCovKernel::new(CovRows::new(&s, &z1, &z2).unwrap(), 0.01);
        let p = [0.55f64.ln(), 10.6f64.ln(), 0.6f64.ln(), 11.7f64.ln(), 0.3, -0.2, 0.4];
        check_kernel(&mut k, &p);
    }

    #[test]
    fn gamma_gamma_kernel_gradient_and_plain_likelihood() {
        let spend = SpendSummary::new(
            vec![1.0, 2.0, 2.0, 7.0, 0.0, 3.0],
            vec![10.0, 22.5, 30.0, 14.0, 0.0, 19.0],
        )
        .unwrap();
        let z = Covariates::new(vec!["z".into()], vec![vec![0.5, -1.0, 0.0, 2.0, 9.0, 1.0]], 6).unwrap();
        let mut k = GammaGammaCovKernel {
            rows: spend_rows(&spend, &z).unwrap(),
            lambda: 0.01,
        };
        check_kernel(&mut k, &[6.2f64.ln(), 3.7f64.ln(), 15.4f64.ln(), 0.3]);
        // δ = 0: the plain Gamma-Gamma likelihood (the x = 0 customer left out by both).
        k.lambda = 0.0;
        let theta = [6.2f64, 3.7, 15.4];
        let mut g = vec![0.0; 4];
        let f = k.eval(&[theta[0].ln(), theta[1].ln(), theta[2].ln(), 0.0], &mut g);
        let mut plain = super::super::gamma_gamma::GgObjective::new(spend.compress_internal());
        let mut gp = [0.0; 3];
        let fp = plain.eval(&theta.map(f64::ln), &mut gp);
        assert!((f - fp).abs() < 1e-13 * fp.abs(), "{f} vs {fp}");
        for j in 0..3 {
            assert!((g[j] - gp[j]).abs() < 1e-12 * (1.0 + gp[j].abs()));
        }
    }

    #[test]
    fn without_covariates_the_kernels_are_the_plain_likelihoods() {
        let (s, z1, z2) = toy();
        let c = s.compress_internal();
        for (variant, theta) in [
            (Variant::Bg, [0.3, 4.0, 0.8, 2.5]),
            (Variant::Mbg, [2.0, 0.5, 3.0, 0.4]),
        ] {
            let mut k = BetaGeoCovKernel {
                variant,
                rows: CovRows::new(&s, &z1, &z2).unwrap(),
                lambda: 0.0,
            };
            let mut p = theta.map(f64::ln).to_vec();
            p.resize(k.dim(), 0.0);
            let mut g = vec![0.0; p.len()];
            let f = k.eval(&p, &mut g);
            let mut plain = BetaGeoObjective::new(variant, c.clone());
            let mut gp = [0.0; 4];
            let fp = plain.eval(&theta.map(f64::ln), &mut gp);
            assert!((f - fp).abs() < 1e-13 * fp.abs(), "{f} vs {fp}");
            for j in 0..4 {
                assert!((g[j] - gp[j]).abs() < 1e-12 * (1.0 + gp[j].abs()), "{g:?} vs {gp:?}");
            }
        }
    }

    #[test]
    fn rows_are_canonical() {
        let (s, z1, z2) = toy();
        let a = CovRows::new(&s, &z1, &z2).unwrap();
        // The same customers in reverse order.
        let rev = |v: &[f64]| v.iter().rev().copied().collect::<Vec<f64>>();
        let s2 = TransactionSummary::new(rev(s.frequency()), rev(s.recency()), rev(s.t()), TimeUnit::Week).unwrap();
        let z1b = Covariates::new(vec!["z1".into()], vec![rev(z1.column(0))], 8).unwrap();
        let z2b = Covariates::new(
            vec!["u".into(), "v".into()],
            vec![rev(z2.column(0)), rev(z2.column(1))],
            8,
        )
        .unwrap();
        let b = CovRows::new(&s2, &z1b, &z2b).unwrap();
        // Sorting by the values column by column (the fallback when hashes collide) is also
        // canonical, and holds the same rows.
        let c = CovRows::build([s.frequency(), s.recency(), s.t()], s.weights(), &z1, &z2, false).unwrap();
        let d = CovRows::build([s2.frequency(), s2.recency(), s2.t()], s2.weights(), &z1b, &z2b, false).unwrap();
        assert_eq!((&c.x, &c.t_x, &c.t, &c.w, &c.z1), (&d.x, &d.t_x, &d.t, &d.w, &d.z1));
        let as_set = |r: &CovRows| {
            let mut v: Vec<[u64; 7]> = r
                .groups
                .iter()
                .flat_map(|g| (g.start..g.end).map(move |i| (g.pattern, i)))
                .map(|(p, i)| {
                    let z = [r.z1_of(p)[0], r.z2_of(p)[0], r.z2_of(p)[1]];
                    [r.x[i], r.t_x[i], r.t[i], r.w[i], z[0], z[1], z[2]].map(f64::to_bits)
                })
                .collect();
            v.sort_unstable();
            v
        };
        assert_eq!(as_set(&b), as_set(&d));
        // Two identical customers (row 1 and row 6) merged.
        assert_eq!(b.total_weight, 8.0);
        assert_eq!(b.w.len(), 7);
        assert_eq!((a.x, a.t_x, a.t, a.w, a.z1, a.z2), (b.x, b.t_x, b.t, b.w, b.z1, b.z2));
    }
}
