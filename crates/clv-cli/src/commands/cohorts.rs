//! `clv cohorts`: cohort retention, shown as a triangle on the terminal.

use datafusion::arrow::array::RecordBatch;

use super::Job;
use crate::cli::{CohortArgs, CohortMetric, GlobalArgs};
use crate::error::Result;
use crate::output::{self, Emitted};

/// One (cohort, offset) cell.
#[derive(Debug, Clone, PartialEq)]
pub struct CohortCell {
    /// The cohort's first day, YYYY-MM-DD.
    pub cohort: String,
    /// Periods since the cohort's first.
    pub offset: i64,
    /// Customers in the cohort.
    pub cohort_customers: i64,
    /// Customers active in the period.
    pub active_customers: i64,
    /// active / cohort customers.
    pub retention_rate: f64,
    /// Revenue in the period.
    pub revenue: f64,
    /// Revenue / revenue at offset 0.
    pub revenue_retention: f64,
    /// Cumulative revenue per cohort customer.
    pub cumulative_revenue_per_customer: f64,
}

/// Reads `cohort_retention` rows.
pub fn cells(batches: &[RecordBatch]) -> Result<Vec<CohortCell>> {
    use crate::columns::{f64s, i64s, strings};
    let cohort = strings(batches, "cohort")?;
    let (offset, size, active) = (
        i64s(batches, "period_offset")?,
        i64s(batches, "cohort_customers")?,
        i64s(batches, "active_customers")?,
    );
    let (rate, revenue, rr, cum) = (
        f64s(batches, "retention_rate")?,
        f64s(batches, "revenue")?,
        f64s(batches, "revenue_retention")?,
        f64s(batches, "cumulative_revenue_per_customer")?,
    );
    Ok((0..cohort.len())
        .map(|i| CohortCell {
            cohort: cohort[i].clone().unwrap_or_default(),
            offset: offset[i],
            cohort_customers: size[i],
            active_customers: active[i],
            retention_rate: rate[i],
            revenue: revenue[i],
            revenue_retention: rr[i],
            cumulative_revenue_per_customer: cum[i],
        })
        .collect())
}

/// The cohorts in order and the largest offset.
pub fn shape(cells: &[CohortCell]) -> (Vec<(String, i64)>, i64) {
    let mut cohorts: Vec<(String, i64)> = vec![];
    for c in cells {
        if !cohorts.iter().any(|(k, _)| *k == c.cohort) {
            cohorts.push((c.cohort.clone(), c.cohort_customers));
        }
    }
    cohorts.sort();
    (cohorts, cells.iter().map(|c| c.offset).max().unwrap_or(0))
}

fn cell_text(c: &CohortCell, metric: CohortMetric) -> String {
    match metric {
        CohortMetric::Retention => format!("{:.1}", 100.0 * c.retention_rate),
        CohortMetric::Revenue => format!("{:.1}", 100.0 * c.revenue_retention),
        CohortMetric::Customers => c.active_customers.to_string(),
        CohortMetric::Cumulative => format!("{:.2}", c.cumulative_revenue_per_customer),
    }
}

/// The triangle as text: one row per cohort, one column per period offset.
pub fn triangle(cells: &[CohortCell], metric: CohortMetric) -> String {
    let (cohorts, max_offset) = shape(cells);
    let mut rows: Vec<Vec<String>> = vec![];
    let mut header = vec!["cohort".to_string(), "customers".to_string()];
    header.extend((0..=max_offset).map(|o| o.to_string()));
    rows.push(header);
    for (cohort, size) in &cohorts {
        let mut row = vec![cohort.clone(), size.to_string()];
        for o in 0..=max_offset {
            row.push(
                cells
                    .iter()
                    .find(|c| c.cohort == *cohort && c.offset == o)
                    .map(|c| cell_text(c, metric))
                    .unwrap_or_default(),
            );
        }
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, v)| {
                    if i == 0 {
                        format!("{v:<w$}", w = widths[i])
                    } else {
                        format!("{v:>w$}", w = widths[i])
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `clv cohorts`.
pub async fn run(global: &GlobalArgs, args: CohortArgs) -> Result<()> {
    let job = Job::new(global, &args.input, &[("cohort.period", args.period.clone())]).await?;
    args.output.check()?;
    let result = job
        .sql(
            "cohort retention",
            &format!(
                "SELECT * FROM cohort_retention({}) ORDER BY cohort, period_offset",
                job.source()
            ),
        )
        .await?;
    job.warn_if_empty(&result, "cohort table").await?;
    if output::emit(&result, &args.output, job.quiet)? == Emitted::Done {
        return Ok(());
    }
    let period = crate::session::options(&job.ctx).cohort_period;
    let what = match args.metric {
        CohortMetric::Retention => "customers active in the period, % of the cohort",
        CohortMetric::Revenue => "revenue, % of the cohort's first period",
        CohortMetric::Customers => "customers active in the period",
        CohortMetric::Cumulative => "cumulative revenue per cohort customer",
    };
    job.note(format!("Cohorts of {} by first-purchase {period}", job.input.label));
    println!("\nCohort retention by {period} offset: {what}");
    println!("{}", triangle(&cells(&result)?, args.metric));
    Ok(())
}
