//! Customer bootstrap and delta-method intervals: CDNOW targets, references, determinism, and a
//! small coverage check on simulated data (the full coverage run is
//! `examples/bootstrap_coverage.rs`).

mod common;

use clv_models::bootstrap::{
    Bootstrap, CustomerKeys, DeltaScale, ModelParameters, delta_method_intervals, robust_delta_method_intervals,
};
use clv_models::{BgNbd, TimeUnit, TransactionSummary};

/// The published BG/NBD estimates on the CDNOW sample (Fader, Hardie & Lee 2005).
const PUBLISHED: [f64; 4] = [0.2426, 4.4136, 0.7929, 2.4259];

#[test]
fn cdnow_standard_errors_match_an_independent_computation() {
    // tests/reference/cdnow_bgnbd_standard_errors.py: observed-information and sandwich SEs
    // computed with numpy/scipy from its own likelihood.
    let (_, data) = common::cdnow();
    let model = BgNbd::new().fit(&data).unwrap();
    let want = common::reference("cdnow_bgnbd_standard_errors.csv");
    let hessian = model.parameter_standard_errors().unwrap();
    let sandwich = robust_delta_method_intervals(&model, &data, 0.95, DeltaScale::Natural).unwrap();
    for j in 0..4 {
        assert!(common::close(model.parameter_values()[j], want[j][1], 1e-4));
        assert!(
            common::close(hessian[j], want[j][2], 2e-3),
            "{j}: {} vs {}",
            hessian[j],
            want[j][2]
        );
        assert!(
            common::close(sandwich[j].std_error, want[j][3], 2e-3),
            "{j}: {} vs {}",
            sandwich[j].std_error,
            want[j][3]
        );
    }
}

#[test]
fn cdnow_bgnbd_bootstrap_contains_the_published_values_and_agrees_with_the_delta_method() {
    let (ids, data) = common::cdnow();
    let model = BgNbd::new().fit(&data).unwrap();
    let keys = CustomerKeys::from_u64(&ids);
    // 1000 replicates: a percentile interval's width from 200 replicates varies by about ±15 %
    // between seeds (its tails rest on five replicates each), which would blur a 30 % target.
    // With 4000 replicates the width ratios to the observed-information delta-method
    // intervals settle at 1.13 (r), 1.21 (α), 1.11 (a), 1.16 (b): α's sampling variability is
    // larger than the observed information says (its sandwich standard error is 1.23 times
    // larger: the model is not exactly right for CDNOW), a and b are skewed to the right.
    let boot = Bootstrap::new()
        .replicates(1000)
        .seed(2005)
        .run(&model, &data, &keys)
        .unwrap();
    assert_eq!(boot.requested(), 1000);
    assert!(boot.failed().is_empty(), "{:?}", boot.failed());
    let b = boot.parameter_intervals(0.95).unwrap();
    let d = delta_method_intervals(&model, 0.95, DeltaScale::Natural).unwrap();
    let s = robust_delta_method_intervals(&model, &data, 0.95, DeltaScale::Natural).unwrap();
    for j in 0..4 {
        eprintln!(
            "{}: est {:.4} boot [{:.4}, {:.4}] sd {:.4} | delta [{:.4}, {:.4}] se {:.4} | sandwich se {:.4}",
            b[j].name,
            b[j].estimate,
            b[j].lower,
            b[j].upper,
            b[j].std_error,
            d[j].lower,
            d[j].upper,
            d[j].std_error,
            s[j].std_error
        );
        assert!(b[j].lower < PUBLISHED[j] && PUBLISHED[j] < b[j].upper, "{:?}", b[j]);
        assert_eq!(b[j].estimate, model.parameter_values()[j]);
        let wb = b[j].upper - b[j].lower;
        let wd = d[j].upper - d[j].lower;
        assert!((wb / wd - 1.0).abs() < 0.3, "{}: widths {wb} vs {wd}", b[j].name);
        let ws = s[j].upper - s[j].lower;
        assert!(
            (wb / ws - 1.0).abs() < 0.3,
            "{}: widths {wb} vs sandwich {ws}",
            b[j].name
        );
    }
    // The bootstrap standard deviation of r and α is the sandwich standard error (the
    // estimates are nearly normal; 1000 replicates estimate an SD to about ±2 %).
    for j in 0..2 {
        assert!(
            common::close(b[j].std_error, s[j].std_error, 0.1),
            "{:?} vs {:?}",
            b[j],
            s[j]
        );
    }
}

