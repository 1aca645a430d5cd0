//! Holdout accuracy, information criteria, likelihood-ratio tests and model choice.
//!
//! A model that forecasts is judged on data it did not see: fit on a calibration period,
//! predict each customer's purchases in the holdout period that follows (the conditional
//! expectation `E[Y(t) | x, t_x, T]`), and compare with what they bought (Fader, Hardie & Lee
//! 2005, *Marketing Science* 24(2), §4; Batislam et al. 2007 for the same measures across
//! models).
//!
//! * [`holdout_accuracy`] — per customer: mean absolute error, root mean squared error, bias
//!   (mean of predicted − actual) and the Pearson correlation of predicted and actual; in
//!   aggregate: total predicted, total actual and their difference. Sums are exact (correctly
//!   rounded, Shewchuk's algorithm as in Python's `math.fsum`), so the figures — and a choice
//!   made from them — do not depend on the order of the customers.
//! * [`naive_rate_predictions`] — the obvious baseline every model must beat: each customer
//!   keeps their calibration purchase rate, `x/T · t`.
//! * [`information_criteria`] — `AIC = 2k − 2 ln L` (Akaike 1974) and `BIC = k ln n − 2 ln L`
//!   (Schwarz 1978), `n` the number of customers, `k` the number of estimated parameters (a
//!   penalizer does not change `k`).
//! * [`likelihood_ratio_test`] — `Λ = 2 (ln L_full − ln L_restricted)` against χ² (Wilks 1938)
//!   or, for restrictions on the boundary of the parameter space, the χ̄² mixture of Self &
//!   Liang (1987, *JASA* 82(398), case 5 with independent components). **Which nestings are
//!   valid:**
//!   - *valid, interior* ([`Nesting::Interior`], `df` = number of restrictions): a model with
//!     static covariates against the same model without them (`γ = 0`, see
//!     [`crate::covariates`]); BG/NBD with separate dropout coefficients for `a` and `b` against
//!     the shared coefficient of CLVTools (`γ_a = γ_b`); any parameter fixed at an interior
//!     value.
//!   - *valid, boundary* ([`Nesting::Boundary`]): a restriction that puts a parameter on the
//!     edge of its space while every other parameter stays identified (e.g. a variance
//!     component at 0). `p = Σ_j C(df, j) 2^{−df} P(χ²_j > Λ)`.
//!   - *not nested*: BG/NBD, MBG/NBD and Pareto/NBD against each other (none is a special case
//!     of another) — compare them with AIC/BIC or on the holdout.
//!   - *not a regular test*: the NBD (no dropout) against BG/NBD or Pareto/NBD. The NBD is a
//!     limit (BG/NBD: `a → 0`, where `b` is no longer identified; Pareto/NBD: `s → 0` or
//!     `β → ∞`, where the other is not), so neither χ² nor the χ̄² mixture is the reference
//!     distribution (Davies 1977); use AIC/BIC.
//! * [`select_model`] — the candidate with the lowest per-customer holdout RMSE when every
//!   candidate has a holdout evaluation, else the lowest BIC; it says which rule decided and
//!   why. [`compare_models`] fits BG/NBD, Pareto/NBD and MBG/NBD (and a penalizer grid) on a
//!   calibration summary and evaluates each.

use serde::Serialize;

use super::error::ModelError;
use super::exact_sum::exact_sum;
use super::probability::chi_square_sf;
use super::{
    BgNbd, FittedBgNbd, FittedMbgNbd, FittedParetoNbd, MbgNbd, ModelKind, ParetoNbd, TimeUnit, TransactionModel,
    TransactionSummary,
};

/// Accuracy of predicted against actual purchases in a holdout period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HoldoutAccuracy {
    /// Number of customers (sum of the weights).
    pub customers: f64,
    /// Mean absolute error per customer.
    pub mae: f64,
    /// Root mean squared error per customer.
    pub rmse: f64,
    /// Mean of predicted − actual (positive: the model over-predicts).
    pub bias: f64,
    /// Pearson correlation of predicted and actual; `None` when either is constant.
    pub correlation: Option<f64>,
    /// Total predicted purchases.
    pub total_predicted: f64,
    /// Total actual purchases.
    pub total_actual: f64,
    /// `total_predicted − total_actual`.
    pub total_error: f64,
}

