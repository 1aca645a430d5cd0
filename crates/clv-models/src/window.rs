//! Forecasts for a future window: the conditional distribution of the number of purchases in
//! `(T, T+τ]`, the probability of none and of at least one, and the expected purchases over an
//! interval `(T+t₁, T+t₂]` after the end of calibration.
//!
//! # One derivation for every model
//!
//! A customer with history `(x, t_x, T)` is either dead at T (probability `1 − π`, and then
//! makes no purchase in the window) or alive (probability `π` = P(alive at T)), and then the
//! posterior of the latent traits given "alive at T" is the prior updated by the history, and
//! the future from T on is the process of a *new* customer with those posterior parameters.
//! So, writing `P_new(n; τ | θ')` for the new-customer PMF at the posterior parameters `θ'`,
//!
//! `P(X(T, T+τ) = n | x, t_x, T) = (1 − π)·[n = 0] + π · P_new(n; τ | θ')`.        (W1)
//!
//! | model | π (alive at T) | θ' (posterior given alive at T) | P_new |
//! |---|---|---|---|
//! | BG/NBD | `1/(1 + [x>0] a/(b+x−1) ((α+T)/(α+t_x))^{r+x})` | `(r+x, α+T, a, b+x)` | FHL (2005) eq. 8 |
//! | MBG/NBD | `1/(1 + a/(b+x) ((α+T)/(α+t_x))^{r+x})` | `(r+x, α+T, a, b+x+1)` | FHL (2005) eq. 8 (the BG/NBD form: an alive customer drops out only after purchases) |
//! | Pareto/NBD | Fader & Hardie (2005) note 009 eq. 36–37 | `(r+x, α+T, s, β+T)` | Fader & Hardie note 012, by quadrature ([`crate::FittedParetoNbd::prob_purchases`]); n = 0 by (W4) |
//! | BG/BB | alive at opportunity n: `B(α+x, β+n−x) B(γ, δ+n) / (B(α,β) B(γ,δ) L)` | `(α+x, β+n−x, γ, δ+n)` | Fader, Hardie & Shang (2010) eq. 7 |
//!
//! (W1) is the mixture written out term by term in Fader & Hardie, "Deriving the conditional
//! PMF of the Pareto/NBD model" (note 028, eq. 16), and in the corresponding note for BG/NBD;
//! at `x = t_x = T = 0` (`n = 0` for BG/BB) π = 1 and θ' is the prior, so (W1) is the
//! new-customer PMF (BG/NBD: FHL 2005 eq. 8; e.g. `P(X(39) = 0) = 0.5737864` at
//! `(0.243, 4.414, 0.793, 2.426)`).
//!
//! **No purchase in the window.** With `n = 0` in (W1):
//!
//! * BG/NBD, MBG/NBD: `P(none) = (1 − π) + π ((α+T)/(α+T+τ))^{r+x}`,
//!   `P(any) = π (1 − ((α+T)/(α+T+τ))^{r+x})`;                                     (W2)
//! * Pareto/NBD: `P(any | alive) = G = ∫_0^τ (r'/α') (1+y/α')^{−(r'+1)} (1+y/β')^{−s} dy` and
//!   `P(none | alive) = H = (1+τ/α')^{−r'} (1+τ/β')^{−s} + ∫_0^τ (s/β') (1+y/α')^{−r'} (1+y/β')^{−(s+1)} dy`
//!   (`r' = r+x`, `α' = α+T`, `β' = β+T`; integrating `E_ω[1 − (α'/(α'+min(τ, ω)))^{r'}]` by
//!   parts; `G + H = 1`);                                                          (W3)
//! * every model: `P(none) = L(x, t_x, T+τ) / L(x, t_x, T)` — no purchase in the window is the
//!   same history observed for longer. The tests check (W2), (W3) and (W1) against this ratio
//!   of likelihoods.
//! * Pareto/NBD in closed form: after `y → T + y` the integral in H is
//!   `∫_T^{T+τ} (α+u)^{−(r+x)} (β+u)^{−(s+1)} du = (F(T) − F(T+τ))/(r+s+x)`, with
//!   `F(y) = ₂F₁(r+s+x, ·; r+s+x+1; ·)/(max(α,β)+y)^{r+s+x}` the function of the likelihood's
//!   `A₀` (note 009 eqs. 19–20; [`crate::pareto_nbd`]). With `first(y) = (α+y)^{−(r+x)}(β+y)^{−s}`
//!   and `B = s/(r+s+x) · F(T)/first(T)` (≤ 1):
//!   `H = first(T+τ)/first(T) + B (1 − F(T+τ)/F(T))`, the dead odds
//!   `(1 − π)/π = B (F(t_x)/F(T) − 1)`, and `P(none) = (H + odds)/(1 + odds)`.         (W4)
//!   (W4) is the ratio of likelihoods above written out; it needs F at t_x, T and T+τ only,
//!   which customers on a day grid share, so the batch path evaluates no series per customer.
//!
//! **Numerics.** `P(none)` and `P(any)` are each a sum of non-negative terms (W2, W3, W4), so
//! neither is computed as one minus the other: both keep their relative accuracy when small.
//! `1 − π` is computed from the odds (BG/NBD, MBG/NBD), the powers as `exp(k·ln1p(·))`; in
//! (W3) the smaller of G and H is integrated (adaptive Gauss–Kronrod, relative tolerance
//! 1e-12) and the other is one minus it. Pareto/NBD P(none) is (W4), the ratios of F from
//! differences of `ln F` by `expm1`; where F comes from its quadrature fallback (the series
//! argument near 1, see [`crate::pareto_nbd`]) H is taken from (W3) instead. On a grid of
//! 26,000 points (r, s from 0.01 to 20, α, β from 1e-3 to 1e4, x up to 3,000, t_x = T among
//! them) (W4) agrees with (W1)+(W3) to 1e-12 relative (of `max(P, 1e-3)`, and `(1 + x/250)`
//! times that for large x, where `ln F` is a sum of terms of size x), and with the likelihood
//! ratio to 1e-9 where the quadrature of (W3) misses a spike narrower than 1e-3 of the window.
//!
//! **Batches.** BG/NBD and MBG/NBD: a few `ln`/`exp` per row. Pareto/NBD: (W4) with its terms
//! memoised by `(τ, x, T)` and `(x, t_x)` (one `exp` per customer with x > 0, a table lookup for
//! x = 0). BG/BB: each distinct `(n*, x, t_x, n)` once (whole numbers of periods repeat).
//!
//! **Interval.** `E[X(T+t₁, T+t₂) | x, t_x, T] = E[Y(t₂)] − E[Y(t₁)]` with `E[Y(t)]` the
//! conditional expectation of each model (BG/NBD eq. 10 of FHL 2005; Pareto/NBD SMC 1987;
//! BG/BB FHS 2010 eq. 13); its absolute error is that of `E[Y(t₂)]` (about 1e-15 of it).
//!
//! Every function returns a [`ModelError`] rather than a NaN; times are in the model's
//! [`crate::TimeUnit`] (BG/BB: whole opportunities).

