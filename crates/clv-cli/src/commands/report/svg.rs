//! Hand-written SVG charts for the report: grouped horizontal bars, grouped columns, heat maps
//! and line charts. Each returns one `<svg>` element with a `viewBox`, so it scales to the page
//! and prints sharply; text is real SVG text in the page's font.

use std::fmt::Write;

/// A qualitative palette (colour-blind safe: Okabe–Ito) for series.
pub const PALETTE: [&str; 6] = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"];

const WIDTH: f64 = 760.0;
const FONT: f64 = 12.0;

/// Escapes text for XML.
pub fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A number in a few significant characters: 1234567 → 1.23M, 0.1234 → 0.123.
pub fn short(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let a = v.abs();
    let (x, suffix) = if a >= 1e9 {
        (v / 1e9, "B")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let digits = if x.abs() >= 100.0 || (x.fract() == 0.0 && suffix.is_empty()) {
        0
    } else if x.abs() >= 10.0 {
        1
    } else if x.abs() >= 1.0 {
        2
    } else {
        3
    };
    let text = format!("{x:.digits$}");
    // 0.800 → 0.8: trailing zeros of a fraction add nothing.
    let text = if text.contains('.') && suffix.is_empty() && x.abs() < 1.0 {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    format!("{text}{suffix}")
}

/// The round step (1, 2, 2.5 or 5 × 10^k) at least `raw`.
#[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(raw > 0.0)` is also true for NaN
pub fn nice_step(raw: f64) -> f64 {
    if !(raw > 0.0) || !raw.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * (1.0 - 1e-12))
        .unwrap_or(10.0 * mag)
}

/// About `n` round tick values covering `[lo, hi]`.
#[allow(clippy::neg_cmp_op_on_partial_ord)] // `!(hi > lo)` is also true for NaN
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !(hi > lo) || !lo.is_finite() || !hi.is_finite() {
        return vec![lo];
    }
    let step = nice_step((hi - lo) / n.max(1) as f64);
    let start = (lo / step).floor() * step;
    let mut out = vec![];
    let mut t = start;
    while t <= hi + step * 1e-9 {
        out.push((t / step).round() * step);
        t += step;
    }
    if out.last().is_some_and(|l| *l < hi) {
        out.push(out.last().copied().unwrap_or(hi) + step);
    }
    out
}

fn open(height: f64, label: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height:.0}\" role=\"img\" aria-label=\"{}\" font-size=\"{FONT}\">",
        esc(label)
    )
}

fn text(out: &mut String, x: f64, y: f64, anchor: &str, extra: &str, content: &str) {
    let _ = write!(
        out,
        "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\" {extra}>{}</text>",
        esc(content)
    );
}

fn legend(out: &mut String, x: f64, y: f64, names: &[&str]) {
    let mut cx = x;
    for (i, name) in names.iter().enumerate() {
        let _ = write!(
            out,
            "<rect x=\"{cx:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/>",
            y - 10.0,
            PALETTE[i % PALETTE.len()]
        );
        text(out, cx + 16.0, y, "start", "", name);
        cx += 28.0 + 7.0 * name.chars().count() as f64;
    }
}

