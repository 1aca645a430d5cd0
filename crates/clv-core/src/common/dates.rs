//! Dates as clv reads and writes them: `YYYY-MM-DD` text and days since 1970-01-01 (Arrow's
//! Date32).

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Date32Type, Date64Type};
use datafusion::common::{Result, ScalarValue, plan_err};

/// Parses `YYYY-MM-DD` into days since 1970-01-01.
pub fn parse_date(text: &str, what: &str) -> Result<i32> {
    match ScalarValue::Utf8(Some(text.trim().to_string())).cast_to(&DataType::Date32) {
        Ok(ScalarValue::Date32(Some(d))) => Ok(d),
        _ => plan_err!("{what}: '{text}' is not a date; expected YYYY-MM-DD"),
    }
}

/// Formats days since 1970-01-01 as `YYYY-MM-DD`.
pub fn format_date(days: i32) -> String {
    ScalarValue::Date32(Some(days)).to_string()
}

/// Day numbers (days since 1970-01-01) of a time column, exactly as `CAST(t AS DATE)` (arrow's
/// cast kernel) gives them, computed in one vectorised pass.
///
/// * `Date32`: the value; `Date64`: milliseconds divided by a day's, truncated (as the cast);
/// * `Timestamp` without a time zone: the UTC day (floor division by the unit's day);
/// * `Timestamp` with a time zone: the local calendar day in that zone, `floor((utc + offset) /
///   day)` with the zone's offset at that instant. Offsets come from a table of UTC days, each
///   checked at every half hour and its end: a day whose offset never changes takes it from
///   the table; a day with a transition (two a year in a zone with daylight saving time) asks
///   the zone for each value. (The zone database has no two transitions within half an hour
///   that cancel out, so a day seen as uniform is uniform.)
///
/// Values whose day lies beyond ±90 million days, a batch spanning more than 2^16 UTC days in a
/// zone, and zone names arrow cannot parse go through arrow's cast itself, errors included.
#[derive(Debug, Clone)]
pub struct DayNumbers {
    clock: Clock,
}

#[derive(Debug, Clone)]
enum Clock {
    Date32,
    Date64,
    /// A timestamp without a zone: units per day.
    Utc(i64),
    /// A timestamp in a zone.
    Zoned(Box<Zone>),
}

/// A zone, the units of its timestamps and the offsets of the UTC days seen so far.
#[derive(Debug, Clone)]
struct Zone {
    tz: datafusion::arrow::array::timezone::Tz,
    per_second: i64,
    /// The first UTC day of `offsets`.
    first: i64,
    /// The offset (seconds) of each UTC day from `first` on: [`UNKNOWN`] when not looked up,
    /// [`CHANGES`] for a day with a transition.
    offsets: Vec<i32>,
}

const UNKNOWN: i32 = i32::MIN;
const CHANGES: i32 = i32::MIN + 1;
/// The largest |day| the vectorised paths handle (chrono's dates reach ±95 million days).
const SAFE_DAYS: i64 = 90_000_000;
/// The most UTC days a zone's offset table spans.
const MAX_ZONE_DAYS: i64 = 1 << 16;
const SECONDS_PER_DAY: i64 = 86_400;

impl DayNumbers {
    /// For a time column of type `t` (`Date32`, `Date64` or `Timestamp`).
    pub fn new(t: &DataType) -> Result<Self> {
        use datafusion::arrow::datatypes::TimeUnit;
        let per_second = |unit: &TimeUnit| match unit {
            TimeUnit::Second => 1,
            TimeUnit::Millisecond => 1_000,
            TimeUnit::Microsecond => 1_000_000,
            TimeUnit::Nanosecond => 1_000_000_000,
        };
        let clock = match t {
            DataType::Date32 => Clock::Date32,
            DataType::Date64 => Clock::Date64,
            DataType::Timestamp(unit, None) => Clock::Utc(per_second(unit) * SECONDS_PER_DAY),
            DataType::Timestamp(unit, Some(zone)) => Clock::Zoned(Box::new(Zone {
                tz: zone.parse()?,
                per_second: per_second(unit),
                first: 0,
                offsets: vec![],
            })),
            t => return plan_err!("day numbers of a {t} column; expected a date or timestamp"),
        };
        Ok(Self { clock })
    }

