//! `clv_predict(source [, calibration_end [, horizon]] [, 'name=value' ...])`: per-customer
//! LTV predictions, and `clv_model(source [, calibration_end] [, ...])`: the fitted models.
//!
//! `clv_predict` returns `customer_id, x, t_x, t, monetary, p_alive, expected_purchases,
//! expected_spend, clv`; `clv_model` returns one row with the fitted `model` and `spend_model`
//! structs. Options: `model` (bg_nbd, pareto_nbd, mbg_nbd, auto), `horizon`, `discount_rate`,
//! `margin`, every `btyd_summary` option, and the call's bootstrap settings `intervals` (a
//! level), `replicates`, `seed`, `interval_method`. See [`crate::plan::ltv`] and
//! [`crate::plan::ltv_extra`].

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::ViewTable;

use super::table_args::parse_table_args_with_locals;
use crate::plan::ltv::{clv_model_plan_with, clv_predict_plan_with};
use crate::plan::ltv_extra::{INTERVAL_ARGS, IntervalArgs};
use crate::plan::source::TransactionSource;

/// The `clv_predict` table function.
#[derive(Debug, Default)]
pub struct ClvPredictTableFunction;

impl TableFunctionImpl for ClvPredictTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options, locals) = parse_table_args_with_locals(
            "clv_predict",
            args.exprs(),
            &["calibration_end", "horizon"],
            &INTERVAL_ARGS,
            session,
        )?;
        let intervals = IntervalArgs::from_locals("clv_predict", &locals)?;
        let plan = TransactionSource::Name(source).resolve_blocking(session)?;
        Ok(Arc::new(ViewTable::new(
            clv_predict_plan_with(plan, &options, &intervals)?,
            None,
        )))
    }
}

/// The `clv_model` table function.
#[derive(Debug, Default)]
pub struct ClvModelTableFunction;

impl TableFunctionImpl for ClvModelTableFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let session = args.session();
        let (source, options, locals) =
            parse_table_args_with_locals("clv_model", args.exprs(), &["calibration_end"], &INTERVAL_ARGS, session)?;
        let intervals = IntervalArgs::from_locals("clv_model", &locals)?;
        let plan = TransactionSource::Name(source).resolve_blocking(session)?;
        Ok(Arc::new(ViewTable::new(
            clv_model_plan_with(plan, &options, &intervals)?,
            None,
        )))
    }
}
