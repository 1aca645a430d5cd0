//! The batch scoring paths (`p_alive_many`, `expected_purchases_many`), which evaluate each
//! distinct row once, split large inputs over the cores and reuse the hypergeometric terms
//! between customers, give bit-for-bit the values of one call per customer.

use super::common::*;
use clv_core::ltv::*;

fn same_as_per_row(m: &dyn TransactionModel, data: &TransactionSummary) {
    let (x, t_x, t) = (data.frequency(), data.recency(), data.t());
    // CDNOW twice over, so every (x, t_x, T) repeats.
    let twice = |v: &[f64]| [v, v].concat();
    let (x, t_x, t) = (twice(x), twice(t_x), twice(t));
    let horizon: Vec<f64> = (0..x.len()).map(|i| [39.0, 52.0, 0.0][i % 3]).collect();
    let alive = m.p_alive_many(&x, &t_x, &t).unwrap();
    let expected = m.expected_purchases_many(&horizon, &x, &t_x, &t).unwrap();
    for i in 0..x.len() {
        assert_eq!(
            alive[i].to_bits(),
            m.p_alive(x[i], t_x[i], t[i]).unwrap().to_bits(),
            "{:?} row {i}",
            m.kind()
        );
        let e = m.expected_purchases(horizon[i], x[i], t_x[i], t[i]).unwrap();
        assert_eq!(expected[i].to_bits(), e.to_bits(), "{:?} row {i}", m.kind());
    }
    // Bad rows are still errors on the batch path.
    assert!(m.p_alive_many(&[1.0], &[0.0], &[5.0]).is_err());
    assert!(m.expected_purchases_many(&[1.0], &[1.0], &[6.0], &[5.0]).is_err());

    // 30 copies (over 65,536 rows: split over the cores), each copy's times shifted a little,
    // so rows repeat within a copy and differ between copies.
    let copies = 30;
    let shifted = |v: &[f64], step: f64| -> Vec<f64> {
        (0..copies)
            .flat_map(|c| v.iter().map(move |t| t + c as f64 * step))
            .collect()
    };
    let x: Vec<f64> = (0..copies).flat_map(|_| data.frequency().iter().copied()).collect();
    let t_x: Vec<f64> = (0..copies)
        .flat_map(|c| {
            data.recency()
                .iter()
                .zip(data.frequency())
                .map(move |(t, f)| if *f > 0.0 { t + c as f64 * 1e-3 } else { 0.0 })
        })
        .collect();
    let t = shifted(data.t(), 1e-3);
    assert!(x.len() > 1 << 16);
    let horizon = vec![52.0; x.len()];
    let alive = m.p_alive_many(&x, &t_x, &t).unwrap();
    let expected = m.expected_purchases_many(&horizon, &x, &t_x, &t).unwrap();
    for i in (0..x.len()).step_by(7) {
        assert_eq!(
            alive[i].to_bits(),
            m.p_alive(x[i], t_x[i], t[i]).unwrap().to_bits(),
            "row {i}"
        );
        let e = m.expected_purchases(52.0, x[i], t_x[i], t[i]).unwrap();
        assert_eq!(expected[i].to_bits(), e.to_bits(), "row {i}");
    }
    // A bad row deep in a large input is reported with its index in the whole input; columns
    // of different lengths are an error, not a panic.
    let mut bad = t_x.clone();
    let last = bad.len() - 1;
    bad[last] = t[last] + 1.0;
    match m.p_alive_many(&x, &bad, &t) {
        Err(ModelError::InconsistentRow { row, .. }) => assert_eq!(row, last),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        m.p_alive_many(&x, &t_x[1..], &t),
        Err(ModelError::LengthMismatch { .. })
    ));
    assert!(matches!(
        m.expected_purchases_many(&horizon[1..], &x, &t_x, &t),
        Err(ModelError::LengthMismatch { .. })
    ));
}

#[test]
fn batch_scoring_equals_per_customer_scoring() {
    let data = cdnow();
    same_as_per_row(&BgNbd::new().fit(&data).unwrap(), &data);
    same_as_per_row(&MbgNbd::new().fit(&data).unwrap(), &data);
    same_as_per_row(&ParetoNbd::new().fit(&data).unwrap(), &data);
}

