//! Pareto/NBD — Schmittlein, Morrison & Colombo's model.
//!
//! Schmittlein, D. C., Morrison, D. G. & Colombo, R. (1987), "Counting Your
//! Customers: Who Are They and What Will They Do Next?", *Management
//! Science* 33(1), 1–24; likelihood and related expressions as derived in
//! Fader, P. S. & Hardie, B. G. S. (2005), "A Note on Deriving the
//! Pareto/NBD Model and Related Expressions" (note 009): the likelihood (eq. 18) with
//! `A₀` in its `α ≥ β` (eq. 19) and `α < β` (eq. 20) forms, `E[X(t)]` (eq. 27), P(alive)
//! (eqs. 36–37) and the conditional expectation (eq. 41). `P(X(t) = x)` follows Fader &
//! Hardie (2006), "Deriving an Expression for P(X(t) = x) Under the Pareto/NBD Model"
//! (note 012). (The note's equation numbers as cited by the `lifetimes` and CLVTools
//! sources; SMC 1987 gives the same results in its appendix.)
//!
//! * While active, purchases are Poisson(λ), `λ ~ Gamma(r, α)`.
//! * Lifetimes are exponential(μ), `μ ~ Gamma(s, β)`.
//!
//! Likelihood (note 009, eq. 18; SMC 1987, appendix):
//!
//! `L = Γ(r+x) α^r β^s / Γ(r) · { 1/((α+T)^{r+x} (β+T)^s) + s/(r+s+x) · A₀ }`
//!
//! with, for `α ≥ β` (eq. 19),
//! `A₀ = ₂F₁(r+s+x, s+1; r+s+x+1; (α−β)/(α+t_x)) / (α+t_x)^{r+s+x}
//!     − ₂F₁(r+s+x, s+1; r+s+x+1; (α−β)/(α+T)) / (α+T)^{r+s+x}`
//! and, for `α < β` (eq. 20), the same with `s+1 → r+x` and `α+· → β+·`,
//! argument `(β−α)/(β+·)`.
//!
//! **Numerics.** Each ₂F₁(n, B; n+1; z) (`n = r+s+x`) is rewritten with
//! Euler's transformation as `(1−z)^{1−B} ₂F₁(1, n+1−B; n+1; z)`, a series
//! of positive, decreasing terms that is summed in scaled form, and
//! `1−z = (min(α,β)+y)/(max(α,β)+y)` is computed without cancellation. The
//! whole bracket is assembled in log space (`ln A₀` by a log-diff-exp), so a
//! frequency in the thousands cannot overflow (the untransformed series for
//! `α < β` has terms growing like `(1−z)^{−(r+x)}`). The gradient is exact
//! (forward-mode dual numbers through the series). The series needs many
//! terms only when `z → 1`, i.e. when `min(α,β) + t_x ≪ max(α,β)`; it is
//! abandoned after 500 000 terms and the point is then reported as not
//! computable (an error when scoring, a rejected step when fitting).
//!
//! Predictions: `P(alive) = (α+T)^{-(r+x)}(β+T)^{-s} / {…}` (the first term
//! of the bracket over the bracket); conditional expectation (SMC 1987;
//! Fader & Hardie note, conditional-expectation section)
//! `E[Y(t) | x, t_x, T] = (r+x)(β+T) / ((α+T)(s−1)) · [1 − ((β+T)/(β+T+t))^{s−1}] · P(alive)`,
//! evaluated as `(r+x)(β+T)/(α+T) · (−u)·exprel((s−1)u) · P(alive)` with
//! `u = ln((β+T)/(β+T+t))` so that `s = 1` is fine; unconditional
//! `E[X(t)] = rβ/(α(s−1)) [1 − (β/(β+t))^{s−1}]`. `P(X(t) = n)` is computed
//! as `NB(n; t)·S(t) + ∫_0^t NB(n; τ) f(τ) dτ` (the lifetime τ is Pareto II
//! with survival `S(τ) = (β/(β+τ))^s`), integrated with adaptive
//! Gauss–Kronrod in the variable `v = S(τ)` (an accuracy of about 1e-12),
//! instead of the long closed form of Fader & Hardie (2006).

use serde::{Deserialize, Serialize};

use super::beta_geo::check_count_data;
use super::data::{Compressed, TransactionSummary, check_rft};
use super::dual::{Dual, Real, log_diff_exp_r, log_sum_exp_r};
use super::error::{ModelError, finite};
use super::model::{
    Input, Model, Prediction, Role, TRANSACTION_INPUTS, TRANSACTION_PREDICTIONS, model_params,
    transaction_model_methods,
};
use super::optimize::{FitOptions, Objective, fit_builder_methods, run_fit};
use super::special::{exprel, integrate, integrate_real, ln_gamma, ln_hyp2f1_one, ln_hyp2f1_one_grad};
use super::{FitReport, FittedRepr, ModelKind, TimeUnit, TransactionModel, check_arg, check_param, fitted_serde};

/// Pareto/NBD parameters (names as in the papers).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ParetoNbdParams {
    /// Gamma shape of the purchase rate λ.
    pub r: f64,
    /// Gamma rate of λ (1/time-unit).
    pub alpha: f64,
    /// Gamma shape of the dropout rate μ.
    pub s: f64,
    /// Gamma rate of μ (1/time-unit).
    pub beta: f64,
}

impl ParetoNbdParams {
    fn to_array(self) -> [f64; 4] {
        [self.r, self.alpha, self.s, self.beta]
    }
    fn from_array(v: [f64; 4]) -> Self {
        ParetoNbdParams {
            r: v[0],
            alpha: v[1],
            s: v[2],
            beta: v[3],
        }
    }
    fn validate(&self) -> Result<(), ModelError> {
        check_param("r", self.r)?;
        check_param("alpha", self.alpha)?;
        check_param("s", self.s)?;
        check_param("beta", self.beta)?;
        Ok(())
    }
}

/// Series terms tried before switching to quadrature in [`ln_f`].
const SERIES_TERMS: usize = 1_000;

