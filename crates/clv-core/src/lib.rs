//! # clv-core
//!
//! Customer-value analytics inside Apache DataFusion: RFM summaries, scores and segments as SQL
//! functions, table functions and a Rust API over any table or Parquet files.
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread")] async fn main() -> datafusion::common::Result<()> {
//! use datafusion::prelude::*;
//! let ctx = SessionContext::new();
//! clv_core::register_all(&ctx)?;
//! ctx.sql("CREATE TABLE orders (customer_id INT, order_date DATE, amount DOUBLE) AS VALUES
//!          (1, DATE '2024-01-05', 20.0), (1, DATE '2024-03-01', 35.5), (2, DATE '2024-02-10', 12.0)").await?;
//! let df = ctx.sql("SELECT customer_id, recency_days, frequency, monetary FROM rfm('orders') ORDER BY customer_id").await?;
//! let batches = df.collect().await?;
//! assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
//! # Ok(()) }
//! ```
//!
//! Layout: [`rfm`] and [`churn`] hold the pure kernels; [`config`] the `clv.` session options;
//! [`segment`] the segment-evaluation kernels (panel, labellers, metrics, grids, concentration);
//! [`udf`] the row-level SQL functions; [`plan`] builds the logical plans; [`exec`] the physical
//! operators; [`table`] the [`table::RfmTable`] provider; [`udtf`] the table functions; [`api`]
//! the builders; [`registry`] the one list of functions. docs/architecture.md has the layers.

#![deny(unsafe_code)]
#![deny(missing_docs)]
pub mod api;
pub mod churn;
pub mod common;
/// The model mathematics, from the [`clv_models`] crate (no DataFusion).
pub use clv_models as ltv;
pub mod config;
pub mod error;
pub mod exec;
pub mod plan;
pub mod registry;
pub mod rfm;
pub mod scheme_file;
pub mod segment;
pub mod table;
pub mod udf;
pub mod udtf;

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::execution::FunctionRegistry;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::SessionContext;

pub use api::{
    BtydSummary, ChurnLabels, ChurnRisk, ClvCompare, ClvPredict, ClvTracking, CohortRetention, Lifecycle, Rfm,
    RfmState, SegmentEvaluation, SegmentGrid,
};
pub use config::{ClvOptions, Collapse, IdType, InvalidAmounts, Monetary, NegativeAmounts, TimeUnit};
pub use error::{ClvError, ErrorKind};
pub use exec::customer_state::CustomerState;
pub use plan::report::PolicyReport;
pub use plan::source::TransactionSource;
pub use registry::{ClvFunction, FunctionKind};
pub use rfm::{Direction, SchemeRegistry, ScoreMethod, SegmentScheme};
pub use table::RfmTable;

/// Registers every clv function and the `clv.` session options on a context.
pub fn register_all(ctx: &SessionContext) -> Result<()> {
    let state = ctx.state_ref();
    register_all_on_state(&mut state.write())
}

/// Registers every clv function and the `clv.` session options on a session state.
pub fn register_all_on_state(state: &mut SessionState) -> Result<()> {
    for f in registry::functions() {
        match f {
            ClvFunction::Table(f, _) => {
                state.register_udtf(f.name(), Arc::clone(f.function()));
            }
            ClvFunction::Window(f) => {
                state.register_udwf(f)?;
            }
            ClvFunction::Aggregate(f) => {
                state.register_udaf(f)?;
            }
            ClvFunction::Scalar(f) => {
                state.register_udf(f)?;
            }
        }
    }
    let options = state.config_mut().options_mut();
    if options.extensions.get::<ClvOptions>().is_none() {
        options.extensions.insert(ClvOptions::default());
    }
    Ok(())
}

/// Adds every clv function and the `clv.` session options to a state builder (appending to,
/// not replacing, the functions it already has).
pub fn register_all_on_builder(mut builder: SessionStateBuilder) -> SessionStateBuilder {
    for f in registry::functions() {
        match f {
            ClvFunction::Table(f, _) => {
                let tables = builder.table_functions().get_or_insert_with(Default::default);
                tables.insert(f.name().to_string(), f);
            }
            ClvFunction::Window(f) => builder.window_functions().get_or_insert_with(Vec::new).push(f),
            ClvFunction::Aggregate(f) => builder.aggregate_functions().get_or_insert_with(Vec::new).push(f),
            ClvFunction::Scalar(f) => builder.scalar_functions().get_or_insert_with(Vec::new).push(f),
        }
    }
    let config = builder.config().get_or_insert_with(Default::default);
    if config.options().extensions.get::<ClvOptions>().is_none() {
        config.options_mut().extensions.insert(ClvOptions::default());
    }
    builder
}

/// Makes a segment scheme usable by name in SQL (`rfm_segment(r, f, m, 'name')`, `rfm(..., 'scheme=name')`)
/// by re-registering `rfm_segment` with it.
pub fn register_scheme(ctx: &SessionContext, scheme: SegmentScheme) -> Result<()> {
    let state = ctx.state();
    let mut schemes = plan::rfm::RfmFunctions::from_session(&state).schemes();
    schemes.register(scheme)?;
    ctx.register_udf(ScalarUDF::from(udf::rfm_segment::RfmSegment::new(schemes)));
    Ok(())
}
