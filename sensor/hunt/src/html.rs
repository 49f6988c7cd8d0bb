//! The HTML report: one self-contained file (inline CSS, script and SVG; nothing is fetched).
//!
//! Everything taken from traffic (names, SNI, URLs, user agents, whole events) is escaped with
//! [`esc`] before it reaches the page; a Content-Security-Policy that allows only this page's
//! own script (by hash) and no network access is a second line of defence.

use std::fmt::Write;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::report::{Finding, HuntResult, Report};
use crate::svg::{interval_histogram, timeline, truncate, Span};

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters from traffic would only garble the page.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
header{background:#1d2b36;color:#fff;padding:16px 24px}
header h1{margin:0 0 4px;font-size:22px}
header p{margin:2px 0;color:#c9d3dc;font-size:13px}
main{padding:16px 24px;max-width:1200px}
h2{font-size:18px;margin:0 0 6px}
h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px;margin:6px 0}
th,td{border:1px solid #d8dde3;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#eef1f4}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
pre{background:#fff;border:1px solid #d8dde3;padding:8px;overflow:auto;max-height:420px}
.verdict{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;font-size:12px}
.verdict-validated .verdict,.verdict.verdict-validated{background:#fde2e1;color:#a4161a}
.verdict-refuted .verdict,.verdict.verdict-refuted{background:#e3f4e6;color:#1b6b2f}
.verdict-inconclusive .verdict,.verdict.verdict-inconclusive{background:#fff3cd;color:#7a5b00}
section.hunt{background:#fff;border:1px solid #d8dde3;border-left:6px solid #999;padding:12px 16px;margin:16px 0}
section.hunt.verdict-validated{border-left-color:#d62828}
section.hunt.verdict-refuted{border-left-color:#2d9c4a}
section.hunt.verdict-inconclusive{border-left-color:#e0a800}
.finding{border-top:1px dashed #ccd3da;padding-top:8px;margin-top:8px}
.muted{color:#5b6770;font-size:12px}
.filters button{margin-right:6px;padding:3px 10px;border:1px solid #9aa5b1;background:#fff;border-radius:4px;cursor:pointer}
.filters button.on{background:#1d2b36;color:#fff}
svg.plot{background:#fff;border:1px solid #d8dde3;margin:6px 0;font-size:10px;font-family:sans-serif}
svg .axis{stroke:#555;stroke-width:1}
svg .bar{fill:#3a6ea5}
svg .lbl{fill:#333}
svg .span{opacity:.85}
svg .c0{fill:#d62828}svg .c1{fill:#3a6ea5}svg .c2{fill:#2d9c4a}svg .c3{fill:#e0a800}
svg .c4{fill:#7b2cbf}svg .c5{fill:#f77f00}svg .c6{fill:#00838f}svg .c7{fill:#6d4c41}
"#;

/// Shows the hunts of one verdict (or all). Works without it: everything is visible.
const SCRIPT: &str = r#"
(function(){
  var buttons=document.querySelectorAll('.filters button');
  function show(v){
    document.querySelectorAll('[data-verdict]').forEach(function(el){
      el.style.display=(v==='all'||el.getAttribute('data-verdict')===v)?'':'none';
    });
    buttons.forEach(function(b){b.classList.toggle('on',b.getAttribute('data-show')===v);});
  }
  buttons.forEach(function(b){b.addEventListener('click',function(){show(b.getAttribute('data-show'));});});
})();
"#;

/// Renders the report. `evidence_href` is the evidence directory as seen from the HTML file
/// (a relative path or a `file://` URL), used to link the pcaps.
pub fn render(r: &Report, evidence_href: Option<&str>) -> String {
    let script_hash =
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(SCRIPT.as_bytes()));
    let mut s = String::with_capacity(64 * 1024);
    let _ = write!(
        s,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'; img-src data:; base-uri 'none'; form-action 'none'">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>tapir hunt report</title><style>{CSS}</style></head><body>
<header><h1>tapir hunt report</h1>
<p id="verdict-counts">{} validated &middot; {} refuted &middot; {} inconclusive, of {} hypotheses</p>
<p>Captures: {}</p><p>Rules: {}</p>
<p>Data: {} events{}</p></header><main>
"#,
        r.summary.validated,
        r.summary.refuted,
        r.summary.inconclusive,
        r.hunts.len(),
        esc(&r.captures.join(", ")),
        esc(&r.rules.join(", ")),
        r.data.events_total,
        match (&r.data.first_seen, &r.data.last_seen) {
            (Some(a), Some(b)) => format!(" from {} to {}", esc(a), esc(b)),
            _ => String::new(),
        }
    );
    summary_table(&mut s, r);
    data_table(&mut s, r);
    flagged_timeline(&mut s, r);
    for n in &r.notes {
        let _ = write!(s, r#"<p class="muted note">{}</p>"#, esc(n));
    }
    for h in &r.hunts {
        hunt_section(&mut s, h, evidence_href);
    }
    let _ = writeln!(s, "</main><script>{SCRIPT}</script></body></html>");
    s
}

fn summary_table(s: &mut String, r: &Report) {
    s.push_str(
        r#"<h2>Summary</h2><div class="filters"><button data-show="all" class="on">all</button><button data-show="validated">validated</button><button data-show="refuted">refuted</button><button data-show="inconclusive">inconclusive</button></div>
<table id="summary"><thead><tr><th>Hypothesis</th><th>Verdict</th><th>Severity</th><th>ATT&amp;CK</th><th>Findings</th><th>Why</th></tr></thead><tbody>"#,
    );
    for h in &r.hunts {
        let v = h.verdict.as_str();
        let _ = write!(
            s,
            r##"<tr class="hunt-row verdict-{v}" data-verdict="{v}"><td><a href="#hunt-{id}">{id}</a><br><span class="muted">{title}</span></td><td><span class="verdict verdict-{v}">{v}</span></td><td>{sev}</td><td>{tech}</td><td>{n}</td><td>{why}</td></tr>"##,
            id = esc(&h.id),
            title = esc(&h.title),
            sev = esc(h.severity),
            tech = esc(&h.techniques.join(" ")),
            n = h.findings.len() as u64 + h.findings_not_shown,
            why = esc(&h.reason),
        );
    }
    s.push_str("</tbody></table>");
}

fn data_table(s: &mut String, r: &Report) {
    s.push_str(r#"<h3>Data examined</h3><table id="data"><thead><tr><th>event type</th><th>events</th></tr></thead><tbody>"#);
    for (t, n) in &r.data.events_by_type {
        let _ = write!(s, "<tr><td>{}</td><td>{n}</td></tr>", esc(t));
    }
    let _ = write!(
        s,
        r#"</tbody></table><p class="muted">{} flows indexed{}.</p>"#,
        r.data.flows_indexed,
        if r.data.flows_not_indexed > 0 {
            format!(", {} not (limit reached)", r.data.flows_not_indexed)
        } else {
            String::new()
        }
    );
}

fn flagged_timeline(s: &mut String, r: &Report) {
    let mut spans = Vec::new();
    let mut labels = Vec::new();
    for (hi, h) in r.hunts.iter().enumerate() {
        for f in &h.findings {
            for fl in &f.flows {
                if let (Some(a), Some(b)) = (fl.start_us, fl.end_us) {
                    labels.push((hi, a, b, fl.clone(), h.id.clone()));
                }
            }
        }
    }
    labels.sort_by_key(|x| x.1);
    let texts: Vec<String> = labels
        .iter()
        .map(|(_, _, _, fl, _)| {
            format!(
                "{} → {}:{}",
                fl.src_ip.as_deref().unwrap_or("?"),
                fl.dest_ip.as_deref().unwrap_or("?"),
                fl.dest_port.unwrap_or(0)
            )
        })
        .collect();
    for ((hi, a, b, fl, id), label) in labels.iter().zip(&texts) {
        spans.push(Span {
            label,
            group: *hi,
            start_us: *a,
            end_us: *b,
            tooltip: format!(
                "{id}: flow {} {} {} bytes to server, {} to client, {} .. {}",
                fl.flow_id,
                fl.app_proto.as_deref().unwrap_or(""),
                fl.bytes_toserver.unwrap_or(0),
                fl.bytes_toclient.unwrap_or(0),
                fl.start.as_deref().unwrap_or(""),
                fl.end.as_deref().unwrap_or("")
            ),
        });
    }
    if let Some(svg) = timeline(&spans, 100, 5000) {
        s.push_str(r#"<h3>Timeline of flagged flows</h3>"#);
        if spans.len() > 5000 {
            let _ = write!(
                s,
                r#"<p class="muted">first 5000 of {} flows</p>"#,
                spans.len()
            );
        }
        s.push_str(&svg);
        // Colour key: one colour per hunt (eight, then they repeat).
        let mut groups: Vec<usize> = spans.iter().map(|x| x.group).collect();
        groups.sort_unstable();
        groups.dedup();
        s.push_str(r#"<p class="legend">"#);
        for g in groups {
            if let Some(h) = r.hunts.get(g) {
                let _ = write!(
                    s,
                    r#"<svg width="10" height="10" aria-hidden="true"><rect class="c{}" width="10" height="10"/></svg> {} &nbsp; "#,
                    g % 8,
                    esc(&h.id)
                );
            }
        }
        s.push_str("</p>");
    }
}

fn hunt_section(s: &mut String, h: &HuntResult, evidence_href: Option<&str>) {
    let v = h.verdict.as_str();
    let _ = write!(
        s,
        r#"<section class="hunt verdict-{v}" id="hunt-{id}" data-verdict="{v}"><h2>{id}: {title} <span class="verdict verdict-{v}">{v}</span></h2>
<p class="hypothesis">{hyp}</p><p class="muted">ATT&amp;CK {tech} &middot; severity {sev} &middot; needs {needs}{same}{window} &middot; defined at {src}</p>
<p class="reason"><b>Why:</b> {reason}</p>"#,
        id = esc(&h.id),
        title = esc(&h.title),
        hyp = esc(&h.hypothesis),
        tech = esc(&h.techniques.join(", ")),
        sev = esc(h.severity),
        needs = esc(&h.needs.join(", ")),
        same = h.same.map_or(String::new(), |k| format!(
            " &middot; correlated by {}",
            esc(k)
        )),
        window = h
            .window
            .as_deref()
            .map_or(String::new(), |w| format!(" within {}", esc(w))),
        src = esc(&h.source),
        reason = esc(&h.reason),
    );
    s.push_str(r#"<table class="conditions"><thead><tr><th>condition</th><th>defined at</th><th>matching events</th></tr></thead><tbody>"#);
    for c in &h.conditions {
        let _ = write!(
            s,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            esc(&c.condition),
            esc(&c.at),
            c.matches
        );
    }
    s.push_str("</tbody></table>");
    for a in &h.actions {
        if !a.targets.is_empty() {
            let _ = write!(
                s,
                r#"<p class="action">Proposed action: <b>{}</b> {} {}</p>"#,
                esc(a.action),
                esc(a.field),
                esc(&a.targets.join(", "))
            );
        }
    }
    for n in &h.notes {
        let _ = write!(s, r#"<p class="muted note">{}</p>"#, esc(n));
    }
    for (i, f) in h.findings.iter().enumerate() {
        finding_block(s, h, i, f, evidence_href);
    }
    if h.findings_not_shown > 0 {
        let _ = write!(
            s,
            r#"<p class="muted">{} more findings not shown.</p>"#,
            h.findings_not_shown
        );
    }
    s.push_str("</section>\n");
}

fn finding_block(
    s: &mut String,
    h: &HuntResult,
    i: usize,
    f: &Finding,
    evidence_href: Option<&str>,
) {
    let _ = write!(
        s,
        r#"<div class="finding" id="finding-{}-{}"><h3>Finding {}{}</h3><p>First seen {} &middot; last seen {} &middot; hosts: {}</p>"#,
        esc(&h.id),
        i + 1,
        i + 1,
        match (&h.same, f.key.is_empty()) {
            (Some(k), false) => format!(": {} {}", esc(k), esc(&f.key)),
            _ => String::new(),
        },
        esc(&f.first_seen),
        esc(&f.last_seen),
        esc(&f.hosts.join(", "))
    );
    if let Some(file) = &f.evidence {
        let href = match evidence_href {
            Some(d) if !d.is_empty() => format!("{}/{}", d.trim_end_matches('/'), file),
            _ => file.clone(),
        };
        let _ = write!(
            s,
            r#"<p>Evidence pcap: <a class="evidence" href="{}">{}</a> ({} packets)</p>"#,
            esc(&href),
            esc(file),
            f.evidence_packets.unwrap_or(0)
        );
    }
    if !f.scores.is_empty() {
        let sc: Vec<String> = f
            .scores
            .iter()
            .map(|x| format!("{} {:.2}", x.detector, x.score))
            .collect();
        let _ = write!(s, "<p>Scores: {}</p>", esc(&sc.join(", ")));
    }
    if !f.alerts.is_empty() {
        s.push_str(r#"<table class="alerts"><thead><tr><th>time</th><th>signature</th><th>src</th><th>dest</th><th>score</th><th>evidence</th></tr></thead><tbody>"#);
        for a in &f.alerts {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{} <span class=\"muted\">({})</span></td><td>{}{}</td><td>{}{}</td><td>{}</td><td>{}</td></tr>",
                esc(&a.timestamp),
                esc(&a.signature),
                a.signature_id,
                esc(&a.src_ip),
                a.src_port.map_or(String::new(), |p| format!(":{p}")),
                esc(&a.dest_ip),
                a.dest_port.map_or(String::new(), |p| format!(":{p}")),
                a.score.map_or(String::new(), |x| format!("{x:.2}")),
                esc(a.evidence.as_deref().unwrap_or(""))
            );
        }
        s.push_str("</tbody></table>");
    }
    if let Some(svg) = interval_histogram(&f.intervals_s) {
        s.push_str("<h3>Connection intervals</h3>");
        s.push_str(&svg);
    }
    if !f.flows.is_empty() {
        // Long flow lists fold away; the timeline above already shows them.
        let _ = write!(
            s,
            r#"<details class="flows"{}><summary>{} flows</summary>"#,
            if f.flows.len() <= 10 { " open" } else { "" },
            f.flows.len()
        );
        s.push_str(r#"<table class="flows"><thead><tr><th>flow</th><th>proto</th><th>src</th><th>dest</th><th>app</th><th>start</th><th>end</th><th>bytes to server / client</th></tr></thead><tbody>"#);
        for fl in f.flows.iter().take(100) {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}:{}</td><td>{}:{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} / {}</td></tr>",
                fl.flow_id,
                fl.proto.map_or(String::new(), |p| p.to_string()),
                esc(fl.src_ip.as_deref().unwrap_or("?")),
                fl.src_port.unwrap_or(0),
                esc(fl.dest_ip.as_deref().unwrap_or("?")),
                fl.dest_port.unwrap_or(0),
                esc(fl.app_proto.as_deref().unwrap_or("")),
                esc(fl.start.as_deref().unwrap_or("not indexed")),
                esc(fl.end.as_deref().unwrap_or("")),
                fl.bytes_toserver.unwrap_or(0),
                fl.bytes_toclient.unwrap_or(0)
            );
        }
        s.push_str("</tbody></table>");
        if f.flows.len() > 100 {
            let _ = write!(
                s,
                r#"<p class="muted">first 100 of {} flows</p>"#,
                f.flows.len()
            );
        }
        s.push_str("</details>");
    }
    let pretty: Vec<String> = f
        .events
        .iter()
        .map(|e| serde_json::to_string_pretty(e).unwrap_or_default())
        .collect();
    let _ = write!(
        s,
        r#"<details><summary>{} matching events{}</summary><pre class="events">{}</pre></details></div>"#,
        f.events.len(),
        if f.events_not_shown > 0 {
            format!(" ({} more not shown)", f.events_not_shown)
        } else {
            String::new()
        },
        esc(&truncate(&pretty.join("\n"), 400_000))
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(
            esc(r#"<a href="x" onclick='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(esc("a\u{0}b\nc"), "a\u{fffd}b\nc");
    }
}
