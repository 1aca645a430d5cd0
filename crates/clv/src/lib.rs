pub use clv_core::*;
