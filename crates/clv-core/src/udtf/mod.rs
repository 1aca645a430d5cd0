//! Table functions, one per file (`rfm('orders')`, ...): each parses its arguments
//! ([`args`]) and returns the plan of [`crate::plan`] (or the fused operator of
//! [`crate::exec`]) as a table.

pub mod args;
pub mod btyd_summary;
pub mod churn_evaluate;
pub mod churn_labels;
pub mod clv_compare;
pub mod clv_parameters;
pub mod clv_predict;
pub mod clv_tracking;
pub mod cohort_retention;
pub mod lifecycle;
pub mod policy_report;
pub mod rfm;

use datafusion::catalog::TableFunctionImpl;
use datafusion::logical_expr::Documentation;

/// A clv table function: its SQL name and reference entry, next to its implementation.
pub trait ClvTableFunction: TableFunctionImpl + Default + 'static {
    /// The SQL name.
    const NAME: &'static str;
    /// The reference entry (DataFusion's table functions have no `documentation()` of their own).
    fn documentation() -> &'static Documentation;
}
