//! The report page: one self-contained HTML file (inline CSS and SVG, no script, no network).

use std::fmt::Write;

use super::svg::esc;

/// One report section.
#[derive(Debug, Clone)]
pub struct Section {
    /// The element id (`overview`, `rfm`, …), also the anchor in the contents.
    pub id: &'static str,
    /// The heading.
    pub title: String,
    /// Body HTML: paragraphs, figures and tables.
    pub body: String,
}

impl Section {
    /// An empty section.
    pub fn new(id: &'static str, title: impl Into<String>) -> Self {
        Self {
            id,
            title: title.into(),
            body: String::new(),
        }
    }

    /// Adds a paragraph of plain text.
    pub fn para(&mut self, text: &str) {
        let _ = write!(self.body, "<p>{}</p>", esc(text));
    }

    /// Adds a chart with its one-sentence caption.
    pub fn figure(&mut self, svg: String, caption: &str) {
        let _ = write!(
            self.body,
            "<figure>{svg}<figcaption>{}</figcaption></figure>",
            esc(caption)
        );
    }

    /// Adds a chart with a caption saying what it means and, after it, what to do about it.
    pub fn figure_action(&mut self, svg: String, meaning: &str, action: &str) {
        let _ = write!(
            self.body,
            "<figure>{svg}<figcaption>{} <span class=\"caption-action\">{}</span></figcaption></figure>",
            esc(meaning),
            esc(action)
        );
    }

    /// Adds a table with a caption; numeric-looking cells are right-aligned.
    pub fn table(&mut self, caption: &str, header: &[&str], rows: &[Vec<String>]) {
        let numeric = |c: &str| {
            c.chars()
                .next()
                .is_some_and(|ch| ch.is_ascii_digit() || ch == '-' || ch == '−')
                && c.chars().all(|ch| ch.is_ascii_digit() || ".,-−% ±()e+kMB".contains(ch))
        };
        let class = |n: bool| if n { " class=\"num\"" } else { "" };
        let _ = write!(self.body, "<figure class=\"table\"><table><thead><tr>");
        for (i, h) in header.iter().enumerate() {
            let n = rows.first().and_then(|r| r.get(i)).is_some_and(|c| numeric(c));
            let _ = write!(self.body, "<th{}>{}</th>", class(n), esc(h));
        }
        self.body.push_str("</tr></thead><tbody>");
        for r in rows {
            self.body.push_str("<tr>");
            for c in r {
                let _ = write!(self.body, "<td{}>{}</td>", class(numeric(c)), esc(c));
            }
            self.body.push_str("</tr>");
        }
        let _ = write!(
            self.body,
            "</tbody></table><figcaption>{}</figcaption></figure>",
            esc(caption)
        );
    }

    /// Adds a note that a part could not be computed, and why.
    pub fn note(&mut self, text: &str) {
        let _ = write!(self.body, "<p class=\"note\">{}</p>", esc(text));
    }
}

const CSS: &str = r#"
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1a1a1a;
       max-width: 900px; margin: 0 auto; padding: 24px 28px 60px; line-height: 1.45; background: #fff; }
