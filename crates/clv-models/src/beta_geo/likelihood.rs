//! The BG/NBD and MBG/NBD likelihood (eq. 6 of Fader, Hardie & Lee 2005, and its MBG/NBD
//! variant) with its analytic gradient, and the checks and starting point of their fits.

use super::Variant;
use crate::data::{Compressed, key_value, ranks};
use crate::error::ModelError;
use crate::optimize::Objective;
use crate::special::{digamma, ln_beta, ln_gamma};

/// Mean negative log-likelihood of BG/NBD or MBG/NBD with an analytic gradient.
///
/// The x-dependent terms (log-gamma, log-beta, digamma) are computed once per distinct x per
/// evaluation. Summaries built from dates repeat few distinct times (a daily grid), so when
/// they do, `ln(α + t)` and `1/(α + t)` are computed once per distinct time and looked up; the
/// per-row work is then one exponential and one logarithm. Rows are summed in
/// [`EVAL_CHUNKS`] fixed chunks (spread over the cores for large inputs) and the chunk sums
/// added in chunk order, so the result does not depend on the number of threads.
pub(crate) struct BetaGeoObjective {
    variant: Variant,
    data: Compressed,
    /// Per row: its x group.
    group: Vec<u32>,
    /// The distinct x values, in group order.
    xs: Vec<f64>,
    /// Distinct times and, per row, the index of its `t_x` and `T` among them (when they
    /// repeat enough to be worth it).
    times: Option<TimeTable>,
}

/// Distinct times of a summary and each row's `t_x` and `T` among them.
struct TimeTable {
    values: Vec<f64>,
    t_x: Vec<u32>,
    t: Vec<u32>,
}

impl TimeTable {
    /// The table of `data`'s times, when there are at most a quarter as many distinct times as
    /// rows.
    fn new(data: &Compressed) -> Option<Self> {
        let n = data.len();
        let all: Vec<f64> = data.k1.iter().chain(&data.k2).copied().collect();
        let (keys, mut index) = ranks(&all);
        if keys.len() * 4 > n {
            return None;
        }
        let t = index.split_off(n);
        Some(Self {
            values: keys.into_iter().map(key_value).collect(),
            t_x: index,
            t,
        })
    }
}

/// Row chunks of an evaluation: a constant, so the sums do not depend on the core count.
const EVAL_CHUNKS: usize = 8;
/// Rows below which an evaluation runs on the calling thread only.
const PARALLEL_ROWS: usize = 20_000;

/// The per-x constants of an evaluation: `rx = r + x`; `k = ln Γ(r+x) − ln Γ(r) + r ln α` and
/// `∂k/∂r`; whether the likelihood has its second term; the log beta ratios `c1`, `c2` of the
/// two terms and their derivatives in `a` and `b`.
#[derive(Clone, Copy, Default)]
pub(crate) struct XTerms {
    pub rx: f64,
    pub k: f64,
    pub dk_dr: f64,
    pub two_terms: bool,
    pub c1: f64,
    pub c1a: f64,
    pub c1b: f64,
    pub c2: f64,
    pub c2a: f64,
    pub c2b: f64,
}

impl BetaGeoObjective {
    pub(crate) fn new(variant: Variant, data: Compressed) -> Self {
        let groups = data.groups();
        let mut group = vec![0u32; data.len()];
        for (g, &(_, s, e)) in groups.iter().enumerate() {
            group[s..e].fill(g as u32);
        }
        let times = TimeTable::new(&data);
        BetaGeoObjective {
            variant,
            xs: groups.iter().map(|g| g.0).collect(),
            group,
            times,
            data,
        }
    }

    /// Total (weighted) log-likelihood at `theta`.
    pub(crate) fn log_likelihood(&mut self, theta: [f64; 4]) -> f64 {
        let mut g = [0.0; 4];
        -self.eval(&theta.map(f64::ln), &mut g) * self.data.total_weight
    }

