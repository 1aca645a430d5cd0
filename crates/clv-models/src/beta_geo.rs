//! BG/NBD — beta-geometric/negative-binomial model.
//!
//! Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005), "'Counting Your
//! Customers' the Easy Way: An Alternative to the Pareto/NBD Model",
//! *Marketing Science* 24(2), 275–284. Equation numbers below refer to that
//! paper.
//!
//! * While active, purchases follow a Poisson process with rate λ,
//!   `λ ~ Gamma(r, α)` (shape r, rate α).
//! * After every *repeat* purchase the customer becomes inactive with
//!   probability p, `p ~ Beta(a, b)`.
//!
//! Likelihood (eq. 6), evaluated in log space with a log-sum-exp of its two
//! terms:
//!
//! `L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^{r+x})
//!    + δ_{x>0} B(a+1, b+x−1)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^{r+x})`.
//!
//! Predictions: `E[X(t)]` (eq. 9), `P(X(t) = x)` (eq. 8), conditional
//! expectation `E[Y(t) | x, t_x, T]` (eq. 10), and `P(alive)` from Fader,
//! Hardie & Lee (2008), "Computing P(alive) Using the BG/NBD Model" (note 021). The Gauss
//! hypergeometric functions of eqs. 9 and 10 are
//! rewritten with Euler's transformation
//! `(1−z)^{r+x} ₂F₁(r+x, b+x; a+b+x−1; z) = (1−z)^{a−1} ₂F₁(a−1, a+b−1−r; a+b+x−1; z)`
//! and the `1 − …` difference divided by `a − 1` is evaluated without
//! cancellation (see `beta_geo_numerator`), so `a → 1` and `a + b < 1`
//! are handled.
//!
//! The MBG/NBD variant ([`crate::mbgnbd`]) shares this code.

use serde::{Deserialize, Serialize};

use super::data::{Compressed, TransactionSummary, check_rft, key_value, ranks};
use super::error::{ModelError, finite};
use super::model::{
    Input, Model, Prediction, Role, TRANSACTION_INPUTS, TRANSACTION_PREDICTIONS, model_params,
    transaction_model_methods,
};
use super::optimize::{FitOptions, Objective, fit_builder_methods, run_fit};
use super::special::{MAX_SERIES_TERMS, digamma, exprel, integrate, ln_beta, ln_gamma};
use super::{FitReport, FittedRepr, ModelKind, TimeUnit, TransactionModel, check_arg, check_param, fitted_serde};

/// BG/NBD parameters (names as in the paper).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbdParams {
    /// Shape of the gamma distribution of the purchase rate λ.
    pub r: f64,
    /// Rate (inverse scale) of the gamma distribution of λ, in 1/time-unit.
    pub alpha: f64,
    /// First shape of the beta distribution of the dropout probability p.
    pub a: f64,
    /// Second shape of the beta distribution of p.
    pub b: f64,
}

impl BgNbdParams {
    pub(crate) fn to_array(self) -> [f64; 4] {
        [self.r, self.alpha, self.a, self.b]
    }
    pub(crate) fn from_array(v: [f64; 4]) -> Self {
        BgNbdParams {
            r: v[0],
            alpha: v[1],
            a: v[2],
            b: v[3],
        }
    }
    pub(crate) fn validate(&self) -> Result<(), ModelError> {
        check_param("r", self.r)?;
        check_param("alpha", self.alpha)?;
        check_param("a", self.a)?;
        check_param("b", self.b)?;
        Ok(())
    }
}

/// Which member of the beta-geometric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    /// BG/NBD: dropout possible after each repeat purchase.
    Bg,
    /// MBG/NBD: dropout possible also right after the first purchase.
    Mbg,
}

/// Mean negative log-likelihood of BG/NBD or MBG/NBD with an analytic gradient.
///
/// The x-dependent terms (log-gamma, log-beta, digamma) are computed once per distinct x per
/// evaluation. Summaries built from dates repeat few distinct times (a daily grid), so when
/// they do, `ln(α + t)` and `1/(α + t)` are computed once per distinct time and looked up; the
/// per-row work is then one exponential and one logarithm. Rows are summed in
/// [`EVAL_CHUNKS`] fixed chunks (spread over the cores for large inputs) and the chunk sums
/// added in chunk order, so the result does not depend on the number of threads.
pub(crate) struct BetaGeoObjective {
    variant: Variant,
    data: Compressed,
    /// Per row: its x group.
    group: Vec<u32>,
    /// The distinct x values, in group order.
    xs: Vec<f64>,
    /// Distinct times and, per row, the index of its `t_x` and `T` among them (when they
    /// repeat enough to be worth it).
    times: Option<TimeTable>,
}

/// Distinct times of a summary and each row's `t_x` and `T` among them.
struct TimeTable {
    values: Vec<f64>,
    t_x: Vec<u32>,
    t: Vec<u32>,
}

impl TimeTable {
    /// The table of `data`'s times, when there are at most a quarter as many distinct times as
    /// rows.
    fn new(data: &Compressed) -> Option<Self> {
        let n = data.len();
        let all: Vec<f64> = data.k1.iter().chain(&data.k2).copied().collect();
        let (keys, mut index) = ranks(&all);
        if keys.len() * 4 > n {
            return None;
        }
        let t = index.split_off(n);
        Some(Self {
            values: keys.into_iter().map(key_value).collect(),
            t_x: index,
            t,
        })
    }
}

/// Row chunks of an evaluation: a constant, so the sums do not depend on the core count.
const EVAL_CHUNKS: usize = 8;
/// Rows below which an evaluation runs on the calling thread only.
const PARALLEL_ROWS: usize = 20_000;

/// The per-x constants of an evaluation.
#[derive(Clone, Copy, Default)]
struct XTerms {
    rx: f64,
    k: f64,
    dk_dr: f64,
    two_terms: bool,
    c1: f64,
    c1a: f64,
    c1b: f64,
    c2: f64,
    c2a: f64,
    c2b: f64,
}

