//! The per-customer churn features at several cutoffs, from the customer's days of activity.
//!
//! Input: one customer's activity days, ascending and distinct, each with the exact net amount
//! of the day (an integer in the amount's decimal scale) and whether the day has a purchase (a
//! row that is not a netted refund). Output: for every cutoff `c` at which the customer has a
//! purchase day `d ≤ c`, the features below. All days are whole calendar days; only days
//! `≤ c` reach a feature of cutoff `c` (the window purchases `(c, c + w]` are the label's).
//!
//! | field | definition |
//! |---|---|
//! | `purchase_days` (F) | purchase days `≤ c` |
//! | `monetary` | net amount of every day `≤ c` (refunds included) |
//! | `recency_days`, `tenure_days` | `c − last purchase day`, `c − first purchase day` |
//! | `p30`, `p90`, `p180` | purchase days `d` with `c − k < d ≤ c` |
//! | `s30`, `s90`, `s180` | net amount of the days in the same windows |
//! | `median_gap` | median of the `F − 1` gaps between consecutive purchase days (mean of the two middle gaps for an even count); `None` when `F = 1` |
//! | `repeat_spend_sum` | net amount of the purchase days after the first (the BTYD summary's monetary is this over `F − 1`) |
//! | `window_purchases` | purchase days in `(c, c + w]` |
//!
//! These are the definitions of the prototype (`crates/clv-models/tests/reference/churn_prototype.md`,
//! DuckDB: `churn_features.py`).

/// One activity day of a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityDay {
    /// Days since 1970-01-01.
    pub day: i32,
    /// Net amount of the day, exactly, in the amount's decimal scale.
    pub amount: i128,
    /// Whether the day has a purchase (a row that is not a netted refund).
    pub purchase: bool,
}

/// The features of one customer at one cutoff; see the [module documentation](self).
#[derive(Debug, Clone, PartialEq)]
pub struct CutoffFeatures {
    /// The cutoff (days since 1970-01-01).
    pub cutoff: i32,
    /// F.
    pub purchase_days: u32,
    /// Exact net amount.
    pub monetary: i128,
    /// First purchase day.
    pub first_purchase: i32,
    /// Last purchase day on or before the cutoff.
    pub last_purchase: i32,
    /// Purchase days in the last 30, 90, 180 days.
    pub purchases: [u32; 3],
    /// Net amount in the last 30, 90, 180 days.
    pub spend: [i128; 3],
    /// Median gap between consecutive purchase days.
    pub median_gap: Option<f64>,
    /// Net amount of the purchase days after the first.
    pub repeat_spend_sum: i128,
    /// Purchase days in `(c, c + window]`.
    pub window_purchases: u32,
}

impl CutoffFeatures {
    /// `c − last purchase day`.
    pub fn recency_days(&self) -> i32 {
        self.cutoff - self.last_purchase
    }

    /// `c − first purchase day`.
    pub fn tenure_days(&self) -> i32 {
        self.cutoff - self.first_purchase
    }
}

/// The activity windows of `p30`, `p90`, `p180` (days).
pub const ACTIVITY_WINDOWS: [i32; 3] = [30, 90, 180];

/// The median of `v` (sorted in place); `None` when empty.
fn median(v: &mut [i32]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 {
        f64::from(v[n / 2])
    } else {
        (f64::from(v[n / 2 - 1]) + f64::from(v[n / 2])) / 2.0
    })
}

