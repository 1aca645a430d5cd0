//! `clv churn`: lifecycle stages, transitions between two dates, labels, the evaluation of every
//! churn score, and the trained model's risk, contact list and coefficients.

use super::{Job, literal};
use crate::cli::{ChurnCommand, EvaluateArgs, GlobalArgs, LabelsArgs, StagesArgs, TransitionsArgs};
use crate::error::Result;
use crate::output::{self, Emitted};

/// Runs `clv churn …`.
pub async fn run(global: &GlobalArgs, command: ChurnCommand) -> Result<()> {
    match command {
        ChurnCommand::Stages(a) => stages(global, a).await,
        ChurnCommand::Transitions(a) => transitions(global, a).await,
        ChurnCommand::Labels(a) => labels(global, a).await,
        ChurnCommand::Evaluate(a) => evaluate(global, a).await,
        ChurnCommand::Risk(a) => super::churn_risk::risk(global, a).await,
        ChurnCommand::Contacts(a) => super::churn_risk::contacts(global, a).await,
        ChurnCommand::Model(a) => super::churn_risk::model(global, a).await,
    }
}

/// The stages in lifecycle order, for sorting.
pub const STAGE_ORDER: &str = "CASE stage WHEN 'new' THEN 1 WHEN 'active' THEN 2 WHEN 'reactivated' THEN 3 \
     WHEN 'silent' THEN 4 WHEN 'churned' THEN 5 ELSE 6 END";

async fn stages(global: &GlobalArgs, args: StagesArgs) -> Result<()> {
    let job = Job::new(global, &args.input, &args.windows.options()).await?;
    let src = job.source();
    let result = job
        .sql(
            "lifecycle stages",
            &format!("SELECT * FROM lifecycle({src}) ORDER BY customer_id"),
        )
        .await?;
    if output::emit(&result, &args.view.output, job.quiet)? == Emitted::Stdout {
        return Ok(());
    }
    let o = crate::session::options(&job.ctx);
    let w = o.lifecycle_windows;
    job.note(format!(
        "Lifecycle of {} as of {}: new < {} days since the first purchase, active < {} and churned >= {} days since the last",
        job.input.label,
        o.as_of.map(clv::config::format_date).unwrap_or_else(|| "the day after the last transaction".into()),
        w.new_days,
        w.active_days,
        w.churn_days
    ));
    let counts = job
        .sql(
            "stage counts",
            &format!(
                "SELECT stage, count(*) AS customers, round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS pct,
                        round(avg(days_since_last), 1) AS avg_days_since_last
                 FROM lifecycle({src}) GROUP BY stage ORDER BY {STAGE_ORDER}"
            ),
        )
        .await?;
    output::print_table("Stages", &counts)?;
    output::print_preview("Customers", &result, args.view.preview)
}

async fn transitions(global: &GlobalArgs, args: TransitionsArgs) -> Result<()> {
    let job = Job::new(global, &args.input, &args.windows.options()).await?;
    let (from, to) = (literal(&args.from), literal(&args.to));
    let result = job
        .sql(
            "lifecycle transitions",
            &format!(
                "SELECT * FROM lifecycle_transitions({}, {from}, {to}) ORDER BY from_stage, to_stage",
                job.source()
            ),
        )
        .await?;
    if output::emit(&result, &args.output, job.quiet)? == Emitted::Stdout {
        return Ok(());
    }
    job.note(format!(
        "Lifecycle transitions of {} from {} to {} (revenue in between)",
        job.input.label, args.from, args.to
    ));
    output::print_table("Transitions", &result)
}

/// Per cutoff: customers, churned, retained, unknown (censored without a purchase), churn rate.
pub fn label_summary_query(labels: &str) -> String {
    format!(
        "SELECT cutoff, min(window_end) AS window_end, count(*) AS customers,
                sum(CASE WHEN churned THEN 1 ELSE 0 END) AS churned,
                sum(CASE WHEN NOT churned THEN 1 ELSE 0 END) AS retained,
                sum(CASE WHEN churned IS NULL THEN 1 ELSE 0 END) AS unknown,
                round(avg(CASE WHEN churned THEN 1.0 WHEN NOT churned THEN 0.0 END), 4) AS churn_rate
         FROM {labels} GROUP BY cutoff ORDER BY cutoff"
    )
}

/// The library needs cutoffs; say which flag gives them.
fn require_cutoffs(job: &Job) -> Result<()> {
    if crate::session::options(&job.ctx).churn_cutoffs.is_none() {
        return Err(crate::error::CliError::usage(
            "--cutoffs is required (or churn.cutoffs in clv.toml): a list like 1997-06-30,1997-09-30 or a range like 1997-01-01..1997-12-31",
        ));
    }
    Ok(())
}

