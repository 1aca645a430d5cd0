//! The report's executive summary, first on the page: customers and revenue by month with the
//! trend, active customers now against a year before, value concentration, the segments that
//! carry the revenue and those at risk, revenue at risk from churn, and the CLV of the base.
//! Each figure says what it means and what to do. The numbers come from `cohort_retention`,
//! `rfm`, `value_concentration`, `churn_contacts` and `clv_predict`, mostly gathered by the
//! sections that show them in full ([`Facts`]).

use std::collections::BTreeMap;
use std::fmt::Write;

use super::*;

/// A segment of the report's scheme as of the report date.
#[derive(Debug, Clone)]
pub struct SegmentFacts {
    pub name: String,
    pub customers: f64,
    /// Their monetary value (revenue to date).
    pub revenue: f64,
    /// The scheme's suggested action.
    pub action: Option<String>,
}

/// The CLV of the base as of the report date.
#[derive(Debug, Clone)]
pub struct ClvFacts {
    pub total: f64,
    pub customers: usize,
    pub horizon: f64,
    pub unit: String,
    pub margin: f64,
    pub discount_rate: f64,
}

/// Value at risk from churn (`churn_contacts` at the last transaction date), in rank order.
#[derive(Debug, Clone, Default)]
pub struct RiskFacts {
    pub cutoff: String,
    pub window: i64,
    pub total: f64,
    pub high_customers: u64,
    pub high_value: f64,
    /// (segment, value at risk, customers), most value at risk first.
    pub by_segment: Vec<(String, f64, u64)>,
}

/// What the sections learn that the summary states.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub segments: Vec<SegmentFacts>,
    /// Revenue shares of the top 10 % and 20 % of customers.
    pub top_shares: Option<(f64, f64)>,
    pub clv: Option<ClvFacts>,
    pub risk: Option<RiskFacts>,
}

/// One month of the base: customers who bought in it and its revenue.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Month {
    pub customers: i64,
    pub revenue: f64,
}

/// The months from the first to the last with data (`year * 12 + month - 1` → month), gaps as
/// empty months, from `cohort_retention` at the month grain: each cell is its cohort's month
/// plus the offset, and every customer is in one cohort, so the cells of a calendar month add
/// up to its active customers and its revenue.
pub fn months(cells: &[crate::commands::cohorts::CohortCell]) -> Result<BTreeMap<i64, Month>> {
    let mut out: BTreeMap<i64, Month> = BTreeMap::new();
    for c in cells {
        let m = period_index(parse_date(&c.cohort, "cohort")?, "month") + c.offset;
        let e = out.entry(m).or_default();
        e.customers += c.active_customers;
        e.revenue += c.revenue;
    }
    if let (Some(first), Some(last)) = (out.keys().next().copied(), out.keys().last().copied()) {
        for m in first..=last {
            out.entry(m).or_default();
        }
    }
    Ok(out)
}

fn month_name(m: i64) -> String {
    format!("{:04}-{:02}", m.div_euclid(12), m.rem_euclid(12) + 1)
}

/// The change from `before` to `after` as a signed percentage, `n/a` without a base.
fn change(after: f64, before: f64) -> String {
    if before > 0.0 && after.is_finite() {
        format!("{:+.1}%", 100.0 * (after / before - 1.0))
    } else {
        "n/a".to_string()
    }
}

/// The mean of the last three complete months and of the three before them, if there are six.
fn trend(values: &[f64]) -> Option<(f64, f64)> {
    let n = values.len();
    (n >= 6).then(|| {
        (
            values[n - 3..].iter().sum::<f64>() / 3.0,
            values[n - 6..n - 3].iter().sum::<f64>() / 3.0,
        )
    })
}

fn finding(s: &mut Section, figure: &str, meaning: &str, action: &str) {
    let _ = write!(
        s.body,
        "<p class=\"finding\"><b>{}</b> {} <span class=\"caption-action\">{}</span></p>",
        svg::esc(figure),
        svg::esc(meaning),
        svg::esc(action)
    );
}

