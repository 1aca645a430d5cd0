//! Every table function has a Rust builder that mirrors its SQL arguments one for one: the
//! builder and the SQL call give the same rows.

mod common;

use clv_core::churn::Period;
use clv_core::plan::report::PolicyReport;
use clv_core::{
    BtydSummary, ChurnLabels, ChurnRisk, ClvCompare, ClvPredict, ClvTracking, CohortRetention, Collapse, Lifecycle,
    NegativeAmounts, Rfm, SchemeRegistry, ScoreMethod, SegmentEvaluation, SegmentGrid, TimeUnit,
};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::common::Result;
use datafusion::dataframe::DataFrame;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/cdnow_sample.parquet");

/// The table of docs/sql-reference.md and the CDNOW sample.
async fn context() -> Result<SessionContext> {
    let ctx = common::context(2)?;
    common::query(
        &ctx,
        "CREATE TABLE tx (customer_id INT, order_date DATE, amount DOUBLE) AS VALUES
           (1, DATE '2024-01-01', 10.0), (1, DATE '2024-01-10', 20.0), (2, DATE '2024-01-03', 15.0),
           (2, DATE '2024-01-05', -5.0), (3, DATE '2024-01-20', 80.0), (3, DATE '2024-01-25', 40.0),
           (3, DATE '2024-01-28', 60.0), (4, DATE '2023-12-01', 5.0), (5, DATE '2024-01-29', 0.0),
           (5, DATE '2024-01-29', 0.0)",
    )
    .await?;
    ctx.register_parquet("sample", SAMPLE, ParquetReadOptions::default())
        .await?;
    Ok(ctx)
}

/// The rows as text, header first, rows sorted (row order is unspecified).
fn rows(batches: &[RecordBatch]) -> Vec<String> {
    let text = pretty_format_batches(batches).unwrap().to_string();
    let mut lines: Vec<String> = text.lines().filter(|l| l.starts_with('|')).map(String::from).collect();
    assert!(lines.len() > 1, "no rows:\n{text}");
    let header = lines.remove(0);
    lines.sort();
    lines.insert(0, header);
    lines
}