/// Horizontal bars: one group per label, one bar per series (values as `format`).
pub fn hbars(label: &str, labels: &[String], series: &[(&str, Vec<f64>)], format: fn(f64) -> String) -> String {
    let left = 8.0 + 6.8 * labels.iter().map(|l| l.chars().count()).max().unwrap_or(4) as f64;
    let bar_h = 14.0;
    let group_h = bar_h * series.len() as f64 + 10.0;
    let top = 30.0;
    let height = top + group_h * labels.len() as f64 + 10.0;
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let span = WIDTH - left - 70.0;
    let mut out = open(height, label);
    legend(
        &mut out,
        left,
        16.0,
        &series.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
    );
    for (i, l) in labels.iter().enumerate() {
        let y0 = top + group_h * i as f64;
        text(
            &mut out,
            left - 8.0,
            y0 + group_h / 2.0,
            "end",
            "dominant-baseline=\"middle\"",
            l,
        );
        for (s, (_, values)) in series.iter().enumerate() {
            let v = values.get(i).copied().unwrap_or(0.0);
            let w = if max > 0.0 && v.is_finite() {
                span * v.max(0.0) / max
            } else {
                0.0
            };
            let y = y0 + 5.0 + bar_h * s as f64;
            let _ = write!(
                out,
                "<rect x=\"{left:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}</title></rect>",
                bar_h - 2.0,
                PALETTE[s % PALETTE.len()],
                esc(&format!("{l}: {}", format(v)))
            );
            text(
                &mut out,
                left + w + 4.0,
                y + bar_h / 2.0,
                "start",
                "dominant-baseline=\"middle\" font-size=\"11\"",
                &format(v),
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// Vertical grouped columns over categories, with a y axis.
pub fn columns(
    label: &str,
    categories: &[String],
    series: &[(&str, Vec<f64>)],
    x_title: &str,
    y_title: &str,
) -> String {
    let (left, right, top, bottom) = (64.0, 16.0, 30.0, 48.0);
    let height = 300.0;
    let plot_h = height - top - bottom;
    let plot_w = WIDTH - left - right;
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let ts = ticks(0.0, if max > 0.0 { max } else { 1.0 }, 5);
    let top_value = *ts.last().unwrap_or(&1.0);
    let y_of = |v: f64| top + plot_h * (1.0 - v / top_value);
    let mut out = open(height, label);
    legend(
        &mut out,
        left,
        16.0,
        &series.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
    );
    axes_y(&mut out, &ts, left, plot_w, y_of);
    let group_w = plot_w / categories.len().max(1) as f64;
    let bar_w = (group_w * 0.8) / series.len().max(1) as f64;
    let every = (categories.len() as f64 / 24.0).ceil().max(1.0) as usize;
    for (i, c) in categories.iter().enumerate() {
        let x0 = left + group_w * i as f64 + group_w * 0.1;
        for (s, (name, values)) in series.iter().enumerate() {
            let v = values.get(i).copied().unwrap_or(0.0);
            if !v.is_finite() {
                continue;
            }
            let y = y_of(v.max(0.0));
            let _ = write!(
                out,
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}</title></rect>",
                x0 + bar_w * s as f64,
                (bar_w - 1.0).max(0.5),
                top + plot_h - y,
                PALETTE[s % PALETTE.len()],
                esc(&format!("{name}, {c}: {}", short(v)))
            );
        }
        if i % every == 0 {
            text(
                &mut out,
                left + group_w * (i as f64 + 0.5),
                top + plot_h + 15.0,
                "middle",
                "font-size=\"11\"",
                c,
            );
        }
    }
    titles(&mut out, x_title, y_title, left, plot_w, top, plot_h, height);
    out.push_str("</svg>");
    out
}

fn axes_y(out: &mut String, ts: &[f64], left: f64, plot_w: f64, y_of: impl Fn(f64) -> f64) {
    for t in ts {
        let y = y_of(*t);
        let _ = write!(
            out,
            "<line x1=\"{left:.1}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>",
            left + plot_w
        );
        text(out, left - 6.0, y + 4.0, "end", "font-size=\"11\"", &short(*t));
    }
}

#[allow(clippy::too_many_arguments)] // the plot's geometry, as every chart function passes it
fn titles(out: &mut String, x_title: &str, y_title: &str, left: f64, plot_w: f64, top: f64, plot_h: f64, height: f64) {
    text(
        out,
        left + plot_w / 2.0,
        height - 8.0,
        "middle",
        "fill=\"#444\"",
        x_title,
    );
    let cy = top + plot_h / 2.0;
    let _ = write!(
        out,
        "<text x=\"14\" y=\"{cy:.1}\" text-anchor=\"middle\" fill=\"#444\" transform=\"rotate(-90 14 {cy:.1})\">{}</text>",
        esc(y_title)
    );
}

/// Line chart of series of (x, y) points sharing numeric axes.
pub fn lines(
    label: &str,
    series: &[(&str, Vec<(f64, f64)>)],
    x_title: &str,
    y_title: &str,
    y_from_zero: bool,
) -> String {
    let (left, right, top, bottom) = (64.0, 16.0, 30.0, 48.0);
    let height = 300.0;
    let plot_h = height - top - bottom;
    let plot_w = WIDTH - left - right;
    let points: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|(_, p)| p.iter().copied())
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    let (xmin, xmax) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (x, _)| {
            (a.min(*x), b.max(*x))
        });
    let (mut ymin, ymax) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (_, y)| {
            (a.min(*y), b.max(*y))
        });
    if y_from_zero {
        ymin = ymin.min(0.0);
    }
    let (xmin, xmax) = if points.is_empty() {
        (0.0, 1.0)
    } else if xmax > xmin {
        (xmin, xmax)
    } else {
        (xmin - 1.0, xmax + 1.0)
    };
    let (ymin, ymax) = if points.is_empty() {
        (0.0, 1.0)
    } else if ymax > ymin {
        (ymin, ymax)
    } else {
        (ymin - 1.0, ymax + 1.0)
    };
    let yt = ticks(ymin, ymax, 5);
    let (y_lo, y_hi) = (yt[0], *yt.last().unwrap_or(&ymax));
    let x_of = |x: f64| left + plot_w * (x - xmin) / (xmax - xmin);
    let y_of = |y: f64| top + plot_h * (1.0 - (y - y_lo) / (y_hi - y_lo));
    let mut out = open(height, label);
    legend(
        &mut out,
        left,
        16.0,
        &series.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
    );
    axes_y(&mut out, &yt, left, plot_w, y_of);
    for t in ticks(xmin, xmax, 8)
        .into_iter()
        .filter(|t| *t >= xmin - 1e-9 && *t <= xmax + 1e-9)
    {
        text(
            &mut out,
            x_of(t),
            top + plot_h + 15.0,
            "middle",
            "font-size=\"11\"",
            &short(t),
        );
    }
    for (s, (name, pts)) in series.iter().enumerate() {
        let colour = PALETTE[s % PALETTE.len()];
        let path: Vec<String> = pts
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|(x, y)| format!("{:.1},{:.1}", x_of(*x), y_of(*y)))
            .collect();
        let _ = write!(
            out,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            path.join(" ")
        );
        for (x, y) in pts.iter().filter(|(x, y)| x.is_finite() && y.is_finite()) {
            let _ = write!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"><title>{}</title></circle>",
                x_of(*x),
                y_of(*y),
                esc(&format!("{name}: ({}, {})", short(*x), short(*y)))
            );
        }
    }
    titles(&mut out, x_title, y_title, left, plot_w, top, plot_h, height);
    out.push_str("</svg>");
    out
}

