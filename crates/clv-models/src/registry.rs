//! The one list of models. Each entry names a [`Model`](crate::model::Model) implementation
//! (in its kernel file); the [`ModelKind`] enum, its names and [`MODELS`] come from this list.
//! Adding a model: implement `Model` for its fitted type and add one line here.

use serde::{Deserialize, Serialize};

use crate::model::{ModelSpec, Role};

/// Declares the models: `Variant = "name" => FittedType` for the parametric models (fixed
/// parameter lists, a [`ModelSpec`] each), then `Variant = "name"` for the learned models whose
/// shape depends on their data (the churn classifier's coefficients, k-means centroids): these
/// have a kind and a serialized name, and their own fit and scoring functions.
macro_rules! models {
    (
        parametric { $($(#[$doc:meta])* $variant:ident = $name:literal => $fitted:ty,)+ }
        learned { $($(#[$ldoc:meta])* $lvariant:ident = $lname:literal,)+ }
    ) => {
        /// Which model a fitted or serialized model is.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum ModelKind {
            $($(#[$doc])* #[serde(rename = $name)] $variant,)+
            $($(#[$ldoc])* #[serde(rename = $lname)] $lvariant,)+
        }

        impl ModelKind {
            /// Every kind, in registry order: the parametric models, then the learned ones.
            pub const ALL: &'static [ModelKind] = &[$(ModelKind::$variant,)+ $(ModelKind::$lvariant,)+];

            /// Serialized name (`"bg_nbd"`, ...).
            pub const fn name(self) -> &'static str {
                match self {
                    $(ModelKind::$variant => $name,)+
                    $(ModelKind::$lvariant => $lname,)+
                }
            }
        }

        /// Every parametric model's registry entry, in registry order.
        pub static MODELS: &[ModelSpec] = &[$(ModelSpec::of::<$fitted>()),+];
    };
}

models! {
    parametric {
        /// BG/NBD.
        BgNbd = "bg_nbd" => crate::FittedBgNbd,
        /// Pareto/NBD.
        ParetoNbd = "pareto_nbd" => crate::FittedParetoNbd,
        /// Modified BG/NBD.
        MbgNbd = "mbg_nbd" => crate::FittedMbgNbd,
        /// Gamma-Gamma spend model.
        GammaGamma = "gamma_gamma" => crate::FittedGammaGamma,
        /// Beta-geometric/beta-Bernoulli.
        BgBb = "bg_bb" => crate::FittedBgBb,
        /// Shifted beta-geometric.
        Sbg = "sbg" => crate::FittedSbg,
    }
    learned {
        /// L2-regularised logistic regression (the trained churn model, [`crate::logistic`]).
        LogisticRegression = "logistic_regression",
        /// K-means clustering ([`crate::kmeans`]).
        KMeans = "kmeans",
    }
}

impl ModelKind {
    /// The registry entry of a parametric model; `None` for a learned one.
    pub fn spec(self) -> Option<&'static ModelSpec> {
        MODELS.iter().find(|m| m.kind == self)
    }

    /// `Ok(())` when `self == expected`, else [`crate::ModelError::WrongModelKind`].
    pub fn ensure(self, expected: ModelKind) -> Result<(), crate::ModelError> {
        if self == expected {
            Ok(())
        } else {
            Err(crate::ModelError::WrongModelKind { expected, found: self })
        }
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The model named `name` (its name, not an alias).
pub fn model(name: &str) -> Option<&'static ModelSpec> {
    MODELS.iter().find(|m| m.name() == name)
}

/// The model named `name` or called so by one of its aliases.
pub fn model_or_alias(name: &str) -> Option<&'static ModelSpec> {
    MODELS.iter().find(|m| m.is_named(name))
}

/// The models that fill `role`, in registry order.
pub fn models_with(role: Role) -> impl Iterator<Item = &'static ModelSpec> {
    MODELS.iter().filter(move |m| m.has_role(role))
}

/// `"a x, y or z"`: the names of `models` as a phrase, with the article of the first
/// (`an` before a vowel, or before an initialism read letter by letter whose first letter's
/// name starts with one: `an sbg`).
pub fn names_phrase<'a>(models: impl IntoIterator<Item = &'a ModelSpec>) -> String {
    let names: Vec<&str> = models.into_iter().map(ModelSpec::name).collect();
    let list = match names.as_slice() {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    };
    let first = names.first().map_or("", |n| n.split('_').next().unwrap_or(n));
    let vowel = |c: char| "aeiou".contains(c);
    let an =
        first.starts_with(vowel) || (!first.contains(vowel) && first.starts_with(|c: char| "fhlmnrsx".contains(c)));
    format!("{} {list}", if an { "an" } else { "a" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TimeUnit;

    #[test]
    fn names_read_as_english() {
        assert_eq!(
            names_phrase(models_with(Role::Transactions)),
            "a bg_nbd, pareto_nbd or mbg_nbd"
        );
        assert_eq!(names_phrase([ModelKind::Sbg.spec().unwrap()]), "an sbg");
        assert_eq!(names_phrase([ModelKind::GammaGamma.spec().unwrap()]), "a gamma_gamma");
    }

    /// Each model's identity holds together: unique names, the parameters its serialized form
    /// writes, its roles backed by the fitted model, its predictions answered.
    #[test]
    fn every_model_identity_is_consistent() {
        for (i, m) in MODELS.iter().enumerate() {
            assert_eq!(m.kind, ModelKind::ALL[i]);
            assert!(m.kind.spec().is_some_and(|s| std::ptr::eq(s, m)));
            for other in &MODELS[..i] {
                assert!(!other.is_named(m.name()) && !m.aliases.iter().any(|a| other.is_named(a)));
                assert_ne!(other.fit_function, m.fit_function);
            }
            let fitted = m.from_params(&vec![1.0; m.params.len()], TimeUnit::Week).unwrap();
            assert_eq!(fitted.kind(), m.kind);
            assert_eq!(fitted.params(), vec![1.0; m.params.len()]);
            let json: serde_json::Value = serde_json::from_str(&fitted.to_json().unwrap()).unwrap();
            let written: Vec<&str> = json["params"].as_object().unwrap().keys().map(String::as_str).collect();
            let mut expected = m.params.to_vec();
            let mut written = written;
            expected.sort_unstable();
            written.sort_unstable();
            assert_eq!(written, expected, "{}", m.name());
            let back = m.from_json(&fitted.to_json().unwrap()).unwrap();
            assert_eq!(back.params(), fitted.params());
            assert_eq!(m.has_role(Role::Transactions), fitted.transaction_model().is_some());
            assert_eq!(m.has_role(Role::Spend), fitted.spend_model().is_some());
            for p in m.predictions {
                let args = vec![1.0; p.args.len()];
                fitted
                    .predict(p, &args)
                    .unwrap_or_else(|e| panic!("{} {}: {e}", m.name(), p.name));
            }
        }
    }
}
