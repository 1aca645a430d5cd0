//! Automatic cluster names from the recency, frequency and monetary levels of each centroid.
//!
//! The rule: take each centroid's standardised coordinate `z` (its distance from the mean of
//! all customers in population standard deviations, in the clustering's feature space, e.g.
//! `log1p(recency_days)`). Five levels: **very low** `z ≤ −1.5`, **low** `−1.5 < z ≤ −0.5`,
//! **medium** `|z| < 0.5`, **high** `0.5 ≤ z < 1.5`, **very high** `z ≥ 1.5`
//! ([`LEVEL_THRESHOLD`], [`EXTREME_THRESHOLD`]). Recency is read the other way round: few
//! days since the last purchase (a low `z`) is good.
//!
//! | role | very low z | low | medium | high | very high z |
//! |---|---|---|---|---|---|
//! | recency | very recent · 刚刚消费 | recent · 近期消费 | lapsing · 渐趋沉睡 | lapsed · 久未消费 | long lapsed · 长期沉睡 |
//! | frequency | very rare · 极低频 | rare · 低频 | occasional · 中频 | frequent · 高频 | very frequent · 极高频 |
//! | monetary | very low spend · 极低消费 | low spend · 低消费 | mid spend · 中等消费 | high spend · 高消费 | very high spend · 极高消费 |
//! | other feature `x` | very low x · x极低 | low x · x低 | (not named) | high x · x高 | very high x · x极高 |
//!
//! The name lists the levels in feature order, e.g. "recent, frequent, high spend" /
//! "近期消费、高频、高消费"; a centroid with no named level is "average" / "中等". Clusters with
//! equal names get " (2)", " (3)", ... in cluster order (clusters are numbered by value, see
//! [`super::FittedKMeans`]).

use super::features::{Feature, FeatureRole};

/// `|z|` from which a coordinate is high or low.
pub const LEVEL_THRESHOLD: f64 = 0.5;
/// `|z|` from which a coordinate is very high or very low.
pub const EXTREME_THRESHOLD: f64 = 1.5;

/// A coordinate's level: 0 (very low) to 4 (very high).
fn level(z: f64) -> usize {
    if z >= EXTREME_THRESHOLD {
        4
    } else if z >= LEVEL_THRESHOLD {
        3
    } else if z > -LEVEL_THRESHOLD {
        2
    } else if z > -EXTREME_THRESHOLD {
        1
    } else {
        0
    }
}

/// "English|Chinese" words of each level, very low to very high.
const RECENCY: [&str; 5] = [
    "very recent|刚刚消费",
    "recent|近期消费",
    "lapsing|渐趋沉睡",
    "lapsed|久未消费",
    "long lapsed|长期沉睡",
];
const FREQUENCY: [&str; 5] = [
    "very rare|极低频",
    "rare|低频",
    "occasional|中频",
    "frequent|高频",
    "very frequent|极高频",
];
const MONETARY: [&str; 5] = [
    "very low spend|极低消费",
    "low spend|低消费",
    "mid spend|中等消费",
    "high spend|高消费",
    "very high spend|极高消费",
];
/// Other features: "{prefix} name" / "name{suffix}"; the medium level is not named.
const OTHER: [(&str, &str); 5] = [
    ("very low", "极低"),
    ("low", "低"),
    ("", ""),
    ("high", "高"),
    ("very high", "极高"),
];

/// The English and Chinese words of one coordinate, if it is named.
fn words(feature: &Feature, z: f64) -> Option<(String, String)> {
    let l = level(z);
    let table = match feature.role {
        FeatureRole::Recency => RECENCY,
        FeatureRole::Frequency => FREQUENCY,
        FeatureRole::Monetary => MONETARY,
        FeatureRole::Other if l == 2 => return None,
        FeatureRole::Other => {
            let (en, zh) = OTHER[l];
            return Some((format!("{en} {}", feature.name), format!("{}{zh}", feature.name)));
        }
    };
    let (en, zh) = table[l].split_once('|').unwrap_or((table[l], table[l]));
    Some((en.to_string(), zh.to_string()))
}

/// English and Chinese names of clusters whose standardised centroids are `z` (`k × d`).
pub(crate) fn cluster_names(features: &[Feature], z: &[f64]) -> Vec<(String, String)> {
    let d = features.len();
    let mut names: Vec<(String, String)> = z
        .chunks_exact(d)
        .map(|c| {
            let (en, zh): (Vec<String>, Vec<String>) = features.iter().zip(c).filter_map(|(f, &z)| words(f, z)).unzip();
            if en.is_empty() {
                ("average".to_string(), "中等".to_string())
            } else {
                (en.join(", "), zh.join("、"))
            }
        })
        .collect();
    for j in 0..names.len() {
        let earlier = names[..j].iter().filter(|n| n.0 == names[j].0).count();
        if earlier > 0 {
            let suffix = format!(" ({})", earlier + 1);
            names[j].0.push_str(&suffix);
            names[j].1.push_str(&suffix);
        }
    }
    names
}

/// The value direction of a feature: −1 for recency, +1 for frequency and monetary, 0 else.
pub(crate) fn value_sign(role: FeatureRole) -> f64 {
    match role {
        FeatureRole::Recency => -1.0,
        FeatureRole::Frequency | FeatureRole::Monetary => 1.0,
        FeatureRole::Other => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kmeans::FeatureTransform;

    #[test]
    fn names_follow_the_rule() {
        let f = Feature::rfm();
        let z = [
            -1.0, 1.2, 0.9, // recent, frequent, high spend
            1.3, -0.7, -0.5, // lapsed, rare, low spend
            0.2, 0.49, -0.49, // all medium
            1.3, -0.7, -0.6, // the same as cluster 1
            -1.5, 1.5, 2.0, // very recent, very frequent, very high spend
            1.6, -1.6, -1.51, // long lapsed, very rare, very low spend
        ];
        let n = cluster_names(&f, &z);
        assert_eq!(
            n[0],
            ("recent, frequent, high spend".into(), "近期消费、高频、高消费".into())
        );
        assert_eq!(
            n[1],
            ("lapsed, rare, low spend".into(), "久未消费、低频、低消费".into())
        );
        assert_eq!(
            n[2],
            (
                "lapsing, occasional, mid spend".into(),
                "渐趋沉睡、中频、中等消费".into()
            )
        );
        assert_eq!(
            n[3],
            (
                "lapsed, rare, low spend (2)".into(),
                "久未消费、低频、低消费 (2)".into()
            )
        );
        assert_eq!(
            n[4],
            (
                "very recent, very frequent, very high spend".into(),
                "刚刚消费、极高频、极高消费".into()
            )
        );
        assert_eq!(
            n[5],
            (
                "long lapsed, very rare, very low spend".into(),
                "长期沉睡、极低频、极低消费".into()
            )
        );
        let other = [Feature::new("tenure", FeatureRole::Other, FeatureTransform::Identity)];
        let n = cluster_names(&other, &[0.7, 0.0, -2.0, -0.5]);
        assert_eq!(n[0].0, "high tenure");
        assert_eq!(n[1], ("average".into(), "中等".into()));
        assert_eq!(n[2], ("very low tenure".into(), "tenure极低".into()));
        assert_eq!(n[3], ("low tenure".into(), "tenure低".into()));
    }
}
