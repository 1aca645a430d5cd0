//! Churn and retention kernels: calendar periods.

pub mod calendar;

pub use calendar::Period;
