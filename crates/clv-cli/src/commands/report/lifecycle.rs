//! The report section: Lifecycle stages and transitions.

use super::*;

pub(super) async fn lifecycle(job: &Job, ctx: &Context, from: Option<&str>, to: Option<&str>) -> Result<Section> {
    let src = job.source();
    let mut s = Section::new("lifecycle", "Lifecycle");
    let counts = job
        .sql(
            "lifecycle stages",
            &format!("SELECT stage, count(*) AS customers FROM lifecycle({src}) GROUP BY stage ORDER BY {STAGE_ORDER}"),
        )
        .await?;
    let stages: Vec<String> = strings(&counts, "stage")?
        .into_iter()
        .map(|s| s.unwrap_or_default())
        .collect();
    let n = f64s(&counts, "customers")?;
    let w = crate::session::options(&job.ctx).lifecycle_windows();
    s.figure(
        svg::hbars("Lifecycle stage counts", &stages, &[("customers", n)], short),
        &format!(
            "Customers in each lifecycle stage as of the report date (new: first purchase under {} days ago; active: last purchase under {} days ago; churned: {} days or more).",
            w.new_days, w.active_days, w.churn_days
        ),
    );
    let to = match to {
        Some(t) => t.to_string(),
        None => match ctx.as_of {
            Some(d) => format_date(d),
            None => return Ok(s),
        },
    };
    let from = match from {
        Some(f) => f.to_string(),
        None => {
            let (Some(a), Some(b)) = (ctx.first_day, ctx.as_of) else {
                return Ok(s);
            };
            format_date(a + (b - a) / 2)
        }
    };
    let moves = job
        .sql(
            "lifecycle transitions",
            &format!(
                "SELECT from_stage, to_stage, customers FROM lifecycle_transitions({src}, {}, {})",
                literal(&from),
                literal(&to)
            ),
        )
        .await?;
    let (fs, ts, n) = (
        strings(&moves, "from_stage")?,
        strings(&moves, "to_stage")?,
        f64s(&moves, "customers")?,
    );
    let order = ["prospect", "new", "active", "reactivated", "silent", "churned"];
    let present = |v: &[Option<String>]| -> Vec<String> {
        order
            .iter()
            .filter(|o| v.iter().any(|x| x.as_deref() == Some(**o)))
            .map(|o| o.to_string())
            .collect()
    };
    let (rows, cols) = (present(&fs), present(&ts));
    let mut values = vec![vec![None; cols.len()]; rows.len()];
    let mut labels = vec![vec![String::new(); cols.len()]; rows.len()];
    for i in 0..n.len() {
        let r = rows.iter().position(|x| Some(x.as_str()) == fs[i].as_deref());
        let c = cols.iter().position(|x| Some(x.as_str()) == ts[i].as_deref());
        if let (Some(r), Some(c)) = (r, c) {
            values[r][c] = Some(n[i]);
            labels[r][c] = int(n[i] as u64);
        }
    }
    s.figure(
        svg::heatmap(
            "Lifecycle transition matrix",
            &rows,
            &cols,
            &values,
            &labels,
            &format!("stage on {to}"),
            &format!("stage on {from}"), &svg::HeatmapStyle::default()),
        &format!("Transition matrix: customers by their stage on {from} (rows) and on {to} (columns); prospects had not bought yet."),
    );
    Ok(s)
}