    fn x_terms(&self, [r, alpha, a, b]: [f64; 4]) -> Vec<XTerms> {
        let ln_alpha = alpha.ln();
        let lg_r = ln_gamma(r);
        let dg_r = digamma(r);
        let lnb_ab = ln_beta(a, b);
        let dg_ab = digamma(a + b);
        let dg_b = digamma(b);
        let inv_a = 1.0 / a;
        self.xs
            .iter()
            .map(|&x| {
                let rx = r + x;
                let k = ln_gamma(rx) - lg_r + r * ln_alpha;
                let dk_dr = digamma(rx) - dg_r + ln_alpha;
                let two_terms = self.variant == Variant::Mbg || x > 0.0;
                if !two_terms {
                    return XTerms {
                        rx,
                        k,
                        dk_dr,
                        ..XTerms::default()
                    };
                }
                let (c1, c1a, c1b, c2, c2a, c2b) = match self.variant {
                    Variant::Bg => {
                        let dg_abx = digamma(a + b + x);
                        (
                            ln_beta(a, b + x) - lnb_ab,
                            dg_ab - dg_abx,
                            digamma(b + x) - dg_abx - dg_b + dg_ab,
                            ln_beta(a + 1.0, b + x - 1.0) - lnb_ab,
                            inv_a + dg_ab - dg_abx,
                            digamma(b + x - 1.0) - dg_abx - dg_b + dg_ab,
                        )
                    }
                    Variant::Mbg => {
                        let dg_abx1 = digamma(a + b + x + 1.0);
                        (
                            ln_beta(a, b + x + 1.0) - lnb_ab,
                            dg_ab - dg_abx1,
                            digamma(b + x + 1.0) - dg_abx1 - dg_b + dg_ab,
                            ln_beta(a + 1.0, b + x) - lnb_ab,
                            inv_a + dg_ab - dg_abx1,
                            digamma(b + x) - dg_abx1 - dg_b + dg_ab,
                        )
                    }
                };
                XTerms {
                    rx,
                    k,
                    dk_dr,
                    two_terms,
                    c1,
                    c1a,
                    c1b,
                    c2,
                    c2a,
                    c2b,
                }
            })
            .collect()
    }

    /// The weighted log-likelihood of rows `rows` and its gradient on the natural scale,
    /// `[ll, ∂r, ∂α, ∂a, ∂b]`.
    fn chunk(
        &self,
        rows: std::ops::Range<usize>,
        r: f64,
        alpha: f64,
        terms: &[XTerms],
        logs: &[(f64, f64)],
    ) -> [f64; 5] {
        let d = &self.data;
        let at = |i: usize, t_x: bool| -> (f64, f64) {
            match &self.times {
                Some(tt) => logs[(if t_x { tt.t_x[i] } else { tt.t[i] }) as usize],
                None => {
                    let v = alpha + if t_x { d.k1[i] } else { d.k2[i] };
                    (v.ln(), 1.0 / v)
                }
            }
        };
        let r_over_alpha = r / alpha;
        let mut acc = [0.0; 5];
        for i in rows {
            let wi = d.w[i];
            // Rows of weight 0 (a bootstrap replicate that drew none of their customers) add
            // nothing.
            if wi == 0.0 {
                continue;
            }
            let v = Self::row(&terms[self.group[i] as usize], r, r_over_alpha, at(i, false), || {
                at(i, true)
            });
            for (a, v) in acc.iter_mut().zip(v) {
                *a += wi * v;
            }
        }
        acc
    }

