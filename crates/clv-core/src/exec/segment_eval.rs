//! `segment_evaluate`, `segment_metrics` and `segment_tune` as panel jobs
//! ([`super::panel_exec`]): a segmentation (or a grid of them) scored against what customers
//! did in the window after each cutoff. The figures are defined in
//! [`crate::segment::evaluate`].

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray, UInt32Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::LogicalPlan;

use super::panel_exec::{PanelCall, PanelJob, PanelTable, order_count};
use crate::churn::parse_cutoffs;
use crate::config::ClvOptions;
use crate::plan::rfm::{RfmFunctions, resolve_specs};
use crate::rfm::{SchemeRegistry, ScoreMethod};
use crate::segment::evaluate::{CutoffEvaluation, EvaluationWindow, evaluate_grid};
use crate::segment::grid::{Grid, GridEntry, RankMetric};
use crate::segment::panel::PurchasePanel;
use crate::segment::segmentation::{Labeller, Segmentation};

/// The longest outcome window (about 270 years).
const MAX_WINDOW_DAYS: i64 = 100_000;

/// The segmentation the options describe: the scheme (`rfm.scheme`, or one of `cell`,
/// `total`, `recency`, `kmeans`), bins, method, thresholds, lookback window and monetary
/// aggregation.
pub fn segmentation(o: &ClvOptions, schemes: &SchemeRegistry) -> Result<Segmentation> {
    let name = o.rfm_scheme.trim().to_ascii_lowercase();
    let labeller = match name.as_str() {
        "none" => return plan_err!("scheme 'none' gives no segments; use scheme 'cell' for the score cells"),
        "cell" => Some(Labeller::Cell),
        "total" => Some(Labeller::Total),
        "recency" => Some(Labeller::Recency),
        "kmeans" => Some(Labeller::KMeans {
            k: o.kmeans_k,
            seed: o.seed,
        }),
        _ => None,
    };
    let mut scored = o.clone();
    if labeller.is_some() {
        scored.rfm_scheme = "none".into();
    }
    let specs = resolve_specs(&scored, schemes)?;
    let labeller = match (labeller, specs.scheme) {
        (Some(l), _) => l,
        (None, Some(s)) => Labeller::Scheme(s),
        (None, None) => return plan_err!("scheme '{}' gives no segments", o.rfm_scheme),
    };
    let s = Segmentation {
        labeller,
        r: specs.r,
        f: specs.f,
        m: specs.m,
        lookback_days: o.rfm_lookback_days,
        monetary: o.rfm_monetary,
    };
    s.validate()?;
    Ok(s)
}

/// The cutoffs and window of `o` for `function`: `cutoffs` is required.
pub(crate) fn evaluation_window(o: &ClvOptions, function: &str) -> Result<EvaluationWindow> {
    let Some(text) = &o.churn_cutoffs else {
        return plan_err!(
            "{function} needs cutoffs: a list 'cutoffs=1997-06-30,1997-09-30' or a range 'cutoffs=1997-01-01..1997-12-31' (month ends)"
        );
    };
    let window_days = o.churn_window_days;
    if window_days > MAX_WINDOW_DAYS {
        return plan_err!("window_days must be at most {MAX_WINDOW_DAYS}, got {window_days}");
    }
    Ok(EvaluationWindow {
        cutoffs: parse_cutoffs(text, o.churn_every)?,
        window_days,
        data_end: o.as_of,
        orders: order_count(o, function)?,
    })
}

fn date(name: &str) -> Field {
    Field::new(name, DataType::Date32, false)
}

fn float(name: &str) -> Field {
    Field::new(name, DataType::Float64, true)
}

fn int(name: &str) -> Field {
    Field::new(name, DataType::Int64, false)
}

/// What `segment_evaluate` / `segment_metrics` return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EvaluationOutput {
    /// One row per cutoff and segment.
    Segments,
    /// One row per cutoff.
    Metrics,
}

/// The columns of `segment_evaluate`.
pub const SEGMENT_EVALUATE_COLUMNS: [&str; 15] = [
    "cutoff",
    "window_end",
    "segment",
    "customers",
    "customer_share",
    "repurchasers",
    "repurchase_rate",
    "churn_rate",
    "future_orders",
    "future_revenue",
    "revenue_per_customer",
    "revenue_share",
    "aov",
    "lift",
    "complete",
];

