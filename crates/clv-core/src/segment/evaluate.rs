//! Scoring a segmentation against what customers did next.
//!
//! For a cutoff `c`, a window of `w` days and the customers present at `c`, with
//! `y_i` = customer `i`'s revenue in `(c, c + w]` (exact sum of kept amounts, refunds
//! netted) and `o_i` its orders there:
//!
//! * per segment `g` with `n_g` customers: `customer_share = n_g / N`; `repurchase_rate` =
//!   share with `o_i ≥ 1` (复购率); `churn_rate = 1 − repurchase_rate` when the window is
//!   complete (`c + w` ≤ the data end), else NULL: a customer who has not bought yet in a
//!   window that runs past the data may still buy; `future_revenue = Σ_g y_i`;
//!   `revenue_per_customer = Σ_g y / n_g`; `revenue_share = Σ_g y / Σ y`; `aov` (average order
//!   value) `= Σ_g y / Σ_g o`; `lift = revenue_per_customer / (Σ y / N)`;
//! * for the segmentation: `η²` (the correlation ratio: the share of the variance of `y`
//!   between segments) `= Σ_g n_g (ȳ_g − ȳ)² / Σ_i (y_i − ȳ)²`, the same for the repurchase
//!   indicator; the best segment (highest revenue per customer; ties: the first in label
//!   order) and its lift; and stability, the share of the customers present at the previous
//!   cutoff who keep their segment at this one.
//!
//! η² is 0 for one segment and 1 when segments separate the outcome completely; it is the R²
//! of a regression of the outcome on segment indicators. Every sum is exact (integers, or
//! [`ExactSum`] for the squares), so figures do not depend on the order of customers.

use std::collections::HashMap;

use datafusion::common::{DataFusionError, Result};

use super::panel::{CutoffData, CutoffQuery, OrderCount, PurchasePanel, decimal_to_f64};
use super::segmentation::{Labeller, Labels, RfmValues, Scores, Segmentation};
use crate::config::Monetary;
use crate::rfm::ScoreSpec;
use crate::rfm::exact_sum::ExactSum;

/// The outcomes of the customers present at one cutoff, shared by every segmentation.
#[derive(Debug, Clone)]
pub struct Outcomes {
    /// The cutoff.
    pub cutoff: i32,
    /// The end of the window (`cutoff + w`).
    pub window_end: i32,
    /// Whether the window ends on or before the data end.
    pub complete: bool,
    /// Each customer's future revenue as `Float64`.
    pub revenue: Vec<f64>,
    /// Each customer's exact future revenue.
    pub revenue_exact: Vec<i128>,
    /// Each customer's future orders.
    pub orders: Vec<u32>,
    /// The decimal scale of the exact revenue.
    pub scale: i8,
    /// Σ (y − ȳ)², exactly summed.
    pub ss_total: f64,
    /// ȳ.
    pub mean: f64,
    /// Σ y, exact.
    pub total: i128,
}

impl Outcomes {
    /// The outcomes of `data` (computed with a window of `window_days`); `data_end` decides
    /// whether the window is complete.
    pub fn new(data: &CutoffData, window_days: i64, data_end: i32, scale: i8) -> Result<Self> {
        let revenue = decimal_to_f64(&data.future_revenue, scale)?;
        let total: i128 = data.future_revenue.iter().sum();
        let n = data.len();
        let mean = if n == 0 {
            0.0
        } else {
            decimal_to_f64(&[total], scale)?[0] / n as f64
        };
        let mut ss = ExactSum::new();
        for y in &revenue {
            ss.add((y - mean) * (y - mean));
        }
        let window_end = (i64::from(data.cutoff) + window_days).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
        Ok(Self {
            cutoff: data.cutoff,
            window_end,
            complete: window_end <= data_end,
            revenue,
            revenue_exact: data.future_revenue.clone(),
            orders: data.future_orders.clone(),
            scale,
            ss_total: ss.value(),
            mean,
            total,
        })
    }

    /// Customers.
    pub fn len(&self) -> usize {
        self.orders.len()
    }

    /// Whether there are no customers.
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }
}

