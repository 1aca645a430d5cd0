//! `churn_features(source [, cutoffs [, window_days]] [, 'name=value' ...])`: per cutoff and
//! customer, the churn features as of the cutoff (activity, RFM and BTYD summaries, the window
//! terms of the transaction model fitted at the cutoff, the trained model's inputs) and the label
//! of the window after it. See [`crate::plan::churn_model`] for the definitions.

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use super::args::transactions_view;
use crate::common::doc::{NAMED_OPTIONS, SOURCE, TABLE, doc};
use crate::plan::churn_model::churn_features_plan;

/// The `churn_features` table function.
#[derive(Debug, Default)]
pub struct ChurnFeaturesTableFunction;

impl ClvTableFunction for ChurnFeaturesTableFunction {
    const NAME: &'static str = "churn_features";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                TABLE,
                "The trained churn model's features: per cutoff and customer, activity in the last 30, 90 and 180 days, the median gap, the BTYD summary and window probability of the transaction model fitted at the cutoff, the 15 model inputs, and the label of the window after the cutoff.",
                "churn_features(source [, cutoffs [, window_days]] [, 'name=value' ...])",
                &[
                    SOURCE,
                    (
                        "cutoffs",
                        "a list YYYY-MM-DD,YYYY-MM-DD or a range start..end, as in churn_labels",
                    ),
                    ("window_days", "the churn window in days after a cutoff (default 90)"),
                    NAMED_OPTIONS,
                ],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for ChurnFeaturesTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        transactions_view(Self::NAME, &args, &["cutoffs", "window_days"], |p, o, _| {
            churn_features_plan(p, o)
        })
    }
}
