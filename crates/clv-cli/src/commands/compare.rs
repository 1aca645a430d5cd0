//! `clv compare`: holdout accuracy and model choice, the SQL `clv_compare` table.
//!
//! The candidates (`--models`, times the `--penalizers` grid) are fitted on the calibration
//! period and judged on the holdout by the library's `clv_compare`; files and `--format` get its
//! rows as they are, the terminal a narrower table with the chosen model marked and the reason
//! of the choice. `clv fit --model auto` writes the model this comparison chooses.
//!
//! No likelihood-ratio test here: BG/NBD, Pareto/NBD and MBG/NBD are not nested in one another
//! (each has four parameters and none is a restriction of another), so AIC and BIC compare them;
//! `likelihood_ratio_test` in SQL tests nested fits (the covariate fits carry theirs).

use super::Job;
use crate::cli::{CompareArgs, GlobalArgs};
use crate::error::Result;
use crate::output::{self, Emitted};

/// The marker of the chosen candidate in the terminal table.
const CHOSEN: &str = "*";

/// Runs `clv compare`.
pub async fn run(global: &GlobalArgs, args: CompareArgs) -> Result<()> {
    let mut options = vec![
        ("btyd.calibration_end", Some(args.calibration_end.clone())),
        ("btyd.holdout_end", args.holdout_end.clone()),
        ("btyd.time_unit", args.time_unit.clone()),
    ];
    options.extend(args.candidates.options());
    let job = Job::new(global, &args.input, &options).await?;
    args.output.check()?;
    let result = job
        .sql_registered(
            "model comparison",
            &format!("SELECT * FROM clv_compare({})", job.source()),
            "comparison",
        )
        .await?;
    if output::emit(&result, &args.output, job.quiet)? == Emitted::Done {
        return Ok(());
    }
    let reason = crate::columns::first_string(&result, "reason", "clv_compare")?;
    let o = crate::session::options(&job.ctx);
    let date = |d: Option<i32>| d.map(clv::common::dates::format_date);
    let holdout = date(o.btyd_holdout_end);
    let accuracy = if holdout.is_some() {
        "rmse, mae, bias, correlation, total_predicted, total_actual, total_error, "
    } else {
        ""
    };
    let table = job
        .sql_results(
            "comparison table",
            &format!(
                "SELECT CASE WHEN chosen THEN '{CHOSEN}' ELSE '' END AS chosen, model, penalizer, {accuracy}\
                        log_likelihood, aic, bic, converged, error FROM comparison"
            ),
        )
        .await?;
    job.note(format!(
        "Candidates fitted on {} up to {}{}",
        job.input.label,
        date(o.btyd_calibration_end).unwrap_or(args.calibration_end),
        match &holdout {
            Some(end) =>
                format!(", judged on the holdout to {end} (naive_rate: each customer keeps their calibration rate)"),
            None => " (no holdout: BIC decides)".to_string(),
        }
    ));
    output::print_table("Model comparison", &table)?;
    println!("\nChosen ({CHOSEN}): {reason}");
    Ok(())
}