    /// One row's log-likelihood and its gradient on the natural scale, `[ll, ∂r, ∂α, ∂a, ∂b]`,
    /// from its x terms and `(ln, 1/)` of `α + T` and (asked for only when the row has two
    /// terms) of `α + t_x`.
    #[inline(always)]
    pub(crate) fn row(
        x: &XTerms,
        r: f64,
        r_over_alpha: f64,
        (la, ia): (f64, f64),
        at_t_x: impl FnOnce() -> (f64, f64),
    ) -> [f64; 5] {
        if !x.two_terms {
            // BG/NBD, x = 0: ln L = r ln α − r ln(α + T).
            return [x.k - r * la, x.dk_dr - la, r_over_alpha - r * ia, 0.0, 0.0];
        }
        let (lb, ib) = at_t_x();
        let u1 = x.c1 - x.rx * la;
        let u2 = x.c2 - x.rx * lb;
        let (l, w1) = if u1 >= u2 {
            let dd = 1.0 + (u2 - u1).exp();
            (u1 + dd.ln(), 1.0 / dd)
        } else {
            let e = (u1 - u2).exp();
            let dd = 1.0 + e;
            (u2 + dd.ln(), e / dd)
        };
        let w2 = 1.0 - w1;
        [
            x.k + l,
            x.dk_dr - (w1 * la + w2 * lb),
            r_over_alpha - x.rx * (w1 * ia + w2 * ib),
            w1 * x.c1a + w2 * x.c2a,
            w1 * x.c1b + w2 * x.c2b,
        ]
    }

    /// Per row (unweighted), the gradient of its log-likelihood on the natural scale
    /// `[∂r, ∂α, ∂a, ∂b]` at `theta`: the scores of sandwich standard errors.
    pub(crate) fn row_scores(&self, theta: [f64; 4]) -> Vec<[f64; 4]> {
        let [r, alpha, ..] = theta;
        let terms = self.x_terms(theta);
        let logs = |y: f64| {
            let v = alpha + y;
            (v.ln(), 1.0 / v)
        };
        let d = &self.data;
        (0..d.len())
            .map(|i| {
                let v = Self::row(&terms[self.group[i] as usize], r, r / alpha, logs(d.k2[i]), || {
                    logs(d.k1[i])
                });
                [v[1], v[2], v[3], v[4]]
            })
            .collect()
    }

    /// The rows' weights.
    pub(crate) fn weights(&self) -> &[f64] {
        &self.data.w
    }
}

impl Objective<4> for BetaGeoObjective {
    fn eval(&mut self, phi: &[f64; 4], grad: &mut [f64; 4]) -> f64 {
        let theta = phi.map(f64::exp);
        let [r, alpha, a, b] = theta;
        let terms = self.x_terms(theta);
        let logs: Vec<(f64, f64)> = match &self.times {
            Some(tt) => tt
                .values
                .iter()
                .map(|t| {
                    let v = alpha + t;
                    (v.ln(), 1.0 / v)
                })
                .collect(),
            None => vec![],
        };
        let n = self.data.len();
        let bounds: Vec<std::ops::Range<usize>> = (0..EVAL_CHUNKS)
            .map(|c| n * c / EVAL_CHUNKS..n * (c + 1) / EVAL_CHUNKS)
            .collect();
        let threads = crate::cores().min(EVAL_CHUNKS);
        let this = &*self;
        let sums: Vec<[f64; 5]> = if n < PARALLEL_ROWS || threads < 2 {
            bounds
                .into_iter()
                .map(|rows| this.chunk(rows, r, alpha, &terms, &logs))
                .collect()
        } else {
            // Each thread takes every `threads`-th chunk; sums are put back in chunk order.
            let mut sums = vec![[0.0; 5]; EVAL_CHUNKS];
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let (bounds, terms, logs) = (&bounds, &terms, &logs);
                        scope.spawn(move || {
                            (t..EVAL_CHUNKS)
                                .step_by(threads)
                                .map(|c| (c, this.chunk(bounds[c].clone(), r, alpha, terms, logs)))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                for h in handles {
                    let done = h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                    for (c, v) in done {
                        sums[c] = v;
                    }
                }
            });
            sums
        };
        let mut total = [0.0; 5];
        for s in &sums {
            for (t, v) in total.iter_mut().zip(s) {
                *t += v;
            }
        }
        let scale = -1.0 / self.data.total_weight;
        *grad = [
            total[1] * r * scale,
            total[2] * alpha * scale,
            total[3] * a * scale,
            total[4] * b * scale,
        ];
        total[0] * scale
    }

