//! Churn and retention kernels: calendar periods.

pub mod calendar;
pub mod lifecycle;

pub use calendar::Period;
pub use lifecycle::{Stage, StageWindows};
