//! Segmentations over time: the per-customer purchase panel with the features and outcomes at
//! any cutoff, segmentations and their evaluation against the future, tuning grids and value
//! concentration. Kernels: no I/O, no DataFusion plans.

pub mod concentration;
pub mod evaluate;
pub mod grid;
pub mod panel;
pub mod segmentation;
