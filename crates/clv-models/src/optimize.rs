//! Maximum-likelihood machinery shared by every model.
//!
//! * Parameters are optimised on the log scale (`φ = ln θ`), so positivity is
//!   automatic; every model supplies the analytic gradient of its mean
//!   negative log-likelihood with respect to `φ`.
//! * [`FitOptions::penalizer`] `λ` adds `λ · Σ θ_j²` (natural-scale parameters)
//!   to the **mean** negative log-likelihood per customer, the same scale for
//!   every model (this is the `lifetimes` convention). `λ = 0` (default) is
//!   plain maximum likelihood.
//! * The minimiser is L-BFGS (memory 8) with a strong-Wolfe line search
//!   (cubic interpolation, `c1 = 1e-4`, `c2 = 0.9`, steps capped at 2 in
//!   log-parameter space). When it does not converge and the gradient is
//!   not already small (max-norm > 1e-4), Nelder–Mead (at most `200·dim`
//!   iterations) is run from the best point and L-BFGS is restarted
//!   from the Nelder–Mead optimum. L-BFGS also stops when ten consecutive
//!   iterations gain less than 1e-13 (relative): the objective is then flat
//!   at machine precision (typically parameters drifting to a boundary of
//!   the parameter space, e.g. a gamma mixing distribution collapsing to a
//!   point on degenerate data).
//! * Convergence: `max_j |∂f/∂φ_j| ≤ tolerance` (default `1e-8`) on the mean
//!   objective, or — when the objective can no longer be decreased at
//!   floating-point precision (failed line search, or a quasi-Newton
//!   predicted decrease below `1e-13·|f|`) —
//!   `max_j |∂f/∂φ_j| ≤ max(1000·tolerance, 1e-5)`.
//!   Anything else is reported as non-convergence (an error by default, see
//!   [`FitOptions::require_convergence`]).
//! * Inputs with at least 6 000 distinct rows are first fitted on a
//!   stratified subsample of about 3 000 of them (every k-th row in
//!   frequency order); its optimum and its L-BFGS curvature pairs start the
//!   full fit (this changes only the starting point and the initial
//!   inverse-Hessian model, not the optimum).
//! * Standard errors: the Hessian of the total log-likelihood (penalised if
//!   `λ > 0`) on the natural parameter scale is obtained by forward
//!   differences (step `1e-6·θ_j`, one extra gradient per parameter) of the
//!   analytic gradient at the optimum, symmetrised and inverted by Cholesky; the standard errors are the square roots of the
//!   diagonal of the inverse. They are `None` when that matrix is not
//!   positive definite.

use serde::{Deserialize, Serialize};

use super::ModelKind;
use super::error::ModelError;

/// Options shared by every fit. Defaults: `penalizer = 0.0`,
/// `max_iterations = 1000`, `tolerance = 1e-8`, `require_convergence = true`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FitOptions {
    /// L2 penalty `λ` added as `λ·Σθ²` to the mean negative log-likelihood.
    pub penalizer: f64,
    /// Iteration cap per optimiser stage.
    pub max_iterations: usize,
    /// Gradient tolerance (max-norm, mean objective, log-parameters).
    pub tolerance: f64,
    /// Return [`ModelError::NotConverged`] instead of a model flagged
    /// `converged = false`.
    pub require_convergence: bool,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            penalizer: 0.0,
            max_iterations: 1000,
            tolerance: 1e-8,
            require_convergence: true,
        }
    }
}

