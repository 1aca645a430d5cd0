//! `clv segments`: a segmentation evaluated against the future, migration between two dates,
//! segment series over time and k-means clusters.

use clv::churn::Period;
use clv::common::dates::{format_date, parse_date};

use super::rfm::register_schemes;
use super::{Job, literal};
use crate::cli::GlobalArgs;
use crate::cli_segments::{ClustersArgs, EvaluateSegmentsArgs, SegmentTransitionsArgs, SegmentsCommand, SeriesArgs};
use crate::columns::strings;
use crate::error::{CliError, Result};
use crate::output::{self, Emitted};

/// Runs `clv segments …`.
pub async fn run(global: &GlobalArgs, command: SegmentsCommand) -> Result<()> {
    match command {
        SegmentsCommand::Evaluate(a) => evaluate(global, a).await,
        SegmentsCommand::Transitions(a) => transitions(global, a).await,
        SegmentsCommand::Series(a) => series(global, a).await,
        SegmentsCommand::Clusters(a) => clusters(global, a).await,
    }
}

/// The last day of the data: the as-of date, else the date of the last transaction.
pub async fn data_end(job: &Job) -> Result<Option<i32>> {
    let o = crate::session::options(&job.ctx);
    if let Some(d) = o.as_of {
        return Ok(Some(d));
    }
    let time = format!("\"{}\"", o.time_column.replace('"', "\"\""));
    let b = job
        .sql(
            "data end",
            &format!(
                "SELECT CAST(CAST(max({time}) AS DATE) AS VARCHAR) AS last FROM {}",
                job.input.table
            ),
        )
        .await?;
    strings(&b, "last")?
        .into_iter()
        .next()
        .flatten()
        .map(|d| parse_date(&d, "the last transaction date"))
        .transpose()
        .map_err(CliError::from)
}

/// Sets `count` default cutoffs when none were given: the last month ends whose outcome
/// window ends by the data end. Returns the cutoffs used, as text.
pub async fn default_cutoffs(job: &Job, count: usize) -> Result<String> {
    let o = crate::session::options(&job.ctx);
    if let Some(c) = o.churn_cutoffs {
        return Ok(c);
    }
    let Some(end) = data_end(job).await? else {
        return Err(CliError::data("the input has no transactions, so there are no cutoffs"));
    };
    let last = end - o.churn_window_days as i32;
    let month = Period::Month;
    // The last month end on or before `last`.
    let mut index = month.index(last);
    if month.start(index + 1) - 1 > last {
        index -= 1;
    }
    let cutoffs: Vec<String> = (0..count as i32)
        .rev()
        .map(|k| format_date(month.start(index - k + 1) - 1))
        .collect();
    let text = cutoffs.join(",");
    crate::session::set_options(&job.ctx, &[("churn.cutoffs", Some(text.clone()))], "cutoffs")?;
    Ok(text)
}

