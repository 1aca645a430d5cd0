//! Churn and retention kernels: calendar periods, lifecycle stages, cutoffs, per-cutoff features,
//! evaluation.

pub mod calendar;
pub mod cutoffs;
pub mod evaluate;
pub mod features;
pub mod lifecycle;
pub mod metrics;

pub use calendar::Period;
pub use cutoffs::parse_cutoffs;
pub use evaluate::ScoreCounts;
pub use lifecycle::{Stage, StageWindows};
pub use metrics::{ChurnMetrics, churn_metrics};
