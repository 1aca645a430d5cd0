//! `churn_risk(source, cutoff [, window_days] [, 'name=value' ...])`: per customer at the cutoff, the trained churn model's `churn_probability` (no purchase in the window), its risk tier, the expected value over `ltv.horizon` and the value at risk. See [`crate::plan::churn_model`].

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;

use super::table_args::transactions_view;
use crate::plan::churn_model::churn_risk_plan;
use crate::plan::rfm::RfmFunctions;

/// The `churn_risk` table function.
#[derive(Debug, Default)]
pub struct ChurnRiskTableFunction;

impl TableFunctionImpl for ChurnRiskTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        transactions_view("churn_risk", &args, &["cutoffs", "window_days"], |plan, o, session| {
            churn_risk_plan(plan, o, &RfmFunctions::from_session(session))
        })
    }
}