/// One segment's figures at one cutoff.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentFigures {
    /// The label.
    pub segment: String,
    /// Customers.
    pub customers: u64,
    /// Share of the present customers.
    pub customer_share: f64,
    /// Customers with an order in the window.
    pub repurchasers: u64,
    /// `repurchasers / customers`.
    pub repurchase_rate: f64,
    /// `1 − repurchase_rate` for a complete window, else `None`.
    pub churn_rate: Option<f64>,
    /// Orders in the window.
    pub future_orders: u64,
    /// Revenue in the window.
    pub future_revenue: f64,
    /// Revenue per customer.
    pub revenue_per_customer: f64,
    /// Share of the window's revenue (`None` when it is 0).
    pub revenue_share: Option<f64>,
    /// Average order value (`None` without orders).
    pub aov: Option<f64>,
    /// Revenue per customer over the population's (`None` when that is not positive).
    pub lift: Option<f64>,
}

/// A segmentation's figures at one cutoff.
#[derive(Debug, Clone, PartialEq)]
pub struct CutoffEvaluation {
    /// The cutoff.
    pub cutoff: i32,
    /// The end of the outcome window.
    pub window_end: i32,
    /// Whether the window is complete.
    pub complete: bool,
    /// Customers present.
    pub customers: u64,
    /// Segments with customers.
    pub segments: u64,
    /// The population's repurchase rate.
    pub repurchase_rate: Option<f64>,
    /// The population's revenue per customer.
    pub revenue_per_customer: Option<f64>,
    /// η² of future revenue (`None` when it does not vary).
    pub eta2_revenue: Option<f64>,
    /// η² of repurchase (`None` when it does not vary).
    pub eta2_repurchase: Option<f64>,
    /// The segment with the highest revenue per customer.
    pub best_segment: Option<String>,
    /// Its lift.
    pub best_lift: Option<f64>,
    /// Share of the customers present at the previous cutoff who keep their segment.
    pub stability: Option<f64>,
    /// Per segment, in label order.
    pub by_segment: Vec<SegmentFigures>,
}

/// Evaluates the labels of the customers present at a cutoff against their outcomes.
pub fn evaluate(outcomes: &Outcomes, labels: &Labels, stability: Option<f64>) -> Result<CutoffEvaluation> {
    let g = labels.names.len();
    let (mut n, mut buyers, mut orders, mut revenue) = (vec![0u64; g], vec![0u64; g], vec![0u64; g], vec![0i128; g]);
    for (i, &l) in labels.of.iter().enumerate() {
        let l = l as usize;
        n[l] += 1;
        buyers[l] += u64::from(outcomes.orders[i] > 0);
        orders[l] += u64::from(outcomes.orders[i]);
        revenue[l] += outcomes.revenue_exact[i];
    }
    let big_n = outcomes.len() as u64;
    let total_buyers: u64 = buyers.iter().sum();
    let revenue_f = decimal_to_f64(&revenue, outcomes.scale)?;
    let total_f = decimal_to_f64(&[outcomes.total], outcomes.scale)?[0];
    let population_rpc = (big_n > 0).then(|| total_f / big_n as f64);
    let p = (big_n > 0).then(|| total_buyers as f64 / big_n as f64);
    let mut by_segment = vec![];
    let (mut between, mut between_repurchase) = (ExactSum::new(), ExactSum::new());
    let mut best: Option<(usize, f64)> = None;
    for l in 0..g {
        if n[l] == 0 {
            continue;
        }
        let nl = n[l] as f64;
        let rpc = revenue_f[l] / nl;
        let rate = buyers[l] as f64 / nl;
        between.add(nl * (rpc - outcomes.mean) * (rpc - outcomes.mean));
        if let Some(p) = p {
            between_repurchase.add(nl * (rate - p) * (rate - p));
        }
        if best.is_none_or(|(_, b)| rpc > b) {
            best = Some((l, rpc));
        }
        by_segment.push(SegmentFigures {
            segment: labels.names[l].clone(),
            customers: n[l],
            customer_share: nl / big_n as f64,
            repurchasers: buyers[l],
            repurchase_rate: rate,
            churn_rate: outcomes.complete.then_some(1.0 - rate),
            future_orders: orders[l],
            future_revenue: revenue_f[l],
            revenue_per_customer: rpc,
            revenue_share: (total_f != 0.0).then(|| revenue_f[l] / total_f),
            aov: (orders[l] > 0).then(|| revenue_f[l] / orders[l] as f64),
            lift: population_rpc.filter(|r| *r > 0.0).map(|r| rpc / r),
        });
    }
    let ss_repurchase = p.map(|p| big_n as f64 * p * (1.0 - p));
    let lift = |rpc: f64| population_rpc.filter(|r| *r > 0.0).map(|r| rpc / r);
    Ok(CutoffEvaluation {
        cutoff: outcomes.cutoff,
        window_end: outcomes.window_end,
        complete: outcomes.complete,
        customers: big_n,
        segments: by_segment.len() as u64,
        repurchase_rate: p,
        revenue_per_customer: population_rpc,
        eta2_revenue: (outcomes.ss_total > 0.0).then(|| (between.value() / outcomes.ss_total).min(1.0)),
        eta2_repurchase: ss_repurchase
            .filter(|s| *s > 0.0)
            .map(|s| (between_repurchase.value() / s).min(1.0)),
        best_segment: best.map(|(l, _)| labels.names[l].clone()),
        best_lift: best.and_then(|(_, rpc)| lift(rpc)),
        stability,
        by_segment,
    })
}

