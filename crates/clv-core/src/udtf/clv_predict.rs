//! `clv_predict(source [, calibration_end [, horizon]] [, 'name=value' ...])`: per-customer
//! LTV predictions, and `clv_model(source [, calibration_end] [, ...])`: the fitted models.
//!
//! `clv_predict` returns `customer_id, x, t_x, t, monetary, p_alive, expected_purchases,
//! expected_spend, clv`; `clv_model` returns one row with the fitted `model` and `spend_model`
//! structs. Options: `model` (bg_nbd, pareto_nbd, mbg_nbd, auto), `horizon`, `discount_rate`,
//! `margin`, the bootstrap's `intervals`, `replicates`, `seed`, `interval_method`, and every
//! `btyd_summary` option. See [`crate::plan::ltv`] and [`crate::plan::ltv_extra`].

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::ViewTable;
use datafusion::logical_expr::Documentation;

use super::ClvTableFunction;
use super::args::parse_table_args;
use crate::common::doc::{NAMED_OPTIONS, SOURCE, TABLE, doc};
use crate::plan::ltv::{clv_model_plan, clv_predict_plan};
use crate::plan::source::TransactionSource;

/// The `clv_predict` table function.
#[derive(Debug, Default)]
pub struct ClvPredictTableFunction;

impl ClvTableFunction for ClvPredictTableFunction {
    const NAME: &'static str = "clv_predict";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                TABLE,
                "Summary, fits and predictions in one plan: the btyd_summary of the source, the transaction model (option model; auto: the lowest holdout RMSE, else BIC, named in a model column) and a Gamma-Gamma spend model, then per customer p_alive, expected_purchases, expected_spend and clv over the horizon; with a holdout, x_holdout and t_holdout; with 'intervals=<level>', customer-bootstrap bounds p_alive_lower/upper, expected_purchases_lower/upper and clv_lower/upper.",
                "clv_predict(source [, calibration_end [, horizon]] [, 'name=value' ...])",
                &[
                    SOURCE,
                    ("calibration_end", "inclusive end of the calibration period YYYY-MM-DD"),
                    ("horizon", "prediction horizon in the time unit (default 52)"),
                    NAMED_OPTIONS,
                ],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for ClvPredictTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) =
            parse_table_args("clv_predict", args.exprs(), &["calibration_end", "horizon"], session)?;
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        Ok(Arc::new(ViewTable::new(clv_predict_plan(plan, &options)?, None)))
    }
}

/// The `clv_model` table function.
#[derive(Debug, Default)]
pub struct ClvModelTableFunction;

impl ClvTableFunction for ClvModelTableFunction {
    const NAME: &'static str = "clv_model";

    fn documentation() -> &'static Documentation {
        static DOC: LazyLock<Documentation> = LazyLock::new(|| {
            doc(
                TABLE,
                "The two models clv_predict fits, as one row: the transaction model (model) and the Gamma-Gamma spend model (spend_model), each the struct of its *_fit aggregate; with 'intervals=<level>', a bootstrap column (the ltv_bootstrap struct); with 'model=auto', a comparison column (the ltv_compare struct that chose the model).",
                "clv_model(source [, calibration_end] [, 'name=value' ...])",
                &[
                    SOURCE,
                    ("calibration_end", "inclusive end of the calibration period YYYY-MM-DD"),
                    NAMED_OPTIONS,
                ],
            )
        });
        &DOC
    }
}

impl TableFunctionImpl for ClvModelTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args("clv_model", args.exprs(), &["calibration_end"], session)?;
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        Ok(Arc::new(ViewTable::new(clv_model_plan(plan, &options)?, None)))
    }
}
