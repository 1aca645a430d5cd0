//! `clv_parameters(source [, calibration_end] [, 'intervals=0.95', ...])`: the fitted
//! parameters of `clv_model` with bootstrap and delta-method intervals. See
//! [`crate::udf::ltv_bootstrap`] and [`crate::plan::ltv_extra`].

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::ViewTable;
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use super::args::parse_table_args;
use crate::common::doc::{NAMED_OPTIONS, SOURCE, TABLE, doc};
use crate::plan::ltv_extra::clv_parameters_plan;
use crate::plan::source::TransactionSource;

/// The `clv_parameters` table function.
#[derive(Debug, Default)]
pub struct ClvParametersTableFunction;

impl ClvTableFunction for ClvParametersTableFunction {
    const NAME: &'static str = "clv_parameters";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                TABLE,
                "The parameters of the transaction and spend models clv_model fits, one row each, with customer-bootstrap intervals (clv.ltv.interval_method, log_normal by default) and delta-method intervals (log scale; null, with the reason in delta_method, when the Hessian is singular).",
                "clv_parameters(source [, calibration_end] [, 'name=value' ...])",
                &[
                    SOURCE,
                    ("calibration_end", "inclusive end of the calibration period YYYY-MM-DD"),
                    (
                        "'intervals=...'",
                        "the level (default 0.95); replicates, seed and interval_method as for clv_model",
                    ),
                    NAMED_OPTIONS,
                ],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for ClvParametersTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args(Self::NAME, args.exprs(), &["calibration_end"], session)?;
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        Ok(Arc::new(ViewTable::new(clv_parameters_plan(plan, &options)?, None)))
    }
}