/// Segment labels of the panel's customers at the previous cutoff, for stability: label
/// texts interned to numbers that stay the same across cutoffs.
#[derive(Debug, Clone, Default)]
pub struct Stability {
    interned: HashMap<String, u32>,
    previous: Option<Vec<u32>>,
}

/// No label (the customer was not present).
const ABSENT: u32 = u32::MAX;

impl Stability {
    /// Records the labels at this cutoff and returns the share of the customers present at
    /// the previous one who keep their label (`None` at the first cutoff or when none was
    /// present).
    pub fn next(&mut self, panel_customers: usize, customers: &[u32], labels: &Labels) -> Option<f64> {
        let ids: Vec<u32> = labels
            .names
            .iter()
            .map(|name| {
                let next = self.interned.len() as u32;
                *self.interned.entry(name.clone()).or_insert(next)
            })
            .collect();
        let mut current = vec![ABSENT; panel_customers];
        for (c, l) in customers.iter().zip(&labels.of) {
            current[*c as usize] = ids[*l as usize];
        }
        let share = self.previous.as_ref().and_then(|prev| {
            let (mut both, mut kept) = (0u64, 0u64);
            for (p, c) in prev.iter().zip(&current) {
                if *p != ABSENT && *c != ABSENT {
                    both += 1;
                    kept += u64::from(p == c);
                }
            }
            (both > 0).then(|| kept as f64 / both as f64)
        });
        self.previous = Some(current);
        share
    }
}

/// The settings shared by every segmentation of one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationWindow {
    /// Cutoff days, ascending.
    pub cutoffs: Vec<i32>,
    /// The outcome window in days.
    pub window_days: i64,
    /// The data end (the as-of date; `None`: the panel's last day).
    pub data_end: Option<i32>,
    /// How orders are counted.
    pub orders: OrderCount,
}

/// Cutoffs whose panel data one walk computes (and that are then evaluated side by side):
/// more walk the panel fewer times but hold more cutoffs' data at once.
const CUTOFFS_PER_WALK: usize = 4;