    /// The day of every value of `times` (of the type given to [`DayNumbers::new`]) into `out`;
    /// null values get an unspecified day (the caller skips them).
    pub fn compute(&mut self, times: &dyn Array, out: &mut Vec<i32>) -> Result<()> {
        out.clear();
        let values: &[i64] = match times.data_type() {
            DataType::Date32 => {
                out.extend_from_slice(times.as_primitive::<Date32Type>().values());
                return Ok(());
            }
            DataType::Date64 => times.as_primitive::<Date64Type>().values(),
            DataType::Timestamp(_, _) => timestamp_values(times)?,
            t => return plan_err!("day numbers of a {t} column; expected a date or timestamp"),
        };
        let (min, max) = values
            .iter()
            .fold((i64::MAX, i64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        let fast = match &mut self.clock {
            Clock::Date32 => return plan_err!("day numbers: a Date32 column changed its type"),
            Clock::Date64 => {
                let per_day = SECONDS_PER_DAY * 1_000;
                let safe = values.is_empty() || (min / per_day >= -SAFE_DAYS && max / per_day <= SAFE_DAYS);
                if safe {
                    out.extend(values.iter().map(|v| (v / per_day) as i32));
                }
                safe
            }
            Clock::Utc(per_day) => {
                let per_day = *per_day;
                let safe = values.is_empty()
                    || (min.div_euclid(per_day) >= -SAFE_DAYS && max.div_euclid(per_day) <= SAFE_DAYS);
                if safe {
                    out.extend(values.iter().map(|v| v.div_euclid(per_day) as i32));
                }
                safe
            }
            Clock::Zoned(zone) => values.is_empty() || zone.local_days(values, min, max, out)?,
        };
        if !fast {
            out.clear();
            // As the plan's cast runs it: an error, not a null, for a value out of range.
            let options = datafusion::arrow::compute::CastOptions {
                safe: false,
                ..Default::default()
            };
            let days = datafusion::arrow::compute::cast_with_options(times, &DataType::Date32, &options)?;
            out.extend_from_slice(days.as_primitive::<Date32Type>().values());
        }
        Ok(())
    }
}

/// The physical values of a timestamp column, whatever its unit.
fn timestamp_values(times: &dyn Array) -> Result<&[i64]> {
    use datafusion::arrow::datatypes::{
        TimeUnit, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
    };
    Ok(match times.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => times.as_primitive::<TimestampSecondType>().values(),
        DataType::Timestamp(TimeUnit::Millisecond, _) => times.as_primitive::<TimestampMillisecondType>().values(),
        DataType::Timestamp(TimeUnit::Microsecond, _) => times.as_primitive::<TimestampMicrosecondType>().values(),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => times.as_primitive::<TimestampNanosecondType>().values(),
        t => return plan_err!("timestamp values of a {t} column"),
    })
}

impl Zone {
    /// The zone's offset (seconds) at the UTC second `second`.
    fn offset_at(&self, second: i64) -> Option<i32> {
        use datafusion::arrow::array::temporal_conversions::as_datetime_with_timezone;
        use datafusion::arrow::datatypes::TimestampSecondType;
        let local = as_datetime_with_timezone::<TimestampSecondType>(second, self.tz)?;
        let offset = local.naive_local().and_utc().timestamp() - second;
        i32::try_from(offset).ok()
    }

