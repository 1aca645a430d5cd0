//! `clv_compare(source, calibration_end [, holdout_end] [, 'models=...', 'penalizers=...', ...])`:
//! the transaction models (and a penalizer grid) fitted on the calibration period and judged on
//! the holdout, one row per candidate. See [`crate::udf::ltv_compare`] and
//! [`crate::plan::ltv_extra`].

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::ViewTable;
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use super::args::parse_table_args;
use crate::common::doc::{NAMED_OPTIONS, SOURCE, TABLE, doc};
use crate::plan::ltv_extra::clv_compare_plan;
use crate::plan::source::TransactionSource;

/// The `clv_compare` table function.
#[derive(Debug, Default)]
pub struct ClvCompareTableFunction;

impl ClvTableFunction for ClvCompareTableFunction {
    const NAME: &'static str = "clv_compare";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                TABLE,
                "Fits BG/NBD, Pareto/NBD and MBG/NBD (and a penalizer grid) on the calibration period and reports for each, on the holdout, MAE, RMSE, bias, correlation and the total error of repeat transactions, with log-likelihood, AIC and BIC, beside the naive baseline; the chosen model (lowest holdout RMSE, else BIC) is marked and the reason given.",
                "clv_compare(source, calibration_end [, holdout_end] [, 'name=value' ...])",
                &[
                    SOURCE,
                    ("calibration_end", "inclusive end of the calibration period YYYY-MM-DD"),
                    (
                        "holdout_end",
                        "inclusive end of the holdout YYYY-MM-DD (without one: BIC decides)",
                    ),
                    (
                        "'models=...'",
                        "candidates, comma-separated (default bg_nbd,pareto_nbd,mbg_nbd)",
                    ),
                    (
                        "'penalizers=...'",
                        "penalizer grid, comma-separated (default: the penalizer option, 0)",
                    ),
                    NAMED_OPTIONS,
                ],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for ClvCompareTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) =
            parse_table_args(Self::NAME, args.exprs(), &["calibration_end", "holdout_end"], session)?;
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        Ok(Arc::new(ViewTable::new(clv_compare_plan(plan, &options)?, None)))
    }
}
