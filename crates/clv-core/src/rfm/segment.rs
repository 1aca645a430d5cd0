//! Named segment schemes: rule tables over the R, F and M scores with first-match precedence.
//!
//! A scheme is a list of rules, each an inclusive range on some of `r`, `f`, `m`, `fm` (the
//! mean of F and M), `total` (R + F + M) and `weighted` (the composite score
//! `w_r·r + w_f·f + w_m·m` with the scheme's `weights`, rounded to 6 decimal places so that
//! thresholds such as 4.0 are met exactly), plus an optional default label. A rule may carry a
//! suggested `action` for its segment (one action per label). The first rule whose ranges all
//! contain the cell wins. Every scheme is checked when it is built: every rule must be
//! reachable (match at least one cell no earlier rule takes) and every cell must get a label
//! (from a rule or the default). The check enumerates all `levels³` cells, and the result is
//! kept as a lookup table, so assigning a segment is one array index.
//!
//! Built-in schemes (see docs/guide.md for the full tables):
//! * `rf_grid` — the 10-cell recency × frequency grid on 1..5 scores, a partition of the 25 (R, F) cells.
//! * `rfm11` — the 11 segments on R against FM = (F + M) / 2, with the precedence fixed below
//!   and Champions at the top recency score only (R = 5, as in `rf_grid`).
//! * `cn8` / `cn8_en` — the Chinese 8-class value scheme on two-level (high = 2, low = 1) scores.
//! * `rfm3` / `rfm3_en` — three levels (high / medium / low) per dimension: the 27 cells, each
//!   labelled by its levels (`R高F中M低` / `R high, F medium, M low`).
//! * `tiers` / `tiers_en` — composite-score tiers on 1..5 scores (核心/流失风险/潜力/一般/沉睡
//!   客户) from the weighted score `0.4·r + 0.3·f + 0.3·m` read as a score level (rounded half up).

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
    /// Inclusive range of the total score R + F + M.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<[u8; 2]>,
    /// Inclusive range of the weighted score `w_r·r + w_f·f + w_m·m` (the scheme's `weights`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weighted: Option<[f64; 2]>,
    /// The suggested action for customers of this segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

impl SegmentRule {
    /// A rule matching every cell (restrict it with the other fields).
    pub fn new(label: &str) -> Self {
        Self {
            label: label.into(),
            r: None,
            f: None,
            m: None,
            fm: None,
            total: None,
            weighted: None,
            action: None,
        }
    }

    /// A rule on R and F only.
    pub fn rf(label: &str, r: [u8; 2], f: [u8; 2]) -> Self {
        Self {
            r: Some(r),
            f: Some(f),
            ..Self::new(label)
        }
    }

    /// A rule on R and FM.
    pub fn r_fm(label: &str, r: [u8; 2], fm: [f64; 2]) -> Self {
        Self {
            r: Some(r),
            fm: Some(fm),
            ..Self::new(label)
        }
    }

    /// A rule on all three scores.
    pub fn rfm(label: &str, r: [u8; 2], f: [u8; 2], m: [u8; 2]) -> Self {
        Self {
            r: Some(r),
            f: Some(f),
            m: Some(m),
            ..Self::new(label)
        }
    }

    /// This rule with a suggested action.
    pub fn with_action(mut self, action: &str) -> Self {
        self.action = Some(action.into());
        self
    }

    fn matches(&self, r: u8, f: u8, m: u8, weights: Option<[f64; 3]>) -> bool {
        let within = |range: Option<[u8; 2]>, v: u8| range.is_none_or(|[lo, hi]| lo <= v && v <= hi);
        let fm = (f64::from(f) + f64::from(m)) / 2.0;
        within(self.r, r)
            && within(self.f, f)
            && within(self.m, m)
            && within(self.total, r + f + m)
            && self.fm.is_none_or(|[lo, hi]| lo <= fm && fm <= hi)
            && self.weighted.is_none_or(|[lo, hi]| {
                let w = weighted_score(weights.unwrap_or([1.0; 3]), r, f, m);
                lo <= w && w <= hi
            })
    }
}