/// Accuracy of `predicted` against `actual` (one value per customer, optional `weights`: the
/// customers a row stands for).
///
/// # Errors
/// [`ModelError::LengthMismatch`]; [`ModelError::NonFinite`] / [`ModelError::Negative`] for a
/// bad value (actual purchases and weights must be ≥ 0); [`ModelError::EmptyInput`] when the
/// weights sum to 0.
pub fn holdout_accuracy(
    predicted: &[f64],
    actual: &[f64],
    weights: Option<&[f64]>,
) -> Result<HoldoutAccuracy, ModelError> {
    let n = predicted.len();
    for (field, len) in [("actual", actual.len()), ("weight", weights.map_or(n, |w| w.len()))] {
        if len != n {
            return Err(ModelError::LengthMismatch {
                field,
                expected: n,
                found: len,
            });
        }
    }
    let w = |i: usize| weights.map_or(1.0, |w| w[i]);
    for i in 0..n {
        for (field, v) in [("predicted", predicted[i]), ("actual", actual[i]), ("weight", w(i))] {
            if !v.is_finite() {
                return Err(ModelError::NonFinite { row: i, field });
            }
            if v < 0.0 && field != "predicted" {
                return Err(ModelError::Negative {
                    row: i,
                    field,
                    value: v,
                });
            }
        }
    }
    let total = exact_sum((0..n).map(w));
    if !(total > 0.0) {
        return Err(ModelError::EmptyInput);
    }
    let sum = |f: &dyn Fn(usize) -> f64| exact_sum((0..n).map(|i| w(i) * f(i)));
    let (sp, sa) = (sum(&|i| predicted[i]), sum(&|i| actual[i]));
    let (mp, ma) = (sp / total, sa / total);
    let e = |i: usize| predicted[i] - actual[i];
    let spp = sum(&|i| (predicted[i] - mp) * (predicted[i] - mp));
    let saa = sum(&|i| (actual[i] - ma) * (actual[i] - ma));
    let spa = sum(&|i| (predicted[i] - mp) * (actual[i] - ma));
    let correlation = (spp > 0.0 && saa > 0.0).then(|| spa / (spp * saa).sqrt());
    Ok(HoldoutAccuracy {
        customers: total,
        mae: sum(&|i| e(i).abs()) / total,
        rmse: (sum(&|i| e(i) * e(i)) / total).sqrt(),
        bias: sum(&e) / total,
        correlation,
        total_predicted: sp,
        total_actual: sa,
        total_error: exact_sum([sp, -sa]),
    })
}

/// The naive baseline: each customer keeps their calibration rate of repeat purchases,
/// `x / T · horizon` (0 for a customer with `T = 0`); `horizon` in `data`'s unit.
pub fn naive_rate_predictions(data: &TransactionSummary, horizon: f64) -> Vec<f64> {
    data.frequency()
        .iter()
        .zip(data.t())
        .map(|(&x, &t)| if t > 0.0 { x / t * horizon } else { 0.0 })
        .collect()
}

/// [`holdout_accuracy`] of `model`'s conditional expected purchases over `horizon` (model units)
/// for the customers of `calibration` (weights taken from it), against `actual`.
pub fn evaluate_holdout<M: TransactionModel + ?Sized>(
    model: &M,
    calibration: &TransactionSummary,
    horizon: f64,
    actual: &[f64],
) -> Result<HoldoutAccuracy, ModelError> {
    let predicted = model.expected_purchases_batch(horizon, calibration)?;
    holdout_accuracy(&predicted, actual, Some(calibration.weights()))
}

/// Log-likelihood with AIC and BIC.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct InformationCriteria {
    /// Log-likelihood at the estimate.
    pub log_likelihood: f64,
    /// Number of estimated parameters `k`.
    pub parameters: usize,
    /// Number of observations `n` (customers).
    pub observations: f64,
    /// `2k − 2 ln L`.
    pub aic: f64,
    /// `k ln n − 2 ln L`.
    pub bic: f64,
}

/// AIC and BIC of a fit (see the module docs).
pub fn information_criteria(
    log_likelihood: f64,
    parameters: usize,
    observations: f64,
) -> Result<InformationCriteria, ModelError> {
    if !log_likelihood.is_finite() {
        return Err(ModelError::InvalidArgument {
            name: "log_likelihood",
            value: log_likelihood,
            reason: "must be finite",
        });
    }
    if !(observations.is_finite() && observations >= 1.0) {
        return Err(ModelError::InvalidArgument {
            name: "observations",
            value: observations,
            reason: "must be finite and >= 1",
        });
    }
    let k = parameters as f64;
    Ok(InformationCriteria {
        log_likelihood,
        parameters,
        observations,
        aic: 2.0 * k - 2.0 * log_likelihood,
        bic: k * observations.ln() - 2.0 * log_likelihood,
    })
}

