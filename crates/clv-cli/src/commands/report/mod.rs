//! `clv report`: one self-contained HTML file with charts.
//!
//! Every number comes from the clv functions (`clv_policy_report`, `rfm`, `cohort_retention`,
//! `lifecycle`, `lifecycle_transitions`, `btyd_summary`, `bgnbd_fit`, `clv_predict`, and the
//! segment functions of [`segments`]) or from
//! the fitted BG/NBD model loaded through the library (`FittedBgNbd`); this module only shapes
//! them into charts.

mod churn;
mod cohorts;
pub mod html;
mod lifecycle;
mod model;
mod overview;
mod rfm;
mod segments;
mod summary;
pub mod svg;
mod value;

use std::collections::BTreeMap;

use clv::common::dates::{format_date, parse_date};
use clv::ltv::{FittedBgNbd, ModelKind};
use clv::prelude::*;

use super::churn::STAGE_ORDER;
use super::cohorts::{cells, shape};
use super::models::{describe, display_name, fit_model, parameters, predict_query};
use super::{Job, literal};
use crate::cli::{GlobalArgs, ReportArgs};
use crate::columns::{f64s, i64s, strings};
use crate::error::{CliError, Result};
use html::{Section, kpis};
use svg::short;

/// The calibration split of the bundled sample (as in Fader, Hardie & Lee 2005).
const SAMPLE_SPLIT: (&str, &str) = ("1997-09-30", "1998-06-30");

fn int(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A rate as a percentage, `n/a` when it is undefined (no customers: NaN or NULL).
fn rate(v: f64) -> String {
    if v.is_finite() { pct(v) } else { "n/a".to_string() }
}

fn pct(v: f64) -> String {
    format!("{:.1}%", 100.0 * v)
}

fn money(v: f64) -> String {
    if v.abs() >= 1e4 { short(v) } else { format!("{v:.2}") }
}

/// Bins of a round width from the smallest value (or 0) up to about `cap`, the last one also
/// holding everything above: labels are the bins' lower bounds.
pub fn histogram(values: &[f64], bins: usize, cap: f64) -> (Vec<String>, Vec<f64>) {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let lo = finite.iter().copied().fold(0.0, f64::min);
    let cap = if cap > lo { cap } else { lo + 1.0 };
    let width = svg::nice_step((cap - lo) / bins as f64);
    let bins = (((cap - lo) / width).ceil() as usize).max(1);
    let mut counts = vec![0.0; bins];
    for v in finite {
        let i = (((v - lo) / width).floor().max(0.0) as usize).min(bins - 1);
        counts[i] += 1.0;
    }
    let labels = (0..bins)
        .map(|i| {
            let from = lo + width * i as f64;
            if i + 1 == bins {
                format!("{}+", short(from))
            } else {
                short(from)
            }
        })
        .collect();
    (labels, counts)
}

/// A histogram of `values` capped at their 99th percentile, with its caption.
fn capped_histogram(s: &mut Section, title: &str, values: &[f64], x_title: &str, what: &str) {
    let cap = quantile(values, 0.99);
    let (labels, counts) = histogram(values, 20, cap);
    let last = labels.last().cloned().unwrap_or_default();
    s.figure(
        svg::columns(title, &labels, &[("customers", counts)], x_title, "customers"),
        &format!(
            "{what}; the last bar ({last}) also holds the top 1% (above {}).",
            money(cap)
        ),
    );
}

/// The `q` quantile (nearest rank) of the finite values.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1]
}

/// The calendar period (`day`, `week` from Monday, `month`, `quarter`, `year`) holding `day`
/// (days since 1970-01-01) as one number that counts periods, so that a cohort's period plus
/// its offset is the calendar period of the cell.
pub fn period_index(day: i32, period: &str) -> i64 {
    let date = format_date(day);
    let (y, m): (i64, i64) = (date[..4].parse().unwrap_or(0), date[5..7].parse().unwrap_or(1));
    match period {
        "day" => i64::from(day),
        // 1970-01-01 was a Thursday: day + 3 counts from the Monday before it.
        "week" => (i64::from(day) + 3).div_euclid(7),
        "quarter" => (y * 12 + m - 1).div_euclid(3),
        "year" => y,
        _ => y * 12 + m - 1,
    }
}

