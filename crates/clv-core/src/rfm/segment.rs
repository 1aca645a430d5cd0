//! Named segment schemes: rule tables over the R, F and M scores with first-match precedence.
//!
//! A scheme is a list of rules, each an inclusive range on some of `r`, `f`, `m` and `fm`
//! (the mean of F and M), plus an optional default label. The first rule whose ranges all
//! contain the cell wins. Every scheme is checked when it is built: every rule must be
//! reachable (match at least one cell no earlier rule takes) and every cell must get a label
//! (from a rule or the default). The check enumerates all `levels³` cells, and the result is
//! kept as a lookup table, so assigning a segment is one array index.
//!
//! Built-in schemes (see docs/guide.md for the full tables):
//! * `rf_grid` — the 10-cell recency × frequency grid on 1..5 scores, a partition of the 25 (R, F) cells.
//! * `rfm11` — the 11 segments on R against FM = (F + M) / 2, with the precedence fixed below.
//! * `cn8` / `cn8_en` — the Chinese 8-class value scheme on two-level (high = 2, low = 1) scores.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use datafusion::common::{Result, exec_err, plan_datafusion_err, plan_err};
use serde::{Deserialize, Serialize};

use super::score::{MAX_BINS, MIN_BINS, ScoreMethod};

/// One rule: a label and inclusive ranges; an omitted range matches every score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentRule {
    /// The segment name this rule assigns.
    pub label: String,
    /// Inclusive range of the R score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r: Option<[u8; 2]>,
    /// Inclusive range of the F score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub f: Option<[u8; 2]>,
    /// Inclusive range of the M score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub m: Option<[u8; 2]>,
    /// Inclusive range of FM = (F + M) / 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fm: Option<[f64; 2]>,
}

impl SegmentRule {
    /// A rule on R and F only.
    pub fn rf(label: &str, r: [u8; 2], f: [u8; 2]) -> Self {
        Self {
            label: label.into(),
            r: Some(r),
            f: Some(f),
            m: None,
            fm: None,
        }
    }

    /// A rule on R and FM.
    pub fn r_fm(label: &str, r: [u8; 2], fm: [f64; 2]) -> Self {
        Self {
            label: label.into(),
            r: Some(r),
            f: None,
            m: None,
            fm: Some(fm),
        }
    }

    /// A rule on all three scores.
    pub fn rfm(label: &str, r: [u8; 2], f: [u8; 2], m: [u8; 2]) -> Self {
        Self {
            label: label.into(),
            r: Some(r),
            f: Some(f),
            m: Some(m),
            fm: None,
        }
    }

    fn matches(&self, r: u8, f: u8, m: u8) -> bool {
        let within = |range: Option<[u8; 2]>, v: u8| range.is_none_or(|[lo, hi]| lo <= v && v <= hi);
        let fm = (f64::from(f) + f64::from(m)) / 2.0;
        within(self.r, r)
            && within(self.f, f)
            && within(self.m, m)
            && self.fm.is_none_or(|[lo, hi]| lo <= fm && fm <= hi)
    }
}

/// A segment scheme as written in a TOML or JSON file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemeDefinition {
    /// The name used in SQL, e.g. `rfm_segment(r, f, m, 'my_scheme')`.
    pub name: String,
    /// What the scheme is for.
    #[serde(default)]
    pub description: String,
    /// Scores run `1..=levels` (default 5).
    #[serde(default = "default_levels")]
    pub levels: u8,
    /// The scoring method `rfm()` uses with this scheme unless told otherwise (default quantile).
    #[serde(default)]
    pub method: ScoreMethod,
    /// The label of cells no rule matches. Required unless the rules cover every cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// The rules, first match wins.
    #[serde(rename = "rule")]
    pub rules: Vec<SegmentRule>,
}

fn default_levels() -> u8 {
    5
}

