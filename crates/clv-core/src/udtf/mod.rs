//! Table functions, one per file (`rfm('orders')`, ...): each parses its arguments
//! ([`args`]) and returns the plan of [`crate::plan`] (or the fused operator of
//! [`crate::exec`]) as a table.

pub mod args;
pub mod btyd_summary;
pub mod churn_contacts;
pub mod churn_evaluate;
pub mod churn_features;
pub mod churn_labels;
pub mod churn_model;
pub mod churn_risk;
pub mod clv_compare;
pub mod clv_parameters;
pub mod clv_predict;
pub mod clv_tracking;
pub mod cohort_retention;
pub mod lifecycle;
pub mod policy_report;
pub mod rfm;
pub mod rfm_cluster_profiles;
pub mod rfm_clusters;
pub mod rfm_transitions;
pub mod segment_evaluate;
pub mod segment_metrics;
pub mod segment_outcomes;
pub mod segment_schemes;
pub mod segment_series;
pub mod segment_tune;
pub mod value_concentration;

use datafusion::catalog::TableFunctionImpl;
use datafusion::logical_expr::Documentation;

/// A clv table function: its SQL name and reference entry, next to its implementation.
pub trait ClvTableFunction: TableFunctionImpl + Default + 'static {
    /// The SQL name.
    const NAME: &'static str;
    /// The reference entry (DataFusion's table functions have no `documentation()` of their own).
    fn documentation() -> &'static Documentation;
}