impl BetaGeoObjective {
    pub(crate) fn new(variant: Variant, data: Compressed) -> Self {
        let groups = data.groups();
        let mut group = vec![0u32; data.len()];
        for (g, &(_, s, e)) in groups.iter().enumerate() {
            group[s..e].fill(g as u32);
        }
        let times = TimeTable::new(&data);
        BetaGeoObjective {
            variant,
            xs: groups.iter().map(|g| g.0).collect(),
            group,
            times,
            data,
        }
    }

    /// Total (weighted) log-likelihood at `theta`.
    pub(crate) fn log_likelihood(&mut self, theta: [f64; 4]) -> f64 {
        let mut g = [0.0; 4];
        -self.eval(&theta.map(f64::ln), &mut g) * self.data.total_weight
    }

    fn x_terms(&self, [r, alpha, a, b]: [f64; 4]) -> Vec<XTerms> {
        let ln_alpha = alpha.ln();
        let lg_r = ln_gamma(r);
        let dg_r = digamma(r);
        let lnb_ab = ln_beta(a, b);
        let dg_ab = digamma(a + b);
        let dg_b = digamma(b);
        let inv_a = 1.0 / a;
        self.xs
            .iter()
            .map(|&x| {
                let rx = r + x;
                let k = ln_gamma(rx) - lg_r + r * ln_alpha;
                let dk_dr = digamma(rx) - dg_r + ln_alpha;
                let two_terms = self.variant == Variant::Mbg || x > 0.0;
                if !two_terms {
                    return XTerms {
                        rx,
                        k,
                        dk_dr,
                        ..XTerms::default()
                    };
                }
                let (c1, c1a, c1b, c2, c2a, c2b) = match self.variant {
                    Variant::Bg => {
                        let dg_abx = digamma(a + b + x);
                        (
                            ln_beta(a, b + x) - lnb_ab,
                            dg_ab - dg_abx,
                            digamma(b + x) - dg_abx - dg_b + dg_ab,
                            ln_beta(a + 1.0, b + x - 1.0) - lnb_ab,
                            inv_a + dg_ab - dg_abx,
                            digamma(b + x - 1.0) - dg_abx - dg_b + dg_ab,
                        )
                    }
                    Variant::Mbg => {
                        let dg_abx1 = digamma(a + b + x + 1.0);
                        (
                            ln_beta(a, b + x + 1.0) - lnb_ab,
                            dg_ab - dg_abx1,
                            digamma(b + x + 1.0) - dg_abx1 - dg_b + dg_ab,
                            ln_beta(a + 1.0, b + x) - lnb_ab,
                            inv_a + dg_ab - dg_abx1,
                            digamma(b + x) - dg_abx1 - dg_b + dg_ab,
                        )
                    }
                };
                XTerms {
                    rx,
                    k,
                    dk_dr,
                    two_terms,
                    c1,
                    c1a,
                    c1b,
                    c2,
                    c2a,
                    c2b,
                }
            })
            .collect()
    }

    /// The weighted log-likelihood of rows `rows` and its gradient on the natural scale,
    /// `[ll, ∂r, ∂α, ∂a, ∂b]`.
    fn chunk(
        &self,
        rows: std::ops::Range<usize>,
        r: f64,
        alpha: f64,
        terms: &[XTerms],
        logs: &[(f64, f64)],
    ) -> [f64; 5] {
        let d = &self.data;
        let at = |i: usize, t_x: bool| -> (f64, f64) {
            match &self.times {
                Some(tt) => logs[(if t_x { tt.t_x[i] } else { tt.t[i] }) as usize],
                None => {
                    let v = alpha + if t_x { d.k1[i] } else { d.k2[i] };
                    (v.ln(), 1.0 / v)
                }
            }
        };
        let r_over_alpha = r / alpha;
        let mut acc = [0.0; 5];
        for i in rows {
            let x = &terms[self.group[i] as usize];
            let wi = d.w[i];
            let (la, ia) = at(i, false);
            if !x.two_terms {
                // BG/NBD, x = 0: ln L = r ln α − r ln(α + T).
                acc[0] += wi * (x.k - r * la);
                acc[1] += wi * (x.dk_dr - la);
                acc[2] += wi * (r_over_alpha - r * ia);
                continue;
            }
            let (lb, ib) = at(i, true);
            let u1 = x.c1 - x.rx * la;
            let u2 = x.c2 - x.rx * lb;
            let (l, w1) = if u1 >= u2 {
                let dd = 1.0 + (u2 - u1).exp();
                (u1 + dd.ln(), 1.0 / dd)
            } else {
                let e = (u1 - u2).exp();
                let dd = 1.0 + e;
                (u2 + dd.ln(), e / dd)
            };
            let w2 = 1.0 - w1;
            acc[0] += wi * (x.k + l);
            acc[1] += wi * (x.dk_dr - (w1 * la + w2 * lb));
            acc[2] += wi * (r_over_alpha - x.rx * (w1 * ia + w2 * ib));
            acc[3] += wi * (w1 * x.c1a + w2 * x.c2a);
            acc[4] += wi * (w1 * x.c1b + w2 * x.c2b);
        }
        acc
    }
}