/// A checked, compiled scheme.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentScheme {
    definition: SchemeDefinition,
    /// Distinct labels in rule order (then the default).
    labels: Vec<String>,
    /// `cells[((r-1)*levels + (f-1))*levels + (m-1)]` = index into `labels`.
    cells: Vec<u16>,
}

impl SegmentScheme {
    /// Checks and compiles a definition.
    pub fn new(definition: SchemeDefinition) -> Result<Self> {
        let d = &definition;
        let name = &d.name;
        if name.trim().is_empty() || name.chars().any(|c| !(c.is_alphanumeric() || c == '_')) {
            return plan_err!("segment scheme name '{name}' must be non-empty letters, digits and '_'");
        }
        let levels = d.levels;
        if !(MIN_BINS..=MAX_BINS).contains(&levels) {
            return plan_err!(
                "segment scheme '{name}': levels must be between {MIN_BINS} and {MAX_BINS}, got {levels}"
            );
        }
        if d.rules.is_empty() {
            return plan_err!("segment scheme '{name}' has no rules");
        }
        for (i, rule) in d.rules.iter().enumerate() {
            let at = format!("segment scheme '{name}', rule {} ('{}')", i + 1, rule.label);
            if rule.label.trim().is_empty() {
                return plan_err!("{at}: the label is empty");
            }
            for (dim, range) in [("r", rule.r), ("f", rule.f), ("m", rule.m)] {
                if let Some([lo, hi]) = range
                    && (lo > hi || lo < 1 || hi > levels)
                {
                    return plan_err!("{at}: range {dim} = [{lo}, {hi}] must satisfy 1 <= lo <= hi <= {levels}");
                }
            }
            // Not `lo > hi`: a NaN bound is rejected too.
            if let Some([lo, hi]) = rule.fm
                && !matches!(lo.partial_cmp(&hi), Some(Ordering::Less | Ordering::Equal))
            {
                return plan_err!("{at}: range fm = [{lo}, {hi}] must satisfy lo <= hi");
            }
        }
        let mut labels: Vec<String> = vec![];
        let mut index_of = |label: &str| -> u16 {
            match labels.iter().position(|l| l == label) {
                Some(i) => i as u16,
                None => {
                    labels.push(label.to_string());
                    (labels.len() - 1) as u16
                }
            }
        };
        let rule_label: Vec<u16> = d.rules.iter().map(|r| index_of(&r.label)).collect();
        let default_label = d.default.as_deref().map(&mut index_of);
        let mut reached = vec![false; d.rules.len()];
        let mut cells = Vec::with_capacity(usize::from(levels).pow(3));
        let mut uncovered = vec![];
        for r in 1..=levels {
            for f in 1..=levels {
                for m in 1..=levels {
                    match d.rules.iter().position(|rule| rule.matches(r, f, m)) {
                        Some(i) => {
                            reached[i] = true;
                            cells.push(rule_label[i]);
                        }
                        None => match default_label {
                            Some(l) => cells.push(l),
                            None => {
                                uncovered.push(format!("{r}{f}{m}"));
                                cells.push(0);
                            }
                        },
                    }
                }
            }
        }
        if let Some(i) = reached.iter().position(|r| !r) {
            return plan_err!(
                "segment scheme '{name}': rule {} ('{}') is unreachable: earlier rules take all of its cells",
                i + 1,
                d.rules[i].label
            );
        }
        if !uncovered.is_empty() {
            let shown: Vec<_> = uncovered.iter().take(5).cloned().collect();
            return plan_err!(
                "segment scheme '{name}': {} cells match no rule (e.g. {}); add rules or a `default` label",
                uncovered.len(),
                shown.join(", ")
            );
        }
        Ok(Self {
            definition,
            labels,
            cells,
        })
    }

    /// Parses and compiles a TOML definition.
    pub fn from_toml(text: &str) -> Result<Self> {
        let d: SchemeDefinition = toml::from_str(text).map_err(|e| plan_datafusion_err!("segment scheme TOML: {e}"))?;
        Self::new(d)
    }

