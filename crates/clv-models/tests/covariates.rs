//! Static covariates: the likelihood and the maximum-likelihood estimate against an independent
//! scipy implementation (`tests/reference/covariates.py`), and parameter recovery on data
//! simulated with known coefficients.

mod common;

use clv_models::covariates::{
    BgNbdCovariates, Covariates, FittedBgNbdCovariates, FittedGammaGammaCovariates, FittedParetoNbdCovariates,
    GammaGammaCovariates, ParetoNbdCovariates,
};
use clv_models::simulate::{BgNbdSimulator, Observation, ParetoNbdSimulator};
use clv_models::{BgNbd, BgNbdParams, ParetoNbd, ParetoNbdParams, TimeUnit, TransactionSummary};

/// The reference script's covariates of the CDNOW sample: purchase z1 = ID mod 2,
/// z2 = ((ID mod 7) − 3)/2; dropout z3 = [ID mod 3 = 0].
fn cdnow_covariates() -> (TransactionSummary, Covariates, Covariates) {
    let (ids, data) = common::cdnow();
    let n = ids.len();
    let z1 = ids.iter().map(|&i| (i % 2) as f64).collect();
    let z2 = ids.iter().map(|&i| ((i % 7) as f64 - 3.0) / 2.0).collect();
    let z3 = ids.iter().map(|&i| if i % 3 == 0 { 1.0 } else { 0.0 }).collect();
    let purchase = Covariates::new(vec!["z1".into(), "z2".into()], vec![z1, z2], n).unwrap();
    let dropout = Covariates::new(vec!["z3".into()], vec![z3], n).unwrap();
    (data, purchase, dropout)
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn cdnow_likelihood_and_estimate_match_scipy() {
    let (data, purchase, dropout) = cdnow_covariates();
    let rows = common::reference("covariates_loglik.csv");
    for r in rows.iter().filter(|r| r[0] < 2.0) {
        let ll = if r[0] == 0.0 {
            let m = FittedBgNbdCovariates::from_params(
                BgNbdParams {
                    r: r[1],
                    alpha: r[2],
                    a: r[3],
                    b: r[4],
                },
                (names(&["z1", "z2"]), vec![r[5], r[6]]),
                (names(&["z3"]), vec![r[7]], vec![r[8]]),
                TimeUnit::Week,
            )
            .unwrap();
            m.log_likelihood_of(&data, &purchase, &dropout).unwrap()
        } else {
            let m = FittedParetoNbdCovariates::from_params(
                ParetoNbdParams {
                    r: r[1],
                    alpha: r[2],
                    s: r[3],
                    beta: r[4],
                },
                (names(&["z1", "z2"]), vec![r[5], r[6]]),
                (names(&["z3"]), vec![r[7]]),
                TimeUnit::Week,
            )
            .unwrap();
            m.log_likelihood_of(&data, &purchase, &dropout).unwrap()
        };
        assert!(common::close(ll, r[9], 1e-11), "{r:?}: {ll}");
    }
    // The maximum-likelihood estimates (the last row of each model in the reference).
    let bg = BgNbdCovariates::new().fit(&data, &purchase, &dropout).unwrap();
    let want = &rows[3];
    let ll = bg.log_likelihood().unwrap();
    assert!(ll >= want[9] - 1e-7 && ll - want[9] < 1e-4, "{ll} vs {}", want[9]);
    let p = bg.params();
    let (ga, gb) = bg.dropout_coefficients();
    let got = [
        p.r,
        p.alpha,
        p.a,
        p.b,
        bg.purchase_coefficients()[0],
        bg.purchase_coefficients()[1],
        ga[0],
        gb[0],
    ];
    for j in 0..8 {
        assert!(
            (got[j] - want[j + 1]).abs() < 2e-3 * want[j + 1].abs().max(1.0),
            "{j}: {got:?} vs {want:?}"
        );
    }
    let pn = ParetoNbdCovariates::new().fit(&data, &purchase, &dropout).unwrap();
    let want = &rows[7];
    let ll = pn.log_likelihood().unwrap();
    assert!(ll >= want[9] - 1e-7 && ll - want[9] < 1e-4, "{ll} vs {}", want[9]);
    let p = pn.params();
    let got = [
        p.r,
        p.alpha,
        p.s,
        p.beta,
        pn.purchase_coefficients()[0],
        pn.purchase_coefficients()[1],
        pn.dropout_coefficients()[0],
    ];
    for j in 0..7 {
        assert!(
            (got[j] - want[j + 1]).abs() < 2e-3 * want[j + 1].abs().max(1.0),
            "{j}: {got:?} vs {want:?}"
        );
    }
    // The synthetic covariates carry no information: the likelihood-ratio tests against the
    // plain fits do not reject (df = 4 and 3).
    let plain = BgNbd::new().fit(&data).unwrap().log_likelihood().unwrap();
    let t = bg.likelihood_ratio_test(plain).unwrap();
    assert!(t.p_value > 0.05, "{t:?}");
    let plain = ParetoNbd::new().fit(&data).unwrap().log_likelihood().unwrap();
    assert!(pn.likelihood_ratio_test(plain).unwrap().p_value > 0.05);
}

/// Customers simulated one by one from BG/NBD at their own parameters: a binary and a
/// standard-normal purchase covariate, a binary dropout covariate.
fn simulate_bgnbd(
    n: usize,
    seed: u64,
    base: BgNbdParams,
    gp: [f64; 2],
    ga: f64,
    gb: f64,
) -> (TransactionSummary, Covariates, Covariates) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (mut zb, mut zc, mut zd) = (vec![], vec![], vec![]);
    let (mut x, mut tx, mut t) = (vec![], vec![], vec![]);
    for i in 0..n {
        let b = f64::from(u8::from(rng.gen_bool(0.5)));
        let c: f64 = rng.sample(rand_distr::StandardNormal);
        let d = f64::from(u8::from(rng.gen_bool(0.4)));
        let p = BgNbdParams {
            r: base.r,
            alpha: base.alpha * (-(gp[0] * b + gp[1] * c)).exp(),
            a: base.a * (ga * d).exp(),
            b: base.b * (gb * d).exp(),
        };
        let s = BgNbdSimulator::new(p, Observation::Uniform { min: 26.0, max: 78.0 }, TimeUnit::Week)
            .unwrap()
            .simulate(1, seed * 1_000_003 + i as u64)
            .unwrap();
        x.push(s.frequency()[0]);
        tx.push(s.recency()[0]);
        t.push(s.t()[0]);
        zb.push(b);
        zc.push(c);
        zd.push(d);
    }
    let data = TransactionSummary::new(x, tx, t, TimeUnit::Week).unwrap();
    let purchase = Covariates::new(names(&["binary", "normal"]), vec![zb, zc], n).unwrap();
    let dropout = Covariates::new(names(&["dropout"]), vec![zd], n).unwrap();
    (data, purchase, dropout)
}