impl Objective<4> for BetaGeoObjective {
    fn eval(&mut self, phi: &[f64; 4], grad: &mut [f64; 4]) -> f64 {
        let theta = phi.map(f64::exp);
        let [r, alpha, a, b] = theta;
        let terms = self.x_terms(theta);
        let logs: Vec<(f64, f64)> = match &self.times {
            Some(tt) => tt
                .values
                .iter()
                .map(|t| {
                    let v = alpha + t;
                    (v.ln(), 1.0 / v)
                })
                .collect(),
            None => vec![],
        };
        let n = self.data.len();
        let bounds: Vec<std::ops::Range<usize>> = (0..EVAL_CHUNKS)
            .map(|c| n * c / EVAL_CHUNKS..n * (c + 1) / EVAL_CHUNKS)
            .collect();
        let threads = crate::cores().min(EVAL_CHUNKS);
        let this = &*self;
        let sums: Vec<[f64; 5]> = if n < PARALLEL_ROWS || threads < 2 {
            bounds
                .into_iter()
                .map(|rows| this.chunk(rows, r, alpha, &terms, &logs))
                .collect()
        } else {
            // Each thread takes every `threads`-th chunk; sums are put back in chunk order.
            let mut sums = vec![[0.0; 5]; EVAL_CHUNKS];
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let (bounds, terms, logs) = (&bounds, &terms, &logs);
                        scope.spawn(move || {
                            (t..EVAL_CHUNKS)
                                .step_by(threads)
                                .map(|c| (c, this.chunk(bounds[c].clone(), r, alpha, terms, logs)))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                for h in handles {
                    let done = h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                    for (c, v) in done {
                        sums[c] = v;
                    }
                }
            });
            sums
        };
        let mut total = [0.0; 5];
        for s in &sums {
            for (t, v) in total.iter_mut().zip(s) {
                *t += v;
            }
        }
        let scale = -1.0 / self.data.total_weight;
        *grad = [
            total[1] * r * scale,
            total[2] * alpha * scale,
            total[3] * a * scale,
            total[4] * b * scale,
        ];
        total[0] * scale
    }

    fn total_weight(&self) -> f64 {
        self.data.total_weight
    }

    fn subsample(&self, max_rows: usize) -> Option<Self> {
        Some(BetaGeoObjective::new(self.variant, self.data.subsample(max_rows)?))
    }
}

/// Starting point shared by the count models: `r = 1`, `α` from the pooled
/// purchase rate, `a = 1`, `b = 1`.
pub(crate) fn default_start(data: &Compressed) -> [f64; 4] {
    let (mut sx, mut st) = (0.0, 0.0);
    for i in 0..data.len() {
        sx += data.w[i] * data.k0[i];
        st += data.w[i] * data.k2[i];
    }
    let alpha = if sx > 0.0 && st > 0.0 {
        (st / sx).clamp(1e-3, 1e6)
    } else {
        1.0
    };
    [1.0, alpha, 1.0, 1.0]
}

/// Checks shared by the count-model fits: non-empty and some repeat purchases.
pub(crate) fn check_count_data(data: &Compressed) -> Result<(), ModelError> {
    if data.len() == 0 || !(data.total_weight > 0.0) {
        return Err(ModelError::EmptyInput);
    }
    if !data.k0.iter().any(|&x| x > 0.0) {
        return Err(ModelError::NoRepeatPurchases);
    }
    Ok(())
}

/// `E[Y] · (a − 1)/(a − 1)`-free numerator shared by BG/NBD and MBG/NBD:
///
/// `C/(a−1) · [1 − (1−z)^{a−1} ₂F₁(a−1, c'; C; z)]`
/// `= C · (−L) · exprel((a−1) L) − e^{(a−1) L} · H'`,
///
/// with `L = ln(1 − z)` and
/// `H' = Σ_{k≥1} (a)_{k−1} (c')_k / ((C+1)_{k−1} k!) z^k` (the factor `C`
/// cancels against `1/(C)_k`, so `C ≤ 0` is harmless). For BG/NBD
/// `C = a+b+x−1`, `c' = a+b−1−r`; for MBG/NBD `C = a+b+x`, `c' = a+b−r`.
pub(crate) fn beta_geo_numerator(a: f64, cp: f64, c: f64, z: f64, l: f64) -> Option<f64> {
    let am1 = a - 1.0;
    let first = c * (-l) * exprel(am1 * l);
    let mut term = cp * z;
    let mut sum = term;
    let mut k = 1.0f64;
    let mut done = term == 0.0;
    for _ in 0..MAX_SERIES_TERMS {
        if done {
            break;
        }
        let ratio = (a + k - 1.0) * (cp + k) * z / ((c + k) * (k + 1.0));
        term *= ratio;
        sum += term;
        k += 1.0;
        let ar = ratio.abs();
        if term == 0.0 || (ar < 1.0 && term.abs() * ar <= 1e-17 * (1.0 - ar) * sum.abs()) {
            done = true;
        }
    }
    if !done {
        return None;
    }
    let v = first - (am1 * l).exp() * sum;
    v.is_finite().then_some(v)
}

/// [`beta_geo_alive_quadrature`]'s integral when the beta distribution of `p` is peaked
/// (`a + bb ≥ 1000`, where the series overflows: fits that run off towards a dropout
/// probability shared by everyone, a, b → ∞): with `μ = a/(a+bb)` and
/// `σ² = μ(1−μ)/(a+bb+1)`, `E[h(p)] = h(μ) + ½ h''(μ) σ² + O((a+bb)^{−2})` for
/// `h(p) = (1 − (1+pτ)^{−n})/p` (second-order delta method; relative error O((a+bb)^{−2}),
/// below 1e-5 from a + bb = 1000, checked against the series where both work).
/// At a, b → ∞ it is the fixed-dropout limit `h(μ)`.
pub(crate) fn beta_geo_alive_peaked(a: f64, bb: f64, n: f64, tau: f64) -> Option<f64> {
    let mu = a / (a + bb);
    let var = mu * (1.0 - mu) / (a + bb + 1.0);
    // g(p) = 1 − (1+pτ)^{−n} and its derivatives; h = g/p.
    let lq = (mu * tau).ln_1p();
    let g = -(-n * lq).exp_m1();
    let g1 = n * tau * (-(n + 1.0) * lq).exp();
    let g2 = -n * (n + 1.0) * tau * tau * (-(n + 2.0) * lq).exp();
    let h = g / mu;
    let h2 = g2 / mu - 2.0 * g1 / (mu * mu) + 2.0 * g / (mu * mu * mu);
    let v = h + 0.5 * h2 * var;
    (v.is_finite() && mu > 0.0).then_some(v.max(0.0))
}

