//! Calendar periods for cohorts: days, Monday-start weeks, calendar months, quarters and years.
//!
//! A period is identified by an index counted from 1970: the day number, the week number (weeks
//! start on Monday; week 0 starts on Monday 1969-12-29), `12 × (year − 1970) + month − 1`,
//! `4 × (year − 1970) + quarter − 1` or `year − 1970`. Periods are calendar periods: a month
//! is a calendar month, never "30 days". Conversions use Howard Hinnant's `days_from_civil`
//! algorithms (exact for the proleptic Gregorian calendar).

use std::fmt;
use std::str::FromStr;

use datafusion::common::{Result, plan_err};

/// A calendar grain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Period {
    /// Calendar days.
    Day,
    /// Weeks starting on Monday.
    Week,
    /// Calendar months (default).
    #[default]
    Month,
    /// Calendar quarters.
    Quarter,
    /// Calendar years.
    Year,
}

impl Period {
    /// The SQL spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Quarter => "quarter",
            Self::Year => "year",
        }
    }

    /// The index of the period containing `day` (days since 1970-01-01).
    pub fn index(&self, day: i32) -> i32 {
        match self {
            Self::Day => day,
            Self::Week => (day + 3).div_euclid(7),
            Self::Month | Self::Quarter | Self::Year => {
                let (y, m, _) = civil_from_days(day);
                let month = 12 * (y - 1970) + m as i32 - 1;
                match self {
                    Self::Month => month,
                    Self::Quarter => month.div_euclid(3),
                    _ => month.div_euclid(12),
                }
            }
        }
    }

    /// The first day (days since 1970-01-01) of the period with this index, for an index of
    /// a supported date (see [`Period::checked_start`]).
    pub fn start(&self, index: i32) -> i32 {
        self.checked_start(index)
            .unwrap_or(if index < 0 { MIN_DAY } else { MAX_DAY })
    }

    /// The first day of the period with this index, `None` when it is outside the supported
    /// dates ([`MIN_DAY`]..=[`MAX_DAY`], the years −262143 to 262142 that Arrow can print).
    pub fn checked_start(&self, index: i32) -> Option<i32> {
        let index = i64::from(index);
        let day = match self {
            Self::Day => index,
            Self::Week => index * 7 - 3,
            Self::Month | Self::Quarter | Self::Year => {
                let month = match self {
                    Self::Month => index,
                    Self::Quarter => index * 3,
                    _ => index * 12,
                };
                let year = i32::try_from(1970 + month.div_euclid(12)).ok()?;
                if !(-262_143..=262_142).contains(&year) {
                    return None;
                }
                i64::from(days_from_civil(year, month.rem_euclid(12) as u32 + 1, 1))
            }
        };
        i32::try_from(day).ok().filter(|d| (MIN_DAY..=MAX_DAY).contains(d))
    }

    /// The indices whose periods start on a supported date.
    pub fn index_range(&self) -> (i32, i32) {
        let first = self.index(MIN_DAY);
        let first = if self.checked_start(first).is_some() {
            first
        } else {
            first + 1
        };
        (first, self.index(MAX_DAY))
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Period {
    type Err = datafusion::error::DataFusionError;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "day" => Ok(Self::Day),
            "week" => Ok(Self::Week),
            "month" => Ok(Self::Month),
            "quarter" => Ok(Self::Quarter),
            "year" => Ok(Self::Year),
            other => plan_err!("period must be one of day, week, month, quarter, year, got '{other}'"),
        }
    }
}

/// The first supported day: −262143-01-01 (Arrow prints dates from there on).
pub const MIN_DAY: i32 = -96_465_292;
/// The last supported day: 262142-12-31.
pub const MAX_DAY: i32 = 95_026_236;

/// (year, month 1..=12, day 1..=31) of a day number.
pub fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = i64::from(z) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    ((y + i64::from(m <= 2)) as i32, m as u32, d as u32)
}

/// The day number of (year, month, day).
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_supported_range_is_exact_and_nothing_overflows() {
        assert_eq!(civil_from_days(MIN_DAY), (-262_143, 1, 1));
        assert_eq!(civil_from_days(MAX_DAY), (262_142, 12, 31));
        for p in [Period::Day, Period::Week, Period::Month, Period::Quarter, Period::Year] {
            let (first, last) = p.index_range();
            assert!(
                p.checked_start(first).is_some() && p.checked_start(last).is_some(),
                "{p}"
            );
            assert_eq!(p.checked_start(first - 1), None, "{p}");
            assert_eq!(p.checked_start(last + 1), None, "{p}");
            assert_eq!(p.checked_start(i32::MAX), None, "{p}");
            assert_eq!(p.checked_start(i32::MIN), None, "{p}");
            assert_eq!(p.index(p.start(last)), last, "{p}");
        }
    }

    #[test]
    fn civil_round_trips_and_known_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        for d in -800_000..800_000 {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn periods_are_calendar_periods() {
        let jan31 = days_from_civil(1997, 1, 31);
        let feb1 = days_from_civil(1997, 2, 1);
        assert_eq!(Period::Month.index(feb1) - Period::Month.index(jan31), 1);
        assert_eq!(
            Period::Month.start(Period::Month.index(jan31)),
            days_from_civil(1997, 1, 1)
        );
        assert_eq!(
            Period::Quarter.start(Period::Quarter.index(days_from_civil(1997, 8, 15))),
            days_from_civil(1997, 7, 1)
        );
        assert_eq!(Period::Year.index(days_from_civil(1998, 6, 30)), 28);
        // 1997-01-01 was a Wednesday; its week starts Monday 1996-12-30.
        assert_eq!(
            Period::Week.start(Period::Week.index(days_from_civil(1997, 1, 1))),
            days_from_civil(1996, 12, 30)
        );
        assert_eq!(
            Period::Week.start(Period::Week.index(days_from_civil(1997, 1, 5))),
            days_from_civil(1996, 12, 30)
        );
        assert_eq!(
            Period::Week.start(Period::Week.index(days_from_civil(1997, 1, 6))),
            days_from_civil(1997, 1, 6)
        );
        assert_eq!(Period::Month.index(days_from_civil(1969, 12, 31)), -1);
        assert!("fortnight".parse::<Period>().is_err());
    }
}
