//! The beta-geometric family shared by BG/NBD ([`crate::bgnbd`]) and MBG/NBD
//! ([`crate::mbgnbd`]): the likelihood with its analytic gradient ([`BetaGeoObjective`]), the
//! prediction core ([`BetaGeoCore`]) and the `TransactionModel` both fitted models implement
//! through it. The equations are those of Fader, Hardie & Lee (2005), numbered as in the paper
//! (see [`crate::bgnbd`]); the MBG/NBD differences are in [`Variant`].

mod likelihood;
mod predict;

pub(crate) use likelihood::{BetaGeoObjective, XTerms, check_count_data, default_start};
pub(crate) use predict::{BetaGeoCore, beta_expectation};

/// Which member of the beta-geometric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    /// BG/NBD: dropout possible after each repeat purchase.
    Bg,
    /// MBG/NBD: dropout possible also right after the first purchase.
    Mbg,
}

/// `TransactionModel` for the fitted models that share [`BetaGeoCore`] (BG/NBD and MBG/NBD):
/// every prediction delegates to `self.core`.
macro_rules! beta_geo_transaction_model {
    ($fitted:ty, $kind:expr) => {
        impl TransactionModel for $fitted {
            fn kind(&self) -> ModelKind {
                $kind
            }
            fn time_unit(&self) -> TimeUnit {
                self.time_unit
            }
            fn p_alive(&self, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
                self.core.p_alive(x, t_x, T)
            }
            fn p_alive_many(&self, x: &[f64], t_x: &[f64], T: &[f64]) -> Result<Vec<f64>, ModelError> {
                self.core.p_alive_many(x, t_x, T)
            }
            fn expected_purchases(&self, t: f64, x: f64, t_x: f64, T: f64) -> Result<f64, ModelError> {
                self.core.expected_purchases(t, x, t_x, T)
            }
            fn expected_purchases_many(
                &self,
                t: &[f64],
                x: &[f64],
                t_x: &[f64],
                T: &[f64],
            ) -> Result<Vec<f64>, ModelError> {
                self.core.expected_purchases_many(t, x, t_x, T)
            }
            fn expected_purchases_new(&self, t: f64) -> Result<f64, ModelError> {
                self.core.expected_purchases_new(t)
            }
            fn prob_purchases(&self, n: u32, t: f64) -> Result<f64, ModelError> {
                self.core.prob_purchases(n, t)
            }
        }
    };
}
pub(crate) use beta_geo_transaction_model;

#[cfg(test)]
pub(crate) mod tests {
    use crate::optimize::Objective;

    pub(crate) fn check_gradient<O: Objective<N>, const N: usize>(obj: &mut O, theta: [f64; N]) {
        let phi = theta.map(f64::ln);
        let mut g = [0.0; N];
        obj.eval(&phi, &mut g);
        for j in 0..N {
            let h = 1e-6;
            let mut p = phi;
            p[j] += h;
            let mut m = phi;
            m[j] -= h;
            let mut tmp = [0.0; N];
            let fd = (obj.eval(&p, &mut tmp) - obj.eval(&m, &mut tmp)) / (2.0 * h);
            assert!(
                (fd - g[j]).abs() < 1e-6 * (1.0 + fd.abs()),
                "component {j}: analytic {} fd {}",
                g[j],
                fd
            );
        }
    }
}
