//! Forward-mode automatic differentiation with a fixed number of directions.
//!
//! The likelihoods whose closed-form gradient would be long and error-prone
//! (Pareto/NBD with its hypergeometric series, BG/BB, sBG) are written once,
//! generically over [`Real`], and evaluated either with plain `f64` (scoring)
//! or with [`Dual`] numbers (fitting), which yields the exact analytic
//! gradient alongside the value.

use std::ops::{Add, Div, Mul, Neg, Sub};

use super::special::{digamma, ln_gamma};

/// Scalar abstraction over `f64` and [`Dual`].
pub(crate) trait Real:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Add<f64, Output = Self>
    + Sub<f64, Output = Self>
    + Mul<f64, Output = Self>
    + Div<f64, Output = Self>
{
    /// Whether the type carries derivatives (`false` for plain `f64`, where code may skip the
    /// work that only feeds them).
    const DERIVATIVES: bool;
    /// A constant (zero derivative).
    fn cst(v: f64) -> Self;
    /// The value part.
    fn val(&self) -> f64;
    fn ln(self) -> Self;
    fn exp(self) -> Self;
    fn ln_1p(self) -> Self;
    fn exp_m1(self) -> Self;
    fn ln_gamma(self) -> Self;
}

impl Real for f64 {
    const DERIVATIVES: bool = false;
    #[inline(always)]
    fn cst(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn val(&self) -> f64 {
        *self
    }
    #[inline(always)]
    fn ln(self) -> Self {
        f64::ln(self)
    }
    #[inline(always)]
    fn exp(self) -> Self {
        f64::exp(self)
    }
    #[inline(always)]
    fn ln_1p(self) -> Self {
        f64::ln_1p(self)
    }
    #[inline(always)]
    fn exp_m1(self) -> Self {
        f64::exp_m1(self)
    }
    #[inline(always)]
    fn ln_gamma(self) -> Self {
        ln_gamma(self)
    }
}

/// A value with `N` directional derivatives.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Dual<const N: usize> {
    pub v: f64,
    pub d: [f64; N],
}

impl<const N: usize> Dual<N> {
    /// The `i`-th independent variable with value `v`.
    #[inline(always)]
    pub fn var(v: f64, i: usize) -> Self {
        let mut d = [0.0; N];
        d[i] = 1.0;
        Dual { v, d }
    }
    #[inline(always)]
    fn chain(self, v: f64, dv: f64) -> Self {
        let mut d = self.d;
        for x in d.iter_mut() {
            *x *= dv;
        }
        Dual { v, d }
    }
}

impl<const N: usize> Add for Dual<N> {
    type Output = Self;
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        let mut d = self.d;
        for i in 0..N {
            d[i] += o.d[i];
        }
        Dual { v: self.v + o.v, d }
    }
}
impl<const N: usize> Sub for Dual<N> {
    type Output = Self;
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        let mut d = self.d;
        for i in 0..N {
            d[i] -= o.d[i];
        }
        Dual { v: self.v - o.v, d }
    }
}
impl<const N: usize> Mul for Dual<N> {
    type Output = Self;
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        let mut d = [0.0; N];
        for i in 0..N {
            d[i] = self.d[i] * o.v + o.d[i] * self.v;
        }
        Dual { v: self.v * o.v, d }
    }
}
impl<const N: usize> Div for Dual<N> {
    type Output = Self;
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        let inv = 1.0 / o.v;
        let q = self.v * inv;
        let mut d = [0.0; N];
        for i in 0..N {
            d[i] = (self.d[i] - q * o.d[i]) * inv;
        }
        Dual { v: q, d }
    }
}
impl<const N: usize> Neg for Dual<N> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        let mut d = self.d;
        for x in d.iter_mut() {
            *x = -*x;
        }
        Dual { v: -self.v, d }
    }
}
impl<const N: usize> Add<f64> for Dual<N> {
    type Output = Self;
    #[inline(always)]
    fn add(self, o: f64) -> Self {
        Dual {
            v: self.v + o,
            d: self.d,
        }
    }
}
impl<const N: usize> Sub<f64> for Dual<N> {
    type Output = Self;
    #[inline(always)]
    fn sub(self, o: f64) -> Self {
        Dual {
            v: self.v - o,
            d: self.d,
        }
    }
}
impl<const N: usize> Mul<f64> for Dual<N> {
    type Output = Self;
    #[inline(always)]
    fn mul(self, o: f64) -> Self {
        let mut d = self.d;
        for x in d.iter_mut() {
            *x *= o;
        }
        Dual { v: self.v * o, d }
    }
}
impl<const N: usize> Div<f64> for Dual<N> {
    type Output = Self;
    #[inline(always)]
    fn div(self, o: f64) -> Self {
        self * (1.0 / o)
    }
}

