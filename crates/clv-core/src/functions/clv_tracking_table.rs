//! `clv_tracking(source, calibration_end [, holdout_end [, period]] [, 'name=value' ...])`:
//! actual and expected repeat transactions per period, incremental and cumulative, over the
//! calibration period and the holdout. See [`crate::plan::tracking`].

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::ViewTable;
use datafusion::logical_expr::Documentation;

use super::ltv_args::doc;
use super::table_args::parse_table_args_with_locals;
use crate::plan::source::TransactionSource;
use crate::plan::tracking::{clv_tracking_plan, period_days};

/// The `clv_tracking` table function.
#[derive(Debug, Default)]
pub struct ClvTrackingTableFunction;

impl ClvTrackingTableFunction {
    /// The reference entry.
    pub fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                "Table functions",
                "Actual against expected repeat transactions per period (week by default), incremental and cumulative, over the calibration period and the holdout: the tracking plot's table. Expected is the sum of each calibration customer's unconditional expectation since their first purchase under the model fitted on the calibration period.",
                "clv_tracking(source, calibration_end [, holdout_end [, period]] [, 'name=value' ...])",
                &[
                    (
                        "source",
                        "the transactions: a registered table name, or a Parquet/CSV file, folder or glob",
                    ),
                    ("calibration_end", "inclusive end of the calibration period YYYY-MM-DD"),
                    (
                        "holdout_end",
                        "inclusive end of the holdout YYYY-MM-DD (default: none, the calibration only)",
                    ),
                    ("period", "week (default), day, or a number of days"),
                    (
                        "'name=value'",
                        "any clv session option, e.g. 'model=pareto_nbd', 'customer_column=id'",
                    ),
                ],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for ClvTrackingTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options, locals) = parse_table_args_with_locals(
            "clv_tracking",
            args.exprs(),
            &["calibration_end", "holdout_end", "period"],
            &["period"],
            session,
        )?;
        let days = period_days(locals.get("period").map_or("week", String::as_str))?;
        let plan = TransactionSource::Name(source).resolve_blocking(session)?;
        Ok(Arc::new(ViewTable::new(clv_tracking_plan(plan, &options, days)?, None)))
    }
}