use super::batch::{Repeats, check_rows, score_rows};
use super::beta_geo::{BetaGeoCore, Variant};
use super::data::{check_discrete, check_rft, is_whole};
use super::error::{ModelError, finite};
use super::memo::Memo;
use super::{
    BgBbParams, FittedBgBb, FittedBgNbd, FittedMbgNbd, FittedParetoNbd, ParetoNbdParams, TransactionModel, check_arg,
};

/// Window forecasts of the continuous-time models (BG/NBD, MBG/NBD, Pareto/NBD); see the
/// [module documentation](self) for the equations. `tau`, `t1`, `t2`, `t_x` and `T` are in the
/// model's time unit.
pub trait WindowForecast: TransactionModel {
    /// `P(X(T, T+τ) = n | x, t_x, T)`, eq. (W1).
    fn prob_purchases_in_window(&self, n: u32, tau: f64, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError>;

    /// `P(X(T, T+τ) = 0 | x, t_x, T)`: the probability of no purchase in the window, (W2)/(W3).
    fn prob_no_purchase(&self, tau: f64, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError>;

    /// `P(X(T, T+τ) ≥ 1 | x, t_x, T)`, computed directly (not as `1 −` [`Self::prob_no_purchase`]).
    fn prob_any_purchase(&self, tau: f64, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError>;

    /// Expected purchases in `(T+t₁, T+t₂]`, `0 ≤ t₁ ≤ t₂`: the difference of the conditional
    /// expectations at `t₂` and `t₁` (never negative).
    fn expected_purchases_between(&self, t1: f64, t2: f64, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
        check_interval(t1, t2)?;
        let e2 = self.expected_purchases(t2, x, t_x, T)?;
        let e1 = if t1 == 0.0 {
            0.0
        } else {
            self.expected_purchases(t1, x, t_x, T)?
        };
        finite((e2 - e1).max(0.0), "expected purchases between two times")
    }

    /// [`Self::prob_any_purchase`] for many customers, as [`Self::prob_no_purchase_many`].
    fn prob_any_purchase_many(&self, tau: &[f64], x: &[f64], t_x: &[f64], T: &[f64]) -> Result<Vec<f64>, ModelError> {
        score_windows([tau, x, t_x, T], |tau, x, t_x, T| {
            self.prob_any_purchase(tau, x, t_x, T)
        })
    }

    /// [`Self::prob_no_purchase`] for many customers (slices of equal length, one window per
    /// customer; a bad row is an error naming its index). Exactly the values of one call per
    /// customer; large inputs are split over the cores (over 65,536 rows).
    fn prob_no_purchase_many(&self, tau: &[f64], x: &[f64], t_x: &[f64], T: &[f64]) -> Result<Vec<f64>, ModelError> {
        score_windows([tau, x, t_x, T], |tau, x, t_x, T| self.prob_no_purchase(tau, x, t_x, T))
    }
}

/// `one(τ, x, t_x, T)` for every row of checked columns, each distinct row once, large inputs
/// over the cores ([`score_rows`]).
fn score_windows(
    [tau, x, t_x, T]: [&[f64]; 4],
    one: impl Fn(f64, f64, f64, f64) -> Result<f64, ModelError> + Sync,
) -> Result<Vec<f64>, ModelError> {
    check_horizons(tau, x, t_x, T)?;
    score_rows([tau, x, t_x, T], Repeats::Merge, |[tau, x, t_x, T], out| {
        for (i, o) in out.iter_mut().enumerate() {
            *o = one(tau[i], x[i], t_x[i], T[i])?;
        }
        Ok(())
    })
}

/// A window `τ ≥ 0` (finite) and a valid history `(x, t_x, T)`.
fn check_window(tau: f64, x: f64, t_x: f64, T: f64) -> Result<(), ModelError> {
    check_rft(0, x, t_x, T)?;
    check_arg("tau", tau)?;
    Ok(())
}

/// [`check_rows`] and every window length `tau[i]` finite and ≥ 0 (errors name the row).
fn check_horizons(tau: &[f64], x: &[f64], t_x: &[f64], T: &[f64]) -> Result<(), ModelError> {
    check_rows(&[("tau", tau)], x, t_x, T)?;
    for (row, &t) in tau.iter().enumerate() {
        if !t.is_finite() {
            return Err(ModelError::NonFinite { row, field: "tau" });
        }
        if t < 0.0 {
            return Err(ModelError::Negative {
                row,
                field: "tau",
                value: t,
            });
        }
    }
    Ok(())
}

fn check_interval(t1: f64, t2: f64) -> Result<(), ModelError> {
    check_arg("t1", t1)?;
    check_arg("t2", t2)?;
    if t1 > t2 {
        return Err(ModelError::InvalidArgument {
            name: "t1",
            value: t1,
            reason: "the interval (t1, t2] must have t1 <= t2",
        });
    }
    Ok(())
}

/// `(π, 1 − π)` from the log odds of being dead, each without cancellation; `None` = no
/// dead term (π = 1).
#[inline]
fn alive_dead(ln_dead_odds: Option<f64>) -> (f64, f64) {
    match ln_dead_odds {
        None => (1.0, 0.0),
        Some(lo) => (1.0 / (1.0 + lo.exp()), 1.0 / (1.0 + (-lo).exp())),
    }
}

// ---------------------------------------------------------------------------------------------
// BG/NBD and MBG/NBD
// ---------------------------------------------------------------------------------------------

/// The BG/NBD-family window kernel: parameters, variant and what (W1)/(W2) need per row.
#[derive(Debug, Clone, Copy)]
struct BetaGeoWindow {
    variant: Variant,
    r: f64,
    alpha: f64,
    a: f64,
    b: f64,
    ln_a: f64,
}

impl BetaGeoWindow {
    fn new(variant: Variant, [r, alpha, a, b]: [f64; 4]) -> Self {
        BetaGeoWindow {
            variant,
            r,
            alpha,
            a,
            b,
            ln_a: a.ln(),
        }
    }

    /// The denominator of the dead odds (`b+x−1` for BG/NBD with x > 0, `b+x` for MBG/NBD);
    /// also `b'` − 1 of the posterior beta (BG: `b+x`, MBG: `b+x+1`).
    #[inline]
    fn odds_denominator(&self, x: f64) -> Option<f64> {
        match self.variant {
            Variant::Bg if x == 0.0 => None,
            Variant::Bg => Some(self.b + x - 1.0),
            Variant::Mbg => Some(self.b + x),
        }
    }

    /// `ln(P(dead)/P(alive))` at T; `ln_den` = ln of [`Self::odds_denominator`].
    #[inline]
    fn ln_dead_odds(&self, ln_den: Option<f64>, x: f64, t_x: f64, T: f64) -> Option<f64> {
        Some(self.ln_a - ln_den? + (self.r + x) * ((self.alpha + T) / (self.alpha + t_x)).ln())
    }

    /// `P(none | alive) = ((α+T)/(α+T+τ))^{r+x}`, as `exp((r+x) ln(ratio))`. (`ln` of the
    /// ratio rather than `−ln1p(τ/(α+T))`: as accurate in absolute terms, which is what
    /// P(none) needs, and much cheaper; P(any) uses `ln1p`.)
    #[inline]
    fn none_if_alive(&self, tau: f64, x: f64, T: f64) -> f64 {
        self.none_if_alive_from(self.ln_ratio(tau, T), x)
    }

    /// `ln((α+T)/(α+T+τ))`.
    #[inline]
    fn ln_ratio(&self, tau: f64, T: f64) -> f64 {
        let a = self.alpha + T;
        (a / (a + tau)).ln()
    }

    /// [`Self::none_if_alive`] from [`Self::ln_ratio`].
    #[inline]
    fn none_if_alive_from(&self, ln_ratio: f64, x: f64) -> f64 {
        ((self.r + x) * ln_ratio).exp()
    }

    /// The dead odds `o = (1 − π)/π` of a checked row (0 when there is no dead term, ∞ when
    /// they overflow).
    #[inline]
    fn dead_odds(&self, ln_den: Option<f64>, x: f64, t_x: f64, T: f64) -> f64 {
        self.ln_dead_odds(ln_den, x, t_x, T).map_or(0.0, f64::exp)
    }

    /// (W2) as `P(none) = (o + w)/(1 + o)` with `w` = [`Self::none_if_alive`] (a sum of
    /// positive terms; 1 when the odds overflow: surely dead).
    #[inline]
    fn none_from(odds: f64, w: f64) -> f64 {
        if odds.is_finite() {
            (odds + w) / (1.0 + odds)
        } else {
            1.0
        }
    }

    /// (W2) for a checked row: `(P(none), P(any))`, `P(any) = (1 − w)/(1 + o)` with `1 − w`
    /// from `expm1` and `ln1p`.
    #[inline]
    fn none_any(&self, tau: f64, x: f64, t_x: f64, T: f64) -> (f64, f64) {
        let ln_den = self.odds_denominator(x).map(f64::ln);
        let odds = self.dead_odds(ln_den, x, t_x, T);
        let l_any = -(self.r + x) * (tau / (self.alpha + T)).ln_1p();
        let any = if odds.is_finite() {
            -l_any.exp_m1() / (1.0 + odds)
        } else {
            0.0
        };
        (Self::none_from(odds, self.none_if_alive(tau, x, T)), any)
    }

    fn prob_no_purchase(&self, tau: f64, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
        check_window(tau, x, t_x, T)?;
        finite(self.none_any(tau, x, t_x, T).0, "P(no purchase in the window)")
    }

    fn prob_any_purchase(&self, tau: f64, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
        check_window(tau, x, t_x, T)?;
        finite(self.none_any(tau, x, t_x, T).1, "P(a purchase in the window)")
    }

    /// (W1): the dead share at n = 0 plus π times eq. 8 at the posterior `(r+x, α+T, a, b')`.
    fn prob_purchases_in_window(&self, n: u32, tau: f64, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
        check_window(tau, x, t_x, T)?;
        let ln_den = self.odds_denominator(x).map(f64::ln);
        let (alive, dead) = alive_dead(self.ln_dead_odds(ln_den, x, t_x, T));
        let b_post = match self.variant {
            Variant::Bg => self.b + x,
            Variant::Mbg => self.b + x + 1.0,
        };
        // An alive customer's future is the BG/NBD process of a new customer (no dropout at T).
        let posterior = BetaGeoCore::new(Variant::Bg, [self.r + x, self.alpha + T, self.a, b_post]);
        let p_alive_n = posterior.prob_purchases(n, tau)?;
        let p = if n == 0 {
            dead + alive * p_alive_n
        } else {
            alive * p_alive_n
        };
        finite(p.clamp(0.0, 1.0), "P(n purchases in the window)")
    }

    /// [`Self::prob_no_purchase`] for rows checked by [`check_horizons`]: per row a lookup of
    /// [`Self::ln_ratio`] and of the whole P(none) at x = 0 by `(τ, T)` (a day grid with one
    /// window has a few hundred pairs), and for x > 0 the dead odds (one `ln` and one `exp`, as
    /// P(alive)) and one `exp`; the `ln` of the odds denominator once per small whole x. The
    /// values are those of [`Self::prob_no_purchase`], bit for bit.
    fn prob_no_purchase_rows(
        &self,
        tau: &[f64],
        x: &[f64],
        t_x: &[f64],
        T: &[f64],
        out: &mut [f64],
    ) -> Result<(), ModelError> {
        const SMALL: usize = 256;
        const MEMO_CAP: usize = 1 << 12;
        let mut ln_den_table = [f64::NAN; SMALL];
        let mut ratios: Memo<2, (f64, f64)> = Memo::default();
        for (i, o) in out.iter_mut().enumerate() {
            let xi = x[i];
            let ln_den = self.odds_denominator(xi).map(|den| {
                let k = xi as usize;
                if k < SMALL {
                    let v = &mut ln_den_table[k];
                    if v.is_nan() {
                        *v = den.ln();
                    }
                    *v
                } else {
                    den.ln()
                }
            });
            // (Continuous times repeat nothing: past 4,096 pairs the memo stops growing.)
            let (ln_ratio, none0) = if ratios.len() < MEMO_CAP {
                ratios.get_or_insert([tau[i].to_bits(), T[i].to_bits()], || {
                    let l = self.ln_ratio(tau[i], T[i]);
                    // P(none) of a customer with x = 0 (so t_x = 0): a function of (τ, T).
                    let odds0 = self.dead_odds(self.odds_denominator(0.0).map(f64::ln), 0.0, 0.0, T[i]);
                    (l, Self::none_from(odds0, self.none_if_alive_from(l, 0.0)))
                })
            } else {
                let l = self.ln_ratio(tau[i], T[i]);
                (l, f64::NAN)
            };
            let p = if xi == 0.0 && !none0.is_nan() {
                none0
            } else {
                let odds = self.dead_odds(ln_den, xi, t_x[i], T[i]);
                Self::none_from(odds, self.none_if_alive_from(ln_ratio, xi))
            };
            *o = finite(p, "P(no purchase in the window)")?;
        }
        Ok(())
    }

    fn prob_no_purchase_many(&self, tau: &[f64], x: &[f64], t_x: &[f64], T: &[f64]) -> Result<Vec<f64>, ModelError> {
        check_horizons(tau, x, t_x, T)?;
        score_rows([tau, x, t_x, T], Repeats::Ignore, |[tau, x, t_x, T], out| {
            self.prob_no_purchase_rows(tau, x, t_x, T, out)
        })
    }
}

/// `WindowForecast` for a BG/NBD-family model: every method delegates to a [`BetaGeoWindow`].
macro_rules! beta_geo_window {
    ($fitted:ty, $variant:expr) => {
        impl $fitted {
            fn window(&self) -> BetaGeoWindow {
                let p = self.params();
                BetaGeoWindow::new($variant, [p.r, p.alpha, p.a, p.b])
            }
        }
        impl WindowForecast for $fitted {
            fn prob_purchases_in_window(&self, n: u32, tau: f64, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
                self.window().prob_purchases_in_window(n, tau, x, t_x, T)
            }
            fn prob_no_purchase(&self, tau: f64, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
                self.window().prob_no_purchase(tau, x, t_x, T)
            }
            fn prob_any_purchase(&self, tau: f64, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
                self.window().prob_any_purchase(tau, x, t_x, T)
            }
            fn prob_no_purchase_many(
                &self,
                tau: &[f64],
                x: &[f64],
                t_x: &[f64],
                T: &[f64],
            ) -> Result<Vec<f64>, ModelError> {
                self.window().prob_no_purchase_many(tau, x, t_x, T)
            }
        }
    };
}

beta_geo_window!(FittedBgNbd, Variant::Bg);
beta_geo_window!(FittedMbgNbd, Variant::Mbg);

// ---------------------------------------------------------------------------------------------
// Pareto/NBD
// ---------------------------------------------------------------------------------------------

impl WindowForecast for FittedParetoNbd {
    fn prob_purchases_in_window(&self, n: u32, tau: f64, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
        check_window(tau, x, t_x, T)?;
        let alive = self.p_alive(x, t_x, T)?;
        let p = self.params();
        let posterior = ParetoNbdParams {
            r: p.r + x,
            alpha: p.alpha + T,
            s: p.s,
            beta: p.beta + T,
        };
        let p_alive_n = FittedParetoNbd::from_params(posterior, self.time_unit())?.prob_purchases(n, tau)?;
        let v = if n == 0 {
            (1.0 - alive) + alive * p_alive_n
        } else {
            alive * p_alive_n
        };
        finite(v.clamp(0.0, 1.0), "Pareto/NBD P(n purchases in the window)")
    }

    /// (W4): the closed form, no quadrature.
    fn prob_no_purchase(&self, tau: f64, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
        check_window(tau, x, t_x, T)?;
        self.prob_no_purchase_closed(tau, x, t_x, T)
    }

    fn prob_any_purchase(&self, tau: f64, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
        check_window(tau, x, t_x, T)?;
        let alive = self.p_alive(x, t_x, T)?;
        let (_, g) = crate::pareto_nbd::none_any_if_alive(self.params(), tau, x, T)?;
        finite(alive * g, "Pareto/NBD P(a purchase in the window)")
    }

    /// (W4) with its terms shared by customers with equal `(τ, x, T)` and `(x, t_x)`; the
    /// values of [`Self::prob_no_purchase`], bit for bit.
    fn prob_no_purchase_many(&self, tau: &[f64], x: &[f64], t_x: &[f64], T: &[f64]) -> Result<Vec<f64>, ModelError> {
        check_horizons(tau, x, t_x, T)?;
        score_rows([tau, x, t_x, T], Repeats::Ignore, |[tau, x, t_x, T], out| {
            self.prob_no_purchase_rows(tau, x, t_x, T, out)
        })
    }
}

// ---------------------------------------------------------------------------------------------
// BG/BB (discrete opportunities)
// ---------------------------------------------------------------------------------------------

thread_local! {
    /// BG/BB P(no transaction in the window) by `(n*, x, t_x, n)`, kept between a thread's calls.
    static BG_BB_NONE: crate::memo::ThreadMemo<1, f64> = const { std::cell::RefCell::new(None) };
}

/// Equal lengths, every window `n*` a whole number ≥ 0 and every row `(x, t_x, n)` valid
/// ([`check_discrete`]); errors name the row. Blocks of rows are tested without branches
/// first, and a block that fails is checked row by row.
fn check_bgbb_rows(n_star: &[f64], x: &[f64], t_x: &[f64], n: &[f64]) -> Result<(), ModelError> {
    for (field, c) in [("window", n_star), ("recency", t_x), ("periods", n)] {
        if c.len() != x.len() {
            return Err(ModelError::LengthMismatch {
                field,
                expected: x.len(),
                found: c.len(),
            });
        }
    }
    const BLOCK: usize = 1024;
    for from in (0..x.len()).step_by(BLOCK) {
        let to = x.len().min(from + BLOCK);
        let plausible = (from..to).fold(true, |ok, i| ok & plausible_bgbb_row(n_star[i], x[i], t_x[i], n[i]));
        if !plausible {
            for i in from..to {
                crate::model::whole(n_star[i], "window")?;
                check_discrete(i, x[i], t_x[i], n[i])?;
            }
        }
    }
    Ok(())
}

/// A row that [`check_bgbb_rows`] accepts, tested without branches (`false` only says "check
/// this row properly"): whole numbers `0 ≤ x ≤ t_x ≤ n < ∞`, no recency without a
/// transaction, and a whole window `0 ≤ n* ≤ 2^32 − 1`.
#[inline]
#[allow(clippy::manual_range_contains)] // `&` on purpose: no short-circuit branches
fn plausible_bgbb_row(n_star: f64, x: f64, t_x: f64, n: f64) -> bool {
    (n_star >= 0.0)
        & (n_star <= f64::from(u32::MAX))
        & is_whole(n_star)
        & (x >= 0.0)
        & (x <= t_x)
        & (t_x <= n)
        & (n <= f64::MAX)
        & is_whole(x)
        & is_whole(t_x)
        & is_whole(n)
        & ((x > 0.0) | (t_x == 0.0))
}

impl FittedBgBb {
    /// `(π_n, 1 − π_n, posterior model)`: P(alive at opportunity n) — [`FittedBgBb::p_alive`]
    /// is alive at n+1, `= π_n (δ+n)/(γ+δ+n)` — and the new-customer model at the posterior
    /// `(α+x, β+n−x, γ, δ+n)`.
    fn window_parts(&self, x: f64, t_x: f64, n: f64) -> Result<(f64, f64, FittedBgBb), ModelError> {
        let p = self.params();
        let next = self.p_alive(x, t_x, n)?;
        let alive = (next * (p.gamma + p.delta + n) / (p.delta + n)).min(1.0);
        let posterior = FittedBgBb::from_params(
            BgBbParams {
                alpha: p.alpha + x,
                beta: p.beta + n - x,
                gamma: p.gamma,
                delta: p.delta + n,
            },
            self.period_unit(),
        )?;
        Ok((alive, 1.0 - alive, posterior))
    }

    /// `P(X(n, n+n*) = k | x, t_x, n)`: k transactions in the next `n_star` opportunities,
    /// eq. (W1) with FHS (2010) eq. 7 at the posterior.
    pub fn prob_transactions_in_window(
        &self,
        k: u32,
        n_star: u32,
        x: f64,
        t_x: f64,
        n: f64,
    ) -> Result<f64, ModelError> {
        let (alive, dead, posterior) = self.window_parts(x, t_x, n)?;
        let p_k = posterior.prob_transactions(k, n_star)?;
        let v = if k == 0 { dead + alive * p_k } else { alive * p_k };
        finite(v.clamp(0.0, 1.0), "BG/BB P(k transactions in the window)")
    }

    /// P(no transaction in the next `n_star` opportunities | x, t_x, n).
    pub fn prob_no_transaction(&self, n_star: u32, x: f64, t_x: f64, n: f64) -> Result<f64, ModelError> {
        self.prob_transactions_in_window(0, n_star, x, t_x, n)
    }

    /// [`Self::prob_no_transaction`] for many customers (slices of equal length; `n_star` whole
    /// numbers ≥ 0; a bad row is an error naming its index): each distinct `(n*, x, t_x, n)`
    /// computed once (whole numbers of periods repeat: a few thousand distinct rows), kept by
    /// the thread between calls; large inputs split over the cores. Exactly the values of one
    /// call per customer.
    pub fn prob_no_transaction_many(
        &self,
        n_star: &[f64],
        x: &[f64],
        t_x: &[f64],
        n: &[f64],
    ) -> Result<Vec<f64>, ModelError> {
        check_bgbb_rows(n_star, x, t_x, n)?;
        let p = self.params();
        let model = crate::memo::model_key(3, [p.alpha, p.beta, p.gamma, p.delta]);
        score_rows([n_star, x, t_x, n], Repeats::Ignore, |[n_star, x, t_x, n], out| {
            crate::memo::with_thread_memo(&BG_BB_NONE, model, |memo| {
                for (i, o) in out.iter_mut().enumerate() {
                    let row = [n_star[i], x[i], t_x[i], n[i]];
                    let one = || self.prob_no_transaction(row[0] as u32, row[1], row[2], row[3]);
                    // Whole numbers below 2^16 (periods of any real panel; not −0, whose bits
                    // differ from 0's): one packed key.
                    *o = if row.iter().all(|&v| v < 65_536.0 && v.is_sign_positive()) {
                        let key = row.iter().fold(0u64, |k, &v| (k << 16) | v as u64);
                        memo.get_or_try_insert([key], one)?
                    } else {
                        one()?
                    };
                }
                Ok(())
            })
        })
    }

    /// P(at least one transaction in the next `n_star` opportunities | x, t_x, n), the sum of
    /// the positive terms `k = 1..n*` (not one minus [`Self::prob_no_transaction`]).
    pub fn prob_any_transaction(&self, n_star: u32, x: f64, t_x: f64, n: f64) -> Result<f64, ModelError> {
        let (alive, _, posterior) = self.window_parts(x, t_x, n)?;
        let mut any = 0.0;
        for k in 1..=n_star {
            any += posterior.prob_transactions(k, n_star)?;
        }
        finite((alive * any).clamp(0.0, 1.0), "BG/BB P(a transaction in the window)")
    }

    /// Expected transactions in opportunities `n+n1+1 ..= n+n2` (`n1 ≤ n2`), the difference of
    /// FHS (2010) eq. 13 at `n2` and `n1`.
    pub fn expected_transactions_between(&self, n1: u32, n2: u32, x: f64, t_x: f64, n: f64) -> Result<f64, ModelError> {
        if n1 > n2 {
            return Err(ModelError::InvalidArgument {
                name: "n1",
                value: f64::from(n1),
                reason: "the opportunities (n1, n2] must have n1 <= n2",
            });
        }
        let e2 = self.expected_transactions(n2, x, t_x, n)?;
        let e1 = self.expected_transactions(n1, x, t_x, n)?;
        finite(
            (e2 - e1).max(0.0),
            "BG/BB expected transactions between two opportunities",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TimeUnit, TransactionSummary};

    /// The former per-customer path: P(alive) by the hypergeometric series and (W3) by
    /// quadrature, `(1 − π) + π H`.
    fn quadrature_path(m: &FittedParetoNbd, tau: f64, x: f64, t_x: f64, T: f64) -> f64 {
        let alive = m.p_alive(x, t_x, T).unwrap();
        let (h, _) = crate::pareto_nbd::none_any_if_alive(m.params(), tau, x, T).unwrap();
        ((1.0 - alive) + alive * h).min(1.0)
    }

    /// `L(x, t_x, T+τ) / L(x, t_x, T)`, from the likelihood of the fits.
    fn likelihood_ratio(m: &FittedParetoNbd, tau: f64, x: f64, t_x: f64, T: f64) -> f64 {
        let ln_l = |T: f64| {
            m.log_likelihood_of(&TransactionSummary::from_rows(&[(x, t_x, T)], TimeUnit::Week).unwrap())
                .unwrap()
        };
        (ln_l(T + tau) - ln_l(T)).exp()
    }

    #[test]
    fn pareto_closed_form_equals_the_quadrature_path_over_a_wide_grid() {
        let (mut worst, mut at) = (0.0f64, String::new());
        let (mut compared, mut corner) = (0, 0);
        for r in [0.01, 0.5533, 20.0] {
            for alpha in [1e-3, 10.5776, 1e4] {
                for s in [0.01, 0.6062, 20.0] {
                    for beta in [1e-3, 11.6679, 1e4] {
                        let params = ParetoNbdParams { r, alpha, s, beta };
                        let m = FittedParetoNbd::from_params(params, TimeUnit::Week).unwrap();
                        let (mut tau_c, mut x_c, mut t_x_c, mut t_c, mut one) =
                            (vec![], vec![], vec![], vec![], vec![]);
                        for T in [0.0, 1.0 / 7.0, 5.0, 52.0, 500.0] {
                            for x in [0.0, 1.0, 3.0, 30.0, 300.0, 3000.0] {
                                let t_xs: &[f64] = if x == 0.0 { &[0.0] } else { &[T * 1e-3, T * 0.5, T] };
                                for &t_x in t_xs.iter().filter(|&&t| (t > 0.0) == (x > 0.0)) {
                                    for tau in [0.0, 1e-6, 0.5, 90.0 / 7.0, 400.0] {
                                        let got = m.prob_no_purchase(tau, x, t_x, T).unwrap();
                                        tau_c.push(tau);
                                        x_c.push(x);
                                        t_x_c.push(t_x);
                                        t_c.push(T);
                                        one.push(got);
                                        if (alpha + T) / (r + x) < 1e-3 * tau {
                                            // The quadrature of (W3) misses the spike of width
                                            // (α+T)/(r+x) at 0 when it is this narrow against the
                                            // window (it returned 0 for values of 3e-5, as an
                                            // mpmath integral showed): the likelihood ratio instead.
                                            let want = likelihood_ratio(&m, tau, x, t_x, T);
                                            assert!(
                                                (got / want - 1.0).abs() < 1e-9,
                                                "{params:?} {tau} {x} {t_x} {T}: {got} vs {want}"
                                            );
                                            corner += 1;
                                            continue;
                                        }
                                        let want = quadrature_path(&m, tau, x, t_x, T);
                                        // 1e-12 relative; below 1e-3 both lose relative accuracy
                                        // in the dead odds (a difference of ln F at t_x and T),
                                        // and at large x ln F is a sum of terms of size x.
                                        let scale = want.max(1e-3) * (1.0 + x / 250.0);
                                        let rel = (got - want).abs() / scale;
                                        if rel > worst {
                                            worst = rel;
                                            at = format!("{params:?} τ={tau} x={x} t_x={t_x} T={T}: {got} vs {want}");
                                        }
                                        compared += 1;
                                    }
                                }
                            }
                        }
                        // The batch gives the per-customer values, bit for bit.
                        let many = m.prob_no_purchase_many(&tau_c, &x_c, &t_x_c, &t_c).unwrap();
                        assert!(
                            many.iter().zip(&one).all(|(a, b)| a.to_bits() == b.to_bits()),
                            "{params:?}"
                        );
                    }
                }
            }
        }
        eprintln!("{compared} compared, {corner} by the likelihood ratio, worst {worst:e}");
        assert!(compared > 20_000 && corner > 100, "{compared} {corner}");
        assert!(worst < 1e-12, "worst scaled difference {worst:e} at {at}");
    }
}