/// `ln F(y) = ln[₂F₁(n, B; n+1; z(y)) / (max(α,β)+y)^n]` (`n = r+s+x`), from
/// the cached `la = ln(α+y)` and `lb = ln(β+y)`.
///
/// When the series would need more than [`SERIES_TERMS`] terms (`z` close
/// to 1) the same quantity is obtained by quadrature, see [`ln_f_quad`].
#[inline]
fn ln_f<R: Real>(r: R, alpha: R, s: R, beta: R, x: f64, y: f64, la: R, lb: R) -> Option<R> {
    ln_f_series(r, alpha, s, beta, x, y, la, lb).or_else(|| ln_f_quad(r, alpha, s, beta, x, y, la))
}

/// [`ln_f`] by the series only (`None` past [`SERIES_TERMS`] terms).
#[inline]
fn ln_f_series<R: Real>(r: R, alpha: R, s: R, beta: R, x: f64, y: f64, la: R, lb: R) -> Option<R> {
    let n = r + s + x;
    let (lm, lmn, big_b, bpp, z) = if alpha.val() >= beta.val() {
        (la, lb, s + 1.0, r + x, (alpha - beta) / (alpha + y))
    } else {
        (lb, la, r + x, s + 1.0, (beta - alpha) / (beta + y))
    };
    ln_g_series(bpp, n + 1.0, z).map(|ln_g| (-(big_b - 1.0)) * (lmn - lm) + ln_g - n * lm)
}

/// `ln ₂F₁(1, b; c; z)` as a [`Real`]: the value and partials come from the
/// `f64` series with running derivative sums, and are chained into the
/// derivative directions of `b`, `c`, `z` (a plain `f64` sums the values only).
#[inline]
fn ln_g_series<R: Real>(b: R, c: R, z: R) -> Option<R> {
    if !R::DERIVATIVES {
        // Values only (scoring): one division per term and no derivative sums.
        return ln_hyp2f1_one(b.val(), c.val(), z.val(), SERIES_TERMS).map(R::cst);
    }
    let (v, db, dc, dz) = ln_hyp2f1_one_grad(b.val(), c.val(), z.val(), SERIES_TERMS)?;
    // v + db·(b − b₀) + dc·(c − c₀) + dz·(z − z₀): same value, exact first derivatives.
    Some((b - b.val()) * db + (c - c.val()) * dc + (z - z.val()) * dz + v)
}

/// Quadrature form of [`ln_f`]. Since
/// `F(y)/n = ∫_y^∞ (α+τ)^{−(r+x)} (β+τ)^{−(s+1)} dτ`, the substitutions
/// `u = (α+y)/(α+τ)` and `u = e^{−w/n}` give
///
/// `ln F(y) = −n ln(α+y) + ln ∫_0^∞ exp(φ(w)) dw`,
/// `φ(w) = −w − (s+1) ln(1 + c e^{−w/n})`, `c = (β−α)/(α+y) > −1`.
///
/// `φ` is evaluated in log space (softplus form for large `c`) and shifted
/// by its maximum (at `w* = n(ln c − logit(n/(s+1)))` when `n < s+1` and
/// `c > 0`, else at 0) so nothing under- or overflows; the integral is
/// truncated where `φ` has fallen by more than 60 below its maximum. The
/// case `c → −1` (`z → 1` with `α > β`) is an integrable spike at `w = 0`,
/// handled by the adaptive bisection.
fn ln_f_quad<R: Real>(r: R, alpha: R, s: R, beta: R, x: f64, y: f64, la: R) -> Option<R> {
    let n = r + s + x;
    let c = (beta - alpha) / (alpha + y);
    let s1 = s + 1.0;
    let (nv, cv, s1v) = (n.val(), c.val(), s1.val());
    let ln_c = if cv > 0.0 { c.ln() } else { R::cst(0.0) };
    let log1p_ce = |w: f64| -> R {
        if cv > 1.0 {
            // softplus(ln c − w/n)
            let a = ln_c - R::cst(w) / n;
            if a.val() > 0.0 {
                a + (-a).exp().ln_1p()
            } else {
                a.exp().ln_1p()
            }
        } else {
            (c * (R::cst(-w) / n).exp()).ln_1p()
        }
    };
    let phi = |w: f64| -> R { R::cst(-w) - s1 * log1p_ce(w) };
    let ratio = nv / s1v;
    let w_star = if ratio < 1.0 && cv > 0.0 {
        (nv * (cv.ln() - (ratio / (1.0 - ratio)).ln())).max(0.0)
    } else {
        0.0
    };
    let shift = phi(w_star).val();
    let w_end = w_star + nv * (cv.max(1.0).ln() + (1.0 / ratio).max(1.0).ln()) + 60.0;
    if !(shift.is_finite() && w_end.is_finite()) {
        return None;
    }
    let k = integrate_real(|w: f64| (phi(w) - shift).exp(), 0.0, w_end, 0.0)?;
    let v = -(n * la) + k.ln() + shift;
    v.val().is_finite().then_some(v)
}

/// The parts of P(alive) that depend on `x` and one time `y` (t_x or T), which customers on a
/// day grid share: `ln_f = ln F(y)` of [`ln_f`], `ln_first = −(r+x) ln(α+y) − s ln(β+y)` (the
/// log of the bracket's first term when y = T) and `ln_s_n = ln(s/(r+s+x))`.
#[derive(Debug, Clone, Copy)]
struct AliveTerms {
    ln_f: f64,
    ln_first: f64,
    ln_s_n: f64,
    /// `ln_f` came from the series (accurate to a few ulps), not the quadrature fallback
    /// (relative tolerance 1e-12).
    by_series: bool,
}

impl AliveTerms {
    fn new(p: ParetoNbdParams, x: f64, y: f64) -> Option<Self> {
        let (la, lb) = ((p.alpha + y).ln(), (p.beta + y).ln());
        let series = ln_f_series(p.r, p.alpha, p.s, p.beta, x, y, la, lb);
        Some(AliveTerms {
            ln_f: match series {
                Some(v) => v,
                None => ln_f_quad(p.r, p.alpha, p.s, p.beta, x, y, la)?,
            },
            ln_first: -((p.r + x) * la) - p.s * lb,
            ln_s_n: p.s.ln() - (p.r + p.s + x).ln(),
            by_series: series.is_some(),
        })
    }

