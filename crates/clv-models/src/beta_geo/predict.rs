//! The predictions of BG/NBD and MBG/NBD: P(alive), conditional and unconditional expected
//! purchases (eqs. 9 and 10 of Fader, Hardie & Lee 2005) and the purchase-count distribution
//! (eq. 8), in log space, shared by both fitted models through [`BetaGeoCore`].

use super::Variant;
use crate::check_arg;
use crate::data::check_rft;
use crate::error::{ModelError, finite};
use crate::special::{MAX_SERIES_TERMS, exprel, integrate, ln_beta, ln_gamma};

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
    beta_expectation(a, bb, |p: f64| -> f64 {
        if p <= 0.0 {
            n * tau
        } else {
            -(-n * (p * tau).ln_1p()).exp_m1() / p
        }
    })
}

/// `E[h(p)]` for `p ~ Beta(a, bb)`, by adaptive quadrature on `[0, ½]` with `p = u^{1/a}` and
/// on `[½, 1]` with `1 − p = v^{1/bb}`, which remove the endpoint singularities of the beta
/// density (`h` must be finite on `[0, 1]`, `h(0)` its limit).
pub(crate) fn beta_expectation(a: f64, bb: f64, h: impl Fn(f64) -> f64) -> Option<f64> {
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
    static NUMERATORS: crate::memo::ThreadMemo<3, f64> = const { std::cell::RefCell::new(None) };
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
        crate::batch::check_rows(&[], x, t_x, T)?;
        crate::batch::score_rows([x, t_x, T], crate::batch::Repeats::Ignore, |[x, t_x, T], out| {
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
    /// (`crate::batch`). Same values as one call per customer.
    pub(crate) fn expected_purchases_many(
        &self,
        t: &[f64],
        x: &[f64],
        t_x: &[f64],
        T: &[f64],
    ) -> Result<Vec<f64>, ModelError> {
        crate::batch::check_rows(&[("t", t)], x, t_x, T)?;
        // The memo of `expected_purchases_rows` already computes the series once per distinct
        // (t, x, T); looking for repeated rows would cost more than it saves.
        crate::batch::score_rows([t, x, t_x, T], crate::batch::Repeats::Ignore, |[t, x, t_x, T], out| {
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
        crate::memo::with_thread_memo(&NUMERATORS, self.model_key(), |memo| {
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

    /// This model in a [`crate::memo::ThreadMemo`].
    fn model_key(&self) -> crate::memo::ModelKey {
        let variant = match self.variant {
            Variant::Bg => 0,
            Variant::Mbg => 1,
        };
        crate::memo::model_key(variant, [self.r, self.alpha, self.a, self.b])
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

#[cfg(test)]
mod tests {
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

    #[test]
    fn expectation_matches_hypergeometric_formula() {
        // eq. 10 with the general series, away from a = 1
        let core = BetaGeoCore::new(Variant::Bg, [0.2426, 4.4136, 0.7929, 2.4259]);
        let (x, t_x, T, t) = (2.0, 30.43, 38.86, 39.0);
        let (r, alpha, a, b) = (core.r, core.alpha, core.a, core.b);
        let z = t / (alpha + T + t);
        let (lf, sg) = crate::special::hyp2f1(r + x, b + x, a + b + x - 1.0, z).unwrap();
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
