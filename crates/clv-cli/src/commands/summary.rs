//! `clv summary`: the BTYD summary per customer.

use super::{Job, exact};
use crate::cli::{GlobalArgs, SummaryArgs};
use crate::error::Result;
use crate::output::{self, Emitted};

/// Runs `clv summary`.
pub async fn run(global: &GlobalArgs, args: SummaryArgs) -> Result<()> {
    let job = Job::new(global, &args.input, &args.btyd.options()).await?;
    args.view.output.check()?;
    let src = job.source();
    let result = job
        .sql(
            "BTYD summary",
            &format!("SELECT * FROM btyd_summary({src}) ORDER BY customer_id"),
        )
        .await?;
    job.warn_if_empty(&result, "BTYD summary").await?;
    if output::emit(&result, &args.view.output, job.quiet)? == Emitted::Done {
        return Ok(());
    }
    let options = crate::session::options(&job.ctx);
    let holdout = args.btyd.holdout_end.is_some() || options.btyd_holdout_end.is_some();
    let holdout_cols = if holdout {
        format!(
            ", round({}, 4) AS mean_x_holdout, max(t_holdout) AS t_holdout",
            exact("avg", "x_holdout")
        )
    } else {
        String::new()
    };
    let overview = job
        .sql(
            "overview",
            &format!(
                "SELECT count(*) AS customers, sum(CASE WHEN x > 0 THEN 1 ELSE 0 END) AS repeat_customers,
                        round({mean_x}, 4) AS mean_x, max(x) AS max_x, round({mean_t}, 2) AS mean_t,
                        round({mean_repeat_spend}, 2) AS mean_repeat_spend{holdout_cols}
                 FROM btyd_summary({src})",
                mean_x = exact("avg", "x"),
                mean_t = exact("avg", "t"),
                mean_repeat_spend = exact("avg", "CASE WHEN x > 0 THEN monetary END")
            ),
        )
        .await?;
    job.note(format!(
        "BTYD summary of {} in {}s (t_x and t), calibration end {}",
        job.input.label,
        options.btyd_time_unit,
        options
            .btyd_calibration_end
            .or(options.as_of)
            .map(clv::common::dates::format_date)
            .unwrap_or_else(|| "the last transaction".into()),
    ));
    output::print_table("Overview", &overview)?;
    output::print_preview("Customers", &result, args.view.preview)
}
