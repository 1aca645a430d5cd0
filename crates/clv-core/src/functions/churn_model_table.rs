//! `churn_model(source, cutoff [, window_days] [, 'name=value' ...])`: the churn model trained for scoring at the cutoff, one row: its training cutoffs, coefficients with standard errors, convergence and JSON. See [`crate::plan::churn_model`].

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;

use super::table_args::transactions_view;
use crate::plan::churn_model::churn_model_plan;

/// The `churn_model` table function.
#[derive(Debug, Default)]
pub struct ChurnModelTableFunction;

impl TableFunctionImpl for ChurnModelTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        transactions_view("churn_model", &args, &["cutoffs", "window_days"], |plan, o, _| {
            churn_model_plan(plan, o)
        })
    }
}
