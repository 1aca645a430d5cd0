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
    args.view.output.check()?;
    let src = job.source();
    let result = job
        .sql(
            "lifecycle stages",
            &format!("SELECT * FROM lifecycle({src}) ORDER BY customer_id"),
        )
        .await?;
    job.warn_if_empty(&result, "lifecycle table").await?;
    if output::emit(&result, &args.view.output, job.quiet)? == Emitted::Done {
        return Ok(());
    }
    let o = crate::session::options(&job.ctx);
    let w = o.lifecycle_windows();
    job.note(format!(
        "Lifecycle of {} as of {}: new < {} days since the first purchase, active < {} and churned >= {} days since the last",
        job.input.label,
        o.as_of.map(clv::common::dates::format_date).unwrap_or_else(|| "the day after the last transaction".into()),
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
    args.output.check()?;
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
    job.warn_if_empty(&result, "transition table").await?;
    if output::emit(&result, &args.output, job.quiet)? == Emitted::Done {
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
    args.view.output.check()?;
    require_cutoffs(&job)?;
    let src = job.source();
    let result = job
        .sql_registered(
            "churn labels",
            &format!("SELECT * FROM churn_labels({src}) ORDER BY cutoff, customer_id"),
            "churn_labels_result",
        )
        .await?;
    job.warn_if_empty(&result, "churn-label table").await?;
    if output::emit(&result, &args.view.output, job.quiet)? == Emitted::Done {
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
    // A cutoff without customers has no row: say so, with no rate rather than a 0.0 % one.
    let shown = crate::columns::strings(&summary, "cutoff")?;
    if let Some(text) = &o.churn_cutoffs {
        for cutoff in clv::churn::parse_cutoffs(text, o.churn_every)? {
            let date = clv::common::dates::format_date(cutoff);
            if !shown.iter().flatten().any(|s| *s == date) {
                println!("{date}: 0 customers with a purchase by the cutoff; churn rate n/a");
            }
        }
    }
    if o.churn_btyd {
        warn_about_fits(&job, &o).await?;
    }
    output::print_preview("Customers", &result, args.view.preview)
}

/// Warns when a per-cutoff BTYD fit behind the labels' P(alive) did not converge or is
/// degenerate (no standard errors): the predictions are then poor.
async fn warn_about_fits(job: &Job, o: &clv::ClvOptions) -> Result<()> {
    let fit = match o.ltv_model.as_str() {
        "pareto_nbd" => "pareto_nbd_fit",
        "mbg_nbd" => "mbgnbd_fit",
        _ => "bgnbd_fit",
    };
    let fits = job
        .sql_results(
            "fit diagnostics",
            &format!(
                "SELECT CAST(cutoff AS VARCHAR) AS cutoff, f.converged AS converged, f.se_r IS NOT NULL AS identified
                 FROM (SELECT cutoff, {fit}(x, t_x, t) AS f FROM churn_labels_result GROUP BY cutoff) ORDER BY cutoff"
            ),
        )
        .await;
    // A cutoff whose fit fails outright already failed the labels; nothing to add here.
    let Ok(fits) = fits else { return Ok(()) };
    let (cutoffs, converged, identified) = (
        crate::columns::strings(&fits, "cutoff")?,
        crate::columns::i64s(&fits, "converged")?,
        crate::columns::i64s(&fits, "identified")?,
    );
    for i in 0..cutoffs.len() {
        let cutoff = cutoffs[i].clone().unwrap_or_default();
        if converged[i] == 0 {
            job.warn(format!("the {} fit at cutoff {cutoff} did not converge; its p_alive, churn_probability and expected_purchases may be poor",
                o.ltv_model
            ));
        } else if identified[i] == 0 {
            job.warn(format!("the {} fit at cutoff {cutoff} is degenerate (no standard errors: the data do not identify the parameters); its p_alive, churn_probability and expected_purchases may be poor",
                o.ltv_model
            ));
        }
    }
    Ok(())
}

async fn evaluate(global: &GlobalArgs, args: EvaluateArgs) -> Result<()> {
    let options = [
        args.labels.options(),
        args.train.options(),
        args.scores.options(),
        args.rfm.options(),
    ]
    .concat();
    let job = Job::new(global, &args.input, &options).await?;
    super::rfm::register_schemes(&job.ctx, &args.rfm.scheme_file)?;
    args.output.check()?;
    if let Some(out) = &args.deciles_out {
        crate::files::check_output(out, "--deciles-out")?;
    }
    require_cutoffs(&job)?;
    let src = job.source();
    let result = job
        .sql_registered(
            "churn evaluation",
            &format!("SELECT * FROM churn_evaluate({src}) ORDER BY cutoff, auc DESC NULLS LAST, score"),
            "evaluation",
        )
        .await?;
    job.warn_if_empty(&result, "churn evaluation").await?;
    if let Some(out) = &args.deciles_out {
        let deciles = job
            .sql(
                "calibration deciles",
                &format!("SELECT * FROM churn_calibration({src}) ORDER BY cutoff, score, decile"),
            )
            .await?;
        output::write(&deciles, None, Some(out))?;
        job.note(format!("Wrote {} rows to {}", output::rows(&deciles), out.display()));
    }
    if output::emit(&result, &args.output, job.quiet)? == Emitted::Done {
        return Ok(());
    }
    // Every query runs before anything is printed: a failure leaves stdout empty.
    let scores = job
        .sql_results(
            "scores",
            "SELECT cutoff, score, customers, round(churn_rate, 4) AS churn_rate, round(auc, 4) AS auc,
                    round(brier, 4) AS brier, round(log_loss, 4) AS log_loss, round(max_decile_gap, 4) AS max_decile_gap,
                    round(lift_10, 3) AS lift_10, round(gain_10, 3) AS gain_10, round(lift_20, 3) AS lift_20,
                    round(gain_20, 3) AS gain_20, description
             FROM evaluation ORDER BY cutoff, auc DESC NULLS LAST, score",
        )
        .await?;
    let warnings = auc_warnings(&job).await?;
    let deciles = job
        .sql(
            "calibration deciles",
            &format!(
                "SELECT cutoff, decile, customers, round(mean_score, 4) AS predicted_churn, round(observed_churn, 4) AS observed_churn
                 FROM churn_calibration({src}) WHERE score = 'churn_model' ORDER BY cutoff, decile"
            ),
        )
        .await?;
    let o = crate::session::options(&job.ctx);
    job.note(format!(
        "Churn evaluation of {}: every score against no purchase in the {} days after each cutoff (higher = more likely to churn); \
         the trained model learns from the last {} month ends whose window ends by the cutoff; the BTYD scores come from a {} model fitted at the cutoff",
        job.input.label, o.churn_window_days, o.churn_train_periods, o.ltv_model
    ));
    output::print_table(
        "Scores side by side (AUC: 0.5 = random, 1 = perfect; Brier and log loss: lower is better, probabilities only)",
        &scores,
    )?;
    for line in warnings {
        println!("\n{line}");
    }
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
    let (cutoffs, scores) = (
        crate::columns::strings(&low, "cutoff")?,
        crate::columns::strings(&low, "score")?,
    );
    let aucs = crate::columns::f64s(&low, "auc")?;
    Ok(cutoffs
        .iter()
        .zip(&scores)
        .zip(&aucs)
        .map(|((cutoff, score), auc)| {
            format!(
                "Warning: {} ranks the customers at {} worse than a coin flip (AUC {:.3} < 0.5): the customers it calls most likely to churn are the least likely. Do not use it to pick whom to contact.",
                score_name(score.as_deref().unwrap_or_default()),
                cutoff.as_deref().unwrap_or_default(),
                auc,
            )
        })
        .collect())
}

/// A score's name for sentences.
pub fn score_name(score: &str) -> String {
    match score {
        "dropout_probability" => "1 - P(alive) (dropout_probability)".into(),
        other => other.to_string(),
    }
}
