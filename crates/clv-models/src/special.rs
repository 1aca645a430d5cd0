//! Special functions used by the models, all aimed at log-space evaluation.
//!
//! * [`ln_gamma`] — `ln Γ(x)` for `x > 0` (the `libm` port of the musl
//!   implementation, accurate to about 1 ulp).
//! * [`digamma`] — ψ(x), recurrence up to `x ≥ 8` then the asymptotic series.
//! * [`ln_beta`] — `ln B(a, b)`.
//! * [`log_sum_exp`], [`log_sum_exp_slice`], [`log_diff_exp`].
//! * [`exprel`] — `(e^x − 1)/x`, used to make `(1 − u^{k})/k` type terms
//!   stable when `k → 0`.
//! * `ln_hyp2f1_one` — `ln ₂F₁(1, b; c; z)` for `0 ≤ z < 1`, a series with
//!   positive terms (the form every hypergeometric function in this module is
//!   reduced to, via Euler's transformation, before summation).
//! * [`hyp2f1`] — the general Gauss series `₂F₁(a, b; c; z)` for `|z| < 1`,
//!   accumulated with a running scale factor so that large intermediate terms
//!   cannot overflow; returns `ln|F|` and the sign.
//! * [`integrate`] — adaptive Gauss–Kronrod (7/15) quadrature.

use super::dual::Real;

/// `ln Γ(x)`. Finite for `x > 0`; callers only pass positive arguments.
#[inline]
pub fn ln_gamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// The digamma function ψ(x) = d/dx ln Γ(x). Absolute error below 1e-14 for
/// `x > 0`; the reflection formula is used for negative non-integers, and the
/// poles (`x = 0, -1, -2, ...`) give NaN.
pub fn digamma(x: f64) -> f64 {
    if x.is_nan() || x == f64::NEG_INFINITY {
        return f64::NAN;
    }
    if x == f64::INFINITY {
        return f64::INFINITY;
    }
    let mut x = x;
    let mut acc = 0.0;
    if x <= 0.0 {
        if x == x.floor() {
            return f64::NAN;
        }
        // ψ(1 − x) − ψ(x) = π cot(πx)
        acc = -std::f64::consts::PI / (std::f64::consts::PI * x).tan();
        x = 1.0 - x;
    }
    while x < 8.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    let series = f
        * (1.0 / 12.0
            - f * (1.0 / 120.0 - f * (1.0 / 252.0 - f * (1.0 / 240.0 - f * (1.0 / 132.0 - f * (691.0 / 32760.0))))));
    acc + x.ln() - 0.5 / x - series
}

