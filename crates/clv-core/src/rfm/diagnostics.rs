//! Degenerate results, said plainly: an empty result and its likely cause, score levels that
//! quantile ties merged away, and a segment holding an outsized share of the customers.
//!
//! Pure functions over counts: the CLI prints them as warnings, the report can show them.

use std::fmt;

use super::ScoreMethod;

/// A segment holding more than this share of the scored customers is flagged as outsized: with
/// it, a quarter of the base gets one treatment, and the segmentation separates little there.
pub const OUTSIZED_SEGMENT_SHARE: f64 = 0.25;

/// The counts that explain an empty result (the data-policy counts of `clv_policy_report`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmptyCounts {
    /// Rows in the source.
    pub rows_read: u64,
    /// Rows dated after the as-of date.
    pub after_as_of: u64,
    /// Rows excluded for a null customer id or time.
    pub null_customer_or_time: u64,
    /// Rows excluded for a null, NaN or infinite amount.
    pub invalid_amount: u64,
}

/// One score dimension's customers per level `1..=bins`.
#[derive(Debug, Clone, PartialEq)]
pub struct LevelCounts {
    /// `recency`, `frequency` or `monetary`.
    pub dimension: &'static str,
    /// How the levels were cut.
    pub method: ScoreMethod,
    /// Levels `1..=bins`.
    pub bins: u8,
    /// `counts[k - 1]` customers have level `k`.
    pub counts: Vec<u64>,
}

/// A degenerate result.
#[derive(Debug, Clone, PartialEq)]
pub enum Diagnostic {
    /// The result has no customers.
    Empty {
        /// What was computed, e.g. `RFM result`.
        what: String,
        /// The counts that explain it.
        counts: EmptyCounts,
        /// The as-of date, YYYY-MM-DD, when one was set.
        as_of: Option<String>,
    },
    /// Some score levels hold no customer.
    MissingLevels {
        /// `recency`, `frequency` or `monetary`.
        dimension: &'static str,
        /// How the levels were cut.
        method: ScoreMethod,
        /// The levels nobody has.
        missing: Vec<u8>,
        /// The most populated level and its customers: the ties that took the others' place.
        largest: (u8, u64),
        /// Customers scored on the dimension.
        customers: u64,
    },
    /// One segment holds more than [`OUTSIZED_SEGMENT_SHARE`] of the customers.
    OutsizedSegment {
        /// The segment.
        segment: String,
        /// Its customers.
        customers: u64,
        /// All segmented customers.
        total: u64,
    },
}

/// The diagnostic of an empty result, `None` when it has rows.
pub fn empty(what: &str, result_rows: u64, counts: EmptyCounts, as_of: Option<&str>) -> Option<Diagnostic> {
    (result_rows == 0).then(|| Diagnostic::Empty {
        what: what.to_string(),
        counts,
        as_of: as_of.map(str::to_string),
    })
}

/// Score levels that no customer has, per dimension (quantile ties merge levels: with 11,908
/// one-time buyers sharing the lowest frequency, the next level can be left empty).
pub fn missing_levels(dimensions: &[LevelCounts]) -> Vec<Diagnostic> {
    dimensions
        .iter()
        .filter_map(|d| {
            let customers: u64 = d.counts.iter().sum();
            if customers == 0 {
                return None;
            }
            let count = |k: u8| d.counts.get(usize::from(k) - 1).copied().unwrap_or(0);
            let missing: Vec<u8> = (1..=d.bins).filter(|&k| count(k) == 0).collect();
            if missing.is_empty() {
                return None;
            }
            // The most populated level; the lowest of equals.
            let largest = (1..=d.bins)
                .map(|k| (k, count(k)))
                .fold((1, 0), |best, (k, n)| if n > best.1 { (k, n) } else { best });
            Some(Diagnostic::MissingLevels {
                dimension: d.dimension,
                method: d.method,
                missing,
                largest,
                customers,
            })
        })
        .collect()
}

/// Segments holding more than [`OUTSIZED_SEGMENT_SHARE`] of the customers, largest first
/// (then by name). `segments` are (segment, customers).
pub fn outsized_segments(segments: &[(String, u64)]) -> Vec<Diagnostic> {
    let total: u64 = segments.iter().map(|(_, n)| n).sum();
    let mut out: Vec<(String, u64)> = segments
        .iter()
        .filter(|(_, n)| total > 0 && *n as f64 > OUTSIZED_SEGMENT_SHARE * total as f64)
        .cloned()
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out.into_iter()
        .map(|(segment, customers)| Diagnostic::OutsizedSegment {
            segment,
            customers,
            total,
        })
        .collect()
}

fn percent(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        100.0 * part as f64 / total as f64
    }
}

/// `1`, `1 and 2`, `1, 2 and 3`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