/// The same quantity as [`beta_geo_numerator`] — the expected number of
/// purchases in `(T, T+t]` of a customer known to be alive at T — written as
/// the posterior mixture it comes from: given alive, `λ ~ Gamma(r+x, α+T)`
/// and `p ~ Beta(a, bb)` (`bb = b+x` for BG/NBD, `b+x+1` for MBG/NBD), and
/// `E[Y(t) | λ, p] = (1 − e^{−λpt})/p`, so
///
/// `E = ∫_0^1 Beta(p; a, bb) · (1 − (1 + pτ)^{−(r+x)})/p dp`, `τ = t/(α+T)`.
///
/// Evaluated by adaptive quadrature on `[0, ½]` with `p = u^{1/a}` and on
/// `[½, 1]` with `1 − p = v^{1/bb}`, which remove the endpoint singularities
/// of the beta density. Used when the series converges slowly (`z > 0.995`,
/// i.e. horizons more than ~200 times longer than `α + T`).
pub(crate) fn beta_geo_alive_quadrature(a: f64, bb: f64, n: f64, tau: f64) -> Option<f64> {
    let h = |p: f64| -> f64 {
        if p <= 0.0 {
            n * tau
        } else {
            -(-n * (p * tau).ln_1p()).exp_m1() / p
        }
    };
    let lower = integrate(
        |u: f64| {
            let p = u.powf(1.0 / a);
            ((bb - 1.0) * (-p).ln_1p()).exp() * h(p) / a
        },
        0.0,
        0.5f64.powf(a),
        0.0,
    )?;
    let upper = integrate(
        |v: f64| {
            let q = v.powf(1.0 / bb);
            let p = 1.0 - q;
            ((a - 1.0) * p.ln()).exp() * h(p) / bb
        },
        0.0,
        0.5f64.powf(bb),
        0.0,
    )?;
    let v = (lower + upper) * (-ln_beta(a, bb)).exp();
    v.is_finite().then_some(v)
}

/// `P(N ≥ n)` for `N ~ NB(r, p0 = α/(α+t))` with success probability
/// `q = t/(α+t)`, i.e. the marginal Poisson–gamma count.
pub(crate) fn nb_upper_tail(r: f64, ln_p0: f64, ln_q: f64, n: u32) -> f64 {
    if n == 0 {
        return 1.0;
    }
    if ln_q == f64::NEG_INFINITY {
        return 0.0;
    }
    // ln pmf_j by recurrence
    let mut lp = r * ln_p0;
    let mut head = 0.0;
    for j in 0..n {
        head += lp.exp();
        lp += ((r + j as f64) / (j as f64 + 1.0)).ln() + ln_q;
    }
    if head <= 0.5 {
        return (1.0 - head).max(0.0);
    }
    // Sum the upper tail directly (lp is now ln pmf_n).
    let mut sum = 0.0;
    let mut j = n as f64;
    for _ in 0..MAX_SERIES_TERMS {
        let term = lp.exp();
        sum += term;
        let ratio = (r + j) / (j + 1.0) * ln_q.exp();
        lp += ratio.ln();
        j += 1.0;
        if ratio < 1.0 && term * ratio <= 1e-17 * (1.0 - ratio) * sum.max(1e-300) {
            break;
        }
        if term == 0.0 && ratio < 1.0 {
            break;
        }
    }
    sum.min(1.0)
}

thread_local! {
    /// The numerators of eq. 10 by `(t, x, T)`, kept between a thread's calls (SQL batches).
    static NUMERATORS: super::memo::ThreadMemo<3, f64> = const { std::cell::RefCell::new(None) };
}

/// Scoring shared by BG/NBD and MBG/NBD.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BetaGeoCore {
    pub variant: Variant,
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
    ln_a: f64,
    lnb_ab: f64,
}

impl BetaGeoCore {
    pub(crate) fn new(variant: Variant, p: [f64; 4]) -> Self {
        let [r, alpha, a, b] = p;
        BetaGeoCore {
            variant,
            r,
            alpha,
            a,
            b,
            ln_a: a.ln(),
            lnb_ab: ln_beta(a, b),
        }
    }

    /// The denominator of the odds term: `b + x − 1` (BG/NBD, `None` at x = 0, where there is
    /// no such term) or `b + x` (MBG/NBD).
    #[inline]
    fn odds_denominator(&self, x: f64) -> Option<f64> {
        match self.variant {
            Variant::Bg if x == 0.0 => None,
            Variant::Bg => Some(self.b + x - 1.0),
            Variant::Mbg => Some(self.b + x),
        }
    }

    /// `ln` of the odds term `(P(dead)/P(alive))`: for BG/NBD
    /// `a/(b+x−1) · ((α+T)/(α+t_x))^{r+x}` (x > 0), for MBG/NBD
    /// `a/(b+x) · ((α+T)/(α+t_x))^{r+x}`, given `ln_denominator` = the log of
    /// [`Self::odds_denominator`]. `None` means "no such term" (BG, x = 0).
    #[inline]
    fn ln_dead_odds(&self, ln_denominator: Option<f64>, x: f64, t_x: f64, T: f64) -> Option<f64> {
        Some(self.ln_a - ln_denominator? + (self.r + x) * ((self.alpha + T) / (self.alpha + t_x)).ln())
    }

    /// `1/(1 + odds)`, P(alive) from the log odds of [`Self::ln_dead_odds`].
    #[inline]
    fn alive_from_odds(ln_odds: Option<f64>) -> f64 {
        match ln_odds {
            None => 1.0,
            Some(lo) => 1.0 / (1.0 + lo.exp()),
        }
    }

    #[inline]
    pub(crate) fn p_alive(&self, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
        check_rft(0, x, t_x, T)?;
        let ln_denominator = self.odds_denominator(x).map(f64::ln);
        Ok(Self::alive_from_odds(self.ln_dead_odds(ln_denominator, x, t_x, T)))
    }

    /// [`Self::p_alive`] for many customers over the cores, `ln` of the odds denominator
    /// computed once per small whole x. Same values as one call per customer.
    pub(crate) fn p_alive_many(&self, x: &[f64], t_x: &[f64], T: &[f64]) -> Result<Vec<f64>, ModelError> {
        super::batch::check_rows(&[], x, t_x, T)?;
        super::batch::score_rows([x, t_x, T], super::batch::Repeats::Ignore, |[x, t_x, T], out| {
            let mut ln_den = LnDenominators::new(self);
            for (i, o) in out.iter_mut().enumerate() {
                *o = Self::alive_from_odds(self.ln_dead_odds(ln_den.get(x[i]), x[i], t_x[i], T[i]));
            }
            Ok(())
        })
    }

