//! Refits from a warm start, and the curvature of an objective at its optimum.
//!
//! The bootstrap ([`crate::bootstrap`]) refits a model hundreds of times on reweighted copies
//! of the same rows, each time starting at the full-data estimate, where the curvature is
//! already known; the covariate fits ([`crate::covariates`]) need the whole covariance matrix
//! of their parameters, not only the standard errors. Both work on the optimiser's own
//! variables (`φ`, see [`crate::optimize`]).
//!
//! * [`hessian`] — the Hessian of the objective at `φ` by forward differences of its analytic
//!   gradient (step `1e-6` per coordinate, one extra gradient per coordinate), symmetrised.
//! * [`cholesky_inverse`] (of [`crate::optimize`]) — the inverse of a symmetric positive definite
//!   matrix, `None` when it is not positive definite (singular information).
//! * [`refine`] — BFGS (Nocedal & Wright, *Numerical Optimization*, 2nd ed., algorithm 6.1,
//!   update 6.17) with a dense inverse-Hessian approximation started at a given matrix (the
//!   inverse Hessian at the full-data optimum), and the strong-Wolfe line search of
//!   [`crate::optimize`]. From a start this close, a refit takes a handful of iterations. When
//!   it does not converge the whole [`crate::optimize`] strategy (L-BFGS, Nelder–Mead,
//!   L-BFGS) takes over from the best point. Convergence is judged exactly as in
//!   [`crate::optimize`].

pub(crate) use super::optimize::cholesky_inverse;
use super::optimize::{MAX_STEP, Memory, Objective, OptResult, Penalized, Point, dot, inf_norm, line_search, minimize};

/// Forward-difference step in `φ` for [`hessian`].
const HESSIAN_STEP: f64 = 1e-6;

/// The Hessian of `fun` at `phi` (whose gradient is `g0`) over the first `active` coordinates,
/// by forward differences of the analytic gradient, symmetrised; the other coordinates get the
/// identity (they are padding, see [`crate::covariates`]). `None` when a gradient cannot be
/// evaluated.
pub(crate) fn hessian<O: Objective<N>, const N: usize>(
    fun: &mut Penalized<'_, O>,
    phi: &[f64; N],
    g0: &[f64; N],
    active: usize,
) -> Option<[[f64; N]; N]> {
    let mut h = [[0.0; N]; N];
    for j in 0..active {
        let mut p = *phi;
        p[j] += HESSIAN_STEP;
        let step = p[j] - phi[j];
        let mut g = [0.0; N];
        let f = fun.eval(&p, &mut g);
        if !f.is_finite() {
            return None;
        }
        for i in 0..active {
            h[i][j] = (g[i] - g0[i]) / step;
        }
    }
    let mut s = [[0.0; N]; N];
    for i in 0..N {
        for j in 0..N {
            s[i][j] = if i < active && j < active {
                0.5 * (h[i][j] + h[j][i])
            } else if i == j {
                1.0
            } else {
                0.0
            };
        }
    }
    s.iter().flatten().all(|v| v.is_finite()).then_some(s)
}

/// `−H g`.
fn direction<const N: usize>(h: &[[f64; N]; N], g: &[f64; N]) -> [f64; N] {
    std::array::from_fn(|i| -dot(&h[i], g))
}

