//! `churn_contacts(source, cutoff [, window_days] [, 'name=value' ...])`: the customers of `churn_risk` ranked by value at risk, for a retention campaign. See [`crate::plan::churn_model::churn_contacts_plan`].

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;

use super::table_args::transactions_view;
use crate::plan::churn_model::churn_contacts_plan;
use crate::plan::rfm::RfmFunctions;

/// The `churn_contacts` table function.
#[derive(Debug, Default)]
pub struct ChurnContactsTableFunction;

impl TableFunctionImpl for ChurnContactsTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        transactions_view(
            "churn_contacts",
            &args,
            &["cutoffs", "window_days"],
            |plan, o, session| churn_contacts_plan(plan, o, &RfmFunctions::from_session(session)),
        )
    }
}
