//! Helpers every layer may use: the documentation sections of the SQL reference.

pub mod doc;
