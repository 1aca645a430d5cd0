//! The report section: Cohort retention triangles.

use super::*;

pub(super) async fn cohorts(job: &Job, ctx: &Context) -> Result<Section> {
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
    let period_name = period.to_string();
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
    // The cells of the last calendar period, when the data end inside it.
    let partial = ctx.as_of.filter(|a| last_period_partial(*a, &period_name));
    let mut marked = vec![];
    if let Some(as_of) = partial {
        let last = period_index(as_of - 1, &period_name);
        for (r, (cohort, _)) in cohorts.iter().enumerate() {
            let start = period_index(parse_date(cohort, "cohort")?, &period_name);
            let offset = last - start;
            if (0..=max_offset).contains(&offset) {
                marked.push((r, offset as usize));
            }
        }
    }
    let style = svg::HeatmapStyle {
        first_scaled_column: 1,
        marked,
    };
    let partial_note = match partial {
        Some(a) => format!(
            " The last {period} is partial (the data end on {}): its cells are outlined and starred, and read low.",
            format_date(a - 1)
        ),
        None => String::new(),
    };
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
            svg::heatmap(
                title,
                &rows,
                &cols,
                &values,
                &labels,
                &x_title,
                "cohort (customers)",
                &style,
            ),
            &format!(
                "{caption} Offset 0 (100 % by definition) is grey and left out of the colour scale.{partial_note}"
            ),
        );
    }
    Ok(s)
}