h1 { font-size: 1.7em; margin: 0 0 4px; }
.subtitle { color: #555; margin: 0 0 18px; }
nav { border-top: 1px solid #ddd; border-bottom: 1px solid #ddd; padding: 8px 0; margin-bottom: 10px; font-size: .95em; }
nav { display: flex; flex-wrap: wrap; gap: 4px 14px; }
nav a { color: #0b5394; text-decoration: none; }
.finding { margin: 8px 0; }
.finding b { display: block; }
section { margin-top: 34px; }
h2 { font-size: 1.3em; border-bottom: 2px solid #0072B2; padding-bottom: 4px; }
figure { margin: 18px 0 22px; }
figure svg { width: 100%; height: auto; display: block; font-family: inherit; }
figcaption { color: #444; font-size: .92em; margin-top: 6px; }
table { border-collapse: collapse; font-size: .92em; width: 100%; }
th, td { padding: 4px 8px; border-bottom: 1px solid #e4e4e4; text-align: left; }
th { background: #f3f6fa; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.kpis { display: flex; flex-wrap: wrap; gap: 10px; margin: 14px 0; }
.kpi { border: 1px solid #dde3ea; border-radius: 6px; padding: 8px 14px; min-width: 120px; }
.kpi b { display: block; font-size: 1.35em; }
.kpi span { color: #555; font-size: .88em; }
.lead { break-inside: avoid; }
.caption-action { color: #0b5394; }
.note { color: #8a4b00; background: #fff6e5; padding: 6px 10px; border-radius: 4px; }
footer { margin-top: 40px; color: #777; font-size: .85em; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  nav { display: none; }
  section { break-before: auto; }
  figure, table, .kpis, .lead { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  a { color: inherit; text-decoration: none; }
}
"#;

/// Key figures as a row of boxes.
pub fn kpis(items: &[(&str, String)]) -> String {
    let mut out = String::from("<div class=\"kpis\">");
    for (label, value) in items {
        let _ = write!(
            out,
            "<div class=\"kpi\"><b>{}</b><span>{}</span></div>",
            esc(value),
            esc(label)
        );
    }
    out.push_str("</div>");
    out
}

/// The end of a section body's lead: its blocks up to and including the first chart, table or
/// row of key figures (at most three blocks), which print on one page with the heading. The body
/// is made of the blocks [`Section`] and [`kpis`] write: `<p>`, `<div class="kpis">` and
/// `<figure>`, none nested in another of its kind.
fn lead_end(body: &str) -> usize {
    let mut at = 0;
    for _ in 0..3 {
        let rest = &body[at..];
        let (close, last) = if rest.starts_with("<figure") {
            ("</figure>", true)
        } else if rest.starts_with("<div class=\"kpis\">") {
            ("</div></div>", true)
        } else if rest.starts_with("<p") {
            ("</p>", false)
        } else {
            break;
        };
        let Some(end) = rest.find(close) else { break };
        at += end + close.len();
        if last {
            break;
        }
    }
    at
}

/// The whole page.
pub fn page(title: &str, subtitle: &str, sections: &[Section], footer: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{CSS}</style></head><body><header><h1>{}</h1><p class=\"subtitle\">{}</p></header><nav>",
        esc(title),
        esc(title),
        esc(subtitle)
    );
    for s in sections {
        let _ = write!(out, "<a href=\"#{}\">{}</a>", s.id, esc(&s.title));
    }
    out.push_str("</nav>");
    for s in sections {
        let (lead, rest) = s.body.split_at(lead_end(&s.body));
        let _ = write!(
            out,
            "<section id=\"{}\"><div class=\"lead\"><h2>{}</h2>{lead}</div>{rest}</section>",
            s.id,
            esc(&s.title),
        );
    }
    let _ = writeln!(out, "<footer>{}</footer></body></html>", esc(footer));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lead_keeps_the_heading_with_the_first_chart() {
        let mut s = Section::new("x", "X");
        s.para("intro");
        s.figure("<svg></svg>".into(), "one.");
        s.figure("<svg></svg>".into(), "two.");
        let page = page("t", "s", &[s], "f");
        assert!(page.contains(
            "<div class=\"lead\"><h2>X</h2><p>intro</p><figure><svg></svg><figcaption>one.</figcaption></figure></div><figure>"
        ));
        let mut k = Section::new("k", "K");
        k.body.push_str(&kpis(&[("a", "1".into()), ("b", "2".into())]));
        k.note("n");
        assert!(page_of(&k).contains("</div></div></div><p class=\"note\">n</p></section>"));
    }

    fn page_of(s: &Section) -> String {
        page("t", "s", std::slice::from_ref(s), "f")
    }
}
