//! `churn_risk(source, cutoff [, window_days] [, 'name=value' ...])`: per customer at the cutoff,
//! the trained churn model's `churn_probability` (no purchase in the window), its risk tier, the
//! expected value over `ltv.horizon` and the value at risk. See [`crate::plan::churn_model`].

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use super::args::transactions_view;
use crate::common::doc::{NAMED_OPTIONS, SOURCE, TABLE, doc};
use crate::plan::churn_model::churn_risk_plan;
use crate::plan::rfm::RfmFunctions;

/// The arguments of the functions that train the churn model and score at one cutoff
/// (`churn_risk`, `churn_contacts`, `churn_model`).
pub(super) const SCORING_ARGUMENTS: [(&str, &str); 4] = [
    SOURCE,
    (
        "cutoff",
        "score at this date YYYY-MM-DD: features from the transactions up to it; the model trains on earlier cutoffs whose windows end by it",
    ),
    (
        "window_days",
        "churned = no purchase in this many days after the cutoff (default 90)",
    ),
    NAMED_OPTIONS,
];

/// The `churn_risk` table function.
#[derive(Debug, Default)]
pub struct ChurnRiskTableFunction;

impl ClvTableFunction for ChurnRiskTableFunction {
    const NAME: &'static str = "churn_risk";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                TABLE,
                "Churn risk per customer at the cutoff from the trained model: churn_probability (no purchase in the window), risk_tier (high / medium / low from the high_risk and medium_risk thresholds), expected_value over the horizon and value_at_risk = churn_probability x expected_value.",
                "churn_risk(source, cutoff [, window_days] [, 'name=value' ...])",
                &SCORING_ARGUMENTS,
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for ChurnRiskTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        transactions_view(Self::NAME, &args, &["cutoffs", "window_days"], |p, o, s| {
            churn_risk_plan(p, o, &RfmFunctions::from_session(s))
        })
    }
}
