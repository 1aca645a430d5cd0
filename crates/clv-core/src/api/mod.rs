//! The Rust API: one builder per table function, mirroring its SQL arguments one for one.
//!
//! | SQL | builder |
//! |---|---|
//! | `rfm(source [, as_of [, bins [, method [, scheme]]]])` | [`Rfm::dataframe`] |
//! | `clv_policy_report(source [, as_of])` | [`Rfm::policy_report`] |
//! | `btyd_summary(source [, calibration_end [, time_unit [, holdout_end]]])` | [`BtydSummary::dataframe`] |
//! | `cohort_retention(source [, period])` | [`CohortRetention::dataframe`] |
//! | `lifecycle(source [, as_of])` | [`Lifecycle::dataframe`] |
//! | `lifecycle_transitions(source, from_date, to_date)` | [`Lifecycle::transitions`] |
//! | `churn_labels(source [, cutoffs [, window_days]])` | [`ChurnLabels::dataframe`] |
//! | `churn_evaluate(source [, cutoffs [, window_days]])` | [`ChurnLabels::evaluate`], [`ChurnRisk::evaluate`] |
//! | `churn_calibration(source [, cutoffs [, window_days]])` | [`ChurnRisk::calibration`] |
//! | `churn_features(source [, cutoffs [, window_days]])` | [`ChurnRisk::features`] |
//! | `churn_model(source, cutoff [, window_days])` | [`ChurnRisk::model_table`] ([`ChurnRisk::model`]: the fitted model) |
//! | `churn_risk(source, cutoff [, window_days])` | [`ChurnRisk::dataframe`] |
//! | `churn_contacts(source, cutoff [, window_days])` | [`ChurnRisk::contacts`] |
//! | `clv_predict(source [, calibration_end [, horizon]])` | [`ClvPredict::dataframe`] |
//! | `clv_model(source [, calibration_end])` | [`ClvPredict::models`] |
//! | `rfm_clusters(source [, as_of [, k]])`, `rfm(..., 'scheme=kmeans')` | [`Rfm::clusters`] |
//! | `rfm_cluster_profiles(source [, as_of [, k]])` | [`Rfm::cluster_profiles`] |
//! | `value_concentration(source [, as_of])` | [`Rfm::concentration`] |
//! | `segment_evaluate(source [, cutoffs [, window_days]])` | [`SegmentEvaluation::segments`] |
//! | `segment_metrics(source [, cutoffs [, window_days]])` | [`SegmentEvaluation::metrics`] |
//! | `segment_outcomes(source [, cutoffs [, window_days]])` | [`SegmentEvaluation::outcomes`] |
//! | `segment_tune(source [, cutoffs [, window_days]], 'schemes=..', ...)` | [`SegmentEvaluation::tune`] with a [`SegmentGrid`] |
//! | (no SQL function yet: the customer state of `rfm()`) | [`RfmState::build`], [`RfmState::refresh`], [`RfmState::rfm`] |
//! | `rfm_transitions(source, from_date, to_date)` | [`SegmentEvaluation::transitions`] |
//! | `segment_series(source [, cutoffs])` | [`SegmentEvaluation::series`] |
//!
//! `segment_schemes([name])` has no builder: [`crate::SchemeRegistry`] holds the same rules.
//! | `clv_parameters(source [, calibration_end])` | [`ClvPredict::parameters`] |
//! | `clv_compare(source, calibration_end [, holdout_end])` | [`ClvCompare::dataframe`] |
//! | `clv_tracking(source, calibration_end [, holdout_end [, tracking_period]])` | [`ClvTracking::dataframe`] |
//!
//! A positional argument is a setter of the same name; every `'name=value'` argument is
//! [`Rfm::option`] (on every builder) or its typed setter. Options left unset come from the
//! session, then the defaults, as in SQL.

mod btyd;
mod churn;
mod cohort;
mod lifecycle;
mod ltv;
mod rfm;
mod segment;
mod state;

