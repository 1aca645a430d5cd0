//! `churn_evaluate(source [, cutoffs [, window_days]] [, 'name=value' ...])`: every churn score
//! side by side on the labels of each cutoff: the trained model, the window probability,
//! expected purchases, recency, the RFM segment's churn rate, 1 − P(alive), the base rate and the
//! columns of a `'scores=table'`, each with AUC, Brier score, log loss, the largest decile gap,
//! lift and gain at the top 10 % and 20 %. `churn_calibration(...)` (same arguments): the
//! calibration deciles of the same scores. See [`crate::plan::churn_evaluate`].

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::logical_expr::{Documentation, LogicalPlan};

use super::ClvTableFunction;
use super::args::transactions_view;
use crate::common::doc::{NAMED_OPTIONS, SOURCE, TABLE, doc};
use crate::config::ClvOptions;
use crate::plan::churn_evaluate::{churn_calibration_plan, churn_evaluate_plan};
use crate::plan::rfm::RfmFunctions;
use crate::plan::source::TransactionSource;

/// The `churn_evaluate` table function.
#[derive(Debug, Default)]
pub struct ChurnEvaluateTableFunction;

/// The `churn_calibration` table function.
#[derive(Debug, Default)]
pub struct ChurnCalibrationTableFunction;

/// The arguments both share.
const ARGUMENTS: [(&str, &str); 4] = [
    SOURCE,
    (
        "cutoffs",
        "a list YYYY-MM-DD,YYYY-MM-DD or a range start..end, as in churn_labels",
    ),
    ("window_days", "the churn window in days after a cutoff (default 90)"),
    NAMED_OPTIONS,
];

impl ClvTableFunction for ChurnEvaluateTableFunction {
    const NAME: &'static str = "churn_evaluate";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                TABLE,
                "Every churn score side by side on the labels of each cutoff (the trained model, the window probability, expected purchases, recency, the RFM segment's churn rate, 1 - P(alive), the base rate and the columns of 'scores=TABLE'): AUC, Brier score, log loss, the largest decile gap, lift and gain at the top 10 % and 20 %.",
                "churn_evaluate(source [, cutoffs [, window_days]] [, 'name=value' ...])",
                &ARGUMENTS,
            )
        });
        &DOC
    }
}

impl ClvTableFunction for ChurnCalibrationTableFunction {
    const NAME: &'static str = "churn_calibration";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                TABLE,
                "The calibration deciles of every score of churn_evaluate: per cutoff, score and decile the customers, the mean score and the observed churn rate.",
                "churn_calibration(source [, cutoffs [, window_days]] [, 'name=value' ...])",
                &ARGUMENTS,
            )
        });
        &DOC
    }
}

/// The plan of either function: the `'scores=...'` table resolved with the same options.
fn evaluation(deciles: bool, plan: LogicalPlan, o: &ClvOptions, session: &dyn Session) -> Result<LogicalPlan> {
    let scores = o
        .churn_scores
        .as_ref()
        .map(|s| TransactionSource::Name(s.clone()).resolve_blocking_with(session, o))
        .transpose()?;
    let fns = RfmFunctions::from_session(session);
    if deciles {
        churn_calibration_plan(plan, o, &fns, scores)
    } else {
        churn_evaluate_plan(plan, o, &fns, scores)
    }
}

impl TableFunctionImpl for ChurnEvaluateTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        transactions_view(Self::NAME, &args, &["cutoffs", "window_days"], |p, o, s| {
            evaluation(false, p, o, s)
        })
    }
}

impl TableFunctionImpl for ChurnCalibrationTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        transactions_view(Self::NAME, &args, &["cutoffs", "window_days"], |p, o, s| {
            evaluation(true, p, o, s)
        })
    }
}