/// `ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b)` for `a, b > 0`.
#[inline]
pub fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// `ln(e^a + e^b)` without overflow; `-inf` arguments are allowed.
#[inline]
pub fn log_sum_exp(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// `ln Σ e^{v_i}`; `-inf` for an empty slice.
pub fn log_sum_exp_slice(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY || !m.is_finite() {
        return m;
    }
    m + v.iter().map(|&x| (x - m).exp()).sum::<f64>().ln()
}

/// `ln(e^a − e^b)` for `a > b`; `-inf` when `a == b`, NaN when `a < b`.
#[inline]
pub fn log_diff_exp(a: f64, b: f64) -> f64 {
    if b > a {
        return f64::NAN;
    }
    super::dual::log_diff_exp_r(a, b)
}

/// `(e^x − 1)/x`, equal to 1 at `x = 0`, accurate near 0.
#[inline]
pub fn exprel(x: f64) -> f64 {
    if x.abs() < 1e-5 {
        1.0 + x * (0.5 + x / 6.0)
    } else {
        x.exp_m1() / x
    }
}

/// Maximum number of terms summed by the general hypergeometric series.
pub(crate) const MAX_SERIES_TERMS: usize = 500_000;

/// `ln ₂F₁(1, b; c; z)` for `b > 0`, `c > 0`, `0 ≤ z < 1`, generic over
/// [`Real`] so that the derivatives with respect to `b`, `c`, `z` come for free.
///
/// The terms `t_k = (b)_k / (c)_k · z^k` are positive; the tail after term `k`
/// is bounded by `t_k ρ/(1 − ρ)` with `ρ = max(z, (b + k)/(c + k)·z)`, which is
/// the stopping rule (relative tolerance 1e-17). Returns `None` when `z` is out
/// of range or the series needs more than `max_terms` terms (only when `z`
/// is very close to 1: about `39/(1 − z)` terms are needed).
pub(crate) fn ln_hyp2f1_one<R: Real>(b: R, c: R, z: R, max_terms: usize) -> Option<R> {
    let zv = z.val();
    if !(0.0..1.0).contains(&zv) || b.val() <= 0.0 || c.val() <= 0.0 {
        return None;
    }
    if zv == 0.0 {
        return Some(R::cst(0.0));
    }
    let mut term = R::cst(1.0);
    let mut sum = R::cst(1.0);
    let mut k = 0.0;
    for _ in 0..max_terms {
        let ratio = (b + k) / (c + k) * z;
        term = term * ratio;
        sum = sum + term;
        k += 1.0;
        let rho = ratio.val().max(zv);
        if rho < 1.0 && term.val() * rho <= 1e-17 * (1.0 - rho) * sum.val() {
            return Some(sum.ln());
        }
        if !term.val().is_finite() {
            return None;
        }
    }
    None
}

/// [`ln_hyp2f1_one`] in `f64` with its partial derivatives with respect to
/// `b`, `c` and `z`, accumulated alongside the terms (`∂ ln t_k/∂b =
/// Σ_{j<k} 1/(b+j)`, `∂ ln t_k/∂c = −Σ_{j<k} 1/(c+j)`, `∂ ln t_k/∂z = k/z`).
/// Cheaper than the dual-number version in the Pareto/NBD likelihood loop.
/// Returns `(ln F, ∂/∂b, ∂/∂c, ∂/∂z)`.
pub(crate) fn ln_hyp2f1_one_grad(b: f64, c: f64, z: f64, max_terms: usize) -> Option<(f64, f64, f64, f64)> {
    if !(0.0..1.0).contains(&z) || b <= 0.0 || c <= 0.0 {
        return None;
    }
    if z == 0.0 {
        return Some((0.0, 0.0, 0.0, b / c));
    }
    let (mut term, mut sum, mut sb, mut sc, mut sz) = (1.0, 1.0, 0.0, 0.0, 0.0);
    let (mut db, mut dc) = (0.0, 0.0);
    let mut k = 0.0;
    for _ in 0..max_terms {
        let ib = 1.0 / (b + k);
        let ic = 1.0 / (c + k);
        let ratio = (b + k) * ic * z;
        term *= ratio;
        db += ib;
        dc += ic;
        k += 1.0;
        sum += term;
        sb += term * db;
        sc += term * dc;
        sz += term * k;
        let rho = ratio.max(z);
        if rho < 1.0 && term * rho * k.max(1.0) <= 1e-17 * (1.0 - rho) * sum {
            let inv = 1.0 / sum;
            return Some((sum.ln(), sb * inv, -sc * inv, sz * inv / z));
        }
        if !term.is_finite() {
            return None;
        }
    }
    None
}

/// General Gauss hypergeometric series `₂F₁(a, b; c; z)` for `|z| < 1`.
///
/// Returns `(ln|F|, sign)`. The partial sums are kept with a running scale so
/// that intermediate terms as large as `10^{±300}` and beyond do not overflow.
/// `None` when `c` is a non-positive integer that is not cancelled by `a` or
/// `b`, when `|z| ≥ 1`, or when the series does not converge in
/// 500 000 terms.
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Option<(f64, f64)> {
    if !(a.is_finite() && b.is_finite() && c.is_finite() && z.is_finite()) || z.abs() >= 1.0 {
        return None;
    }
    let is_nonpos_int = |v: f64| v <= 0.0 && v == v.floor();
    // A polynomial when a or b is a non-positive integer.
    let terminating = is_nonpos_int(a) || is_nonpos_int(b);
    if is_nonpos_int(c) {
        // The series must stop (at k = −a or −b) before reaching the pole at k = −c.
        let ok = (is_nonpos_int(a) && a > c) || (is_nonpos_int(b) && b > c);
        if !ok {
            return None;
        }
    }
    if z == 0.0 {
        return Some((0.0, 1.0));
    }
    let mut ln_scale = 0.0f64;
    let mut term = 1.0f64;
    let mut sum = 1.0f64;
    let mut k = 0.0f64;
    for _ in 0..MAX_SERIES_TERMS {
        let ratio = (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        if ratio == 0.0 {
            break;
        }
        term *= ratio;
        sum += term;
        k += 1.0;
        if term.abs() > 1e250 || sum.abs() > 1e250 {
            term *= 1e-250;
            sum *= 1e-250;
            ln_scale += 250.0 * std::f64::consts::LN_10;
        }
        let next_ratio = ((a + k) * (b + k) / ((c + k) * (k + 1.0)) * z).abs();
        if next_ratio < 1.0
            && k > (a.abs() + b.abs()).min(1e6)
            && term.abs() * next_ratio <= 1e-17 * (1.0 - next_ratio) * sum.abs()
        {
            return finish(sum, ln_scale);
        }
        if !term.is_finite() {
            return None;
        }
    }
    if terminating { finish(sum, ln_scale) } else { None }
}

fn finish(sum: f64, ln_scale: f64) -> Option<(f64, f64)> {
    if !sum.is_finite() {
        return None;
    }
    if sum == 0.0 {
        return Some((f64::NEG_INFINITY, 0.0));
    }
    Some((sum.abs().ln() + ln_scale, sum.signum()))
}

const XGK: [f64; 8] = [
    0.991_455_371_120_812_6,
    0.949_107_912_342_758_5,
    0.864_864_423_359_769_1,
    0.741_531_185_599_394_4,
    0.586_087_235_467_691_1,
    0.405_845_151_377_397_2,
    0.207_784_955_007_898_5,
    0.0,
];
const WGK: [f64; 8] = [
    0.022_935_322_010_529_22,
    0.063_092_092_629_978_55,
    0.104_790_010_322_250_2,
    0.140_653_259_715_525_9,
    0.169_004_726_639_267_9,
    0.190_350_578_064_785_4,
    0.204_432_940_075_298_9,
    0.209_482_141_084_727_8,
];
const WG: [f64; 4] = [
    0.129_484_966_168_869_7,
    0.279_705_391_489_276_7,
    0.381_830_050_505_118_9,
    0.417_959_183_673_469_4,
];

/// One 15-point Kronrod rule on `[a, b]`: the integral and the QUADPACK
/// (`qk15`) error estimate `resasc·min(1, (200|K−G|/resasc)^{3/2})`.
fn gk15<R: Real, F: FnMut(f64) -> R>(f: &mut F, a: f64, b: f64) -> (R, f64) {
    let c = 0.5 * (a + b);
    let h = 0.5 * (b - a);
    let fc = f(c);
    let mut k = fc * WGK[7];
    let mut g = fc.val() * WG[3];
    let mut fv = [(0.0f64, 0.0f64); 7];
    for j in 0..7 {
        let dx = h * XGK[j];
        let f1 = f(c - dx);
        let f2 = f(c + dx);
        fv[j] = (f1.val(), f2.val());
        k = k + (f1 + f2) * WGK[j];
        if j % 2 == 1 {
            g += WG[j / 2] * (f1.val() + f2.val());
        }
    }
    let kh = 0.5 * k.val();
    let mut resasc = WGK[7] * (fc.val() - kh).abs();
    for j in 0..7 {
        resasc += WGK[j] * ((fv[j].0 - kh).abs() + (fv[j].1 - kh).abs());
    }
    resasc *= h.abs();
    let mut err = ((k.val() - g) * h).abs();
    if resasc != 0.0 && err != 0.0 {
        err = resasc * (200.0 * err / resasc).powf(1.5).min(1.0);
    }
    (k * h, err)
}

/// Globally adaptive Gauss–Kronrod (7/15) quadrature over `[a, b]`, generic
/// over [`Real`] (the nodes do not depend on the integrand, so the
/// derivative of the result is the quadrature of the derivative). The
/// subinterval with the largest error estimate is bisected until the total
/// error estimate is below `max(abs_tol, 1e-12·|value|)`, with a budget of
/// 400 subintervals. `None` when an evaluation is not finite or the budget
/// ends with a relative error estimate above 1e-8.
pub(crate) fn integrate_real<R: Real, F: FnMut(f64) -> R>(mut f: F, a: f64, b: f64, abs_tol: f64) -> Option<R> {
    use std::cmp::Ordering;
    use std::collections::BinaryHeap;
    struct Part<R> {
        lo: f64,
        hi: f64,
        k: R,
        err: f64,
    }
    impl<R> PartialEq for Part<R> {
        fn eq(&self, o: &Self) -> bool {
            self.err == o.err
        }
    }
    impl<R> Eq for Part<R> {}
    impl<R> PartialOrd for Part<R> {
        fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
            Some(self.cmp(o))
        }
    }
    impl<R> Ord for Part<R> {
        fn cmp(&self, o: &Self) -> Ordering {
            self.err.total_cmp(&o.err)
        }
    }
    const MAX_INTERVALS: usize = 400;
    if a == b {
        return Some(R::cst(0.0));
    }
    let (k, e) = gk15(&mut f, a, b);
    if !k.val().is_finite() {
        return None;
    }
    let mut total = k.val();
    let mut err = e;
    let mut heap = BinaryHeap::with_capacity(2 * MAX_INTERVALS);
    heap.push(Part {
        lo: a,
        hi: b,
        k,
        err: e,
    });
    while err > abs_tol.max(1e-12 * total.abs()) {
        if heap.len() >= MAX_INTERVALS {
            if err <= 1e-8 * total.abs() {
                break;
            }
            return None;
        }
        let Some(p) = heap.pop() else { break };
        let mid = 0.5 * (p.lo + p.hi);
        if !(mid > p.lo.min(p.hi) && mid < p.lo.max(p.hi)) {
            heap.push(p);
            break; // cannot bisect further in floating point
        }
        let (k1, e1) = gk15(&mut f, p.lo, mid);
        let (k2, e2) = gk15(&mut f, mid, p.hi);
        if !(k1.val().is_finite() && k2.val().is_finite()) {
            return None;
        }
        total += k1.val() + k2.val() - p.k.val();
        err += e1 + e2 - p.err;
        heap.push(Part {
            lo: p.lo,
            hi: mid,
            k: k1,
            err: e1,
        });
        heap.push(Part {
            lo: mid,
            hi: p.hi,
            k: k2,
            err: e2,
        });
    }
    let mut sum = R::cst(0.0);
    for p in heap.iter() {
        sum = sum + p.k;
    }
    Some(sum)
}

/// Globally adaptive Gauss–Kronrod (7/15) quadrature of `f` over `[a, b]`
/// with absolute tolerance `tol` (relative tolerance 1e-12; at most 400
/// subintervals). `None` when an evaluation is not finite or the accuracy
/// cannot be reached.
pub fn integrate<F: FnMut(f64) -> f64>(f: F, a: f64, b: f64, tol: f64) -> Option<f64> {
    integrate_real(f, a, b, tol)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digamma_values() {
        // ψ(1) = −γ, ψ(0.5) = −γ − 2 ln 2, ψ(10) reference value.
        let euler = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + euler).abs() < 5e-14);
        assert!((digamma(0.5) + euler + 2.0 * std::f64::consts::LN_2).abs() < 5e-14);
        assert!((digamma(10.0) - 2.251_752_589_066_721).abs() < 1e-14);
        assert!((digamma(1e-3) - (-1_000.575_571_931_810_3)).abs() < 1e-9);
        // derivative check of ln_gamma
        for &x in &[0.2, 1.3, 4.7, 25.0, 1234.5] {
            let h = 1e-6 * x;
            let fd = (ln_gamma(x + h) - ln_gamma(x - h)) / (2.0 * h);
            assert!((fd - digamma(x)).abs() < 1e-6 * (1.0 + digamma(x).abs()), "{x}");
        }
    }

    #[test]
    fn hyp2f1_known_values() {
        // 2F1(1,1;2;z) = −ln(1−z)/z
        let z = 0.7;
        let (l, s) = hyp2f1(1.0, 1.0, 2.0, z).unwrap();
        assert_eq!(s, 1.0);
        assert!((l.exp() - (-(1.0f64 - z).ln() / z)).abs() < 1e-13);
        let l1 = ln_hyp2f1_one(1.0, 2.0, z, 1000).unwrap();
        assert!((l1 - l).abs() < 1e-13);
        // 2F1(a,b;b;z) = (1−z)^{−a}
        let (l, _) = hyp2f1(3.5, 2.0, 2.0, 0.4).unwrap();
        assert!((l - (-3.5 * (0.6f64).ln())).abs() < 1e-12);
        // large parameters without overflow: 2F1(a, b; b; z) with a = 2000
        let (l, s) = hyp2f1(2000.0, 5.0, 5.0, 0.5).unwrap();
        assert_eq!(s, 1.0);
        assert!((l - 2000.0 * std::f64::consts::LN_2).abs() < 1e-8 * l);
        // terminating polynomial: 2F1(−2, b; c; z) = 1 − 2bz/c + b(b+1)z²/(c(c+1))
        let (l, s) = hyp2f1(-2.0, 1.5, 2.5, 0.3).unwrap();
        let p = 1.0 - 2.0 * 1.5 * 0.3 / 2.5 + 1.5 * 2.5 * 0.09 / (2.5 * 3.5);
        assert!((s * l.exp() - p).abs() < 1e-14);
    }

    #[test]
    fn quadrature() {
        let v = integrate(|x: f64| x.exp(), 0.0, 2.0, 1e-13).unwrap();
        assert!((v - (2f64.exp() - 1.0)).abs() < 1e-12);
        let v = integrate(|x: f64| 1.0 / (1e-3 + x * x), -1.0, 1.0, 1e-12).unwrap();
        let exact = 2.0 * (1.0 / 1e-3f64.sqrt()) * (1.0 / 1e-3f64.sqrt()).atan();
        assert!((v - exact).abs() < 1e-9 * exact);
    }

    #[test]
    fn log_helpers() {
        assert!((log_sum_exp(1000.0, 1000.0) - (1000.0 + std::f64::consts::LN_2)).abs() < 1e-12);
        assert_eq!(log_sum_exp(f64::NEG_INFINITY, 2.0), 2.0);
        assert!((log_diff_exp(2.0, 1.0) - (2f64.exp() - 1f64.exp()).ln()).abs() < 1e-14);
        assert_eq!(log_diff_exp(1.0, 1.0), f64::NEG_INFINITY);
        assert!((exprel(1e-7) - 1.000_000_05).abs() < 1e-14);
        assert!((log_sum_exp_slice(&[1.0, 2.0, 3.0]) - (1f64.exp() + 2f64.exp() + 3f64.exp()).ln()).abs() < 1e-14);
    }
}
