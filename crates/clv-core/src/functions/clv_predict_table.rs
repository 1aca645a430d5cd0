//! `clv_predict(source [, calibration_end [, horizon]] [, 'name=value' ...])`: per-customer
//! LTV predictions, and `clv_model(source [, calibration_end] [, ...])`: the fitted models.
//!
//! `clv_predict` returns `customer_id, x, t_x, t, monetary, p_alive, expected_purchases,
//! expected_spend, clv`; `clv_model` returns one row with the fitted `model` and `spend_model`
//! structs. Options: `model` (bg_nbd, pareto_nbd, mbg_nbd), `horizon`, `discount_rate`, `margin`,
//! and every `btyd_summary` option. See [`crate::plan::ltv`].

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::ViewTable;

use super::table_args::parse_table_args;
use crate::plan::ltv::{clv_model_plan, clv_predict_plan};
use crate::plan::source::TransactionSource;

/// The `clv_predict` table function.
#[derive(Debug, Default)]
pub struct ClvPredictTableFunction;

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

impl TableFunctionImpl for ClvModelTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options) = parse_table_args("clv_model", args.exprs(), &["calibration_end"], session)?;
        let plan = TransactionSource::Name(source).resolve_blocking_with(session, &options)?;
        Ok(Arc::new(ViewTable::new(clv_model_plan(plan, &options)?, None)))
    }
}