    /// P(alive) of a checked row: 1 when t_x = T (a customer seen last at T), else
    /// [`Self::p_alive`] of `terms(t_x)` and `terms(T)`, asked for in that order and only then.
    #[inline]
    fn p_alive_of(
        t_x: f64,
        T: f64,
        mut terms: impl FnMut(f64) -> Result<AliveTerms, ModelError>,
    ) -> Result<f64, ModelError> {
        if t_x == T {
            return Ok(1.0);
        }
        let at_t_x = terms(t_x)?;
        finite(Self::p_alive(at_t_x, terms(T)?), "Pareto/NBD P(alive)")
    }

    /// P(alive) of a customer with `at_t_x` and `at_t` (the terms at t_x and at T, same x):
    /// the bracket's first term over the whole bracket,
    /// `1 / (1 + s/(r+s+x) · A₀ / first)` with `A₀ = F(t_x) − F(T) ≥ 0`, i.e.
    /// `1 / (1 + exp(ln_s_n + ln F(t_x) − ln_first) · (1 − F(T)/F(t_x)))`, the difference taken
    /// with `expm1` (no cancellation) and the product in log space when it would overflow.
    #[inline]
    fn p_alive(at_t_x: AliveTerms, at_t: AliveTerms) -> f64 {
        // 1 − F(T)/F(t_x): expm1 only where 1 − e^d would cancel (e^d > ½); below, 1 − e^d is
        // within an ulp or two (and exp is much cheaper than expm1).
        let d = at_t.ln_f - at_t_x.ln_f;
        let share = if d < -std::f64::consts::LN_2 {
            1.0 - d.exp()
        } else {
            (-d.exp_m1()).max(0.0)
        };
        let ln_scale = at_t.ln_s_n + at_t_x.ln_f - at_t.ln_first;
        let odds = if ln_scale < 700.0 {
            ln_scale.exp() * share
        } else {
            (ln_scale + share.ln()).exp()
        };
        (1.0 / (1.0 + odds)).min(1.0)
    }
}

/// `(H, G)` of (W3) (window.rs): P(no purchase | alive at T) and P(some purchase | alive at T), for the
/// posterior `r' = r+x`, `α' = α+T`, `β' = β+T`; the smaller one by quadrature.
pub(crate) fn none_any_if_alive(p: ParetoNbdParams, tau: f64, x: f64, T: f64) -> Result<(f64, f64), ModelError> {
    if tau == 0.0 {
        return Ok((1.0, 0.0));
    }
    let (r1, a1, s, b1) = (p.r + x, p.alpha + T, p.s, p.beta + T);
    let failure = ModelError::NumericalFailure {
        context: "Pareto/NBD P(no purchase in the window) (quadrature)",
    };
    // ln of (1+y/α')^{−r'} (1+y/β')^{−s}
    let ln_surv = |y: f64| -r1 * (y / a1).ln_1p() - s * (y / b1).ln_1p();
    let end = ln_surv(tau).exp();
    // The integrands of G and of H's integral. In H, s/β'·(1+y/β')^{-1}·S(y); in G likewise
    // with r'/α'. Their sum is −S'(y), and 1 − S(τ) = ∫ −S' splits the mass between G and
    // the integral part of H in proportions that a cheap midpoint estimate tells apart.
    let g_rate = |y: f64| r1 / (a1 + y);
    let h_rate = |y: f64| s / (b1 + y);
    let mid = 0.5 * tau;
    let g_share = g_rate(mid) / (g_rate(mid) + h_rate(mid));
    // Rough G ≈ g_share·(1 − S(τ)): integrate whichever of G and H looks smaller.
    let rough_g = g_share * -ln_surv(tau).exp_m1();
    let integral =
        |rate: &dyn Fn(f64) -> f64| integrate(|y| rate(y) * ln_surv(y).exp(), 0.0, tau, 0.0).ok_or(failure.clone());
    let (h, g) = if rough_g <= 0.5 {
        let g = integral(&g_rate)?;
        (1.0 - g, g)
    } else {
        let h = end + integral(&h_rate)?;
        (h, 1.0 - h)
    };
    Ok((h.clamp(0.0, 1.0), g.clamp(0.0, 1.0)))
}

/// The parts of the window probability `P(X(T, T+τ) = 0 | x, t_x, T)` that customers with
/// equal `(τ, x, T)` share (window.rs, (W4)): with `F` of [`ln_f`], `first(y) = (α+y)^{−(r+x)}
/// (β+y)^{−s}` and `B = s/(r+s+x) · F(T)/first(T)` (≤ 1),
///
/// * `h = P(none | alive at T) = first(T+τ)/first(T) + B (1 − F(T+τ)/F(T))`, (W3) in closed
///   form (the integral of (W3) is `(F(T) − F(T+τ))/(r+s+x)` after `y → T + y`);
/// * the dead odds of a customer last seen at t_x, `(1 − π)/π = B (F(t_x)/F(T) − 1)`;
/// * `P(none) = (h + odds)/(1 + odds)`, i.e. `(1 − π) + π h`, (W1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct WindowTerms {
    /// `ln F(T)`.
    ln_f_t: f64,
    /// `ln B` and `B`.
    ln_b: f64,
    b: f64,
    /// `P(none | alive at T)`.
    h: f64,
    /// `P(none)` of a customer with no repeat purchase (x = 0, so t_x = 0); NaN when x > 0.
    none_new: f64,
}