pub use btyd::BtydSummary;
pub use churn::{ChurnLabels, ChurnRisk};
pub use cohort::CohortRetention;
pub use lifecycle::Lifecycle;
pub use ltv::{ClvCompare, ClvPredict, ClvTracking};
pub use rfm::Rfm;
pub use segment::{SegmentEvaluation, SegmentGrid};
pub use state::RfmState;

/// The plan `build` makes of `source` under `options`, as a DataFrame of the context's session.
async fn frame(
    ctx: &datafusion::prelude::SessionContext,
    source: crate::plan::source::TransactionSource,
    options: crate::config::ClvOptions,
    build: impl FnOnce(
        datafusion::logical_expr::LogicalPlan,
        &crate::config::ClvOptions,
        &datafusion::execution::session_state::SessionState,
    ) -> datafusion::common::Result<datafusion::logical_expr::LogicalPlan>,
) -> datafusion::common::Result<datafusion::dataframe::DataFrame> {
    let state = ctx.state();
    let plan = source.resolve(&state).await?;
    let plan = build(plan, &options, &state)?;
    Ok(datafusion::dataframe::DataFrame::new(state, plan))
}

/// A list argument as SQL writes it: `30,90,180`.
fn list(values: &[f64]) -> String {
    values.iter().map(f64::to_string).collect::<Vec<_>>().join(",")
}

/// Declares a builder: a struct of settings with what every builder shares: `new`, `option`
/// (any `'name=value'` argument), `options` (the session's options overridden by the
/// builder's) and the transaction-contract setters (same names as the SQL options).
macro_rules! builder {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default)]
        pub struct $name {
            settings: Vec<(String, String)>,
        }

        impl $name {
            $crate::api::contract_setters!();
        }
    };
}
pub(crate) use builder;

/// The methods [`builder!`] gives every builder.
macro_rules! contract_setters {
    () => {
        /// All options from the session.
        pub fn new() -> Self {
            Self::default()
        }

        fn set(mut self, key: &str, value: impl ToString) -> Self {
            self.settings.push((key.to_string(), value.to_string()));
            self
        }

        /// Any option by its SQL name, as the table function's `'name=value'` argument, e.g.
        /// `("bins", "4")` or `("model", "pareto_nbd")`.
        pub fn option(self, key: &str, value: &str) -> Self {
            self.set(key, value)
        }

        /// The effective options: the session's, overridden by this builder's.
        pub fn options(
            &self,
            ctx: &datafusion::prelude::SessionContext,
        ) -> datafusion::common::Result<$crate::config::ClvOptions> {
            let mut o = $crate::config::ClvOptions::from_context(ctx)?;
            for (k, v) in &self.settings {
                o.set_option(k, v)?;
            }
            Ok(o)
        }

        /// Customer id column (default `customer_id`).
        pub fn customer_column(self, name: &str) -> Self {
            self.set("customer_column", name)
        }

        /// Time column (default `order_date`).
        pub fn time_column(self, name: &str) -> Self {
            self.set("time_column", name)
        }

        /// Amount column (default `amount`).
        pub fn amount_column(self, name: &str) -> Self {
            self.set("amount_column", name)
        }

        /// Order id column: frequency counts distinct orders (default none).
        pub fn order_column(self, name: &str) -> Self {
            self.set("order_column", name)
        }

        /// As-of date `YYYY-MM-DD` (default: the day after the last transaction).
        pub fn as_of(self, date: &str) -> Self {
            self.set("as_of", date)
        }

        /// Null/NaN/infinite amounts (default exclude).
        pub fn invalid_amounts(self, policy: $crate::config::InvalidAmounts) -> Self {
            self.set("invalid_amounts", policy)
        }

        /// Negative amounts (default net).
        pub fn negative_amounts(self, policy: $crate::config::NegativeAmounts) -> Self {
            self.set("negative_amounts", policy)
        }

        /// Drop exact duplicate rows (default false).
        pub fn dedupe(self, on: bool) -> Self {
            self.set("dedupe", on)
        }

        /// Purchase grain (default none).
        pub fn collapse(self, grain: $crate::config::Collapse) -> Self {
            self.set("collapse", grain)
        }
    };
}
pub(crate) use contract_setters;
