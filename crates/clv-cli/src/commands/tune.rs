//! `clv tune`: a grid of segmentations ranked by how well they separate what customers did
//! next, printed and drawn in an HTML chart.

use super::report::html::{self, Section, kpis};
use super::report::svg;
use super::rfm::register_schemes;
use super::segments::default_cutoffs;
use super::{Job, literal};
use crate::cli::GlobalArgs;
use crate::cli_segments::TuneArgs;
use crate::columns::{f64s, strings};
use crate::error::Result;
use crate::output::{self, Emitted};

/// The grid `clv tune` evaluates when no list is given.
pub const DEFAULT_SCHEMES: &str = "rf_grid,rfm11,rfm3_en,tiers_en,cn8_en,cell,kmeans";
/// Default bins of `cell` and `total`.
pub const DEFAULT_BINS: &str = "3,4,5";
/// Default lookback windows.
pub const DEFAULT_LOOKBACKS: &str = "all,365";
/// Default cluster counts.
pub const DEFAULT_KS: &str = "4,6,8";

/// Runs `clv tune`.
pub async fn run(global: &GlobalArgs, args: TuneArgs) -> Result<()> {
    let job = Job::new(global, &args.input, &args.window.options()).await?;
    register_schemes(&job.ctx, &args.scheme_file)?;
    args.output.check()?;
    crate::files::check_output(&args.html, "--html")?;
    let cutoffs = default_cutoffs(&job, 6).await?;
    let list = |v: &Option<String>, default: &str| v.clone().unwrap_or_else(|| default.to_string());
    let rank_by = args.rank_by.clone().unwrap_or_else(|| "eta2_revenue".into());
    let grid = [
        ("schemes", list(&args.schemes, DEFAULT_SCHEMES)),
        ("bins", list(&args.bins, DEFAULT_BINS)),
        ("lookback_days", list(&args.lookbacks, DEFAULT_LOOKBACKS)),
        ("k", list(&args.ks, DEFAULT_KS)),
        ("rank_by", rank_by.clone()),
    ];
    let mut grid_args: Vec<String> = grid.iter().map(|(k, v)| literal(&format!("{k}={v}"))).collect();
    if let Some(m) = &args.methods {
        grid_args.push(literal(&format!("methods={m}")));
    }
    let o = crate::session::options(&job.ctx);
    let cutoffs = clv::churn::cutoffs::format_cutoffs(&clv::churn::parse_cutoffs(&cutoffs, o.churn_every)?);
    let result = job
        .sql_registered(
            "tuning grid",
            &format!(
                "SELECT * FROM segment_tune({}, {}) ORDER BY rank",
                job.source(),
                grid_args.join(", ")
            ),
            "tune_result",
        )
        .await?;
    let emitted = output::emit(&result, &args.output, job.quiet)?;
    let names: Vec<String> = strings(&result, "segmentation")?
        .into_iter()
        .zip(strings(&result, "baseline")?)
        .map(|(n, b)| {
            let n = n.unwrap_or_default();
            if b.as_deref() == Some("true") {
                format!("{n} (baseline)")
            } else {
                n
            }
        })
        .collect();
    write_chart(
        &args,
        &result,
        &names,
        &cutoffs,
        o.churn_window_days,
        &rank_by,
        &job.input.label,
    )?;
    if emitted == Emitted::Done {
        return Ok(());
    }
    job.note(format!(
        "Tuned {} configurations of {} at {} cutoffs ({cutoffs}), {}-day outcome windows; ranked by the mean {rank_by} over the cutoffs",
        names.len(),
        job.input.label,
        cutoffs.split(',').count(),
        o.churn_window_days
    ));
    let shown = job
        .sql_results(
            "table",
            "SELECT rank, segmentation, baseline, round(segments, 1) AS segments, round(eta2_revenue, 4) AS eta2_revenue,
                    round(eta2_repurchase, 4) AS eta2_repurchase, round(best_lift, 2) AS best_lift,
                    round(stability, 3) AS stability, round(min_eta2_revenue, 4) AS worst_eta2_revenue
             FROM tune_result ORDER BY rank",
        )
        .await?;
    output::print_table("Segmentations, best first", &shown)?;
    job.note(format!("Wrote the chart to {}", args.html.display()));
    Ok(())
}

fn write_chart(
    args: &TuneArgs,
    result: &[datafusion::arrow::array::RecordBatch],
    names: &[String],
    cutoffs: &str,
    window: i64,
    rank_by: &str,
    input: &str,
) -> Result<()> {
    let metric_column = match rank_by.trim().to_ascii_lowercase().as_str() {
        "lift" => "best_lift".to_string(),
        "eta2" => "eta2_revenue".to_string(),
        m => m.to_string(),
    };
    let mut s = Section::new("tune", "Segmentation tuning");
    let best = names.first().cloned().unwrap_or_default();
    s.body.push_str(&kpis(&[
        ("configurations", names.len().to_string()),
        ("cutoffs", cutoffs.split(',').count().to_string()),
        ("outcome window", format!("{window} days")),
        ("best", best),
    ]));
    s.para(&format!(
        "Each segmentation was computed at every cutoff ({cutoffs}) from the data up to that cutoff, then scored on what its customers did in the {window} days after it. eta2 is the share of the variance of future revenue per customer (or of repurchase) explained by the segments; lift is the best segment's future revenue per customer over the population's; stability is the share of customers keeping their segment from one cutoff to the next. The baseline is the recency score alone."
    ));
    let pct = |v: f64| format!("{:.1}%", 100.0 * v);
    s.figure(
        svg::hbars(
            "Segmentations ranked",
            names,
            &[
                ("eta2 of future revenue", f64s(result, "eta2_revenue")?),
                ("eta2 of repurchase", f64s(result, "eta2_repurchase")?),
                ("stability", f64s(result, "stability")?),
            ],
            pct,
        ),
        &format!("Each configuration's mean over the cutoffs, ranked by {metric_column}."),
    );
    let lift = f64s(result, "best_lift")?;
    s.figure(
        svg::hbars("Lift of the best segment", names, &[("future revenue lift", lift)], |v| format!("{v:.2}")),
        "Future revenue per customer of each configuration's best segment over the population's (mean over the cutoffs).",
    );
    let columns = [
        "segments",
        "eta2_revenue",
        "eta2_repurchase",
        "best_lift",
        "stability",
        "min_eta2_revenue",
    ];
    let values: Vec<Vec<f64>> = columns.iter().map(|c| f64s(result, c)).collect::<Result<_>>()?;
    let rows: Vec<Vec<String>> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut r = vec![(i + 1).to_string(), n.clone()];
            r.extend(values.iter().map(|v| {
                if v[i].is_finite() {
                    format!("{:.4}", v[i])
                } else {
                    "–".into()
                }
            }));
            r
        })
        .collect();
    s.table(
        "Every configuration (means over the cutoffs; min_eta2_revenue is the worst cutoff).",
        &[
            "rank",
            "segmentation",
            "segments",
            "eta2 revenue",
            "eta2 repurchase",
            "best lift",
            "stability",
            "worst eta2 revenue",
        ],
        &rows,
    );
    let page = html::page(
        &format!("Segmentation tuning: {}", input.trim_matches('\'')),
        &format!("{input} · cutoffs {cutoffs} · {window}-day windows"),
        &[s],
        &format!("Made by clv {}.", env!("CARGO_PKG_VERSION")),
    );
    crate::files::write_atomically(&args.html, "--html", page.as_bytes())
}