impl WindowTerms {
    /// From the [`AliveTerms`] of `(x, T)` and of `(x, T+τ)`; `at_zero` = those of `(0, 0)`
    /// when x = 0.
    fn new(
        p: ParetoNbdParams,
        tau: f64,
        x: f64,
        T: f64,
        at_t: AliveTerms,
        at_end: AliveTerms,
        at_zero: Option<AliveTerms>,
    ) -> Result<Self, ModelError> {
        let ln_b = (at_t.ln_s_n + at_t.ln_f - at_t.ln_first).min(0.0);
        let b = ln_b.exp();
        let h = if at_t.by_series && at_end.by_series {
            // first(T+τ)/first(T), from ln1p of the relative steps (no difference of large logs).
            let w = (-(p.r + x) * (tau / (p.alpha + T)).ln_1p() - p.s * (tau / (p.beta + T)).ln_1p()).exp();
            let decay = (at_end.ln_f - at_t.ln_f).min(0.0);
            (w - b * decay.exp_m1()).min(1.0)
        } else {
            // F by its quadrature fallback (z near 1) is good to about 1e-10 only: (W3) by
            // quadrature of the smaller part instead.
            none_any_if_alive(p, tau, x, T)?.0
        };
        let mut terms = WindowTerms {
            ln_f_t: at_t.ln_f,
            ln_b,
            b,
            h,
            none_new: f64::NAN,
        };
        if let Some(at_zero) = at_zero {
            terms.none_new = terms.prob_no_purchase(at_zero.ln_f);
        }
        Ok(terms)
    }

    /// `P(none)` of a customer with `ln F(t_x)` = `ln_f_tx` (t_x ≤ T): `(h + odds)/(1 + odds)`,
    /// the odds as `B · expm1(d)`, `d = ln F(t_x) − ln F(T) ≥ 0` (in log space past e^700; a
    /// customer whose odds overflow is surely dead: 1).
    #[inline]
    fn prob_no_purchase(&self, ln_f_tx: f64) -> f64 {
        let d = (ln_f_tx - self.ln_f_t).max(0.0);
        let odds = if d < std::f64::consts::LN_2 {
            self.b * d.exp_m1()
        } else if d < 700.0 {
            self.b * (d.exp() - 1.0)
        } else {
            (self.ln_b + d).exp()
        };
        if odds.is_finite() {
            ((self.h + odds) / (1.0 + odds)).min(1.0)
        } else {
            1.0
        }
    }
}

type D4 = Dual<4>;

/// Mean negative log-likelihood with exact gradient. Rows are grouped by x,
/// and within a group the hypergeometric terms are computed once per
/// distinct time value (t_x or T), which on day-grid data removes most of
/// the work.
pub(crate) struct ParetoObjective {
    data: Compressed,
    groups: Vec<(f64, usize, usize)>,
    /// Distinct times per group, concatenated; `ys_off[g]..ys_off[g+1]`.
    ys: Vec<f64>,
    ys_off: Vec<usize>,
    /// Per row: global index of t_x and of T in `ys`.
    itx: Vec<u32>,
    it: Vec<u32>,
    cache: Vec<(D4, D4, D4)>,
}

impl ParetoObjective {
    pub(crate) fn new(data: Compressed) -> Self {
        let groups = data.groups();
        let mut ys = Vec::new();
        let mut ys_off = vec![0];
        let mut itx = vec![0u32; data.len()];
        let mut it = vec![0u32; data.len()];
        // (value, row, is_T) triples sorted by value; equal values share an id.
        let mut local: Vec<(f64, u32, bool)> = Vec::new();
        for &(_, s, e) in &groups {
            local.clear();
            for i in s..e {
                local.push((data.k1[i], i as u32, false));
                local.push((data.k2[i], i as u32, true));
            }
            local.sort_unstable_by(|p, q| p.0.total_cmp(&q.0));
            for (k, &(v, row, is_t)) in local.iter().enumerate() {
                if k == 0 || v != local[k - 1].0 {
                    ys.push(v);
                }
                let id = (ys.len() - 1) as u32;
                if is_t {
                    it[row as usize] = id;
                } else {
                    itx[row as usize] = id;
                }
            }
            ys_off.push(ys.len());
        }
        let cache = vec![(D4::cst(0.0), D4::cst(0.0), D4::cst(0.0)); ys.len()];
        ParetoObjective {
            data,
            groups,
            ys,
            ys_off,
            itx,
            it,
            cache,
        }
    }

    fn log_likelihood(&mut self, theta: [f64; 4]) -> f64 {
        let mut g = [0.0; 4];
        -self.eval(&theta.map(f64::ln), &mut g) * self.data.total_weight
    }
}

impl Objective<4> for ParetoObjective {
    fn eval(&mut self, phi: &[f64; 4], grad: &mut [f64; 4]) -> f64 {
        self.eval_impl(phi, grad)
    }
    fn total_weight(&self) -> f64 {
        self.data.total_weight
    }
    fn subsample(&self, max_rows: usize) -> Option<Self> {
        Some(ParetoObjective::new(self.data.subsample(max_rows)?))
    }
    fn set_weights(&mut self, w: &[f64]) -> bool {
        self.data.set_weights(w)
    }
}
impl ParetoObjective {
    fn eval_impl(&mut self, phi: &[f64; 4], grad: &mut [f64; 4]) -> f64 {
        let th = phi.map(f64::exp);
        let r = D4::var(th[0], 0);
        let alpha = D4::var(th[1], 1);
        let s = D4::var(th[2], 2);
        let beta = D4::var(th[3], 3);
        let head0 = -r.ln_gamma() + r * alpha.ln() + s * beta.ln();
        let ln_s = s.ln();
        let mut total = D4::cst(0.0);
        for (gi, &(x, rs, re)) in self.groups.iter().enumerate() {
            let n = r + s + x;
            let rx = r + x;
            let ln_s_over_n = ln_s - n.ln();
            for yi in self.ys_off[gi]..self.ys_off[gi + 1] {
                let y = self.ys[yi];
                let la = (alpha + y).ln();
                let lb = (beta + y).ln();
                let Some(f) = ln_f(r, alpha, s, beta, x, y, la, lb) else {
                    *grad = [0.0; 4];
                    return f64::INFINITY;
                };
                self.cache[yi] = (la, lb, f);
            }
            let mut acc = D4::cst(0.0);
            let mut sw = 0.0;
            for i in rs..re {
                let (la_t, lb_t, f_t) = self.cache[self.it[i] as usize];
                let p = -(rx * la_t) - s * lb_t;
                let bracket = if self.itx[i] == self.it[i] {
                    p
                } else {
                    let f_x = self.cache[self.itx[i] as usize].2;
                    log_sum_exp_r(p, ln_s_over_n + log_diff_exp_r(f_x, f_t))
                };
                acc = acc + bracket * self.data.w[i];
                sw += self.data.w[i];
            }
            total = total + (head0 + rx.ln_gamma()) * sw + acc;
        }
        let scale = -1.0 / self.data.total_weight;
        *grad = std::array::from_fn(|j| total.d[j] * th[j] * scale);
        total.v * scale
    }
}

