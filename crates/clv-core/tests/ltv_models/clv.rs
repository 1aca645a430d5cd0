//! CLV against an independent brute-force calculation: the horizon is cut
//! into many small sub-intervals, the expected purchases in each (difference
//! of the conditional expectation at its ends) are multiplied by the
//! discount factor of the sub-interval, and summed.

use super::common::*;

use clv_core::ltv::*;

/// Brute force in the model's own unit. `disc(τ)` is the discount factor of
/// a purchase at time τ after T (τ in the model's unit).
fn brute<M: TransactionModel>(m: &M, h: f64, pieces: usize, x: f64, tx: f64, t: f64, disc: impl Fn(f64) -> f64) -> f64 {
    let mut prev = 0.0;
    let mut sum = 0.0;
    for i in 1..=pieces {
        let a = (i - 1) as f64 * h / pieces as f64;
        let b = i as f64 * h / pieces as f64;
        let cur = m.expected_purchases(b, x, tx, t).unwrap();
        sum += (cur - prev) * disc(0.5 * (a + b));
        prev = cur;
    }
    sum
}

const CUSTOMERS: [(f64, f64, f64); 4] = [
    (2.0, 30.43, 38.86),
    (1.0, 1.71, 38.86),
    (0.0, 0.0, 38.86),
    (7.0, 35.0, 36.0),
];

fn check_model<M: TransactionModel>(m: &M) {
    let unit = m.time_unit();
    let per_week = TimeUnit::Week.convert(1.0, unit);
    let month = TimeUnit::Month.convert(1.0, unit); // one month in model units
    let h = 12.0 * month;
    for &(x, tx, t) in &CUSTOMERS {
        let (tx, t) = (tx * per_week, t * per_week);
        // discrete: 1% per month, 12-month horizon; 1000 pieces per month
        let spec = ClvSpec::new(12.0, TimeUnit::Month).discrete(0.01, TimeUnit::Month);
        let got = spec.discounted_purchases(m, x, tx, t).unwrap();
        let want = brute(m, h, 12_000, x, tx, t, |tau| {
            1.01f64.powi(-((tau / month).ceil() as i32))
        });
        assert!(
            (got - want).abs() <= 1e-9 * want.max(1e-12),
            "{:?} discrete x={x}: {got} vs {want}",
            m.kind()
        );
        // continuous: 1% per month force of interest
        let spec = ClvSpec::new(12.0, TimeUnit::Month).continuous(0.01, TimeUnit::Month);
        let got = spec.discounted_purchases(m, x, tx, t).unwrap();
        let want = brute(m, h, 20_000, x, tx, t, |tau| (-0.01 * tau / month).exp());
        assert!(
            (got - want).abs() <= 1e-8 * want.max(1e-12),
            "{:?} continuous x={x}: {got} vs {want}",
            m.kind()
        );
        // the same horizon in weeks gives the same result
        let weeks = TimeUnit::Month.convert(12.0, TimeUnit::Week);
        let spec_w = ClvSpec::new(weeks, TimeUnit::Week).continuous(0.01, TimeUnit::Month);
        let got_w = spec_w.discounted_purchases(m, x, tx, t).unwrap();
        assert!((got - got_w).abs() <= 1e-10 * got.max(1e-12));
        // no discounting = conditional expectation over the horizon
        let none = ClvSpec::new(12.0, TimeUnit::Month)
            .discounted_purchases(m, x, tx, t)
            .unwrap();
        assert_eq!(none, m.expected_purchases(h, x, tx, t).unwrap());
        assert!(got < none);
    }
}