    pub(crate) fn expected_purchases(&self, t: f64, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
        check_rft(0, x, t_x, T)?;
        check_arg("t", t)?;
        if t == 0.0 {
            return Ok(0.0);
        }
        let num = self.expected_purchases_if_alive(t, x, T)?;
        let ln_denominator = self.odds_denominator(x).map(f64::ln);
        self.finish_expected_purchases(num, ln_denominator, x, t_x, T)
    }

    /// [`Self::expected_purchases`] for many customers, large inputs over the cores
    /// ([`super::batch`]). Same values as one call per customer.
    pub(crate) fn expected_purchases_many(
        &self,
        t: &[f64],
        x: &[f64],
        t_x: &[f64],
        T: &[f64],
    ) -> Result<Vec<f64>, ModelError> {
        super::batch::check_rows(&[("t", t)], x, t_x, T)?;
        // The memo of `expected_purchases_rows` already computes the series once per distinct
        // (t, x, T); looking for repeated rows would cost more than it saves.
        super::batch::score_rows([t, x, t_x, T], super::batch::Repeats::Ignore, |[t, x, t_x, T], out| {
            self.expected_purchases_rows(t, x, t_x, T, out)
        })
    }

    /// [`Self::expected_purchases`] for checked rows, into `out`: the hypergeometric part
    /// depends on `(t, x, T)` only, so it is computed once per distinct triple (customers on a
    /// day grid share few of them); the rest is per customer.
    fn expected_purchases_rows(
        &self,
        t: &[f64],
        x: &[f64],
        t_x: &[f64],
        T: &[f64],
        out: &mut [f64],
    ) -> Result<(), ModelError> {
        let mut ln_den = LnDenominators::new(self);
        super::memo::with_thread_memo(&NUMERATORS, self.model_key(), |memo| {
            for (i, o) in out.iter_mut().enumerate() {
                // Rows checked by the caller (`expected_purchases_many`).
                check_arg("t", t[i])?;
                if t[i] == 0.0 {
                    *o = 0.0;
                    continue;
                }
                let key = [t[i].to_bits(), x[i].to_bits(), T[i].to_bits()];
                let num = memo.get_or_try_insert(key, || self.expected_purchases_if_alive(t[i], x[i], T[i]))?;
                *o = self.finish_expected_purchases(num, ln_den.get(x[i]), x[i], t_x[i], T[i])?;
            }
            Ok(())
        })
    }

    /// This model in a [`super::memo::ThreadMemo`].
    fn model_key(&self) -> super::memo::ModelKey {
        let variant = match self.variant {
            Variant::Bg => 0,
            Variant::Mbg => 1,
        };
        super::memo::model_key(variant, [self.r, self.alpha, self.a, self.b])
    }

    fn finish_expected_purchases(
        &self,
        num: f64,
        ln_denominator: Option<f64>,
        x: f64,
        t_x: f64,
        T: f64,
    ) -> Result<f64, ModelError> {
        let den = match self.ln_dead_odds(ln_denominator, x, t_x, T) {
            None => 1.0,
            Some(lo) => 1.0 + lo.exp(),
        };
        finite((num / den).max(0.0), "conditional expected purchases")
    }

    /// The numerator of eq. 10: the expected purchases in `(T, T+t]` of a customer alive at T.
    fn expected_purchases_if_alive(&self, t: f64, x: f64, T: f64) -> Result<f64, ModelError> {
        let (a, b, r) = (self.a, self.b, self.r);
        let ratio = t / (self.alpha + T);
        let z = t / (self.alpha + T + t);
        let l = -ratio.ln_1p();
        let (c, cp, bb) = match self.variant {
            Variant::Bg => (a + b + x - 1.0, a + b - 1.0 - r, b + x),
            Variant::Mbg => (a + b + x, a + b - r, b + x + 1.0),
        };
        let series = if z <= 0.995 {
            beta_geo_numerator(a, cp, c, z, l)
        } else {
            None
        };
        series
            .or_else(|| {
                if a + bb >= 1e3 {
                    beta_geo_alive_peaked(a, bb, r + x, ratio)
                } else {
                    beta_geo_alive_quadrature(a, bb, r + x, ratio)
                }
            })
            .ok_or(ModelError::NumericalFailure {
                context: "conditional expected purchases",
            })
    }

    pub(crate) fn expected_purchases_new(&self, t: f64) -> Result<f64, ModelError> {
        // E[X(t)] equals the conditional expectation of a customer observed
        // for T = 0 (eq. 9 is eq. 10 at x = t_x = T = 0).
        self.expected_purchases(t, 0.0, 0.0, 0.0)
    }

    pub(crate) fn prob_purchases(&self, n: u32, t: f64) -> Result<f64, ModelError> {
        check_arg("t", t)?;
        let nf = n as f64;
        let (r, a, b) = (self.r, self.a, self.b);
        if t == 0.0 {
            return Ok(if n == 0 { 1.0 } else { 0.0 });
        }
        let ln_p0 = -(t / self.alpha).ln_1p(); // ln(α/(α+t))
        let ln_q = -(self.alpha / t).ln_1p(); // ln(t/(α+t))
        let ln_nb = ln_gamma(r + nf) - ln_gamma(r) - ln_gamma(nf + 1.0) + r * ln_p0 + nf * ln_q;
        let tail = nb_upper_tail(r, ln_p0, ln_q, n);
        let p = match self.variant {
            Variant::Bg => {
                let first = (ln_beta(a, b + nf) - self.lnb_ab + ln_nb).exp();
                let second = if n > 0 {
                    (ln_beta(a + 1.0, b + nf - 1.0) - self.lnb_ab).exp() * tail
                } else {
                    0.0
                };
                first + second
            }
            Variant::Mbg => {
                let first = (ln_beta(a, b + nf + 1.0) - self.lnb_ab + ln_nb).exp();
                let second = (ln_beta(a + 1.0, b + nf) - self.lnb_ab).exp() * tail;
                first + second
            }
        };
        finite(p.clamp(0.0, 1.0), "P(X(t) = n)")
    }
}

