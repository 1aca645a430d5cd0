//! Tracking: a model's expected repeat transactions of a population, period by period, to set
//! beside the actual ones (the tracking plot of Fader, Hardie & Lee 2005, *Marketing Science*
//! 24(2), figure 1; `lifetimes`' `plot_calibration_purchases_vs_holdout_purchases` and
//! `expected_cumulative_transactions`, CLVTools' `plot()`), and the frequency × recency
//! matrices of P(alive) and of the conditional expected purchases (FHL 2005, figure 4).
//!
//! # Which customers count, and how much
//!
//! Customer `i` made the first purchase at time `f_i` (on the grid's clock). Under the model
//! their repeat purchases by their age `u` number `X_i(u)` with `E[X_i(u)] = E[X(u)]` the
//! *unconditional* expectation of a new customer ([`TransactionModel::expected_purchases_new`]:
//! FHL 2005 eq. 9 for BG/NBD; SMC 1987 for Pareto/NBD). The population's expected repeat
//! transactions up to time `τ` are
//!
//! `C(τ) = Σ_i w_i · E[X((τ − f_i)⁺)]`
//!
//! (`w_i` the customer's weight): a customer counts from their first purchase on, a customer
//! whose first purchase is at or after `τ` counts nothing. Period `k` is the half-open interval
//! `[s_k, e_k)`, `s_k = origin + k·length`, `e_k = s_k + length`; its expectation is
//! `C(e_k) − C(s_k)`: a customer whose first purchase falls inside the period counts the part
//! of the period after it, `E[X(e_k − f_i)]`; one who bought first before `s_k` counts
//! `E[X(e_k − f_i)] − E[X(s_k − f_i)]`. The cumulative column is `C(e_k) − C(origin)`, the
//! expected repeat transactions since the grid's origin. The actual side to compare with counts
//! every transaction after the customer's first one whose time falls in `[s_k, e_k)`, on the same
//! clock (same-day purchases collapsed as in the summary the model was fitted on).
//!
//! Used over a calibration and a holdout period together, the calibration part checks the fit
//! and the holdout part the forecast; the expectation uses the fitted parameters only (not the
//! customers' calibration histories), as in FHL 2005.
//!
//! Customers are grouped by first-purchase time, and `E[X(u)]` is computed once per distinct age
//! `u`; the sums run over the groups in time order, so the result does not depend on the order of
//! the customers.

use serde::Serialize;

use super::error::{ModelError, finite};
use super::{TimeUnit, TransactionModel};

/// The periods of a tracking table: `periods` intervals `[origin + k·length, origin +
/// (k+1)·length)`, all in `unit`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeriodGrid {
    /// Start of the first period.
    pub origin: f64,
    /// Length of a period.
    pub length: f64,
    /// Unit of `origin`, `length` and of the first-purchase times.
    pub unit: TimeUnit,
    /// Number of periods.
    pub periods: usize,
}

impl PeriodGrid {
    /// `periods` weeks from `origin` (weeks): the default tracking grid.
    pub fn weekly(origin: f64, periods: usize) -> Self {
        PeriodGrid {
            origin,
            length: 1.0,
            unit: TimeUnit::Week,
            periods,
        }
    }

    fn validate(&self) -> Result<(), ModelError> {
        if !self.origin.is_finite() {
            return Err(ModelError::InvalidArgument {
                name: "origin",
                value: self.origin,
                reason: "must be finite",
            });
        }
        if !(self.length.is_finite() && self.length > 0.0) {
            return Err(ModelError::InvalidArgument {
                name: "period length",
                value: self.length,
                reason: "must be finite and > 0",
            });
        }
        if self.periods == 0 || self.periods > 1_000_000 {
            return Err(ModelError::InvalidArgument {
                name: "periods",
                value: self.periods as f64,
                reason: "must be between 1 and 1,000,000",
            });
        }
        Ok(())
    }

    /// Start of period `k`.
    pub fn start(&self, k: usize) -> f64 {
        self.origin + k as f64 * self.length
    }
}

/// One row of a tracking table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TrackingPeriod {
    /// Period number, from 0.
    pub period: usize,
    /// Start (inclusive), in the grid's unit.
    pub start: f64,
    /// End (exclusive).
    pub end: f64,
    /// Expected repeat transactions in the period.
    pub expected: f64,
    /// Expected repeat transactions from the grid's origin to the end of the period.
    pub expected_cumulative: f64,
}