/// Pareto/NBD fitter (builder); defaults as [`FitOptions`]; starting point
/// `r = 1, α = ΣT/Σx, s = 1, β = mean T` unless set.
#[derive(Debug, Clone, Default)]
pub struct ParetoNbd {
    options: FitOptions,
    initial: Option<ParetoNbdParams>,
}

impl ParetoNbd {
    /// A fitter with default options.
    pub fn new() -> Self {
        Self::default()
    }
    fit_builder_methods!();

    /// Starting point of the optimiser.
    pub fn initial_params(mut self, p: ParetoNbdParams) -> Self {
        self.initial = Some(p);
        self
    }

    /// Maximum-likelihood fit.
    pub fn fit(&self, data: &TransactionSummary) -> Result<FittedParetoNbd, ModelError> {
        let c = data.compress_internal();
        check_count_data(&c)?;
        let start = match self.initial {
            Some(p) => {
                p.validate()?;
                p.to_array()
            }
            None => {
                let (mut sx, mut st) = (0.0, 0.0);
                for i in 0..c.len() {
                    sx += c.w[i] * c.k0[i];
                    st += c.w[i] * c.k2[i];
                }
                let alpha = (st / sx).clamp(1e-3, 1e6);
                let mean_t = (st / c.total_weight).clamp(1e-3, 1e6);
                [1.0, alpha, 1.0, mean_t]
            }
        };
        let mut obj = ParetoObjective::new(c);
        let out = run_fit(&mut obj, start, &self.options, ModelKind::ParetoNbd)?;
        let report = FitReport {
            log_likelihood: out.log_likelihood,
            iterations: out.iterations,
            converged: out.converged,
            standard_errors: out.standard_errors.map(ParetoNbdParams::from_array),
            n_customers: out.n_customers,
            penalizer: self.options.penalizer,
        };
        FittedParetoNbd::build(ParetoNbdParams::from_array(out.theta), data.time_unit(), Some(report))
    }
}

/// A fitted (or parameter-specified) Pareto/NBD model.
#[derive(Debug, Clone)]
pub struct FittedParetoNbd {
    params: ParetoNbdParams,
    time_unit: TimeUnit,
    fit: Option<FitReport<ParetoNbdParams>>,
}

fitted_serde!(FittedParetoNbd, ParetoNbdParams, ModelKind::ParetoNbd);

impl FittedParetoNbd {
    fn build(
        params: ParetoNbdParams,
        time_unit: TimeUnit,
        fit: Option<FitReport<ParetoNbdParams>>,
    ) -> Result<Self, ModelError> {
        params.validate()?;
        Ok(FittedParetoNbd { params, time_unit, fit })
    }
    /// A model with known parameters.
    pub fn from_params(params: ParetoNbdParams, time_unit: TimeUnit) -> Result<Self, ModelError> {
        Self::build(params, time_unit, None)
    }
    fn from_repr(r: FittedRepr<ParetoNbdParams>) -> Result<Self, ModelError> {
        let unit = r.time_unit.ok_or(ModelError::MissingTimeUnit {
            reason: "serialized Pareto/NBD model has no time unit",
        })?;
        Self::build(r.params, unit, r.fit)
    }
    fn to_repr(&self) -> FittedRepr<ParetoNbdParams> {
        FittedRepr {
            kind: ModelKind::ParetoNbd,
            format_version: super::FORMAT_VERSION,
            params: self.params,
            time_unit: Some(self.time_unit),
            fit: self.fit.clone(),
        }
    }
    /// Always [`ModelKind::ParetoNbd`].
    pub fn kind(&self) -> ModelKind {
        ModelKind::ParetoNbd
    }
    /// The parameters.
    pub fn params(&self) -> ParetoNbdParams {
        self.params
    }
    /// Time unit.
    pub fn time_unit(&self) -> TimeUnit {
        self.time_unit
    }
    /// Fit diagnostics.
    pub fn fit_report(&self) -> Option<&FitReport<ParetoNbdParams>> {
        self.fit.as_ref()
    }
    /// Log-likelihood at the estimate, if fitted.
    pub fn log_likelihood(&self) -> Option<f64> {
        self.fit.as_ref().map(|f| f.log_likelihood)
    }
    /// Standard errors, if fitted and available.
    pub fn standard_errors(&self) -> Option<ParetoNbdParams> {
        self.fit.as_ref().and_then(|f| f.standard_errors)
    }

    /// `P(alive | x, t_x, T)` (Fader & Hardie, "Computing P(alive) using the
    /// Pareto/NBD model", with the A₀ above).
    pub fn p_alive(&self, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
        check_rft(0, x, t_x, T)?;
        AliveTerms::p_alive_of(t_x, T, |y| AliveTerms::new(self.params, x, y).ok_or(P_ALIVE_FAILURE))
    }

    /// Expected purchases in `(T, T+t]` given the history (SMC 1987; Fader &
    /// Hardie 2005 note).
    pub fn expected_purchases(&self, t: f64, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
        check_arg("t", t)?;
        let pa = self.p_alive(x, t_x, T)?;
        self.expected_purchases_given_p_alive(t, x, T, pa)
    }

    fn expected_purchases_given_p_alive(&self, t: f64, x: f64, T: f64, pa: f64) -> Result<f64, ModelError> {
        check_arg("t", t)?;
        self.expected_purchases_from(self.horizon_factor(t, T), x, pa)
    }

    /// `(β+T)/(α+T) · (−u) · exprel((s−1) u)` with `u = −ln(1 + t/(β+T))`: the part of the
    /// conditional expectation that depends on `(t, T)` only,
    /// `E = (r+x) · horizon_factor · P(alive)`.
    fn horizon_factor(&self, t: f64, T: f64) -> f64 {
        let p = self.params;
        let u = -(t / (p.beta + T)).ln_1p();
        (p.beta + T) / (p.alpha + T) * (-u) * exprel((p.s - 1.0) * u)
    }