/// `ln` of [`BetaGeoCore::odds_denominator`] for whole x below [`LnDenominators::SMALL`],
/// each computed once (the same `f64::ln` of the same value, so the same bits); other x are
/// computed on each call.
struct LnDenominators<'a> {
    core: &'a BetaGeoCore,
    table: Vec<f64>,
}

impl<'a> LnDenominators<'a> {
    const SMALL: usize = 256;

    fn new(core: &'a BetaGeoCore) -> Self {
        LnDenominators {
            core,
            table: vec![f64::NAN; Self::SMALL],
        }
    }

    #[inline]
    fn get(&mut self, x: f64) -> Option<f64> {
        let den = self.core.odds_denominator(x)?;
        // A checked x is a whole number >= 0; the cast saturates for huge x.
        let k = x as usize;
        if k < Self::SMALL {
            let v = &mut self.table[k];
            if v.is_nan() {
                *v = den.ln();
            }
            Some(*v)
        } else {
            Some(den.ln())
        }
    }
}

/// BG/NBD fitter (builder). Defaults: see [`FitOptions`]; starting point
/// `r = 1`, `α = ΣT/Σx`, `a = b = 1` unless [`BgNbd::initial_params`] is set.
#[derive(Debug, Clone, Default)]
pub struct BgNbd {
    options: FitOptions,
    initial: Option<BgNbdParams>,
}

impl BgNbd {
    /// A fitter with default options.
    pub fn new() -> Self {
        Self::default()
    }
    fit_builder_methods!();

    /// Starting point of the optimiser.
    pub fn initial_params(mut self, p: BgNbdParams) -> Self {
        self.initial = Some(p);
        self
    }

    /// Maximum-likelihood fit (eq. 6) on `data`.
    ///
    /// # Errors
    /// [`ModelError::EmptyInput`], [`ModelError::NoRepeatPurchases`],
    /// invalid options, [`ModelError::NotConverged`].
    pub fn fit(&self, data: &TransactionSummary) -> Result<FittedBgNbd, ModelError> {
        let c = data.compress_internal();
        check_count_data(&c)?;
        let start = match self.initial {
            Some(p) => {
                p.validate()?;
                p.to_array()
            }
            None => default_start(&c),
        };
        let mut obj = BetaGeoObjective::new(Variant::Bg, c);
        let out = run_fit(&mut obj, start, &self.options, ModelKind::BgNbd)?;
        let params = BgNbdParams::from_array(out.theta);
        let report = FitReport {
            log_likelihood: out.log_likelihood,
            iterations: out.iterations,
            converged: out.converged,
            standard_errors: out.standard_errors.map(BgNbdParams::from_array),
            n_customers: out.n_customers,
            penalizer: self.options.penalizer,
        };
        FittedBgNbd::build(params, data.time_unit(), Some(report))
    }
}

/// A fitted (or parameter-specified) BG/NBD model.
#[derive(Debug, Clone)]
pub struct FittedBgNbd {
    params: BgNbdParams,
    time_unit: TimeUnit,
    fit: Option<FitReport<BgNbdParams>>,
    core: BetaGeoCore,
}

fitted_serde!(FittedBgNbd, BgNbdParams, ModelKind::BgNbd);

impl FittedBgNbd {
    fn build(
        params: BgNbdParams,
        time_unit: TimeUnit,
        fit: Option<FitReport<BgNbdParams>>,
    ) -> Result<Self, ModelError> {
        params.validate()?;
        Ok(FittedBgNbd {
            params,
            time_unit,
            fit,
            core: BetaGeoCore::new(Variant::Bg, params.to_array()),
        })
    }

    /// A model with known parameters (no fit report), times in `time_unit`.
    pub fn from_params(params: BgNbdParams, time_unit: TimeUnit) -> Result<Self, ModelError> {
        Self::build(params, time_unit, None)
    }

    fn from_repr(r: FittedRepr<BgNbdParams>) -> Result<Self, ModelError> {
        let unit = r.time_unit.ok_or(ModelError::MissingTimeUnit {
            reason: "serialized BG/NBD model has no time unit",
        })?;
        Self::build(r.params, unit, r.fit)
    }

    fn to_repr(&self) -> FittedRepr<BgNbdParams> {
        FittedRepr {
            kind: ModelKind::BgNbd,
            format_version: super::FORMAT_VERSION,
            params: self.params,
            time_unit: Some(self.time_unit),
            fit: self.fit.clone(),
        }
    }

    /// Always [`ModelKind::BgNbd`].
    pub fn kind(&self) -> ModelKind {
        ModelKind::BgNbd
    }
    /// The parameters.
    pub fn params(&self) -> BgNbdParams {
        self.params
    }
    /// Time unit of the data (and of every time argument).
    pub fn time_unit(&self) -> TimeUnit {
        self.time_unit
    }
    /// Fit diagnostics (`None` for [`FittedBgNbd::from_params`]).
    pub fn fit_report(&self) -> Option<&FitReport<BgNbdParams>> {
        self.fit.as_ref()
    }
    /// Log-likelihood at the estimate, if fitted.
    pub fn log_likelihood(&self) -> Option<f64> {
        self.fit.as_ref().map(|f| f.log_likelihood)
    }
    /// Standard errors, if fitted and available.
    pub fn standard_errors(&self) -> Option<BgNbdParams> {
        self.fit.as_ref().and_then(|f| f.standard_errors)
    }

    /// The same model expressed in another time unit: α (the gamma rate of
    /// λ, which carries the unit of time) is multiplied by
    /// `old unit / new unit` (×7 from weeks to days); r, a, b are unchanged.
    /// The fit report is dropped because the log-likelihood depends on the unit.
    pub fn to_unit(&self, unit: TimeUnit) -> FittedBgNbd {
        let mut p = self.params;
        p.alpha *= self.time_unit.convert(1.0, unit);
        FittedBgNbd::build(p, unit, None).expect("rescaled parameters stay valid")
    }