/// The columns of `segment_metrics`.
pub const SEGMENT_METRICS_COLUMNS: [&str; 13] = [
    "cutoff",
    "window_end",
    "segmentation",
    "customers",
    "segments",
    "repurchase_rate",
    "revenue_per_customer",
    "eta2_revenue",
    "eta2_repurchase",
    "best_segment",
    "best_lift",
    "stability",
    "complete",
];

fn evaluate_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        date("cutoff"),
        date("window_end"),
        Field::new("segment", DataType::Utf8, false),
        int("customers"),
        Field::new("customer_share", DataType::Float64, false),
        int("repurchasers"),
        Field::new("repurchase_rate", DataType::Float64, false),
        float("churn_rate"),
        int("future_orders"),
        Field::new("future_revenue", DataType::Float64, false),
        Field::new("revenue_per_customer", DataType::Float64, false),
        float("revenue_share"),
        float("aov"),
        float("lift"),
        Field::new("complete", DataType::Boolean, false),
    ]))
}

fn metrics_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        date("cutoff"),
        date("window_end"),
        Field::new("segmentation", DataType::Utf8, false),
        int("customers"),
        int("segments"),
        float("repurchase_rate"),
        float("revenue_per_customer"),
        float("eta2_revenue"),
        float("eta2_repurchase"),
        Field::new("best_segment", DataType::Utf8, true),
        float("best_lift"),
        float("stability"),
        Field::new("complete", DataType::Boolean, false),
    ]))
}

/// The rows of `segment_evaluate` for the evaluations of one segmentation.
pub(crate) fn evaluate_batch(evaluations: &[CutoffEvaluation]) -> Result<RecordBatch> {
    let rows: Vec<(&CutoffEvaluation, &crate::segment::evaluate::SegmentFigures)> = evaluations
        .iter()
        .flat_map(|e| e.by_segment.iter().map(move |s| (e, s)))
        .collect();
    let f = |g: fn(&crate::segment::evaluate::SegmentFigures) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(rows.iter().map(|(_, s)| g(s))))
    };
    let o = |g: fn(&crate::segment::evaluate::SegmentFigures) -> Option<f64>| -> ArrayRef {
        Arc::new(rows.iter().map(|(_, s)| g(s)).collect::<Float64Array>())
    };
    let i = |g: fn(&crate::segment::evaluate::SegmentFigures) -> u64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|(_, s)| g(s) as i64)))
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Date32Array::from_iter_values(rows.iter().map(|(e, _)| e.cutoff))),
        Arc::new(Date32Array::from_iter_values(rows.iter().map(|(e, _)| e.window_end))),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|(_, s)| &s.segment))),
        i(|s| s.customers),
        f(|s| s.customer_share),
        i(|s| s.repurchasers),
        f(|s| s.repurchase_rate),
        o(|s| s.churn_rate),
        i(|s| s.future_orders),
        f(|s| s.future_revenue),
        f(|s| s.revenue_per_customer),
        o(|s| s.revenue_share),
        o(|s| s.aov),
        o(|s| s.lift),
        Arc::new(BooleanArray::from_iter(rows.iter().map(|(e, _)| Some(e.complete)))),
    ];
    Ok(RecordBatch::try_new(evaluate_schema(), columns)?)
}

