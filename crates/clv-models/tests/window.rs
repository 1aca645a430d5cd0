#![allow(non_snake_case)]
//! Window forecasts (`clv_models::window`): published values, lifetimes reference values
//! (`tests/reference/window_lifetimes.py`), identities, likelihood ratios, numerical
//! integration and Monte-Carlo simulation from the models.

use clv_models::special::{integrate, ln_gamma};
use clv_models::{
    BgBbParams, BgNbdParams, DiscreteSummary, FittedBgBb, FittedBgNbd, FittedMbgNbd, FittedParetoNbd, MbgNbdParams,
    ModelError, ParetoNbdParams, TimeUnit, TransactionSummary, WindowForecast,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Beta, Distribution, Exp1, Gamma};

fn bg(r: f64, alpha: f64, a: f64, b: f64) -> FittedBgNbd {
    FittedBgNbd::from_params(BgNbdParams { r, alpha, a, b }, TimeUnit::Week).unwrap()
}
fn mbg(r: f64, alpha: f64, a: f64, b: f64) -> FittedMbgNbd {
    FittedMbgNbd::from_params(MbgNbdParams { r, alpha, a, b }, TimeUnit::Week).unwrap()
}
fn pareto(r: f64, alpha: f64, s: f64, beta: f64) -> FittedParetoNbd {
    FittedParetoNbd::from_params(ParetoNbdParams { r, alpha, s, beta }, TimeUnit::Week).unwrap()
}
fn cdnow_bg() -> FittedBgNbd {
    bg(0.2426, 4.4136, 0.7929, 2.4259)
}
fn cdnow_mbg() -> FittedMbgNbd {
    mbg(0.5248, 6.1830, 0.8914, 1.6140)
}
fn cdnow_pareto() -> FittedParetoNbd {
    pareto(0.5533, 10.5776, 0.6062, 11.6679)
}

/// Customers `(x, t_x, T)` in weeks, from a brand-new customer to a frequent one.
const CUSTOMERS: [(f64, f64, f64); 6] = [
    (0.0, 0.0, 0.0),
    (0.0, 0.0, 38.86),
    (1.0, 1.71, 38.86),
    (2.0, 30.43, 38.86),
    (7.0, 12.0, 52.0),
    (26.0, 30.86, 31.0),
];

fn models() -> Vec<(&'static str, Box<dyn WindowForecast>)> {
    vec![
        ("bg_nbd", Box::new(cdnow_bg())),
        ("mbg_nbd", Box::new(cdnow_mbg())),
        ("pareto_nbd", Box::new(cdnow_pareto())),
    ]
}

#[test]
fn published_new_customer_probability_of_no_purchase() {
    // FHL (2005) with (r, α, a, b) = (0.243, 4.414, 0.793, 2.426): P(X(39) = 0) = 0.5737864.
    let m = bg(0.243, 4.414, 0.793, 2.426);
    let p = m.prob_purchases_in_window(0, 39.0, 0.0, 0.0, 0.0).unwrap();
    assert!((p - 0.5737864).abs() < 5e-8, "{p}");
    assert!((m.prob_no_purchase(39.0, 0.0, 0.0, 0.0).unwrap() - 0.5737864).abs() < 5e-8);
}

#[test]
fn at_zero_history_the_window_pmf_is_the_new_customer_pmf() {
    for (name, m) in models() {
        for t in [1.0, 13.0, 39.0, 78.0] {
            for n in 0..8 {
                let w = m.prob_purchases_in_window(n, t, 0.0, 0.0, 0.0).unwrap();
                let new = m.prob_purchases(n, t).unwrap();
                assert!((w - new).abs() < 1e-12, "{name} n={n} t={t}: {w} vs {new}");
            }
        }
    }
}

#[test]
fn probabilities_sum_to_one_and_their_mean_is_the_conditional_expectation() {
    for (name, m) in models() {
        for (x, t_x, T) in CUSTOMERS {
            for tau in [4.0, 39.0] {
                let p: Vec<f64> = (0..800)
                    .map(|n| m.prob_purchases_in_window(n, tau, x, t_x, T).unwrap())
                    .collect();
                let total: f64 = p.iter().sum();
                let mean: f64 = p.iter().enumerate().map(|(n, p)| n as f64 * p).sum();
                let e = m.expected_purchases(tau, x, t_x, T).unwrap();
                assert!((total - 1.0).abs() < 1e-10, "{name} {x} {t_x} {T} τ={tau}: Σ = {total}");
                assert!(
                    (mean - e).abs() < 1e-9 * (1.0 + e),
                    "{name} {x} {t_x} {T} τ={tau}: Σ n P = {mean}, E = {e}"
                );
                // P(none) and P(any) agree with the PMF and with each other.
                let none = m.prob_no_purchase(tau, x, t_x, T).unwrap();
                let any = m.prob_any_purchase(tau, x, t_x, T).unwrap();
                assert!((none - p[0]).abs() < 1e-12, "{name}: {none} vs {}", p[0]);
                assert!((none + any - 1.0).abs() < 1e-12, "{name}: {none} + {any}");
            }
        }
    }
}

