//! # clv
//!
//! Customer-value analytics inside Apache DataFusion: RFM scores and segments today; LTV
//! models, churn and cohorts as they land. This facade re-exports [`clv_core`]; add
//! `use clv::prelude::*;` and call [`register_all`] on your `SessionContext`.
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread")] async fn main() -> datafusion::common::Result<()> {
//! use clv::prelude::*;
//! use datafusion::prelude::*;
//! let ctx = SessionContext::new();
//! clv::register_all(&ctx)?;
//! ctx.sql("CREATE TABLE orders (customer_id INT, order_date DATE, amount DOUBLE) AS VALUES
//!          (1, DATE '2024-01-05', 20.0), (2, DATE '2024-03-01', 35.5)").await?;
//! let rfm = Rfm::new().as_of("2024-03-31").scheme("none").dataframe(&ctx, "orders").await?;
//! assert_eq!(rfm.count().await?, 2);
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
pub use clv_core::*;

/// The names most programs need.
pub mod prelude {
    pub use clv_core::{
        BtydSummary, ChurnLabels, ChurnRisk, ClvCompare, ClvOptions, ClvPredict, ClvTracking, CohortRetention,
        Collapse, Direction, InvalidAmounts, Lifecycle, Monetary, NegativeAmounts, PolicyReport, Rfm, RfmTable,
        SchemeRegistry, ScoreMethod, SegmentEvaluation, SegmentGrid, SegmentScheme, TimeUnit, TransactionSource,
        register_all, register_scheme,
    };
}