/// The expected repeat transactions of the customers whose first purchases were at
/// `first_purchase` (in `grid.unit`, on the grid's clock; `weights` optional, one per
/// customer), per period of `grid` (see the module docs).
///
/// # Errors
/// [`ModelError::InvalidArgument`] for an invalid grid, [`ModelError::NonFinite`] /
/// [`ModelError::Negative`] for a bad first-purchase time or weight,
/// [`ModelError::LengthMismatch`], and the model's own errors.
pub fn expected_tracking<M: TransactionModel + ?Sized>(
    model: &M,
    first_purchase: &[f64],
    weights: Option<&[f64]>,
    grid: &PeriodGrid,
) -> Result<Vec<TrackingPeriod>, ModelError> {
    grid.validate()?;
    if let Some(w) = weights
        && w.len() != first_purchase.len()
    {
        return Err(ModelError::LengthMismatch {
            field: "weight",
            expected: first_purchase.len(),
            found: w.len(),
        });
    }
    // Customers grouped by first-purchase time, in time order.
    let mut groups: Vec<(f64, f64)> = Vec::with_capacity(first_purchase.len());
    for (i, &f) in first_purchase.iter().enumerate() {
        if !f.is_finite() {
            return Err(ModelError::NonFinite {
                row: i,
                field: "first purchase",
            });
        }
        let w = weights.map_or(1.0, |w| w[i]);
        if !(w.is_finite() && w >= 0.0) {
            return Err(ModelError::Negative {
                row: i,
                field: "weight",
                value: w,
            });
        }
        if w > 0.0 {
            groups.push((f + 0.0, w));
        }
    }
    groups.sort_by(|a, b| a.0.total_cmp(&b.0));
    groups.dedup_by(|next, kept| {
        if next.0 == kept.0 {
            kept.1 += next.1;
            true
        } else {
            false
        }
    });
    let to_model = grid.unit.convert(1.0, model.time_unit());
    let mut memo: std::collections::HashMap<u64, f64> = std::collections::HashMap::new();
    let mut expected_by_age = |age: f64| -> Result<f64, ModelError> {
        if !(age > 0.0) {
            return Ok(0.0);
        }
        if let Some(v) = memo.get(&age.to_bits()) {
            return Ok(*v);
        }
        let v = model.expected_purchases_new(age * to_model)?;
        memo.insert(age.to_bits(), v);
        Ok(v)
    };
    // C(τ) − nothing before the first group: Σ over groups with f < τ.
    let mut cumulative = |tau: f64| -> Result<f64, ModelError> {
        let mut sum = 0.0;
        for &(f, w) in groups.iter().take_while(|g| g.0 < tau) {
            sum += w * expected_by_age(tau - f)?;
        }
        finite(sum, "tracking: expected repeat transactions")
    };
    let at_origin = cumulative(grid.origin)?;
    let mut previous = 0.0;
    let mut out = Vec::with_capacity(grid.periods);
    for k in 0..grid.periods {
        let (start, end) = (grid.start(k), grid.start(k + 1));
        let c = cumulative(end)? - at_origin;
        out.push(TrackingPeriod {
            period: k,
            start,
            end,
            expected: c - previous,
            expected_cumulative: c,
        });
        previous = c;
    }
    Ok(out)
}

/// A prediction over a frequency × recency grid, for customers of one age `T`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrequencyRecencyMatrix {
    /// Row labels: repeat purchases `x = 0, 1, …`.
    pub frequencies: Vec<f64>,
    /// Column labels: recency `t_x` (model units; not used in the `x = 0` row, whose customers
    /// have `t_x = 0`).
    pub recencies: Vec<f64>,
    /// The customers' age `T`.
    pub age: f64,
    /// `values[i][j]`: the prediction for `(frequencies[i], recencies[j], age)`.
    pub values: Vec<Vec<f64>>,
}

/// `recencies` checked against `age`: every one in `(0, age]`.
fn check_recencies(recencies: &[f64], age: f64) -> Result<(), ModelError> {
    if !(age.is_finite() && age > 0.0) {
        return Err(ModelError::InvalidArgument {
            name: "age",
            value: age,
            reason: "must be finite and > 0",
        });
    }
    for &r in recencies {
        if !(r > 0.0 && r <= age) {
            return Err(ModelError::InvalidArgument {
                name: "recency",
                value: r,
                reason: "every recency must be in (0, age]",
            });
        }
    }
    Ok(())
}

/// `n` recencies evenly spaced up to `age`: `age·j/n` for `j = 1..=n`.
pub fn recency_bins(age: f64, n: usize) -> Vec<f64> {
    (1..=n).map(|j| age * j as f64 / n as f64).collect()
}

fn matrix<M: TransactionModel + ?Sized>(
    model: &M,
    age: f64,
    max_frequency: u32,
    recencies: &[f64],
    f: impl Fn(&M, f64, f64, f64) -> Result<f64, ModelError>,
) -> Result<FrequencyRecencyMatrix, ModelError> {
    check_recencies(recencies, age)?;
    let frequencies: Vec<f64> = (0..=max_frequency).map(f64::from).collect();
    let values = frequencies
        .iter()
        .map(|&x| {
            recencies
                .iter()
                .map(|&r| f(model, x, if x == 0.0 { 0.0 } else { r }, age))
                .collect::<Result<Vec<f64>, ModelError>>()
        })
        .collect::<Result<Vec<_>, ModelError>>()?;
    Ok(FrequencyRecencyMatrix {
        frequencies,
        recencies: recencies.to_vec(),
        age,
        values,
    })
}

/// P(alive) over `x = 0..=max_frequency` × `recencies` for customers of age `age` (model
/// units).
pub fn p_alive_matrix<M: TransactionModel + ?Sized>(
    model: &M,
    age: f64,
    max_frequency: u32,
    recencies: &[f64],
) -> Result<FrequencyRecencyMatrix, ModelError> {
    matrix(model, age, max_frequency, recencies, |m, x, t_x, T| {
        m.p_alive(x, t_x, T)
    })
}

/// Conditional expected purchases in `(age, age + horizon]` over `x = 0..=max_frequency` ×
/// `recencies` for customers of age `age` (model units).
pub fn expected_purchases_matrix<M: TransactionModel + ?Sized>(
    model: &M,
    horizon: f64,
    age: f64,
    max_frequency: u32,
    recencies: &[f64],
) -> Result<FrequencyRecencyMatrix, ModelError> {
    matrix(model, age, max_frequency, recencies, |m, x, t_x, T| {
        m.expected_purchases(horizon, x, t_x, T)
    })
}
