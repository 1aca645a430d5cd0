//! Tracking and the frequency × recency matrices, against an independent computation (Python
//! lifetimes, `tests/reference/cdnow_holdout.py`) and a direct per-customer sum.

mod common;

use clv_models::tracking::{PeriodGrid, expected_purchases_matrix, expected_tracking, p_alive_matrix, recency_bins};
use clv_models::{BgNbdParams, FittedBgNbd, TimeUnit};

fn published() -> FittedBgNbd {
    let p = BgNbdParams {
        r: 0.2426,
        alpha: 4.4136,
        a: 0.7929,
        b: 2.4259,
    };
    FittedBgNbd::from_params(p, TimeUnit::Week).unwrap()
}

#[test]
fn cdnow_weekly_tracking_matches_lifetimes() {
    let customers = common::reference("cdnow_calibration_holdout.csv");
    let first_week: Vec<f64> = customers.iter().map(|r| r[1] / 7.0).collect();
    let t = expected_tracking(&published(), &first_week, None, &PeriodGrid::weekly(0.0, 78)).unwrap();
    let want = common::reference("cdnow_tracking.csv");
    assert_eq!(t.len(), 78);
    for (row, w) in t.iter().zip(&want) {
        assert_eq!(row.period + 1, w[0] as usize);
        assert_eq!((row.start, row.end), (row.period as f64, row.period as f64 + 1.0));
        assert!(common::close(row.expected, w[2], 1e-9), "{row:?} vs {w:?}");
        assert!(common::close(row.expected_cumulative, w[3], 1e-9), "{row:?} vs {w:?}");
    }
    // The reference's actual side: its holdout weeks (40..=78) hold exactly the customers'
    // holdout repeat transactions (the check the SQL tracking table will have to pass).
    let holdout_weeks: f64 = want[39..].iter().map(|w| w[1]).sum();
    let holdout: f64 = customers.iter().map(|r| r[5]).sum();
    assert_eq!(holdout_weeks, holdout);
    assert_eq!(holdout, 1882.0);
}

#[test]
fn tracking_equals_the_direct_sum_over_customers() {
    // First purchases on a day grid (in days), weights, an origin after some of them and
    // three-day periods: the expectation per period is Σ_i w_i (E[X(e − f_i)] − E[X(s − f_i)]),
    // ages cut at 0, computed here customer by customer.
    let model = published();
    let first: Vec<f64> = (0..300).map(|i| f64::from((i * 37) % 90)).collect();
    let weights: Vec<f64> = (0..300).map(|i| f64::from(1 + i % 3)).collect();
    let grid = PeriodGrid {
        origin: 20.0,
        length: 3.0,
        unit: TimeUnit::Day,
        periods: 40,
    };
    let t = expected_tracking(&model, &first, Some(&weights), &grid).unwrap();
    let e = |age_days: f64| {
        if age_days <= 0.0 {
            0.0
        } else {
            model.expected_purchases_new(age_days / 7.0).unwrap()
        }
    };
    let mut cumulative = 0.0;
    for row in &t {
        let (s, end) = (20.0 + 3.0 * row.period as f64, 23.0 + 3.0 * row.period as f64);
        let direct: f64 = first
            .iter()
            .zip(&weights)
            .map(|(&f, &w)| w * (e(end - f) - e(s - f)))
            .sum();
        cumulative += direct;
        assert!(
            (row.expected - direct).abs() <= 1e-10 * direct.max(1.0),
            "{row:?}: {direct}"
        );
        assert!((row.expected_cumulative - cumulative).abs() <= 1e-10 * cumulative.max(1.0));
    }
    // Reordering the customers changes nothing, to the bit.
    let (rf, rw): (Vec<f64>, Vec<f64>) = first
        .iter()
        .rev()
        .zip(weights.iter().rev())
        .map(|(a, b)| (*a, *b))
        .unzip();
    assert_eq!(t, expected_tracking(&model, &rf, Some(&rw), &grid).unwrap());
    // Bad input is an error.
    assert!(expected_tracking(&model, &[f64::NAN], None, &grid).is_err());
    assert!(expected_tracking(&model, &[1.0], Some(&[1.0, 2.0]), &grid).is_err());
    assert!(expected_tracking(&model, &[1.0], None, &PeriodGrid { periods: 0, ..grid }).is_err());
    assert!(expected_tracking(&model, &[1.0], None, &PeriodGrid { length: 0.0, ..grid }).is_err());
}

#[test]
fn frequency_recency_matrices() {
    let model = published();
    let rec = recency_bins(38.86, 12);
    assert_eq!(rec.len(), 12);
    assert!((rec[11] - 38.86).abs() < 1e-12);
    let pa = p_alive_matrix(&model, 38.86, 20, &rec).unwrap();
    let ep = expected_purchases_matrix(&model, 39.0, 38.86, 20, &rec).unwrap();
    assert_eq!(pa.values.len(), 21);
    for (i, &x) in pa.frequencies.iter().enumerate() {
        for (j, &r) in rec.iter().enumerate() {
            let t_x = if x == 0.0 { 0.0 } else { r };
            assert_eq!(pa.values[i][j], model.p_alive(x, t_x, 38.86).unwrap());
            assert_eq!(ep.values[i][j], model.expected_purchases(39.0, x, t_x, 38.86).unwrap());
        }
    }
    // FHL 2005's customer with x = 0, T = 38.86: P(alive) 1, E[purchases in 39 weeks] 0.1948.
    assert!(pa.values[0].iter().all(|&v| v == 1.0));
    assert!((ep.values[0][0] - 0.1948).abs() < 5e-5);
    assert!(p_alive_matrix(&model, 38.86, 3, &[0.0]).is_err());
    assert!(p_alive_matrix(&model, 38.86, 3, &[40.0]).is_err());
}
