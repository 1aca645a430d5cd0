//! Value concentration: how much of the revenue the most valuable customers bring (the Lorenz
//! curve and its Gini coefficient).
//!
//! With the customers' values `x` (net spend; a negative net spend counts as 0, a documented
//! policy, and such customers are counted) sorted ascending, `x_(1) ≤ … ≤ x_(N)`, and
//! `S = Σ x`:
//!
//! * the Lorenz curve at `p` percent: `L(p) = Σ_{i ≤ ⌊p·N/100⌋} x_(i) / S`, the share of the
//!   revenue from the bottom `p` % of customers;
//! * the share from the top `p` %: `T(p) = 1 − L(100 − p)`, i.e. the top `⌈p·N/100⌉` customers;
//! * the Gini coefficient `G = Σ_i (2i − N − 1) x_(i) / (N · S)` (0: everyone spends the same;
//!   `1 − 1/N`: one customer spends everything).
//!
//! Sums are exact ([`ExactSum`]) over the sorted values, so the figures depend only on the
//! multiset of values.

use crate::rfm::exact_sum::ExactSum;

/// One point of the curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LorenzPoint {
    /// `p`, percent of customers (0..=100).
    pub percent: u32,
    /// Customers in the bottom `p` %: `⌊p·N/100⌋`.
    pub bottom_customers: u64,
    /// `L(p)`.
    pub bottom_share: f64,
    /// Customers in the top `p` %: `⌈p·N/100⌉`.
    pub top_customers: u64,
    /// `T(p)`.
    pub top_share: f64,
}

/// The Lorenz curve at every whole percent and the Gini coefficient.
#[derive(Debug, Clone, PartialEq)]
pub struct Concentration {
    /// Customers.
    pub customers: u64,
    /// Customers whose negative value counted as 0.
    pub clamped: u64,
    /// `S`.
    pub total: f64,
    /// `G` (`None` when `S` is 0).
    pub gini: Option<f64>,
    /// `p` = 0, 1, ..., 100.
    pub points: Vec<LorenzPoint>,
}

impl Concentration {
    /// The curve of `values` (finite; negative ones count as 0).
    pub fn new(values: &[f64]) -> Self {
        let clamped = values.iter().filter(|v| **v < 0.0).count() as u64;
        let mut x: Vec<f64> = values.iter().map(|v| v.max(0.0)).collect();
        x.sort_unstable_by(f64::total_cmp);
        let n = x.len() as u64;
        // prefix[k] = Σ_{i<k} x_(i) at the 101 bottom counts.
        let bottoms: Vec<u64> = (0..=100u64).map(|p| p * n / 100).collect();
        let mut prefix = Vec::with_capacity(101);
        let (mut sum, mut gini) = (ExactSum::new(), ExactSum::new());
        let mut next = 0;
        for (i, v) in x.iter().enumerate() {
            while next < bottoms.len() && bottoms[next] == i as u64 {
                prefix.push(sum.value());
                next += 1;
            }
            sum.add(*v);
            gini.add((2.0 * (i as f64 + 1.0) - n as f64 - 1.0) * v);
        }
        while prefix.len() < bottoms.len() {
            prefix.push(sum.value());
        }
        let total = sum.value();
        // suffix[p] = Σ of the top ⌈p·N/100⌉ values, summed exactly from the top.
        let tops: Vec<u64> = (0..=100usize).map(|p| n - bottoms[100 - p]).collect();
        let mut suffix = Vec::with_capacity(101);
        let mut top = ExactSum::new();
        let mut next = 0;
        for (k, v) in x.iter().rev().enumerate() {
            while next < tops.len() && tops[next] == k as u64 {
                suffix.push(top.value());
                next += 1;
            }
            top.add(*v);
        }
        while suffix.len() < tops.len() {
            suffix.push(top.value());
        }
        let share = |s: f64| if total > 0.0 { s / total } else { 0.0 };
        let points = (0..=100usize)
            .map(|p| LorenzPoint {
                percent: p as u32,
                bottom_customers: bottoms[p],
                bottom_share: share(prefix[p]),
                top_customers: tops[p],
                top_share: share(suffix[p]),
            })
            .collect();
        Self {
            customers: n,
            clamped,
            total,
            gini: (total > 0.0).then(|| gini.value() / (n as f64 * total)),
            points,
        }
    }

    /// The smallest share of customers (percent) that brings at least `share` of the revenue.
    pub fn customers_for_share(&self, share: f64) -> Option<u32> {
        self.points.iter().find(|p| p.top_share >= share).map(|p| p.percent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_and_gini_by_hand() {
        // Ten customers: nine spend 1, one spends 91 (total 100).
        let mut v = vec![1.0; 9];
        v.push(91.0);
        let c = Concentration::new(&v);
        assert_eq!(c.total, 100.0);
        assert_eq!(c.points[10].top_customers, 1);
        assert_eq!(c.points[10].top_share, 0.91);
        assert_eq!(c.points[50].bottom_share, 0.05);
        assert_eq!(c.points[100].bottom_share, 1.0);
        assert_eq!(c.points[0].top_share, 0.0);
        // G = Σ (2i − 11) x_i / (10 · 100): Σ_{i=1..9} (2i − 11) = −9, plus 9 · 91 = 819 → 810 / 1000.
        assert_eq!(c.gini, Some(0.81));
        assert_eq!(c.customers_for_share(0.9), Some(1));
        // Top 15 %: ⌈1.5⌉ = 2 customers = 92 %.
        assert_eq!(c.points[15].top_customers, 2);
        assert!((c.points[15].top_share - 0.92).abs() < 1e-15);
        let equal = Concentration::new(&[5.0, 5.0, 5.0, -2.0]);
        assert_eq!(equal.clamped, 1);
        assert_eq!(Concentration::new(&[]).gini, None);
    }
}