/// Evaluates every segmentation of `entries` at every cutoff: one walk of the panel per
/// lookback window for several cutoffs at once, the scores of equal specifications computed
/// once, the cutoffs of a walk on every core; stability follows in cutoff order. The result
/// is indexed `[entry][cutoff]`.
pub fn evaluate_grid(
    panel: &PurchasePanel,
    entries: &[Segmentation],
    w: &EvaluationWindow,
) -> Result<Vec<Vec<CutoffEvaluation>>> {
    let data_end = w.data_end.or(panel.last_day()).unwrap_or(i32::MIN);
    let mut stability = vec![Stability::default(); entries.len()];
    let mut out = vec![Vec::with_capacity(w.cutoffs.len()); entries.len()];
    let mut lookbacks: Vec<Option<i64>> = vec![];
    for e in entries {
        if !lookbacks.contains(&e.lookback_days) {
            lookbacks.push(e.lookback_days);
        }
    }
    for cutoffs in w.cutoffs.chunks(CUTOFFS_PER_WALK) {
        // [lookback][cutoff]
        let mut data: Vec<std::vec::IntoIter<CutoffData>> = lookbacks
            .iter()
            .map(|&lookback| {
                panel
                    .at_cutoffs(
                        cutoffs,
                        CutoffQuery {
                            cutoff: cutoffs[0],
                            lookback_days: lookback,
                            window_days: Some(w.window_days),
                            orders: w.orders,
                        },
                    )
                    .into_iter()
            })
            .collect();
        let at_cutoff: Vec<Vec<CutoffData>> = cutoffs
            .iter()
            .map(|_| data.iter_mut().filter_map(|d| d.next()).collect())
            .collect();
        drop(data);
        let results = parallel(&at_cutoff, |data| {
            evaluate_cutoff(panel, entries, &lookbacks, data, w.window_days, data_end)
        });
        for r in results {
            let Some((customers, evaluations)) = r? else {
                continue;
            };
            for (i, (labels, mut e)) in evaluations.into_iter().enumerate() {
                e.stability = stability[i].next(panel.customers(), &customers, &labels);
                out[i].push(e);
            }
        }
    }
    Ok(out)
}

