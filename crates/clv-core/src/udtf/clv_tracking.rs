//! `clv_tracking(source, calibration_end [, holdout_end [, tracking_period]] [, 'name=value' ...])`:
//! actual and expected repeat transactions per period, incremental and cumulative, over the
//! calibration period and the holdout. See [`crate::plan::tracking`].

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::ViewTable;
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use super::args::parse_table_args;
use crate::common::doc::{NAMED_OPTIONS, SOURCE, TABLE, doc};
use crate::plan::source::TransactionSource;
use crate::plan::tracking::clv_tracking_plan;

/// The `clv_tracking` table function.
#[derive(Debug, Default)]
pub struct ClvTrackingTableFunction;

impl ClvTableFunction for ClvTrackingTableFunction {
    const NAME: &'static str = "clv_tracking";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                TABLE,
                "Actual against expected repeat transactions per period (week by default), incremental and cumulative, over the calibration period and the holdout: the tracking plot's table. Expected is the sum of each calibration customer's unconditional expectation since their first purchase under the model fitted on the calibration period.",
                "clv_tracking(source, calibration_end [, holdout_end [, tracking_period]] [, 'name=value' ...])",
                &[
                    SOURCE,
                    ("calibration_end", "inclusive end of the calibration period YYYY-MM-DD"),
                    (
                        "holdout_end",
                        "inclusive end of the holdout YYYY-MM-DD (default: none, the calibration only)",
                    ),
                    ("tracking_period", "week (default), day, or a number of days"),
                    NAMED_OPTIONS,
                ],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for ClvTrackingTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args(
            Self::NAME,
            args.exprs(),
            &["calibration_end", "holdout_end", "tracking_period"],
            session,
        )?;
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        Ok(Arc::new(ViewTable::new(clv_tracking_plan(plan, &options)?, None)))
    }
}
