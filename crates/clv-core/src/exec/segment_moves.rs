//! `rfm_transitions` and `segment_series` as panel jobs ([`super::panel_exec`]): how customers
//! move between segments, and the segments' sizes and revenue over time.
//!
//! * `rfm_transitions(source, from_date, to_date)`: every customer with a purchase on or before
//!   `to_date`, by their segment at `from_date` (NULL: no purchase yet then, a new customer)
//!   and at `to_date`, with the revenue (kept amounts, refunds netted) they brought in
//!   `(from_date, to_date]`. The customers of the rows with a `from_segment` are exactly those
//!   present at both dates (history only grows, so everyone present at `from_date` is present
//!   at `to_date`). Like `lifecycle_transitions`, for RFM segments.
//! * `segment_series(source [, cutoffs])`: per cutoff (default: the end of every month, or of
//!   every `every` period, from the first transaction to the data end) and segment: customers,
//!   their share, their monetary value as of the cutoff and the revenue they brought in the
//!   period since the previous cutoff (`(previous, cutoff]`; for the first cutoff, since the
//!   start of its `every` period).
//!
//! Segments are assigned at each date exactly as `rfm()` with `as_of` = that date.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::LogicalPlan;

use super::panel_exec::{PanelCall, PanelJob, PanelTable, order_count};
use super::segment_eval::segmentation;
use crate::churn::{Period, parse_cutoffs};
use crate::common::dates::format_date;
use crate::config::ClvOptions;
use crate::plan::rfm::RfmFunctions;
use crate::segment::panel::{CutoffData, CutoffQuery, OrderCount, PurchasePanel, decimal_to_f64};
use crate::segment::segmentation::{Labels, RfmValues, Segmentation};

/// The columns of `rfm_transitions`.
pub const RFM_TRANSITIONS_COLUMNS: [&str; 4] = ["from_segment", "to_segment", "customers", "revenue"];

/// The columns of `segment_series`.
pub const SEGMENT_SERIES_COLUMNS: [&str; 7] = [
    "cutoff",
    "segment",
    "customers",
    "customer_share",
    "monetary",
    "period_revenue",
    "period_revenue_share",
];

/// The customers present at `cutoff` and their labels.
fn labelled(
    panel: &PurchasePanel,
    s: &Segmentation,
    orders: OrderCount,
    cutoff: i32,
) -> Result<(CutoffData, Labels, Vec<f64>)> {
    let data = panel.at_cutoff(CutoffQuery {
        cutoff,
        lookback_days: s.lookback_days,
        window_days: None,
        orders,
    });
    let monetary = panel.to_f64(&data.monetary_sum)?;
    let values = RfmValues::new(&data, &monetary, s.monetary);
    if data.is_empty() {
        return Ok((data, Labels::default(), vec![]));
    }
    let (labels, _) = s.labels(&data, &values)?;
    Ok((data, labels, values.monetary))
}

#[derive(Debug)]
pub(crate) struct TransitionsJob {
    segmentation: Segmentation,
    from: i32,
    to: i32,
    orders: OrderCount,
}

impl PanelJob for TransitionsJob {
    fn name(&self) -> &'static str {
        "rfm_transitions"
    }

    fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("from_segment", DataType::Utf8, true),
            Field::new("to_segment", DataType::Utf8, false),
            Field::new("customers", DataType::Int64, false),
            Field::new("revenue", DataType::Float64, false),
        ]))
    }

    fn run(&self, panel: &PurchasePanel) -> Result<RecordBatch> {
        let (before, before_labels, _) = labelled(panel, &self.segmentation, self.orders, self.from)?;
        let (after, after_labels, _) = labelled(panel, &self.segmentation, self.orders, self.to)?;
        let mut from_of = vec![u32::MAX; panel.customers()];
        for (c, l) in before.customers.iter().zip(&before_labels.of) {
            from_of[*c as usize] = *l;
        }
        let revenue = panel.revenue_between(&after.customers, self.from, self.to);
        // (from label or none, to label) → (customers, exact revenue), in label order, new
        // customers (no from label) last.
        let mut cells: BTreeMap<(u32, u32), (i64, i128)> = BTreeMap::new();
        for (i, (c, to)) in after.customers.iter().zip(&after_labels.of).enumerate() {
            let e = cells.entry((from_of[*c as usize], *to)).or_default();
            e.0 += 1;
            e.1 += revenue[i];
        }
        let exact: Vec<i128> = cells.values().map(|v| v.1).collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(
                cells
                    .keys()
                    .map(|(f, _)| before_labels.names.get(*f as usize).cloned())
                    .collect::<StringArray>(),
            ),
            Arc::new(StringArray::from_iter_values(
                cells.keys().map(|(_, t)| after_labels.names[*t as usize].clone()),
            )),
            Arc::new(Int64Array::from_iter_values(cells.values().map(|v| v.0))),
            Arc::new(Float64Array::from(decimal_to_f64(&exact, panel.scale())?)),
        ];
        Ok(RecordBatch::try_new(self.schema(), columns)?)
    }
}

