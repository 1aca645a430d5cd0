//! Seeded simulators: determinism and parameter recovery (50 000 customers).

use clv_core::ltv::simulate::{BgNbdSimulator, GammaGammaSimulator, Observation, ParetoNbdSimulator};
use clv_core::ltv::*;

/// |estimate − truth| within `k` standard errors, for every parameter.
fn within(est: &[f64], se: &[f64], truth: &[f64], k: f64) {
    for i in 0..est.len() {
        assert!(se[i].is_finite() && se[i] > 0.0, "se {se:?}");
        assert!(
            (est[i] - truth[i]).abs() <= k * se[i],
            "param {i}: {} vs {} (se {})",
            est[i],
            truth[i],
            se[i]
        );
    }
}

#[test]
fn bgnbd_and_gamma_gamma_recovery() {
    let truth = BgNbdParams {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };
    let sim = BgNbdSimulator::new(truth, Observation::Uniform { min: 27.0, max: 39.0 }, TimeUnit::Week).unwrap();
    let data = sim.simulate(50_000, 42).unwrap();
    // deterministic
    assert_eq!(data, sim.simulate(50_000, 42).unwrap());
    assert_ne!(data.frequency(), sim.simulate(50_000, 43).unwrap().frequency());
    let m = BgNbd::new().fit(&data).unwrap();
    let se = m.standard_errors().unwrap();
    eprintln!("BG/NBD sim: {:?} se {:?}", m.params(), se);
    within(
        &[m.params().r, m.params().alpha, m.params().a, m.params().b],
        &[se.r, se.alpha, se.a, se.b],
        &[truth.r, truth.alpha, truth.a, truth.b],
        4.0,
    );

    let gg_truth = GammaGammaParams {
        p: 6.25,
        q: 3.74,
        gamma: 15.44,
    };
    let spend = GammaGammaSimulator::new(gg_truth)
        .unwrap()
        .simulate(data.frequency(), 7)
        .unwrap();
    let gg = GammaGamma::new().fit(&spend).unwrap();
    let se = gg.standard_errors().unwrap();
    eprintln!(
        "GG sim: {:?} se {:?} n={}",
        gg.params(),
        se,
        gg.fit_report().unwrap().n_customers
    );
    within(
        &[gg.params().p, gg.params().q, gg.params().gamma],
        &[se.p, se.q, se.gamma],
        &[gg_truth.p, gg_truth.q, gg_truth.gamma],
        4.0,
    );
    // independence holds by construction
    assert!(spend_frequency_correlation(&spend).unwrap().abs() < 0.05);
}

#[test]
fn pareto_recovery() {
    let truth = ParetoNbdParams {
        r: 0.55,
        alpha: 10.58,
        s: 0.61,
        beta: 11.67,
    };
    let sim = ParetoNbdSimulator::new(truth, Observation::Uniform { min: 27.0, max: 39.0 }, TimeUnit::Week).unwrap();
    let data = sim.simulate(50_000, 1).unwrap();
    let m = ParetoNbd::new().fit(&data).unwrap();
    let se = m.standard_errors().unwrap();
    eprintln!("Pareto sim: {:?} se {:?}", m.params(), se);
    within(
        &[m.params().r, m.params().alpha, m.params().s, m.params().beta],
        &[se.r, se.alpha, se.s, se.beta],
        &[truth.r, truth.alpha, truth.s, truth.beta],
        4.0,
    );
}

#[test]
fn day_grid_simulation_is_consistent() {
    let truth = BgNbdParams {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };
    let sim = BgNbdSimulator::new(truth, Observation::Uniform { min: 27.0, max: 39.0 }, TimeUnit::Week)
        .unwrap()
        .resolution(1.0 / 7.0);
    let data = sim.simulate(20_000, 5).unwrap();
    for i in 0..data.len() {
        let (x, tx, t) = (data.frequency()[i], data.recency()[i], data.t()[i]);
        assert!(tx <= t && (x == 0.0) == (tx == 0.0));
        let days = tx * 7.0;
        assert!((days - days.round()).abs() < 1e-9);
    }
    assert!(data.compressed().len() < data.len() / 2);
}
