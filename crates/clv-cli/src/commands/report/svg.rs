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

/// The advance of `c` in ems in the page's sans-serif font (DejaVu Sans or a system UI font):
/// East Asian Wide and Fullwidth characters (CJK, kana, hangul, fullwidth forms) take a full em,
/// combining marks none, and the rest an upper estimate by class.
fn advance(c: char) -> f64 {
    match unicode_width::UnicodeWidthChar::width(c) {
        Some(0) => 0.0,
        Some(2) => 1.0,
        _ if c == ' ' => 0.33,
        _ if c.is_ascii_digit() => 0.64,
        _ if c.is_ascii_uppercase() || "mwMW@%".contains(c) => 0.8,
        _ if c.is_ascii_lowercase() => 0.62,
        _ if c.is_ascii_punctuation() => 0.45,
        _ => 0.8,
    }
}

/// The width of `text` in pixels at `size` px, measured per character (see [`advance`]), so a
/// label in Chinese, Japanese or Korean gets the room it takes.
pub fn text_width(text: &str, size: f64) -> f64 {
    text.chars().map(advance).sum::<f64>() * size
}

/// `text` broken into lines no wider than `max` pixels at `size` px: at spaces, or between any
/// two characters of a word that is wider alone (as CJK text, which has no spaces).
pub fn wrap(text: &str, max: f64, size: f64) -> Vec<String> {
    let mut lines: Vec<String> = vec![];
    let mut line = String::new();
    for word in text.split(' ') {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if text_width(&candidate, size) <= max {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        for c in word.chars() {
            if !line.is_empty() && text_width(&format!("{line}{c}"), size) > max {
                lines.push(std::mem::take(&mut line));
            }
            line.push(c);
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Space kept free at the edges of a chart.
const MARGIN: f64 = 4.0;

/// The widest a label column may take before its labels wrap: 40 % of the chart.
const LABEL_MAX: f64 = 0.4 * WIDTH;

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

/// Text of several lines, the block centred vertically on `y`.
fn text_lines(out: &mut String, x: f64, y: f64, anchor: &str, size: f64, lines: &[String]) {
    let line_h = size * 1.2;
    let first = y - line_h * (lines.len() as f64 - 1.0) / 2.0;
    let _ = write!(
        out,
        "<text x=\"{x:.1}\" y=\"{first:.1}\" text-anchor=\"{anchor}\" dominant-baseline=\"middle\" font-size=\"{size}\">"
    );
    for (i, l) in lines.iter().enumerate() {
        let _ = write!(
            out,
            "<tspan x=\"{x:.1}\" dy=\"{}\">{}</tspan>",
            if i == 0 { 0.0 } else { line_h },
            esc(l)
        );
    }
    out.push_str("</text>");
}

/// A centred title at `cx`, moved (and if need be shrunk) so it stays inside the chart.
fn centred(out: &mut String, cx: f64, y: f64, extra: &str, content: &str) {
    let size = FONT.min(FONT * (WIDTH - 2.0 * MARGIN) / text_width(content, FONT).max(1.0));
    let half = text_width(content, size) / 2.0;
    let cx = cx.clamp(MARGIN + half, WIDTH - MARGIN - half);
    text(
        out,
        cx,
        y,
        "middle",
        &format!("{extra} font-size=\"{size:.1}\""),
        content,
    );
}

/// The legend of the series: rows of swatches and names from `x`, wrapping before the right
/// edge. Returns the SVG and the number of rows.
fn legend(x: f64, y: f64, names: &[&str]) -> (String, usize) {
    let mut out = String::new();
    let (mut cx, mut cy, mut rows) = (x, y, 1);
    for (i, name) in names.iter().enumerate() {
        let w = 28.0 + text_width(name, FONT);
        if cx > x && cx + w > WIDTH - MARGIN {
            (cx, cy, rows) = (x.min(MARGIN + 20.0), cy + LEGEND_ROW, rows + 1);
        }
        let _ = write!(
            out,
            "<rect x=\"{cx:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/>",
            cy - 10.0,
            PALETTE[i % PALETTE.len()]
        );
        text(&mut out, cx + 16.0, cy, "start", "", name);
        cx += w;
    }
    (out, rows)
}

const LEGEND_ROW: f64 = 18.0;

/// Horizontal bars: one group per label, one bar per series (values as `format`). Labels take
/// the room they measure, up to 40 % of the width, and wrap beyond it.
pub fn hbars(label: &str, labels: &[String], series: &[(&str, Vec<f64>)], format: fn(f64) -> String) -> String {
    let widest = labels.iter().map(|l| text_width(l, FONT)).fold(24.0, f64::max);
    let left = 14.0 + widest.min(LABEL_MAX);
    let wrapped: Vec<Vec<String>> = labels.iter().map(|l| wrap(l, left - 14.0, FONT)).collect();
    let bar_h = 14.0;
    let (legend_svg, legend_rows) = legend(left, 16.0, &series.iter().map(|(n, _)| *n).collect::<Vec<_>>());
    let top = 30.0 + LEGEND_ROW * (legend_rows - 1) as f64;
    let group_hs: Vec<f64> = wrapped
        .iter()
        .map(|w| (bar_h * series.len() as f64 + 10.0).max(FONT * 1.2 * w.len() as f64 + 8.0))
        .collect();
    let height = top + group_hs.iter().sum::<f64>() + 10.0;
    let max = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let widest_value = series
        .iter()
        .flat_map(|(_, v)| v.iter().map(|x| text_width(&format(*x), 11.0)))
        .fold(30.0, f64::max);
    let span = WIDTH - left - widest_value - 8.0 - MARGIN;
    let mut out = open(height, label);
    out.push_str(&legend_svg);
    let mut y0 = top;
    for (i, l) in labels.iter().enumerate() {
        let group_h = group_hs[i];
        text_lines(&mut out, left - 8.0, y0 + group_h / 2.0, "end", FONT, &wrapped[i]);
        let bars_top = y0 + (group_h - bar_h * series.len() as f64) / 2.0;
        for (s, (_, values)) in series.iter().enumerate() {
            let v = values.get(i).copied().unwrap_or(0.0);
            let w = if max > 0.0 && v.is_finite() {
                span * v.max(0.0) / max
            } else {
                0.0
            };
            let y = bars_top + bar_h * s as f64;
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
        y0 += group_h;
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
    columns_marked(label, categories, series, x_title, y_title, &[])
}

/// [`columns`] with some categories marked (drawn hatched-light, e.g. a partial period): their
/// bars are paler and their tick label ends in `*`.
pub fn columns_marked(
    label: &str,
    categories: &[String],
    series: &[(&str, Vec<f64>)],
    x_title: &str,
    y_title: &str,
    marked: &[usize],
) -> String {
    let (left, right, bottom) = (64.0, 16.0, 48.0);
    let (legend_svg, legend_rows) = legend(left, 16.0, &series.iter().map(|(n, _)| *n).collect::<Vec<_>>());
    let top = 30.0 + LEGEND_ROW * (legend_rows - 1) as f64;
    let height = 270.0 + top;
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
    out.push_str(&legend_svg);
    axes_y(&mut out, &ts, left, plot_w, y_of);
    let group_w = plot_w / categories.len().max(1) as f64;
    let bar_w = (group_w * 0.8) / series.len().max(1) as f64;
    let tick = |i: usize, c: &str| {
        if marked.contains(&i) {
            format!("{c}*")
        } else {
            c.to_string()
        }
    };
    let widest = categories
        .iter()
        .enumerate()
        .map(|(i, c)| text_width(&tick(i, c), 11.0) + 6.0)
        .fold(0.0, f64::max);
    let every = ((widest / group_w).ceil() as usize)
        .max((categories.len() as f64 / 24.0).ceil() as usize)
        .max(1);
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
                "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"{}><title>{}</title></rect>",
                x0 + bar_w * s as f64,
                (bar_w - 1.0).max(0.5),
                top + plot_h - y,
                PALETTE[s % PALETTE.len()],
                if marked.contains(&i) {
                    " fill-opacity=\"0.45\""
                } else {
                    ""
                },
                esc(&format!("{name}, {c}: {}", short(v)))
            );
        }
        if i % every == 0 || (marked.contains(&i) && i + 1 == categories.len()) {
            let t = tick(i, c);
            let half = text_width(&t, 11.0) / 2.0;
            let cx = (left + group_w * (i as f64 + 0.5)).clamp(MARGIN + half, WIDTH - MARGIN - half);
            text(&mut out, cx, top + plot_h + 15.0, "middle", "font-size=\"11\"", &t);
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
    centred(out, left + plot_w / 2.0, height - 8.0, "fill=\"#444\"", x_title);
    let cy = top + plot_h / 2.0;
    let size = FONT.min(FONT * plot_h / text_width(y_title, FONT).max(1.0));
    let _ = write!(
        out,
        "<text x=\"14\" y=\"{cy:.1}\" text-anchor=\"middle\" fill=\"#444\" font-size=\"{size:.1}\" transform=\"rotate(-90 14 {cy:.1})\">{}</text>",
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
    let (left, right, bottom) = (64.0, 16.0, 48.0);
    let (legend_svg, legend_rows) = legend(left, 16.0, &series.iter().map(|(n, _)| *n).collect::<Vec<_>>());
    let top = 30.0 + LEGEND_ROW * (legend_rows - 1) as f64;
    let height = 270.0 + top;
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
    out.push_str(&legend_svg);
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

/// How a heat map is coloured and marked.
#[derive(Debug, Clone, Default)]
pub struct HeatmapStyle {
    /// Columns before this one are left out of the colour scale and drawn grey (a cohort's
    /// offset 0, always 100 %, would wash out the rest).
    pub first_scaled_column: usize,
    /// Cells (row, column) drawn with a dashed outline, their label ending in `*` (a partial
    /// period).
    pub marked: Vec<(usize, usize)>,
}

/// A heat map: `values[row][col]` coloured by their share of the largest value (of the columns
/// in the scale), with `labels` written in the cells (empty cells for `None`). Row labels take
/// the room they measure (up to 40 % of the width, then wrap); column labels turn vertical when
/// they are wider than a cell; cell labels shrink to their cell.
#[allow(clippy::too_many_arguments)] // the chart's data, titles and style
pub fn heatmap(
    label: &str,
    rows: &[String],
    cols: &[String],
    values: &[Vec<Option<f64>>],
    labels: &[Vec<String>],
    x_title: &str,
    y_title: &str,
    style: &HeatmapStyle,
) -> String {
    let row_font = 11.0;
    let widest = rows.iter().map(|l| text_width(l, row_font)).fold(24.0, f64::max);
    let left = 14.0 + widest.min(LABEL_MAX);
    let row_lines: Vec<Vec<String>> = rows.iter().map(|l| wrap(l, left - 14.0, row_font)).collect();
    let most_lines = row_lines.iter().map(Vec::len).max().unwrap_or(1) as f64;
    let (top, right) = (26.0, 10.0);
    let plot_w = WIDTH - left - right;
    let cell_w = plot_w / cols.len().max(1) as f64;
    let cell_h = (cell_w * 0.6).clamp(16.0, 34.0).max(row_font * 1.2 * most_lines + 4.0);
    let plot_h = cell_h * rows.len() as f64;
    let col_font = 11.0;
    let every = (cols.len() as f64 / 24.0).ceil().max(1.0) as usize;
    let widest_col = cols.iter().map(|c| text_width(c, col_font)).fold(0.0, f64::max);
    let vertical = widest_col > cell_w * every as f64 - 4.0;
    let col_band = if vertical { widest_col + 10.0 } else { 20.0 };
    let height = top + plot_h + col_band + 24.0;
    let scaled = |c: usize| c >= style.first_scaled_column;
    let in_scale = || {
        values.iter().flat_map(|r| {
            r.iter()
                .enumerate()
                .filter(|(c, _)| scaled(*c))
                .filter_map(|(_, v)| *v)
                .filter(|v| v.is_finite())
        })
    };
    let max = in_scale().fold(0.0, f64::max);
    let min = in_scale().fold(f64::INFINITY, f64::min).min(0.0);
    let font = (cell_w / 4.2).clamp(7.0, 12.0);
    let mut out = open(height, label);
    for (r, row) in rows.iter().enumerate() {
        let y = top + cell_h * r as f64;
        text_lines(&mut out, left - 6.0, y + cell_h / 2.0, "end", row_font, &row_lines[r]);
        for (c, col) in cols.iter().enumerate() {
            let x = left + cell_w * c as f64;
            let Some(v) = values.get(r).and_then(|v| v.get(c)).copied().flatten() else {
                continue;
            };
            let marked = style.marked.contains(&(r, c));
            let t = if max > min { (v - min) / (max - min) } else { 0.0 };
            let fill = if scaled(c) { blues(t) } else { "#e6e6e6".to_string() };
            let shown = labels
                .get(r)
                .and_then(|l| l.get(c))
                .cloned()
                .unwrap_or_else(|| short(v));
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\" stroke=\"{}\"{}><title>{}</title></rect>",
                cell_w,
                cell_h,
                if marked { "#D55E00" } else { "#fff" },
                if marked {
                    " stroke-dasharray=\"3 2\" stroke-width=\"1.5\""
                } else {
                    ""
                },
                esc(&format!(
                    "{row} × {col}: {shown}{}",
                    if marked { " (partial period)" } else { "" }
                ))
            );
            if let Some(l) = labels.get(r).and_then(|l| l.get(c)).filter(|l| !l.is_empty()) {
                let l = if marked { format!("{l}*") } else { l.clone() };
                let size = font.min((cell_w - 3.0) / text_width(&l, 1.0).max(0.01));
                let ink = if scaled(c) && t > 0.5 { "#fff" } else { "#111" };
                text(
                    &mut out,
                    x + cell_w / 2.0,
                    y + cell_h / 2.0 + size / 3.0,
                    "middle",
                    &format!("font-size=\"{size:.1}\" fill=\"{ink}\""),
                    &l,
                );
            }
        }
    }
    for (c, col) in cols.iter().enumerate().filter(|(c, _)| c % every == 0) {
        let cx = left + cell_w * (c as f64 + 0.5);
        if vertical {
            let (x, y) = (cx + col_font / 3.0, top + plot_h + 6.0);
            let _ = write!(
                out,
                "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"end\" font-size=\"{col_font}\" transform=\"rotate(-90 {x:.1} {y:.1})\">{}</text>",
                esc(col)
            );
        } else {
            text(
                &mut out,
                cx,
                top + plot_h + 14.0,
                "middle",
                &format!("font-size=\"{col_font}\""),
                col,
            );
        }
    }
    centred(&mut out, left + plot_w / 2.0, height - 8.0, "fill=\"#444\"", x_title);
    // The row title heads the row labels (rotated text would not fit short maps).
    let title = format!("{y_title} ↓");
    let size = FONT.min(FONT * (WIDTH - 2.0 * MARGIN) / text_width(&title, FONT).max(1.0));
    text(
        &mut out,
        MARGIN,
        top - 9.0,
        "start",
        &format!("fill=\"#444\" font-size=\"{size:.1}\""),
        &title,
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
    fn wide_scripts_measure_a_full_em_and_long_labels_wrap() {
        // 一般挽留客户: six CJK characters, each 1 em; the Latin estimate (0.62 em a lowercase
        // letter) would make them barely more than half as wide.
        assert_eq!(text_width("一般挽留客户", 12.0), 72.0);
        assert_eq!(text_width("ｶﾀｶﾅ", 10.0), 4.0 * 0.8 * 10.0); // halfwidth katakana: narrow
        assert_eq!(text_width("한국", 10.0), 20.0);
        assert!((text_width("ab 1", 10.0) - (0.62 * 2.0 + 0.33 + 0.64) * 10.0).abs() < 1e-9);
        let lines = wrap("a segment label of exactly forty chars!!", 100.0, 12.0);
        assert!(
            lines.len() > 1 && lines.iter().all(|l| text_width(l, 12.0) <= 100.0),
            "{lines:?}"
        );
        assert_eq!(lines.join(" "), "a segment label of exactly forty chars!!");
        let cjk = wrap("重要价值客户重要价值客户", 50.0, 12.0);
        assert_eq!(cjk, vec!["重要价值", "客户重要", "价值客户"]);
        assert_eq!(wrap("", 10.0, 12.0), vec![String::new()]);
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
            &HeatmapStyle::default(),
        );
        assert_eq!(h.matches("<rect").count(), 3);
        assert_eq!(blues(0.0), "#eff6ff");
        assert_eq!(blues(1.0), "#08306b");
    }
}
