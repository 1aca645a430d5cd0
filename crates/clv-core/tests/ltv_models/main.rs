//! The LTV model kernels against the published results, simulations, extreme inputs,
//! serialization and CLV (one test binary, one link).

#![allow(non_snake_case)]

mod batch;
mod clv;
mod common;
mod published;
mod robustness;
mod serde_roundtrip;
mod simulation;
mod standard_errors;
