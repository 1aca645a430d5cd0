//! Standard errors against an independent computation: the inverse of the observed information
//! (minus the Hessian of the total log-likelihood), the Hessian taken here by central second
//! differences of the log-likelihood *values* at the fitted parameters (the library uses
//! forward differences of its analytic gradient).

use clv_core::ltv::*;

use crate::common::*;

/// `sqrt(diag((−H)⁻¹))` of `ll` at `theta`, with `H` from central differences of values.
fn numeric_standard_errors<const N: usize>(theta: [f64; N], ll: impl Fn([f64; N]) -> f64) -> [f64; N] {
    let h: [f64; N] = theta.map(|t| 1e-4 * t);
    let at = |steps: &[(usize, f64)]| {
        let mut p = theta;
        for &(i, s) in steps {
            p[i] += s;
        }
        ll(p)
    };
    let mut info = [[0.0; N]; N];
    for i in 0..N {
        for j in 0..N {
            let second = if i == j {
                (at(&[(i, h[i])]) - 2.0 * at(&[]) + at(&[(i, -h[i])])) / (h[i] * h[i])
            } else {
                (at(&[(i, h[i]), (j, h[j])]) - at(&[(i, h[i]), (j, -h[j])]) - at(&[(i, -h[i]), (j, h[j])])
                    + at(&[(i, -h[i]), (j, -h[j])]))
                    / (4.0 * h[i] * h[j])
            };
            info[i][j] = -second;
        }
    }
    // Gauss–Jordan inverse of the (positive definite) information matrix.
    let mut a = info;
    let mut inv = [[0.0; N]; N];
    for (i, row) in inv.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for c in 0..N {
        let pivot = a[c][c];
        assert!(pivot > 0.0, "information not positive definite");
        for k in 0..N {
            a[c][k] /= pivot;
            inv[c][k] /= pivot;
        }
        for r in 0..N {
            if r != c {
                let f = a[r][c];
                for k in 0..N {
                    a[r][k] -= f * a[c][k];
                    inv[r][k] -= f * inv[c][k];
                }
            }
        }
    }
    std::array::from_fn(|i| inv[i][i].sqrt())
}

fn assert_close<const N: usize>(what: &str, got: [f64; N], want: [f64; N]) {
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 2e-3 * w, "{what}: {got:?} vs numeric {want:?}");
    }
}

#[test]
fn bgnbd_standard_errors_are_the_inverse_information() {
    let data = cdnow();
    let fitted = BgNbd::new().fit(&data).unwrap();
    let p = fitted.params();
    let se = fitted.standard_errors().expect("standard errors");
    let numeric = numeric_standard_errors([p.r, p.alpha, p.a, p.b], |[r, alpha, a, b]| {
        FittedBgNbd::from_params(BgNbdParams { r, alpha, a, b }, TimeUnit::Week)
            .unwrap()
            .log_likelihood_of(&data)
            .unwrap()
    });
    assert_close("BG/NBD", [se.r, se.alpha, se.a, se.b], numeric);
}

#[test]
fn pareto_nbd_standard_errors_are_the_inverse_information() {
    let data = cdnow();
    let fitted = ParetoNbd::new().fit(&data).unwrap();
    let p = fitted.params();
    let se = fitted.standard_errors().expect("standard errors");
    let numeric = numeric_standard_errors([p.r, p.alpha, p.s, p.beta], |[r, alpha, s, beta]| {
        FittedParetoNbd::from_params(ParetoNbdParams { r, alpha, s, beta }, TimeUnit::Week)
            .unwrap()
            .log_likelihood_of(&data)
            .unwrap()
    });
    assert_close("Pareto/NBD", [se.r, se.alpha, se.s, se.beta], numeric);
}

#[test]
fn gamma_gamma_standard_errors_are_the_inverse_information() {
    let (_, data) = cdnow_spend();
    let fitted = GammaGamma::new().fit(&data).unwrap();
    let p = fitted.params();
    let se = fitted.standard_errors().expect("standard errors");
    let numeric = numeric_standard_errors([p.p, p.q, p.gamma], |[p, q, gamma]| {
        FittedGammaGamma::from_params(GammaGammaParams { p, q, gamma })
            .unwrap()
            .log_likelihood_of(&data)
            .unwrap()
    });
    assert_close("Gamma-Gamma", [se.p, se.q, se.gamma], numeric);
}
