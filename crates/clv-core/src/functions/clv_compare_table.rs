//! `clv_compare(source, calibration_end [, holdout_end] [, 'models=...', 'penalizers=...', ...])`:
//! BG/NBD, Pareto/NBD and MBG/NBD (and a penalizer grid) fitted on the calibration period and
//! judged on the holdout, one row per candidate, and `clv_parameters(source [, calibration_end]
//! [, 'intervals=0.95', ...])`: the fitted parameters with bootstrap and delta-method intervals.
//! See [`crate::functions::ltv_compare`], [`crate::functions::ltv_bootstrap`] and
//! [`crate::plan::ltv_extra`].

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::ViewTable;
use datafusion::logical_expr::Documentation;

use super::ltv_args::doc;
use super::table_args::parse_table_args_with_locals;
use crate::plan::ltv_extra::{COMPARE_ARGS, INTERVAL_ARGS, IntervalArgs, clv_compare_plan, clv_parameters_plan};
use crate::plan::source::TransactionSource;

const SOURCE: (&str, &str) = (
    "source",
    "the transactions: a registered table name, or a Parquet/CSV file, folder or glob",
);

/// The `clv_compare` table function.
#[derive(Debug, Default)]
pub struct ClvCompareTableFunction;

impl ClvCompareTableFunction {
    /// The reference entry.
    pub fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                "Table functions",
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
                ],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for ClvCompareTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options, locals) = parse_table_args_with_locals(
            "clv_compare",
            args.exprs(),
            &["calibration_end", "holdout_end"],
            &COMPARE_ARGS,
            session,
        )?;
        let plan = TransactionSource::Name(source).resolve_blocking(session)?;
        Ok(Arc::new(ViewTable::new(
            clv_compare_plan(plan, &options, &locals)?,
            None,
        )))
    }
}

/// The `clv_parameters` table function.
#[derive(Debug, Default)]
pub struct ClvParametersTableFunction;

impl ClvParametersTableFunction {
    /// The reference entry.
    pub fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                "Table functions",
                "The parameters of the transaction and spend models clv_model fits, one row each, with customer-bootstrap percentile intervals and delta-method intervals (log scale; null, with the reason in delta_method, when the Hessian is singular).",
                "clv_parameters(source [, calibration_end] [, 'name=value' ...])",
                &[
                    SOURCE,
                    ("calibration_end", "inclusive end of the calibration period YYYY-MM-DD"),
                    ("'intervals=...'", "the level (default 0.95)"),
                    (
                        "'replicates=...', 'seed=...'",
                        "bootstrap replicates (default 200) and seed (default 0)",
                    ),
                    ("'interval_method=...'", "percentile (default), bias_corrected or bca"),
                ],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for ClvParametersTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options, locals) = parse_table_args_with_locals(
            "clv_parameters",
            args.exprs(),
            &["calibration_end"],
            &INTERVAL_ARGS,
            session,
        )?;
        let mut locals = locals;
        locals
            .entry("intervals".to_string())
            .or_insert_with(|| "0.95".to_string());
        let intervals = IntervalArgs::from_locals("clv_parameters", &locals)?;
        let plan = TransactionSource::Name(source).resolve_blocking(session)?;
        Ok(Arc::new(ViewTable::new(
            clv_parameters_plan(plan, &options, &intervals)?,
            None,
        )))
    }
}