    /// `P(alive | x, t_x, T)` (Fader, Hardie & Lee 2008 note "Computing
    /// P(alive) Using the BG/NBD Model"):
    /// `1 / (1 + δ_{x>0} a/(b+x−1) ((α+T)/(α+t_x))^{r+x})`.
    pub fn p_alive(&self, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
        self.core.p_alive(x, t_x, T)
    }

    /// Conditional expectation of the number of purchases in `(T, T+t]`
    /// (eq. 10).
    pub fn expected_purchases(&self, t: f64, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
        self.core.expected_purchases(t, x, t_x, T)
    }

    /// Unconditional `E[X(t)]` (eq. 9).
    pub fn expected_purchases_new(&self, t: f64) -> Result<f64, ModelError> {
        self.core.expected_purchases_new(t)
    }

    /// `P(X(t) = n)` (eq. 8).
    pub fn prob_purchases(&self, n: u32, t: f64) -> Result<f64, ModelError> {
        self.core.prob_purchases(n, t)
    }

    /// Total log-likelihood (eq. 6) of `data` under these parameters; the
    /// data's times are converted explicitly to the model's unit.
    pub fn log_likelihood_of(&self, data: &TransactionSummary) -> Result<f64, ModelError> {
        let d = data.to_unit(self.time_unit).compress_internal();
        if d.len() == 0 {
            return Err(ModelError::EmptyInput);
        }
        let mut obj = BetaGeoObjective::new(Variant::Bg, d);
        finite(obj.log_likelihood(self.params.to_array()), "log-likelihood")
    }
}

/// `TransactionModel` for the fitted models that share [`BetaGeoCore`] (BG/NBD and MBG/NBD):
/// every prediction delegates to `self.core`.
macro_rules! beta_geo_transaction_model {
    ($fitted:ty, $kind:expr) => {
        impl TransactionModel for $fitted {
            fn kind(&self) -> ModelKind {
                $kind
            }
            fn time_unit(&self) -> TimeUnit {
                self.time_unit
            }
            fn p_alive(&self, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
                self.core.p_alive(x, t_x, T)
            }
            fn p_alive_many(&self, x: &[f64], t_x: &[f64], T: &[f64]) -> Result<Vec<f64>, ModelError> {
                self.core.p_alive_many(x, t_x, T)
            }
            fn expected_purchases(&self, t: f64, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
                self.core.expected_purchases(t, x, t_x, T)
            }
            fn expected_purchases_many(
                &self,
                t: &[f64],
                x: &[f64],
                t_x: &[f64],
                T: &[f64],
            ) -> Result<Vec<f64>, ModelError> {
                self.core.expected_purchases_many(t, x, t_x, T)
            }
            fn expected_purchases_new(&self, t: f64) -> Result<f64, ModelError> {
                self.core.expected_purchases_new(t)
            }
            fn prob_purchases(&self, n: u32, t: f64) -> Result<f64, ModelError> {
                self.core.prob_purchases(n, t)
            }
        }
    };
}
pub(crate) use beta_geo_transaction_model;

beta_geo_transaction_model!(FittedBgNbd, ModelKind::BgNbd);

model_params!(BgNbdParams { r, alpha, a, b });