    #[inline]
    fn expected_purchases_from(&self, horizon_factor: f64, x: f64, pa: f64) -> Result<f64, ModelError> {
        finite(
            (self.params.r + x) * horizon_factor * pa,
            "Pareto/NBD conditional expected purchases",
        )
    }

    /// Unconditional `E[X(t)] = rβ/(α(s−1)) [1 − (β/(β+t))^{s−1}]` (SMC 1987).
    pub fn expected_purchases_new(&self, t: f64) -> Result<f64, ModelError> {
        check_arg("t", t)?;
        let p = self.params;
        let u = -(t / p.beta).ln_1p();
        finite(
            p.r / p.alpha * p.beta * (-u) * exprel((p.s - 1.0) * u),
            "Pareto/NBD E[X(t)]",
        )
    }

    /// `P(X(t) = n)` for a new customer (numerical integration over the
    /// lifetime distribution; see the module docs).
    pub fn prob_purchases(&self, n: u32, t: f64) -> Result<f64, ModelError> {
        check_arg("t", t)?;
        let p = self.params;
        let nf = n as f64;
        let lc = ln_gamma(p.r + nf) - ln_gamma(p.r) - ln_gamma(nf + 1.0);
        let nb = |tau: f64| -> f64 {
            if tau <= 0.0 {
                return if n == 0 { 1.0 } else { 0.0 };
            }
            (lc - p.r * (tau / p.alpha).ln_1p() - nf * (p.alpha / tau).ln_1p()).exp()
        };
        let surv_t = (-p.s * (t / p.beta).ln_1p()).exp();
        let tau_of = |v: f64| p.beta * (v.powf(-1.0 / p.s) - 1.0);
        let integral = integrate(|v| nb(tau_of(v).min(t)), surv_t, 1.0, 1e-13).ok_or(ModelError::NumericalFailure {
            context: "Pareto/NBD P(X(t) = n) (quadrature)",
        })?;
        finite((nb(t) * surv_t + integral).clamp(0.0, 1.0), "Pareto/NBD P(X(t) = n)")
    }

    /// Total log-likelihood of `data` under these parameters.
    pub fn log_likelihood_of(&self, data: &TransactionSummary) -> Result<f64, ModelError> {
        let d = data.to_unit(self.time_unit).compress_internal();
        if d.len() == 0 {
            return Err(ModelError::EmptyInput);
        }
        let mut obj = ParetoObjective::new(d);
        finite(obj.log_likelihood(self.params.to_array()), "log-likelihood")
    }
}

impl TransactionModel for FittedParetoNbd {
    fn kind(&self) -> ModelKind {
        ModelKind::ParetoNbd
    }
    fn time_unit(&self) -> TimeUnit {
        self.time_unit
    }
    fn p_alive(&self, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
        FittedParetoNbd::p_alive(self, x, t_x, T)
    }
    /// Each distinct row once, large inputs over the cores ([`super::batch`]); and the two
    /// hypergeometric terms of a customer, which depend on `(x, t_x)` and `(x, T)`, once per
    /// distinct pair, which on day-grid data is a small fraction of the rows.
    fn p_alive_many(&self, x: &[f64], t_x: &[f64], T: &[f64]) -> Result<Vec<f64>, ModelError> {
        super::batch::check_rows(&[], x, t_x, T)?;
        super::batch::score_rows([x, t_x, T], super::batch::Repeats::Ignore, |[x, t_x, T], out| {
            self.p_alive_rows(x, t_x, T, out)
        })
    }
    fn expected_purchases(&self, t: f64, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
        FittedParetoNbd::expected_purchases(self, t, x, t_x, T)
    }
    fn expected_purchases_many(&self, t: &[f64], x: &[f64], t_x: &[f64], T: &[f64]) -> Result<Vec<f64>, ModelError> {
        super::batch::check_rows(&[("t", t)], x, t_x, T)?;
        super::batch::score_rows([t, x, t_x, T], super::batch::Repeats::Ignore, |[t, x, t_x, T], out| {
            self.expected_purchases_rows(t, x, t_x, T, out)
        })
    }
    fn expected_purchases_new(&self, t: f64) -> Result<f64, ModelError> {
        FittedParetoNbd::expected_purchases_new(self, t)
    }
    fn prob_purchases(&self, n: u32, t: f64) -> Result<f64, ModelError> {
        FittedParetoNbd::prob_purchases(self, n, t)
    }
}

thread_local! {
    /// [`AliveTerms`] by `(x, time)`, kept between a thread's calls (SQL batches).
    static ALIVE_TERMS: super::memo::ThreadMemo<2, AliveTerms> = const { std::cell::RefCell::new(None) };
    /// The [`WindowTerms`] by `(τ, x, T)`, likewise, and their `none_new` by `(τ, T)`.
    static WINDOW_TERMS: super::memo::ThreadMemo<3, WindowTerms> = const { std::cell::RefCell::new(None) };
    static NEW_CUSTOMER_NONE: super::memo::ThreadMemo<2, f64> = const { std::cell::RefCell::new(None) };
    /// `ln F` of [`AliveTerms`] alone by `(x, t_x)`: a third the size, so more stays in cache.
    static LN_F: super::memo::ThreadMemo<2, f64> = const { std::cell::RefCell::new(None) };
    /// The terms at T and [`FittedParetoNbd::horizon_factor`] by `(t, x, T)`, likewise.
    static EXPECTED_TERMS: super::memo::ThreadMemo<3, (Option<AliveTerms>, f64)> =
        const { std::cell::RefCell::new(None) };
}

const P_ALIVE_FAILURE: ModelError = ModelError::NumericalFailure {
    context: "Pareto/NBD P(alive) (hypergeometric series)",
};

impl FittedParetoNbd {
    /// P(alive) of checked rows into `out`, the terms of each distinct `(x, time)` computed
    /// once.
    fn p_alive_rows(&self, x: &[f64], t_x: &[f64], T: &[f64], out: &mut [f64]) -> Result<(), ModelError> {
        super::memo::with_thread_memo(&ALIVE_TERMS, self.model_key(), |memo| {
            // The rows were checked by the caller (`p_alive_many`).
            for (i, o) in out.iter_mut().enumerate() {
                *o = AliveTerms::p_alive_of(t_x[i], T[i], |y| self.alive_terms(memo, x[i], y))?;
            }
            Ok(())
        })
    }

