#![allow(non_snake_case)]
//! DERT against numerical integration of each model's conditional expectation and against an
//! independent scipy implementation (`tests/reference/dert.py`).

mod common;

use clv_models::dert::Dert;
use clv_models::special::integrate;
use clv_models::{
    BgNbdParams, FittedBgNbd, FittedMbgNbd, FittedParetoNbd, MbgNbdParams, ParetoNbdParams, TimeUnit, TransactionModel,
};

fn pareto() -> FittedParetoNbd {
    let p = ParetoNbdParams {
        r: 0.5533,
        alpha: 10.5776,
        s: 0.6062,
        beta: 11.6679,
    };
    FittedParetoNbd::from_params(p, TimeUnit::Week).unwrap()
}

fn bgnbd() -> FittedBgNbd {
    let p = BgNbdParams {
        r: 0.2426,
        alpha: 4.4136,
        a: 0.7929,
        b: 2.4259,
    };
    FittedBgNbd::from_params(p, TimeUnit::Week).unwrap()
}

fn mbgnbd() -> FittedMbgNbd {
    let p = MbgNbdParams {
        r: 0.5248,
        alpha: 6.1830,
        a: 0.8914,
        b: 1.6140,
    };
    FittedMbgNbd::from_params(p, TimeUnit::Week).unwrap()
}

/// `δ ∫_0^∞ e^{−δτ} E[Y(τ) | x, t_x, T] dτ = ∫_0^1 E[Y(−ln u / δ)] du` (integration by parts;
/// `u = e^{−δτ}`), truncated at `u = e^{−45}` where the rest is below 1e-17 of the total.
fn dert_by_integration<M: TransactionModel>(m: &M, delta: f64, x: f64, t_x: f64, T: f64) -> f64 {
    let lo = (-45.0f64).exp();
    integrate(
        |u| m.expected_purchases(-u.ln() / delta, x, t_x, T).unwrap(),
        lo,
        1.0,
        1e-13,
    )
    .unwrap()
}

const CUSTOMERS: [(f64, f64, f64); 5] = [
    (0.0, 0.0, 38.86),
    (2.0, 30.43, 38.86),
    (1.0, 1.71, 38.86),
    (7.0, 35.0, 36.0),
    (26.0, 30.86, 31.0),
];

#[test]
fn dert_equals_the_integral_of_the_discounted_conditional_expectation() {
    // 15 % a year compounded continuously, given per week; and a high rate.
    for delta in [1.15f64.ln() / (365.25 / 7.0), 0.05] {
        for &(x, t_x, T) in &CUSTOMERS {
            let p = pareto().dert(delta, TimeUnit::Week, x, t_x, T).unwrap();
            let pi = dert_by_integration(&pareto(), delta, x, t_x, T);
            assert!(
                common::close(p, pi, 1e-8),
                "Pareto/NBD δ={delta} {x} {t_x} {T}: {p} vs {pi}"
            );
            let b = bgnbd().dert(delta, TimeUnit::Week, x, t_x, T).unwrap();
            let bi = dert_by_integration(&bgnbd(), delta, x, t_x, T);
            assert!(
                common::close(b, bi, 1e-8),
                "BG/NBD δ={delta} {x} {t_x} {T}: {b} vs {bi}"
            );
            let m = mbgnbd().dert(delta, TimeUnit::Week, x, t_x, T).unwrap();
            let mi = dert_by_integration(&mbgnbd(), delta, x, t_x, T);
            assert!(
                common::close(m, mi, 1e-8),
                "MBG/NBD δ={delta} {x} {t_x} {T}: {m} vs {mi}"
            );
        }
    }
}

#[test]
fn dert_matches_the_independent_mpmath_reference() {
    // tests/reference/dert.py: FHL 2005 eq. 2 with mpmath's hyperu and the note-009 likelihood
    // (Pareto/NBD); a double integral over (λ, p) (BG/NBD, MBG/NBD).
    let rows = common::reference("dert.csv");
    assert_eq!(rows.len(), 30);
    for r in rows {
        let (delta, x, t_x, T, want) = (r[1], r[2], r[3], r[4], r[5]);
        let got = match r[0] as u32 {
            0 => pareto().dert(delta, TimeUnit::Week, x, t_x, T),
            1 => bgnbd().dert(delta, TimeUnit::Week, x, t_x, T),
            _ => mbgnbd().dert(delta, TimeUnit::Week, x, t_x, T),
        }
        .unwrap();
        assert!(common::close(got, want, 1e-10), "{r:?}: {got}");
    }
}

#[test]
fn dert_many_units_and_errors() {
    let m = bgnbd();
    let (x, t_x, T): (Vec<f64>, Vec<f64>, Vec<f64>) = (
        CUSTOMERS.iter().map(|c| c.0).collect(),
        CUSTOMERS.iter().map(|c| c.1).collect(),
        CUSTOMERS.iter().map(|c| c.2).collect(),
    );
    let weekly = 0.002_678_531_407_600_577;
    let many = m.dert_many(weekly, TimeUnit::Week, &x, &t_x, &T).unwrap();
    for i in 0..x.len() {
        assert_eq!(many[i], m.dert(weekly, TimeUnit::Week, x[i], t_x[i], T[i]).unwrap());
    }
    // The same rate per day: 1/7 of the weekly one.
    let daily = m.dert(weekly / 7.0, TimeUnit::Day, 2.0, 30.43, 38.86).unwrap();
    assert!(common::close(daily, many[1], 1e-12));
    // The same customer under the model in days.
    let in_days = m.to_unit(TimeUnit::Day);
    let d = in_days
        .dert(weekly, TimeUnit::Week, 2.0, 30.43 * 7.0, 38.86 * 7.0)
        .unwrap();
    assert!(common::close(d, many[1], 1e-9), "{d} vs {}", many[1]);
    // A higher rate discounts more.
    assert!(m.dert(0.05, TimeUnit::Week, 2.0, 30.43, 38.86).unwrap() < many[1]);
    for bad in [0.0, -0.1, f64::NAN, f64::INFINITY] {
        assert!(m.dert(bad, TimeUnit::Week, 2.0, 30.43, 38.86).is_err());
    }
    assert!(pareto().dert(0.01, TimeUnit::Week, 2.0, 40.0, 38.86).is_err());
}