/// How the restricted model sits in the full one (see the module docs for which nestings are
/// valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Nesting {
    /// `df` restrictions at interior points of the parameter space: `Λ ~ χ²_df`.
    Interior {
        /// Number of restrictions.
        df: usize,
    },
    /// `df` parameters restricted to the boundary of their space (all others identified):
    /// `Λ ~ Σ_j C(df, j) 2^{−df} χ²_j` (Self & Liang 1987).
    Boundary {
        /// Number of restricted parameters.
        df: usize,
    },
}

/// A likelihood-ratio test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LikelihoodRatioTest {
    /// `2 (ln L_full − ln L_restricted)` (0 when the difference is within rounding).
    pub statistic: f64,
    /// The reference distribution.
    pub nesting: Nesting,
    /// `P(reference > statistic)`.
    pub p_value: f64,
}

/// Likelihood-ratio test of a restricted model (log-likelihood `restricted`) against the full
/// model it is nested in (`full`), both fitted on the same data.
///
/// # Errors
/// [`ModelError::InvalidArgument`] for non-finite log-likelihoods, `df = 0`, or a full model
/// whose log-likelihood is clearly below the restricted one (by more than `1e-6·|ln L|`): then
/// it is not nested, or its fit did not converge.
pub fn likelihood_ratio_test(restricted: f64, full: f64, nesting: Nesting) -> Result<LikelihoodRatioTest, ModelError> {
    for (name, v) in [("restricted", restricted), ("full", full)] {
        if !v.is_finite() {
            return Err(ModelError::InvalidArgument {
                name,
                value: v,
                reason: "log-likelihood must be finite",
            });
        }
    }
    let df = match nesting {
        Nesting::Interior { df } | Nesting::Boundary { df } => df,
    };
    if df == 0 || df > 10_000 {
        return Err(ModelError::InvalidArgument {
            name: "df",
            value: df as f64,
            reason: "must be between 1 and 10,000",
        });
    }
    let mut statistic = 2.0 * (full - restricted);
    if statistic < 0.0 {
        if -statistic > 2e-6 * full.abs().max(1.0) {
            return Err(ModelError::InvalidArgument {
                name: "full",
                value: full,
                reason: "the full model's log-likelihood is below the restricted model's: not nested, or a fit did not converge",
            });
        }
        statistic = 0.0;
    }
    let sf = |k: usize| -> Result<f64, ModelError> {
        chi_square_sf(statistic, k as f64).ok_or(ModelError::NumericalFailure {
            context: "chi-square survival function",
        })
    };
    let p_value = match nesting {
        Nesting::Interior { df } => sf(df)?,
        Nesting::Boundary { df } => {
            // Σ_{j=1..df} C(df, j) 2^{−df} P(χ²_j > Λ) (+ the j = 0 point mass at 0 when Λ = 0).
            let mut p = if statistic == 0.0 { 0.5f64.powi(df as i32) } else { 0.0 };
            let mut binom = 1.0f64; // C(df, j)
            for j in 1..=df {
                binom *= (df - j + 1) as f64 / j as f64;
                p += binom * 0.5f64.powi(df as i32) * sf(j)?;
            }
            p.min(1.0)
        }
    };
    Ok(LikelihoodRatioTest {
        statistic,
        nesting,
        p_value,
    })
}

/// A fitted transaction model of any of the kinds [`compare_models`] fits.
#[derive(Debug, Clone)]
pub enum CandidateModel {
    /// BG/NBD.
    BgNbd(FittedBgNbd),
    /// Pareto/NBD.
    ParetoNbd(FittedParetoNbd),
    /// MBG/NBD.
    MbgNbd(FittedMbgNbd),
}

impl CandidateModel {
    /// The model as a [`TransactionModel`].
    pub fn as_model(&self) -> &dyn TransactionModel {
        match self {
            CandidateModel::BgNbd(m) => m,
            CandidateModel::ParetoNbd(m) => m,
            CandidateModel::MbgNbd(m) => m,
        }
    }
    /// Log-likelihood at the estimate.
    pub fn log_likelihood(&self) -> Option<f64> {
        match self {
            CandidateModel::BgNbd(m) => m.log_likelihood(),
            CandidateModel::ParetoNbd(m) => m.log_likelihood(),
            CandidateModel::MbgNbd(m) => m.log_likelihood(),
        }
    }
}

/// One candidate of a model choice: a fit, its criteria and (optionally) its holdout accuracy.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The model kind.
    pub kind: ModelKind,
    /// The penalizer it was fitted with.
    pub penalizer: f64,
    /// The fitted model.
    pub model: CandidateModel,
    /// Log-likelihood, AIC and BIC on the calibration data.
    pub criteria: InformationCriteria,
    /// Accuracy on the holdout period, when there is one.
    pub holdout: Option<HoldoutAccuracy>,
}

