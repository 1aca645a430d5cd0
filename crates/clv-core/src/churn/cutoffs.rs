//! Cutoff dates for churn labels: an explicit list, or a range expanded to period ends.

use datafusion::common::{Result, plan_err};

use super::Period;
use crate::common::dates::{format_date, parse_date};

/// The most cutoffs one `churn_labels` call may have (each one copies the customers).
pub const MAX_CUTOFFS: usize = 1000;

/// Parses cutoffs, as days since 1970-01-01, sorted and without duplicates.
///
/// * `1997-06-30,1997-09-30`: the listed dates.
/// * `1997-01-01..1997-12-31`: the last day of every `every` period (calendar month end, Sunday
///   for Monday-start weeks, quarter end, year end, or every day) that lies in the range,
///   both ends included. `1997-01-01..1997-12-31` by month gives the 12 month ends of 1997.
pub fn parse_cutoffs(text: &str, every: Period) -> Result<Vec<i32>> {
    let text = text.trim();
    let mut days = if let Some((start, end)) = text.split_once("..") {
        let (start, end) = (parse_date(start, "cutoffs")?, parse_date(end, "cutoffs")?);
        if end < start {
            return plan_err!("cutoffs: the range {text} ends before it starts");
        }
        let mut days = Vec::new();
        for index in every.index(start)..=every.index(end) {
            let last = every.start(index + 1) - 1;
            if (start..=end).contains(&last) {
                days.push(last);
            }
            if days.len() > MAX_CUTOFFS {
                return plan_err!("cutoffs: {text} by {every} gives more than {MAX_CUTOFFS} cutoffs");
            }
        }
        if days.is_empty() {
            return plan_err!(
                "cutoffs: no {every} ends in {text}; widen the range or choose a shorter period with 'every'"
            );
        }
        days
    } else {
        text.split(',')
            .map(|d| parse_date(d, "cutoffs"))
            .collect::<Result<Vec<_>>>()?
    };
    days.sort_unstable();
    days.dedup();
    if days.len() > MAX_CUTOFFS {
        return plan_err!("cutoffs: more than {MAX_CUTOFFS} dates");
    }
    Ok(days)
}

/// The cutoffs as text, for messages.
pub fn format_cutoffs(days: &[i32]) -> String {
    days.iter().map(|d| format_date(*d)).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dates(text: &str, every: Period) -> String {
        format_cutoffs(&parse_cutoffs(text, every).unwrap())
    }

    #[test]
    fn lists_are_sorted_and_deduplicated() {
        assert_eq!(
            dates("1997-09-30, 1997-06-30,1997-09-30", Period::Month),
            "1997-06-30,1997-09-30"
        );
    }

    #[test]
    fn ranges_expand_to_period_ends_inside_the_range() {
        assert_eq!(
            dates("1997-01-15..1997-05-31", Period::Month),
            "1997-01-31,1997-02-28,1997-03-31,1997-04-30,1997-05-31"
        );
        assert_eq!(dates("1996-01-01..1996-03-30", Period::Month), "1996-01-31,1996-02-29");
        // Weeks end on Sunday: 1997-01-05 and 1997-01-12 are Sundays.
        assert_eq!(dates("1997-01-01..1997-01-12", Period::Week), "1997-01-05,1997-01-12");
        assert_eq!(
            dates("1997-01-01..1997-12-31", Period::Quarter),
            "1997-03-31,1997-06-30,1997-09-30,1997-12-31"
        );
        assert_eq!(
            dates("1997-02-27..1997-03-01", Period::Day),
            "1997-02-27,1997-02-28,1997-03-01"
        );
    }

    #[test]
    fn bad_cutoffs_name_the_argument() {
        let e = |t: &str, p| parse_cutoffs(t, p).unwrap_err().to_string();
        assert!(e("1997-13-01", Period::Month).contains("cutoffs: '1997-13-01' is not a date"));
        assert!(e("1997-05-01..1997-01-01", Period::Month).contains("ends before it starts"));
        assert!(e("1997-05-02..1997-05-20", Period::Month).contains("no month ends in"));
        assert!(e("1990-01-01..1999-12-31", Period::Day).contains("more than 1000 cutoffs"));
    }
}
