//! The logistic-regression churn model against scikit-learn and statsmodels
//! (`tests/reference/logistic_sklearn.py` wrote the data and the values), plus determinism,
//! serialisation and bad-input checks.

use clv_models::{FittedLogistic, LogisticRegression, ModelError, ModelKind};

struct Data {
    y: Vec<bool>,
    w: Vec<f64>,
    x: [Vec<f64>; 4],
}

fn data() -> Data {
    let mut d = Data {
        y: vec![],
        w: vec![],
        x: Default::default(),
    };
    for line in include_str!("reference/logistic_data.csv").lines().skip(1) {
        let v: Vec<f64> = line.split(',').map(|s| s.parse().unwrap()).collect();
        d.y.push(v[0] == 1.0);
        d.w.push(v[1]);
        for j in 0..4 {
            d.x[j].push(v[2 + j]);
        }
    }
    d
}

fn reference(case: &str, term: &str) -> f64 {
    include_str!("reference/logistic_reference.csv")
        .lines()
        .skip(1)
        .find_map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[0] == case && c[1] == term).then(|| c[2].parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no reference {case} {term}"))
}

const NAMES: [&str; 4] = ["x1", "x2", "x3", "x4"];

fn fit(d: &Data, lambda: f64) -> FittedLogistic {
    let cols: Vec<&[f64]> = d.x.iter().map(Vec::as_slice).collect();
    LogisticRegression::new()
        .lambda(lambda)
        .fit(&NAMES, &cols, &d.y, Some(&d.w))
        .unwrap()
}

#[test]
fn matches_scikit_learn_with_c_equal_to_one_over_lambda_times_the_weight() {
    let d = data();
    for lambda in [0.001, 0.01, 0.1] {
        let m = fit(&d, lambda);
        let case = format!("sklearn_l{lambda}");
        let r = m.fit_report().unwrap();
        assert!(r.converged && r.iterations < 15, "{r:?}");
        let (b0, _) = m.intercept();
        assert!((b0 - reference(&case, "intercept")).abs() < 1e-6, "{case}: {b0}");
        for f in m.features() {
            let want = reference(&case, &f.name);
            assert!(
                (f.coefficient - want).abs() < 1e-6,
                "{case} {}: {} vs {want}",
                f.name,
                f.coefficient
            );
        }
    }
}

#[test]
fn matches_statsmodels_without_penalty_on_both_scales() {
    let d = data();
    let m = fit(&d, 0.0);
    let r = m.fit_report().unwrap();
    assert!((r.log_likelihood - reference("statsmodels", "log_likelihood")).abs() < 1e-8);
    let (b0, se0) = m.intercept();
    assert!((b0 - reference("statsmodels", "intercept")).abs() < 1e-9);
    assert!((se0.unwrap() - reference("statsmodels_se", "intercept")).abs() < 1e-9);
    let (b0, se0) = m.intercept_original();
    assert!(
        (b0 / reference("statsmodels_original", "intercept") - 1.0).abs() < 1e-8,
        "{b0}"
    );
    assert!((se0.unwrap() / reference("statsmodels_original_se", "intercept") - 1.0).abs() < 1e-7);
    for f in m.features() {
        let rel = |a: f64, b: f64| (a / b - 1.0).abs();
        assert!(rel(f.coefficient, reference("statsmodels", &f.name)) < 1e-8, "{f:?}");
        assert!(
            rel(f.standard_error.unwrap(), reference("statsmodels_se", &f.name)) < 1e-7,
            "{f:?}"
        );
        assert!(
            rel(f.coefficient_original, reference("statsmodels_original", &f.name)) < 1e-8,
            "{f:?}"
        );
        assert!(
            rel(
                f.standard_error_original.unwrap(),
                reference("statsmodels_original_se", &f.name)
            ) < 1e-7,
            "{f:?}"
        );
    }
    // Predictions on the original scale: σ(β'_0 + Σ β'_j x_j) equals the standardised form.
    let row = [d.x[0][3], d.x[1][3], d.x[2][3], d.x[3][3]];
    let eta = m.intercept_original().0
        + m.features()
            .iter()
            .zip(row)
            .map(|(f, x)| f.coefficient_original * x)
            .sum::<f64>();
    let p = m.predict(&row).unwrap();
    assert!((p - 1.0 / (1.0 + (-eta).exp())).abs() < 1e-12);
}