#[test]
fn replicates_do_not_depend_on_row_order() {
    let (ids, data) = common::cdnow();
    let model = BgNbd::new().fit(&data).unwrap();
    let boot = Bootstrap::new().replicates(20).seed(9);
    let a = boot.run(&model, &data, &CustomerKeys::from_u64(&ids)).unwrap();
    // Reverse the rows and interleave them: the same customers, another order.
    let n = data.len();
    let order: Vec<usize> = (0..n).rev().step_by(2).chain((0..n).rev().skip(1).step_by(2)).collect();
    let pick = |v: &[f64]| order.iter().map(|&i| v[i]).collect::<Vec<_>>();
    let shuffled = TransactionSummary::new(
        pick(data.frequency()),
        pick(data.recency()),
        pick(data.t()),
        TimeUnit::Week,
    )
    .unwrap();
    let ids2: Vec<u64> = order.iter().map(|&i| ids[i]).collect();
    let b = boot.run(&model, &shuffled, &CustomerKeys::from_u64(&ids2)).unwrap();
    assert_eq!(a.replicates().len(), b.replicates().len());
    for (x, y) in a.replicates().iter().zip(b.replicates()) {
        assert_eq!(x.number, y.number);
        assert_eq!(x.model.parameter_values(), y.model.parameter_values());
    }
    // Another seed draws other replicates.
    let c = Bootstrap::new()
        .replicates(20)
        .seed(10)
        .run(&model, &data, &CustomerKeys::from_u64(&ids))
        .unwrap();
    assert_ne!(
        a.replicates()[0].model.parameter_values(),
        c.replicates()[0].model.parameter_values()
    );
}

/// A small version of `examples/bootstrap_coverage.rs`: 20 data sets of 1500 customers from
/// known BG/NBD parameters, 100 replicates each. The nominal 95 % intervals of the four
/// parameters cover the truth in most of the 80 cases (the full run, 1000 data sets of 5000
/// customers, measures 92.5–94.6 % for the percentile intervals), and they are about as wide
/// as the delta-method intervals: neither collapsed nor trivially wide.
#[test]
fn bootstrap_intervals_cover_the_truth_on_simulated_data() {
    use clv_models::bootstrap::IntervalMethod;
    use clv_models::simulate::{BgNbdSimulator, Observation};
    let truth = clv_models::BgNbdParams {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };
    let v = [truth.r, truth.alpha, truth.a, truth.b];
    let sim = BgNbdSimulator::new(truth, Observation::Uniform { min: 26.0, max: 78.0 }, TimeUnit::Week).unwrap();
    let n = 1500;
    let keys = CustomerKeys::from_u64(&(0..n as u64).collect::<Vec<_>>());
    let (mut covered, mut covered_bc, mut cases, mut width_ratio) = (0, 0, 0, 0.0);
    for d in 0..20u64 {
        let data = sim.simulate(n, 500 + d).unwrap();
        let model = BgNbd::new().fit(&data).unwrap();
        let boot = Bootstrap::new()
            .replicates(100)
            .seed(d)
            .run(&model, &data, &keys)
            .unwrap();
        let b = boot.parameter_intervals(0.95).unwrap();
        let bc = boot
            .with_interval_method(IntervalMethod::BiasCorrected)
            .parameter_intervals(0.95)
            .unwrap();
        let delta = delta_method_intervals(&model, 0.95, DeltaScale::Natural).unwrap();
        for j in 0..4 {
            cases += 1;
            covered += usize::from(b[j].lower <= v[j] && v[j] <= b[j].upper);
            covered_bc += usize::from(bc[j].lower <= v[j] && v[j] <= bc[j].upper);
            width_ratio += (b[j].upper - b[j].lower) / (delta[j].upper - delta[j].lower);
        }
    }
    let (coverage, coverage_bc) = (covered as f64 / cases as f64, covered_bc as f64 / cases as f64);
    let width_ratio = width_ratio / cases as f64;
    eprintln!("coverage {coverage}, bias-corrected {coverage_bc}, mean width ratio to the delta method {width_ratio}");
    assert!((0.85..=1.0).contains(&coverage), "{coverage}");
    assert!((0.85..=1.0).contains(&coverage_bc), "{coverage_bc}");
    assert!((0.8..1.3).contains(&width_ratio), "{width_ratio}");
}