/// Whether the last period of the data, ending the day before `as_of`, is partial: `as_of`
/// does not start a period.
pub fn last_period_partial(as_of: i32, period: &str) -> bool {
    period_index(as_of, period) == period_index(as_of - 1, period)
}

/// What the overview learns that later sections use.
struct Context {
    as_of: Option<i32>,
    first_day: Option<i32>,
    holdout: bool,
    time_unit: String,
}

/// The calibration split the job was given, set again after the CLV as of the report date.
fn set_split(job: &Job, calibration_end: Option<i32>, holdout_end: Option<i32>) -> Result<()> {
    let state = job.ctx.state_ref();
    let mut state = state.write();
    let o = state
        .config_mut()
        .options_mut()
        .extensions
        .get_mut::<clv::config::ClvOptions>()
        .ok_or_else(|| CliError::internal("clv options are not registered"))?;
    o.btyd_calibration_end = calibration_end;
    o.btyd_holdout_end = holdout_end;
    Ok(())
}

/// The validation cut of an input given no split: the holdout is the last half of the history,
/// at most 52 weeks, in whole weeks, ending on the last day before `as_of`; `None` when that
/// leaves less than 4 weeks of holdout.
fn default_split(first_day: Option<i32>, as_of: Option<i32>) -> Option<(i32, i32)> {
    let (first, as_of) = (first_day?, as_of?);
    let holdout_end = as_of - 1;
    let weeks = ((holdout_end - first) / 2 / 7).min(52);
    (weeks >= 4).then(|| (holdout_end - 7 * weeks, holdout_end))
}

/// The input's name for the title: its file name, not its path.
fn input_name(args: &ReportArgs) -> String {
    match &args.input.path {
        None => "CDNOW sample".to_string(),
        Some(p) => std::path::Path::new(p)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| p.clone()),
    }
}