impl Candidate {
    /// A label such as `bg_nbd` or `pareto_nbd (penalizer 0.01)`.
    pub fn label(&self) -> String {
        if self.penalizer == 0.0 {
            self.kind.to_string()
        } else {
            format!("{} (penalizer {})", self.kind, self.penalizer)
        }
    }
}

/// The rule that decided a model choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SelectionRule {
    /// Lowest per-customer root mean squared error on the holdout.
    HoldoutRmse,
    /// Lowest BIC on the calibration data (no holdout).
    Bic,
}

/// The outcome of [`select_model`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Selection {
    /// Index of the chosen candidate.
    pub chosen: usize,
    /// The rule that decided.
    pub rule: SelectionRule,
    /// Why, in one sentence (the chosen value and the runner-up's).
    pub reason: String,
}

/// Chooses among `candidates`: the lowest holdout RMSE when every candidate has a holdout
/// evaluation, else the lowest BIC; ties go to the lower BIC, then to the earlier candidate.
///
/// # Errors
/// [`ModelError::EmptyInput`] without candidates.
pub fn select_model(candidates: &[Candidate]) -> Result<Selection, ModelError> {
    if candidates.is_empty() {
        return Err(ModelError::EmptyInput);
    }
    let by_holdout = candidates.iter().all(|c| c.holdout.is_some());
    let score = |c: &Candidate| -> f64 {
        match (&c.holdout, by_holdout) {
            (Some(h), true) => h.rmse,
            _ => c.criteria.bic,
        }
    };
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by(|&i, &j| {
        score(&candidates[i])
            .total_cmp(&score(&candidates[j]))
            .then(candidates[i].criteria.bic.total_cmp(&candidates[j].criteria.bic))
            .then(i.cmp(&j))
    });
    let (rule, what) = if by_holdout {
        (SelectionRule::HoldoutRmse, "holdout RMSE per customer")
    } else {
        (SelectionRule::Bic, "BIC")
    };
    let best = &candidates[order[0]];
    let mut reason = format!(
        "{}: lowest {what} ({:.6}) of {} candidate{}",
        best.label(),
        score(best),
        candidates.len(),
        if candidates.len() == 1 { "" } else { "s" }
    );
    if let Some(&next) = order.get(1) {
        let c = &candidates[next];
        reason.push_str(&format!("; next {} ({:.6})", c.label(), score(c)));
    }
    if !by_holdout {
        reason.push_str("; no holdout period to judge the forecasts on");
    }
    Ok(Selection {
        chosen: order[0],
        rule,
        reason,
    })
}

/// A model that could not be fitted in [`compare_models`].
#[derive(Debug, Clone, PartialEq)]
pub struct FailedCandidate {
    /// The model kind.
    pub kind: ModelKind,
    /// The penalizer.
    pub penalizer: f64,
    /// Why.
    pub error: ModelError,
}

/// The holdout period of a comparison: each calibration customer's actual repeat purchases in
/// the `length` (in `unit`) that follows the calibration period.
#[derive(Debug, Clone, Copy)]
pub struct Holdout<'a> {
    /// Actual repeat purchases, aligned with the calibration summary.
    pub actual: &'a [f64],
    /// Length of the holdout period.
    pub length: f64,
    /// Unit of `length`.
    pub unit: TimeUnit,
}

/// The result of [`compare_models`].
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The fitted candidates, in the order asked (kinds, then penalizers).
    pub candidates: Vec<Candidate>,
    /// The fits that failed.
    pub failed: Vec<FailedCandidate>,
    /// The naive baseline's holdout accuracy ([`naive_rate_predictions`]), with a holdout.
    pub baseline: Option<HoldoutAccuracy>,
    /// The choice among the candidates ([`select_model`]); `None` when every fit failed.
    pub selection: Option<Selection>,
}

