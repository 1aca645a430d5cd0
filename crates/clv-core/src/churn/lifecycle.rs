//! Lifecycle stages as of a date: new, active, reactivated, silent, churned.
//!
//! With `f` = days since the first purchase, `d` = days since the last purchase (both as of the
//! date, whole days) and `gap` = the days between the first purchase inside the active window
//! and the purchase before it (none when that purchase is the customer's first), the rules are
//! checked in this order:
//!
//! | stage | rule |
//! |---|---|
//! | `new` | `f < new_days` |
//! | `reactivated` | `d < active_days` and `gap ≥ churn_days`: came back after having churned |
//! | `active` | `d < active_days` |
//! | `silent` | `active_days ≤ d < churn_days` |
//! | `churned` | `d ≥ churn_days` |
//!
//! Defaults: `new_days = 30`, `active_days = 90`, `churn_days = 180`. A customer whose first
//! purchase is after the date has no stage (NULL).

use std::fmt;

use datafusion::common::{Result, plan_err};

/// A lifecycle stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// First purchase within `new_days`.
    New,
    /// Bought within `active_days`.
    Active,
    /// Bought within `active_days` after a gap of at least `churn_days`.
    Reactivated,
    /// Last purchase between `active_days` and `churn_days` ago.
    Silent,
    /// No purchase for at least `churn_days`.
    Churned,
}

impl Stage {
    /// All stages in documentation order.
    pub const ALL: [Stage; 5] = [Self::New, Self::Active, Self::Reactivated, Self::Silent, Self::Churned];

    /// The SQL spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Active => "active",
            Self::Reactivated => "reactivated",
            Self::Silent => "silent",
            Self::Churned => "churned",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stage windows in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StageWindows {
    /// A customer is new for this many days after the first purchase (default 30).
    pub new_days: i64,
    /// A purchase within this many days makes a customer active (default 90).
    pub active_days: i64,
    /// No purchase for this many days makes a customer churned (default 180).
    pub churn_days: i64,
}

impl Default for StageWindows {
    fn default() -> Self {
        Self {
            new_days: 30,
            active_days: 90,
            churn_days: 180,
        }
    }
}

impl StageWindows {
    /// Checks `0 < new_days`, `0 < active_days < churn_days`.
    pub fn validate(&self) -> Result<()> {
        let Self {
            new_days,
            active_days,
            churn_days,
        } = *self;
        if new_days <= 0 || active_days <= 0 || churn_days <= active_days {
            return plan_err!(
                "lifecycle windows need new_days > 0 and 0 < active_days < churn_days, got new_days = {new_days}, active_days = {active_days}, churn_days = {churn_days}"
            );
        }
        Ok(())
    }

    /// The stage of a customer (see the module documentation); `None` before the first purchase.
    pub fn stage(&self, days_since_first: i64, days_since_last: i64, reactivation_gap: Option<i64>) -> Option<Stage> {
        if days_since_first < 0 || days_since_last < 0 {
            return None;
        }
        Some(if days_since_first < self.new_days {
            Stage::New
        } else if days_since_last < self.active_days {
            if reactivation_gap.is_some_and(|g| g >= self.churn_days) {
                Stage::Reactivated
            } else {
                Stage::Active
            }
        } else if days_since_last < self.churn_days {
            Stage::Silent
        } else {
            Stage::Churned
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_follow_the_documented_rules_and_boundaries() {
        let w = StageWindows::default();
        assert_eq!(w.stage(29, 29, None), Some(Stage::New));
        assert_eq!(w.stage(30, 0, None), Some(Stage::Active));
        assert_eq!(w.stage(400, 89, None), Some(Stage::Active));
        assert_eq!(w.stage(400, 90, None), Some(Stage::Silent));
        assert_eq!(w.stage(400, 179, None), Some(Stage::Silent));
        assert_eq!(w.stage(400, 180, None), Some(Stage::Churned));
        assert_eq!(w.stage(400, 10, Some(180)), Some(Stage::Reactivated));
        assert_eq!(w.stage(400, 10, Some(179)), Some(Stage::Active));
        // New wins over everything: a brand-new customer cannot be reactivated.
        assert_eq!(w.stage(5, 5, Some(500)), Some(Stage::New));
        assert_eq!(w.stage(-1, -1, None), None);
        assert!(
            StageWindows {
                new_days: 30,
                active_days: 90,
                churn_days: 90
            }
            .validate()
            .is_err()
        );
    }
}
