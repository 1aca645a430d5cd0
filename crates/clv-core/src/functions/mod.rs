//! The SQL surface: one function per file.

pub mod btyd_summary_table;
pub mod churn_auc;
pub mod churn_evaluate_table;
pub mod churn_labels_table;
pub mod clv_check;
pub mod clv_period_index;
pub mod clv_period_start;
pub mod clv_predict_table;
pub mod clv_value;
pub mod cohort_retention_table;
pub mod is_churned;
pub mod lifecycle_stage;
pub mod lifecycle_table;
pub mod ltv_args;
pub mod ltv_bootstrap;
pub mod ltv_compare;
pub mod ltv_intervals;
pub mod model_arg;
pub mod model_fit;
pub mod model_predictions;
mod period_args;
pub mod policy_report_table;
pub mod rfm_cell;
pub mod rfm_score;
pub mod rfm_segment;
pub mod rfm_table;
pub mod table_args;