/// The composite score `w_r·r + w_f·f + w_m·m`, rounded to 6 decimal places (so that
/// `0.4·4 + 0.3·4 + 0.3·4` is exactly 4).
pub fn weighted_score(weights: [f64; 3], r: u8, f: u8, m: u8) -> f64 {
    let s = weights[0] * f64::from(r) + weights[1] * f64::from(f) + weights[2] * f64::from(m);
    (s * 1e6).round() / 1e6
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
    /// The suggested action for the default label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_action: Option<String>,
    /// `[w_r, w_f, w_m]` of the weighted score that `weighted` ranges test (required by them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<[f64; 3]>,
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
    /// The suggested action of each label, if any.
    actions: Vec<Option<String>>,
    /// The cells each rule takes (then the default).
    rule_cells: Vec<usize>,
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
            if let Some([lo, hi]) = rule.total
                && (lo > hi || lo < 3 || u16::from(hi) > 3 * u16::from(levels))
            {
                return plan_err!(
                    "{at}: range total = [{lo}, {hi}] must satisfy 3 <= lo <= hi <= {}",
                    3 * u16::from(levels)
                );
            }
            if let Some([lo, hi]) = rule.weighted {
                // Also refused when either bound is NaN.
                if lo.partial_cmp(&hi).is_none_or(|o| o == std::cmp::Ordering::Greater) {
                    return plan_err!("{at}: range weighted = [{lo}, {hi}] must satisfy lo <= hi");
                }
                if d.weights.is_none() {
                    return plan_err!(
                        "{at}: a weighted range needs the scheme's weights, e.g. weights = [0.4, 0.3, 0.3]"
                    );
                }
            }
        }
        if let Some(w) = d.weights
            && (w.iter().any(|x| !x.is_finite() || *x < 0.0) || w.iter().sum::<f64>() <= 0.0)
        {
            return plan_err!("segment scheme '{name}': weights {w:?} must be finite, >= 0 and not all 0");
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
        let mut reached = vec![0usize; d.rules.len() + 1];
        let mut cells = Vec::with_capacity(usize::from(levels).pow(3));
        let mut uncovered = vec![];
        for r in 1..=levels {
            for f in 1..=levels {
                for m in 1..=levels {
                    match d.rules.iter().position(|rule| rule.matches(r, f, m, d.weights)) {
                        Some(i) => {
                            reached[i] += 1;
                            cells.push(rule_label[i]);
                        }
                        None => match default_label {
                            Some(l) => {
                                reached[d.rules.len()] += 1;
                                cells.push(l)
                            }
                            None => {
                                uncovered.push(format!("{r}{f}{m}"));
                                cells.push(0);
                            }
                        },
                    }
                }
            }
        }
        if let Some(i) = reached[..d.rules.len()].iter().position(|r| *r == 0) {
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
        // One action per label: from its rules (and the default), never two different ones.
        let mut actions: Vec<Option<String>> = vec![None; labels.len()];
        let given = d
            .rules
            .iter()
            .zip(&rule_label)
            .map(|(rule, l)| (rule.action.as_ref(), *l))
            .chain(default_label.map(|l| (d.default_action.as_ref(), l)));
        for (action, l) in given {
            let Some(action) = action else { continue };
            match &actions[usize::from(l)] {
                Some(other) if other != action => {
                    return plan_err!(
                        "segment scheme '{name}': label '{}' has two different actions ('{other}' and '{action}')",
                        labels[usize::from(l)]
                    );
                }
                _ => actions[usize::from(l)] = Some(action.clone()),
            }
        }
        if d.default_action.is_some() && d.default.is_none() {
            return plan_err!("segment scheme '{name}': default_action needs a default label");
        }
        Ok(Self {
            definition,
            labels,
            cells,
            actions,
            rule_cells: reached,
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

    /// The suggested action of `label`, if the scheme has one.
    pub fn action(&self, label: &str) -> Option<&str> {
        let i = self.labels.iter().position(|l| l == label)?;
        self.actions[i].as_deref()
    }

    /// How many score cells each rule takes (first match), then the default.
    pub fn rule_cells(&self) -> &[usize] {
        &self.rule_cells
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

// The suggested actions of the English RFM segments.
const CHAMPIONS: &str = "Reward them: early access, loyalty perks; ask for reviews";
const LOYAL: &str = "Upsell higher-value products; loyalty programme";
const POTENTIAL: &str = "Offer membership or a loyalty programme; recommend related products";
const NEW: &str = "Onboard: welcome series, second-purchase incentive";
const PROMISING: &str = "Build awareness: free trials, brand content";
const NEED_ATTENTION: &str = "Time-limited offers based on past purchases";
const ABOUT_TO_SLEEP: &str = "Reconnect: popular products, discounts";
const AT_RISK: &str = "Personalised win-back emails and offers";
const CANT_LOSE: &str = "Win them back: personal outreach, renewals, surveys";
const HIBERNATING: &str = "Low-cost reactivation with relevant products; otherwise let go";

/// `rf_grid`: the widely used 10-cell recency × frequency grid (M is ignored).
pub fn rf_grid() -> SchemeDefinition {
    let rules = vec![
        SegmentRule::rf("champions", [5, 5], [4, 5]).with_action(CHAMPIONS),
        SegmentRule::rf("loyal_customers", [3, 4], [4, 5]).with_action(LOYAL),
        SegmentRule::rf("potential_loyalists", [4, 5], [2, 3]).with_action(POTENTIAL),
        SegmentRule::rf("new_customers", [5, 5], [1, 1]).with_action(NEW),
        SegmentRule::rf("promising", [4, 4], [1, 1]).with_action(PROMISING),
        SegmentRule::rf("need_attention", [3, 3], [3, 3]).with_action(NEED_ATTENTION),
        SegmentRule::rf("about_to_sleep", [3, 3], [1, 2]).with_action(ABOUT_TO_SLEEP),
        SegmentRule::rf("at_risk", [1, 2], [3, 4]).with_action(AT_RISK),
        SegmentRule::rf("cant_lose", [1, 2], [5, 5]).with_action(CANT_LOSE),
        SegmentRule::rf("hibernating", [1, 2], [1, 2]).with_action(HIBERNATING),
    ];
    SchemeDefinition {
        name: "rf_grid".into(),
        description: "10-cell recency x frequency grid on 1..5 scores".into(),
        levels: 5,
        method: ScoreMethod::Quantile,
        default: None,
        default_action: None,
        weights: None,
        rules,
    }
}

/// `rfm11`: 11 segments on R against FM = (F + M) / 2. The published ranges overlap, so the
/// precedence is fixed here (most specific first), and `Lost`, whose published range
/// (R ≤ 2, FM ≤ 2) equals Hibernating's, is narrowed to the bottom cell R = 1, FM = 1.
///
/// Champions take the top recency score only (R = 5, as `rf_grid`'s champions; published:
/// R 4–5); R = 4 with FM 4–5 is Loyal. With R 4–5 the top segment pooled the most recent fifth
/// of the customers with the next, which repurchase at less than half their rate (CDNOW, 90
/// days after 1997-09-30: 46 % against 19 %), and the scheme separated future repurchase worse
/// than the recency score alone (docs/guide.md, "The baselines").
pub fn rfm11() -> SchemeDefinition {
    let rules = vec![
        SegmentRule::r_fm("Champions", [5, 5], [4.0, 5.0]).with_action(CHAMPIONS),
        SegmentRule::r_fm("Can't Lose Them", [1, 1], [4.0, 5.0]).with_action(CANT_LOSE),
        SegmentRule::r_fm("Loyal", [2, 5], [3.0, 5.0]).with_action(LOYAL),
        SegmentRule::r_fm("New", [4, 5], [1.0, 1.0]).with_action(NEW),
        SegmentRule::r_fm("Promising", [3, 4], [1.0, 1.0]).with_action(PROMISING),
        SegmentRule::r_fm("Potential Loyalist", [3, 5], [1.0, 3.0]).with_action(POTENTIAL),
        SegmentRule::r_fm("Need Attention", [2, 3], [2.0, 3.0]).with_action(NEED_ATTENTION),
        SegmentRule::r_fm("About to Sleep", [2, 3], [1.0, 2.0]).with_action(ABOUT_TO_SLEEP),
        SegmentRule::r_fm("At Risk", [1, 2], [2.0, 5.0]).with_action(AT_RISK),
        SegmentRule::r_fm("Lost", [1, 1], [1.0, 1.0]).with_action("Reactivate only at low cost; otherwise let go"),
        SegmentRule::r_fm("Hibernating", [1, 2], [1.0, 2.0]).with_action(HIBERNATING),
    ];
    SchemeDefinition {
        name: "rfm11".into(),
        description: "11 segments on R against the mean of F and M, 1..5 scores".into(),
        levels: 5,
        method: ScoreMethod::Quantile,
        default: None,
        default_action: None,
        weights: None,
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

const CN8_ACTIONS_ZH: [&str; 8] = [
    "重点维护：VIP 服务、专属权益",
    "主动联系唤回，了解流失原因",
    "提高购买频次：会员计划、复购激励",
    "重点挽留：个性化优惠",
    "提升客单价：交叉销售、套餐",
    "唤醒：促销提醒",
    "培养：新客引导、优惠券",
    "低成本召回或放弃",
];
const CN8_ACTIONS_EN: [&str; 8] = [
    "Keep: VIP service, exclusive benefits",
    "Reach out: find out why they stopped, bring them back",
    "Raise frequency: membership, repeat-purchase incentives",
    "Retain: personalised offers",
    "Raise order value: cross-sell, bundles",
    "Re-engage: promotion reminders",
    "Develop: onboarding, coupons",
    "Low-cost reactivation, or let go",
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
    let actions = if english { CN8_ACTIONS_EN } else { CN8_ACTIONS_ZH };
    let rules = labels
        .iter()
        .zip(flags)
        .zip(actions)
        .map(|((label, (r, f, m)), action)| {
            SegmentRule::rfm(label, [r + 1, r + 1], [f + 1, f + 1], [m + 1, m + 1]).with_action(action)
        })
        .collect();
    SchemeDefinition {
        name: if english { "cn8_en" } else { "cn8" }.into(),
        description: "Chinese 8-class customer value scheme on high/low R, F, M".into(),
        levels: 2,
        method: ScoreMethod::Mean,
        default: None,
        default_action: None,
        weights: None,
        rules,
    }
}

/// `rfm3` / `rfm3_en`: three levels (terciles: 3 = high, 2 = medium, 1 = low) per dimension,
/// R high meaning recent. Each of the 27 cells is a segment named by its levels (`R高F中M低` /
/// `R high, F medium, M low`), best first. The suggested action depends on the R level and
/// the value level `F + M` (high 5–6, medium 3–4, low 2).
pub fn rfm3(english: bool) -> SchemeDefinition {
    let level = |v: u8| match (v, english) {
        (3, false) => "高",
        (2, false) => "中",
        (_, false) => "低",
        (3, true) => "high",
        (2, true) => "medium",
        (_, true) => "low",
    };
    // [R level][value level]: value 0 = low (F + M = 2), 1 = medium (3-4), 2 = high (5-6).
    let actions: [[&str; 3]; 3] = if english {
        [
            [
                "Low priority: automated reactivation only",
                "Win back with a time-limited offer",
                "Win back now: personal outreach, strong offer",
            ],
            [
                "Nurture at low cost: newsletters",
                "Re-engage: targeted promotions",
                "Keep warm: personalised offers before they lapse",
            ],
            [
                "Onboard: second-purchase incentive",
                "Develop: cross-sell, loyalty enrolment",
                "Reward and retain: VIP service, early access",
            ],
        ]
    } else {
        [
            [
                "低优先级：仅自动化召回",
                "限时优惠召回",
                "立即挽回：一对一联系、强力优惠",
            ],
            ["低成本培育：邮件、推送", "唤醒：定向促销", "保持：个性化关怀，防止流失"],
            ["引导二次购买", "培养：交叉销售、会员计划", "维护：VIP 服务、新品优先"],
        ]
    };
    let mut rules = vec![];
    for r in (1..=3u8).rev() {
        for f in (1..=3u8).rev() {
            for m in (1..=3u8).rev() {
                let label = if english {
                    format!("R {}, F {}, M {}", level(r), level(f), level(m))
                } else {
                    format!("R{}F{}M{}", level(r), level(f), level(m))
                };
                let value = match f + m {
                    5.. => 2,
                    3..=4 => 1,
                    _ => 0,
                };
                rules.push(
                    SegmentRule::rfm(&label, [r, r], [f, f], [m, m]).with_action(actions[usize::from(r - 1)][value]),
                );
            }
        }
    }
    SchemeDefinition {
        name: if english { "rfm3_en" } else { "rfm3" }.into(),
        description: "Three levels (high/medium/low) per dimension: the 27 cells of 1..3 scores".into(),
        levels: 3,
        method: ScoreMethod::Quantile,
        default: None,
        default_action: None,
        weights: None,
        rules,
    }
}

/// The weights of the composite score of `tiers`: R 0.4, F 0.3, M 0.3.
pub const TIER_WEIGHTS: [f64; 3] = [0.4, 0.3, 0.3];

/// `tiers` / `tiers_en`: composite-score tiers (综合评分) on 1..5 quantile scores. The
/// composite `S = 0.4·r + 0.3·f + 0.3·m` is read as a score level, rounded half up: first
/// match, core (核心客户) `S ≥ 4.5` (level 5); at risk (流失风险客户) `r ≤ 2` and FM ≥ 3.5
/// (valuable but not recent); potential (潜力客户) `S ≥ 3.5` (level 4); regular (一般客户)
/// `S ≥ 2.5` (level 3); else dormant (沉睡客户, levels 1–2).
///
/// The bounds were 4, 3 and 2 (S truncated to a level): core then took every customer from
/// S = 4, a quarter of CDNOW's, recent and not so recent alike, and the tiers separated future
/// revenue and repurchase worse than the recency score alone (docs/guide.md, "The baselines").
pub fn tiers(english: bool) -> SchemeDefinition {
    let t = |zh: &'static str, en: &'static str| if english { en } else { zh };
    let rule = |label: &str, action: &str| SegmentRule::new(label).with_action(action);
    let rules = vec![
        SegmentRule {
            weighted: Some([4.5, 5.0]),
            ..rule(
                t("核心客户", "core"),
                t(
                    "重点维护：VIP 服务、专属权益、新品优先",
                    "Protect: VIP care, exclusive benefits, early access",
                ),
            )
        },
        SegmentRule {
            r: Some([1, 2]),
            fm: Some([3.5, 5.0]),
            ..rule(
                t("流失风险客户", "at_risk"),
                t(
                    "立即挽留：一对一联系、挽留优惠",
                    "Win back now: personal outreach and a retention offer",
                ),
            )
        },
        SegmentRule {
            weighted: Some([3.5, 5.0]),
            ..rule(
                t("潜力客户", "potential"),
                t(
                    "重点培养：交叉销售、会员升级",
                    "Develop: cross-sell, membership upgrade",
                ),
            )
        },
        SegmentRule {
            weighted: Some([2.5, 5.0]),
            ..rule(
                t("一般客户", "regular"),
                t("常规维护：常规营销活动", "Maintain at low cost: routine campaigns"),
            )
        },
    ];
    SchemeDefinition {
        name: if english { "tiers_en" } else { "tiers" }.into(),
        description: "Composite-score tiers: S = 0.4 r + 0.3 f + 0.3 m on 1..5 scores, rounded to a level".into(),
        levels: 5,
        method: ScoreMethod::Quantile,
        default: Some(t("沉睡客户", "dormant").into()),
        default_action: Some(
            t(
                "低成本唤醒（自动化提醒）或放弃",
                "Reactivate cheaply (automated reminders) or let go",
            )
            .into(),
        ),
        weights: Some(TIER_WEIGHTS),
        rules,
    }
}

static BUILTINS: LazyLock<BTreeMap<String, Arc<SegmentScheme>>> = LazyLock::new(|| {
    [
        rf_grid(),
        rfm11(),
        cn8(false),
        cn8(true),
        rfm3(false),
        rfm3(true),
        tiers(false),
        tiers(true),
    ]
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

    /// The definitions of the schemes registered beyond the built-in ones, in name order.
    pub fn added(&self) -> Vec<SchemeDefinition> {
        (self.schemes.iter())
            .filter(|(name, _)| !BUILTINS.contains_key(*name))
            .map(|(_, s)| s.definition().clone())
            .collect()
    }

    /// The built-in schemes plus `added` (checked as [`SchemeRegistry::register`] does).
    pub fn with_added(added: Vec<SchemeDefinition>) -> Result<Self> {
        let mut schemes = Self::default();
        for definition in added {
            schemes.register(SegmentScheme::new(definition)?)?;
        }
        Ok(schemes)
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
        // Champions are the most recent only; R = 4 with FM 4..5 is Loyal.
        assert_eq!(s.assign(4, 5, 5).unwrap(), "Loyal");
        assert_eq!(s.assign(5, 4, 4).unwrap(), "Champions");
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
                .contains("known schemes are cn8, cn8_en, rf_grid, rfm11, rfm3, rfm3_en, tiers, tiers_en, two")
        );
    }

    #[test]
    fn three_level_and_tier_schemes() {
        let reg = SchemeRegistry::new();
        let zh = reg.get("rfm3").unwrap();
        let en = reg.get("rfm3_en").unwrap();
        assert_eq!(grid(&zh).len(), 27);
        assert_eq!(zh.assign(3, 2, 1).unwrap(), "R高F中M低");
        assert_eq!(en.assign(3, 3, 3).unwrap(), "R high, F high, M high");
        assert_eq!(en.labels()[0], "R high, F high, M high");
        assert_eq!(
            en.action("R low, F high, M high"),
            Some("Win back now: personal outreach, strong offer")
        );
        assert_eq!(zh.action("R中F低M低"), Some("低成本培育：邮件、推送"));

        let tiers = reg.get("tiers").unwrap();
        let tiers_en = reg.get("tiers_en").unwrap();
        // S = 0.4 r + 0.3 f + 0.3 m, rounded: (4, 4, 4) is exactly 4, and S is read as a
        // level rounded half up (core 5, potential 4, regular 3, dormant 1-2).
        assert_eq!(weighted_score(TIER_WEIGHTS, 4, 4, 4), 4.0);
        assert_eq!(tiers.assign(4, 4, 4).unwrap(), "潜力客户"); // S = 4: level 4
        assert_eq!(tiers.assign(5, 5, 4).unwrap(), "核心客户"); // S = 4.7
        assert_eq!(tiers.assign(4, 5, 5).unwrap(), "核心客户"); // S = 4.6
        assert_eq!(tiers.assign(5, 4, 4).unwrap(), "潜力客户"); // S = 4.4
        assert_eq!(tiers.assign(5, 3, 3).unwrap(), "潜力客户"); // S = 3.8
        assert_eq!(tiers.assign(2, 5, 5).unwrap(), "流失风险客户"); // S = 3.8, but R <= 2, FM = 5
        assert_eq!(tiers.assign(1, 1, 5).unwrap(), "沉睡客户"); // S = 2.2, FM = 3
        assert_eq!(tiers.assign(4, 1, 2).unwrap(), "一般客户"); // S = 2.5: level 3
        assert_eq!(tiers.assign(1, 1, 1).unwrap(), "沉睡客户");
        assert_eq!(tiers_en.assign(3, 2, 2).unwrap(), "dormant"); // S = 2.4
        assert_eq!(tiers_en.assign(4, 1, 2).unwrap(), "regular"); // S = 2.5: level 3
        assert_eq!(tiers_en.assign(4, 2, 2).unwrap(), "regular"); // S = 2.8
        assert_eq!(tiers_en.assign(4, 3, 2).unwrap(), "regular"); // S = 3.1
        assert_eq!(tiers_en.assign(4, 3, 3).unwrap(), "regular"); // S = 3.4
        assert_eq!(tiers_en.assign(5, 3, 2).unwrap(), "potential"); // S = 3.5: level 4
        assert_eq!(
            tiers_en.action("dormant"),
            Some("Reactivate cheaply (automated reminders) or let go")
        );
        assert_eq!(
            tiers_en.labels(),
            ["core", "at_risk", "potential", "regular", "dormant"]
        );
        // Every cell is counted once.
        assert_eq!(tiers.rule_cells().iter().sum::<usize>(), 125);

        // Total and weighted rules in a user scheme; weights are required by weighted rules.
        let toml = r#"
            name = "composite"
            levels = 3
            weights = [0.5, 0.25, 0.25]
            default = "low"
            default_action = "wait"
            [[rule]]
            label = "top"
            total = [8, 9]
            action = "call"
            [[rule]]
            label = "mid"
            weighted = [2.0, 3.0]
        "#;
        let s = SegmentScheme::from_toml(toml).unwrap();
        assert_eq!(s.assign(3, 3, 2).unwrap(), "top");
        assert_eq!(s.assign(3, 1, 1).unwrap(), "mid"); // 1.5 + 0.25 + 0.25 = 2
        assert_eq!(s.assign(1, 3, 3).unwrap(), "mid"); // 0.5 + 0.75 + 0.75 = 2
        assert_eq!(s.assign(1, 2, 1).unwrap(), "low"); // 1.25
        assert_eq!(s.action("top"), Some("call"));
        assert_eq!(s.action("mid"), None);
        assert_eq!(s.action("low"), Some("wait"));
        let no_weights = r#"{"name":"w","levels":2,"default":"x","rule":[{"label":"hi","weighted":[1.5,2]}]}"#;
        let e = SegmentScheme::from_json(no_weights).unwrap_err().to_string();
        assert!(e.contains("needs the scheme's weights"), "{e}");
        let two_actions = r#"{"name":"a","levels":2,"default":"x","rule":[{"label":"hi","r":[2,2],"action":"a"},{"label":"hi","f":[2,2],"action":"b"}]}"#;
        let e = SegmentScheme::from_json(two_actions).unwrap_err().to_string();
        assert!(e.contains("two different actions"), "{e}");
        let bad_total = r#"{"name":"t","levels":2,"default":"x","rule":[{"label":"hi","total":[2,6]}]}"#;
        let e = SegmentScheme::from_json(bad_total).unwrap_err().to_string();
        assert!(e.contains("3 <= lo <= hi <= 6"), "{e}");
    }

    #[test]
    fn cell_codes() {
        assert_eq!(cell_code(5, 4, 5), "545");
        assert_eq!(cell_code(10, 1, 9), "A19");
    }
}
