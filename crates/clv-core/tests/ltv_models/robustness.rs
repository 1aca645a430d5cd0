//! Typed errors for bad input and no NaN / inf / panic on extreme input.

use super::common::*;

use clv_core::ltv::*;

fn ts(rows: &[(f64, f64, f64)]) -> Result<TransactionSummary, ModelError> {
    TransactionSummary::from_rows(rows, TimeUnit::Week)
}

#[test]
fn input_validation_errors() {
    use ModelError::*;
    assert!(matches!(ts(&[(1.0, 0.0, 5.0)]), Err(InconsistentRow { row: 0, .. })));
    assert!(matches!(
        ts(&[(0.0, 0.0, 5.0), (2.0, 6.0, 5.0)]),
        Err(InconsistentRow { row: 1, .. })
    ));
    assert!(matches!(ts(&[(0.0, 1.0, 5.0)]), Err(InconsistentRow { .. })));
    assert!(matches!(
        ts(&[(-1.0, 1.0, 5.0)]),
        Err(Negative { field: "frequency", .. })
    ));
    assert!(matches!(
        ts(&[(1.0, -1.0, 5.0)]),
        Err(Negative { field: "recency", .. })
    ));
    assert!(matches!(ts(&[(1.0, 1.0, -5.0)]), Err(Negative { field: "T", .. })));
    assert!(matches!(
        ts(&[(f64::NAN, 1.0, 5.0)]),
        Err(NonFinite { field: "frequency", .. })
    ));
    assert!(matches!(ts(&[(1.0, f64::INFINITY, 5.0)]), Err(NonFinite { .. })));
    assert!(matches!(ts(&[(1.0, 1.0, f64::NAN)]), Err(NonFinite { .. })));
    assert!(matches!(ts(&[(1.5, 1.0, 5.0)]), Err(NotInteger { .. })));
    assert!(matches!(
        TransactionSummary::new(vec![1.0], vec![1.0, 2.0], vec![3.0], TimeUnit::Day),
        Err(LengthMismatch { .. })
    ));
    assert!(matches!(
        ts(&[(1.0, 1.0, 5.0)]).unwrap().with_weights(vec![-1.0]),
        Err(Negative { .. })
    ));
    assert!(matches!(
        ts(&[(1.0, 1.0, 5.0)]).unwrap().with_weights(vec![f64::NAN]),
        Err(NonFinite { .. })
    ));

    // fit-time errors, every count model
    let empty = ts(&[]).unwrap();
    let zeros = ts(&[(0.0, 0.0, 5.0), (0.0, 0.0, 7.0)]).unwrap();
    let zero_w = ts(&[(1.0, 1.0, 5.0)]).unwrap().with_weights(vec![0.0]).unwrap();
    for d in [&empty, &zero_w] {
        assert_eq!(BgNbd::new().fit(d).unwrap_err(), EmptyInput);
        assert_eq!(MbgNbd::new().fit(d).unwrap_err(), EmptyInput);
        assert_eq!(ParetoNbd::new().fit(d).unwrap_err(), EmptyInput);
    }
    assert_eq!(BgNbd::new().fit(&zeros).unwrap_err(), NoRepeatPurchases);
    assert_eq!(MbgNbd::new().fit(&zeros).unwrap_err(), NoRepeatPurchases);
    assert_eq!(ParetoNbd::new().fit(&zeros).unwrap_err(), NoRepeatPurchases);

    // options
    let data = cdnow();
    assert!(matches!(
        BgNbd::new().penalizer(-1.0).fit(&data),
        Err(InvalidArgument { name: "penalizer", .. })
    ));
    assert!(matches!(
        BgNbd::new().penalizer(f64::NAN).fit(&data),
        Err(InvalidArgument { .. })
    ));
    assert!(matches!(
        BgNbd::new().tolerance(0.0).fit(&data),
        Err(InvalidArgument { .. })
    ));
    assert!(matches!(
        BgNbd::new()
            .initial_params(BgNbdParams {
                r: -1.0,
                alpha: 1.0,
                a: 1.0,
                b: 1.0
            })
            .fit(&data),
        Err(InvalidParameter { name: "r", .. })
    ));

    // spend
    assert!(matches!(
        SpendSummary::new(vec![2.0], vec![0.0]),
        Err(Negative { field: "monetary", .. })
    ));
    assert!(matches!(
        SpendSummary::new(vec![2.0], vec![f64::NAN]),
        Err(NonFinite { .. })
    ));
    assert_eq!(
        GammaGamma::new()
            .fit(&SpendSummary::new(vec![], vec![]).unwrap())
            .unwrap_err(),
        EmptyInput
    );
    assert_eq!(
        GammaGamma::new()
            .fit(&SpendSummary::new(vec![0.0], vec![0.0]).unwrap())
            .unwrap_err(),
        NoRepeatPurchases
    );

    // discrete
    assert!(matches!(
        DiscreteSummary::new(vec![3.0], vec![2.0], vec![6.0]),
        Err(InconsistentRow { .. })
    ));
    assert!(matches!(
        DiscreteSummary::new(vec![1.0], vec![7.0], vec![6.0]),
        Err(InconsistentRow { .. })
    ));
    assert!(matches!(
        DiscreteSummary::new(vec![1.0], vec![1.5], vec![6.0]),
        Err(NotInteger { .. })
    ));
    assert_eq!(
        BgBb::new()
            .fit(&DiscreteSummary::new(vec![0.0], vec![0.0], vec![6.0]).unwrap())
            .unwrap_err(),
        NoRepeatPurchases
    );

    // survival
    assert!(SurvivalData::from_survival_curve(&[1.0, 0.5, 0.6], 100.0).is_err());
    assert!(SurvivalData::from_survival_curve(&[0.9, 0.5], 100.0).is_err());
    assert!(SurvivalData::from_survival_curve(&[1.0, 0.5], 0.0).is_err());
    assert!(SurvivalData::new(vec![0.0], vec![true]).is_err());
    assert_eq!(
        Sbg::new().fit(&SurvivalData::new(vec![], vec![]).unwrap()).unwrap_err(),
        EmptyInput
    );

    // scoring arguments
    let m = BgNbd::new().fit(&data).unwrap();
    assert!(matches!(m.p_alive(1.0, 5.0, 4.0), Err(InconsistentRow { .. })));
    assert!(matches!(m.p_alive(f64::NAN, 5.0, 4.0), Err(NonFinite { .. })));
    assert!(matches!(
        m.expected_purchases(-1.0, 1.0, 1.0, 4.0),
        Err(InvalidArgument { .. })
    ));
    assert!(matches!(
        m.expected_purchases_new(f64::INFINITY),
        Err(InvalidArgument { .. })
    ));
}

