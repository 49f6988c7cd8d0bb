//! Inline SVG plots for the HTML report. Every text that comes from traffic goes through
//! [`crate::html::esc`].

use std::fmt::Write;

use crate::html::esc;
use crate::time::format_us;

const W: f64 = 640.0;
const PAD_L: f64 = 48.0;
const PAD_R: f64 = 12.0;
const PAD_T: f64 = 12.0;
const PAD_B: f64 = 36.0;

/// Histogram of connection intervals (seconds). `None` with fewer than two intervals.
pub fn interval_histogram(intervals: &[f64]) -> Option<String> {
    let vals: Vec<f64> = intervals
        .iter()
        .copied()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .collect();
    if vals.len() < 2 {
        return None;
    }
    let max = vals.iter().copied().fold(0.0f64, f64::max);
    let min = vals.iter().copied().fold(f64::INFINITY, f64::min);
    let bins = 24usize;
    // A little room on both sides so a perfect beacon is one bar in the middle, not an edge.
    let (lo, hi) = if max - min < 1e-9 {
        ((min - 1.0).max(0.0), min + 1.0)
    } else {
        let pad = (max - min) * 0.05;
        ((min - pad).max(0.0), max + pad)
    };
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0u64; bins];
    for v in &vals {
        let i = (((v - lo) / width) as usize).min(bins - 1);
        if let Some(c) = counts.get_mut(i) {
            *c += 1;
        }
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1);
    let h = 200.0;
    let plot_w = W - PAD_L - PAD_R;
    let plot_h = h - PAD_T - PAD_B;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="plot histogram" role="img" xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" viewBox="0 0 {W} {h}"><title>Connection intervals: {} gaps, median {:.1} s</title>"#,
        vals.len(),
        median(&vals)
    );
    axes(&mut s, h);
    let bw = plot_w / bins as f64;
    for (i, c) in counts.iter().enumerate() {
        if *c == 0 {
            continue;
        }
        let bh = plot_h * (*c as f64) / (top as f64);
        let x = PAD_L + bw * i as f64;
        let y = PAD_T + plot_h - bh;
        let from = lo + width * i as f64;
        let _ = write!(
            s,
            r#"<rect class="bar" x="{x:.1}" y="{y:.1}" width="{:.1}" height="{bh:.1}"><title>{c} gaps of {:.1}-{:.1} s</title></rect>"#,
            (bw - 1.0).max(1.0),
            from,
            from + width
        );
    }
    for k in 0..=4 {
        let v = lo + (hi - lo) * f64::from(k) / 4.0;
        let x = PAD_L + plot_w * f64::from(k) / 4.0;
        let _ = write!(
            s,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            h - PAD_B + 16.0,
            fmt_secs(v)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">seconds between connection starts</text><text x="4" y="{:.1}">{top}</text></svg>"#,
        PAD_L + plot_w / 2.0,
        h - 4.0,
        PAD_T + 10.0
    );
    Some(s)
}

/// One row of the timeline.
pub struct Span<'a> {
    pub label: &'a str,
    pub group: usize,
    pub start_us: u64,
    pub end_us: u64,
    pub tooltip: String,
}

