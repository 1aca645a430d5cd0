//! Table providers, and the customer state of `rfm()` as a Parquet file ([`customer_state`]).
pub mod customer_state;
pub mod rfm_table;
pub use rfm_table::RfmTable;