    /// Parses and compiles a JSON definition.
    pub fn from_json(text: &str) -> Result<Self> {
        let d: SchemeDefinition =
            serde_json::from_str(text).map_err(|e| plan_datafusion_err!("segment scheme JSON: {e}"))?;
        Self::new(d)
    }

    /// The scheme's name.
    pub fn name(&self) -> &str {
        &self.definition.name
    }

    /// Scores run `1..=levels`.
    pub fn levels(&self) -> u8 {
        self.definition.levels
    }

    /// The scoring method this scheme is designed for.
    pub fn method(&self) -> ScoreMethod {
        self.definition.method
    }

    /// The definition it was built from.
    pub fn definition(&self) -> &SchemeDefinition {
        &self.definition
    }

    /// Every label the scheme can assign, in rule order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The segment of cell (r, f, m); an error names the score outside `1..=levels`.
    pub fn assign(&self, r: i64, f: i64, m: i64) -> Result<&str> {
        let n = i64::from(self.levels());
        for (dim, v) in [("r", r), ("f", f), ("m", m)] {
            if v < 1 || v > n {
                return exec_err!(
                    "rfm_segment: {dim} = {v} is outside 1..{n}, the score range of scheme '{}'",
                    self.name()
                );
            }
        }
        let idx = (((r - 1) * n + (f - 1)) * n + (m - 1)) as usize;
        Ok(&self.labels[usize::from(self.cells[idx])])
    }
}

fn builtin(d: SchemeDefinition) -> Arc<SegmentScheme> {
    // The built-in tables are constants checked by the unit tests below.
    Arc::new(SegmentScheme::new(d).unwrap_or_else(|e| unreachable!("built-in scheme is invalid: {e}")))
}

/// `rf_grid`: the widely used 10-cell recency × frequency grid (M is ignored).
pub fn rf_grid() -> SchemeDefinition {
    let rules = vec![
        SegmentRule::rf("champions", [5, 5], [4, 5]),
        SegmentRule::rf("loyal_customers", [3, 4], [4, 5]),
        SegmentRule::rf("potential_loyalists", [4, 5], [2, 3]),
        SegmentRule::rf("new_customers", [5, 5], [1, 1]),
        SegmentRule::rf("promising", [4, 4], [1, 1]),
        SegmentRule::rf("need_attention", [3, 3], [3, 3]),
        SegmentRule::rf("about_to_sleep", [3, 3], [1, 2]),
        SegmentRule::rf("at_risk", [1, 2], [3, 4]),
        SegmentRule::rf("cant_lose", [1, 2], [5, 5]),
        SegmentRule::rf("hibernating", [1, 2], [1, 2]),
    ];
    SchemeDefinition {
        name: "rf_grid".into(),
        description: "10-cell recency x frequency grid on 1..5 scores".into(),
        levels: 5,
        method: ScoreMethod::Quantile,
        default: None,
        rules,
    }
}

/// `rfm11`: 11 segments on R against FM = (F + M) / 2. The published ranges overlap, so the
/// precedence is fixed here (most specific first), and `Lost`, whose published range
/// (R ≤ 2, FM ≤ 2) equals Hibernating's, is narrowed to the bottom cell R = 1, FM = 1.
pub fn rfm11() -> SchemeDefinition {
    let rules = vec![
        SegmentRule::r_fm("Champions", [4, 5], [4.0, 5.0]),
        SegmentRule::r_fm("Can't Lose Them", [1, 1], [4.0, 5.0]),
        SegmentRule::r_fm("Loyal", [2, 5], [3.0, 5.0]),
        SegmentRule::r_fm("New", [4, 5], [1.0, 1.0]),
        SegmentRule::r_fm("Promising", [3, 4], [1.0, 1.0]),
        SegmentRule::r_fm("Potential Loyalist", [3, 5], [1.0, 3.0]),
        SegmentRule::r_fm("Need Attention", [2, 3], [2.0, 3.0]),
        SegmentRule::r_fm("About to Sleep", [2, 3], [1.0, 2.0]),
        SegmentRule::r_fm("At Risk", [1, 2], [2.0, 5.0]),
        SegmentRule::r_fm("Lost", [1, 1], [1.0, 1.0]),
        SegmentRule::r_fm("Hibernating", [1, 2], [1.0, 2.0]),
    ];
    SchemeDefinition {
        name: "rfm11".into(),
        description: "11 segments on R against the mean of F and M, 1..5 scores".into(),
        levels: 5,
        method: ScoreMethod::Quantile,
        default: None,
        rules,
    }
}

