//! Table providers.
pub mod rfm_table;
pub use rfm_table::RfmTable;
