//! Exact, order-independent summation: [`clv_models::exact_sum`], re-exported where the RFM
//! cut points use it.

pub use clv_models::exact_sum::{ExactSum, exact_sum};
