//! Helpers every layer may use: dates, the contract's column types, the documentation
//! sections of the SQL reference.

pub mod constant;
pub mod dates;
pub mod doc;
pub mod types;