#[test]
fn the_fit_does_not_depend_on_the_row_order_or_repeated_weights() {
    let d = data();
    let m = fit(&d, 0.01);
    // Reversed rows: bit-identical.
    let rev = Data {
        y: d.y.iter().rev().copied().collect(),
        w: d.w.iter().rev().copied().collect(),
        x: std::array::from_fn(|j| d.x[j].iter().rev().copied().collect()),
    };
    assert_eq!(
        serde_json::to_string(&fit(&rev, 0.01)).unwrap(),
        serde_json::to_string(&m).unwrap()
    );
    // Weight k = the row repeated k times (same optimum to rounding).
    let mut rep = Data {
        y: vec![],
        w: vec![],
        x: Default::default(),
    };
    for i in 0..d.y.len() {
        for _ in 0..d.w[i] as usize {
            rep.y.push(d.y[i]);
            rep.w.push(1.0);
            for j in 0..4 {
                rep.x[j].push(d.x[j][i]);
            }
        }
    }
    let cols: Vec<&[f64]> = rep.x.iter().map(Vec::as_slice).collect();
    let unweighted = LogisticRegression::new()
        .lambda(0.01)
        .fit(&NAMES, &cols, &rep.y, None)
        .unwrap();
    for (a, b) in unweighted.features().iter().zip(m.features()) {
        assert!((a.coefficient - b.coefficient).abs() < 1e-9 && (a.mean - b.mean).abs() < 1e-9 * b.mean.abs().max(1.0));
    }
}

#[test]
fn large_inputs_over_the_cores_give_the_same_model_as_the_rows_in_another_order() {
    // Above the parallel threshold: chunked sums in a fixed order.
    let n = 120_000;
    let mut state = 12345u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let x1: Vec<f64> = (0..n).map(|_| next() * 4.0 - 2.0).collect();
    let x2: Vec<f64> = (0..n).map(|_| (next() * 300.0).floor()).collect();
    let y: Vec<bool> = (0..n)
        .map(|i| next() < 1.0 / (1.0 + (-(x1[i] - x2[i] / 150.0 + 0.5)).exp()))
        .collect();
    let m = LogisticRegression::new()
        .fit(&["a", "b"], &[&x1, &x2], &y, None)
        .unwrap();
    let perm: Vec<usize> = (0..n).map(|i| (i * 7919) % n).collect();
    let (px1, px2, py): (Vec<f64>, Vec<f64>, Vec<bool>) = (
        perm.iter().map(|&i| x1[i]).collect(),
        perm.iter().map(|&i| x2[i]).collect(),
        perm.iter().map(|&i| y[i]).collect(),
    );
    let m2 = LogisticRegression::new()
        .fit(&["a", "b"], &[&px1, &px2], &py, None)
        .unwrap();
    assert_eq!(m, m2);
    let p = m.predict_many(&[&x1, &x2]).unwrap();
    assert_eq!(p[17], m.predict(&[x1[17], x2[17]]).unwrap());
}

#[test]
fn serialises_with_its_kind_and_round_trips_exactly() {
    let m = fit(&data(), 0.01);
    let json = serde_json::to_string_pretty(&m).unwrap();
    assert!(json.contains("\"kind\": \"logistic_regression\""), "{json}");
    let back: FittedLogistic = serde_json::from_str(&json).unwrap();
    assert_eq!(back, m);
    let tag: clv_models::KindTag = serde_json::from_str(&json).unwrap();
    assert_eq!(tag.kind, ModelKind::LogisticRegression);
    // Another model's JSON is refused as such.
    let bg = r#"{"kind":"bg_nbd","format_version":1,"params":{"r":1,"alpha":1,"a":1,"b":1},"time_unit":"week"}"#;
    let e = serde_json::from_str::<FittedLogistic>(bg).unwrap_err().to_string();
    assert!(e.contains("expected logistic_regression, found bg_nbd"), "{e}");
}

