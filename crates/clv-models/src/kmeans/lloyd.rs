//! Lloyd's iterations with Hamerly's bounds, split into fixed chunks of rows.
//!
//! Lloyd (1982), "Least squares quantization in PCM", *IEEE Trans. Information Theory* 28(2):
//! assign each row to its nearest centre, move each centre to the mean of its rows, repeat.
//!
//! Hamerly (2010), "Making k-means even faster", SIAM SDM, Algorithm 2: each row keeps an upper
//! bound `u` on the distance to its centre `a` and a lower bound `l` on the distance to every
//! other centre; with `s(a)` half the distance from centre `a` to its nearest other centre, a
//! row whose `u ≤ max(s(a), l)` keeps its centre without computing any distance. After the
//! centres move by `p(j)`, `u += p(a)` and `l −= max_{j≠a} p(j)` keep the bounds valid. The
//! assignments are those of plain Lloyd (up to ties between equally near centres).
//!
//! Determinism: the rows are cut into chunks of [`CHUNK`] rows, a cut that depends on the
//! number of rows only. Each chunk's partial sums (per-cluster coordinate sums and counts, or
//! the inertia) are accumulated in row order and the partials are added in chunk order, so
//! the result is the same bits whichever thread ran which chunk, and for any thread count.

use std::sync::{Mutex, PoisonError};

/// Rows per chunk of the parallel passes (fixed: the partial sums, hence the results, depend
/// on it, never on the thread count).
pub(crate) const CHUNK: usize = 4096;

/// Squared Euclidean distance, summed in coordinate order (every distance in this module,
/// and in scoring, is this function).
#[inline]
pub(crate) fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for j in 0..a.len() {
        let t = a[j] - b[j];
        s += t * t;
    }
    s
}

/// The nearest centre of `x` (the first one on ties) and its squared distance.
#[inline]
pub(crate) fn nearest(x: &[f64], centres: &[f64], k: usize) -> (usize, f64) {
    let d = x.len();
    let mut best = (0, f64::INFINITY);
    for j in 0..k {
        let s = sq_dist(x, &centres[j * d..(j + 1) * d]);
        if s < best.1 {
            best = (j, s);
        }
    }
    best
}

/// The centres of one iteration (row-major `k × d`).
pub(crate) struct Centres<'a> {
    rows: &'a [f64],
    k: usize,
}

impl<'a> Centres<'a> {
    pub(crate) fn new(rows: &'a [f64], k: usize) -> Self {
        Self { rows, k }
    }

    /// Centre `j`'s coordinates.
    #[inline]
    fn row(&self, j: usize, d: usize) -> &[f64] {
        &self.rows[j * d..(j + 1) * d]
    }

    /// The nearest centre of `x` (first on ties), its squared distance and the second smallest
    /// squared distance (infinite when `k = 1`). `D` is the dimension (0: not fixed), so that
    /// [`sq_dist`] unrolls; the values are those of [`nearest`].
    #[inline(always)]
    fn nearest_two<const D: usize>(&self, x: &[f64]) -> (usize, f64, f64) {
        let d = if D == 0 { x.len() } else { D };
        let x = &x[..d];
        let (mut j1, mut b1, mut b2) = (0, f64::INFINITY, f64::INFINITY);
        // Branch-free: b2 = min(b2, max(s, b1)) (as b1 ≤ b2), then b1 = min(b1, s).
        for (j, c) in self.rows.chunks_exact(d).take(self.k).enumerate() {
            let s = sq_dist(x, c);
            let closer = s < b1;
            b2 = b2.min(if closer { b1 } else { s });
            j1 = if closer { j } else { j1 };
            b1 = if closer { s } else { b1 };
        }
        (j1, b1, b2)
    }
}

/// Calls `$f::<D>(args)` with the dimension `$d` as a constant for 1..=6 (0: any other).
macro_rules! with_dimension {
    ($d:expr, $f:ident($($arg:expr),* $(,)?)) => {
        match $d {
            1 => $f::<1>($($arg),*),
            2 => $f::<2>($($arg),*),
            3 => $f::<3>($($arg),*),
            4 => $f::<4>($($arg),*),
            5 => $f::<5>($($arg),*),
            6 => $f::<6>($($arg),*),
            _ => $f::<0>($($arg),*),
        }
    };
}
pub(crate) use with_dimension;