const CN8_ZH: [&str; 8] = [
    "重要价值客户",
    "重要保持客户",
    "重要发展客户",
    "重要挽留客户",
    "一般价值客户",
    "一般保持客户",
    "一般发展客户",
    "一般挽留客户",
];
const CN8_EN: [&str; 8] = [
    "important_value",
    "important_retain",
    "important_develop",
    "important_win_back",
    "general_value",
    "general_retain",
    "general_develop",
    "general_win_back",
];

/// `cn8` / `cn8_en`: the Chinese 8-class value scheme on two-level scores (2 = high, 1 = low).
/// R is high when recency is below the population centre (recent); F and M are high at or
/// above it. The order of the labels is (M, F, R) = (1,1,1), (1,1,0), (1,0,1), (1,0,0), (0,1,1), ...
pub fn cn8(english: bool) -> SchemeDefinition {
    let labels = if english { CN8_EN } else { CN8_ZH };
    // (R, F, M) high flags for each label, in label order.
    let flags = [
        (1, 1, 1),
        (0, 1, 1),
        (1, 0, 1),
        (0, 0, 1),
        (1, 1, 0),
        (0, 1, 0),
        (1, 0, 0),
        (0, 0, 0),
    ];
    let rules = labels
        .iter()
        .zip(flags)
        .map(|(label, (r, f, m))| SegmentRule::rfm(label, [r + 1, r + 1], [f + 1, f + 1], [m + 1, m + 1]))
        .collect();
    SchemeDefinition {
        name: if english { "cn8_en" } else { "cn8" }.into(),
        description: "Chinese 8-class customer value scheme on high/low R, F, M".into(),
        levels: 2,
        method: ScoreMethod::Mean,
        default: None,
        rules,
    }
}

static BUILTINS: LazyLock<BTreeMap<String, Arc<SegmentScheme>>> = LazyLock::new(|| {
    [rf_grid(), rfm11(), cn8(false), cn8(true)]
        .into_iter()
        .map(|d| (d.name.clone(), builtin(d)))
        .collect()
});

/// The schemes usable by name: the built-ins plus any registered ones.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemeRegistry {
    schemes: BTreeMap<String, Arc<SegmentScheme>>,
}

impl Default for SchemeRegistry {
    fn default() -> Self {
        Self {
            schemes: BUILTINS.clone(),
        }
    }
}

impl SchemeRegistry {
    /// The built-in schemes only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a scheme; built-in names cannot be replaced.
    pub fn register(&mut self, scheme: SegmentScheme) -> Result<()> {
        if BUILTINS.contains_key(scheme.name()) {
            return plan_err!(
                "segment scheme '{}' is built in and cannot be replaced; choose another name",
                scheme.name()
            );
        }
        self.schemes.insert(scheme.name().to_string(), Arc::new(scheme));
        Ok(())
    }

    /// Looks a scheme up by name.
    pub fn get(&self, name: &str) -> Result<Arc<SegmentScheme>> {
        match self.schemes.get(name.trim()) {
            Some(s) => Ok(Arc::clone(s)),
            None => {
                let known: Vec<&str> = self.schemes.keys().map(String::as_str).collect();
                plan_err!(
                    "unknown segment scheme '{name}': known schemes are {}",
                    known.join(", ")
                )
            }
        }
    }

