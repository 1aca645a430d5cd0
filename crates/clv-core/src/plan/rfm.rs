//! The RFM plan: customer summary → three window scores → cell, total and segment.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::Session;
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{
    Expr, ExprFunctionExt, LogicalPlan, LogicalPlanBuilder, ScalarUDF, WindowUDF, cast, ident, lit,
};

use super::transactions::columns::CUSTOMER;
use crate::config::ClvOptions;
use crate::rfm::{Direction, SchemeRegistry, ScoreMethod, ScoreSpec, SegmentScheme};
use crate::udf::rfm_cell::rfm_cell_udf;
use crate::udf::rfm_score::rfm_score_udwf;
use crate::udf::rfm_segment::{RfmSegment, rfm_segment_udf};

/// The columns of `rfm()`, in order.
pub const RFM_COLUMNS: [&str; 13] = [
    "customer_id",
    "recency_days",
    "frequency",
    "monetary",
    "r",
    "f",
    "m",
    "rfm_cell",
    "rfm_total",
    "segment",
    "first_purchase",
    "last_purchase",
    "tenure_days",
];

/// The UDF instances an RFM plan calls: the session's registered ones (so registered
/// schemes are visible), or the built-in defaults on a session without clv.
#[derive(Debug, Clone)]
pub struct RfmFunctions {
    /// `rfm_score`.
    pub score: Arc<WindowUDF>,
    /// `rfm_segment`.
    pub segment: Arc<ScalarUDF>,
    /// `rfm_cell`.
    pub cell: Arc<ScalarUDF>,
}

impl Default for RfmFunctions {
    /// The built-in functions and schemes.
    fn default() -> Self {
        Self {
            score: rfm_score_udwf(),
            segment: rfm_segment_udf(),
            cell: rfm_cell_udf(),
        }
    }
}

impl RfmFunctions {
    /// The functions registered on `session`, falling back to the defaults.
    pub fn from_session(session: &dyn Session) -> Self {
        Self {
            score: session
                .window_functions()
                .get("rfm_score")
                .cloned()
                .unwrap_or_else(rfm_score_udwf),
            segment: session
                .scalar_functions()
                .get("rfm_segment")
                .cloned()
                .unwrap_or_else(rfm_segment_udf),
            cell: session
                .scalar_functions()
                .get("rfm_cell")
                .cloned()
                .unwrap_or_else(rfm_cell_udf),
        }
    }

    /// The schemes `segment` knows.
    pub fn schemes(&self) -> SchemeRegistry {
        self.segment
            .inner()
            .downcast_ref::<RfmSegment>()
            .map(|s| s.schemes().clone())
            .unwrap_or_default()
    }
}

/// The resolved scoring of the three dimensions and the segment scheme.
#[derive(Debug, Clone)]
pub struct RfmSpecs {
    /// Recency (lower is better).
    pub r: ScoreSpec,
    /// Frequency.
    pub f: ScoreSpec,
    /// Monetary.
    pub m: ScoreSpec,
    /// The segment scheme; `None` for scheme `none`.
    pub scheme: Option<Arc<SegmentScheme>>,
}

/// Resolves bins, method, thresholds and scheme, with the scheme's defaults, and checks them.
pub fn resolve_specs(o: &ClvOptions, schemes: &SchemeRegistry) -> Result<RfmSpecs> {
    let scheme = if o.rfm_scheme.eq_ignore_ascii_case("none") {
        None
    } else {
        Some(schemes.get(&o.rfm_scheme)?)
    };
    let method = o.rfm_method.or(scheme.as_ref().map(|s| s.method())).unwrap_or_default();
    let default_bins = if method.is_two_level() {
        2
    } else {
        scheme.as_ref().map_or(5, |s| s.levels())
    };
    let bins = o.rfm_bins.unwrap_or(default_bins);
    let thresholds = [
        ("recency", &o.rfm_recency_thresholds),
        ("frequency", &o.rfm_frequency_thresholds),
        ("monetary", &o.rfm_monetary_thresholds),
    ];
    if method != ScoreMethod::Fixed
        && let Some((name, _)) = thresholds.iter().find(|(_, t)| t.is_some())
    {
        return crate::usage_err!(
            "{name}_thresholds are used by method 'fixed' only, but the method is '{method}'; add 'method=fixed'"
        );
    }
    // Fixed thresholds: every dimension makes the same number of bins (the scores share one
    // scale, and rfm_total adds them): `bins` when given, else the scheme's levels, else the
    // recency thresholds'.
    let fixed_bins = o.rfm_bins.or(scheme.as_ref().map(|s| s.levels()));
    let spec = |direction: Direction, thresholds: &Option<Vec<f64>>, name: &str| -> Result<ScoreSpec> {
        let spec = if method == ScoreMethod::Fixed {
            let Some(t) = thresholds else {
                return plan_err!("method 'fixed' needs {name}_thresholds, e.g. '{name}_thresholds=30,90,180,365'");
            };
            ScoreSpec::fixed(direction, t.clone())
        } else {
            ScoreSpec::new(bins, direction, method)
        };
        spec.validate(name)?;
        Ok(spec)
    };
    if method == ScoreMethod::Fixed {
        let made: Vec<(&str, usize)> = thresholds
            .iter()
            .map(|(name, t)| (*name, t.as_ref().map_or(0, Vec::len)))
            .collect();
        let want = fixed_bins.map_or(made[0].1 + 1, usize::from);
        if let Some((name, n)) = made.iter().find(|(_, n)| *n + 1 != want && *n > 0) {
            let given = made
                .iter()
                .map(|(name, n)| format!("{name} {n}"))
                .collect::<Vec<_>>()
                .join(", ");
            let why = match (o.rfm_bins, &scheme) {
                (Some(b), _) => format!("bins = {b}"),
                (None, Some(s)) => format!("scheme '{}' labels scores 1..{}", s.name(), s.levels()),
                (None, None) => format!("the recency thresholds make {want} bins"),
            };
            return crate::usage_err!(
                "method 'fixed': {name}_thresholds give {} bins, but {why}; every dimension needs {} thresholds \
                 (given: {given})",
                n + 1,
                want - 1
            );
        }
    }
    let specs = RfmSpecs {
        r: spec(Direction::Lower, &o.rfm_recency_thresholds, "recency")?,
        f: spec(Direction::Higher, &o.rfm_frequency_thresholds, "frequency")?,
        m: spec(Direction::Higher, &o.rfm_monetary_thresholds, "monetary")?,
        scheme,
    };
    if let Some(s) = &specs.scheme {
        for (dim, spec) in [("r", &specs.r), ("f", &specs.f), ("m", &specs.m)] {
            if spec.bins != s.levels() {
                // Advice that works for this method (two-level methods cannot have 5 bins).
                let fix = if method.is_two_level() {
                    let two_level: Vec<String> = schemes
                        .names()
                        .filter(|n| schemes.get(n).is_ok_and(|x| x.levels() == 2))
                        .map(|n| format!("'scheme={n}'"))
                        .collect();
                    format!(
                        "method '{method}' scores 1..2: use a scheme with 2 levels ({}), 'scheme=none', or a method with {} levels ('method=quantile')",
                        two_level.join(", "),
                        s.levels()
                    )
                } else {
                    format!("set 'bins={}' or 'scheme=none'", s.levels())
                };
                return crate::usage_err!(
                    "scheme '{}' labels scores 1..{}, but the {dim} scores run 1..{}; {fix}",
                    s.name(),
                    s.levels(),
                    spec.bins
                );
            }
        }
    }
    Ok(specs)
}

