//! Exact, order-independent summation.
//!
//! Sums that feed a choice or a label (holdout errors that pick a model) must not depend on
//! the order of the rows. (`clv_core::rfm::exact_sum` is the same algorithm for the RFM cut
//! points; one of the two can re-export the other.)

/// The correctly rounded sum of finite values (Shewchuk 1997, "Adaptive precision
/// floating-point arithmetic and fast robust geometric predicates"; the algorithm of Python's
/// `math.fsum`): the same result in any order.
pub fn exact_sum(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut partials: Vec<f64> = Vec::new();
    for mut x in values {
        let mut i = 0;
        for j in 0..partials.len() {
            let mut y = partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                partials[i] = lo;
                i += 1;
            }
            x = hi;
        }
        partials.truncate(i);
        partials.push(x);
    }
    let Some(mut n) = partials.len().checked_sub(1) else {
        return 0.0;
    };
    let mut hi = partials[n];
    let mut lo = 0.0;
    while n > 0 {
        let x = hi;
        let y = partials[n - 1];
        n -= 1;
        hi = x + y;
        let yr = hi - x;
        lo = y - yr;
        if lo != 0.0 {
            break;
        }
    }
    // Round half to even across the remaining partials.
    if n > 0 && ((lo < 0.0 && partials[n - 1] < 0.0) || (lo > 0.0 && partials[n - 1] > 0.0)) {
        let y = lo * 2.0;
        let x = hi + y;
        if y == x - hi {
            hi = x;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_sum_is_correctly_rounded_in_any_order() {
        let v = [1e16, 1.0, -1e16, 1.0, 1e-3, 3.0e-17];
        let s = exact_sum(v);
        assert_eq!(s, 2.001);
        let mut r = v;
        r.reverse();
        assert_eq!(exact_sum(r), s);
        assert_eq!(exact_sum([0.1; 10]), 1.0);
        assert_eq!(exact_sum([]), 0.0);
        // The naive sum of these is 0.
        assert_eq!(exact_sum([1.0, 1e100, 1.0, -1e100]), 2.0);
    }
}