/// Customers who bought in the 365 days before `as_of` (recency 1..=365 days), from `rfm`.
async fn active(job: &Job, as_of: Option<i32>) -> Result<u64> {
    let query = match as_of {
        None => "SELECT count(*) AS n FROM rfm_result WHERE recency_days <= 365".to_string(),
        Some(d) => format!(
            "SELECT count(*) AS n FROM rfm({}, {}) WHERE recency_days <= 365",
            job.source(),
            literal(&format!("as_of={}", format_date(d)))
        ),
    };
    let batches = match as_of {
        None => job.sql_results("active customers", &query).await?,
        Some(_) => job.sql("active customers a year before", &query).await?,
    };
    Ok(i64s(&batches, "n")?.first().copied().unwrap_or(0) as u64)
}

pub(super) async fn summary(job: &Job, ctx: &Context, facts: &Facts) -> Result<Section> {
    let mut s = Section::new("summary", "Executive summary");
    let Some(as_of) = ctx.as_of else {
        s.note("No transactions: nothing to summarise.");
        return Ok(s);
    };
    let cohorts = job
        .sql(
            "revenue by month",
            &format!(
                "SELECT * FROM cohort_retention({}, 'month') ORDER BY cohort, period_offset",
                job.source()
            ),
        )
        .await?;
    let by_month = months(&crate::commands::cohorts::cells(&cohorts)?)?;
    let partial = last_period_partial(as_of, "month");
    let names: Vec<String> = by_month.keys().map(|m| month_name(*m)).collect();
    let customers: Vec<f64> = by_month.values().map(|m| m.customers as f64).collect();
    let revenue: Vec<f64> = by_month.values().map(|m| m.revenue).collect();
    let complete = by_month.len() - usize::from(partial && !by_month.is_empty());
    let marked: Vec<usize> = if partial && !by_month.is_empty() {
        vec![by_month.len() - 1]
    } else {
        vec![]
    };

    // Headline figures.
    let now = active(job, None).await?;
    let year_before = as_of - 365;
    let before = active(job, Some(year_before)).await?;
    let short_history = ctx.first_day.is_some_and(|f| f > year_before - 365);
    let last12: f64 = revenue[..complete].iter().rev().take(12).sum();
    let prev12: f64 = revenue[..complete].iter().rev().skip(12).take(12).sum();
    let mut k: Vec<(&str, String)> = vec![
        ("active customers (bought in the last 365 days)", int(now)),
        ("a year before", int(before)),
        ("revenue, last 12 complete months", money(last12)),
    ];
    if let Some((t10, t20)) = facts.top_shares {
        k.push(("revenue from the top 10% of customers", pct(t10)));
        k.push(("from the top 20%", pct(t20)));
    }
    if let Some(r) = &facts.risk {
        k.push(("value at risk from churn", money(r.total)));
    }
    if let Some(c) = &facts.clv {
        k.push(("CLV of the base", money(c.total)));
    }
    s.body.push_str(&kpis(&k));

    let history_note = if short_history {
        format!(
            " (the data start on {}, so the year before is only partly covered)",
            ctx.first_day.map(format_date).unwrap_or_default()
        )
    } else {
        String::new()
    };
    finding(
        &mut s,
        &format!(
            "{} active customers, {} against a year before.",
            int(now),
            change(now as f64, before as f64)
        ),
        &format!(
            "Customers who bought in the 365 days before {}, against those who bought in the 365 days before {}{history_note}.",
            format_date(as_of),
            format_date(year_before)
        ),
        if now < before {
            "The active base is shrinking: put retention and win-back ahead of acquisition."
        } else {
            "The active base is growing: keep the new customers buying a second time."
        },
    );
    if complete >= 1 {
        let months12 = complete.min(12);
        let months_before = complete.saturating_sub(12).min(12);
        let per_month = |total: f64, n: usize| total / n.max(1) as f64;
        finding(
            &mut s,
            &format!(
                "{} revenue in the last {months12} complete months ({} a month){}.",
                money(last12),
                money(per_month(last12, months12)),
                if months_before > 0 {
                    format!(
                        ", {} a month against the {months_before} months before",
                        change(per_month(last12, months12), per_month(prev12, months_before))
                    )
                } else {
                    String::new()
                }
            ),
            &format!(
                "Months {} to {}{}.",
                names[complete - months12],
                names[complete - 1],
                if months_before > 0 && months_before < 12 {
                    "; the months before are compared by their monthly average, as the data cover only part of that year"
                } else {
                    ""
                }
            ),
            "Read the monthly charts below for when the change happened.",
        );
    }
    if let Some((t10, t20)) = facts.top_shares {
        finding(
            &mut s,
            &format!(
                "The top 10% of customers bring {} of revenue, the top 20% {}.",
                pct(t10),
                pct(t20)
            ),
            "Revenue to date by customer, highest first (the value concentration section has the Lorenz curve).",
            if t20 >= 0.6 {
                "Revenue rests on few customers: protect them first, with service and early contact when they slow down."
            } else {
                "Revenue is spread widely: broad programmes pay more than one-to-one care."
            },
        );
    }
    if let Some(r) = &facts.risk {
        finding(
            &mut s,
            &format!(
                "{} of expected value is at risk from churn; {} customers in the high-risk tier hold {} of it.",
                money(r.total),
                int(r.high_customers),
                money(r.high_value)
            ),
            &format!(
                "Value at risk: each customer's probability of no purchase in the {} days after {} times their expected value (churn section).",
                r.window, r.cutoff
            ),
            "Contact the customers with the most value at risk first: the churn section lists them, and clv churn contacts writes the whole list.",
        );
    }
    if let Some(c) = &facts.clv {
        finding(
            &mut s,
            &format!(
                "The base is worth {} over the next {} {}s ({} a customer).",
                money(c.total),
                c.horizon,
                c.unit,
                money(c.total / c.customers.max(1) as f64)
            ),
            &format!(
                "CLV: expected {} over the horizon{}, as of the report date.",
                if c.margin == 1.0 {
                    "revenue (margin 1)".to_string()
                } else {
                    format!("margin at {} of revenue", c.margin)
                },
                if c.discount_rate > 0.0 {
                    format!(", discounted at {} per {}", c.discount_rate, c.unit)
                } else {
                    ", undiscounted".to_string()
                }
            ),
            "Set --margin to your gross margin before comparing it with acquisition costs.",
        );
    }

    let trend_text = |values: &[f64], what: &str, f: fn(f64) -> String| match trend(&values[..complete]) {
        Some((after, before)) => format!(
            "the last three complete months averaged {} {what} a month, {} against the three before.",
            f(after),
            change(after, before)
        ),
        None => "too few complete months for a trend.".to_string(),
    };
    let partial_text = if marked.is_empty() {
        String::new()
    } else {
        format!(
            " The last month ({}*) is partial: the data end on {}.",
            names[names.len() - 1],
            format_date(as_of - 1)
        )
    };
    s.figure_action(
        svg::columns_marked(
            "Active customers by month",
            &names,
            &[("customers who bought", customers.clone())],
            "month",
            "customers",
            &marked,
        ),
        &format!(
            "Customers who bought in each month: {}{partial_text}",
            trend_text(&customers, "customers", |v| int(v.round() as u64))
        ),
        "A falling line means fewer customers come back each month: look at the cohorts and the lifecycle sections for who stopped.",
    );
    s.figure_action(
        svg::columns_marked(
            "Revenue by month",
            &names,
            &[("revenue", revenue.clone())],
            "month",
            "revenue",
            &marked,
        ),
        &format!("Revenue in each month: {}{partial_text}", trend_text(&revenue, "in revenue", money)),
        "Compare with the customer chart: revenue falling faster than customers means smaller baskets, slower means fewer but bigger buyers.",
    );

    // Segments: what carries the revenue and what is at risk, with the scheme's actions.
    if !facts.segments.is_empty() {
        let mut segs = facts.segments.clone();
        segs.sort_by(|a, b| b.revenue.total_cmp(&a.revenue).then_with(|| a.name.cmp(&b.name)));
        let total: f64 = segs.iter().map(|s| s.revenue).sum();
        let risk_total = facts.risk.as_ref().map(|r| r.total).unwrap_or(0.0);
        let at_risk = |name: &str| -> (f64, u64) {
            facts
                .risk
                .as_ref()
                .and_then(|r| r.by_segment.iter().find(|(n, _, _)| n == name))
                .map(|(_, v, c)| (*v, *c))
                .unwrap_or((0.0, 0))
        };
        let share = |v: f64, t: f64| if t != 0.0 { v / t } else { 0.0 };
        let labels: Vec<String> = segs.iter().map(|s| s.name.clone()).collect();
        let mut series = vec![(
            "share of revenue",
            segs.iter().map(|s| share(s.revenue, total)).collect::<Vec<_>>(),
        )];
        if facts.risk.is_some() {
            series.push((
                "share of value at risk",
                segs.iter().map(|s| share(at_risk(&s.name).0, risk_total)).collect(),
            ));
        }
        let top = &segs[0];
        let riskiest = facts.risk.as_ref().and_then(|r| r.by_segment.first());
        s.figure_action(
            svg::hbars("Segments: revenue and value at risk", &labels, &series, pct),
            &format!(
                "Each segment's share of revenue to date{}; {} carries the most ({}){}.",
                if facts.risk.is_some() { " and of the value at risk from churn" } else { "" },
                top.name,
                pct(share(top.revenue, total)),
                riskiest
                    .map(|(n, v, _)| format!(", {n} holds the most value at risk ({})", pct(share(*v, risk_total))))
                    .unwrap_or_default()
            ),
            "Act where the second bar is long: those segments' revenue is about to leave; the table says what the scheme suggests.",
        );
        let rows: Vec<Vec<String>> = segs
            .iter()
            .map(|sg| {
                let (v, _) = at_risk(&sg.name);
                vec![
                    sg.name.clone(),
                    int(sg.customers as u64),
                    pct(share(sg.revenue, total)),
                    money(v),
                    sg.action.clone().unwrap_or_else(|| "–".into()),
                ]
            })
            .collect();
        s.table(
            "Segments by revenue to date, with their value at risk from churn and the suggested action of the segment scheme.",
            &["segment", "customers", "revenue share", "value at risk", "suggested action"],
            &rows,
        );
    }
    s.body.push_str(
        "<p>Details: <a href=\"#churn\">whom to contact</a> · <a href=\"#clv\">customer lifetime value</a> · \
         <a href=\"#validation\">how well the models predict</a> · <a href=\"#overview\">data and policies</a>.</p>",
    );
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::cohorts::CohortCell;

    fn cell(cohort: &str, offset: i64, active: i64, revenue: f64) -> CohortCell {
        CohortCell {
            cohort: cohort.into(),
            offset,
            cohort_customers: 0,
            active_customers: active,
            retention_rate: 0.0,
            revenue,
            revenue_retention: 0.0,
            cumulative_revenue_per_customer: 0.0,
        }
    }

    #[test]
    fn calendar_months_add_up_the_cohort_cells() {
        // January's cohort active in Jan (3) and Mar (1); February's in Feb (2) and Mar (2):
        // March has 1 + 2 customers; April, between data months, is an empty month.
        let m = months(&[
            cell("1997-01-01", 0, 3, 30.0),
            cell("1997-01-01", 2, 1, 5.0),
            cell("1997-02-01", 0, 2, 20.0),
            cell("1997-02-01", 1, 2, 7.5),
            cell("1997-05-01", 0, 1, 1.0),
        ])
        .unwrap();
        let v: Vec<(String, i64, f64)> = m
            .iter()
            .map(|(k, m)| (month_name(*k), m.customers, m.revenue))
            .collect();
        assert_eq!(
            v,
            vec![
                ("1997-01".into(), 3, 30.0),
                ("1997-02".into(), 2, 20.0),
                ("1997-03".into(), 3, 12.5),
                ("1997-04".into(), 0, 0.0),
                ("1997-05".into(), 1, 1.0),
            ]
        );
        assert_eq!(trend(&[1.0, 1.0, 1.0, 2.0, 2.0, 2.0]), Some((2.0, 1.0)));
        assert_eq!(trend(&[1.0; 5]), None);
        assert_eq!(change(2.0, 1.0), "+100.0%");
        assert_eq!(change(1.0, 0.0), "n/a");
    }
}