/// The rows of `segment_metrics` for the evaluations of one segmentation.
pub(crate) fn metrics_batch(segmentation: &str, evaluations: &[CutoffEvaluation]) -> Result<RecordBatch> {
    let e = evaluations;
    let o =
        |g: fn(&CutoffEvaluation) -> Option<f64>| -> ArrayRef { Arc::new(e.iter().map(g).collect::<Float64Array>()) };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Date32Array::from_iter_values(e.iter().map(|e| e.cutoff))),
        Arc::new(Date32Array::from_iter_values(e.iter().map(|e| e.window_end))),
        Arc::new(StringArray::from_iter_values(e.iter().map(|_| segmentation))),
        Arc::new(Int64Array::from_iter_values(e.iter().map(|e| e.customers as i64))),
        Arc::new(Int64Array::from_iter_values(e.iter().map(|e| e.segments as i64))),
        o(|e| e.repurchase_rate),
        o(|e| e.revenue_per_customer),
        o(|e| e.eta2_revenue),
        o(|e| e.eta2_repurchase),
        Arc::new(e.iter().map(|e| e.best_segment.clone()).collect::<StringArray>()),
        o(|e| e.best_lift),
        o(|e| e.stability),
        Arc::new(BooleanArray::from_iter(e.iter().map(|e| Some(e.complete)))),
    ];
    Ok(RecordBatch::try_new(metrics_schema(), columns)?)
}

/// One segmentation at several cutoffs.
#[derive(Debug)]
pub(crate) struct EvaluateJob {
    segmentation: Segmentation,
    window: EvaluationWindow,
    output: EvaluationOutput,
}

impl PanelJob for EvaluateJob {
    fn name(&self) -> &'static str {
        match self.output {
            EvaluationOutput::Segments => "segment_evaluate",
            EvaluationOutput::Metrics => "segment_metrics",
        }
    }

    fn schema(&self) -> SchemaRef {
        match self.output {
            EvaluationOutput::Segments => evaluate_schema(),
            EvaluationOutput::Metrics => metrics_schema(),
        }
    }

    fn run(&self, panel: &PurchasePanel) -> Result<RecordBatch> {
        let e = evaluate_grid(panel, std::slice::from_ref(&self.segmentation), &self.window)?;
        let e = e.into_iter().next().unwrap_or_default();
        match self.output {
            EvaluationOutput::Segments => evaluate_batch(&e),
            EvaluationOutput::Metrics => metrics_batch(&self.segmentation.describe(), &e),
        }
    }
}

/// The `segment_evaluate` (per segment) or `segment_metrics` (per cutoff) table of `source`.
pub(crate) fn evaluate_table(
    source: LogicalPlan,
    o: &ClvOptions,
    fns: &RfmFunctions,
    output: EvaluationOutput,
) -> Result<PanelTable> {
    let name = match output {
        EvaluationOutput::Segments => "segment_evaluate",
        EvaluationOutput::Metrics => "segment_metrics",
    };
    let job = EvaluateJob {
        segmentation: segmentation(o, &fns.schemes())?,
        window: evaluation_window(o, name)?,
        output,
    };
    PanelTable::try_new(source, PanelCall::new(name, o, Some(fns)), o, Arc::new(job))
}

/// The columns of `segment_outcomes`.
pub const SEGMENT_OUTCOMES_COLUMNS: [&str; 10] = [
    "cutoff",
    "customer_id",
    "recency_days",
    "frequency",
    "monetary",
    "future_orders",
    "future_revenue",
    "repurchased",
    "window_end",
    "complete",
];

/// Per customer and cutoff: the RFM values and the outcomes in the window, for scoring any
/// segment column (`segmentation_score`).
#[derive(Debug)]
pub(crate) struct OutcomesJob {
    window: EvaluationWindow,
    lookback_days: Option<i64>,
    monetary: crate::config::Monetary,
    id_type: DataType,
}

