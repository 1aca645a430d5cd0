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
//! Layout: [`rfm`] holds the pure kernels (scoring, segment schemes); [`plan`] builds the
//! logical plans; [`functions`] is the SQL surface, one function per file; [`table`] holds the
//! [`table::RfmTable`] provider; [`config`] the `clv.` session options; [`api`] the builders.

pub mod api;
pub mod churn;
/// The model mathematics, from the [`clv_models`] crate (no DataFusion).
pub use clv_models as ltv;
pub mod config;
pub mod functions;
pub mod plan;
pub mod rfm;
pub mod table;

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::common::Result;
use datafusion::execution::FunctionRegistry;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::{ScalarUDF, WindowUDF};
use datafusion::prelude::SessionContext;

pub use api::{BtydSummary, ChurnLabels, Rfm};
pub use config::{ClvOptions, Collapse, InvalidAmounts, Monetary, NegativeAmounts, TimeUnit};
pub use plan::report::PolicyReport;
pub use plan::source::TransactionSource;
pub use rfm::{Direction, SchemeRegistry, ScoreMethod, SegmentScheme};
pub use table::RfmTable;

pub(crate) use clv_models::cores;

/// Every clv scalar function, with `rfm_segment` knowing the built-in schemes.
pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    vec![
        functions::rfm_segment::rfm_segment_udf(),
        functions::rfm_cell::rfm_cell_udf(),
        functions::clv_check::clv_check_udf(),
        functions::clv_period_index::clv_period_index_udf(),
        functions::clv_period_start::clv_period_start_udf(),
        functions::lifecycle_stage::lifecycle_stage_udf(),
        functions::is_churned::is_churned_udf(),
        functions::dert::dert_udf(),
        functions::likelihood_ratio_test::likelihood_ratio_test_udf(),
        functions::customer_model::customer_model_udf(),
    ]
    .into_iter()
    .chain(functions::model_predictions::model_prediction_udfs())
    .chain(functions::clv_value::clv_udfs())
    .collect()
}

/// Every clv aggregate function: the model fits and `churn_auc`.
pub fn aggregate_functions() -> Vec<Arc<datafusion::logical_expr::AggregateUDF>> {
    let mut fns = functions::model_fit::model_fit_udafs();
    fns.push(functions::churn_auc::churn_auc_udaf());
    fns.push(functions::ltv_bootstrap::ltv_bootstrap_udaf());
    fns.push(functions::ltv_compare::ltv_compare_udaf());
    fns.push(functions::tracking_expected::tracking_expected_udaf());
    fns.extend(functions::covariates_fit::covariates_fit_udafs());
    fns
}

/// Every clv window function.
pub fn window_functions() -> Vec<Arc<WindowUDF>> {
    vec![
        functions::rfm_score::rfm_score_udwf(),
        functions::ltv_intervals::ltv_intervals_udwf(),
    ]
}

/// Every clv table function with its SQL name.
pub fn table_functions() -> Vec<(&'static str, Arc<dyn TableFunctionImpl>)> {
    use functions::{
        btyd_summary_table::BtydSummaryTableFunction as Btyd,
        churn_evaluate_table::ChurnEvaluateTableFunction as ChurnEvaluate,
        churn_labels_table::ChurnLabelsTableFunction as ChurnLabels,
        clv_compare_table::{ClvCompareTableFunction as Compare, ClvParametersTableFunction as Parameters},
        clv_predict_table::{ClvModelTableFunction as ClvModel, ClvPredictTableFunction as ClvPredict},
        clv_tracking_table::ClvTrackingTableFunction as Tracking,
        cohort_retention_table::CohortRetentionTableFunction as Cohort,
        lifecycle_table::LifecycleTableFunction as Lifecycle,
        lifecycle_table::LifecycleTransitionsTableFunction as Moves,
        policy_report_table::PolicyReportTableFunction as Report,
        rfm_table::RfmTableFunction as Rfm,
    };
    vec![
        ("rfm", Arc::new(Rfm)),
        ("clv_policy_report", Arc::new(Report)),
        ("btyd_summary", Arc::new(Btyd)),
        ("cohort_retention", Arc::new(Cohort)),
        ("lifecycle", Arc::new(Lifecycle)),
        ("lifecycle_transitions", Arc::new(Moves)),
        ("clv_predict", Arc::new(ClvPredict)),
        ("clv_model", Arc::new(ClvModel)),
        ("clv_tracking", Arc::new(Tracking)),
        ("clv_compare", Arc::new(Compare)),
        ("clv_parameters", Arc::new(Parameters)),
        ("churn_labels", Arc::new(ChurnLabels)),
        ("churn_evaluate", Arc::new(ChurnEvaluate)),
    ]
}

/// Registers every clv function and the `clv.` session options on a context.
pub fn register_all(ctx: &SessionContext) -> Result<()> {
    let state = ctx.state_ref();
    register_all_on_state(&mut state.write())
}

/// Registers every clv function and the `clv.` session options on a session state.
pub fn register_all_on_state(state: &mut SessionState) -> Result<()> {
    for f in scalar_functions() {
        state.register_udf(f)?;
    }
    for f in window_functions() {
        state.register_udwf(f)?;
    }
    for f in aggregate_functions() {
        state.register_udaf(f)?;
    }
    for (name, f) in table_functions() {
        state.register_udtf(name, f);
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
    builder
        .scalar_functions()
        .get_or_insert_with(Vec::new)
        .extend(scalar_functions());
    builder
        .window_functions()
        .get_or_insert_with(Vec::new)
        .extend(window_functions());
    let tables = builder.table_functions().get_or_insert_with(Default::default);
    for (name, f) in table_functions() {
        tables.insert(
            name.to_string(),
            Arc::new(datafusion::catalog::TableFunction::new(name.to_string(), f)),
        );
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
    ctx.register_udf(ScalarUDF::from(functions::rfm_segment::RfmSegment::new(schemes)));
    Ok(())
}
