//! `churn_evaluate(source [, cutoffs] [, window_days] [, 'name=value' ...])`: how well
//! `churn_probability` = 1 − P(alive) (from `ltv.model`, fitted on the data up to each cutoff)
//! predicts churn in the window after the cutoff: a decile calibration table with the AUC.
//! The arguments are those of `churn_labels`. See [`crate::plan::churn::churn_evaluate_plan`].

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::ViewTable;
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use super::args::parse_table_args;
use crate::common::doc::{NAMED_OPTIONS, SOURCE, TABLE, doc};
use crate::plan::churn::churn_evaluate_plan;
use crate::plan::rfm::RfmFunctions;
use crate::plan::source::TransactionSource;

/// The `churn_evaluate` table function.
#[derive(Debug, Default)]
pub struct ChurnEvaluateTableFunction;

impl ClvTableFunction for ChurnEvaluateTableFunction {
    const NAME: &'static str = "churn_evaluate";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                TABLE,
                "How well 1 - P(alive) of the model fitted at each cutoff ranks who churns: ten calibration deciles per cutoff with predicted and observed churn and the AUC.",
                "churn_evaluate(source [, cutoffs [, window_days]] [, 'name=value' ...])",
                &[
                    SOURCE,
                    ("cutoffs", "as in churn_labels"),
                    ("window_days", "as in churn_labels"),
                    NAMED_OPTIONS,
                ],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for ChurnEvaluateTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args("churn_evaluate", args.exprs(), &["cutoffs", "window_days"], session)?;
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        let fns = RfmFunctions::from_session(session);
        Ok(Arc::new(ViewTable::new(
            churn_evaluate_plan(plan, &options, &fns)?,
            None,
        )))
    }
}
