//! Physical operators: the fused per-customer `rfm()` operator and its pass over the rows.

pub mod rfm_exec;
mod rfm_rows;
