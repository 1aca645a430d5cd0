//! Physical operators: the fused per-customer `rfm()` operator and its pass over the rows
//! ([`rfm_rows`]) with its persisted per-customer state ([`customer_state`]), and the purchase-panel operator
//! ([`panel_exec`]) with the jobs that run on it: segment evaluation and tuning
//! ([`segment_eval`]), migration and series ([`segment_moves`]), k-means clusters
//! ([`rfm_clusters`]) and value concentration ([`value_concentration`]).

pub mod customer_state;
pub mod panel_exec;
pub mod rfm_clusters;
pub mod rfm_exec;
pub(crate) mod rfm_rows;
pub mod segment_eval;
pub mod segment_moves;
pub mod value_concentration;