#[test]
fn bgnbd_recovers_known_coefficients() {
    let base = BgNbdParams {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };
    let (gp, ga, gb) = ([0.5, -0.3], 0.4, -0.3);
    let (data, purchase, dropout) = simulate_bgnbd(8000, 42, base, gp, ga, gb);
    let m = BgNbdCovariates::new().fit(&data, &purchase, &dropout).unwrap();
    let report = m.fit_report().unwrap();
    assert!(report.converged);
    let se = report.base_standard_errors.clone().unwrap();
    let p = m.params();
    for (j, (est, truth)) in [(p.r, base.r), (p.alpha, base.alpha), (p.a, base.a), (p.b, base.b)]
        .into_iter()
        .enumerate()
    {
        assert!(
            (est - truth).abs() < 4.0 * se[j],
            "base {j}: {est} ± {} vs {truth}",
            se[j]
        );
    }
    let coefs = m.coefficients();
    let truth = [gp[0], gp[1], ga, gb];
    assert_eq!(coefs.len(), 4);
    for (c, t) in coefs.iter().zip(truth) {
        let se = c.std_error.unwrap();
        eprintln!(
            "{} on {}: {:.4} ± {:.4} (truth {t})",
            c.covariate, c.parameter, c.estimate, se
        );
        assert!((c.estimate - t).abs() < 4.0 * se, "{c:?} vs {t}");
        assert!(se < 0.3, "{c:?}");
    }
    // The purchase effects are clear; the model without covariates is rejected.
    assert!(coefs[0].p_value.unwrap() < 1e-6 && coefs[1].p_value.unwrap() < 1e-6);
    let plain = BgNbd::new().fit(&data).unwrap().log_likelihood().unwrap();
    let lr = m.likelihood_ratio_test(plain).unwrap();
    assert!(lr.p_value < 1e-10, "{lr:?}");
    // Predictions come from each customer's own parameters.
    let pa = m
        .p_alive_many(&purchase, &dropout, data.frequency(), data.recency(), data.t())
        .unwrap();
    let i = (0..data.len()).find(|&i| data.frequency()[i] > 1.0).unwrap();
    let own = m
        .customer_model(&[purchase.column(0)[i], purchase.column(1)[i]], &[dropout.column(0)[i]])
        .unwrap();
    assert_eq!(
        pa[i],
        own.p_alive(data.frequency()[i], data.recency()[i], data.t()[i])
            .unwrap()
    );
    let cp = m.customer_params(&[1.0, 0.5], &[1.0]).unwrap();
    assert!(
        (cp.alpha - p.alpha * (-(m.purchase_coefficients()[0] + 0.5 * m.purchase_coefficients()[1])).exp()).abs()
            < 1e-12
    );
    assert!(m.customer_params(&[1.0], &[1.0]).is_err());
    assert!(m.customer_params(&[1.0, f64::NAN], &[1.0]).is_err());
}

