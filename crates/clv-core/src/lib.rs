//! clv-core: customer-value analytics inside Apache DataFusion.
pub mod rfm;