impl PanelJob for OutcomesJob {
    fn name(&self) -> &'static str {
        "segment_outcomes"
    }

    fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(vec![
            date("cutoff"),
            Field::new("customer_id", self.id_type.clone(), false),
            int("recency_days"),
            int("frequency"),
            Field::new("monetary", DataType::Float64, false),
            int("future_orders"),
            Field::new("future_revenue", DataType::Float64, false),
            Field::new("repurchased", DataType::Boolean, false),
            date("window_end"),
            Field::new("complete", DataType::Boolean, false),
        ]))
    }

    fn run(&self, panel: &PurchasePanel) -> Result<RecordBatch> {
        use crate::segment::evaluate::Outcomes;
        use crate::segment::panel::CutoffQuery;
        use crate::segment::segmentation::RfmValues;
        let data_end = self.window.data_end.or(panel.last_day()).unwrap_or(i32::MIN);
        let mut batches = vec![];
        for &cutoff in &self.window.cutoffs {
            let data = panel.at_cutoff(CutoffQuery {
                cutoff,
                lookback_days: self.lookback_days,
                window_days: Some(self.window.window_days),
                orders: self.window.orders,
            });
            let outcomes = Outcomes::new(&data, self.window.window_days, data_end, panel.scale())?;
            let monetary = panel.to_f64(&data.monetary_sum)?;
            let values = RfmValues::new(&data, &monetary, self.monetary);
            let n = data.len();
            let columns: Vec<ArrayRef> = vec![
                Arc::new(Date32Array::from_iter_values(std::iter::repeat_n(cutoff, n))),
                panel.ids(&data.customers)?,
                Arc::new(Int64Array::from(data.recency_days.clone())),
                Arc::new(Int64Array::from(data.frequency.clone())),
                Arc::new(Float64Array::from(values.monetary)),
                Arc::new(Int64Array::from_iter_values(
                    outcomes.orders.iter().map(|o| i64::from(*o)),
                )),
                Arc::new(Float64Array::from(outcomes.revenue.clone())),
                Arc::new(BooleanArray::from_iter(outcomes.orders.iter().map(|o| Some(*o > 0)))),
                Arc::new(Date32Array::from_iter_values(std::iter::repeat_n(
                    outcomes.window_end,
                    n,
                ))),
                Arc::new(BooleanArray::from_iter(std::iter::repeat_n(Some(outcomes.complete), n))),
            ];
            batches.push(RecordBatch::try_new(self.schema(), columns)?);
        }
        Ok(datafusion::arrow::compute::concat_batches(&self.schema(), &batches)?)
    }
}

/// The `segment_outcomes` table of `source`.
pub(crate) fn outcomes_table(source: LogicalPlan, o: &ClvOptions) -> Result<PanelTable> {
    let job = OutcomesJob {
        window: evaluation_window(o, "segment_outcomes")?,
        lookback_days: o.rfm_lookback_days,
        monetary: o.rfm_monetary,
        id_type: super::panel_exec::panel_id_type(&source, o, "segment_outcomes")?,
    };
    PanelTable::try_new(source, PanelCall::new("segment_outcomes", o, None), o, Arc::new(job))
}

/// The grid arguments of `segment_tune`, as text (`None`: from the session options).
#[derive(Debug, Clone, Default)]
pub struct GridArgs {
    /// `schemes=rf_grid,rfm11,kmeans`.
    pub schemes: Option<String>,
    /// `bins=3,4,5`.
    pub bins: Option<String>,
    /// `methods=quantile,ntile`.
    pub methods: Option<String>,
    /// `lookback_days=all,180,365`.
    pub lookback_days: Option<String>,
    /// `k=4,5,6,8`.
    pub k: Option<String>,
    /// `rank_by=eta2_revenue`.
    pub rank_by: Option<String>,
}

fn list<T>(text: &str, what: &str, parse: impl Fn(&str) -> Result<T>) -> Result<Vec<T>> {
    let items: Vec<T> = text
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| parse(t).map_err(|e| datafusion::common::plan_datafusion_err!("{what}: {}", e.message())))
        .collect::<Result<_>>()?;
    if items.is_empty() {
        return plan_err!("{what}: the list is empty");
    }
    Ok(items)
}

impl GridArgs {
    /// The grid arguments of a `segment_tune` call.
    pub(crate) fn from_call(call: &PanelCall) -> Self {
        let get = |key: &str| call.get(key).map(str::to_string);
        Self {
            schemes: get("schemes"),
            bins: get("bins"),
            methods: get("methods"),
            lookback_days: get("lookback_days"),
            k: get("k"),
            rank_by: get("rank_by"),
        }
    }