/// A model's `log_likelihood_of`.
type LogLikelihood<'a> = &'a dyn Fn(&TransactionSummary) -> Result<f64, ModelError>;

/// One row of `window_lifetimes.csv`: (model, function, n, t1, t2, x, t_x, T, value).
type LifetimesRow = (String, String, u32, f64, f64, f64, f64, f64, f64);

/// ln L of one customer under `m` (its `log_likelihood_of` on a one-row summary).
fn ln_l(m: LogLikelihood, x: f64, t_x: f64, T: f64) -> f64 {
    m(&TransactionSummary::from_rows(&[(x, t_x, T)], TimeUnit::Week).unwrap()).unwrap()
}

#[test]
fn no_purchase_is_the_same_history_observed_for_longer() {
    // P(none in (T, T+τ]) = L(x, t_x, T+τ) / L(x, t_x, T), with the likelihood code of the fits.
    let (b, mb, p) = (cdnow_bg(), cdnow_mbg(), cdnow_pareto());
    let lls: [(&str, &dyn WindowForecast, LogLikelihood); 3] = [
        ("bg_nbd", &b, &|d| b.log_likelihood_of(d)),
        ("mbg_nbd", &mb, &|d| mb.log_likelihood_of(d)),
        ("pareto_nbd", &p, &|d| p.log_likelihood_of(d)),
    ];
    // Besides the usual customers: a very frequent one, one last seen long ago, a day-old one.
    let extreme = [(300.0, 50.0, 52.0), (40.0, 2.0, 104.0), (0.0, 0.0, 1.0 / 7.0)];
    for (name, m, ll) in lls {
        for (x, t_x, T) in CUSTOMERS.into_iter().chain(extreme) {
            for tau in [0.5, 4.0, 39.0, 400.0] {
                let want = (ln_l(ll, x, t_x, T + tau) - ln_l(ll, x, t_x, T)).exp();
                let got = m.prob_no_purchase(tau, x, t_x, T).unwrap();
                assert!(
                    (got - want).abs() < 1e-11,
                    "{name} {x} {t_x} {T} τ={tau}: {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn small_probabilities_keep_their_relative_accuracy() {
    // A short window: P(any) is tiny and is not computed as 1 − P(none).
    for (name, m) in models() {
        let any = m.prob_any_purchase(1e-9, 2.0, 30.43, 38.86).unwrap();
        let rate = m.expected_purchases(1e-9, 2.0, 30.43, 38.86).unwrap();
        assert!(any > 0.0 && (any / rate - 1.0).abs() < 1e-6, "{name}: {any} vs {rate}");
    }
    // A long window for a customer surely alive: P(none) is tiny and still positive.
    let none = cdnow_bg().prob_no_purchase(5000.0, 0.0, 0.0, 0.0).unwrap();
    let direct = (0.2426f64 * (4.4136f64 / 5004.4136).ln()).exp();
    assert!((none / direct - 1.0).abs() < 1e-12, "{none} vs {direct}");
}

#[test]
fn the_bg_nbd_pmf_matches_a_numerical_integral_over_the_posterior() {
    // Alive at T, λ ~ Gamma(r+x, α+T) and p ~ Beta(a, b+x); given them (FHL 2005 eq. 7 over τ)
    // P(n | λ, p) = (1−p)^n Poisson(n; λτ) + [n>0] p (1−p)^{n−1} P(Poisson(λτ) ≥ n).
    let m = cdnow_bg();
    let (r, alpha, a, b) = (0.2426, 4.4136, 0.7929, 2.4259);
    let (x, t_x, T, tau) = (2.0f64, 30.43, 38.86, 39.0);
    let pi = m.p_alive(x, t_x, T).unwrap();
    let (rp, ap, bp) = (r + x, alpha + T, b + x);
    let ln_beta = |u: f64, v: f64| ln_gamma(u) + ln_gamma(v) - ln_gamma(u + v);
    for n in 0..5u32 {
        let nf = f64::from(n);
        let given = |lambda: f64, p: f64| {
            let mu = lambda * tau;
            let pois = |k: f64| (k * mu.ln() - mu - ln_gamma(k + 1.0)).exp();
            let head: f64 = (0..n).map(|k| pois(f64::from(k))).sum();
            let stay = (1.0 - p).powf(nf) * pois(nf);
            if n == 0 {
                (-mu).exp()
            } else {
                stay + p * (1.0 - p).powf(nf - 1.0) * (1.0 - head).max(0.0)
            }
        };
        // λ = u/(1−u) maps (0, 1) onto (0, ∞); the beta density of p in the inner integral.
        let outer = integrate(
            |u: f64| {
                if u <= 0.0 || u >= 1.0 {
                    return 0.0;
                }
                let lambda = u / (1.0 - u);
                let dens = (rp * ap.ln() - ln_gamma(rp) + (rp - 1.0) * lambda.ln() - ap * lambda).exp();
                let inner = integrate(
                    |p: f64| {
                        if p <= 0.0 || p >= 1.0 {
                            return 0.0;
                        }
                        ((a - 1.0) * p.ln() + (bp - 1.0) * (1.0 - p).ln() - ln_beta(a, bp)).exp() * given(lambda, p)
                    },
                    0.0,
                    1.0,
                    1e-12,
                )
                .unwrap();
                dens * inner / ((1.0 - u) * (1.0 - u))
            },
            0.0,
            1.0,
            1e-11,
        )
        .unwrap();
        let want = if n == 0 { (1.0 - pi) + pi * outer } else { pi * outer };
        let got = m.prob_purchases_in_window(n, tau, x, t_x, T).unwrap();
        assert!((got - want).abs() < 1e-7, "n={n}: {got} vs {want}");
    }
}

/// The rows of `window_lifetimes.csv`: (model, function, n, t1, t2, x, t_x, T, value).
fn lifetimes_rows() -> Vec<LifetimesRow> {
    let text = include_str!("reference/window_lifetimes.csv");
    text.lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            let f = |i: usize| c[i].parse::<f64>().unwrap();
            (
                c[0].into(),
                c[1].into(),
                c[2].parse().unwrap(),
                f(3),
                f(4),
                f(5),
                f(6),
                f(7),
                f(8),
            )
        })
        .collect()
}

#[test]
fn matches_lifetimes() {
    let (b, mb, p) = (
        bg(0.243, 4.414, 0.793, 2.426),
        cdnow_mbg(),
        pareto(0.5533, 10.5776, 0.6062, 11.6679),
    );
    let mut checked = 0;
    for (model, function, n, t1, t2, x, t_x, T, want) in lifetimes_rows() {
        let m: &dyn WindowForecast = match model.as_str() {
            "bg_nbd" => &b,
            "mbg_nbd" => &mb,
            _ => &p,
        };
        let got = match function.as_str() {
            "conditional_pmf" | "new_pmf" => m.prob_purchases_in_window(n, t2, x, t_x, T).unwrap(),
            _ => m.expected_purchases_between(t1, t2, x, t_x, T).unwrap(),
        };
        // lifetimes sums its Pareto/NBD series in plain floating point.
        assert!(
            (got - want).abs() < 1e-9 * want.abs().max(1e-3),
            "{model} {function} n={n} ({t1}, {t2}] {x} {t_x} {T}: {got} vs lifetimes {want}"
        );
        checked += 1;
    }
    assert_eq!(checked, 178);
}

#[test]
fn the_batch_gives_the_values_of_one_call_per_customer() {
    let mut rng = StdRng::seed_from_u64(7);
    let n = 70_000; // above the parallel threshold
    let (mut tau, mut xs, mut txs, mut ts) = (vec![], vec![], vec![], vec![]);
    for i in 0..n {
        // A day grid (the memoised terms) and, every third row, continuous times (more
        // distinct pairs than the memo keeps).
        let T = if i % 3 == 0 {
            rng.gen_range(0.0..60.0)
        } else {
            f64::from(rng.gen_range(0..400u32)) / 7.0
        };
        let x = f64::from(rng.gen_range(0..12u32));
        let t_x = if x == 0.0 || T == 0.0 {
            0.0
        } else {
            (T * f64::from(rng.gen_range(1..=100u32)) / 100.0).min(T)
        };
        let x = if t_x == 0.0 { 0.0 } else { x };
        tau.push([13.0, 90.0 / 7.0, 52.0][rng.gen_range(0..3)]);
        xs.push(x);
        txs.push(t_x);
        ts.push(T);
    }
    for (name, m) in models() {
        // Every row for P(none) (Pareto/NBD's closed form too); P(any) of Pareto/NBD is a
        // quadrature per row: fewer rows.
        let got = m.prob_no_purchase_many(&tau, &xs, &txs, &ts).unwrap();
        for i in 0..n {
            let one = m.prob_no_purchase(tau[i], xs[i], txs[i], ts[i]).unwrap();
            assert_eq!(got[i].to_bits(), one.to_bits(), "{name} row {i}");
        }
        let rows = if name == "pareto_nbd" { 3000 } else { n };
        let any = m
            .prob_any_purchase_many(&tau[..rows], &xs[..rows], &txs[..rows], &ts[..rows])
            .unwrap();
        for i in 0..rows {
            let one = m.prob_any_purchase(tau[i], xs[i], txs[i], ts[i]).unwrap();
            assert_eq!(any[i].to_bits(), one.to_bits(), "{name} row {i}");
        }
    }
    // A bad window or row is an error naming its row.
    let m = cdnow_bg();
    let e = m
        .prob_no_purchase_many(&[1.0, -1.0], &[0.0, 0.0], &[0.0, 0.0], &[5.0, 5.0])
        .unwrap_err();
    assert!(
        matches!(
            e,
            ModelError::Negative {
                row: 1,
                field: "tau",
                ..
            }
        ),
        "{e:?}"
    );
    let e = m
        .prob_no_purchase_many(&[1.0, 1.0], &[0.0, 2.0], &[0.0, 6.0], &[5.0, 5.0])
        .unwrap_err();
    assert!(matches!(e, ModelError::InconsistentRow { row: 1, .. }), "{e:?}");
    assert!(m.prob_no_purchase(f64::NAN, 0.0, 0.0, 1.0).is_err());
    assert!(m.expected_purchases_between(5.0, 4.0, 0.0, 0.0, 1.0).is_err());
}

/// Simulated customers: the history `(x, t_x, T)` and the purchases in `(T, T+τ]`.
struct Simulated {
    rows: Vec<(f64, f64, f64)>,
    future: Vec<u32>,
}

/// Whole purchase paths from the generative processes. `bg`: dropout after each repeat
/// purchase with probability p (`mbg`: also right after the first purchase); else Pareto/NBD
/// (exponential lifetime with rate μ ~ Gamma(s, β)).
fn simulate(kind: &str, params: [f64; 4], n: usize, tau: f64, seed: u64) -> Simulated {
    let mut rng = StdRng::seed_from_u64(seed);
    let [r, alpha, c, d] = params;
    let (mut rows, mut future) = (vec![], vec![]);
    for _ in 0..n {
        let T = rng.gen_range(1.0..52.0);
        let lambda = Gamma::new(r, 1.0 / alpha).unwrap().sample(&mut rng);
        let (drop, death) = match kind {
            "pareto" => {
                let mu: f64 = Gamma::new(c, 1.0 / d).unwrap().sample(&mut rng);
                let e: f64 = Exp1.sample(&mut rng);
                (0.0, e / mu)
            }
            _ => (Beta::new(c, d).unwrap().sample(&mut rng), f64::INFINITY),
        };
        let mut alive = !(kind == "mbg" && rng.gen_bool(drop));
        let (mut t, mut x, mut t_x, mut k) = (0.0, 0.0, 0.0, 0u32);
        while alive {
            let e: f64 = Exp1.sample(&mut rng);
            t += e / lambda;
            if t > T + tau || t > death {
                break;
            }
            if t <= T {
                x += 1.0;
                t_x = t;
            } else {
                k += 1;
            }
            if kind != "pareto" && rng.gen_bool(drop) {
                alive = false;
            }
        }
        rows.push((x, t_x, T));
        future.push(k);
    }
    Simulated { rows, future }
}

/// Observed against predicted: for n = 0, 1, 2 and for P(none) in ten bins of its prediction,
/// the count of customers with that outcome is within 4.5 standard deviations of the sum of
/// the predicted probabilities (a sum of independent Bernoulli variables).
fn check_calibration(name: &str, sim: &Simulated, predict: impl Fn(u32, f64, f64, f64) -> f64) {
    for n in 0..3u32 {
        let (mut want, mut var, mut got) = (0.0, 0.0, 0.0);
        for (i, &(x, t_x, T)) in sim.rows.iter().enumerate() {
            let p = predict(n, x, t_x, T);
            want += p;
            var += p * (1.0 - p);
            got += f64::from(u8::from(sim.future[i] == n));
        }
        let z = (got - want) / var.sqrt();
        assert!(
            z.abs() < 4.5,
            "{name} n={n}: observed {got}, predicted {want:.1}, z = {z:.2}"
        );
    }
    let mut scored: Vec<(f64, bool)> = sim
        .rows
        .iter()
        .zip(&sim.future)
        .map(|(&(x, t_x, T), &k)| (predict(0, x, t_x, T), k == 0))
        .collect();
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (bin, part) in scored.chunks(scored.len().div_ceil(10)).enumerate() {
        let want: f64 = part.iter().map(|s| s.0).sum();
        let var: f64 = part.iter().map(|s| s.0 * (1.0 - s.0)).sum();
        let got = part.iter().filter(|s| s.1).count() as f64;
        let z = (got - want) / var.sqrt().max(1e-9);
        assert!(
            z.abs() < 4.5,
            "{name} P(none) bin {bin}: observed {got}, predicted {want:.1}, z = {z:.2}"
        );
    }
}

#[test]
fn calibrated_on_data_simulated_from_the_models() {
    let tau = 90.0 / 7.0;
    let b = [0.25, 4.4, 0.8, 2.4];
    let sim = simulate("bg", b, 40_000, tau, 1);
    let m = bg(b[0], b[1], b[2], b[3]);
    check_calibration("bg_nbd", &sim, |n, x, t_x, T| {
        m.prob_purchases_in_window(n, tau, x, t_x, T).unwrap()
    });

    let mp = [0.52, 6.2, 0.9, 1.6];
    let sim = simulate("mbg", mp, 40_000, tau, 2);
    let m = mbg(mp[0], mp[1], mp[2], mp[3]);
    check_calibration("mbg_nbd", &sim, |n, x, t_x, T| {
        m.prob_purchases_in_window(n, tau, x, t_x, T).unwrap()
    });

    let pp = [0.55, 10.6, 0.6, 11.7];
    let sim = simulate("pareto", pp, 6_000, tau, 3);
    let m = pareto(pp[0], pp[1], pp[2], pp[3]);
    check_calibration("pareto_nbd", &sim, |n, x, t_x, T| {
        m.prob_purchases_in_window(n, tau, x, t_x, T).unwrap()
    });
}

// ----- BG/BB -------------------------------------------------------------------------------

fn donations() -> FittedBgBb {
    FittedBgBb::from_params(
        BgBbParams {
            alpha: 1.2035,
            beta: 0.7497,
            gamma: 0.6567,
            delta: 2.7834,
        },
        None,
    )
    .unwrap()
}

#[test]
fn bgbb_window_identities() {
    let m = donations();
    // At n = 0 the window PMF is the new-customer PMF (FHS 2010 eq. 7).
    for n_star in [1u32, 5, 11] {
        for k in 0..=n_star {
            let w = m.prob_transactions_in_window(k, n_star, 0.0, 0.0, 0.0).unwrap();
            assert!((w - m.prob_transactions(k, n_star).unwrap()).abs() < 1e-13);
        }
    }
    for (x, t_x, n) in [
        (0.0, 0.0, 6.0),
        (1.0, 1.0, 6.0),
        (3.0, 4.0, 6.0),
        (6.0, 6.0, 6.0),
        (2.0, 5.0, 9.0),
    ] {
        for n_star in [1u32, 5, 10] {
            let p: Vec<f64> = (0..=n_star)
                .map(|k| m.prob_transactions_in_window(k, n_star, x, t_x, n).unwrap())
                .collect();
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            let mean: f64 = p.iter().enumerate().map(|(k, p)| k as f64 * p).sum();
            let e = m.expected_transactions(n_star, x, t_x, n).unwrap();
            assert!((mean - e).abs() < 1e-12, "{x} {t_x} {n} {n_star}: {mean} vs {e}");
            // P(none) = L(x, t_x, n + n*) / L(x, t_x, n).
            let ll = |periods: f64| {
                m.log_likelihood_of(&DiscreteSummary::new(vec![x], vec![t_x], vec![periods]).unwrap())
                    .unwrap()
            };
            let want = (ll(n + f64::from(n_star)) - ll(n)).exp();
            let none = m.prob_no_transaction(n_star, x, t_x, n).unwrap();
            assert!((none - want).abs() < 1e-12, "{none} vs {want}");
            let any = m.prob_any_transaction(n_star, x, t_x, n).unwrap();
            assert!((none + any - 1.0).abs() < 1e-12);
            let between = m
                .expected_transactions_between(2.min(n_star), n_star, x, t_x, n)
                .unwrap();
            let e2 = m.expected_transactions(2.min(n_star), x, t_x, n).unwrap();
            assert!((between - (e - e2)).abs() < 1e-15);
        }
    }
}

#[test]
fn bgbb_window_is_calibrated_on_simulated_data() {
    // p ~ Beta(α, β), θ ~ Beta(γ, δ); at each opportunity an alive customer first dies with
    // probability θ, else transacts with probability p.
    let (al, be, ga, de) = (1.2, 0.75, 0.66, 2.8);
    let m = FittedBgBb::from_params(
        BgBbParams {
            alpha: al,
            beta: be,
            gamma: ga,
            delta: de,
        },
        None,
    )
    .unwrap();
    let mut rng = StdRng::seed_from_u64(11);
    let (periods, n_star) = (6u32, 5u32);
    let mut rows = vec![];
    let mut future = vec![];
    for _ in 0..30_000 {
        let p = Beta::new(al, be).unwrap().sample(&mut rng);
        let theta = Beta::new(ga, de).unwrap().sample(&mut rng);
        let (mut alive, mut x, mut t_x, mut k) = (true, 0.0, 0.0, 0u32);
        for t in 1..=periods + n_star {
            if alive && rng.gen_bool(theta) {
                alive = false;
            }
            if alive && rng.gen_bool(p) {
                if t <= periods {
                    x += 1.0;
                    t_x = f64::from(t);
                } else {
                    k += 1;
                }
            }
        }
        rows.push((x, t_x, f64::from(periods)));
        future.push(k);
    }
    let sim = Simulated { rows, future };
    check_calibration("bg_bb", &sim, |k, x, t_x, n| {
        m.prob_transactions_in_window(k, n_star, x, t_x, n).unwrap()
    });
}

#[test]
fn bgbb_batch_gives_the_values_of_one_call_per_customer() {
    let m = donations();
    let mut rng = StdRng::seed_from_u64(17);
    let rows = 70_000; // above the parallel threshold
    let (mut w, mut xs, mut txs, mut ns) = (vec![], vec![], vec![], vec![]);
    for i in 0..rows {
        // Mostly short panels (the packed memo key); now and then one past 2^16 periods.
        let n = if i % 5000 == 0 {
            70_000.0
        } else {
            f64::from(rng.gen_range(0..60u32))
        };
        let t_x = (n * rng.gen_range(0.0..=1.0f64)).floor();
        let x = if t_x == 0.0 {
            0.0
        } else {
            f64::from(rng.gen_range(1..=(t_x as u32).min(40)))
        };
        w.push([0.0, 1.0, 13.0, 52.0][rng.gen_range(0..4)]);
        xs.push(x);
        txs.push(t_x);
        ns.push(n);
    }
    let got = m.prob_no_transaction_many(&w, &xs, &txs, &ns).unwrap();
    for i in 0..rows {
        let one = m.prob_no_transaction(w[i] as u32, xs[i], txs[i], ns[i]).unwrap();
        assert_eq!(got[i].to_bits(), one.to_bits(), "row {i}");
    }
    // Bad rows are errors naming their row; a fractional window is an error.
    let e = m
        .prob_no_transaction_many(&[1.0; 3], &[0.0, 2.0, 0.0], &[0.0, 1.0, 0.0], &[3.0; 3])
        .unwrap_err();
    assert!(matches!(e, ModelError::InconsistentRow { row: 1, .. }), "{e:?}");
    let e = m
        .prob_no_transaction_many(&[1.0, 2.5], &[0.0; 2], &[0.0; 2], &[3.0; 2])
        .unwrap_err();
    assert!(matches!(e, ModelError::InvalidArgument { name: "window", .. }), "{e:?}");
    assert!(
        m.prob_no_transaction_many(&[1.0], &[0.0; 2], &[0.0; 2], &[3.0; 2])
            .is_err()
    );
}
