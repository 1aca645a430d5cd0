//! RFM kernels: scoring one dimension, segment schemes, exact sums. No I/O, no DataFusion plans.

pub mod customers;
pub mod diagnostics;
pub mod exact_sum;
// The one module with `unsafe`: memory-mapped buffers (see its documentation).
#[allow(unsafe_code)]
pub mod mapped;
pub mod score;
pub mod segment;

pub use score::{CutPoints, Direction, ScoreMethod, ScoreSpec, score_population};
pub use segment::{SchemeDefinition, SchemeRegistry, SegmentRule, SegmentScheme, cell_code};