/// Every segmentation of `entries` at one cutoff, whose data under each of `lookbacks` is
/// `data`: the customers present and, per entry, its labels and evaluation (stability not yet
/// set). `None` without entries.
#[allow(clippy::type_complexity)]
fn evaluate_cutoff(
    panel: &PurchasePanel,
    entries: &[Segmentation],
    lookbacks: &[Option<i64>],
    data: &[CutoffData],
    window_days: i64,
    data_end: i32,
) -> Result<Option<(Vec<u32>, Vec<(Labels, CutoffEvaluation)>)>> {
    let mut values = vec![];
    let mut outcomes = None;
    for (&lookback, data) in lookbacks.iter().zip(data) {
        if outcomes.is_none() {
            outcomes = Some(Outcomes::new(data, window_days, data_end, panel.scale())?);
        }
        let monetary = panel.to_f64(&data.monetary_sum)?;
        let by_monetary: Vec<(Monetary, RfmValues)> = [Monetary::Sum, Monetary::Mean]
            .into_iter()
            .filter(|m| entries.iter().any(|e| e.lookback_days == lookback && e.monetary == *m))
            .map(|m| (m, RfmValues::new(data, &monetary, m)))
            .collect();
        values.push((lookback, data, by_monetary));
    }
    let Some(outcomes) = outcomes else {
        return Ok(None);
    };
    let inputs = |e: &Segmentation| -> Result<(&CutoffData, &RfmValues)> {
        let (_, data, by) = values
            .iter()
            .find(|v| v.0 == e.lookback_days)
            .ok_or_else(|| DataFusionError::Internal("segment grid: lookback".into()))?;
        let (_, v) = by
            .iter()
            .find(|(m, _)| *m == e.monetary)
            .ok_or_else(|| DataFusionError::Internal("segment grid: monetary".into()))?;
        Ok((*data, v))
    };
    // The distinct score specifications of the rule-based entries, scored once each.
    let mut keys: Vec<(Option<i64>, Monetary, [&ScoreSpec; 3])> = vec![];
    for e in entries
        .iter()
        .filter(|e| !matches!(e.labeller, Labeller::KMeans { .. }))
    {
        let key = (e.lookback_days, e.monetary, [&e.r, &e.f, &e.m]);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let score_sets: Vec<Result<Scores>> = parallel(&keys, |(lookback, monetary, [r, f, m])| {
        let probe = Segmentation {
            labeller: Labeller::Cell,
            r: (*r).clone(),
            f: (*f).clone(),
            m: (*m).clone(),
            lookback_days: *lookback,
            monetary: *monetary,
        };
        probe.scores(inputs(&probe)?.1)
    });
    let score_sets: Vec<Scores> = score_sets.into_iter().collect::<Result<_>>()?;
    let labels: Vec<Result<(Labels, CutoffEvaluation)>> = parallel(&entries.iter().collect::<Vec<_>>(), |e| {
        let (data, v) = inputs(e)?;
        let labels = if data.is_empty() {
            Labels::default()
        } else {
            match e.labeller {
                Labeller::KMeans { .. } => e.labels(data, v)?.0,
                _ => {
                    let key = (e.lookback_days, e.monetary, [&e.r, &e.f, &e.m]);
                    let at = keys.iter().position(|k| *k == key).unwrap_or_default();
                    e.labels_from_scores(&score_sets[at])?
                }
            }
        };
        let evaluation = evaluate(&outcomes, &labels, None)?;
        Ok((labels, evaluation))
    });
    let evaluations = labels.into_iter().collect::<Result<Vec<_>>>()?;
    Ok(Some((values[0].1.customers.clone(), evaluations)))
}

/// `f` of every item, on every core (each thread takes every `cores`-th item; results in item
/// order).
fn parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = crate::ltv::cores().min(items.len()).max(1);
    if threads == 1 {
        return items.iter().map(&f).collect();
    }
    let mut parts: Vec<Vec<(usize, R)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let f = &f;
                scope.spawn(move || {
                    items
                        .iter()
                        .enumerate()
                        .skip(t)
                        .step_by(threads)
                        .map(|(i, x)| (i, f(x)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    let mut all: Vec<(usize, R)> = parts.drain(..).flatten().collect();
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Six customers in two segments; hand-computed figures.
    #[test]
    fn figures_by_hand() {
        let data = CutoffData {
            cutoff: 100,
            customers: (0..6).collect(),
            future_orders: vec![2, 0, 1, 0, 0, 0],
            future_revenue: vec![300, 0, 100, 0, 0, 200],
            ..Default::default()
        };
        let o = Outcomes::new(&data, 30, 120, 0).unwrap();
        assert!(!o.complete);
        // y = 300, 0, 100, 0, 0, 200: mean 100, SS_total = 40000 + 10000*3 + 0 + 10000 = 80000.
        assert_eq!(o.ss_total, 80000.0);
        let labels = Labels {
            names: vec!["a".into(), "b".into(), "empty".into()],
            of: vec![0, 0, 0, 1, 1, 1],
        };
        let e = evaluate(&o, &labels, None).unwrap();
        // a: mean 133.33, b: mean 66.67: SS_between = 3 (33.33² + 33.33²) = 6666.67.
        assert!((e.eta2_revenue.unwrap() - (20000.0 / 3.0) / 80000.0).abs() < 1e-15);
        // Repurchase: a = 2/3, b = 0, p = 1/3: between = 3 (1/9 + 1/9) = 2/3, total = 6·(1/3)(2/3) = 4/3.
        assert!((e.eta2_repurchase.unwrap() - 0.5).abs() < 1e-15);
        assert_eq!(e.segments, 2);
        assert_eq!(e.best_segment.as_deref(), Some("a"));
        assert!((e.best_lift.unwrap() - 4.0 / 3.0).abs() < 1e-15);
        let a = &e.by_segment[0];
        assert_eq!((a.customers, a.repurchasers, a.future_orders), (3, 2, 3));
        assert_eq!(a.aov, Some(400.0 / 3.0));
        assert_eq!(a.revenue_share, Some(400.0 / 600.0));
        assert_eq!(a.churn_rate, None);
        assert_eq!(e.by_segment[1].aov, None);
    }

    #[test]
    fn stability_counts_customers_present_at_both_cutoffs() {
        let mut s = Stability::default();
        let l1 = Labels {
            names: vec!["x".into(), "y".into()],
            of: vec![0, 1],
        };
        assert_eq!(s.next(4, &[0, 1], &l1), None);
        // Customer 0 keeps x, 1 moves to x (a different label numbering), 2 is new.
        let l2 = Labels {
            names: vec!["y".into(), "x".into()],
            of: vec![1, 1, 0],
        };
        assert_eq!(s.next(4, &[0, 1, 2], &l2), Some(0.5));
    }
}