/// `f` applied to every item, on up to `threads` threads (each takes the next item when it is
/// free); the results come back in item order.
pub(crate) fn map_parallel<I: Send, R: Send>(items: Vec<I>, threads: usize, f: impl Fn(I) -> R + Sync) -> Vec<R> {
    let n = items.len();
    let threads = threads.min(n).max(1);
    if threads == 1 {
        return items.into_iter().map(f).collect();
    }
    let queue = Mutex::new(items.into_iter().enumerate());
    let work = || {
        let mut done = Vec::new();
        loop {
            let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
            match next {
                Some((i, item)) => done.push((i, f(item))),
                None => return done,
            }
        }
    };
    let parts = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut parts = vec![work()];
        for h in handles {
            parts.push(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        parts
    });
    let mut slots: Vec<Option<R>> = (0..n).map(|_| None).collect();
    for (i, r) in parts.into_iter().flatten() {
        slots[i] = Some(r);
    }
    slots.into_iter().flatten().collect()
}

/// Options of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LloydParams {
    pub k: usize,
    pub max_iter: usize,
    /// Absolute tolerance on `Σ_j ‖c_j(new) − c_j(old)‖²`.
    pub tol: f64,
    pub threads: usize,
}

/// The outcome of one run.
#[derive(Debug, Clone)]
pub(crate) struct LloydRun {
    /// Final centres, `k × d` row-major.
    pub centres: Vec<f64>,
    /// Every row labelled with its nearest final centre.
    pub labelled: Labelled,
    pub iterations: usize,
    pub converged: bool,
    /// Empty clusters re-seeded during the run.
    pub relocations: usize,
}

/// Runs Lloyd's iterations from `centres` on the rows of `x` (`n × d`, `n ≥ k`).
pub(crate) fn lloyd(x: &[f64], d: usize, centres: Vec<f64>, p: &LloydParams) -> LloydRun {
    with_dimension!(d, run(x, d, centres, p))
}

/// Per-chunk sums of one assignment pass.
struct Partial {
    sums: Vec<f64>,
    counts: Vec<usize>,
    changes: usize,
}

/// Hamerly's per-iteration constants: `s(j)` and the pending centre movements.
struct Bounds<'a> {
    half_gap: Vec<f64>,
    moves: &'a [f64],
    /// The centre that moved most, its movement, and the largest movement of the others.
    top: usize,
    p1: f64,
    p2: f64,
}

impl<'a> Bounds<'a> {
    fn new(centres: &[f64], k: usize, d: usize, moves: &'a [f64]) -> Self {
        let half_gap = (0..k)
            .map(|j| {
                let cj = &centres[j * d..(j + 1) * d];
                let nearest = (0..k)
                    .filter(|&o| o != j)
                    .map(|o| sq_dist(cj, &centres[o * d..(o + 1) * d]))
                    .fold(f64::INFINITY, f64::min);
                0.5 * nearest.sqrt()
            })
            .collect();
        let mut top = 0;
        for j in 1..k {
            if moves[j] > moves[top] {
                top = j;
            }
        }
        let p2 = (0..k).filter(|&j| j != top).map(|j| moves[j]).fold(0.0, f64::max);
        Self {
            half_gap,
            moves,
            top,
            p1: moves[top],
            p2,
        }
    }
}