/// Runs `clv report`.
pub async fn run(global: &GlobalArgs, args: ReportArgs) -> Result<()> {
    let sample = args.input.path.is_none();
    let (calibration, holdout) = match (&args.calibration_end, &args.holdout_end, sample) {
        (None, None, true) => (Some(SAMPLE_SPLIT.0.to_string()), Some(SAMPLE_SPLIT.1.to_string())),
        (c, h, _) => (c.clone(), h.clone()),
    };
    if holdout.is_some() && calibration.is_none() {
        return Err(CliError::usage(
            "--holdout-end needs --calibration-end: the holdout is the period after the calibration end",
        ));
    }
    let split_given = calibration.is_some() || holdout.is_some();
    let mut options = args.rfm.options();
    options.extend(args.value.options());
    options.extend([
        ("btyd.calibration_end", calibration),
        ("btyd.holdout_end", holdout),
        ("btyd.time_unit", args.time_unit.clone()),
        ("cohort.period", args.period.clone()),
    ]);
    let job = Job::new(global, &args.input, &options).await?;
    super::rfm::register_schemes(&job.ctx, &args.rfm.scheme_file)?;
    crate::files::check_output(&args.out, "--out")?;
    let (overview, ctx) = overview::overview(&job).await?;
    if let (false, Some((calibration_end, holdout_end))) = (split_given, default_split(ctx.first_day, ctx.as_of)) {
        // No split given: the validation section still judges the models on data they did not
        // see, on the latest stretch of the history.
        set_split(&job, Some(calibration_end), Some(holdout_end))?;
        job.note(format!(
            "Validation cut: calibration to {}, holdout to {} (the last {} days; set --calibration-end and --holdout-end to choose)",
            format_date(calibration_end),
            format_date(holdout_end),
            holdout_end - calibration_end
        ));
    }
    let mut facts = summary::Facts::default();
    let mut sections = vec![];
    sections.push(rfm::rfm(&job, &mut facts).await?);
    if global.cluster.is_none() {
        sections.push(segments::concentration(&job, &mut facts).await?);
        sections.push(segments::evaluation(&job, &ctx).await?);
        sections.push(segments::migration(&job, &ctx, args.from.as_deref(), args.to.as_deref()).await?);
        sections.push(segments::clusters(&job).await?);
    } else {
        sections.push(segments::not_on_a_cluster());
    }
    sections.push(cohorts::cohorts(&job, &ctx).await?);
    sections.push(lifecycle::lifecycle(&job, &ctx, args.from.as_deref(), args.to.as_deref()).await?);
    // CLV as of the report date: the models fitted on all history up to it.
    let o = crate::session::options(&job.ctx);
    let split = (o.btyd_calibration_end, o.btyd_holdout_end);
    set_split(&job, None, None)?;
    let value = value::clv(&job, &ctx, &mut facts, args.top).await;
    set_split(&job, split.0, split.1)?;
    sections.push(value?);
    sections.push(churn::churn(&job, &ctx, &mut facts).await?);
    sections.push(model::model(&job, &ctx).await?);
    let mut overview = overview;
    overview.title = "Appendix: data and policies".into();
    sections.push(overview);
    sections.insert(0, summary::summary(&job, &ctx, &facts).await?);
    let title = args
        .title
        .clone()
        .unwrap_or_else(|| format!("Customer value report: {}", input_name(&args)));
    let subtitle = format!(
        "{} · as of {}",
        input_name(&args),
        ctx.as_of.map(format_date).unwrap_or_else(|| "–".into())
    );
    let page = job.progress.step("rendering the report", || {
        html::page(
            &title,
            &subtitle,
            &sections,
            &format!("Made by clv {}.", env!("CARGO_PKG_VERSION")),
        )
    });
    crate::files::write_atomically(&args.out, "--out", page.as_bytes())?;
    job.note(format!("Wrote the report to {}", args.out.display()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_validation_cut() {
        let d = |s: &str| parse_date(s, "date").unwrap();
        // CDNOW: 1997-01-01 .. 1998-06-30, 545 days: the holdout is the last 38 whole weeks.
        let (c, h) = default_split(Some(d("1997-01-01")), Some(d("1998-07-01"))).unwrap();
        assert_eq!(
            (format_date(c), format_date(h)),
            ("1997-10-07".into(), "1998-06-30".into())
        );
        // Four years: at most 52 weeks of holdout.
        let (c, h) = default_split(Some(d("2020-01-01")), Some(d("2024-01-01"))).unwrap();
        assert_eq!(h - c, 364);
        // Under 8 weeks of history: no cut.
        assert_eq!(default_split(Some(d("2024-01-01")), Some(d("2024-02-20"))), None);
        assert_eq!(default_split(None, Some(d("2024-02-20"))), None);
    }

    #[test]
    fn periods_and_partial_last_periods() {
        let d = |s: &str| parse_date(s, "date").unwrap();
        assert!(!last_period_partial(d("1998-07-01"), "month"));
        assert!(last_period_partial(d("1998-06-30"), "month"));
        assert!(!last_period_partial(d("1998-07-01"), "quarter"));
        assert!(last_period_partial(d("1998-08-01"), "quarter"));
        assert!(!last_period_partial(d("1999-01-01"), "year"));
        // 1998-07-06 was a Monday.
        assert!(!last_period_partial(d("1998-07-06"), "week"));
        assert!(last_period_partial(d("1998-07-07"), "week"));
        assert!(!last_period_partial(d("1998-07-07"), "day"));
        assert_eq!(
            period_index(d("1998-06-30"), "month") - period_index(d("1997-01-01"), "month"),
            17
        );
        assert_eq!(
            period_index(d("1969-12-29"), "week"),
            period_index(d("1970-01-04"), "week")
        );
    }
}