/// The features of a customer at every cutoff (ascending) at which they have a purchase day on
/// or before it. `days` must be ascending and distinct; `window` is the label window in days.
pub fn cutoff_features(days: &[ActivityDay], cutoffs: &[i32], window: i32) -> Vec<CutoffFeatures> {
    debug_assert!(days.windows(2).all(|w| w[0].day < w[1].day));
    // Prefix sums of the amounts of all days, and of the purchase days.
    let mut amount_prefix = Vec::with_capacity(days.len() + 1);
    amount_prefix.push(0i128);
    for d in days {
        amount_prefix.push(amount_prefix.last().copied().unwrap_or(0) + d.amount);
    }
    let purchase_days: Vec<i32> = days.iter().filter(|d| d.purchase).map(|d| d.day).collect();
    let Some(&first) = purchase_days.first() else {
        return vec![];
    };
    let mut purchase_prefix = Vec::with_capacity(purchase_days.len() + 1);
    purchase_prefix.push(0i128);
    for d in days.iter().filter(|d| d.purchase) {
        purchase_prefix.push(purchase_prefix.last().copied().unwrap_or(0) + d.amount);
    }
    // Days (all, purchase) on or before `t`.
    let all_upto = |t: i32| days.partition_point(|d| d.day <= t);
    let purchases_upto = |t: i32| purchase_days.partition_point(|&d| d <= t);
    let mut out = Vec::new();
    let mut gaps = Vec::new();
    for &c in cutoffs {
        let f = purchases_upto(c);
        if f == 0 {
            continue;
        }
        let k = all_upto(c);
        let mut purchases = [0u32; 3];
        let mut spend = [0i128; 3];
        for (i, w) in ACTIVITY_WINDOWS.iter().enumerate() {
            let from = c.saturating_sub(*w);
            purchases[i] = (f - purchases_upto(from)) as u32;
            spend[i] = amount_prefix[k] - amount_prefix[all_upto(from)];
        }
        gaps.clear();
        gaps.extend(purchase_days[..f].windows(2).map(|w| w[1] - w[0]));
        out.push(CutoffFeatures {
            cutoff: c,
            purchase_days: f as u32,
            monetary: amount_prefix[k],
            first_purchase: first,
            last_purchase: purchase_days[f - 1],
            purchases,
            spend,
            median_gap: median(&mut gaps),
            repeat_spend_sum: purchase_prefix[f] - purchase_prefix[1],
            window_purchases: (purchases_upto(c.saturating_add(window)) - f) as u32,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(day: i32, amount: i128, purchase: bool) -> ActivityDay {
        ActivityDay { day, amount, purchase }
    }

    /// Brute force over the days, straight from the definitions.
    fn brute(days: &[ActivityDay], c: i32, window: i32) -> Option<CutoffFeatures> {
        let upto: Vec<&ActivityDay> = days.iter().filter(|d| d.day <= c).collect();
        let p: Vec<i32> = upto.iter().filter(|d| d.purchase).map(|d| d.day).collect();
        if p.is_empty() {
            return None;
        }
        let in_window = |w: i32| upto.iter().filter(move |d| d.day > c - w);
        let mut gaps: Vec<i32> = p.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.sort();
        let median_gap = match gaps.len() {
            0 => None,
            n if n % 2 == 1 => Some(f64::from(gaps[n / 2])),
            n => Some(f64::from(gaps[n / 2 - 1] + gaps[n / 2]) / 2.0),
        };
        let first_purchase = days.iter().find(|d| d.purchase).unwrap().day;
        Some(CutoffFeatures {
            cutoff: c,
            purchase_days: p.len() as u32,
            monetary: upto.iter().map(|d| d.amount).sum(),
            first_purchase,
            last_purchase: *p.last().unwrap(),
            purchases: ACTIVITY_WINDOWS.map(|w| in_window(w).filter(|d| d.purchase).count() as u32),
            spend: ACTIVITY_WINDOWS.map(|w| in_window(w).map(|d| d.amount).sum()),
            median_gap,
            repeat_spend_sum: upto
                .iter()
                .filter(|d| d.purchase && d.day != first_purchase)
                .map(|d| d.amount)
                .sum(),
            window_purchases: days
                .iter()
                .filter(|d| d.purchase && d.day > c && d.day <= c + window)
                .count() as u32,
        })
    }

    #[test]
    fn every_feature_equals_its_definition() {
        // A refund-only day (20), a zero-amount purchase (50), purchases on and around cutoffs.
        let days = [
            day(0, 1000, true),
            day(20, -300, false),
            day(35, 0, true),
            day(50, 250, true),
            day(100, 700, true),
            day(181, 90, true),
            day(200, -50, false),
            day(260, 400, true),
            day(400, 10, true),
        ];
        let cutoffs = [-5, 0, 19, 20, 50, 99, 100, 180, 181, 270, 399, 500];
        let got = cutoff_features(&days, &cutoffs, 90);
        let want: Vec<CutoffFeatures> = cutoffs.iter().filter_map(|&c| brute(&days, c, 90)).collect();
        assert_eq!(got, want);
        // Spot checks by hand at c = 181: purchases on 0, 35, 50, 100, 181; gaps 35, 15, 50, 81
        // (median (35 + 50)/2); the last 180 days (1..=181) hold 35, 50, 100, 181 and the refund.
        let f = got.iter().find(|f| f.cutoff == 181).unwrap();
        assert_eq!((f.purchase_days, f.recency_days(), f.tenure_days()), (5, 0, 181));
        assert_eq!(f.purchases, [1, 2, 4]);
        assert_eq!(f.spend, [90, 790, 1000 - 300 + 250 + 700 + 90 - 1000]);
        assert_eq!(f.median_gap, Some(42.5));
        assert_eq!(f.repeat_spend_sum, 250 + 700 + 90);
        assert_eq!(f.window_purchases, 1);
        // No row before the first purchase.
        assert_eq!(got.first().unwrap().cutoff, 0);
    }

    #[test]
    fn a_customer_with_only_refunds_has_no_features() {
        assert!(cutoff_features(&[day(3, -10, false)], &[5, 10], 90).is_empty());
    }
}