/// Minimises `fun` from `x0` by BFGS with the initial inverse Hessian `h0` (see the module
/// docs), falling back to [`minimize`] when that does not converge.
///
/// Besides the gradient tolerance `gtol`, `step_tol` (when given) stops at a point whose
/// quasi-Newton step `−H g` is below `step_tol[j]` in every coordinate: the bootstrap passes
/// a thousandth of each parameter's standard error, far below what its replicates resolve.
pub(crate) fn refine<O: Objective<N>, const N: usize>(
    fun: &mut Penalized<'_, O>,
    x0: [f64; N],
    h0: &[[f64; N]; N],
    max_iter: usize,
    gtol: f64,
    step_tol: Option<&[f64; N]>,
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
    let loose = (1e3 * gtol).max(1e-5);
    let mut h = *h0;
    let mut iter = 0;
    let mut stalled = false;
    let mut converged = false;
    if f.is_finite() {
        loop {
            let gn = inf_norm(&cur.g);
            if gn <= gtol {
                converged = true;
                break;
            }
            if iter >= max_iter {
                break;
            }
            iter += 1;
            let mut d = direction(&h, &cur.g);
            let mut dg = dot(&d, &cur.g);
            if !(dg < 0.0 && dg.is_finite()) {
                // Not a descent direction: start again from the initial matrix, else steepest.
                h = *h0;
                d = direction(&h, &cur.g);
                dg = dot(&d, &cur.g);
                if !(dg < 0.0 && dg.is_finite()) {
                    d = cur.g.map(|v| -v);
                    dg = dot(&d, &cur.g);
                }
            }
            if let Some(tol) = step_tol
                && d.iter().zip(tol).all(|(d, t)| d.abs() <= *t)
            {
                converged = true;
                break;
            }
            // The quadratic model says the remaining decrease is rounding noise.
            if -0.5 * dg <= 1e-13 * cur.f.abs().max(1e-300) && gn <= loose {
                stalled = true;
                break;
            }
            let a_max = MAX_STEP / inf_norm(&d);
            cur.dg = dg;
            cur.a = 0.0;
            let Some(p) = line_search(fun, &cur, &d, 1.0f64.min(a_max), a_max) else {
                stalled = true;
                break;
            };
            let s: [f64; N] = std::array::from_fn(|i| p.x[i] - cur.x[i]);
            let y: [f64; N] = std::array::from_fn(|i| p.g[i] - cur.g[i]);
            let sy = dot(&s, &y);
            if sy > 1e-12 * dot(&s, &s).sqrt() * dot(&y, &y).sqrt() && sy > 0.0 {
                // H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ
                let rho = 1.0 / sy;
                let hy: [f64; N] = std::array::from_fn(|i| dot(&h[i], &y));
                let yhy = dot(&y, &hy);
                for i in 0..N {
                    for j in 0..N {
                        h[i][j] += -rho * (s[i] * hy[j] + hy[i] * s[j]) + (rho * rho * yhy + rho) * s[i] * s[j];
                    }
                }
            }
            cur = p;
        }
    }
    let gn = inf_norm(&cur.g);
    converged |= cur.f.is_finite() && stalled && gn <= loose;
    if converged {
        return OptResult {
            x: cur.x,
            f: cur.f,
            g: cur.g,
            iterations: iter,
            converged,
        };
    }
    let start = if cur.f.is_finite() { cur.x } else { x0 };
    let mut r = minimize(fun, start, max_iter, gtol, &mut Memory::empty());
    r.iterations += iter;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A convex quadratic in φ with a known minimum and Hessian.
    struct Quad;
    impl Objective<3> for Quad {
        fn eval(&mut self, p: &[f64; 3], g: &mut [f64; 3]) -> f64 {
            let a = [[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]];
            let d = [p[0] - 0.3, p[1] + 0.2, p[2] - 1.0];
            let mut f = 0.0;
            for i in 0..3 {
                g[i] = dot(&a[i], &d);
                f += 0.5 * d[i] * g[i];
            }
            f + (p[0] - 0.3).powi(4)
        }
        fn total_weight(&self) -> f64 {
            1.0
        }
    }

    #[test]
    fn hessian_inverse_and_refine() {
        let mut o = Quad;
        let mut pen = Penalized {
            inner: &mut o,
            lambda: 0.0,
        };
        let opt = [0.3, -0.2, 1.0];
        let mut g = [0.0; 3];
        pen.eval(&opt, &mut g);
        let h = hessian(&mut pen, &opt, &g, 3).unwrap();
        assert!((h[0][0] - 4.0).abs() < 1e-5 && (h[0][2] - 0.5).abs() < 1e-5 && (h[2][1] - 0.2).abs() < 1e-5);
        let inv = cholesky_inverse(&h).unwrap();
        // inv · h = I
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| inv[i][k] * h[k][j]).sum();
                assert!((v - if i == j { 1.0 } else { 0.0 }).abs() < 1e-10);
            }
        }
        assert!(cholesky_inverse(&[[1.0, 2.0], [2.0, 1.0]]).is_none());
        let r = refine(&mut pen, [1.0, 1.0, -1.0], &inv, 100, 1e-10, None);
        assert!(r.converged);
        for i in 0..3 {
            assert!((r.x[i] - opt[i]).abs() < 1e-3, "{:?}", r.x);
        }
        // From the optimum itself: no iteration.
        let r = refine(&mut pen, opt, &inv, 100, 1e-10, None);
        assert!(r.converged && r.iterations == 0);
    }
}