fn run<const D: usize>(x: &[f64], d: usize, mut centres: Vec<f64>, p: &LloydParams) -> LloydRun {
    let d = if D == 0 { d } else { D };
    let k = p.k;
    let n = x.len() / d;
    let mut labels = vec![0u32; n];
    let mut upper = vec![0.0f64; n];
    let mut lower = vec![0.0f64; n];
    let mut moves = vec![0.0f64; k];
    let mut iterations = 0;
    let mut converged = false;
    let mut relocations = 0;
    while iterations < p.max_iter {
        let first = iterations == 0;
        iterations += 1;
        let bounds = Bounds::new(&centres, k, d, &moves);
        let table = Centres::new(&centres, k);
        let items: Vec<_> = x
            .chunks(CHUNK * d)
            .zip(labels.chunks_mut(CHUNK))
            .zip(upper.chunks_mut(CHUNK).zip(lower.chunks_mut(CHUNK)))
            .collect();
        let partials = map_parallel(items, p.threads, |((xc, lc), (uc, wc))| {
            assign_chunk::<D>(xc, d, lc, uc, wc, &table, &bounds, first)
        });
        let mut sums = vec![0.0; k * d];
        let mut counts = vec![0usize; k];
        let mut changes = 0;
        for part in &partials {
            for (s, v) in sums.iter_mut().zip(&part.sums) {
                *s += v;
            }
            for (c, v) in counts.iter_mut().zip(&part.counts) {
                *c += v;
            }
            changes += part.changes;
        }
        if counts.contains(&0) {
            let r = relocate_empty(
                x,
                d,
                &centres,
                &mut labels,
                &mut upper,
                &mut lower,
                &mut sums,
                &mut counts,
            );
            relocations += r;
            changes += r;
        }
        let mut shift = 0.0;
        for j in 0..k {
            let c = counts[j] as f64;
            let mut moved = 0.0;
            for t in 0..d {
                let new = sums[j * d + t] / c;
                let diff = new - centres[j * d + t];
                moved += diff * diff;
                centres[j * d + t] = new;
            }
            moves[j] = moved.sqrt();
            shift += moved;
        }
        if (changes == 0 && !first) || shift <= p.tol {
            converged = true;
            break;
        }
    }
    let labelled = final_pass::<D>(x, d, &centres, k, labels, &lower, &moves, p.threads);
    LloydRun {
        centres,
        labelled,
        iterations,
        converged,
        relocations,
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn assign_chunk<const D: usize>(
    x: &[f64],
    d: usize,
    labels: &mut [u32],
    upper: &mut [f64],
    lower: &mut [f64],
    centres: &Centres,
    b: &Bounds,
    first: bool,
) -> Partial {
    let d = if D == 0 { d } else { D };
    let k = centres.k;
    let mut sums = vec![0.0; k * d];
    let mut counts = vec![0usize; k];
    let mut changes = 0;
    for i in 0..labels.len() {
        let xi = &x[i * d..(i + 1) * d];
        let old = labels[i] as usize;
        let new = if first {
            let (j, b1, b2) = centres.nearest_two::<D>(xi);
            upper[i] = b1.sqrt();
            lower[i] = b2.sqrt();
            changes += 1;
            j
        } else {
            let u = upper[i] + b.moves[old];
            let l = lower[i] - if old == b.top { b.p2 } else { b.p1 };
            let m = b.half_gap[old].max(l);
            let mut new = old;
            if u > m {
                // Tightened: the exact distance (compared squared, off the square root's
                // latency; half_gap ≥ 0, so m ≥ 0).
                let s = sq_dist(xi, centres.row(old, d));
                if s > m * m {
                    let (j, b1, b2) = centres.nearest_two::<D>(xi);
                    new = j;
                    upper[i] = b1.sqrt();
                    lower[i] = b2.sqrt();
                } else {
                    upper[i] = s.sqrt();
                    lower[i] = l;
                }
            } else {
                upper[i] = u;
                lower[i] = l;
            }
            changes += usize::from(new != old);
            new
        };
        labels[i] = new as u32;
        counts[new] += 1;
        let s = &mut sums[new * d..(new + 1) * d];
        for t in 0..d {
            s[t] += xi[t];
        }
    }
    Partial { sums, counts, changes }
}

/// Empty clusters (scikit-learn's policy): each empty cluster, in index order, takes the row
/// farthest from its current centre (ties: the lowest row), among rows whose cluster keeps at
/// least one other row; that row leaves its cluster's sums and becomes the empty cluster's
/// only row. Returns the number of clusters re-seeded.
#[allow(clippy::too_many_arguments)]
fn relocate_empty(
    x: &[f64],
    d: usize,
    centres: &[f64],
    labels: &mut [u32],
    upper: &mut [f64],
    lower: &mut [f64],
    sums: &mut [f64],
    counts: &mut [usize],
) -> usize {
    let k = counts.len();
    let empty: Vec<usize> = (0..k).filter(|&j| counts[j] == 0).collect();
    let row = |i: usize| &x[i * d..(i + 1) * d];
    let dist: Vec<f64> = (0..labels.len())
        .map(|i| {
            let a = labels[i] as usize;
            sq_dist(row(i), &centres[a * d..(a + 1) * d])
        })
        .collect();
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|&a, &b| dist[b].total_cmp(&dist[a]).then(a.cmp(&b)));
    let mut order = order.into_iter();
    let mut moved = 0;
    for &j in &empty {
        let Some(i) = order.by_ref().find(|&i| counts[labels[i] as usize] > 1) else {
            break;
        };
        let a = labels[i] as usize;
        for t in 0..d {
            sums[a * d + t] -= x[i * d + t];
            sums[j * d + t] = x[i * d + t];
        }
        counts[a] -= 1;
        counts[j] = 1;
        labels[i] = j as u32;
        // The row sits on its new centre; a lower bound of 0 forces a full search next time.
        upper[i] = 0.0;
        lower[i] = 0.0;
        moved += 1;
    }
    moved
}

/// Every row labelled with its nearest centre (first on ties).
#[derive(Debug, Clone)]
pub(crate) struct Labelled {
    pub labels: Vec<u32>,
    pub sizes: Vec<usize>,
    /// Σ squared distances (chunk partials added in chunk order).
    pub inertia: f64,
    /// Whether some row is exactly as near to two centres (then its label depends on the
    /// centres' numbering).
    pub ties: bool,
}

/// [`label_pass`] at the end of a run, using the bounds: a row whose exact distance `u` to its
/// centre is below `max(s(a), l)` (with a relative margin of 1e-9 for the rounding of the
/// bounds) has that centre as its unique nearest one, and needs no other distance; the others
/// are searched in full. The labels, sizes, inertia (the same per-row squared distances added
/// in the same order) and tie flag are those of [`label_pass`].
#[allow(clippy::too_many_arguments)]
fn final_pass<const D: usize>(
    x: &[f64],
    d: usize,
    centres: &[f64],
    k: usize,
    mut labels: Vec<u32>,
    lower: &[f64],
    moves: &[f64],
    threads: usize,
) -> Labelled {
    let d = if D == 0 { d } else { D };
    let table = Centres::new(centres, k);
    let b = Bounds::new(centres, k, d, moves);
    let items: Vec<_> = x
        .chunks(CHUNK * d)
        .zip(labels.chunks_mut(CHUNK))
        .zip(lower.chunks(CHUNK))
        .collect();
    let partials = map_parallel(items, threads, |((xc, lc), wc)| {
        let mut counts = vec![0usize; k];
        let mut inertia = 0.0;
        let mut ties = false;
        for ((xi, l), &lo) in xc.chunks_exact(d).zip(lc.iter_mut()).zip(wc) {
            let a = *l as usize;
            let bound = b.half_gap[a].max(lo - if a == b.top { b.p2 } else { b.p1 });
            let s = sq_dist(xi, table.row(a, d));
            let (j, s) = if s.sqrt() * (1.0 + 1e-9) < bound {
                (a, s)
            } else {
                let (j, b1, b2) = table.nearest_two::<D>(xi);
                ties |= b1 == b2;
                (j, b1)
            };
            *l = j as u32;
            counts[j] += 1;
            inertia += s;
        }
        (counts, inertia, ties)
    });
    labelled_from(labels, k, partials)
}

/// Adds the per-chunk (sizes, inertia, ties) in chunk order.
fn labelled_from(labels: Vec<u32>, k: usize, partials: Vec<(Vec<usize>, f64, bool)>) -> Labelled {
    let mut out = Labelled {
        labels,
        sizes: vec![0usize; k],
        inertia: 0.0,
        ties: false,
    };
    for (counts, inertia, ties) in partials {
        for (s, c) in out.sizes.iter_mut().zip(counts) {
            *s += c;
        }
        out.inertia += inertia;
        out.ties |= ties;
    }
    out
}

/// Labels every row of `x` with its nearest centre of `centres` (`k × d`).
pub(crate) fn label_pass(x: &[f64], d: usize, centres: &[f64], k: usize, threads: usize) -> Labelled {
    with_dimension!(d, label_pass_d(x, d, centres, k, threads))
}

fn label_pass_d<const D: usize>(x: &[f64], d: usize, centres: &[f64], k: usize, threads: usize) -> Labelled {
    let d = if D == 0 { d } else { D };
    let n = x.len() / d;
    let table = Centres::new(centres, k);
    let mut labels = vec![0u32; n];
    let items: Vec<_> = x.chunks(CHUNK * d).zip(labels.chunks_mut(CHUNK)).collect();
    let partials = map_parallel(items, threads, |(xc, lc)| {
        let mut counts = vec![0usize; k];
        let mut inertia = 0.0;
        let mut ties = false;
        for (xi, l) in xc.chunks_exact(d).zip(lc.iter_mut()) {
            let (j, b1, b2) = table.nearest_two::<D>(xi);
            *l = j as u32;
            counts[j] += 1;
            inertia += b1;
            ties |= b1 == b2;
        }
        (counts, inertia, ties)
    });
    labelled_from(labels, k, partials)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain Lloyd, no bounds, sequential: the reference for the bounded version.
    fn plain_lloyd(x: &[f64], d: usize, mut centres: Vec<f64>, k: usize, iterations: usize) -> Vec<f64> {
        for _ in 0..iterations {
            let mut sums = vec![0.0; k * d];
            let mut counts = vec![0usize; k];
            for xi in x.chunks_exact(d) {
                let (j, _) = nearest(xi, &centres, k);
                counts[j] += 1;
                for t in 0..d {
                    sums[j * d + t] += xi[t];
                }
            }
            for j in 0..k {
                if counts[j] > 0 {
                    for t in 0..d {
                        centres[j * d + t] = sums[j * d + t] / counts[j] as f64;
                    }
                }
            }
        }
        centres
    }

    fn blobs(n: usize, d: usize) -> Vec<f64> {
        let mut r = super::super::rng::Rng::stream(1, 2);
        (0..n * d)
            .map(|i| ((i / d) % 5) as f64 * 3.0 + r.unit() * 4.0 - (i % d) as f64)
            .collect()
    }

    #[test]
    fn bounded_iterations_follow_plain_lloyd() {
        for d in [1, 2, 3, 7] {
            let n = 3 * CHUNK + 17;
            let x = blobs(n, d);
            let k = 6;
            let init: Vec<f64> = x[..k * d].to_vec();
            for iterations in [1, 2, 5, 40] {
                let p = LloydParams {
                    k,
                    max_iter: iterations,
                    tol: 0.0,
                    threads: 2,
                };
                let run = lloyd(&x, d, init.clone(), &p);
                let reference = plain_lloyd(&x, d, init.clone(), k, run.iterations);
                // The end-of-run pass (with bounds) is a plain labelling pass, bit for bit.
                let plain = label_pass(&x, d, &run.centres, k, 1);
                assert_eq!(plain.labels, run.labelled.labels);
                assert_eq!(plain.sizes, run.labelled.sizes);
                assert_eq!(plain.inertia.to_bits(), run.labelled.inertia.to_bits());
                // The same assignments, sums added in another order: equal to rounding.
                for (a, b) in run.centres.iter().zip(&reference) {
                    assert!((a - b).abs() < 1e-9, "d={d} iterations={iterations}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn same_bits_for_any_thread_count() {
        let x = blobs(5 * CHUNK + 3, 3);
        let init = x[..8 * 3].to_vec();
        let runs: Vec<LloydRun> = [1, 2, 3, 8]
            .iter()
            .map(|&threads| {
                lloyd(
                    &x,
                    3,
                    init.clone(),
                    &LloydParams {
                        k: 8,
                        max_iter: 300,
                        tol: 1e-4,
                        threads,
                    },
                )
            })
            .collect();
        for r in &runs[1..] {
            assert_eq!(r.centres, runs[0].centres);
            assert_eq!(r.labelled.inertia.to_bits(), runs[0].labelled.inertia.to_bits());
            assert_eq!(r.labelled.labels, runs[0].labelled.labels);
            assert_eq!(r.iterations, runs[0].iterations);
        }
        assert!(runs[0].converged);
    }

    #[test]
    fn empty_cluster_takes_the_farthest_row() {
        // Centre 2 starts far from every row: it is empty after the first assignment and is
        // re-seeded at the row farthest from its centre (x = 10, in cluster 1).
        let x = [0.0, 1.0, 9.0, 10.0];
        let run = lloyd(
            &x,
            1,
            vec![0.5, 9.0, 100.0],
            &LloydParams {
                k: 3,
                max_iter: 50,
                tol: 0.0,
                threads: 1,
            },
        );
        assert!(run.relocations >= 1);
        let mut c = run.centres.clone();
        c.sort_by(f64::total_cmp);
        assert_eq!(c, vec![0.5, 9.0, 10.0]);
        assert_eq!(run.labelled.inertia, 0.5);
    }

    #[test]
    fn nearest_two_agrees_with_nearest() {
        for d in [1, 3, 9] {
            let x = blobs(500, d);
            let k = 7;
            let centres = x[d * 100..d * (100 + k)].to_vec();
            let table = Centres::new(&centres, k);
            for xi in x.chunks_exact(d) {
                let (j, b1, b2) = if d == 3 {
                    table.nearest_two::<3>(xi)
                } else {
                    table.nearest_two::<0>(xi)
                };
                assert_eq!((j, b1), nearest(xi, &centres, k));
                let mut all: Vec<f64> = centres.chunks_exact(d).map(|c| sq_dist(xi, c)).collect();
                all.sort_by(f64::total_cmp);
                assert_eq!((b1, b2), (all[0], all[1]));
            }
        }
    }

    #[test]
    fn map_parallel_keeps_item_order() {
        let out = map_parallel((0..100).collect(), 3, |i: usize| i * 2);
        assert_eq!(out, (0..100).map(|i| i * 2).collect::<Vec<_>>());
    }
}
