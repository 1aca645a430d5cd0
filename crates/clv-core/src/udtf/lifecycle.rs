//! `lifecycle(source [, as_of] [, 'name=value' ...])`: each customer's lifecycle stage as of a
//! date, and `lifecycle_transitions(source, from_date, to_date [, 'name=value' ...])`: customer
//! counts and revenue moving between stages. Windows: `new_days`, `active_days`, `churn_days`.

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::datasource::ViewTable;
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use super::args::{parse_table_args, parse_table_args_with_locals};
use crate::common::dates::parse_date;
use crate::common::doc::{NAMED_OPTIONS, SOURCE, TABLE, doc};
use crate::plan::lifecycle::{lifecycle_plan, transitions_plan};
use crate::plan::source::TransactionSource;

/// The `lifecycle` table function.
#[derive(Debug, Default)]
pub struct LifecycleTableFunction;

impl ClvTableFunction for LifecycleTableFunction {
    const NAME: &'static str = "lifecycle";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                TABLE,
                "Each customer's lifecycle stage as of a date (new, active, reactivated, silent or churned) with first_purchase, last_purchase, days_since_first, days_since_last and longest_recent_gap_days.",
                "lifecycle(source [, as_of] [, 'name=value' ...])",
                &[
                    SOURCE,
                    (
                        "as_of",
                        "the as-of date YYYY-MM-DD (default: the day after the last transaction)",
                    ),
                    NAMED_OPTIONS,
                ],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for LifecycleTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args("lifecycle", args.exprs(), &["as_of"], session)?;
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        Ok(Arc::new(ViewTable::new(lifecycle_plan(plan, &options)?, None)))
    }
}

/// The `lifecycle_transitions` table function.
#[derive(Debug, Default)]
pub struct LifecycleTransitionsTableFunction;

impl ClvTableFunction for LifecycleTransitionsTableFunction {
    const NAME: &'static str = "lifecycle_transitions";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                TABLE,
                "Customers counted by (stage at from_date, stage at to_date), with the revenue they brought in between; customers without a purchase by from_date start as prospect.",
                "lifecycle_transitions(source, from_date, to_date [, 'name=value' ...])",
                &[
                    SOURCE,
                    ("from_date", "stages as of this date YYYY-MM-DD"),
                    ("to_date", "moving to their stages as of this date YYYY-MM-DD"),
                    NAMED_OPTIONS,
                ],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for LifecycleTransitionsTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let dates = ["from_date", "to_date"];
        let (source, options, locals) =
            parse_table_args_with_locals("lifecycle_transitions", args.exprs(), &dates, &dates, session)?;
        let (Some(from), Some(to)) = (locals.get("from_date"), locals.get("to_date")) else {
            return plan_err!("lifecycle_transitions(source, from_date, to_date): both dates are required");
        };
        let (from, to) = (parse_date(from, "from_date")?, parse_date(to, "to_date")?);
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        Ok(Arc::new(ViewTable::new(
            transitions_plan(plan, &options, from, to)?,
            None,
        )))
    }
}