async fn same(ctx: &SessionContext, builder: DataFrame, sql: &str) -> Result<()> {
    let built = rows(&builder.collect().await?);
    let queried = rows(&common::query(ctx, sql).await?);
    assert_eq!(built, queried, "{sql}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn rfm_and_the_policy_report() -> Result<()> {
    let ctx = context().await?;
    let rfm = Rfm::new()
        .as_of("2024-01-31")
        .bins(3)
        .method(ScoreMethod::Ntile)
        .scheme("none")
        .negative_amounts(NegativeAmounts::Exclude);
    same(
        &ctx,
        rfm.dataframe(&ctx, "tx").await?,
        "SELECT * FROM rfm('tx', '2024-01-31', 3, 'ntile', 'none', 'negative_amounts=exclude')",
    )
    .await?;
    let report = Rfm::new()
        .as_of("2024-01-25")
        .dedupe(true)
        .policy_report(&ctx, "tx")
        .await?;
    let sql = common::query(
        &ctx,
        "SELECT * FROM clv_policy_report('tx', '2024-01-25', 'dedupe=true')",
    )
    .await?;
    assert_eq!(report, PolicyReport::from_batches(&sql)?);
    assert_eq!(report.duplicate_rows, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn btyd_summary_cohorts_and_lifecycle() -> Result<()> {
    let ctx = context().await?;
    let summary = BtydSummary::new()
        .calibration_end("2024-01-21")
        .time_unit(TimeUnit::Day)
        .holdout_end("2024-01-31")
        .collapse(Collapse::Week);
    same(
        &ctx,
        summary.dataframe(&ctx, "tx").await?,
        "SELECT * FROM btyd_summary('tx', '2024-01-21', 'day', '2024-01-31', 'collapse=week')",
    )
    .await?;
    let cohorts = CohortRetention::new().period(Period::Quarter).dedupe(true);
    same(
        &ctx,
        cohorts.dataframe(&ctx, "tx").await?,
        "SELECT * FROM cohort_retention('tx', 'quarter', 'dedupe=true')",
    )
    .await?;
    let lifecycle = Lifecycle::new().as_of("2024-01-31").new_days(10);
    same(
        &ctx,
        lifecycle.dataframe(&ctx, "tx").await?,
        "SELECT * FROM lifecycle('tx', '2024-01-31', 'new_days=10')",
    )
    .await?;
    let moves = Lifecycle::new().active_days(20).churn_days(40);
    same(
        &ctx,
        moves.transitions(&ctx, "tx", "2024-01-15", "2024-01-31").await?,
        "SELECT * FROM lifecycle_transitions('tx', '2024-01-15', '2024-01-31', 'active_days=20', 'churn_days=40')",
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn churn_labels_and_evaluation() -> Result<()> {
    let ctx = context().await?;
    let labels = ChurnLabels::new()
        .cutoffs("2024-01-15,2024-01-25")
        .window_days(5)
        .option("bins", "3")
        .option("scheme", "none");
    same(
        &ctx,
        labels.dataframe(&ctx, "tx").await?,
        "SELECT * FROM churn_labels('tx', '2024-01-15,2024-01-25', 5, 'bins=3', 'scheme=none')",
    )
    .await?;
    let evaluate = ChurnLabels::new()
        .cutoffs("1997-09-30")
        .window_days(90)
        .customer_column("master_customer_id");
    same(
        &ctx,
        evaluate.evaluate(&ctx, "sample").await?,
        "SELECT * FROM churn_evaluate('sample', '1997-09-30', 90, 'customer_column=master_customer_id')",
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_trained_churn_model() -> Result<()> {
    let ctx = context().await?;
    let risk = ChurnRisk::new()
        .cutoff("1997-09-30")
        .window_days(60)
        .train_periods(3)
        .lambda(0.03)
        .thresholds(0.85, 0.6)
        .customer_column("master_customer_id")
        .option("horizon", "26");
    let args = "'1997-09-30', 60, 'train_periods=3', 'lambda=0.03', 'high_risk=0.85', 'medium_risk=0.6', \
                'customer_column=master_customer_id', 'horizon=26'";
    same(
        &ctx,
        risk.dataframe(&ctx, "sample").await?,
        &format!("SELECT * FROM churn_risk('sample', {args})"),
    )
    .await?;
    same(
        &ctx,
        risk.contacts(&ctx, "sample").await?,
        &format!("SELECT * FROM churn_contacts('sample', {args})"),
    )
    .await?;
    same(
        &ctx,
        risk.model_table(&ctx, "sample").await?,
        &format!("SELECT * FROM churn_model('sample', {args})"),
    )
    .await?;
    let evaluation = ChurnRisk::new()
        .cutoffs("1997-06-30,1997-09-30")
        .window_days(60)
        .train_periods(3)
        .customer_column("master_customer_id");
    let args = "'1997-06-30,1997-09-30', 60, 'train_periods=3', 'customer_column=master_customer_id'";
    same(
        &ctx,
        evaluation.features(&ctx, "sample").await?,
        &format!("SELECT * FROM churn_features('sample', {args})"),
    )
    .await?;
    same(
        &ctx,
        evaluation.evaluate(&ctx, "sample").await?,
        &format!("SELECT * FROM churn_evaluate('sample', {args})"),
    )
    .await?;
    same(
        &ctx,
        evaluation.calibration(&ctx, "sample").await?,
        &format!("SELECT * FROM churn_calibration('sample', {args})"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn clv_predictions_and_models() -> Result<()> {
    let ctx = context().await?;
    let predict = ClvPredict::new()
        .calibration_end("1997-09-30")
        .horizon(39.0)
        .customer_column("master_customer_id")
        .model("pareto_nbd")
        .discount_rate(0.01)
        .margin(0.3);
    same(
        &ctx,
        predict.dataframe(&ctx, "sample").await?,
        "SELECT * FROM clv_predict('sample', '1997-09-30', 39, 'customer_column=master_customer_id', \
         'model=pareto_nbd', 'discount_rate=0.01', 'margin=0.3')",
    )
    .await?;
    let models = ClvPredict::new()
        .calibration_end("1997-09-30")
        .customer_column("master_customer_id")
        .time_unit(TimeUnit::Day);
    same(
        &ctx,
        models.models(&ctx, "sample").await?,
        "SELECT * FROM clv_model('sample', '1997-09-30', 'customer_column=master_customer_id', 'time_unit=day')",
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn segment_evaluation_tuning_migration_and_clusters() -> Result<()> {
    let ctx = context().await?;
    let e = SegmentEvaluation::new()
        .cutoffs("1997-06-30,1997-09-30")
        .window_days(273)
        .scheme("rfm11")
        .customer_column("master_customer_id");
    let c = "'customer_column=master_customer_id'";
    same(
        &ctx,
        e.segments(&ctx, "sample").await?,
        &format!("SELECT * FROM segment_evaluate('sample', '1997-06-30,1997-09-30', 273, 'scheme=rfm11', {c})"),
    )
    .await?;
    same(
        &ctx,
        e.metrics(&ctx, "sample").await?,
        &format!("SELECT * FROM segment_metrics('sample', '1997-06-30,1997-09-30', 273, 'scheme=rfm11', {c})"),
    )
    .await?;
    same(
        &ctx,
        e.outcomes(&ctx, "sample").await?,
        &format!("SELECT * FROM segment_outcomes('sample', '1997-06-30,1997-09-30', 273, {c})"),
    )
    .await?;
    let grid = SegmentGrid::new().schemes("rfm11,cell").bins("3").rank_by("stability");
    same(
        &ctx,
        e.tune(&ctx, "sample", &grid).await?,
        &format!(
            "SELECT * FROM segment_tune('sample', '1997-06-30,1997-09-30', 273, 'scheme=rfm11', {c}, \
             'schemes=rfm11,cell', 'bins=3', 'rank_by=stability')"
        ),
    )
    .await?;
    same(
        &ctx,
        e.transitions(&ctx, "sample", "1997-06-30", "1997-09-30").await?,
        &format!("SELECT * FROM rfm_transitions('sample', '1997-06-30', '1997-09-30', 'scheme=rfm11', {c})"),
    )
    .await?;
    same(
        &ctx,
        e.series(&ctx, "sample").await?,
        &format!("SELECT * FROM segment_series('sample', '1997-06-30,1997-09-30', 'scheme=rfm11', {c})"),
    )
    .await?;
    same(
        &ctx,
        Rfm::new()
            .as_of("2024-01-31")
            .lookback_days(20)
            .concentration(&ctx, "tx")
            .await?,
        "SELECT * FROM value_concentration('tx', '2024-01-31', 'lookback_days=20')",
    )
    .await?;
    let k = Rfm::new().as_of("2024-01-31").option("k", "2");
    same(
        &ctx,
        k.clusters(&ctx, "tx").await?,
        "SELECT * FROM rfm_clusters('tx', '2024-01-31', 2)",
    )
    .await?;
    same(
        &ctx,
        k.cluster_profiles(&ctx, "tx").await?,
        "SELECT * FROM rfm_cluster_profiles('tx', '2024-01-31', 2)",
    )
    .await?;
    // segment_schemes has no builder: the scheme registry holds the same rules.
    let registry = SchemeRegistry::new();
    let tiers = registry.get("tiers_en")?;
    let mut labels: Vec<String> = tiers.definition().rules.iter().map(|r| r.label.clone()).collect();
    labels.extend(tiers.definition().default.clone());
    let sql = common::query(
        &ctx,
        "SELECT label FROM segment_schemes('tiers_en') ORDER BY rule NULLS LAST",
    )
    .await?;
    let text = pretty_format_batches(&sql).unwrap().to_string();
    let shown: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with('|'))
        .skip(1)
        .map(|l| l.trim_matches('|').trim().to_string())
        .collect();
    assert_eq!(shown, labels);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn clv_parameters_compare_and_tracking() -> Result<()> {
    let ctx = context().await?;
    let parameters = ClvPredict::new()
        .calibration_end("1997-09-30")
        .customer_column("master_customer_id")
        .intervals(0.8)
        .replicates(10)
        .seed(3)
        .interval_method(clv_core::ltv::bootstrap::IntervalMethod::BiasCorrected);
    same(
        &ctx,
        parameters.parameters(&ctx, "sample").await?,
        "SELECT * FROM clv_parameters('sample', '1997-09-30', 'customer_column=master_customer_id', \
         'intervals=0.8', 'replicates=10', 'seed=3', 'interval_method=bias_corrected')",
    )
    .await?;
    let compare = ClvCompare::new()
        .calibration_end("1997-09-30")
        .holdout_end("1998-06-30")
        .customer_column("master_customer_id")
        .candidates(&["bg_nbd", "pareto_nbd"])
        .penalizers(&[0.0, 0.01]);
    same(
        &ctx,
        compare.dataframe(&ctx, "sample").await?,
        "SELECT * FROM clv_compare('sample', '1997-09-30', '1998-06-30', 'customer_column=master_customer_id', \
         'models=bg_nbd,pareto_nbd', 'penalizers=0,0.01')",
    )
    .await?;
    let tracking = ClvTracking::new()
        .calibration_end("1997-09-30")
        .holdout_end("1998-06-30")
        .tracking_period(28)
        .customer_column("master_customer_id")
        .model("mbg_nbd");
    same(
        &ctx,
        tracking.dataframe(&ctx, "sample").await?,
        "SELECT * FROM clv_tracking('sample', '1997-09-30', '1998-06-30', 28, 'customer_column=master_customer_id', \
         'model=mbg_nbd')",
    )
    .await
}

/// Every table function of the registry is compared with its builder above.
#[test]
fn every_table_function_has_a_builder_case() {
    let cases = include_str!("builders.rs");
    for f in clv_core::registry::functions() {
        if f.kind() == clv_core::FunctionKind::Table {
            assert!(
                cases.contains(&format!("FROM {}('", f.name())),
                "add a builder case for {}",
                f.name()
            );
        }
    }
}
