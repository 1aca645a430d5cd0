//! Physical operators: the fused per-customer `rfm()` operator.

pub mod rfm_exec;
