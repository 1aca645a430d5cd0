//! `churn_features(source [, cutoffs [, window_days]] [, 'name=value' ...])`: per cutoff and customer, the churn features as of the cutoff (activity, RFM and BTYD summaries, the window terms of the transaction model fitted at the cutoff, the trained model's inputs) and the label of the window after it. See [`crate::plan::churn_model`] for the definitions.

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;

use super::table_args::transactions_view;
use crate::plan::churn_model::churn_features_plan;

/// The `churn_features` table function.
#[derive(Debug, Default)]
pub struct ChurnFeaturesTableFunction;

impl TableFunctionImpl for ChurnFeaturesTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        transactions_view("churn_features", &args, &["cutoffs", "window_days"], |plan, o, _| {
            churn_features_plan(plan, o)
        })
    }
}