#[test]
fn pareto_nbd_recovers_known_coefficients() {
    // Two binary covariates (four customer groups), each group simulated from its parameters.
    let base = ParetoNbdParams {
        r: 0.55,
        alpha: 10.58,
        s: 0.61,
        beta: 11.67,
    };
    let (g1, g2): (f64, f64) = (0.6, -0.5);
    let (mut x, mut tx, mut t, mut z1, mut z2) = (vec![], vec![], vec![], vec![], vec![]);
    for (k, (a, b)) in [(0.0f64, 0.0f64), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)]
        .into_iter()
        .enumerate()
    {
        let p = ParetoNbdParams {
            alpha: base.alpha * (-g1 * a).exp(),
            beta: base.beta * (-g2 * b).exp(),
            ..base
        };
        let s = ParetoNbdSimulator::new(p, Observation::Uniform { min: 26.0, max: 78.0 }, TimeUnit::Week)
            .unwrap()
            .simulate(2000, 7 + k as u64)
            .unwrap();
        x.extend(s.frequency());
        tx.extend(s.recency());
        t.extend(s.t());
        z1.extend(std::iter::repeat_n(a, 2000));
        z2.extend(std::iter::repeat_n(b, 2000));
    }
    let data = TransactionSummary::new(x, tx, t, TimeUnit::Week).unwrap();
    let purchase = Covariates::new(names(&["p"]), vec![z1], 8000).unwrap();
    let dropout = Covariates::new(names(&["d"]), vec![z2], 8000).unwrap();
    let m = ParetoNbdCovariates::new().fit(&data, &purchase, &dropout).unwrap();
    let c = m.coefficients();
    for (c, truth) in c.iter().zip([g1, g2]) {
        let se = c.std_error.unwrap();
        eprintln!(
            "{} on {}: {:.4} ± {:.4} (truth {truth})",
            c.covariate, c.parameter, c.estimate, se
        );
        assert!((c.estimate - truth).abs() < 4.0 * se, "{c:?} vs {truth}");
    }
    let se = m.fit_report().unwrap().base_standard_errors.clone().unwrap();
    let p = m.params();
    for (j, (est, truth)) in [(p.r, base.r), (p.alpha, base.alpha), (p.s, base.s), (p.beta, base.beta)]
        .into_iter()
        .enumerate()
    {
        assert!(
            (est - truth).abs() < 4.0 * se[j],
            "base {j}: {est} ± {} vs {truth}",
            se[j]
        );
    }
}

#[test]
fn covariate_input_errors() {
    assert!(Covariates::new(names(&["a"]), vec![vec![1.0, f64::NAN]], 2).is_err());
    assert!(Covariates::new(names(&["a"]), vec![vec![1.0]], 2).is_err());
    assert!(Covariates::new(names(&["a", "b"]), vec![vec![1.0, 2.0]], 2).is_err());
    let (data, purchase, _) = cdnow_covariates();
    // Covariates for another number of customers.
    let short = Covariates::new(names(&["z"]), vec![vec![0.0; 10]], 10).unwrap();
    assert!(BgNbdCovariates::new().fit(&data, &purchase, &short).is_err());
    // A constant covariate is not identified: no standard errors, not a wrong number.
    let constant = Covariates::new(names(&["one"]), vec![vec![1.0; data.len()]], data.len()).unwrap();
    let m = BgNbdCovariates::new()
        .require_convergence(false)
        .fit(&data, &constant, &Covariates::none(data.len()));
    if let Ok(m) = m {
        assert!(m.coefficients()[0].std_error.is_none() || m.coefficients()[0].std_error.unwrap() > 10.0);
    }
}

