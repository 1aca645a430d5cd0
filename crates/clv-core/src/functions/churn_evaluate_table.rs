//! `churn_evaluate(source [, cutoffs [, window_days]] [, 'name=value' ...])`: every churn score side by side on
//! the labels of each cutoff: the trained model, the window probability, expected purchases,
//! recency, the RFM segment's churn rate, 1 − P(alive), the base rate and the columns of a
//! `'scores=table'`, each with AUC, Brier score, log loss, the largest decile gap, lift and gain
//! at the top 10 % and 20 %. See [`crate::plan::churn_evaluate`].

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;

use super::table_args::transactions_view;
use crate::plan::churn_evaluate::churn_evaluate_plan;
use crate::plan::rfm::RfmFunctions;
use crate::plan::source::TransactionSource;

/// The `churn_evaluate` table function.
#[derive(Debug, Default)]
pub struct ChurnEvaluateTableFunction;

impl TableFunctionImpl for ChurnEvaluateTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        transactions_view(
            "churn_evaluate",
            &args,
            &["cutoffs", "window_days"],
            |plan, o, session| {
                let scores = o
                    .churn_scores
                    .as_ref()
                    .map(|s| TransactionSource::Name(s.clone()).resolve_blocking(session))
                    .transpose()?;
                churn_evaluate_plan(plan, o, &RfmFunctions::from_session(session), scores)
            },
        )
    }
}
