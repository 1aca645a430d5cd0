//! Scoring many customers at once ([`super::TransactionModel::p_alive_many`] and
//! [`super::TransactionModel::expected_purchases_many`]).
//!
//! A prediction depends on a customer's inputs only, and summaries built from dates repeat
//! them: on a day grid, a million customers have a few hundred thousand distinct
//! `(x, t_x, T)` rows, and half of them (x = 0) share a few hundred. So each row's inputs are
//! looked up in a hash of the rows seen so far and the model is evaluated once per distinct
//! row (skipped when the first rows turn out nearly all distinct); inputs of a million rows or
//! more are split into one piece per core. Both give exactly the values of one call per
//! customer: the same function of the same arguments, whichever piece or row evaluates it
//! (`tests` below and the models' batch tests check this bit for bit).

use super::ModelError;
use super::data::{check_rft, is_whole};
use super::memo::Memo;

/// Inputs of at least this many rows are split over the cores. A SQL batch (8,192 rows) stays
/// on its thread: DataFusion already runs one batch per core.
const PARALLEL_MIN_ROWS: usize = 1 << 16;

/// After this many rows, a piece with more than [`MOSTLY_DISTINCT`] of them distinct stops
/// looking for repeats (continuous times repeat nothing; the lookup would only cost).
const PROBE_ROWS: usize = 4096;
const MOSTLY_DISTINCT: f64 = 0.9;