#[test]
fn bad_input_is_an_error_that_names_the_feature_and_row() {
    let ok = [1.0, 2.0, 3.0];
    let nan = [1.0, f64::NAN, 3.0];
    let y = [true, false, true];
    let e = LogisticRegression::new()
        .fit(&["a", "b"], &[&ok, &nan], &y, None)
        .unwrap_err();
    assert_eq!(
        e,
        ModelError::BadFeature {
            feature: "b".into(),
            row: Some(1),
            reason: "is NaN or infinite"
        }
    );
    assert!(e.to_string().contains("row 2: feature `b`"), "{e}");
    let e = LogisticRegression::new()
        .fit(&["a"], &[&ok[..2]], &y, None)
        .unwrap_err();
    assert!(matches!(e, ModelError::BadFeature { row: None, .. }), "{e:?}");
    let e = LogisticRegression::new()
        .fit(&["a"], &[&ok], &[true; 3], None)
        .unwrap_err();
    assert!(matches!(e, ModelError::InvalidArgument { name: "labels", .. }), "{e:?}");
    let e = LogisticRegression::new()
        .fit(&["a"], &[&ok], &y, Some(&[1.0, 0.0, 1.0]))
        .unwrap_err();
    assert!(
        matches!(
            e,
            ModelError::Negative {
                row: 1,
                field: "weights",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        LogisticRegression::new()
            .lambda(-1.0)
            .fit(&["a"], &[&ok], &y, None)
            .is_err()
    );
    assert!(LogisticRegression::new().fit(&[], &[], &[], None).is_err());
    // Separable data without a penalty has no optimum: reported, not a silent huge number.
    let x = [0.0, 1.0, 2.0, 3.0];
    let e = LogisticRegression::new()
        .lambda(0.0)
        .fit(&["x"], &[&x], &[false, false, true, true], None)
        .unwrap_err();
    assert!(matches!(e, ModelError::NotConverged { .. }), "{e:?}");
    // With a penalty it converges; a constant column gets coefficient 0.
    let m = LogisticRegression::new()
        .fit(&["x", "c"], &[&x, &[5.0; 4]], &[false, false, true, true], None)
        .unwrap();
    assert!(m.fit_report().unwrap().converged);
    assert_eq!(m.features()[1].coefficient, 0.0);
    let e = m.predict_many(&[&[1.0], &[f64::INFINITY]]).unwrap_err();
    assert!(matches!(e, ModelError::BadFeature { row: Some(0), .. }), "{e:?}");
}

#[test]
fn rows_tied_in_the_first_feature_are_ordered_by_the_others() {
    // The first feature takes 4 values only, so the canonical order rests on the later ones.
    let n = 5000;
    let a: Vec<f64> = (0..n).map(|i| f64::from((i * 7 % 4) as u32)).collect();
    let b: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1000) as f64 / 100.0).collect();
    let y: Vec<bool> = (0..n).map(|i| (i * 31 + (i * i) % 7) % 3 == 0 || b[i] > 8.0).collect();
    let m = LogisticRegression::new().fit(&["a", "b"], &[&a, &b], &y, None).unwrap();
    let perm: Vec<usize> = (0..n).map(|i| (i * 3001) % n).collect();
    let pa: Vec<f64> = perm.iter().map(|&i| a[i]).collect();
    let pb: Vec<f64> = perm.iter().map(|&i| b[i]).collect();
    let py: Vec<bool> = perm.iter().map(|&i| y[i]).collect();
    let m2 = LogisticRegression::new()
        .fit(&["a", "b"], &[&pa, &pb], &py, None)
        .unwrap();
    assert_eq!(serde_json::to_string(&m).unwrap(), serde_json::to_string(&m2).unwrap());
}