    /// The [`AliveTerms`] of `(x, y)`, from `memo` or computed into it.
    #[inline]
    fn alive_terms(
        &self,
        memo: &mut super::memo::Memo<2, AliveTerms>,
        x: f64,
        y: f64,
    ) -> Result<AliveTerms, ModelError> {
        memo.get_or_try_insert([x.to_bits(), y.to_bits()], || {
            AliveTerms::new(self.params, x, y).ok_or(P_ALIVE_FAILURE)
        })
    }

    /// Expected purchases of checked rows into `out`: per row one lookup by `(t, x, T)` (the
    /// terms at T and the horizon factor) and, unless t_x = T, one by `(x, t_x)`.
    fn expected_purchases_rows(
        &self,
        t: &[f64],
        x: &[f64],
        t_x: &[f64],
        T: &[f64],
        out: &mut [f64],
    ) -> Result<(), ModelError> {
        let model = self.model_key();
        super::memo::with_thread_memo(&ALIVE_TERMS, model, |alive| {
            super::memo::with_thread_memo(&EXPECTED_TERMS, model, |expected| {
                for (i, o) in out.iter_mut().enumerate() {
                    check_arg("t", t[i])?;
                    let key = [t[i].to_bits(), x[i].to_bits(), T[i].to_bits()];
                    // The terms at T are needed only when t_x < T: a failure is kept, not raised.
                    let (at_t, factor) = expected.get_or_insert(key, || {
                        (
                            AliveTerms::new(self.params, x[i], T[i]),
                            self.horizon_factor(t[i], T[i]),
                        )
                    });
                    // The terms at t_x from the (x, time) memo; those at T came with the factor.
                    let pa = AliveTerms::p_alive_of(t_x[i], T[i], |y| {
                        if y == T[i] {
                            at_t.ok_or(P_ALIVE_FAILURE)
                        } else {
                            self.alive_terms(alive, x[i], y)
                        }
                    })?;
                    *o = self.expected_purchases_from(factor, x[i], pa)?;
                }
                Ok(())
            })
        })
    }

    /// `P(X(T, T+τ) = 0 | x, t_x, T)` of a checked row by the closed form of [`WindowTerms`]
    /// (window.rs, (W4)); the value [`Self::prob_no_purchase_rows`] gives, bit for bit.
    pub(crate) fn prob_no_purchase_closed(&self, tau: f64, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
        let terms = |y: f64| AliveTerms::new(self.params, x, y).ok_or(P_ALIVE_FAILURE);
        let at_zero = if x == 0.0 { Some(terms(0.0)?) } else { None };
        let w = WindowTerms::new(self.params, tau, x, T, terms(T)?, terms(T + tau)?, at_zero)?;
        let p = if x == 0.0 {
            w.none_new
        } else if t_x == T {
            w.h
        } else {
            w.prob_no_purchase(terms(t_x)?.ln_f)
        };
        finite(p, "Pareto/NBD P(no purchase in the window)")
    }

    /// [`Self::prob_no_purchase_closed`] for rows checked by the caller, into `out`: per row one
    /// lookup of the [`WindowTerms`] by `(τ, x, T)` (for x = 0 of their `none_new` by `(τ, T)`)
    /// and, for x > 0 and t_x < T, one of `ln F` by `(x, t_x)` and one `exp`; the hypergeometric terms of each distinct
    /// `(x, time)` are computed once (kept by the thread between calls, as for P(alive)).
    pub(crate) fn prob_no_purchase_rows(
        &self,
        tau: &[f64],
        x: &[f64],
        t_x: &[f64],
        T: &[f64],
        out: &mut [f64],
    ) -> Result<(), ModelError> {
        let model = self.model_key();
        super::memo::with_thread_memo(&ALIVE_TERMS, model, |alive| {
            super::memo::with_thread_memo(&WINDOW_TERMS, model, |window| {
                super::memo::with_thread_memo(&NEW_CUSTOMER_NONE, model, |new_none| {
                    super::memo::with_thread_memo(&LN_F, model, |ln_f| {
                        for (i, o) in out.iter_mut().enumerate() {
                            let (tau, x, t_x, T) = (tau[i], x[i], t_x[i], T[i]);
                            // Most customers have x = 0: a small table by (τ, T) that stays in cache.
                            let p = if x == 0.0 {
                                new_none.get_or_try_insert([tau.to_bits(), T.to_bits()], || {
                                    Ok(self.window_terms(alive, window, tau, x, T)?.none_new)
                                })?
                            } else if t_x == T {
                                self.window_terms(alive, window, tau, x, T)?.h
                            } else {
                                let w = self.window_terms(alive, window, tau, x, T)?;
                                let ln_f_tx = ln_f.get_or_try_insert([x.to_bits(), t_x.to_bits()], || {
                                    Ok(self.alive_terms(alive, x, t_x)?.ln_f)
                                })?;
                                w.prob_no_purchase(ln_f_tx)
                            };
                            *o = finite(p, "Pareto/NBD P(no purchase in the window)")?;
                        }
                        Ok(())
                    })
                })
            })
        })
    }

    /// The [`WindowTerms`] of `(τ, x, T)`, from `window` or computed into it.
    #[inline]
    fn window_terms(
        &self,
        alive: &mut super::memo::Memo<2, AliveTerms>,
        window: &mut super::memo::Memo<3, WindowTerms>,
        tau: f64,
        x: f64,
        T: f64,
    ) -> Result<WindowTerms, ModelError> {
        window.get_or_try_insert([tau.to_bits(), x.to_bits(), T.to_bits()], || {
            let at_t = self.alive_terms(alive, x, T)?;
            let at_end = self.alive_terms(alive, x, T + tau)?;
            let at_zero = if x == 0.0 {
                Some(self.alive_terms(alive, 0.0, 0.0)?)
            } else {
                None
            };
            WindowTerms::new(self.params, tau, x, T, at_t, at_end, at_zero)
        })
    }

    /// This model in a [`super::memo::ThreadMemo`].
    fn model_key(&self) -> super::memo::ModelKey {
        super::memo::model_key(2, self.params.to_array())
    }
}