impl Model for FittedBgNbd {
    type Params = BgNbdParams;
    const KIND: ModelKind = ModelKind::BgNbd;
    const ALIASES: &'static [&'static str] = &["bgnbd"];
    const DISPLAY_NAME: &'static str = "BG/NBD";
    const DESCRIPTION: &'static str = "BG/NBD (Fader, Hardie & Lee 2005): repeat purchases and dropout";
    const FIT_FUNCTION: &'static str = "bgnbd_fit";
    const INPUTS: &'static [Input] = TRANSACTION_INPUTS;
    const TIME_UNIT: bool = true;
    const ROLES: &'static [Role] = &[Role::Transactions];
    const PREDICTIONS: &'static [&'static Prediction] = TRANSACTION_PREDICTIONS;

    transaction_model_methods!(BgNbd);

    fn from_params(params: BgNbdParams, time_unit: TimeUnit) -> Result<Self, ModelError> {
        Self::from_params(params, time_unit)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn peaked_beta_expansion_agrees_with_the_series_where_both_work() {
        let (r, alpha, x, T, t) = (0.5, 5.0, 3.0, 30.0, 39.0);
        for (a, b) in [(100.0, 300.0), (200.0, 600.0), (300.0, 50.0)] {
            let ratio = t / (alpha + T);
            let z = t / (alpha + T + t);
            let series = beta_geo_numerator(a, a + b - 1.0 - r, a + b + x - 1.0, z, -ratio.ln_1p()).unwrap();
            let peaked = beta_geo_alive_peaked(a, b + x, r + x, ratio).unwrap();
            let n = a + b;
            // The expansion's error is O((a+b)^-2).
            assert!(
                (peaked / series - 1.0).abs() < 10.0 / (n * n),
                "a={a} b={b}: {peaked} vs {series}"
            );
        }
    }

    pub(crate) fn check_gradient<O: Objective<N>, const N: usize>(obj: &mut O, theta: [f64; N]) {
        let phi = theta.map(f64::ln);
        let mut g = [0.0; N];
        obj.eval(&phi, &mut g);
        for j in 0..N {
            let h = 1e-6;
            let mut p = phi;
            p[j] += h;
            let mut m = phi;
            m[j] -= h;
            let mut tmp = [0.0; N];
            let fd = (obj.eval(&p, &mut tmp) - obj.eval(&m, &mut tmp)) / (2.0 * h);
            assert!(
                (fd - g[j]).abs() < 1e-6 * (1.0 + fd.abs()),
                "component {j}: analytic {} fd {}",
                g[j],
                fd
            );
        }
    }

    fn toy() -> Compressed {
        let s = TransactionSummary::from_rows(
            &[
                (0.0, 0.0, 30.0),
                (2.0, 10.0, 30.0),
                (5.0, 29.0, 31.0),
                (1.0, 0.5, 12.0),
                (0.0, 0.0, 2.0),
            ],
            TimeUnit::Week,
        )
        .unwrap();
        s.compress_internal()
    }

    #[test]
    fn gradients_match_finite_differences() {
        for v in [Variant::Bg, Variant::Mbg] {
            let mut o = BetaGeoObjective::new(v, toy());
            check_gradient(&mut o, [0.3, 4.0, 0.8, 2.5]);
            check_gradient(&mut o, [2.0, 0.5, 3.0, 0.4]);
        }
    }

    /// The distinct-time table is a shortcut: on data that repeats times (a day grid), with
    /// enough distinct rows to take the threaded path, the value and gradient equal the
    /// per-row evaluation without the table to rounding.
    #[test]
    fn time_table_equals_the_plain_evaluation() {
        let mut rows = vec![];
        for i in 0..30_000u32 {
            let t = f64::from(30 + i % 335) / 7.0;
            let x = f64::from(i % 23);
            let t_x = if x == 0.0 {
                0.0
            } else {
                f64::from(1 + (i * 7) % (29 + i % 335)) / 7.0
            };
            rows.push((x, t_x, t));
        }
        let data = TransactionSummary::from_rows(&rows, TimeUnit::Week)
            .unwrap()
            .compress_internal();
        assert!(data.len() >= PARALLEL_ROWS, "{}", data.len());
        for v in [Variant::Bg, Variant::Mbg] {
            let mut fast = BetaGeoObjective::new(v, data.clone());
            assert!(fast.times.is_some());
            let mut plain = BetaGeoObjective::new(v, data.clone());
            plain.times = None;
            for theta in [[0.3, 4.0, 0.8, 2.5], [2.0, 0.5, 3.0, 0.4]] {
                let phi = theta.map(f64::ln);
                let (mut g1, mut g2) = ([0.0; 4], [0.0; 4]);
                let (f1, f2) = (fast.eval(&phi, &mut g1), plain.eval(&phi, &mut g2));
                assert!((f1 - f2).abs() <= 1e-12 * f2.abs(), "{f1} vs {f2}");
                for j in 0..4 {
                    assert!((g1[j] - g2[j]).abs() <= 1e-9 * (1.0 + g2[j].abs()), "{g1:?} vs {g2:?}");
                }
            }
        }
    }

    #[test]
    fn expectation_matches_hypergeometric_formula() {
        // eq. 10 with the general series, away from a = 1
        let core = BetaGeoCore::new(Variant::Bg, [0.2426, 4.4136, 0.7929, 2.4259]);
        let (x, t_x, T, t) = (2.0, 30.43, 38.86, 39.0);
        let (r, alpha, a, b) = (core.r, core.alpha, core.a, core.b);
        let z = t / (alpha + T + t);
        let (lf, sg) = super::super::special::hyp2f1(r + x, b + x, a + b + x - 1.0, z).unwrap();
        let hyp = sg * lf.exp();
        let num = (a + b + x - 1.0) / (a - 1.0) * (1.0 - hyp * ((alpha + T) / (alpha + T + t)).powf(r + x));
        let den = 1.0 + a / (b + x - 1.0) * ((alpha + T) / (alpha + t_x)).powf(r + x);
        let direct = num / den;
        let ours = core.expected_purchases(t, x, t_x, T).unwrap();
        assert!((direct - ours).abs() < 1e-10, "{direct} vs {ours}");
        // a = 1 exactly is a removable singularity
        let c1 = BetaGeoCore::new(Variant::Bg, [0.5, 3.0, 1.0, 2.0]);
        let lo = BetaGeoCore::new(Variant::Bg, [0.5, 3.0, 1.0 - 1e-7, 2.0]);
        let v1 = c1.expected_purchases(10.0, 3.0, 5.0, 8.0).unwrap();
        let v2 = lo.expected_purchases(10.0, 3.0, 5.0, 8.0).unwrap();
        assert!((v1 - v2).abs() < 1e-6);
    }

    #[test]
    fn series_and_quadrature_agree() {
        for &(r, alpha, a, b) in &[
            (0.2426f64, 4.4136f64, 0.7929f64, 2.4259f64),
            (0.5, 6.2, 1.0, 0.4),
            (2.0, 1.0, 3.5, 0.3),
        ] {
            for &(x, big_t, t) in &[
                (0.0f64, 0.0f64, 5.0f64),
                (2.0, 38.86, 39.0),
                (7.0, 20.0, 150.0),
                (1.0, 3.0, 200.0),
            ] {
                for (v, c, cp, bb) in [
                    (Variant::Bg, a + b + x - 1.0, a + b - 1.0 - r, b + x),
                    (Variant::Mbg, a + b + x, a + b - r, b + x + 1.0),
                ] {
                    let z = t / (alpha + big_t + t);
                    let l = -(t / (alpha + big_t)).ln_1p();
                    let s = beta_geo_numerator(a, cp, c, z, l).unwrap();
                    let q = beta_geo_alive_quadrature(a, bb, r + x, t / (alpha + big_t)).unwrap();
                    assert!(
                        (s - q).abs() < 1e-9 * s.max(1e-3),
                        "{v:?} {r} {a} {b} x={x} z={z}: {s} vs {q}"
                    );
                }
            }
        }
    }

    #[test]
    fn probabilities_sum_to_one() {
        for v in [Variant::Bg, Variant::Mbg] {
            let core = BetaGeoCore::new(v, [0.2426, 4.4136, 0.7929, 2.4259]);
            let s: f64 = (0..400).map(|n| core.prob_purchases(n, 39.0).unwrap()).sum();
            assert!((s - 1.0).abs() < 1e-9, "{s}");
            // mean of the distribution = E[X(t)]
            let m: f64 = (0..3000)
                .map(|n| n as f64 * core.prob_purchases(n, 10.0).unwrap())
                .sum();
            let e = core.expected_purchases_new(10.0).unwrap();
            assert!((m - e).abs() < 1e-8, "{m} vs {e}");
        }
    }
}