#[test]
fn non_convergence_is_reported() {
    let data = cdnow();
    let err = BgNbd::new().max_iterations(2).fit(&data).unwrap_err();
    match err {
        ModelError::NotConverged {
            model,
            iterations,
            log_likelihood,
            ..
        } => {
            assert_eq!(model, ModelKind::BgNbd);
            assert!(iterations > 0);
            assert!(log_likelihood.unwrap().is_finite());
        }
        e => panic!("{e:?}"),
    }
    let m = BgNbd::new()
        .max_iterations(2)
        .require_convergence(false)
        .fit(&data)
        .unwrap();
    assert!(!m.fit_report().unwrap().converged);
    assert!(m.log_likelihood().unwrap().is_finite());
}

#[test]
fn compression_and_penalizer() {
    // identical rows expanded vs weighted give the same fit
    let rows = [
        (0.0, 0.0, 30.0),
        (2.0, 10.0, 30.0),
        (5.0, 29.0, 31.0),
        (1.0, 0.5, 12.0),
        (3.0, 20.0, 25.0),
    ];
    let w = [40.0, 12.0, 7.0, 20.0, 9.0];
    let mut expanded = Vec::new();
    for (r, &k) in rows.iter().zip(&w) {
        for _ in 0..k as usize {
            expanded.push(*r);
        }
    }
    let a = BgNbd::new().fit(&ts(&expanded).unwrap()).unwrap();
    let b = BgNbd::new()
        .fit(&ts(&rows).unwrap().with_weights(w.to_vec()).unwrap())
        .unwrap();
    assert_eq!(a.params(), b.params());
    assert_eq!(a.fit_report().unwrap().n_customers, 88.0);
    assert!((a.log_likelihood().unwrap() - b.log_likelihood().unwrap()).abs() < 1e-9);

    // the penalizer shrinks the parameters towards 0 (sum of squares)
    let data = cdnow();
    let plain = BgNbd::new().fit(&data).unwrap().params();
    let pen = BgNbd::new().penalizer(0.01).fit(&data).unwrap();
    let pp = pen.params();
    let ss = |p: BgNbdParams| p.r * p.r + p.alpha * p.alpha + p.a * p.a + p.b * p.b;
    assert!(ss(pp) < ss(plain), "{pp:?} vs {plain:?}");
    assert_eq!(pen.fit_report().unwrap().penalizer, 0.01);
    // log-likelihood reported without the penalty, so it is below the MLE's
    assert!(pen.log_likelihood().unwrap() < -9582.42);
}