/// Batches below 65,536 rows (a SQL batch) keep their memos on the thread between calls. Two
/// models with different parameters scored alternately on one thread, each twice, must give
/// every time the values of one call per customer: a memo never serves one model's terms to
/// another.
#[test]
fn memos_kept_between_calls_belong_to_one_model() {
    let data = cdnow();
    let (x, t_x, t) = (data.frequency(), data.recency(), data.t());
    let horizon = vec![52.0; x.len()];
    let bg = BgNbd::new().fit(&data).unwrap();
    let pareto = ParetoNbd::new().fit(&data).unwrap();
    let nudged = |p: f64| p * (1.0 + 1e-9);
    let bg2 = FittedBgNbd::from_params(
        BgNbdParams {
            a: nudged(bg.params().a),
            ..bg.params()
        },
        TimeUnit::Week,
    )
    .unwrap();
    let pareto2 = FittedParetoNbd::from_params(
        ParetoNbdParams {
            r: nudged(pareto.params().r),
            ..pareto.params()
        },
        TimeUnit::Week,
    )
    .unwrap();
    let models: [&dyn TransactionModel; 4] = [&bg, &pareto, &bg2, &pareto2];
    for round in 0..2 {
        for m in models {
            let alive = m.p_alive_many(x, t_x, t).unwrap();
            let expected = m.expected_purchases_many(&horizon, x, t_x, t).unwrap();
            for i in 0..x.len() {
                let want = m.p_alive(x[i], t_x[i], t[i]).unwrap();
                assert_eq!(
                    alive[i].to_bits(),
                    want.to_bits(),
                    "{:?} round {round} row {i}",
                    m.kind()
                );
                let want = m.expected_purchases(52.0, x[i], t_x[i], t[i]).unwrap();
                assert_eq!(
                    expected[i].to_bits(),
                    want.to_bits(),
                    "{:?} round {round} row {i}",
                    m.kind()
                );
            }
        }
    }
    // The nudged models do differ from the fitted ones somewhere.
    let differs = |a: &dyn TransactionModel, b: &dyn TransactionModel| {
        let (va, vb) = (
            a.expected_purchases_many(&horizon, x, t_x, t).unwrap(),
            b.expected_purchases_many(&horizon, x, t_x, t).unwrap(),
        );
        va.iter().zip(&vb).any(|(p, q)| p != q)
    };
    assert!(differs(&bg, &bg2) && differs(&pareto, &pareto2));
}

/// A fit can run off to a, b → ∞ (a dropout probability that is the same for everyone). The
/// conditional expectation then tends to the fixed-dropout limit and must stay finite.
#[test]
fn degenerate_beta_gives_the_fixed_dropout_limit() {
    let (r, alpha, x, t_x, T, t) = (0.5, 5.0, 3.0, 20.0, 30.0, 39.0);
    let at = |scale: f64| {
        let p = BgNbdParams {
            r,
            alpha,
            a: 2.0 * scale,
            b: 6.0 * scale,
        };
        let m = FittedBgNbd::from_params(p, TimeUnit::Week).unwrap();
        m.expected_purchases(t, x, t_x, T).unwrap() / m.p_alive(x, t_x, T).unwrap()
    };
    // Given alive, λ ~ Gamma(r + x, α + T); with p fixed at μ = a/(a + b + x) → 1/4,
    // E = (1 − (1 + μτ)^{−(r+x)}) / μ with τ = t/(α + T).
    let tau = t / (alpha + T);
    let limit = |mu: f64| (1.0 - (1.0 + mu * tau).powf(-(r + x))) / mu;
    let mut previous = f64::INFINITY;
    for scale in [1e1, 1e2, 1e3, 1e4, 1e6, 1e8, 1e12] {
        let e = at(scale);
        let mu = 2.0 * scale / (8.0 * scale + x);
        // Monotone towards the limit, off by O(1/(a+b)): the series (scale ≤ 1e2) and the
        // peaked-beta expansion (scale ≥ 1e3) join without a jump.
        assert!(e.is_finite() && e < previous && e > limit(mu), "scale {scale}: {e}");
        assert!(
            (e - limit(mu)).abs() <= 2.0 / (8.0 * scale) * limit(mu),
            "scale {scale}: {e} vs {}",
            limit(mu)
        );
        previous = e;
    }
    assert!((at(1e12) / limit(0.25) - 1.0).abs() < 1e-9);
}
