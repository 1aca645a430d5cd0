//! `churn_model(source, cutoff [, window_days] [, 'name=value' ...])`: the churn model trained
//! for scoring at the cutoff, one row: its training cutoffs, coefficients with standard errors,
//! convergence and JSON. See [`crate::plan::churn_model`].

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use super::args::transactions_view;
use super::churn_risk::SCORING_ARGUMENTS;
use crate::common::doc::{TABLE, doc};
use crate::plan::churn_model::churn_model_plan;

/// The `churn_model` table function.
#[derive(Debug, Default)]
pub struct ChurnModelTableFunction;

impl ClvTableFunction for ChurnModelTableFunction {
    const NAME: &'static str = "churn_model";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                TABLE,
                "The churn model trained for scoring at the cutoff (L2-regularised logistic regression on the labelled rows of the last train_periods cutoffs whose windows end by it), one row: training cutoffs, rows, coefficients with standard errors, convergence and its JSON.",
                "churn_model(source, cutoff [, window_days] [, 'name=value' ...])",
                &SCORING_ARGUMENTS,
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for ChurnModelTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        transactions_view(Self::NAME, &args, &["cutoffs", "window_days"], |p, o, _| {
            churn_model_plan(p, o)
        })
    }
}