async fn evaluate(global: &GlobalArgs, args: EvaluateSegmentsArgs) -> Result<()> {
    let mut options = args.rfm.options();
    options.extend(args.window.options());
    options.extend(args.kmeans.options());
    let job = Job::new(global, &args.input, &options).await?;
    register_schemes(&job.ctx, &args.rfm.scheme_file)?;
    args.output.check()?;
    let cutoffs = default_cutoffs(&job, 1).await?;
    let src = job.source();
    let result = job
        .sql_registered(
            "segment evaluation",
            &format!("SELECT * FROM segment_evaluate({src}) ORDER BY cutoff, revenue_per_customer DESC, segment"),
            "evaluation",
        )
        .await?;
    if output::emit(&result, &args.output, job.quiet)? == Emitted::Done {
        return Ok(());
    }
    let o = crate::session::options(&job.ctx);
    job.note(format!(
        "Segments of {} ({}) at {cutoffs}, scored on the {} days after each cutoff",
        job.input.label, o.rfm_scheme, o.churn_window_days
    ));
    let per_segment = job
        .sql_results(
            "segments",
            "SELECT cutoff, segment, customers, round(100 * customer_share, 1) AS customer_pct,
                    round(100 * repurchase_rate, 1) AS repurchase_pct, round(100 * churn_rate, 1) AS churn_pct,
                    round(revenue_per_customer, 2) AS revenue_per_customer, round(100 * revenue_share, 1) AS revenue_pct,
                    round(aov, 2) AS aov, round(lift, 2) AS lift
             FROM evaluation ORDER BY cutoff, revenue_per_customer DESC, segment",
        )
        .await?;
    let metrics = job
        .sql(
            "segmentation metrics",
            &format!(
                "SELECT cutoff, customers, segments, round(eta2_revenue, 4) AS eta2_revenue,
                        round(eta2_repurchase, 4) AS eta2_repurchase, best_segment, round(best_lift, 2) AS best_lift,
                        round(stability, 3) AS stability
                 FROM segment_metrics({src}) ORDER BY cutoff"
            ),
        )
        .await?;
    let baseline = job
        .sql(
            "baseline",
            &format!(
                "SELECT cutoff, round(eta2_revenue, 4) AS eta2_revenue, round(eta2_repurchase, 4) AS eta2_repurchase
                 FROM segment_metrics({src}, 'scheme=recency', 'bins=5', 'method=quantile') ORDER BY cutoff"
            ),
        )
        .await?;
    // Printed once every query has run: a failure leaves stdout empty.
    output::print_table("Segments against the future", &per_segment)?;
    output::print_table("The segmentation as a whole", &metrics)?;
    output::print_table("Baseline: the recency score alone (5 quantile bins)", &baseline)?;
    Ok(())
}

async fn transitions(global: &GlobalArgs, args: SegmentTransitionsArgs) -> Result<()> {
    let mut options = args.rfm.options();
    options.extend(args.kmeans.options());
    let job = Job::new(global, &args.input, &options).await?;
    register_schemes(&job.ctx, &args.rfm.scheme_file)?;
    let (from, to) = (literal(&args.from), literal(&args.to));
    let result = job
        .sql(
            "segment transitions",
            &format!(
                "SELECT * FROM rfm_transitions({}, {from}, {to}) ORDER BY from_segment NULLS LAST, customers DESC, to_segment",
                job.source()
            ),
        )
        .await?;
    if output::emit(&result, &args.output, job.quiet)? == Emitted::Done {
        return Ok(());
    }
    job.note(format!(
        "Segment transitions of {} from {} to {} (from_segment empty: first purchase after {}; revenue in between)",
        job.input.label, args.from, args.to, args.from
    ));
    output::print_table("Transitions", &result)
}

async fn series(global: &GlobalArgs, args: SeriesArgs) -> Result<()> {
    let mut options = args.rfm.options();
    options.extend(args.kmeans.options());
    options.extend([
        (crate::cli::option_key("cutoffs"), args.cutoffs.clone()),
        (crate::cli::option_key("every"), args.every.clone()),
    ]);
    let job = Job::new(global, &args.input, &options).await?;
    register_schemes(&job.ctx, &args.rfm.scheme_file)?;
    let result = job
        .sql(
            "segment series",
            &format!(
                "SELECT * FROM segment_series({}) ORDER BY cutoff, segment",
                job.source()
            ),
        )
        .await?;
    if output::emit(&result, &args.output, job.quiet)? == Emitted::Done {
        return Ok(());
    }
    job.note(format!("Segment sizes and revenue of {} over time", job.input.label));
    output::print_table("Series", &result)
}