/// A colour from white-blue to dark blue for t in [0, 1].
pub fn blues(t: f64) -> String {
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let (a, b) = ((239.0, 246.0, 255.0), (8.0, 48.0, 107.0));
    let c = |x: f64, y: f64| (x + (y - x) * t).round() as u8;
    format!("#{:02x}{:02x}{:02x}", c(a.0, b.0), c(a.1, b.1), c(a.2, b.2))
}

/// A heat map: `values[row][col]` coloured by their share of the largest value, with `labels`
/// written in the cells (empty cells for `None`).
pub fn heatmap(
    label: &str,
    rows: &[String],
    cols: &[String],
    values: &[Vec<Option<f64>>],
    labels: &[Vec<String>],
    x_title: &str,
    y_title: &str,
) -> String {
    let left = 14.0 + 6.8 * rows.iter().map(|l| l.chars().count()).max().unwrap_or(4) as f64;
    let (top, right, bottom) = (26.0, 10.0, 44.0);
    let plot_w = WIDTH - left - right;
    let cell_w = plot_w / cols.len().max(1) as f64;
    let cell_h = (cell_w * 0.6).clamp(16.0, 34.0);
    let plot_h = cell_h * rows.len() as f64;
    let height = top + plot_h + bottom;
    let max = values
        .iter()
        .flatten()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let min = values
        .iter()
        .flatten()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::INFINITY, f64::min)
        .min(0.0);
    let font = (cell_w / 4.2).clamp(7.0, 12.0);
    let mut out = open(height, label);
    for (r, row) in rows.iter().enumerate() {
        let y = top + cell_h * r as f64;
        text(
            &mut out,
            left - 6.0,
            y + cell_h / 2.0 + 4.0,
            "end",
            "font-size=\"11\"",
            row,
        );
        for (c, col) in cols.iter().enumerate() {
            let x = left + cell_w * c as f64;
            let Some(v) = values.get(r).and_then(|v| v.get(c)).copied().flatten() else {
                continue;
            };
            let t = if max > min { (v - min) / (max - min) } else { 0.0 };
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\" stroke=\"#fff\"><title>{}</title></rect>",
                cell_w,
                cell_h,
                blues(t),
                esc(&format!(
                    "{row} × {col}: {}",
                    labels
                        .get(r)
                        .and_then(|l| l.get(c))
                        .cloned()
                        .unwrap_or_else(|| short(v))
                ))
            );
            if let Some(l) = labels.get(r).and_then(|l| l.get(c)).filter(|l| !l.is_empty()) {
                let fill = if t > 0.5 { "#fff" } else { "#111" };
                text(
                    &mut out,
                    x + cell_w / 2.0,
                    y + cell_h / 2.0 + font / 3.0,
                    "middle",
                    &format!("font-size=\"{font:.1}\" fill=\"{fill}\""),
                    l,
                );
            }
        }
    }
    let every = (cols.len() as f64 / 24.0).ceil().max(1.0) as usize;
    for (c, col) in cols.iter().enumerate().filter(|(c, _)| c % every == 0) {
        text(
            &mut out,
            left + cell_w * (c as f64 + 0.5),
            top + plot_h + 14.0,
            "middle",
            "font-size=\"11\"",
            col,
        );
    }
    text(
        &mut out,
        left + plot_w / 2.0,
        height - 8.0,
        "middle",
        "fill=\"#444\"",
        x_title,
    );
    // The row title heads the row labels (rotated text would not fit short maps).
    text(
        &mut out,
        4.0,
        top - 9.0,
        "start",
        "fill=\"#444\"",
        &format!("{y_title} ↓"),
    );
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 9.3, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(0.0, 1.0, 4), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        let t = ticks(-3.0, 17.0, 5);
        assert!(t[0] <= -3.0 && *t.last().unwrap() >= 17.0);
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(short(1234567.0), "1.23M");
        assert_eq!(short(23570.0), "23.6k");
        assert_eq!(short(5.0), "5");
        assert_eq!(short(0.12345), "0.123");
        assert_eq!(short(0.8), "0.8");
        assert_eq!(short(0.25), "0.25");
        assert_eq!(short(f64::NAN), "–");
    }

    #[test]
    fn charts_are_well_formed_svg_with_escaped_text() {
        let labels = vec!["a<b".to_string(), "c".to_string()];
        let svg = hbars("x", &labels, &[("n", vec![1.0, 2.0])], short);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("a&lt;b") && !svg.contains("a<b"));
        let h = heatmap(
            "h",
            &labels,
            &labels,
            &[vec![Some(1.0), None], vec![Some(0.0), Some(2.0)]],
            &[vec!["1".into(), "".into()], vec!["0".into(), "2".into()]],
            "x",
            "y",
        );
        assert_eq!(h.matches("<rect").count(), 3);
        assert_eq!(blues(0.0), "#eff6ff");
        assert_eq!(blues(1.0), "#08306b");
    }
}
