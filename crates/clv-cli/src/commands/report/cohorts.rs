//! The report section: Cohort retention triangles.

use super::*;

pub(super) async fn cohorts(job: &Job) -> Result<Section> {
    let result = job
        .sql(
            "cohort retention",
            &format!(
                "SELECT * FROM cohort_retention({}) ORDER BY cohort, period_offset",
                job.source()
            ),
        )
        .await?;
    let period = crate::session::options(&job.ctx).cohort_period;
    let mut s = Section::new("cohorts", "Cohort retention");
    let cells = cells(&result)?;
    if cells.is_empty() {
        s.note("No cohorts: the input has no purchases.");
        return Ok(s);
    }
    let (cohorts, max_offset) = shape(&cells);
    let rows: Vec<String> = cohorts
        .iter()
        .map(|(c, n)| format!("{c} ({})", short(*n as f64)))
        .collect();
    let cols: Vec<String> = (0..=max_offset).map(|o| o.to_string()).collect();
    type Measure = fn(&crate::commands::cohorts::CohortCell) -> f64;
    let triangles: [(&str, Measure, String); 2] = [
        (
            "Cohort retention triangle",
            |c| c.retention_rate,
            format!(
                "Retention triangle: the percentage of each first-purchase {period} cohort that bought again in each later {period}."
            ),
        ),
        (
            "Revenue retention",
            |c| c.revenue_retention,
            format!(
                "Revenue retention: each cohort's revenue in a later {period} as a percentage of its revenue in its first {period}."
            ),
        ),
    ];
    for (title, value, caption) in triangles {
        let mut values = vec![vec![None; cols.len()]; rows.len()];
        let mut labels = vec![vec![String::new(); cols.len()]; rows.len()];
        for c in &cells {
            let r = cohorts.iter().position(|(k, _)| *k == c.cohort).unwrap_or(0);
            let v = value(c);
            values[r][c.offset as usize] = Some(v);
            labels[r][c.offset as usize] = format!("{:.0}", 100.0 * v);
        }
        let x_title = format!("{period}s since the first purchase");
        s.figure(
            svg::heatmap(title, &rows, &cols, &values, &labels, &x_title, "cohort (customers)"),
            &caption,
        );
    }
    Ok(s)
}