    /// The grid, with the session's (or the defaults') scheme, bins, method, lookback and k
    /// for the lists not given.
    pub fn grid(&self, o: &ClvOptions) -> Result<(Grid, RankMetric)> {
        let scheme_names = match &self.schemes {
            Some(t) => list(t, "schemes", |s| Ok(s.to_string()))?,
            None => vec![o.rfm_scheme.clone()],
        };
        let grid = Grid {
            schemes: scheme_names,
            bins: match &self.bins {
                Some(t) => list(t, "bins", |b| match b.parse::<u8>() {
                    Ok(b) if (2..=10).contains(&b) => Ok(b),
                    _ => plan_err!("'{b}' is not a number of bins between 2 and 10"),
                })?,
                None => vec![o.rfm_bins.unwrap_or(5)],
            },
            methods: match &self.methods {
                Some(t) => list(t, "methods", |m| m.parse::<ScoreMethod>())?,
                None => o.rfm_method.into_iter().collect(),
            },
            lookbacks: match &self.lookback_days {
                Some(t) => list(t, "lookback_days", |d| {
                    if d.eq_ignore_ascii_case("all") || d == "0" {
                        return Ok(None);
                    }
                    match d.parse::<i64>() {
                        Ok(n) if n > 0 => Ok(Some(n)),
                        _ => plan_err!("'{d}' is not a positive number of days or 'all'"),
                    }
                })?,
                None => vec![o.rfm_lookback_days],
            },
            ks: match &self.k {
                Some(t) => list(t, "k", |k| match k.parse::<usize>() {
                    Ok(k) if (1..=100).contains(&k) => Ok(k),
                    _ => plan_err!("'{k}' is not a number of clusters between 1 and 100"),
                })?,
                None => vec![o.kmeans_k],
            },
            seed: o.seed,
            monetary: o.rfm_monetary,
            thresholds: [
                o.rfm_recency_thresholds.clone(),
                o.rfm_frequency_thresholds.clone(),
                o.rfm_monetary_thresholds.clone(),
            ],
        };
        let metric = match &self.rank_by {
            Some(m) => m.parse()?,
            None => RankMetric::default(),
        };
        Ok((grid, metric))
    }
}

/// The columns of `segment_tune`.
pub const SEGMENT_TUNE_COLUMNS: [&str; 16] = [
    "rank",
    "segmentation",
    "scheme",
    "bins",
    "method",
    "lookback_days",
    "k",
    "baseline",
    "cutoffs",
    "segments",
    "eta2_revenue",
    "eta2_repurchase",
    "best_lift",
    "stability",
    "min_eta2_revenue",
    "rank_by",
];

fn tune_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("rank", DataType::UInt32, false),
        Field::new("segmentation", DataType::Utf8, false),
        Field::new("scheme", DataType::Utf8, false),
        Field::new("bins", DataType::Int64, true),
        Field::new("method", DataType::Utf8, true),
        Field::new("lookback_days", DataType::Int64, true),
        Field::new("k", DataType::Int64, true),
        Field::new("baseline", DataType::Boolean, false),
        int("cutoffs"),
        float("segments"),
        float("eta2_revenue"),
        float("eta2_repurchase"),
        float("best_lift"),
        float("stability"),
        float("min_eta2_revenue"),
        Field::new("rank_by", DataType::Utf8, false),
    ]))
}

/// The mean of the present values (`None` without any).
fn mean(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = values.flatten().collect();
    (!v.is_empty()).then(|| crate::rfm::exact_sum::exact_sum(v.iter().copied()) / v.len() as f64)
}

/// One configuration's figures averaged over the cutoffs.
#[derive(Debug, Clone)]
pub(crate) struct TuneRow {
    entry: GridEntry,
    segments: Option<f64>,
    eta2_revenue: Option<f64>,
    eta2_repurchase: Option<f64>,
    best_lift: Option<f64>,
    stability: Option<f64>,
    min_eta2_revenue: Option<f64>,
    cutoffs: usize,
}

impl TuneRow {
    fn metric(&self, m: RankMetric) -> Option<f64> {
        match m {
            RankMetric::Eta2Revenue => self.eta2_revenue,
            RankMetric::Eta2Repurchase => self.eta2_repurchase,
            RankMetric::Lift => self.best_lift,
            RankMetric::Stability => self.stability,
        }
    }
}

/// A grid of segmentations at several cutoffs.
#[derive(Debug)]
pub(crate) struct TuneJob {
    entries: Vec<GridEntry>,
    window: EvaluationWindow,
    metric: RankMetric,
}