fn assert_prob(v: Result<f64, ModelError>, what: &str) {
    let v = v.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(v.is_finite() && (0.0..=1.0).contains(&v), "{what}: {v}");
}
fn assert_finite_nonneg(v: Result<f64, ModelError>, what: &str) {
    let v = v.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(v.is_finite() && v >= 0.0, "{what}: {v}");
}

#[test]
fn extreme_scoring_inputs() {
    let data = cdnow();
    let bg = BgNbd::new().fit(&data).unwrap();
    let mbg = MbgNbd::new().fit(&data).unwrap();
    let pnbd = ParetoNbd::new().fit(&data).unwrap();
    let models: [&dyn TransactionModel; 3] = [&bg, &mbg, &pnbd];
    let cases = [
        (3000.0, 38.0, 38.86),
        (5000.0, 10.0, 10.0), // t_x = T
        (2000.0, 1.0, 80.0),  // thousands of purchases long ago
        (1.0, 1e-6, 1e-6),    // tiny T
        (0.0, 0.0, 1e-9),
        (0.0, 0.0, 0.0),
        (1.0, 38.86, 38.86), // t_x = T
        (100_000.0, 500.0, 500.0),
    ];
    for m in models {
        for &(x, tx, t) in &cases {
            let what = format!("{:?} x={x} t_x={tx} T={t}", m.kind());
            assert_prob(m.p_alive(x, tx, t), &what);
            assert_finite_nonneg(m.expected_purchases(52.0, x, tx, t), &what);
            assert_finite_nonneg(m.expected_purchases(1e4, x, tx, t), &what);
        }
        assert_finite_nonneg(m.expected_purchases_new(1e6), "new, long horizon");
        for n in [0, 1, 10, 1000] {
            assert_prob(m.prob_purchases(n, 39.0), "prob");
            assert_prob(m.prob_purchases(n, 1e-8), "prob tiny t");
        }
    }
    // frequent buyers are alive, long-lapsed frequent buyers are not
    assert!(bg.p_alive(3000.0, 38.85, 38.86).unwrap() > 0.99);
    assert!(bg.p_alive(3000.0, 38.0, 38.86).unwrap() < 1e-6);
    assert!(pnbd.p_alive(2000.0, 1.0, 80.0).unwrap() < 1e-6);
    // Pareto/NBD likelihood with x in the thousands: no overflow
    let big = ts(&[
        (0.0, 0.0, 38.86),
        (3000.0, 38.0, 38.86),
        (5000.0, 10.0, 10.0),
        (2.0, 30.43, 38.86),
    ])
    .unwrap();
    let ll = pnbd.log_likelihood_of(&big).unwrap();
    assert!(ll.is_finite(), "{ll}");
    let ll = bg.log_likelihood_of(&big).unwrap();
    assert!(ll.is_finite(), "{ll}");
}