/// The `rfm_score` window expression of one dimension, scoring within `partition`.
pub(crate) fn score_expr(udwf: &Arc<WindowUDF>, value: Expr, spec: &ScoreSpec, partition: &[Expr]) -> Result<Expr> {
    let mut args = vec![
        cast(value, DataType::Float64),
        lit(i64::from(spec.bins)),
        lit(spec.direction.as_str()),
        lit(spec.method.as_str()),
    ];
    if spec.method == ScoreMethod::Fixed {
        let t: Vec<String> = spec.thresholds.iter().map(f64::to_string).collect();
        args.push(lit(t.join(",")));
    }
    let f = Expr::from(WindowFunction::new(Arc::clone(udwf), args)).partition_by(partition.to_vec());
    if spec.method == ScoreMethod::Ntile {
        // Ties are split in customer-id order.
        return f.order_by(vec![ident(CUSTOMER).sort(true, false)]).build();
    }
    f.build()
}

/// The three score windows `r`, `f`, `m` over the summary columns, within `partition`.
pub(crate) fn score_windows(specs: &RfmSpecs, fns: &RfmFunctions, partition: &[Expr]) -> Result<Vec<Expr>> {
    Ok(vec![
        score_expr(&fns.score, ident("recency_days"), &specs.r, partition)?.alias("r"),
        score_expr(&fns.score, ident("frequency"), &specs.f, partition)?.alias("f"),
        score_expr(&fns.score, ident("monetary"), &specs.m, partition)?.alias("m"),
    ])
}

/// `r, f, m, rfm_cell, rfm_total, segment` over a plan with the scores `r`, `f`, `m`.
pub(crate) fn score_columns(specs: &RfmSpecs, fns: &RfmFunctions) -> Vec<Expr> {
    let (r, f, m) = (ident("r"), ident("f"), ident("m"));
    let segment = match &specs.scheme {
        Some(s) => fns.segment.call(vec![r.clone(), f.clone(), m.clone(), lit(s.name())]),
        None => lit(ScalarValue::Utf8(None)),
    };
    vec![
        r.clone(),
        f.clone(),
        m.clone(),
        fns.cell.call(vec![r.clone(), f.clone(), m.clone()]).alias("rfm_cell"),
        (r + f + m).alias("rfm_total"),
        segment.alias("segment"),
    ]
}

/// The full `rfm()` plan over a transaction source; columns are [`RFM_COLUMNS`].
pub fn rfm_plan(source: LogicalPlan, o: &ClvOptions, fns: &RfmFunctions) -> Result<LogicalPlan> {
    let specs = resolve_specs(o, &fns.schemes())?;
    let summary = super::lookback::rfm_summary(source, o, false)?;
    let scores = score_windows(&specs, fns, &[])?;
    rfm_output(LogicalPlanBuilder::from(summary).window(scores)?, &specs, fns)
}

/// The `rfm()` columns from a plan with the summary columns and the scores `r`, `f`, `m`:
/// adds `rfm_cell`, `rfm_total` and `segment` and fixes the column order ([`RFM_COLUMNS`]).
pub(crate) fn rfm_output(scored: LogicalPlanBuilder, specs: &RfmSpecs, fns: &RfmFunctions) -> Result<LogicalPlan> {
    let mut columns = vec![
        ident(CUSTOMER),
        ident("recency_days"),
        ident("frequency"),
        ident("monetary"),
    ];
    columns.extend(score_columns(specs, fns));
    columns.extend([ident("first_purchase"), ident("last_purchase"), ident("tenure_days")]);
    scored.project(columns)?.build()
}