impl PanelJob for TuneJob {
    fn name(&self) -> &'static str {
        "segment_tune"
    }

    fn schema(&self) -> SchemaRef {
        tune_schema()
    }

    fn run(&self, panel: &PurchasePanel) -> Result<RecordBatch> {
        let segmentations: Vec<Segmentation> = self.entries.iter().map(|e| e.segmentation.clone()).collect();
        let evaluations = evaluate_grid(panel, &segmentations, &self.window)?;
        let mut rows: Vec<TuneRow> = self
            .entries
            .iter()
            .zip(&evaluations)
            .map(|(entry, e)| TuneRow {
                entry: entry.clone(),
                segments: mean(e.iter().map(|e| Some(e.segments as f64))),
                eta2_revenue: mean(e.iter().map(|e| e.eta2_revenue)),
                eta2_repurchase: mean(e.iter().map(|e| e.eta2_repurchase)),
                best_lift: mean(e.iter().map(|e| e.best_lift)),
                stability: mean(e.iter().map(|e| e.stability)),
                min_eta2_revenue: e.iter().filter_map(|e| e.eta2_revenue).min_by(f64::total_cmp),
                cutoffs: e.len(),
            })
            .collect();
        // Best first; missing values last; ties in grid order (a stable sort).
        let m = self.metric;
        rows.sort_by(|a, b| match (a.metric(m), b.metric(m)) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
        tune_batch(&rows, m)
    }
}

fn tune_batch(rows: &[TuneRow], metric: RankMetric) -> Result<RecordBatch> {
    let seg = |r: &TuneRow| r.entry.segmentation.clone();
    let is_kmeans = |r: &TuneRow| matches!(r.entry.segmentation.labeller, Labeller::KMeans { .. });
    let o = |g: fn(&TuneRow) -> Option<f64>| -> ArrayRef { Arc::new(rows.iter().map(g).collect::<Float64Array>()) };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from_iter_values(
            (1..=rows.len() as u32).collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| seg(r).describe()))),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| seg(r).labeller.name().to_string()),
        )),
        Arc::new(
            rows.iter()
                .map(|r| (!is_kmeans(r)).then(|| i64::from(seg(r).r.bins)))
                .collect::<Int64Array>(),
        ),
        Arc::new(
            rows.iter()
                .map(|r| (!is_kmeans(r)).then(|| seg(r).r.method.to_string()))
                .collect::<StringArray>(),
        ),
        Arc::new(rows.iter().map(|r| seg(r).lookback_days).collect::<Int64Array>()),
        Arc::new(
            rows.iter()
                .map(|r| match seg(r).labeller {
                    Labeller::KMeans { k, .. } => Some(k as i64),
                    _ => None,
                })
                .collect::<Int64Array>(),
        ),
        Arc::new(BooleanArray::from_iter(rows.iter().map(|r| Some(r.entry.baseline)))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.cutoffs as i64))),
        o(|r| r.segments),
        o(|r| r.eta2_revenue),
        o(|r| r.eta2_repurchase),
        o(|r| r.best_lift),
        o(|r| r.stability),
        o(|r| r.min_eta2_revenue),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|_| metric.as_str()))),
    ];
    Ok(RecordBatch::try_new(tune_schema(), columns)?)
}

/// The `segment_tune` table of `source`.
pub(crate) fn tune_table(
    source: LogicalPlan,
    o: &ClvOptions,
    fns: &RfmFunctions,
    args: &GridArgs,
) -> Result<PanelTable> {
    let schemes = fns.schemes();
    let (grid, metric) = args.grid(o)?;
    let job = TuneJob {
        entries: grid.expand(&schemes)?,
        window: evaluation_window(o, "segment_tune")?,
        metric,
    };
    let call = PanelCall::new("segment_tune", o, Some(fns))
        .arg("schemes", args.schemes.as_ref())
        .arg("bins", args.bins.as_ref())
        .arg("methods", args.methods.as_ref())
        .arg("lookback_days", args.lookback_days.as_ref())
        .arg("k", args.k.as_ref())
        .arg("rank_by", args.rank_by.as_ref());
    PanelTable::try_new(source, call, o, Arc::new(job))
}
