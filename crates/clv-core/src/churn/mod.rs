//! Churn and retention kernels: calendar periods, lifecycle stages, cutoffs, evaluation.

pub mod calendar;
pub mod cutoffs;
pub mod evaluate;
pub mod lifecycle;

pub use calendar::Period;
pub use cutoffs::parse_cutoffs;
pub use evaluate::ScoreCounts;
pub use lifecycle::{Stage, StageWindows};