/// Fits each of `kinds` (BG/NBD, Pareto/NBD, MBG/NBD) with each penalizer on `calibration`,
/// evaluates each on `holdout` when given, and chooses one ([`select_model`]).
///
/// # Errors
/// [`ModelError::InvalidArgument`] for a kind that is not a continuous-time transaction model,
/// or no kinds or penalizers; [`ModelError::LengthMismatch`] for a holdout not aligned with
/// `calibration`. A fit that fails is reported in [`Comparison::failed`], not as an error.
pub fn compare_models(
    calibration: &TransactionSummary,
    kinds: &[ModelKind],
    penalizers: &[f64],
    holdout: Option<Holdout<'_>>,
) -> Result<Comparison, ModelError> {
    if kinds.is_empty() || penalizers.is_empty() {
        return Err(ModelError::InvalidArgument {
            name: "kinds",
            value: kinds.len() as f64,
            reason: "at least one model kind and one penalizer",
        });
    }
    if let Some(h) = &holdout
        && h.actual.len() != calibration.len()
    {
        return Err(ModelError::LengthMismatch {
            field: "holdout",
            expected: calibration.len(),
            found: h.actual.len(),
        });
    }
    let customers = calibration.total_weight();
    let mut candidates = Vec::new();
    let mut failed = Vec::new();
    for &kind in kinds {
        for &penalizer in penalizers {
            let fitted = match kind {
                ModelKind::BgNbd => BgNbd::new()
                    .penalizer(penalizer)
                    .fit(calibration)
                    .map(CandidateModel::BgNbd),
                ModelKind::ParetoNbd => ParetoNbd::new()
                    .penalizer(penalizer)
                    .fit(calibration)
                    .map(CandidateModel::ParetoNbd),
                ModelKind::MbgNbd => MbgNbd::new()
                    .penalizer(penalizer)
                    .fit(calibration)
                    .map(CandidateModel::MbgNbd),
                other => {
                    return Err(ModelError::InvalidArgument {
                        name: "kinds",
                        value: f64::NAN,
                        reason: match other {
                            ModelKind::BgBb => "bg_bb is a discrete-time model; compare BG/NBD, Pareto/NBD, MBG/NBD",
                            ModelKind::GammaGamma => "gamma_gamma is a spend model, not a transaction model",
                            _ => "not a continuous-time transaction model",
                        },
                    });
                }
            };
            let evaluated = fitted.and_then(|model| {
                let ll = model.log_likelihood().ok_or(ModelError::NumericalFailure {
                    context: "a fitted model without a log-likelihood",
                })?;
                let criteria = information_criteria(ll, 4, customers)?;
                let holdout = match &holdout {
                    Some(h) => {
                        let m = model.as_model();
                        let length = h.unit.convert(h.length, m.time_unit());
                        Some(evaluate_holdout(m, calibration, length, h.actual)?)
                    }
                    None => None,
                };
                Ok(Candidate {
                    kind,
                    penalizer,
                    model,
                    criteria,
                    holdout,
                })
            });
            match evaluated {
                Ok(c) => candidates.push(c),
                Err(error) => failed.push(FailedCandidate { kind, penalizer, error }),
            }
        }
    }
    let baseline = match &holdout {
        Some(h) => {
            let length = h.unit.convert(h.length, calibration.time_unit());
            let naive = naive_rate_predictions(calibration, length);
            Some(holdout_accuracy(&naive, h.actual, Some(calibration.weights()))?)
        }
        None => None,
    };
    let selection = if candidates.is_empty() {
        None
    } else {
        Some(select_model(&candidates)?)
    };
    Ok(Comparison {
        candidates,
        failed,
        baseline,
        selection,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn likelihood_ratio_p_values() {
        // Λ = 3.841458820694124 is the 95th percentile of χ²_1.
        let t = likelihood_ratio_test(
            -100.0,
            -100.0 + 3.841_458_820_694_124 / 2.0,
            Nesting::Interior { df: 1 },
        )
        .unwrap();
        assert!((t.p_value - 0.05).abs() < 1e-14);
        // On the boundary with one parameter the p-value halves.
        let b = likelihood_ratio_test(
            -100.0,
            -100.0 + 3.841_458_820_694_124 / 2.0,
            Nesting::Boundary { df: 1 },
        )
        .unwrap();
        assert!((b.p_value - 0.025).abs() < 1e-14);
        // Two boundary parameters: ¼·0 + ½ P(χ²_1 > Λ) + ¼ P(χ²_2 > Λ).
        let l: f64 = 4.0;
        let b2 = likelihood_ratio_test(-10.0, -10.0 + l / 2.0, Nesting::Boundary { df: 2 }).unwrap();
        let want = 0.5 * chi_square_sf(l, 1.0).unwrap() + 0.25 * (-l / 2.0).exp();
        assert!((b2.p_value - want).abs() < 1e-14);
        // Rounding below zero is 0; a real deficit is an error.
        assert_eq!(
            likelihood_ratio_test(-100.0, -100.0 - 1e-9, Nesting::Interior { df: 2 })
                .unwrap()
                .p_value,
            1.0
        );
        assert!(likelihood_ratio_test(-100.0, -101.0, Nesting::Interior { df: 2 }).is_err());
        assert!(likelihood_ratio_test(-100.0, -99.0, Nesting::Interior { df: 0 }).is_err());
    }
}