/// A fit either succeeds with finite output or fails with a typed error.
/// The outcome of a fit on valid but extreme data: parameters and predictions are finite. A
/// fit that must converge may instead report non-convergence (with a finite log-likelihood);
/// a lenient fit (`require_convergence(false)`) must return its model. Any other error fails.
fn fit_outcome<T, F: Fn(&T) -> Vec<f64>>(r: Result<T, ModelError>, values: F, what: &str, lenient: bool) {
    match r {
        Ok(m) => {
            for v in values(&m) {
                assert!(v.is_finite(), "{what}: non-finite {v}");
            }
        }
        Err(ModelError::NotConverged { log_likelihood, .. }) if !lenient => {
            assert!(log_likelihood.is_none_or(f64::is_finite), "{what}: {log_likelihood:?}");
        }
        Err(e) => panic!("{what}: valid data must fit (lenient: {lenient}), got {e}"),
    }
}

#[test]
fn extreme_fits_are_typed() {
    let datasets: Vec<(&str, TransactionSummary)> = vec![
        ("one customer", ts(&[(2.0, 30.43, 38.86)]).unwrap()),
        (
            "one repeat buyer + one zero",
            ts(&[(1.0, 5.0, 10.0), (0.0, 0.0, 10.0)]).unwrap(),
        ),
        ("CDNOW plus buyers with x in the thousands", {
            let c = cdnow();
            let mut rows: Vec<(f64, f64, f64)> = (0..c.len())
                .map(|i| (c.frequency()[i], c.recency()[i], c.t()[i]))
                .collect();
            rows.extend([(1500.0, 38.0, 38.86), (3000.0, 30.0, 38.86), (5000.0, 38.86, 38.86)]);
            ts(&rows).unwrap()
        }),
        (
            "t_x = T everywhere",
            ts(&[(1.0, 5.0, 5.0), (3.0, 9.0, 9.0), (0.0, 0.0, 4.0)]).unwrap(),
        ),
        (
            "tiny T",
            ts(&[(1.0, 1e-7, 2e-7), (0.0, 0.0, 1e-7), (2.0, 1e-7, 1e-7)]).unwrap(),
        ),
    ];
    for (name, d) in &datasets {
        for strict in [true, false] {
            fit_outcome(
                BgNbd::new().require_convergence(strict).fit(d),
                |m| {
                    let p = m.params();
                    vec![
                        p.r,
                        p.alpha,
                        p.a,
                        p.b,
                        m.log_likelihood().unwrap(),
                        m.p_alive(1.0, 1e-7, 1e-7).unwrap(),
                    ]
                },
                &format!("BG/NBD {name}"),
                !strict,
            );
            fit_outcome(
                MbgNbd::new().require_convergence(strict).fit(d),
                |m| {
                    let p = m.params();
                    vec![p.r, p.alpha, p.a, p.b, m.log_likelihood().unwrap()]
                },
                &format!("MBG/NBD {name}"),
                !strict,
            );
            fit_outcome(
                ParetoNbd::new().require_convergence(strict).fit(d),
                |m| {
                    let p = m.params();
                    vec![p.r, p.alpha, p.s, p.beta, m.log_likelihood().unwrap()]
                },
                &format!("Pareto/NBD {name}"),
                !strict,
            );
        }
    }
    // Gamma-Gamma with a single customer, BG/BB with one pattern, sBG with no churn
    fit_outcome(
        GammaGamma::new().fit(&SpendSummary::new(vec![3.0], vec![20.0]).unwrap()),
        |m| vec![m.params().p, m.log_likelihood().unwrap()],
        "GG one customer",
        false,
    );
    fit_outcome(
        BgBb::new().fit(&DiscreteSummary::new(vec![6.0], vec![6.0], vec![6.0]).unwrap()),
        |m| vec![m.params().alpha, m.log_likelihood().unwrap()],
        "BG/BB one pattern",
        false,
    );
    fit_outcome(
        Sbg::new().fit(&SurvivalData::from_survival_curve(&[1.0, 1.0, 1.0], 100.0).unwrap()),
        |m| vec![m.params().alpha, m.log_likelihood().unwrap()],
        "sBG no churn",
        false,
    );
}