async fn clusters(global: &GlobalArgs, args: ClustersArgs) -> Result<()> {
    let mut options = args.kmeans.options();
    options.extend([
        (crate::cli::option_key("lookback_days"), args.lookback_days.clone()),
        (crate::cli::option_key("monetary"), args.monetary.clone()),
    ]);
    let job = Job::new(global, &args.input, &options).await?;
    args.view.output.check()?;
    if let Some(path) = &args.customers {
        crate::files::check_output(path, "--customers")?;
    }
    let src = job.source();
    if let Some(path) = &args.customers {
        let customers = job
            .sql(
                "clusters",
                &format!("SELECT * FROM rfm_clusters({src}) ORDER BY customer_id"),
            )
            .await?;
        output::write(&customers, None, Some(path))?;
        job.note(format!(
            "Wrote {} customers' clusters to {}",
            output::rows(&customers),
            path.display()
        ));
    }
    let profiles = job
        .sql(
            "cluster profiles",
            &format!(
                "SELECT cluster_id, segment, segment_zh, customers, round(100 * customer_share, 1) AS customer_pct,
                        round(centroid_recency_days, 1) AS centroid_recency_days, round(centroid_frequency, 2) AS centroid_frequency,
                        round(centroid_monetary, 2) AS centroid_monetary, round(mean_recency_days, 1) AS mean_recency_days,
                        round(mean_frequency, 2) AS mean_frequency, round(mean_monetary, 2) AS mean_monetary,
                        round(inertia, 1) AS inertia, round(silhouette, 3) AS silhouette
                 FROM rfm_cluster_profiles({src}) ORDER BY cluster_id"
            ),
        )
        .await?;
    if output::emit(&profiles, &args.view.output, job.quiet)? == Emitted::Done {
        return Ok(());
    }
    let o = crate::session::options(&job.ctx);
    job.note(format!(
        "k-means of {} with k = {}, seed {}: log1p(recency), ln(frequency), log1p(monetary), standardised; centroids in raw units (geometric-type means), means arithmetic",
        job.input.label, o.kmeans_k, o.seed
    ));
    output::print_table("Clusters", &profiles)
}

/// The segment table with each segment's suggested action appended, when the scheme has
/// actions (`None` otherwise).
pub async fn with_actions(
    job: &Job,
    segments: &[datafusion::arrow::array::RecordBatch],
    scheme: &str,
) -> Result<Option<Vec<datafusion::arrow::array::RecordBatch>>> {
    let registry = clv::plan::rfm::RfmFunctions::from_session(&job.ctx.state()).schemes();
    let Ok(s) = registry.get(scheme) else {
        return Ok(None);
    };
    let labels = strings(segments, "segment")?;
    if labels.iter().flatten().all(|l| s.action(l).is_none()) {
        return Ok(None);
    }
    let actions: datafusion::arrow::array::StringArray =
        labels.iter().map(|l| l.as_deref().and_then(|l| s.action(l))).collect();
    let batch = datafusion::arrow::compute::concat_batches(&segments[0].schema(), segments)?;
    let mut fields: Vec<_> = batch.schema().fields().iter().cloned().collect();
    fields.push(std::sync::Arc::new(datafusion::arrow::datatypes::Field::new(
        "action",
        datafusion::arrow::datatypes::DataType::Utf8,
        true,
    )));
    let mut columns = batch.columns().to_vec();
    columns.push(std::sync::Arc::new(actions));
    let schema = std::sync::Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
    Ok(Some(vec![datafusion::arrow::array::RecordBatch::try_new(
        schema, columns,
    )?]))
}

/// The lines describing the value concentration of an `rfm()` result (printed by the caller
/// once every query has run): the share of revenue of the top 1, 5, 10, 20 and 50 % of
/// customers by monetary value, the Gini coefficient and the share of customers that brings
/// 60 % and 80 % of the revenue. Computed on this machine from the collected result by the
/// kernel of `value_concentration` (so also after a cluster run).
pub fn concentration_lines(rfm: &[datafusion::arrow::array::RecordBatch]) -> Result<Vec<String>> {
    let monetary = crate::columns::f64s(rfm, "monetary")?;
    let c = clv::segment::concentration::Concentration::new(&monetary);
    let shares: Vec<f64> = c.points.iter().map(|p| p.top_share).collect();
    let gini = c.gini.unwrap_or(f64::NAN);
    if shares.len() != 101 {
        return Ok(vec![]);
    }
    let line: Vec<String> = [1, 5, 10, 20, 50]
        .iter()
        .map(|p| format!("top {p}%: {:.1}%", 100.0 * shares[*p]))
        .collect();
    Ok(vec![
        "\nValue concentration (share of revenue from the top customers by monetary value)".to_string(),
        format!("  {}", line.join("   ")),
        format!(
            "  Gini {gini:.3}; {} of customers bring 60% of the revenue, {} bring 80%",
            c.customers_for_share(0.6).map_or("–".to_string(), |p| format!("{p}%")),
            c.customers_for_share(0.8).map_or("–".to_string(), |p| format!("{p}%"))
        ),
    ])
}