/// Checks every `(x, t_x, T)` row (errors name the zero-based row of the whole input) and
/// that the columns have the same length.
pub(crate) fn check_rows(
    columns: &[(&'static str, &[f64])],
    x: &[f64],
    t_x: &[f64],
    T: &[f64],
) -> Result<(), ModelError> {
    let len = x.len();
    for (field, c) in columns.iter().copied().chain([("recency", t_x), ("T", T)]) {
        if c.len() != len {
            return Err(ModelError::LengthMismatch {
                field,
                expected: len,
                found: c.len(),
            });
        }
    }
    // A branch-free test of each block of rows; a block that fails it is checked row by row,
    // which finds the error and its row.
    const BLOCK: usize = 1024;
    for from in (0..len).step_by(BLOCK) {
        let to = len.min(from + BLOCK);
        let plausible = (from..to).fold(true, |ok, i| ok & plausible_row(x[i], t_x[i], T[i]));
        if !plausible {
            for i in from..to {
                check_rft(i, x[i], t_x[i], T[i])?;
            }
        }
    }
    Ok(())
}

/// A row that [`check_rft`] accepts, tested without branches: x a finite whole number ≥ 0,
/// `0 ≤ t_x ≤ T < ∞`, and t_x > 0 exactly when x > 0 (NaN fails every comparison). `false`
/// only says "check this row properly".
#[inline]
#[allow(clippy::manual_range_contains)] // `&` on purpose: no short-circuit branches
fn plausible_row(x: f64, t_x: f64, T: f64) -> bool {
    (x >= 0.0)
        & (x <= f64::MAX)
        & is_whole(x)
        & (t_x >= 0.0)
        & (t_x <= T)
        & (T <= f64::MAX)
        & ((x > 0.0) == (t_x > 0.0))
}

/// Whether [`score_rows`] looks for repeated rows: worth it when a row costs more than a hash
/// lookup (a hypergeometric series), not for a few logarithms (BG/NBD P(alive), or a kernel
/// that already memoises its expensive part).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeats {
    Merge,
    Ignore,
}

/// One value per row of `columns` (equal lengths, already checked), from `eval`, which writes
/// one value per row of the columns it is given into the slice it is given (as long as they).
/// The pieces write straight into their part of the result.
pub(crate) fn score_rows<const K: usize>(
    columns: [&[f64]; K],
    repeats: Repeats,
    eval: impl Fn([&[f64]; K], &mut [f64]) -> Result<(), ModelError> + Sync,
) -> Result<Vec<f64>, ModelError> {
    let len = columns.first().map_or(0, |c| c.len());
    let mut out = vec![0.0; len];
    let pieces = if len >= PARALLEL_MIN_ROWS { crate::cores() } else { 1 };
    let eval = |c: [&[f64]; K], out: &mut [f64]| match repeats {
        Repeats::Merge => score_piece(c, out, &eval),
        Repeats::Ignore => eval(c, out),
    };
    if pieces <= 1 {
        eval(columns, &mut out)?;
        return Ok(out);
    }
    let eval = &eval;
    let parts: Vec<Result<(), ModelError>> = std::thread::scope(|scope| {
        let mut rest = &mut out[..];
        let handles: Vec<_> = (0..pieces)
            .map(|p| {
                let (from, to) = (len * p / pieces, len * (p + 1) / pieces);
                let (part, tail) = std::mem::take(&mut rest).split_at_mut(to - from);
                rest = tail;
                scope.spawn(move || eval(columns.map(|c| &c[from..to]), part))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    // The first failing piece's error: the lowest failing row, as on one thread.
    parts.into_iter().collect::<Result<(), _>>()?;
    Ok(out)
}

/// [`score_rows`] on one thread: the model is evaluated on the distinct rows.
fn score_piece<const K: usize>(
    columns: [&[f64]; K],
    out: &mut [f64],
    eval: &impl Fn([&[f64]; K], &mut [f64]) -> Result<(), ModelError>,
) -> Result<(), ModelError> {
    let len = columns.first().map_or(0, |c| c.len());
    let mut index: Memo<K, u32> = Memo::default();
    let mut distinct: [Vec<f64>; K] = std::array::from_fn(|_| Vec::new());
    let mut row_of = Vec::with_capacity(len);
    for i in 0..len {
        if i == PROBE_ROWS && index.len() as f64 > MOSTLY_DISTINCT * PROBE_ROWS as f64 {
            return eval(columns, out);
        }
        let key: [u64; K] = std::array::from_fn(|k| columns[k][i].to_bits());
        let next = index.len() as u32;
        let at = index.get_or_insert(key, || {
            for (d, c) in distinct.iter_mut().zip(&columns) {
                d.push(c[i]);
            }
            next
        });
        row_of.push(at);
    }
    if index.len() == len {
        return eval(columns, out);
    }
    let mut values = vec![0.0; index.len()];
    eval(std::array::from_fn(|k| distinct[k].as_slice()), &mut values)?;
    for (o, at) in out.iter_mut().zip(&row_of) {
        *o = values[*at as usize];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic function of the row that counts its calls.
    fn eval_counting(
        calls: &std::sync::atomic::AtomicUsize,
    ) -> impl Fn([&[f64]; 2], &mut [f64]) -> Result<(), ModelError> + Sync + '_ {
        move |[a, b], out| {
            calls.fetch_add(a.len(), std::sync::atomic::Ordering::Relaxed);
            assert_eq!(out.len(), a.len());
            for ((o, a), b) in out.iter_mut().zip(a).zip(b) {
                *o = (a * 3.0 + b).sin();
            }
            Ok(())
        }
    }

    #[test]
    fn repeated_rows_are_evaluated_once_with_the_same_values() {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let a: Vec<f64> = (0..10_000).map(|i| f64::from(i % 7)).collect();
        let b: Vec<f64> = (0..10_000).map(|i| f64::from(i % 5)).collect();
        let got = score_rows([&a, &b], Repeats::Merge, eval_counting(&calls)).unwrap();
        let want: Vec<f64> = a.iter().zip(&b).map(|(a, b)| (a * 3.0 + b).sin()).collect();
        assert_eq!(got, want);
        assert_eq!(calls.into_inner(), 35);
    }

    #[test]
    fn distinct_rows_and_large_inputs_give_the_per_row_values() {
        // Mostly distinct: the lookup stops after the probe rows; large: split over the cores.
        for (len, modulus) in [(10_000, u32::MAX), (200_000, 1_000), (200_001, u32::MAX)] {
            let calls = std::sync::atomic::AtomicUsize::new(0);
            let a: Vec<f64> = (0..len).map(|i| f64::from(i % modulus) * 0.5).collect();
            let b: Vec<f64> = (0..len).map(|i| f64::from(i % 3)).collect();
            let got = score_rows([&a, &b], Repeats::Merge, eval_counting(&calls)).unwrap();
            let want: Vec<f64> = a.iter().zip(&b).map(|(a, b)| (a * 3.0 + b).sin()).collect();
            assert_eq!(got, want, "{len} rows");
            assert!(calls.into_inner() <= len as usize);
        }
        assert_eq!(
            score_rows([&[][..]], Repeats::Merge, |_, _| Ok(())).unwrap(),
            Vec::<f64>::new()
        );
        // Without merging, every row is evaluated, in pieces, with the same values.
        let a: Vec<f64> = (0..100_000).map(|i| f64::from(i % 10)).collect();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let got = score_rows([&a, &a], Repeats::Ignore, eval_counting(&calls)).unwrap();
        assert_eq!(got, a.iter().map(|a| (a * 4.0).sin()).collect::<Vec<_>>());
        assert_eq!(calls.into_inner(), a.len());
    }

    #[test]
    fn the_quick_row_test_passes_only_rows_the_full_check_accepts() {
        let values = [
            f64::NAN,
            f64::NEG_INFINITY,
            f64::INFINITY,
            -1.0,
            -0.0,
            0.0,
            0.25,
            1.0,
            2.5,
            7.0,
            4_503_599_627_370_495.0,
            4_503_599_627_370_496.0,
            f64::MAX,
        ];
        let mut passed = 0;
        for x in values {
            for t_x in values {
                for T in values {
                    if plausible_row(x, t_x, T) {
                        passed += 1;
                        assert!(check_rft(0, x, t_x, T).is_ok(), "{x} {t_x} {T}");
                    }
                }
            }
        }
        assert!(passed > 20, "{passed}");
        // A bad row among many is found, with its index, in any block.
        for bad in [0, 1023, 1024, 5000] {
            let x = vec![1.0; 6000];
            let mut t_x = vec![2.0; 6000];
            t_x[bad] = f64::NAN;
            let e = check_rows(&[], &x, &t_x, &[5.0; 6000]).unwrap_err();
            assert!(matches!(e, ModelError::NonFinite { row, .. } if row == bad), "{e:?}");
        }
    }

    #[test]
    fn rows_are_checked_with_their_index_in_the_whole_input() {
        let x = vec![1.0; 5];
        let mut t_x = vec![2.0; 5];
        t_x[3] = 9.0;
        let e = check_rows(&[], &x, &t_x, &[5.0; 5]).unwrap_err();
        assert!(matches!(e, ModelError::InconsistentRow { row: 3, .. }), "{e:?}");
        let e = check_rows(&[("t", &[1.0; 4])], &x, &[2.0; 5], &[5.0; 5]).unwrap_err();
        assert!(
            matches!(
                e,
                ModelError::LengthMismatch {
                    field: "t",
                    expected: 5,
                    found: 4
                }
            ),
            "{e:?}"
        );
    }
}
