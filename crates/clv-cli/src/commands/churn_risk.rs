//! `clv churn risk`, `clv churn contacts` and `clv churn model`: the trained churn model's
//! per-customer risk, the ranked contact list and the model itself (library: `churn_risk`,
//! `churn_contacts`, `churn_model`).

use datafusion::arrow::array::{Array, AsArray};

use super::{Job, exact, literal};
use crate::cli::{ContactsArgs, GlobalArgs, InputArgs, ModelArgs, RiskArgs};
use crate::error::{CliError, Result};
use crate::output::{self, Emitted};

/// A job whose `churn.cutoffs` is one date: `--cutoff`, else `--as-of`, else the input's last
/// transaction date.
async fn job(global: &GlobalArgs, input: &InputArgs, options: &[Vec<(&'static str, Option<String>)>]) -> Result<Job> {
    let job = Job::new(global, input, &options.concat()).await?;
    let o = crate::session::options(&job.ctx);
    if o.churn_cutoffs.is_none() {
        let cutoff = match o.as_of {
            Some(d) => clv::common::dates::format_date(d),
            None => last_day(&job, &o.time_column).await?,
        };
        crate::session::set_options(&job.ctx, &[("churn.cutoffs", Some(cutoff))], "")?;
    }
    Ok(job)
}

/// The input's last transaction date, `YYYY-MM-DD`.
async fn last_day(job: &Job, time_column: &str) -> Result<String> {
    let batches = job
        .sql(
            "last transaction date",
            &format!(
                "SELECT CAST(max(CAST(\"{}\" AS DATE)) AS VARCHAR) AS d FROM \"{}\"",
                time_column.replace('"', "\"\""),
                job.input.table.replace('"', "\"\"")
            ),
        )
        .await?;
    first_text(&batches)?
        .ok_or_else(|| CliError::data("the input has no transactions, so there is no date to score at; pass --cutoff"))
}

/// The first value of the first column as text (`None` when there is none or it is NULL).
fn first_text(batches: &[datafusion::arrow::array::RecordBatch]) -> Result<Option<String>> {
    let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Ok(None);
    };
    let c = datafusion::arrow::compute::cast(b.column(0), &datafusion::arrow::datatypes::DataType::Utf8)?;
    let c = c.as_string::<i32>();
    Ok(c.is_valid(0).then(|| c.value(0).to_string()))
}

/// The scoring date and window, for notes.
fn at(job: &Job) -> String {
    let o = crate::session::options(&job.ctx);
    format!(
        "at {} (transactions up to it), churn = no purchase in the next {} days",
        o.churn_cutoffs.unwrap_or_default(),
        o.churn_window_days
    )
}

/// Customers, churn probability and value at risk per tier, with its title.
async fn tier_summary(job: &Job, table: &str) -> Result<(String, Vec<datafusion::arrow::array::RecordBatch>)> {
    let tiers = job
        .sql_results(
            "risk tiers",
            &format!(
                "SELECT risk_tier, count(*) AS customers, round({}, 4) AS mean_churn_probability,
                        round({}, 2) AS expected_value, round({}, 2) AS value_at_risk
                 FROM {table} GROUP BY risk_tier
                 ORDER BY CASE risk_tier WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END",
                exact("avg", "churn_probability"),
                exact("sum", "expected_value"),
                exact("sum", "value_at_risk")
            ),
        )
        .await?;
    let o = crate::session::options(&job.ctx);
    let title = format!(
        "Risk tiers (high: churn probability >= {}, medium: >= {}, low: below)",
        o.churn_high_risk, o.churn_medium_risk
    );
    Ok((title, tiers))
}

/// Runs `clv churn risk`.
pub async fn risk(global: &GlobalArgs, args: RiskArgs) -> Result<()> {
    let options = [
        args.cutoff.options(),
        args.model.options(),
        args.train.options(),
        args.rfm.options(),
    ];
    let job = job(global, &args.input, &options).await?;
    super::rfm::register_schemes(&job.ctx, &args.rfm.scheme_file)?;
    args.view.output.check()?;
    let result = job
        .sql_registered(
            "churn risk",
            &format!("SELECT * FROM churn_risk({}) ORDER BY customer_id", job.source()),
            "risk",
        )
        .await?;
    job.warn_if_empty(&result, "churn-risk table").await?;
    if output::emit(&result, &args.view.output, job.quiet)? == Emitted::Done {
        return Ok(());
    }
    // Every query runs before anything is printed: a failure leaves stdout empty.
    let (title, tiers) = tier_summary(&job, "risk").await?;
    job.note(format!(
        "Churn risk of {} {}: churn_probability from the trained model, expected value over the horizon (BG/NBD purchases x Gamma-Gamma spend), value at risk = probability x expected value",
        job.input.label,
        at(&job)
    ));
    output::print_table(&title, &tiers)?;
    output::print_preview("Customers", &result, args.view.preview)
}

/// Runs `clv churn contacts`.
pub async fn contacts(global: &GlobalArgs, args: ContactsArgs) -> Result<()> {
    let options = [
        args.cutoff.options(),
        args.model.options(),
        args.train.options(),
        args.rfm.options(),
    ];
    let job = job(global, &args.input, &options).await?;
    super::rfm::register_schemes(&job.ctx, &args.rfm.scheme_file)?;
    args.view.output.check()?;
    let mut filter = String::new();
    if let Some(tiers) = &args.tier {
        let tiers: Vec<String> = tiers.split(',').map(|t| t.trim().to_ascii_lowercase()).collect();
        if let Some(bad) = tiers.iter().find(|t| !["high", "medium", "low"].contains(&t.as_str())) {
            return Err(CliError::usage(format!(
                "--tier: '{bad}' is not a tier; use high, medium or low (comma-separated)"
            )));
        }
        let list: Vec<String> = tiers.iter().map(|t| literal(t)).collect();
        filter = format!(" WHERE risk_tier IN ({})", list.join(", "));
    }
    let limit = args.top.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
    let result = job
        .sql_registered(
            "contact list",
            &format!(
                "SELECT * FROM churn_contacts({}){filter} ORDER BY rank{limit}",
                job.source()
            ),
            "contacts",
        )
        .await?;
    job.warn_if_empty(&result, "contact list").await?;
    if output::emit(&result, &args.view.output, job.quiet)? == Emitted::Done {
        return Ok(());
    }
    let (title, tiers) = tier_summary(&job, "contacts").await?;
    job.note(format!(
        "Contact list of {} {}: ranked by value at risk (churn probability x expected value), ties by customer id",
        job.input.label,
        at(&job)
    ));
    output::print_table(&title, &tiers)?;
    output::print_preview("Contacts", &result, args.view.preview)
}

/// Runs `clv churn model`.
pub async fn model(global: &GlobalArgs, args: ModelArgs) -> Result<()> {
    let options = [args.cutoff.options(), args.model.options(), args.train.options()];
    let job = job(global, &args.input, &options).await?;
    if let Some(out) = &args.out {
        crate::files::check_output(out, "--out")?;
    }
    let src = job.source();
    job.sql_registered("churn model", &format!("SELECT * FROM churn_model({src})"), "model")
        .await?;
    // --out writes the model's JSON; --quiet prints it (without --out) and nothing else.
    if args.out.is_some() || job.quiet {
        let json = job.sql_results("model JSON", "SELECT json FROM model").await?;
        let text = first_text(&json)?.ok_or_else(|| CliError::data("no model was trained"))?;
        match &args.out {
            Some(out) => {
                crate::files::write_atomically(out, "--out", (text + "\n").as_bytes())?;
                job.note(format!("Wrote the churn model to {}", out.display()));
            }
            None => println!("{text}"),
        }
        if job.quiet {
            return Ok(());
        }
    }
    let training = job
        .sql_results(
            "training",
            "SELECT training_cutoffs, rows, round(positive_rate, 4) AS churn_rate, lambda, iterations, converged,
                    round(log_likelihood, 3) AS log_likelihood, round(intercept, 6) AS intercept
             FROM model",
        )
        .await?;
    let coefficients = job
        .sql_results(
            "coefficients",
            "SELECT get_field(f, 'name') AS feature, round(get_field(f, 'coefficient'), 4) AS coefficient,
                    round(get_field(f, 'standard_error'), 4) AS standard_error,
                    round(get_field(f, 'coefficient') / get_field(f, 'standard_error'), 2) AS z,
                    round(get_field(f, 'coefficient_original'), 6) AS per_unit, round(get_field(f, 'mean'), 4) AS mean,
                    round(get_field(f, 'scale'), 4) AS sd
             FROM (SELECT unnest(features) AS f FROM model)",
        )
        .await?;
    job.note(format!("Churn model of {} {}", job.input.label, at(&job)));
    output::print_table("Training", &training)?;
    output::print_table(
        "Coefficients (standardised features: the effect of one standard deviation on the log-odds of churning)",
        &coefficients,
    )
}