impl<const N: usize> Real for Dual<N> {
    const DERIVATIVES: bool = true;
    #[inline(always)]
    fn cst(v: f64) -> Self {
        Dual { v, d: [0.0; N] }
    }
    #[inline(always)]
    fn val(&self) -> f64 {
        self.v
    }
    #[inline(always)]
    fn ln(self) -> Self {
        self.chain(self.v.ln(), 1.0 / self.v)
    }
    #[inline(always)]
    fn exp(self) -> Self {
        let e = self.v.exp();
        self.chain(e, e)
    }
    #[inline(always)]
    fn ln_1p(self) -> Self {
        self.chain(self.v.ln_1p(), 1.0 / (1.0 + self.v))
    }
    #[inline(always)]
    fn exp_m1(self) -> Self {
        self.chain(self.v.exp_m1(), self.v.exp())
    }
    #[inline(always)]
    fn ln_gamma(self) -> Self {
        self.chain(ln_gamma(self.v), digamma(self.v))
    }
}

/// `ln B(a, b)` for any [`Real`].
#[inline]
pub(crate) fn ln_beta_r<R: Real>(a: R, b: R) -> R {
    a.ln_gamma() + b.ln_gamma() - (a + b).ln_gamma()
}

/// `ln(e^a + e^b)` for any [`Real`]; `-inf` arguments are allowed.
#[inline]
pub(crate) fn log_sum_exp_r<R: Real>(a: R, b: R) -> R {
    let (hi, lo) = if a.val() >= b.val() { (a, b) } else { (b, a) };
    if lo.val() == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// `ln(e^a - e^b)` for `a >= b` and any [`Real`]. Returns a value of `-inf`
/// when `b >= a` (the difference is not positive).
#[inline]
pub(crate) fn log_diff_exp_r<R: Real>(a: R, b: R) -> R {
    let d = b - a;
    if d.val() >= 0.0 {
        return R::cst(f64::NEG_INFINITY);
    }
    if d.val() > -std::f64::consts::LN_2 {
        a + (-d.exp_m1()).ln()
    } else {
        a + (-d.exp()).ln_1p()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dual_matches_finite_differences() {
        let f = |x: Dual<2>, y: Dual<2>| -> Dual<2> {
            (x * y + x.ln_gamma() - y.exp_m1() / (x + 1.0)).ln_1p() + log_sum_exp_r(x, y)
        };
        let (x0, y0) = (1.7, 0.3);
        let d = f(Dual::var(x0, 0), Dual::var(y0, 1));
        let h = 1e-6;
        let fv = |x: f64, y: f64| f(Dual::cst(x), Dual::cst(y)).v;
        let gx = (fv(x0 + h, y0) - fv(x0 - h, y0)) / (2.0 * h);
        let gy = (fv(x0, y0 + h) - fv(x0, y0 - h)) / (2.0 * h);
        assert!((d.d[0] - gx).abs() < 1e-7, "{} {}", d.d[0], gx);
        assert!((d.d[1] - gy).abs() < 1e-7, "{} {}", d.d[1], gy);
    }
}