/// The `rfm_transitions` table of `source` between two dates.
pub(crate) fn transitions_table(
    source: LogicalPlan,
    o: &ClvOptions,
    fns: &RfmFunctions,
    from: i32,
    to: i32,
) -> Result<PanelTable> {
    if to <= from {
        return plan_err!("rfm_transitions: to_date must be after from_date");
    }
    let job = TransitionsJob {
        segmentation: segmentation(o, &fns.schemes())?,
        from,
        to,
        orders: order_count(o, "rfm_transitions")?,
    };
    let call = PanelCall::new("rfm_transitions", o, Some(fns))
        .arg("from", Some(from))
        .arg("to", Some(to));
    PanelTable::try_new(source, call, o, Arc::new(job))
}

#[derive(Debug)]
pub(crate) struct SeriesJob {
    segmentation: Segmentation,
    /// Given cutoffs; `None`: every `every` period end of the data.
    cutoffs: Option<Vec<i32>>,
    every: Period,
    data_end: Option<i32>,
    orders: OrderCount,
}

impl PanelJob for SeriesJob {
    fn name(&self) -> &'static str {
        "segment_series"
    }

    fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("cutoff", DataType::Date32, false),
            Field::new("segment", DataType::Utf8, false),
            Field::new("customers", DataType::Int64, false),
            Field::new("customer_share", DataType::Float64, false),
            Field::new("monetary", DataType::Float64, false),
            Field::new("period_revenue", DataType::Float64, false),
            Field::new("period_revenue_share", DataType::Float64, true),
        ]))
    }

    fn run(&self, panel: &PurchasePanel) -> Result<RecordBatch> {
        let cutoffs = match &self.cutoffs {
            Some(c) => c.clone(),
            None => {
                let (Some(first), Some(last)) = (panel.first_day(), self.data_end.or(panel.last_day())) else {
                    return Ok(RecordBatch::new_empty(self.schema()));
                };
                parse_cutoffs(&format!("{}..{}", format_date(first), format_date(last)), self.every)?
            }
        };
        let mut rows: Vec<(i32, String, i64, f64, f64, i128)> = vec![];
        let mut totals: Vec<i128> = vec![];
        for (k, &cutoff) in cutoffs.iter().enumerate() {
            let since = match k {
                0 => self.every.start(self.every.index(cutoff)) - 1,
                _ => cutoffs[k - 1],
            };
            let (data, labels, monetary) = labelled(panel, &self.segmentation, self.orders, cutoff)?;
            let revenue = panel.revenue_between(&data.customers, since, cutoff);
            let g = labels.names.len();
            let (mut n, mut m, mut r) = (
                vec![0i64; g],
                vec![crate::rfm::exact_sum::ExactSum::new(); g],
                vec![0i128; g],
            );
            for (i, l) in labels.of.iter().enumerate() {
                let l = *l as usize;
                n[l] += 1;
                m[l].add(monetary[i]);
                r[l] += revenue[i];
            }
            totals.push(r.iter().sum());
            for l in 0..g {
                if n[l] > 0 {
                    rows.push((
                        cutoff,
                        labels.names[l].clone(),
                        n[l],
                        n[l] as f64 / data.len() as f64,
                        m[l].value(),
                        r[l],
                    ));
                }
            }
        }
        let exact: Vec<i128> = rows.iter().map(|r| r.5).collect();
        let revenue = decimal_to_f64(&exact, panel.scale())?;
        let total_of: BTreeMap<i32, f64> = cutoffs
            .iter()
            .copied()
            .zip(decimal_to_f64(&totals, panel.scale())?)
            .collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Date32Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1.clone()))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.2))),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.3))),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.4))),
            Arc::new(Float64Array::from(revenue.clone())),
            Arc::new(
                rows.iter()
                    .zip(&revenue)
                    .map(|(r, v)| total_of.get(&r.0).filter(|t| **t != 0.0).map(|t| v / t))
                    .collect::<Float64Array>(),
            ),
        ];
        Ok(RecordBatch::try_new(self.schema(), columns)?)
    }
}

/// The `segment_series` table of `source`.
pub(crate) fn series_table(source: LogicalPlan, o: &ClvOptions, fns: &RfmFunctions) -> Result<PanelTable> {
    let job = SeriesJob {
        segmentation: segmentation(o, &fns.schemes())?,
        cutoffs: o
            .churn_cutoffs
            .as_deref()
            .map(|c| parse_cutoffs(c, o.churn_every))
            .transpose()?,
        every: o.churn_every,
        data_end: o.as_of,
        orders: order_count(o, "segment_series")?,
    };
    PanelTable::try_new(source, PanelCall::new("segment_series", o, Some(fns)), o, Arc::new(job))
}
