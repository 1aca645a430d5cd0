//! `churn_contacts(source, cutoff [, window_days] [, 'name=value' ...])`: the customers of
//! `churn_risk` ranked by value at risk, for a retention campaign. See
//! [`crate::plan::churn_model::churn_contacts_plan`].

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use super::args::transactions_view;
use super::churn_risk::SCORING_ARGUMENTS;
use crate::common::doc::{TABLE, doc};
use crate::plan::churn_model::churn_contacts_plan;
use crate::plan::rfm::RfmFunctions;

/// The `churn_contacts` table function.
#[derive(Debug, Default)]
pub struct ChurnContactsTableFunction;

impl ClvTableFunction for ChurnContactsTableFunction {
    const NAME: &'static str = "churn_contacts";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                TABLE,
                "Whom to contact: the customers of churn_risk ranked by value at risk (largest first, ties by customer id) with their segment, churn probability, tier, expected value, value at risk and last purchase.",
                "churn_contacts(source, cutoff [, window_days] [, 'name=value' ...])",
                &SCORING_ARGUMENTS,
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for ChurnContactsTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        transactions_view(Self::NAME, &args, &["cutoffs", "window_days"], |p, o, s| {
            churn_contacts_plan(p, o, &RfmFunctions::from_session(s))
        })
    }
}