/// Flagged flows as bars on one time axis, one row per label (address pair and port) and
/// hunt; `group` picks the colour (the hunt). At most `max_rows` rows and `max_bars` bars are
/// drawn.
pub fn timeline(spans: &[Span<'_>], max_rows: usize, max_bars: usize) -> Option<String> {
    if spans.is_empty() {
        return None;
    }
    let mut rows: Vec<((usize, &str), Vec<&Span<'_>>)> = Vec::new();
    let mut drawn = 0usize;
    for sp in spans {
        if drawn >= max_bars {
            break;
        }
        let key = (sp.group, sp.label);
        if let Some((_, bars)) = rows.iter_mut().find(|(k, _)| *k == key) {
            bars.push(sp);
        } else if rows.len() < max_rows {
            rows.push((key, vec![sp]));
        } else {
            continue;
        }
        drawn += 1;
    }
    let all = rows.iter().flat_map(|(_, b)| b.iter());
    let t0 = all.clone().map(|s| s.start_us).min().unwrap_or(0);
    let t1 = all
        .map(|s| s.end_us.max(s.start_us))
        .max()
        .unwrap_or(t0)
        .max(t0 + 1);
    let row_h = 14.0;
    let label_w = 200.0;
    let h = PAD_T + PAD_B + row_h * rows.len() as f64;
    let plot_l = label_w + 8.0;
    let plot_w = W + 200.0 - plot_l - PAD_R;
    let total_w = W + 200.0;
    let x_of = |t: u64| plot_l + plot_w * (t.saturating_sub(t0)) as f64 / (t1 - t0) as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="plot timeline" role="img" xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{h:.0}" viewBox="0 0 {total_w} {h:.0}"><title>Timeline of {drawn} flagged flows</title>"#
    );
    for (i, ((group, label), bars)) in rows.iter().enumerate() {
        let y = PAD_T + row_h * i as f64;
        let _ = write!(
            s,
            r#"<text class="lbl" x="{label_w:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            y + row_h - 3.0,
            esc(&truncate(label, 34)),
        );
        for r in bars {
            let x = x_of(r.start_us);
            let w = (x_of(r.end_us.max(r.start_us)) - x).max(2.0);
            let _ = write!(
                s,
                r#"<rect class="span c{}" x="{x:.1}" y="{:.1}" width="{w:.1}" height="{:.1}"><title>{}</title></rect>"#,
                group % 8,
                y + 2.0,
                row_h - 4.0,
                esc(&r.tooltip)
            );
        }
    }
    let base = h - PAD_B;
    let _ = write!(
        s,
        r#"<line class="axis" x1="{plot_l}" y1="{base:.1}" x2="{:.1}" y2="{base:.1}"/>"#,
        plot_l + plot_w
    );
    // Ticks to the second over long spans, to the millisecond over short ones.
    let tick = |t: u64| {
        let full = format_us(t);
        let part = if t1 - t0 >= 10_000_000 {
            full.get(..19)
        } else {
            full.get(11..23)
        };
        part.unwrap_or("").to_string()
    };
    for k in 0..=3u64 {
        let t = t0 + (t1 - t0) * k / 3;
        let x = x_of(t);
        let anchor = match k {
            0 => "start",
            3 => "end",
            _ => "middle",
        };
        let _ = write!(
            s,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
            base + 16.0,
            esc(&tick(t))
        );
    }
    s.push_str("</svg>");
    Some(s)
}

fn axes(s: &mut String, h: f64) {
    let base = h - PAD_B;
    let _ = write!(
        s,
        r#"<line class="axis" x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{base}"/><line class="axis" x1="{PAD_L}" y1="{base}" x2="{}" y2="{base}"/>"#,
        W - PAD_R
    );
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(s.len() / 2).copied().unwrap_or(0.0)
}

fn fmt_secs(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// At most `n` characters, with an ellipsis when cut.
pub fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_beacon_is_one_tall_bar() {
        let svg = interval_histogram(&[60.0; 30]).expect("svg");
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 1);
        assert!(svg.contains("30 gaps of"));
        assert!(interval_histogram(&[5.0]).is_none());
        let jitter: Vec<f64> = (0..40).map(|i| 60.0 + f64::from(i % 7) * 3.0).collect();
        let svg = interval_histogram(&jitter).expect("svg");
        assert!(svg.matches("<rect class=\"bar\"").count() >= 5);
    }

    #[test]
    fn timeline_labels_are_escaped() {
        let spans = [Span {
            label: "<script>alert(1)</script>",
            group: 3,
            start_us: 1_000_000,
            end_us: 5_000_000,
            tooltip: "sni=\"><img src=x onerror=alert(1)>".into(),
        }];
        let svg = timeline(&spans, 10, 100).expect("svg");
        assert!(!svg.contains("<script>"));
        assert!(!svg.contains("<img"));
        assert!(svg.contains("&lt;script&gt;"));
    }
}
