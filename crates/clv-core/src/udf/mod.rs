//! Row-level SQL functions, one per file: scalar, aggregate and window functions. The plans
//! call them; they call no plan.

pub mod churn_auc;
pub mod churn_metrics;
pub mod churn_model_fit;
pub mod churn_model_score;
pub mod clv_check;
pub mod clv_cutoff_features;
pub mod clv_period_index;
pub mod clv_period_start;
pub mod clv_value;
pub mod covariates_fit;
pub mod customer_model;
pub mod dert;
pub mod is_churned;
pub mod kmeans_assign;
pub mod kmeans_fit;
pub mod lifecycle_stage;
pub mod likelihood_ratio_test;
pub mod ltv_args;
pub mod ltv_bootstrap;
pub mod ltv_compare;
pub mod ltv_intervals;
pub mod model_arg;
pub mod model_fit;
pub mod model_predictions;
mod period_args;
pub mod rfm_cell;
pub mod rfm_score;
pub mod rfm_segment;
pub mod segmentation_score;
pub mod tracking_expected;
