//! Holdout accuracy, information criteria and model choice on the CDNOW calibration/holdout
//! split, against Python lifetimes (`tests/reference/cdnow_holdout.py`) and the published
//! log-likelihoods.

mod common;

use clv_models::holdout::{
    Holdout, SelectionRule, compare_models, evaluate_holdout, holdout_accuracy, information_criteria,
    naive_rate_predictions, select_model,
};
use clv_models::{BgNbdParams, FittedBgNbd, ModelKind, TimeUnit, TransactionSummary};

fn calibration() -> (TransactionSummary, Vec<f64>) {
    let rows = common::reference("cdnow_calibration_holdout.csv");
    let data = TransactionSummary::new(
        rows.iter().map(|r| r[2]).collect(),
        rows.iter().map(|r| r[3]).collect(),
        rows.iter().map(|r| r[4]).collect(),
        TimeUnit::Week,
    )
    .unwrap();
    (data, rows.iter().map(|r| r[5]).collect())
}

#[test]
fn cdnow_holdout_accuracy_matches_lifetimes_and_beats_the_naive_baseline() {
    let (data, actual) = calibration();
    let model = FittedBgNbd::from_params(
        BgNbdParams {
            r: 0.2426,
            alpha: 4.4136,
            a: 0.7929,
            b: 2.4259,
        },
        TimeUnit::Week,
    )
    .unwrap();
    let want = common::reference("cdnow_holdout_metrics.csv");
    let m = evaluate_holdout(&model, &data, 39.0, &actual).unwrap();
    let naive = holdout_accuracy(&naive_rate_predictions(&data, 39.0), &actual, None).unwrap();
    for (got, w) in [(m, &want[0]), (naive, &want[1])] {
        assert!(common::close(got.mae, w[1], 1e-10), "{got:?} vs {w:?}");
        assert!(common::close(got.rmse, w[2], 1e-10), "{got:?} vs {w:?}");
        assert!(common::close(got.bias, w[3], 1e-9), "{got:?} vs {w:?}");
        assert!(common::close(got.correlation.unwrap(), w[4], 1e-10), "{got:?} vs {w:?}");
        assert!(common::close(got.total_predicted, w[5], 1e-10), "{got:?} vs {w:?}");
        assert_eq!(got.total_actual, w[6]);
        assert_eq!(got.customers, 2357.0);
        assert!(common::close(got.total_error, w[5] - w[6], 1e-9));
    }
    assert_eq!(m.total_actual, 1882.0);
    assert!(m.mae < naive.mae && m.rmse < naive.rmse && m.total_error.abs() < naive.total_error.abs());
}

#[test]
fn holdout_accuracy_edge_cases() {
    // Weighted rows are repeated rows.
    let a = holdout_accuracy(&[1.0, 2.0, 0.5], &[0.0, 3.0, 1.0], Some(&[2.0, 1.0, 3.0])).unwrap();
    let b = holdout_accuracy(&[1.0, 1.0, 2.0, 0.5, 0.5, 0.5], &[0.0, 0.0, 3.0, 1.0, 1.0, 1.0], None).unwrap();
    assert!(
        common::close(a.rmse, b.rmse, 1e-15) && common::close(a.correlation.unwrap(), b.correlation.unwrap(), 1e-14)
    );
    assert_eq!((a.mae, a.bias, a.total_error), (b.mae, b.bias, b.total_error));
    // Hand-computed: errors 1, −1, −0.5 → MAE 2.5/6... per row weights.
    assert!(common::close(b.mae, (1.0 + 1.0 + 1.0 + 0.5 * 3.0) / 6.0, 1e-15));
    assert!(common::close(b.bias, (1.0 + 1.0 - 1.0 - 1.5) / 6.0, 1e-15));
    // A constant prediction has no correlation.
    assert_eq!(
        holdout_accuracy(&[1.0, 1.0], &[0.0, 2.0], None).unwrap().correlation,
        None
    );
    assert!(holdout_accuracy(&[1.0], &[-1.0], None).is_err());
    assert!(holdout_accuracy(&[f64::NAN], &[1.0], None).is_err());
    assert!(holdout_accuracy(&[1.0], &[1.0, 2.0], None).is_err());
    assert!(holdout_accuracy(&[1.0], &[1.0], Some(&[0.0])).is_err());
}

#[test]
fn cdnow_model_choice() {
    // The published summary (rounded times) reproduces the published log-likelihoods.
    let (_, data) = common::cdnow();
    let (_, actual) = calibration();
    let kinds = [ModelKind::BgNbd, ModelKind::ParetoNbd, ModelKind::MbgNbd];
    let holdout = Holdout {
        actual: &actual,
        length: 39.0,
        unit: TimeUnit::Week,
    };
    let c = compare_models(&data, &kinds, &[0.0], Some(holdout)).unwrap();
    assert!(c.failed.is_empty(), "{:?}", c.failed);
    assert_eq!(c.candidates.len(), 3);
    for (cand, ll) in c.candidates.iter().zip([-9582.43, -9594.98, -9582.13]) {
        assert!(
            (cand.criteria.log_likelihood - ll).abs() < 0.01,
            "{}: {}",
            cand.label(),
            cand.criteria.log_likelihood
        );
        let want = information_criteria(cand.criteria.log_likelihood, 4, 2357.0).unwrap();
        assert_eq!(cand.criteria, want);
        assert!((want.bic - (4.0 * 2357f64.ln() - 2.0 * cand.criteria.log_likelihood)).abs() < 1e-9);
        // Every model beats the naive baseline on the holdout.
        let (h, base) = (cand.holdout.unwrap(), c.baseline.unwrap());
        assert!(
            h.rmse < base.rmse && h.mae < base.mae,
            "{}: {h:?} vs {base:?}",
            cand.label()
        );
        eprintln!("{}: {:?} {:?}", cand.label(), cand.criteria, h);
    }
    let s = c.selection.clone().unwrap();
    assert_eq!(s.rule, SelectionRule::HoldoutRmse);
    let best = c
        .candidates
        .iter()
        .map(|c| c.holdout.unwrap().rmse)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(c.candidates[s.chosen].holdout.unwrap().rmse, best);
    assert!(s.reason.contains(&c.candidates[s.chosen].label()), "{}", s.reason);
    // Without a holdout: BIC, and with equal parameter counts the highest likelihood (MBG/NBD).
    let c = compare_models(&data, &kinds, &[0.0], None).unwrap();
    let s = c.selection.unwrap();
    assert_eq!(s.rule, SelectionRule::Bic);
    assert_eq!(c.candidates[s.chosen].kind, ModelKind::MbgNbd);
    assert!(s.reason.contains("no holdout"), "{}", s.reason);
    assert!(select_model(&[]).is_err());
    // A penalizer grid: more candidates, the penalized fits have lower likelihoods.
    let c = compare_models(&data, &[ModelKind::BgNbd], &[0.0, 0.01, 0.1], Some(holdout)).unwrap();
    assert_eq!(c.candidates.len(), 3);
    assert!(c.candidates[1].criteria.log_likelihood < c.candidates[0].criteria.log_likelihood);
    assert!(compare_models(&data, &[ModelKind::GammaGamma], &[0.0], None).is_err());
}