model_params!(ParetoNbdParams { r, alpha, s, beta });

impl Model for FittedParetoNbd {
    type Params = ParetoNbdParams;
    const KIND: ModelKind = ModelKind::ParetoNbd;
    const ALIASES: &'static [&'static str] = &[];
    const DISPLAY_NAME: &'static str = "Pareto/NBD";
    const DESCRIPTION: &'static str = "Pareto/NBD (Schmittlein, Morrison & Colombo 1987)";
    const FIT_FUNCTION: &'static str = "pareto_nbd_fit";
    const INPUTS: &'static [Input] = TRANSACTION_INPUTS;
    const TIME_UNIT: bool = true;
    const ROLES: &'static [Role] = &[Role::Transactions];
    const PREDICTIONS: &'static [&'static Prediction] = TRANSACTION_PREDICTIONS;

    transaction_model_methods!(ParetoNbd);

    fn from_params(params: ParetoNbdParams, time_unit: TimeUnit) -> Result<Self, ModelError> {
        Self::from_params(params, time_unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::beta_geo::tests::check_gradient;

    #[test]
    fn gradient_matches_finite_differences() {
        let s = TransactionSummary::from_rows(
            &[
                (0.0, 0.0, 30.0),
                (2.0, 10.0, 30.0),
                (5.0, 29.0, 31.0),
                (1.0, 0.5, 12.0),
                (3.0, 4.0, 4.0),
            ],
            TimeUnit::Week,
        )
        .unwrap();
        let mut o = ParetoObjective::new(s.compress_internal());
        check_gradient(&mut o, [0.55, 10.6, 0.6, 11.7]); // alpha < beta branch
        check_gradient(&mut o, [0.55, 15.0, 0.6, 3.0]); // alpha > beta branch
    }

    fn model(alpha: f64, beta: f64) -> FittedParetoNbd {
        let params = ParetoNbdParams {
            r: 0.5,
            alpha,
            s: 0.7,
            beta,
        };
        FittedParetoNbd::from_params(params, TimeUnit::Week).unwrap()
    }

    #[test]
    fn p_alive_is_continuous_across_branches() {
        let pa = |alpha: f64, beta: f64| model(alpha, beta).p_alive(3.0, 12.0, 30.0).unwrap();
        let a = pa(10.0, 10.0 - 1e-9);
        let b = pa(10.0, 10.0 + 1e-9);
        assert!((a - b).abs() < 1e-8, "{a} {b}");
    }

    #[test]
    fn quadrature_fallback_matches_series() {
        for &(alpha, beta, x, y) in &[
            (10.6, 11.7, 3.0, 5.0),
            (15.0, 3.0, 0.0, 0.0),
            (2.0, 40.0, 25.0, 1.0),
            (50.0, 1.0, 0.0, 0.0),
            (3.0, 5.0, 2500.0, 0.5),
            (0.002, 1000.0, 0.0, 0.0),
            (0.002, 1000.0, 1500.0, 9.0),
        ] {
            let (r, s) = (0.55f64, 0.6f64);
            let (la, lb) = ((alpha + y).ln(), (beta + y).ln());
            let series = ln_f(r, alpha, s, beta, x, y, la, lb).unwrap();
            let quad = ln_f_quad(r, alpha, s, beta, x, y, la).unwrap();
            assert!((series - quad).abs() < 1e-10, "{alpha} {beta}: {series} vs {quad}");
            // and the gradients agree too
            let d = |i: usize, v: f64| Dual::<4>::var(v, i);
            let (rd, ad, sd, bd) = (d(0, r), d(1, alpha), d(2, s), d(3, beta));
            let gs = ln_f(rd, ad, sd, bd, x, y, (ad + y).ln(), (bd + y).ln()).unwrap();
            let gq = ln_f_quad(rd, ad, sd, bd, x, y, (ad + y).ln()).unwrap();
            for j in 0..4 {
                assert!(
                    (gs.d[j] - gq.d[j]).abs() < 1e-8 * (1.0 + gs.d[j].abs()),
                    "{j}: {:?} {:?}",
                    gs.d,
                    gq.d
                );
            }
        }
        // z extremely close to 1 still gives a finite answer in [0, 1]
        let p = FittedParetoNbd::from_params(
            ParetoNbdParams {
                r: 0.5,
                alpha: 1e4,
                s: 0.7,
                beta: 1e-3,
            },
            TimeUnit::Week,
        )
        .unwrap();
        for (x, tx, t) in [(2.0, 3.0, 10.0), (0.0, 0.0, 10.0), (3000.0, 9.0, 10.0)] {
            let pa = p.p_alive(x, tx, t).unwrap();
            assert!(pa.is_finite() && (0.0..=1.0).contains(&pa));
        }
    }

    #[test]
    fn p_alive_matches_the_bracket_by_numerical_integral() {
        // P(alive) = first / bracket, with
        // bracket = (α+T)^{-(r+x)}(β+T)^{-s} + s ∫_{t_x}^T (α+τ)^{-(r+x)} (β+τ)^{-(s+1)} dτ
        // and first its first term (SMC 1987; Fader & Hardie's P(alive) note).
        for &(alpha, beta) in &[(10.6, 11.7), (15.0, 3.0)] {
            let (r, s) = (0.5, 0.7);
            for (x, t_x, T) in [(4.0, 7.0, 30.0), (1.0, 29.5, 30.0), (40.0, 2.0, 52.0), (0.0, 0.0, 3.0)] {
                let first = -(r + x) * (alpha + T).ln() - s * (beta + T).ln();
                let i = integrate(
                    |tau: f64| (-(r + x) * (alpha + tau).ln() - (s + 1.0) * (beta + tau).ln() - first).exp(),
                    t_x,
                    T,
                    1e-14,
                )
                .unwrap();
                let want = 1.0 / (1.0 + s * i);
                let got = model(alpha, beta).p_alive(x, t_x, T).unwrap();
                assert!(
                    (got - want).abs() < 1e-12 * want.max(1e-300) + 1e-300,
                    "{x} {t_x} {T}: {got} vs {want}"
                );
            }
        }
    }
}