impl fmt::Display for Diagnostic {
    /// One line: what happened, the likely cause and what to do.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty { what, counts, as_of } => {
                write!(f, "the {what} has no customers: ")?;
                let as_of = as_of.as_deref().unwrap_or("the as-of date");
                if counts.rows_read == 0 {
                    write!(f, "the input has no rows")
                } else if counts.after_as_of == counts.rows_read {
                    write!(
                        f,
                        "all {} transactions are after {as_of}, which is before the first purchase; pass a later --as-of (or --calibration-end / --cutoff)",
                        counts.rows_read
                    )
                } else if counts.null_customer_or_time + counts.invalid_amount + counts.after_as_of >= counts.rows_read
                {
                    write!(
                        f,
                        "of {} rows, {} are after {as_of}, {} have no customer id or time and {} no valid amount; check --as-of and the column flags",
                        counts.rows_read, counts.after_as_of, counts.null_customer_or_time, counts.invalid_amount
                    )
                } else {
                    write!(
                        f,
                        "no customer falls in the dates asked for; check --as-of, --calibration-end, --cutoffs and the input"
                    )
                }
            }
            Self::MissingLevels {
                dimension,
                method,
                missing,
                largest: (level, n),
                customers,
            } => {
                let letter = &dimension[..1];
                let levels: Vec<String> = missing.iter().map(|k| format!("{letter} = {k}")).collect();
                write!(f, "{dimension} score: no customer has {}", and_list(&levels))?;
                if matches!(method, ScoreMethod::Quantile) {
                    write!(
                        f,
                        " ({n} of {customers} customers, {:.0}%, tie at {letter} = {level} and quantile ties merged the levels); use --method fixed with --{dimension}-thresholds, --method ntile, or fewer --bins",
                        percent(*n, *customers)
                    )
                } else {
                    write!(
                        f,
                        " ({n} of {customers} customers have {letter} = {level} with --method {method}); adjust the thresholds or use fewer --bins"
                    )
                }
            }
            Self::OutsizedSegment {
                segment,
                customers,
                total,
            } => write!(
                f,
                "segment '{segment}' holds {customers} of {total} customers ({:.1}%, more than {:.0}%): one treatment for that many separates little; check the scheme fits this base (clv segments evaluate) or try another --scheme",
                percent(*customers, *total),
                100.0 * OUTSIZED_SEGMENT_SHARE
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CDNOW frequency scores of `clv rfm` (hand-checked with `SELECT f, count(*) FROM
    /// rfm('cdnow') GROUP BY f`): 11,908 one-time buyers share f = 1, so f = 2 is empty.
    #[test]
    fn quantile_ties_leave_a_level_empty() {
        let dims = [
            LevelCounts {
                dimension: "recency",
                method: ScoreMethod::Quantile,
                bins: 5,
                counts: vec![4714, 4714, 4714, 4714, 4714],
            },
            LevelCounts {
                dimension: "frequency",
                method: ScoreMethod::Quantile,
                bins: 5,
                counts: vec![11908, 0, 4079, 3658, 3925],
            },
        ];
        let got = missing_levels(&dims);
        assert_eq!(
            got,
            [Diagnostic::MissingLevels {
                dimension: "frequency",
                method: ScoreMethod::Quantile,
                missing: vec![2],
                largest: (1, 11908),
                customers: 23570,
            }]
        );
        assert_eq!(
            got[0].to_string(),
            "frequency score: no customer has f = 2 (11908 of 23570 customers, 51%, tie at f = 1 and quantile ties merged the levels); use --method fixed with --frequency-thresholds, --method ntile, or fewer --bins"
        );
    }

    #[test]
    fn several_missing_levels_and_fixed_thresholds() {
        let d = LevelCounts {
            dimension: "monetary",
            method: ScoreMethod::Fixed,
            bins: 4,
            counts: vec![0, 7, 0, 0],
        };
        let got = missing_levels(&[d]);
        assert_eq!(
            got[0].to_string(),
            "monetary score: no customer has m = 1, m = 3 and m = 4 (7 of 7 customers have m = 2 with --method fixed); adjust the thresholds or use fewer --bins"
        );
        // No customers: nothing to say here (the empty result says it).
        let none = LevelCounts {
            dimension: "recency",
            method: ScoreMethod::Quantile,
            bins: 3,
            counts: vec![0, 0, 0],
        };
        assert!(missing_levels(&[none]).is_empty());
    }

    /// rfm11 on CDNOW: Champions are 6,564 of 23,570 (27.8 %); 25 % of 100 is the edge and not
    /// flagged.
    #[test]
    fn outsized_segments_above_a_quarter() {
        let segs = |v: &[(&str, u64)]| v.iter().map(|(s, n)| (s.to_string(), *n)).collect::<Vec<_>>();
        let got = outsized_segments(&segs(&[("Loyal", 3948), ("Champions", 6564), ("Rest", 13058)]));
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[1].to_string(),
            "segment 'Champions' holds 6564 of 23570 customers (27.8%, more than 25%): one treatment for that many separates little; check the scheme fits this base (clv segments evaluate) or try another --scheme"
        );
        assert!(matches!(&got[0], Diagnostic::OutsizedSegment { segment, .. } if segment == "Rest"));
        assert!(outsized_segments(&segs(&[("a", 25), ("b", 25), ("c", 25), ("d", 25)])).is_empty());
        assert!(outsized_segments(&[]).is_empty());
    }

    #[test]
    fn empty_results_name_the_likely_cause() {
        let counts = EmptyCounts {
            rows_read: 69659,
            after_as_of: 69659,
            ..Default::default()
        };
        assert_eq!(empty("RFM result", 5, counts, None), None);
        assert_eq!(
            empty("RFM result", 0, counts, Some("1990-01-01")).unwrap().to_string(),
            "the RFM result has no customers: all 69659 transactions are after 1990-01-01, which is before the first purchase; pass a later --as-of (or --calibration-end / --cutoff)"
        );
        let none = EmptyCounts::default();
        assert_eq!(
            empty("BTYD summary", 0, none, None).unwrap().to_string(),
            "the BTYD summary has no customers: the input has no rows"
        );
        let mixed = EmptyCounts {
            rows_read: 10,
            after_as_of: 4,
            null_customer_or_time: 6,
            invalid_amount: 0,
        };
        assert!(
            empty("x", 0, mixed, Some("2024-01-01"))
                .unwrap()
                .to_string()
                .contains("6 have no customer id or time")
        );
    }
}