#[test]
fn discounted_purchases_match_brute_force_in_weeks_and_days() {
    let data = cdnow();
    let bg = BgNbd::new().fit(&data).unwrap();
    check_model(&bg);
    // the same model in days (α rescaled) ...
    let bg_days = bg.to_unit(TimeUnit::Day);
    check_model(&bg_days);
    // ... gives the same CLV
    let spec = ClvSpec::new(6.0, TimeUnit::Month).discrete(0.01, TimeUnit::Month);
    let w = spec.discounted_purchases(&bg, 2.0, 30.43, 38.86).unwrap();
    let d = spec
        .discounted_purchases(&bg_days, 2.0, 30.43 * 7.0, 38.86 * 7.0)
        .unwrap();
    assert!((w - d).abs() < 1e-10 * w, "{w} vs {d}");
    // and a model fitted directly on day data agrees closely too
    let fitted_days = BgNbd::new().fit(&data.to_unit(TimeUnit::Day)).unwrap();
    assert!((fitted_days.params().alpha / 7.0 - bg.params().alpha).abs() < 1e-4 * bg.params().alpha);
    check_model(&fitted_days);

    let pareto = ParetoNbd::new().fit(&data).unwrap();
    check_model(&pareto);
    let mbg = MbgNbd::new().fit(&data).unwrap();
    check_model(&mbg);
}

#[test]
fn clv_combines_margin_spend_and_purchases() {
    let data = cdnow();
    let bg = BgNbd::new().fit(&data).unwrap();
    let (_, spend) = cdnow_spend();
    let gg = GammaGamma::new().fit(&spend).unwrap();
    let spec = ClvSpec::new(12.0, TimeUnit::Month)
        .discrete(0.01, TimeUnit::Month)
        .margin(0.3);
    let n = spec.discounted_purchases(&bg, 2.0, 30.43, 38.86).unwrap();
    let s = gg.conditional_expected_spend(2.0, 22.35).unwrap();
    let clv = spec.clv(&bg, &gg, 2.0, 30.43, 38.86, 22.35).unwrap();
    assert!((clv - 0.3 * s * n).abs() < 1e-12 * clv);
    // x = 0 uses the population mean spend
    let clv0 = spec.clv(&bg, &gg, 0.0, 0.0, 38.86, 0.0).unwrap();
    let n0 = spec.discounted_purchases(&bg, 0.0, 0.0, 38.86).unwrap();
    assert!((clv0 - 0.3 * gg.population_mean_spend().unwrap() * n0).abs() < 1e-12 * clv0);
    // a partial last period: 1.5 months with monthly discounting
    let part = ClvSpec::new(1.5, TimeUnit::Month).discrete(0.05, TimeUnit::Month);
    let m = TimeUnit::Month.convert(1.0, TimeUnit::Week);
    let e1 = bg.expected_purchases(m, 2.0, 30.43, 38.86).unwrap();
    let e15 = bg.expected_purchases(1.5 * m, 2.0, 30.43, 38.86).unwrap();
    let want = e1 / 1.05 + (e15 - e1) / 1.05f64.powi(2);
    let got = part.discounted_purchases(&bg, 2.0, 30.43, 38.86).unwrap();
    assert!((got - want).abs() < 1e-12);
    // invalid inputs are typed errors
    assert!(matches!(
        ClvSpec::new(-1.0, TimeUnit::Month).discounted_purchases(&bg, 0.0, 0.0, 1.0),
        Err(ModelError::InvalidArgument { .. })
    ));
    assert!(matches!(
        ClvSpec::new(1.0, TimeUnit::Month)
            .discrete(f64::NAN, TimeUnit::Month)
            .discounted_purchases(&bg, 0.0, 0.0, 1.0),
        Err(ModelError::InvalidArgument { .. })
    ));
    assert!(matches!(
        ClvSpec::new(1.0, TimeUnit::Month).discounted_purchases(&bg, 2.0, 5.0, 1.0),
        Err(ModelError::InconsistentRow { .. })
    ));
}

#[test]
fn historical_heuristic() {
    assert!((historical_clv(50.0, 2.0, 12.0, 0.3).unwrap() - 360.0).abs() < 1e-12);
    assert!(historical_clv(f64::NAN, 2.0, 12.0, 0.3).is_err());
    assert!(historical_clv(50.0, -2.0, 12.0, 0.3).is_err());
}