#[test]
fn gamma_gamma_spend_covariates_match_scipy() {
    // tests/reference/covariates.py: γ_i = γ₀ exp(d1·[ID mod 2] + d2·[ID mod 3 = 0]) on the
    // CDNOW spend data.
    let (rows, spend) = common::cdnow_spend();
    let n = rows.len();
    let z1 = rows.iter().map(|r| (r[0] as u64 % 2) as f64).collect();
    let z3 = rows
        .iter()
        .map(|r| if (r[0] as u64).is_multiple_of(3) { 1.0 } else { 0.0 })
        .collect();
    let covs = Covariates::new(names(&["z1", "z3"]), vec![z1, z3], n).unwrap();
    let reference = common::reference("covariates_loglik.csv");
    let gg: Vec<&Vec<f64>> = reference.iter().filter(|r| r[0] == 2.0).collect();
    assert_eq!(gg.len(), 4);
    for r in &gg {
        let m = FittedGammaGammaCovariates::from_params(
            clv_models::GammaGammaParams {
                p: r[1],
                q: r[2],
                gamma: r[3],
            },
            names(&["z1", "z3"]),
            vec![r[4], r[5]],
        )
        .unwrap();
        let ll = m.log_likelihood_of(&spend, &covs).unwrap();
        assert!(common::close(ll, r[9], 1e-11), "{r:?}: {ll}");
    }
    // The published fit at δ = 0 (Fader & Hardie 2013): −4055.92.
    assert!((gg[2][9] + 4055.92).abs() < 0.005);
    let m = GammaGammaCovariates::new().fit(&spend, &covs).unwrap();
    let want = gg[3];
    let ll = m.log_likelihood().unwrap();
    assert!(ll >= want[9] - 1e-7 && ll - want[9] < 1e-4, "{ll} vs {}", want[9]);
    let p = m.params();
    let got = [p.p, p.q, p.gamma, m.spend_coefficients()[0], m.spend_coefficients()[1]];
    for j in 0..5 {
        assert!(
            (got[j] - want[j + 1]).abs() < 2e-3 * want[j + 1].abs().max(1.0),
            "{j}: {got:?} vs {want:?}"
        );
    }
    // Predictions: the customer's own Gamma-Gamma model; a customer without repeat purchases
    // gets their group's population mean.
    let x: Vec<f64> = rows.iter().map(|r| r[1]).collect();
    let zbar: Vec<f64> = rows.iter().map(|r| r[4]).collect();
    let e = m.conditional_expected_spend_many(&covs, &x, &zbar).unwrap();
    for i in [0, 2, 5] {
        let own = m.customer_model(&[covs.column(0)[i], covs.column(1)[i]]).unwrap();
        assert_eq!(e[i], own.conditional_expected_spend(x[i], zbar[i]).unwrap());
    }
    assert_eq!(m.coefficients().len(), 2);
    assert!(
        m.coefficients()
            .iter()
            .all(|c| c.parameter == "gamma" && c.std_error.is_some())
    );
}

#[test]
fn gamma_gamma_recovers_a_spend_effect() {
    use clv_models::simulate::GammaGammaSimulator;
    let base = clv_models::GammaGammaParams {
        p: 6.0,
        q: 3.7,
        gamma: 15.0,
    };
    let delta: f64 = 0.5;
    let (mut x, mut m, mut z) = (vec![], vec![], vec![]);
    for (k, zk) in [0.0f64, 1.0].into_iter().enumerate() {
        let freq: Vec<f64> = (0..3000).map(|i| f64::from(1 + i % 6)).collect();
        let params = clv_models::GammaGammaParams {
            gamma: base.gamma * (delta * zk).exp(),
            ..base
        };
        let s = GammaGammaSimulator::new(params)
            .unwrap()
            .simulate(&freq, 11 + k as u64)
            .unwrap();
        x.extend(s.frequency());
        m.extend(s.monetary());
        z.extend(std::iter::repeat_n(zk, 3000));
    }
    let spend = clv_models::SpendSummary::new(x, m).unwrap();
    let covs = Covariates::new(names(&["z"]), vec![z], 6000).unwrap();
    let fit = GammaGammaCovariates::new().fit(&spend, &covs).unwrap();
    let c = &fit.coefficients()[0];
    let se = c.std_error.unwrap();
    eprintln!("spend coefficient {:.4} ± {:.4} (truth {delta})", c.estimate, se);
    assert!((c.estimate - delta).abs() < 4.0 * se && se < 0.1, "{c:?}");
}