impl FitOptions {
    fn validate(&self) -> Result<(), ModelError> {
        if !(self.penalizer.is_finite() && self.penalizer >= 0.0) {
            return Err(ModelError::InvalidArgument {
                name: "penalizer",
                value: self.penalizer,
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
        if self.max_iterations == 0 {
            return Err(ModelError::InvalidArgument {
                name: "max_iterations",
                value: 0.0,
                reason: "must be at least 1",
            });
        }
        Ok(())
    }
}

/// Generates the builder methods shared by every model builder (which must
/// have an `options: FitOptions` field).
macro_rules! fit_builder_methods {
    () => {
        /// L2 penalty `λ ≥ 0` added as `λ·Σθ²` to the mean negative
        /// log-likelihood (default 0).
        pub fn penalizer(mut self, lambda: f64) -> Self {
            self.options.penalizer = lambda;
            self
        }
        /// Iteration cap per optimiser stage (default 1000).
        pub fn max_iterations(mut self, n: usize) -> Self {
            self.options.max_iterations = n;
            self
        }
        /// Gradient tolerance on the mean objective (default 1e-8).
        pub fn tolerance(mut self, tol: f64) -> Self {
            self.options.tolerance = tol;
            self
        }
        /// When `false`, a fit that does not converge returns a model flagged
        /// `converged = false` instead of [`ModelError::NotConverged`]
        /// (default `true`).
        pub fn require_convergence(mut self, yes: bool) -> Self {
            self.options.require_convergence = yes;
            self
        }
        /// Every option at once.
        pub fn with_options(mut self, options: $crate::optimize::FitOptions) -> Self {
            self.options = options;
            self
        }
        /// The options collected so far.
        pub fn options(&self) -> &$crate::optimize::FitOptions {
            &self.options
        }
    };
}
pub(crate) use fit_builder_methods;

/// A model's mean negative log-likelihood.
pub(crate) trait Objective<const N: usize> {
    /// Mean (per unit weight) negative log-likelihood at `θ = exp(φ)`, with
    /// its gradient with respect to `φ` written into `grad`. A non-finite
    /// return value means "cannot be evaluated here".
    fn eval(&mut self, phi: &[f64; N], grad: &mut [f64; N]) -> f64;
    /// Sum of the weights (number of customers).
    fn total_weight(&self) -> f64;
    /// A smaller objective used to find a starting point on large inputs.
    fn subsample(&self, _max_rows: usize) -> Option<Self>
    where
        Self: Sized,
    {
        None
    }
    /// Replaces the row weights (`w` has one weight per row, in the objective's row order; zeros
    /// allowed) without rebuilding the objective: the bootstrap refits on reweighted rows.
    /// `false` when the objective does not support it.
    fn set_weights(&mut self, _w: &[f64]) -> bool {
        false
    }
}

/// |φ| beyond this is treated as "cannot be evaluated" (θ outside [1e-13, 1e13]).
pub(crate) const PHI_BOUND: f64 = 30.0;
/// Maximal step in log-parameter space per iteration.
pub(crate) const MAX_STEP: f64 = 2.0;

pub(crate) struct Penalized<'a, O> {
    pub inner: &'a mut O,
    pub lambda: f64,
}

impl<O> Penalized<'_, O> {
    pub(crate) fn eval<const N: usize>(&mut self, phi: &[f64; N], g: &mut [f64; N]) -> f64
    where
        O: Objective<N>,
    {
        if phi.iter().any(|p| !(p.abs() <= PHI_BOUND)) {
            *g = [0.0; N];
            return f64::INFINITY;
        }
        let mut f = self.inner.eval(phi, g);
        if !f.is_finite() || g.iter().any(|v| !v.is_finite()) {
            *g = [0.0; N];
            return f64::INFINITY;
        }
        if self.lambda > 0.0 {
            for j in 0..N {
                let th = phi[j].exp();
                f += self.lambda * th * th;
                g[j] += 2.0 * self.lambda * th * th;
            }
        }
        f
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct OptResult<const N: usize> {
    pub x: [f64; N],
    pub f: f64,
    pub g: [f64; N],
    pub iterations: usize,
    pub converged: bool,
}

#[inline]
pub(crate) fn dot<const N: usize>(a: &[f64; N], b: &[f64; N]) -> f64 {
    let mut s = 0.0;
    for i in 0..N {
        s += a[i] * b[i];
    }
    s
}

#[inline]
pub(crate) fn inf_norm<const N: usize>(a: &[f64; N]) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

#[inline]
pub(crate) fn axpy<const N: usize>(x: &[f64; N], a: f64, d: &[f64; N]) -> [f64; N] {
    let mut r = *x;
    for i in 0..N {
        r[i] += a * d[i];
    }
    r
}

#[derive(Clone, Copy)]
pub(crate) struct Point<const N: usize> {
    pub a: f64,
    pub f: f64,
    pub dg: f64,
    pub x: [f64; N],
    pub g: [f64; N],
}

/// Strong-Wolfe line search (Nocedal & Wright, algorithms 3.5/3.6).
pub(crate) fn line_search<O: Objective<N>, const N: usize>(
    fun: &mut Penalized<'_, O>,
    start: &Point<N>,
    d: &[f64; N],
    a_init: f64,
    a_max: f64,
) -> Option<Point<N>> {
    const C1: f64 = 1e-4;
    const C2: f64 = 0.9;
    let f0 = start.f;
    let dg0 = start.dg;
    let mut eval = |a: f64| -> Point<N> {
        let x = axpy(&start.x, a, d);
        let mut g = [0.0; N];
        let f = fun.eval(&x, &mut g);
        Point {
            a,
            f,
            dg: dot(&g, d),
            x,
            g,
        }
    };
    let mut prev = *start;
    let mut a = a_init.min(a_max);
    let mut lo_hi: Option<(Point<N>, Point<N>)> = None;
    // Objective differences below this are rounding noise.
    let noise = 1e-12 * f0.abs().max(1e-300);
    for i in 0..30 {
        let p = eval(a);
        if !p.f.is_finite() {
            // Shrink towards the last good point.
            a = prev.a + 0.25 * (a - prev.a);
            if a - prev.a <= 1e-20 {
                return None;
            }
            continue;
        }
        if p.f > f0 + C1 * a * dg0 || (i > 0 && p.f >= prev.f) {
            lo_hi = Some((prev, p));
            break;
        }
        if p.dg.abs() <= -C2 * dg0 {
            return Some(p);
        }
        if p.dg >= 0.0 {
            lo_hi = Some((p, prev));
            break;
        }
        if a >= a_max {
            return Some(p);
        }
        prev = p;
        a = (2.0 * a).min(a_max);
    }
    let (mut lo, mut hi) = lo_hi?;
    let mut flat_trials = 0;
    for _ in 0..30 {
        let (l, h) = (lo.a, hi.a);
        let width = (h - l).abs();
        if width <= 1e-12 * l.abs().max(h.abs()).max(1e-300) || flat_trials >= 3 {
            break;
        }
        // Cubic interpolation, safeguarded into the middle 80% of the interval.
        let mut a = 0.5 * (l + h);
        if hi.f.is_finite() {
            let d1 = lo.dg + hi.dg - 3.0 * (lo.f - hi.f) / (l - h);
            let disc = d1 * d1 - lo.dg * hi.dg;
            if disc >= 0.0 {
                let d2 = (h - l).signum() * disc.sqrt();
                let c = h - (h - l) * (hi.dg + d2 - d1) / (hi.dg - lo.dg + 2.0 * d2);
                if c.is_finite() {
                    a = c;
                }
            }
        }
        let (mn, mx) = if l < h { (l, h) } else { (h, l) };
        a = a.clamp(mn + 0.1 * width, mx - 0.1 * width);
        let p = eval(a);
        if p.f.is_finite() && (p.f - f0).abs() <= noise {
            flat_trials += 1;
        }
        if !p.f.is_finite() || p.f > f0 + C1 * a * dg0 || p.f >= lo.f {
            hi = p;
        } else {
            if p.dg.abs() <= -C2 * dg0 {
                return Some(p);
            }
            if p.dg * (hi.a - lo.a) >= 0.0 {
                hi = lo;
            }
            lo = p;
        }
    }
    // Sufficient decrease holds at `lo` by construction; accept it if it moved.
    if lo.a > 0.0 && lo.f < f0 { Some(lo) } else { None }
}

/// L-BFGS memory size.
const M: usize = 8;

/// Curvature pairs of an L-BFGS run; passed from the subsample warm start to
/// the full fit so that it starts with a good inverse-Hessian model.
#[derive(Clone, Copy)]
pub(crate) struct Memory<const N: usize> {
    s_hist: [[f64; N]; M],
    y_hist: [[f64; N]; M],
    rho: [f64; M],
    len: usize,
    head: usize,
}

impl<const N: usize> Memory<N> {
    pub(crate) fn empty() -> Self {
        Memory {
            s_hist: [[0.0; N]; M],
            y_hist: [[0.0; N]; M],
            rho: [0.0; M],
            len: 0,
            head: 0,
        }
    }
}

fn lbfgs<O: Objective<N>, const N: usize>(
    fun: &mut Penalized<'_, O>,
    x0: [f64; N],
    max_iter: usize,
    gtol: f64,
    memory: &mut Memory<N>,
) -> OptResult<N> {
    let mut g = [0.0; N];
    let f = fun.eval(&x0, &mut g);
    let mut cur = Point {
        a: 0.0,
        f,
        dg: 0.0,
        x: x0,
        g,
    };
    if !f.is_finite() {
        return OptResult {
            x: x0,
            f,
            g,
            iterations: 0,
            converged: false,
        };
    }
    let Memory {
        s_hist,
        y_hist,
        rho,
        len,
        head,
    } = memory;
    let mut iter = 0usize;
    let loose = (1e3 * gtol).max(1e-5);
    let mut stalled = false;
    let mut flat = 0usize;
    loop {
        let gn = inf_norm(&cur.g);
        if gn <= gtol {
            return OptResult {
                x: cur.x,
                f: cur.f,
                g: cur.g,
                iterations: iter,
                converged: true,
            };
        }
        if iter >= max_iter {
            break;
        }
        iter += 1;
        // Two-loop recursion: d = −H g.
        let mut q = cur.g;
        let mut alpha = [0.0; M];
        for k in 0..*len {
            let i = (*head + M - 1 - k) % M;
            alpha[i] = rho[i] * dot(&s_hist[i], &q);
            q = axpy(&q, -alpha[i], &y_hist[i]);
        }
        if *len > 0 {
            let i = (*head + M - 1) % M;
            let gamma = dot(&s_hist[i], &y_hist[i]) / dot(&y_hist[i], &y_hist[i]);
            for v in q.iter_mut() {
                *v *= gamma;
            }
        }
        for k in (0..*len).rev() {
            let i = (*head + M - 1 - k) % M;
            let beta = rho[i] * dot(&y_hist[i], &q);
            q = axpy(&q, alpha[i] - beta, &s_hist[i]);
        }
        let mut d = q.map(|v| -v);
        let mut dg = dot(&d, &cur.g);
        if !(dg < 0.0) || !dg.is_finite() {
            *len = 0;
            d = cur.g.map(|v| -v);
            dg = dot(&d, &cur.g);
        }
        // Quasi-Newton model says the remaining decrease is below the
        // rounding noise of a sum over many rows: stop here (converged if
        // the gradient passes the loose tolerance).
        if *len > 0 && -0.5 * dg <= 1e-13 * cur.f.abs().max(1e-300) && gn <= loose {
            stalled = true;
            break;
        }
        let dn = inf_norm(&d);
        let a_max = MAX_STEP / dn;
        let a_init = if *len == 0 {
            (0.5 / gn).min(a_max)
        } else {
            1.0f64.min(a_max)
        };
        cur.dg = dg;
        cur.a = 0.0;
        match line_search(fun, &cur, &d, a_init, a_max) {
            Some(p) => {
                let s: [f64; N] = std::array::from_fn(|i| p.x[i] - cur.x[i]);
                let y: [f64; N] = std::array::from_fn(|i| p.g[i] - cur.g[i]);
                let sy = dot(&s, &y);
                if sy > 1e-12 * dot(&s, &s).sqrt() * dot(&y, &y).sqrt() && sy > 0.0 {
                    s_hist[*head] = s;
                    y_hist[*head] = y;
                    rho[*head] = 1.0 / sy;
                    *head = (*head + 1) % M;
                    *len = (*len + 1).min(M);
                }
                let tiny_move = inf_norm(&s) <= 1e-15;
                let tiny_change = (cur.f - p.f).abs() <= 1e-16 * cur.f.abs().max(1e-300);
                // Ten consecutive iterations that gain less than 1e-13
                // (relative) mean the objective is flat at machine
                // precision, e.g. parameters drifting towards a boundary.
                if (cur.f - p.f) <= 1e-13 * cur.f.abs().max(1e-300) {
                    flat += 1;
                } else {
                    flat = 0;
                }
                cur = p;
                if (tiny_move && tiny_change) || flat >= 10 {
                    stalled = true;
                    break;
                }
            }
            None => {
                if *len > 0 {
                    *len = 0; // retry along the steepest descent direction
                    continue;
                }
                stalled = true;
                break;
            }
        }
    }
    let gn = inf_norm(&cur.g);
    let converged = gn <= gtol || (stalled && gn <= loose);
    OptResult {
        x: cur.x,
        f: cur.f,
        g: cur.g,
        iterations: iter,
        converged,
    }
}

fn nelder_mead<O: Objective<N>, const N: usize>(
    fun: &mut Penalized<'_, O>,
    x0: [f64; N],
    max_iter: usize,
) -> OptResult<N> {
    let mut scratch = [0.0; N];
    let mut feval = |x: &[f64; N]| fun.eval(x, &mut scratch);
    let mut pts: Vec<([f64; N], f64)> = Vec::with_capacity(N + 1);
    pts.push((x0, feval(&x0)));
    for i in 0..N {
        let mut x = x0;
        x[i] += 0.5;
        pts.push((x, feval(&x)));
    }
    let mut iter = 0;
    while iter < max_iter {
        iter += 1;
        pts.sort_by(|a, b| a.1.total_cmp(&b.1));
        let best = pts[0].1;
        let worst = pts[N].1;
        let size = pts[1..]
            .iter()
            .map(|p| {
                let mut m = 0.0f64;
                for i in 0..N {
                    m = m.max((p.0[i] - pts[0].0[i]).abs());
                }
                m
            })
            .fold(0.0, f64::max);
        if best.is_finite() && worst - best <= 1e-14 * (best.abs() + 1e-12) && size <= 1e-9 {
            break;
        }
        let mut c = [0.0; N];
        for p in &pts[..N] {
            for i in 0..N {
                c[i] += p.0[i] / N as f64;
            }
        }
        let lin = |t: f64| -> [f64; N] { std::array::from_fn(|i| c[i] + t * (pts[N].0[i] - c[i])) };
        let xr = lin(-1.0);
        let fr = feval(&xr);
        if fr < pts[0].1 {
            let xe = lin(-2.0);
            let fe = feval(&xe);
            pts[N] = if fe < fr { (xe, fe) } else { (xr, fr) };
        } else if fr < pts[N - 1].1 {
            pts[N] = (xr, fr);
        } else {
            let (xc, fc) = if fr < pts[N].1 {
                let x = lin(-0.5);
                (x, feval(&x))
            } else {
                let x = lin(0.5);
                (x, feval(&x))
            };
            if fc < pts[N].1.min(fr) {
                pts[N] = (xc, fc);
            } else {
                let b = pts[0].0;
                for p in pts.iter_mut().skip(1) {
                    let x: [f64; N] = std::array::from_fn(|i| b[i] + 0.5 * (p.0[i] - b[i]));
                    *p = (x, feval(&x));
                }
            }
        }
    }
    pts.sort_by(|a, b| a.1.total_cmp(&b.1));
    let x = pts[0].0;
    let mut g = [0.0; N];
    let f = fun.eval(&x, &mut g);
    OptResult {
        x,
        f,
        g,
        iterations: iter,
        converged: false,
    }
}

/// L-BFGS, then (if needed) Nelder–Mead followed by a second L-BFGS run.
/// `memory` seeds the first L-BFGS run and receives its final curvature pairs.
pub(crate) fn minimize<O: Objective<N>, const N: usize>(
    fun: &mut Penalized<'_, O>,
    x0: [f64; N],
    max_iter: usize,
    gtol: f64,
    memory: &mut Memory<N>,
) -> OptResult<N> {
    let r1 = lbfgs(fun, x0, max_iter, gtol, memory);
    // Nelder–Mead cannot improve on a point where the objective is already
    // flat (tiny gradient but no further decrease possible); skip it there.
    if r1.converged || (r1.f.is_finite() && inf_norm(&r1.g) <= 1e-4) {
        return r1;
    }
    let start = if r1.f.is_finite() { r1.x } else { x0 };
    let nm = nelder_mead(fun, start, max_iter.min(200 * N));
    let start2 = if nm.f.is_finite() && !(nm.f > r1.f) {
        nm.x
    } else {
        start
    };
    *memory = Memory::empty();
    let r2 = lbfgs(fun, start2, max_iter, gtol, memory);
    let iterations = r1.iterations + nm.iterations + r2.iterations;
    let mut best = r2;
    if !r2.converged {
        for cand in [r1, nm] {
            if cand.f < best.f {
                best = cand;
            }
        }
    }
    best.iterations = iterations;
    best
}

/// The diagonal of `A^{-1}` via Cholesky; `None` unless `A` is
/// symmetric positive definite.
fn inverse_diagonal<const N: usize>(a: &[[f64; N]; N]) -> Option<[f64; N]> {
    cholesky_inverse(a).map(|inv| std::array::from_fn(|i| inv[i][i]))
}

/// The inverse of a symmetric positive definite `a` by Cholesky (`a = L Lᵀ`,
/// `a⁻¹ = L⁻ᵀ L⁻¹`); `None` unless `a` is positive definite with a finite inverse.
pub(crate) fn cholesky_inverse<const N: usize>(a: &[[f64; N]; N]) -> Option<[[f64; N]; N]> {
    let mut l = [[0.0; N]; N];
    for i in 0..N {
        for j in 0..=i {
            let mut s = a[i][j];
            for k in 0..j {
                s -= l[i][k] * l[j][k];
            }
            if i == j {
                if !(s > 0.0) || !s.is_finite() {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    let mut linv = [[0.0; N]; N];
    for i in 0..N {
        linv[i][i] = 1.0 / l[i][i];
        for j in 0..i {
            let mut s = 0.0;
            for k in j..i {
                s -= l[i][k] * linv[k][j];
            }
            linv[i][j] = s / l[i][i];
        }
    }
    // (A^{-1})_{ij} = Σ_k (L^{-1})_{ki} (L^{-1})_{kj}.
    let mut inv = [[0.0; N]; N];
    for i in 0..N {
        for j in 0..=i {
            let v: f64 = (i..N).map(|k| linv[k][i] * linv[k][j]).sum();
            inv[i][j] = v;
            inv[j][i] = v;
        }
    }
    inv.iter().flatten().all(|v| v.is_finite()).then_some(inv)
}

/// Standard errors at `theta` from the Hessian of the total objective on the
/// natural scale, by forward differences (step `1e-6·θ_j`) of the analytic
/// gradient around the optimum's gradient `g_phi` (log scale), symmetrised.
fn standard_errors<O: Objective<N>, const N: usize>(
    fun: &mut Penalized<'_, O>,
    theta: &[f64; N],
    g_phi: &[f64; N],
    weight: f64,
) -> Option<[f64; N]> {
    let mut grad_theta = |th: &[f64; N]| -> Option<[f64; N]> {
        if th.iter().any(|v| !(*v > 0.0)) {
            return None;
        }
        let phi = th.map(f64::ln);
        let mut g = [0.0; N];
        let f = fun.eval(&phi, &mut g);
        if !f.is_finite() {
            return None;
        }
        Some(std::array::from_fn(|i| g[i] / th[i]))
    };
    let g0: [f64; N] = std::array::from_fn(|i| g_phi[i] / theta[i]);
    let mut h = [[0.0; N]; N];
    for j in 0..N {
        let step = 1e-6 * theta[j];
        let mut tp = *theta;
        tp[j] += step;
        let step = tp[j] - theta[j]; // exactly representable step
        let gp = grad_theta(&tp)?;
        for i in 0..N {
            h[i][j] = (gp[i] - g0[i]) / step;
        }
    }
    let mut info = [[0.0; N]; N];
    for i in 0..N {
        for j in 0..N {
            info[i][j] = 0.5 * (h[i][j] + h[j][i]) * weight;
        }
    }
    Some(inverse_diagonal(&info)?.map(f64::sqrt))
}

/// Result of [`run_fit`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct FitOutcome<const N: usize> {
    pub theta: [f64; N],
    pub log_likelihood: f64,
    pub iterations: usize,
    pub converged: bool,
    pub standard_errors: Option<[f64; N]>,
    pub n_customers: f64,
}

/// Size of the warm-start subsample (every k-th distinct row, so stratified by frequency), used
/// when the data have at least twice as many distinct rows: the optimiser's first iterations run
/// on it, the rest on the whole data from where it stopped.
const WARM_START_ROWS: usize = 3_000;

/// Runs the whole fit: warm start, optimisation, log-likelihood, standard
/// errors and the convergence policy.
pub(crate) fn run_fit<O: Objective<N>, const N: usize>(
    obj: &mut O,
    theta0: [f64; N],
    options: &FitOptions,
    kind: ModelKind,
) -> Result<FitOutcome<N>, ModelError> {
    options.validate()?;
    let weight = obj.total_weight();
    if !(weight > 0.0) {
        return Err(ModelError::EmptyInput);
    }
    let mut phi0 = theta0.map(f64::ln);
    let mut iterations = 0;
    let mut memory = Memory::empty();
    if let Some(mut sub) = obj.subsample(WARM_START_ROWS) {
        let mut pen = Penalized {
            inner: &mut sub,
            lambda: options.penalizer,
        };
        let r = minimize(&mut pen, phi0, options.max_iterations, 1e-7, &mut memory);
        iterations += r.iterations;
        if r.f.is_finite() {
            phi0 = r.x;
        } else {
            memory = Memory::empty();
        }
    }
    let mut pen = Penalized {
        inner: obj,
        lambda: options.penalizer,
    };
    let res = minimize(&mut pen, phi0, options.max_iterations, options.tolerance, &mut memory);
    iterations += res.iterations;
    let theta = res.x.map(f64::exp);
    let gnorm = inf_norm(&res.g);
    let mut g = [0.0; N];
    // Without a penalty the optimiser's value is the objective itself; otherwise evaluate it.
    let f_unpen = if !res.f.is_finite() {
        f64::NAN
    } else if options.penalizer == 0.0 {
        res.f
    } else {
        pen.inner.eval(&res.x, &mut g)
    };
    let ll = -f_unpen * weight;
    let ll_opt = ll.is_finite().then_some(ll);
    if !res.f.is_finite() || !ll.is_finite() || theta.iter().any(|t| !(t.is_finite() && *t > 0.0)) {
        return Err(ModelError::NotConverged {
            model: kind,
            iterations,
            log_likelihood: ll_opt,
            gradient_norm: gnorm.is_finite().then_some(gnorm),
        });
    }
    if !res.converged && options.require_convergence {
        return Err(ModelError::NotConverged {
            model: kind,
            iterations,
            log_likelihood: ll_opt,
            gradient_norm: Some(gnorm),
        });
    }
    let standard_errors = standard_errors(&mut pen, &theta, &res.g, weight);
    Ok(FitOutcome {
        theta,
        log_likelihood: ll,
        iterations,
        converged: res.converged,
        standard_errors,
        n_customers: weight,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock in φ-space, shifted so that the optimum is at φ = (0.5, 0.25).
    struct Rosen;
    impl Objective<2> for Rosen {
        fn eval(&mut self, p: &[f64; 2], g: &mut [f64; 2]) -> f64 {
            let (x, y) = (p[0] - 0.5 + 1.0, p[1] - 0.25 + 1.0);
            g[0] = -2.0 * (1.0 - x) - 400.0 * x * (y - x * x);
            g[1] = 200.0 * (y - x * x);
            (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
        }
        fn total_weight(&self) -> f64 {
            1.0
        }
    }

    #[test]
    fn lbfgs_solves_rosenbrock() {
        let mut o = Rosen;
        let mut pen = Penalized {
            inner: &mut o,
            lambda: 0.0,
        };
        let r = minimize(&mut pen, [-1.0, 2.0], 1000, 1e-10, &mut Memory::empty());
        assert!(r.converged);
        assert!((r.x[0] - 0.5).abs() < 1e-8 && (r.x[1] - 0.25).abs() < 1e-8, "{:?}", r.x);
    }

    #[test]
    fn nelder_mead_gets_close() {
        let mut o = Rosen;
        let mut pen = Penalized {
            inner: &mut o,
            lambda: 0.0,
        };
        let r = nelder_mead(&mut pen, [-1.0, 2.0], 5000);
        assert!((r.x[0] - 0.5).abs() < 1e-4 && (r.x[1] - 0.25).abs() < 1e-4, "{:?}", r.x);
    }

    #[test]
    fn cholesky_inverse_diagonal() {
        let a = [[4.0, 2.0], [2.0, 3.0]];
        let d = inverse_diagonal(&a).unwrap();
        // inverse = 1/8 [[3, -2], [-2, 4]]
        assert!((d[0] - 3.0 / 8.0).abs() < 1e-15 && (d[1] - 0.5).abs() < 1e-15);
        assert!(inverse_diagonal(&[[1.0, 2.0], [2.0, 1.0]]).is_none());
    }
}