    /// The offset of the UTC day `day` when it has one all day, else [`CHANGES`].
    fn day_offset(&self, day: i64) -> i32 {
        let start = day * SECONDS_PER_DAY;
        let Some(first) = self.offset_at(start) else {
            return CHANGES;
        };
        let uniform = (1..=48)
            .map(|half_hour| (start + half_hour * 1_800).min(start + SECONDS_PER_DAY - 1))
            .all(|s| self.offset_at(s) == Some(first));
        if uniform && first != UNKNOWN && first != CHANGES {
            first
        } else {
            CHANGES
        }
    }

    /// The local days of `values` (`min` ≤ every value ≤ `max`) into `out`; `false` (and `out`
    /// to be discarded) when the range is beyond the vectorised path.
    fn local_days(&mut self, values: &[i64], min: i64, max: i64, out: &mut Vec<i32>) -> Result<bool> {
        let per_day = self.per_second * SECONDS_PER_DAY;
        let (lo, hi) = (min.div_euclid(per_day), max.div_euclid(per_day));
        if lo < -SAFE_DAYS || hi > SAFE_DAYS || hi - lo >= MAX_ZONE_DAYS {
            return Ok(false);
        }
        // Widen the offset table to cover [lo, hi] (bounded: at most MAX_ZONE_DAYS days).
        if self.offsets.is_empty() {
            self.first = lo;
            self.offsets = vec![UNKNOWN; (hi - lo + 1) as usize];
        } else {
            let (first, last) = (self.first.min(lo), (self.first + self.offsets.len() as i64 - 1).max(hi));
            if last - first >= MAX_ZONE_DAYS {
                self.first = lo;
                self.offsets = vec![UNKNOWN; (hi - lo + 1) as usize];
            } else if first < self.first || last >= self.first + self.offsets.len() as i64 {
                let mut grown = vec![UNKNOWN; (last - first + 1) as usize];
                let at = (self.first - first) as usize;
                grown[at..at + self.offsets.len()].copy_from_slice(&self.offsets);
                self.first = first;
                self.offsets = grown;
            }
        }
        let per_second = self.per_second;
        out.reserve(values.len());
        for v in values {
            let second = v.div_euclid(per_second);
            let at = (second.div_euclid(SECONDS_PER_DAY) - self.first) as usize;
            let mut offset = self.offsets[at];
            if offset == UNKNOWN {
                offset = self.day_offset(second.div_euclid(SECONDS_PER_DAY));
                self.offsets[at] = offset;
            }
            if offset == CHANGES {
                offset = match self.offset_at(second) {
                    Some(o) => o,
                    None => return Ok(false),
                };
            }
            out.push((second + i64::from(offset)).div_euclid(SECONDS_PER_DAY) as i32);
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{
        ArrayRef, Date64Array, TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
        TimestampSecondArray,
    };

    use super::*;

    /// Arrow's cast, the reference the days must equal.
    fn cast_days(a: &ArrayRef) -> Vec<i32> {
        let d = datafusion::arrow::compute::cast(a, &DataType::Date32).unwrap();
        d.as_primitive::<Date32Type>().values().to_vec()
    }

    fn check(a: ArrayRef) {
        let mut days = DayNumbers::new(a.data_type()).unwrap();
        let mut out = vec![];
        // Twice: the second pass reads the offsets the first one tabled.
        for _ in 0..2 {
            days.compute(a.as_ref(), &mut out).unwrap();
            let want = cast_days(&a);
            for (i, (got, want)) in out.iter().zip(&want).enumerate() {
                assert_eq!(got, want, "{} value {i}", a.data_type());
            }
            assert_eq!(out.len(), want.len());
        }
    }

    /// Seconds: every 7 minutes through days with transitions (and around local midnight),
    /// plus a pseudo-random spread over 1900–2100, negatives included.
    fn seconds() -> Vec<i64> {
        let mut s = vec![];
        // 2021-03-01 .. 2021-04-05 and 2021-10-20 .. 2021-11-10 (DST in both hemispheres).
        for (from, to) in [(1_614_556_800, 1_617_580_800), (1_634_688_000, 1_636_502_400)] {
            s.extend((from..to).step_by(7 * 60 + 1));
        }
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s.push(-2_208_988_800 + (x % 6_311_433_600) as i64);
        }
        s
    }

    #[test]
    fn days_equal_arrows_cast_in_every_unit_and_zone() {
        let s = seconds();
        for zone in [
            None,
            Some("UTC"),
            Some("+05:30"),
            Some("-03:00"),
            Some("Europe/Paris"),
            Some("America/New_York"),
            Some("Australia/Lord_Howe"),
            Some("America/Sao_Paulo"),
            Some("Pacific/Apia"),
            Some("Asia/Kolkata"),
        ] {
            let with = |a: ArrayRef| -> ArrayRef {
                match zone {
                    None => a,
                    Some(z) => datafusion::arrow::compute::cast(
                        &a,
                        &match a.data_type() {
                            DataType::Timestamp(u, _) => DataType::Timestamp(*u, Some(z.into())),
                            t => t.clone(),
                        },
                    )
                    .unwrap(),
                }
            };
            check(with(Arc::new(TimestampSecondArray::from(s.clone()))));
            check(with(Arc::new(TimestampMillisecondArray::from(
                s.iter().map(|v| v * 1_000 + 999).collect::<Vec<_>>(),
            ))));
            check(with(Arc::new(TimestampMicrosecondArray::from(
                s.iter().map(|v| v * 1_000_000 - 1).collect::<Vec<_>>(),
            ))));
            check(with(Arc::new(TimestampNanosecondArray::from(
                s.iter().map(|v| v * 1_000_000_000 + 5).collect::<Vec<_>>(),
            ))));
        }
        // Date64 truncates as the cast does; beyond the vectorised range the cast itself runs.
        check(Arc::new(Date64Array::from(
            s.iter().map(|v| v * 1_000 + 123).collect::<Vec<_>>(),
        )));
        check(Arc::new(TimestampSecondArray::from(vec![
            0,
            8_000_000_000_000,
            -7_900_000_000_000,
        ])));
        let too_far: ArrayRef = Arc::new(TimestampSecondArray::from(vec![0, i64::MAX]));
        assert!(
            DayNumbers::new(too_far.data_type())
                .unwrap()
                .compute(too_far.as_ref(), &mut vec![])
                .is_err()
        );
        // A batch over more years than the offset table spans.
        check(
            datafusion::arrow::compute::cast(
                &(Arc::new(TimestampSecondArray::from(vec![0, 400 * 365 * 86_400, -86_399])) as ArrayRef),
                &DataType::Timestamp(
                    datafusion::arrow::datatypes::TimeUnit::Second,
                    Some("Europe/Paris".into()),
                ),
            )
            .unwrap(),
        );
    }

    /// A zone where the local day differs from the UTC day, and the day of a DST change.
    #[test]
    fn local_days_in_a_zone() {
        let t: ArrayRef = Arc::new(
            TimestampMicrosecondArray::from(vec![
                // 2021-03-28 00:30 UTC = 01:30 CET, 2021-03-28 01:30 UTC = 03:30 CEST
                1_616_891_400_000_000,
                1_616_895_000_000_000,
                // 2021-10-30 22:30 UTC = 2021-10-31 00:30 CEST; 23:30 UTC = 00:30 CET
                1_635_633_000_000_000,
                1_635_636_600_000_000,
            ])
            .with_timezone("Europe/Paris"),
        );
        let mut out = vec![];
        DayNumbers::new(t.data_type())
            .unwrap()
            .compute(t.as_ref(), &mut out)
            .unwrap();
        let d = |y, m, d| parse_date(&format!("{y}-{m:02}-{d:02}"), "test").unwrap();
        assert_eq!(
            out,
            vec![d(2021, 3, 28), d(2021, 3, 28), d(2021, 10, 31), d(2021, 10, 31)]
        );
    }
}
