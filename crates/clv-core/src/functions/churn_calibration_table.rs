//! `churn_calibration(source [, cutoffs [, window_days]] [, 'name=value' ...])`: the calibration deciles of
//! every score of `churn_evaluate` (mean score and observed churn rate per decile). See
//! [`crate::plan::churn_evaluate`].

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;

use super::table_args::transactions_view;
use crate::plan::churn_evaluate::churn_calibration_plan;
use crate::plan::rfm::RfmFunctions;
use crate::plan::source::TransactionSource;

/// The `churn_calibration` table function.
#[derive(Debug, Default)]
pub struct ChurnCalibrationTableFunction;

impl TableFunctionImpl for ChurnCalibrationTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        transactions_view(
            "churn_calibration",
            &args,
            &["cutoffs", "window_days"],
            |plan, o, session| {
                let scores = o
                    .churn_scores
                    .as_ref()
                    .map(|s| TransactionSource::Name(s.clone()).resolve_blocking(session))
                    .transpose()?;
                churn_calibration_plan(plan, o, &RfmFunctions::from_session(session), scores)
            },
        )
    }
}