async fn labels(global: &GlobalArgs, args: LabelsArgs) -> Result<()> {
    let mut options = args.labels.options();
    options.push(("churn.btyd", args.btyd.then(|| "true".to_string())));
    options.extend(args.rfm.options());
    let job = Job::new(global, &args.input, &options).await?;
    super::rfm::register_schemes(&job.ctx, &args.rfm.scheme_file)?;
    require_cutoffs(&job)?;
    let src = job.source();
    let result = job
        .sql(
            "churn labels",
            &format!("SELECT * FROM churn_labels({src}) ORDER BY cutoff, customer_id"),
        )
        .await?;
    if output::emit(&result, &args.view.output, job.quiet)? == Emitted::Stdout {
        return Ok(());
    }
    let o = crate::session::options(&job.ctx);
    job.note(format!(
        "Churn labels of {}: churned = no purchase in the {} days after each cutoff; unknown = the window runs past the data and saw no purchase",
        job.input.label, o.churn_window_days
    ));
    let summary = job
        .sql("label summary", &label_summary_query(&format!("churn_labels({src})")))
        .await?;
    output::print_table("Labels per cutoff", &summary)?;
    output::print_preview("Customers", &result, args.view.preview)
}

async fn evaluate(global: &GlobalArgs, args: EvaluateArgs) -> Result<()> {
    let mut options = args.labels.options();
    options.extend([
        ("churn.train_periods", args.train_periods.clone()),
        ("churn.lambda", args.lambda.clone()),
        ("churn.scores", args.scores.clone()),
    ]);
    options.extend(args.rfm.options());
    let job = Job::new(global, &args.input, &options).await?;
    super::rfm::register_schemes(&job.ctx, &args.rfm.scheme_file)?;
    require_cutoffs(&job)?;
    let src = job.source();
    let result = job
        .sql_registered(
            "churn evaluation",
            &format!("SELECT * FROM churn_evaluate({src}) ORDER BY cutoff, auc DESC NULLS LAST, score"),
            "evaluation",
        )
        .await?;
    if let Some(out) = &args.deciles_out {
        let deciles = job
            .sql(
                "calibration deciles",
                &format!("SELECT * FROM churn_calibration({src}) ORDER BY cutoff, score, decile"),
            )
            .await?;
        output::write(&deciles, None, Some(out))
            .map_err(|e| crate::error::from_datafusion(e, crate::error::Stage::Query))?;
        job.note(format!("Wrote {} rows to {}", output::rows(&deciles), out.display()));
    }
    if output::emit(&result, &args.output, job.quiet)? == Emitted::Stdout {
        return Ok(());
    }
    let o = crate::session::options(&job.ctx);
    job.note(format!(
        "Churn evaluation of {}: every score against no purchase in the {} days after each cutoff (higher = more likely to churn); \
         the trained model learns from the last {} month ends whose window ends by the cutoff; the BTYD scores come from a {} model fitted at the cutoff",
        job.input.label, o.churn_window_days, o.churn_train_periods, o.ltv_model
    ));
    output::print_table(
        "Scores side by side (AUC: 0.5 = random, 1 = perfect; Brier and log loss: lower is better, probabilities only)",
        &job.sql_results(
            "scores",
            "SELECT cutoff, score, customers, round(churn_rate, 4) AS churn_rate, round(auc, 4) AS auc,
                    round(brier, 4) AS brier, round(log_loss, 4) AS log_loss, round(max_decile_gap, 4) AS max_decile_gap,
                    round(lift_10, 3) AS lift_10, round(gain_10, 3) AS gain_10, round(lift_20, 3) AS lift_20,
                    round(gain_20, 3) AS gain_20, description
             FROM evaluation ORDER BY cutoff, auc DESC NULLS LAST, score",
        )
        .await?,
    )?;
    for line in auc_warnings(&job).await? {
        println!("\n{line}");
    }
    let deciles = job
        .sql(
            "calibration deciles",
            &format!(
                "SELECT cutoff, decile, customers, round(mean_score, 4) AS predicted_churn, round(observed_churn, 4) AS observed_churn
                 FROM churn_calibration({src}) WHERE score = 'churn_model' ORDER BY cutoff, decile"
            ),
        )
        .await?;
    output::print_table(
        "Calibration deciles of the trained model (decile 10 = most likely to churn)",
        &deciles,
    )
}

/// A sentence for every score whose AUC is below 0.5 in the registered `evaluation`.
pub async fn auc_warnings(job: &Job) -> Result<Vec<String>> {
    let low = job
        .sql_results(
            "AUC warnings",
            "SELECT CAST(cutoff AS VARCHAR) AS cutoff, score, auc FROM evaluation WHERE auc < 0.5 ORDER BY cutoff, score",
        )
        .await?;
    let mut out = vec![];
    for b in &low {
        let text =
            |i: usize| datafusion::arrow::compute::cast(b.column(i), &datafusion::arrow::datatypes::DataType::Utf8);
        let (cutoff, score, auc) = (text(0)?, text(1)?, text(2)?);
        use datafusion::arrow::array::AsArray;
        for r in 0..b.num_rows() {
            let auc: f64 = auc.as_string::<i32>().value(r).parse().unwrap_or(f64::NAN);
            out.push(format!(
                "Warning: {} ranks the customers at {} worse than a coin flip (AUC {auc:.3} < 0.5): the customers it calls most likely to churn are the least likely. Do not use it to pick whom to contact.",
                score_name(score.as_string::<i32>().value(r)),
                cutoff.as_string::<i32>().value(r),
            ));
        }
    }
    Ok(out)
}

/// A score's name for sentences.
pub fn score_name(score: &str) -> String {
    match score {
        "dropout_probability" => "1 - P(alive) (dropout_probability)".into(),
        other => other.to_string(),
    }
}