    fn total_weight(&self) -> f64 {
        self.data.total_weight
    }

    fn subsample(&self, max_rows: usize) -> Option<Self> {
        Some(BetaGeoObjective::new(self.variant, self.data.subsample(max_rows)?))
    }
    fn set_weights(&mut self, w: &[f64]) -> bool {
        self.data.set_weights(w)
    }
}

/// Starting point shared by the count models: `r = 1`, `α` from the pooled
/// purchase rate, `a = 1`, `b = 1`.
pub(crate) fn default_start(data: &Compressed) -> [f64; 4] {
    let (mut sx, mut st) = (0.0, 0.0);
    for i in 0..data.len() {
        sx += data.w[i] * data.k0[i];
        st += data.w[i] * data.k2[i];
    }
    let alpha = if sx > 0.0 && st > 0.0 {
        (st / sx).clamp(1e-3, 1e6)
    } else {
        1.0
    };
    [1.0, alpha, 1.0, 1.0]
}

/// Checks shared by the count-model fits: non-empty and some repeat purchases.
pub(crate) fn check_count_data(data: &Compressed) -> Result<(), ModelError> {
    if data.len() == 0 || !(data.total_weight > 0.0) {
        return Err(ModelError::EmptyInput);
    }
    if !data.k0.iter().any(|&x| x > 0.0) {
        return Err(ModelError::NoRepeatPurchases);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TimeUnit;
    use crate::beta_geo::tests::check_gradient;
    use crate::data::TransactionSummary;

    fn toy() -> Compressed {
        let s = TransactionSummary::from_rows(
            &[
                (0.0, 0.0, 30.0),
                (2.0, 10.0, 30.0),
                (5.0, 29.0, 31.0),
                (1.0, 0.5, 12.0),
                (0.0, 0.0, 2.0),
            ],
            TimeUnit::Week,
        )
        .unwrap();
        s.compress_internal()
    }

    #[test]
    fn gradients_match_finite_differences() {
        for v in [Variant::Bg, Variant::Mbg] {
            let mut o = BetaGeoObjective::new(v, toy());
            check_gradient(&mut o, [0.3, 4.0, 0.8, 2.5]);
            check_gradient(&mut o, [2.0, 0.5, 3.0, 0.4]);
        }
    }

    #[test]
    fn time_table_equals_the_plain_evaluation() {
        let mut rows = vec![];
        for i in 0..30_000u32 {
            let t = f64::from(30 + i % 335) / 7.0;
            let x = f64::from(i % 23);
            let t_x = if x == 0.0 {
                0.0
            } else {
                f64::from(1 + (i * 7) % (29 + i % 335)) / 7.0
            };
            rows.push((x, t_x, t));
        }
        let data = TransactionSummary::from_rows(&rows, TimeUnit::Week)
            .unwrap()
            .compress_internal();
        assert!(data.len() >= PARALLEL_ROWS, "{}", data.len());
        for v in [Variant::Bg, Variant::Mbg] {
            let mut fast = BetaGeoObjective::new(v, data.clone());
            assert!(fast.times.is_some());
            let mut plain = BetaGeoObjective::new(v, data.clone());
            plain.times = None;
            for theta in [[0.3, 4.0, 0.8, 2.5], [2.0, 0.5, 3.0, 0.4]] {
                let phi = theta.map(f64::ln);
                let (mut g1, mut g2) = ([0.0; 4], [0.0; 4]);
                let (f1, f2) = (fast.eval(&phi, &mut g1), plain.eval(&phi, &mut g2));
                assert!((f1 - f2).abs() <= 1e-12 * f2.abs(), "{f1} vs {f2}");
                for j in 0..4 {
                    assert!((g1[j] - g2[j]).abs() <= 1e-9 * (1.0 + g2[j].abs()), "{g1:?} vs {g2:?}");
                }
            }
        }
    }
}
