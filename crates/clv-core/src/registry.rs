//! The one list of clv functions. Every registration path reads [`functions`]:
//! [`crate::register_all`] and its state and builder variants, the Ballista scheduler and
//! executors (`clv-ballista`), the SQL shell's `\d` (`clv-cli`) and the documentation check
//! (`tests/docs.rs`). Adding a function means adding it here, once.

use std::sync::Arc;

use datafusion::catalog::TableFunction;
use datafusion::logical_expr::{AggregateUDF, Documentation, ScalarUDF, WindowUDF};

use crate::udf::*;
use crate::udtf::{self, ClvTableFunction};

/// What kind of function a clv function is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FunctionKind {
    /// A table function (`SELECT * FROM rfm('orders')`).
    Table,
    /// A window function (`rfm_score(...) OVER (...)`).
    Window,
    /// An aggregate function (`bgnbd_fit(x, t_x, t)`).
    Aggregate,
    /// A scalar function (`rfm_segment(r, f, m)`).
    Scalar,
}

impl FunctionKind {
    /// `table`, `window`, `aggregate` or `scalar`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Table => "table",
            Self::Window => "window",
            Self::Aggregate => "aggregate",
            Self::Scalar => "scalar",
        }
    }
}

impl std::fmt::Display for FunctionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One clv function, of any kind.
#[derive(Debug, Clone)]
pub enum ClvFunction {
    /// A table function, with its reference entry (DataFusion's table functions carry none).
    Table(Arc<TableFunction>, &'static Documentation),
    /// A window function.
    Window(Arc<WindowUDF>),
    /// An aggregate function.
    Aggregate(Arc<AggregateUDF>),
    /// A scalar function.
    Scalar(Arc<ScalarUDF>),
}

impl ClvFunction {
    /// The SQL name.
    pub fn name(&self) -> &str {
        match self {
            Self::Table(f, _) => f.name(),
            Self::Window(f) => f.name(),
            Self::Aggregate(f) => f.name(),
            Self::Scalar(f) => f.name(),
        }
    }

    /// The kind.
    pub fn kind(&self) -> FunctionKind {
        match self {
            Self::Table(..) => FunctionKind::Table,
            Self::Window(_) => FunctionKind::Window,
            Self::Aggregate(_) => FunctionKind::Aggregate,
            Self::Scalar(_) => FunctionKind::Scalar,
        }
    }

    /// The reference entry: what it does, its syntax and its arguments. Every clv function
    /// has one.
    pub fn documentation(&self) -> Option<&Documentation> {
        match self {
            Self::Table(_, d) => Some(d),
            Self::Window(f) => f.documentation(),
            Self::Aggregate(f) => f.documentation(),
            Self::Scalar(f) => f.documentation(),
        }
    }
}

fn table<T: ClvTableFunction>() -> ClvFunction {
    let function = TableFunction::new(T::NAME.to_string(), Arc::new(T::default()));
    ClvFunction::Table(Arc::new(function), T::documentation())
}

/// Every clv function, in the order the SQL shell lists them: table, window, aggregate, scalar.
pub fn functions() -> Vec<ClvFunction> {
    let mut out = vec![
        table::<udtf::rfm::RfmTableFunction>(),
        table::<udtf::policy_report::PolicyReportTableFunction>(),
        table::<udtf::btyd_summary::BtydSummaryTableFunction>(),
        table::<udtf::cohort_retention::CohortRetentionTableFunction>(),
        table::<udtf::lifecycle::LifecycleTableFunction>(),
        table::<udtf::lifecycle::LifecycleTransitionsTableFunction>(),
        table::<udtf::churn_labels::ChurnLabelsTableFunction>(),
        table::<udtf::churn_evaluate::ChurnEvaluateTableFunction>(),
        table::<udtf::churn_evaluate::ChurnCalibrationTableFunction>(),
        table::<udtf::churn_features::ChurnFeaturesTableFunction>(),
        table::<udtf::churn_model::ChurnModelTableFunction>(),
        table::<udtf::churn_risk::ChurnRiskTableFunction>(),
        table::<udtf::churn_contacts::ChurnContactsTableFunction>(),
        table::<udtf::clv_predict::ClvPredictTableFunction>(),
        table::<udtf::clv_predict::ClvModelTableFunction>(),
        table::<udtf::segment_evaluate::SegmentEvaluateTableFunction>(),
        table::<udtf::segment_metrics::SegmentMetricsTableFunction>(),
        table::<udtf::segment_outcomes::SegmentOutcomesTableFunction>(),
        table::<udtf::segment_tune::SegmentTuneTableFunction>(),
        table::<udtf::rfm_transitions::RfmTransitionsTableFunction>(),
        table::<udtf::segment_series::SegmentSeriesTableFunction>(),
        table::<udtf::value_concentration::ValueConcentrationTableFunction>(),
        table::<udtf::rfm_clusters::RfmClustersTableFunction>(),
        table::<udtf::rfm_cluster_profiles::RfmClusterProfilesTableFunction>(),
        table::<udtf::segment_schemes::SegmentSchemesTableFunction>(),
        table::<udtf::clv_parameters::ClvParametersTableFunction>(),
        table::<udtf::clv_compare::ClvCompareTableFunction>(),
        table::<udtf::clv_tracking::ClvTrackingTableFunction>(),
        ClvFunction::Window(rfm_score::rfm_score_udwf()),
        ClvFunction::Window(ltv_intervals::ltv_intervals_udwf()),
    ];
    out.extend(
        model_fit::model_fit_udafs()
            .into_iter()
            .chain(covariates_fit::covariates_fit_udafs())
            .chain([
                churn_auc::churn_auc_udaf(),
                churn_metrics::churn_metrics_udaf(),
                churn_model_fit::churn_model_fit_udaf(),
                kmeans_fit::kmeans_fit_udaf(),
                segmentation_score::segmentation_score_udaf(),
                ltv_bootstrap::ltv_bootstrap_udaf(),
                ltv_compare::ltv_compare_udaf(),
                tracking_expected::tracking_expected_udaf(),
            ])
            .map(ClvFunction::Aggregate),
    );
    out.extend(
        model_predictions::model_prediction_udfs()
            .into_iter()
            .chain(clv_value::clv_udfs())
            .chain([
                rfm_segment::rfm_segment_udf(),
                rfm_cell::rfm_cell_udf(),
                lifecycle_stage::lifecycle_stage_udf(),
                is_churned::is_churned_udf(),
                churn_model_score::churn_model_score_udf(),
                clv_period_index::clv_period_index_udf(),
                clv_period_start::clv_period_start_udf(),
                clv_check::clv_check_udf(),
                kmeans_assign::kmeans_assign_udf(),
                clv_cutoff_features::clv_cutoff_features_udf(),
                dert::dert_udf(),
                customer_model::customer_model_udf(),
                likelihood_ratio_test::likelihood_ratio_test_udf(),
            ])
            .map(ClvFunction::Scalar),
    );
    out
}
