//! `clv churn`: lifecycle stages, transitions between two dates.

use super::{Job, literal};
use crate::cli::{ChurnCommand, GlobalArgs, StagesArgs, TransitionsArgs};
use crate::error::Result;
use crate::output::{self, Emitted};

/// Runs `clv churn …`.
pub async fn run(global: &GlobalArgs, command: ChurnCommand) -> Result<()> {
    match command {
        ChurnCommand::Stages(a) => stages(global, a).await,
        ChurnCommand::Transitions(a) => transitions(global, a).await,
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
    if output::emit(&result, &args.output, job.quiet)? == Emitted::Stdout {
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
    output::print_preview("Customers", &result, args.preview)
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
