//! Exact, order-independent summation of `f64` values.
//!
//! Shewchuk's algorithm ("Adaptive Precision Floating-Point Arithmetic and Fast Robust
//! Geometric Predicates", 1997), as used by Python's `math.fsum`: the running sum is kept
//! as a list of non-overlapping partials whose exact total is the exact sum of the inputs,
//! and the result is that total rounded once. The result therefore does not depend on the
//! order of the inputs: sums that feed a cut point, a label or a choice (the RFM population
//! mean, holdout errors that pick a model) are identical across partitionings and row orders.

/// An exact accumulator of `f64` values (finite inputs only).
#[derive(Debug, Clone, Default)]
pub struct ExactSum {
    partials: Vec<f64>,
}

impl ExactSum {
    /// An empty sum.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one finite value exactly.
    pub fn add(&mut self, mut x: f64) {
        let mut i = 0;
        for j in 0..self.partials.len() {
            let mut y = self.partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.partials[i] = lo;
                i += 1;
            }
            x = hi;
        }
        self.partials.truncate(i);
        self.partials.push(x);
    }

    /// The exact sum, correctly rounded to the nearest `f64`.
    pub fn value(&self) -> f64 {
        let p = &self.partials;
        let Some((&last, rest)) = p.split_last() else {
            return 0.0;
        };
        let mut hi = last;
        let mut lo = 0.0;
        let mut n = rest.len();
        while n > 0 {
            let x = hi;
            let y = rest[n - 1];
            n -= 1;
            hi = x + y;
            let yr = hi - x;
            lo = y - yr;
            if lo != 0.0 {
                break;
            }
        }
        // Half-way case: make the rounding decision with the next partial (as math.fsum does).
        if n > 0 && ((lo < 0.0 && rest[n - 1] < 0.0) || (lo > 0.0 && rest[n - 1] > 0.0)) {
            let y = lo * 2.0;
            let x = hi + y;
            let yr = x - hi;
            if y == yr {
                hi = x;
            }
        }
        hi
    }
}

/// The exact sum of `values`, correctly rounded.
pub fn exact_sum(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut s = ExactSum::new();
    for v in values {
        s.add(v);
    }
    s.value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancels_exactly_where_naive_sum_fails() {
        let v = [1e100, 1.0, -1e100, 1e-100];
        assert_eq!(v.iter().sum::<f64>(), 1e-100); // naive loses the 1.0
        assert_eq!(exact_sum(v), 1.0 + 1e-100);
    }

    #[test]
    fn order_does_not_change_the_result() {
        let mut v: Vec<f64> = (0..2000)
            .map(|i| (i as f64 * 0.1).sin() * 10f64.powi(i % 17 - 8))
            .collect();
        let a = exact_sum(v.iter().copied());
        v.reverse();
        let b = exact_sum(v.iter().copied());
        v.sort_by(f64::total_cmp);
        let c = exact_sum(v.iter().copied());
        assert_eq!(a.to_bits(), b.to_bits());
        assert_eq!(a.to_bits(), c.to_bits());
    }

    #[test]
    fn tenths_sum_to_the_correctly_rounded_value() {
        // 0.1 ten times: the naive sum gives 0.9999999999999999.
        assert_ne!((0..10).map(|_| 0.1).sum::<f64>(), 1.0);
        assert_eq!(exact_sum((0..10).map(|_| 0.1)), 1.0);
        assert_eq!(exact_sum([]), 0.0);
    }

    #[test]
    fn exact_sum_is_correctly_rounded_in_any_order() {
        let v = [1e16, 1.0, -1e16, 1.0, 1e-3, 3.0e-17];
        let s = exact_sum(v);
        assert_eq!(s, 2.001);
        let mut r = v;
        r.reverse();
        assert_eq!(exact_sum(r), s);
        // The naive sum of these is 0.
        assert_eq!(exact_sum([1.0, 1e100, 1.0, -1e100]), 2.0);
    }
}
