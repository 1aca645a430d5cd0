//! Logical plans over transactions: the contract and policies, the summary, RFM, the report.

pub mod btyd;
pub mod churn;
pub mod churn_evaluate;
pub mod churn_model;
pub mod cohort;
pub mod lifecycle;
pub mod lookback;
pub mod ltv;
pub mod ltv_extra;
pub mod report;
pub mod rfm;
pub mod source;
pub mod tracking;
pub mod transactions;
