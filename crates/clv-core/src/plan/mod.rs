//! Logical plans over transactions: the contract and policies, the summary, RFM, the report.

pub mod btyd;
pub mod churn;
pub mod cohort;
pub mod lifecycle;
pub mod lookback;
pub mod ltv;
pub mod panel_exec;
pub mod report;
pub mod rfm;
pub mod rfm_clusters;
pub mod rfm_exec;
pub mod segment_eval;
pub mod segment_moves;
pub mod source;
pub mod transactions;
pub mod value_concentration;