    /// All scheme names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.schemes.keys().map(String::as_str)
    }
}

impl std::hash::Hash for SchemeRegistry {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for name in self.schemes.keys() {
            name.hash(state);
        }
    }
}

impl Eq for SchemeRegistry {}

/// The RFM cell code: one character per score, `1`..`9` and `A` for 10, e.g. `"545"`.
pub fn cell_code(r: u8, f: u8, m: u8) -> String {
    [r, f, m]
        .iter()
        .map(|&s| char::from_digit(u32::from(s), 36).map_or('?', |c| c.to_ascii_uppercase()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(s: &SegmentScheme) -> BTreeMap<String, usize> {
        let mut count = BTreeMap::new();
        let n = i64::from(s.levels());
        for r in 1..=n {
            for f in 1..=n {
                for m in 1..=n {
                    *count.entry(s.assign(r, f, m).unwrap().to_string()).or_default() += 1;
                }
            }
        }
        count
    }

    #[test]
    fn rf_grid_partitions_the_25_cells() {
        let s = SchemeRegistry::new().get("rf_grid").unwrap();
        // Each (R, F) cell repeats for the 5 M scores.
        let cells: BTreeMap<_, _> = grid(&s).into_iter().map(|(k, v)| (k, v / 5)).collect();
        let expected = [
            ("about_to_sleep", 2),
            ("at_risk", 4),
            ("cant_lose", 2),
            ("champions", 2),
            ("hibernating", 4),
            ("loyal_customers", 4),
            ("need_attention", 1),
            ("new_customers", 1),
            ("potential_loyalists", 4),
            ("promising", 1),
        ];
        assert_eq!(cells, expected.iter().map(|(k, v)| (k.to_string(), *v)).collect());
        assert_eq!(s.assign(5, 5, 1).unwrap(), "champions");
        assert_eq!(s.assign(5, 1, 5).unwrap(), "new_customers");
        assert_eq!(s.assign(1, 5, 1).unwrap(), "cant_lose");
        assert_eq!(s.assign(3, 3, 3).unwrap(), "need_attention");
        assert_eq!(s.assign(4, 1, 2).unwrap(), "promising");
    }

    #[test]
    fn rfm11_reaches_all_eleven_with_the_documented_precedence() {
        let s = SchemeRegistry::new().get("rfm11").unwrap();
        assert_eq!(grid(&s).len(), 11);
        assert_eq!(s.assign(5, 5, 4).unwrap(), "Champions"); // FM 4.5
        assert_eq!(s.assign(1, 4, 5).unwrap(), "Can't Lose Them"); // before At Risk (R<=2, FM 2..5)
        assert_eq!(s.assign(5, 1, 1).unwrap(), "New"); // before Potential Loyalist (FM 1..3)
        assert_eq!(s.assign(3, 1, 1).unwrap(), "Promising");
        assert_eq!(s.assign(3, 2, 1).unwrap(), "Potential Loyalist"); // FM 1.5
        assert_eq!(s.assign(2, 2, 3).unwrap(), "Need Attention"); // FM 2.5
        assert_eq!(s.assign(2, 1, 2).unwrap(), "About to Sleep"); // FM 1.5
        assert_eq!(s.assign(1, 3, 3).unwrap(), "At Risk");
        assert_eq!(s.assign(1, 1, 1).unwrap(), "Lost");
        assert_eq!(s.assign(1, 1, 2).unwrap(), "Hibernating");
        assert_eq!(s.assign(2, 5, 5).unwrap(), "Loyal");
    }

    #[test]
    fn cn8_maps_high_recency_score_to_recent_customers() {
        let zh = SchemeRegistry::new().get("cn8").unwrap();
        let en = SchemeRegistry::new().get("cn8_en").unwrap();
        // R high (2) = recent, F high, M high: the most valuable.
        assert_eq!(zh.assign(2, 2, 2).unwrap(), "重要价值客户");
        assert_eq!(zh.assign(1, 2, 2).unwrap(), "重要保持客户");
        assert_eq!(zh.assign(2, 1, 2).unwrap(), "重要发展客户");
        assert_eq!(zh.assign(1, 1, 2).unwrap(), "重要挽留客户");
        assert_eq!(zh.assign(2, 2, 1).unwrap(), "一般价值客户");
        assert_eq!(zh.assign(1, 2, 1).unwrap(), "一般保持客户");
        assert_eq!(zh.assign(2, 1, 1).unwrap(), "一般发展客户");
        assert_eq!(zh.assign(1, 1, 1).unwrap(), "一般挽留客户");
        assert_eq!(en.assign(1, 1, 2).unwrap(), "important_win_back");
        assert_eq!(grid(&en).len(), 8);
        let err = zh.assign(3, 1, 1).unwrap_err().to_string();
        assert!(err.contains("r = 3 is outside 1..2"), "{err}");
    }

    #[test]
    fn user_schemes_load_from_toml_and_json_and_are_checked() {
        let toml = r#"
            name = "vip"
            levels = 3
            default = "other"
            [[rule]]
            label = "vip"
            r = [3, 3]
            f = [2, 3]
            [[rule]]
            label = "sleeping"
            r = [1, 1]
        "#;
        let s = SegmentScheme::from_toml(toml).unwrap();
        assert_eq!(s.assign(3, 3, 1).unwrap(), "vip");
        assert_eq!(s.assign(1, 3, 3).unwrap(), "sleeping");
        assert_eq!(s.assign(2, 3, 3).unwrap(), "other");
        let json = r#"{"name":"two","levels":2,"rule":[{"label":"hi","r":[2,2]},{"label":"lo"}]}"#;
        let s = SegmentScheme::from_json(json).unwrap();
        assert_eq!(s.assign(2, 1, 1).unwrap(), "hi");
        assert_eq!(s.labels(), &["hi".to_string(), "lo".to_string()]);

        let unreachable = r#"{"name":"u","levels":2,"rule":[{"label":"all"},{"label":"never","r":[1,1]}]}"#;
        let err = SegmentScheme::from_json(unreachable).unwrap_err().to_string();
        assert!(err.contains("rule 2 ('never') is unreachable"), "{err}");
        let gaps = r#"{"name":"g","levels":2,"rule":[{"label":"hi","r":[2,2]}]}"#;
        let err = SegmentScheme::from_json(gaps).unwrap_err().to_string();
        assert!(
            err.contains("4 cells match no rule") && err.contains("default"),
            "{err}"
        );
        let bad_range = r#"{"name":"b","levels":2,"rule":[{"label":"x","r":[1,3]}]}"#;
        let err = SegmentScheme::from_json(bad_range).unwrap_err().to_string();
        assert!(err.contains("1 <= lo <= hi <= 2"), "{err}");
        let typo = r#"{"name":"t","rule":[{"label":"x","rr":[1,3]}]}"#;
        let err = SegmentScheme::from_json(typo).unwrap_err().to_string();
        assert!(err.contains("unknown field `rr`"), "{err}");

        let mut reg = SchemeRegistry::new();
        assert!(
            reg.register(SegmentScheme::new(rf_grid()).unwrap())
                .unwrap_err()
                .to_string()
                .contains("built in")
        );
        reg.register(s).unwrap();
        assert_eq!(reg.get("two").unwrap().levels(), 2);
        assert!(
            reg.get("nope")
                .unwrap_err()
                .to_string()
                .contains("known schemes are cn8, cn8_en, rf_grid, rfm11, two")
        );
    }

    #[test]
    fn cell_codes() {
        assert_eq!(cell_code(5, 4, 5), "545");
        assert_eq!(cell_code(10, 1, 9), "A19");
    }
}
