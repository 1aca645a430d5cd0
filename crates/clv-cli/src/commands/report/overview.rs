//! The report section: The overview: data, policies and the headline numbers.

use super::*;

pub(super) async fn overview(job: &Job) -> Result<(Section, Context)> {
    let src = job.source();
    let options = crate::session::options(&job.ctx);
    let report = PolicyReport::from_batches(
        &job.sql("data policies", &format!("SELECT * FROM clv_policy_report({src})"))
            .await?,
    )?;
    let time = format!("\"{}\"", options.time_column.replace('"', "\"\""));
    let range = job
        .sql(
            "date range",
            &format!(
                "SELECT CAST(CAST(min({time}) AS DATE) AS VARCHAR) AS first, CAST(CAST(max({time}) AS DATE) AS VARCHAR) AS last
                 FROM {}",
                job.input.table
            ),
        )
        .await?;
    let first = strings(&range, "first")?.into_iter().next().flatten();
    let last = strings(&range, "last")?.into_iter().next().flatten();
    let mut s = Section::new("overview", "Data overview");
    s.body.push_str(&kpis(&[
        ("rows read", int(report.rows_read)),
        ("rows used", int(report.rows_used)),
        ("customers", int(report.customers)),
        ("first transaction", first.clone().unwrap_or_else(|| "–".into())),
        ("last transaction", last.clone().unwrap_or_else(|| "–".into())),
        ("as of", report.as_of.clone().unwrap_or_else(|| "–".into())),
    ]));
    let rows: Vec<Vec<String>> = report
        .lines(&options)
        .into_iter()
        .map(|(policy, action, n)| vec![policy.to_string(), int(n), action.to_string()])
        .collect();
    s.table(
        "Rows and customers each data policy counted: every row is attributed to the first policy that applies; the action says what was done with them.",
        &["data policy", "count", "action"],
        &rows,
    );
    let ctx = Context {
        as_of: report.as_of.as_deref().map(|d| parse_date(d, "as_of")).transpose()?,
        first_day: first
            .as_deref()
            .map(|d| parse_date(d, "first transaction"))
            .transpose()?,
        holdout: options.btyd_holdout_end.is_some(),
        time_unit: options.btyd_time_unit.to_string(),
    };
    Ok((s, ctx))
}
