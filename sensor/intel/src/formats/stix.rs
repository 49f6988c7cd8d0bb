//! STIX 2.1 bundles (<https://docs.oasis-open.org/cti/stix/v2.1/os/stix-v2.1-os.html>):
//! `indicator` objects with `pattern_type` `stix` (or none) whose pattern is one observation
//! expression, or several joined by `OR`, each holding equality comparisons joined by `OR`
//! (§9 patterning):
//! `[ipv4-addr:value = '198.51.100.1' OR domain-name:value = 'example.com'] OR [url:value = '...']`.
//!
//! Paths: `ipv4-addr:value`, `ipv6-addr:value`, `domain-name:value`, `url:value`,
//! `x509-certificate:hashes.'SHA-1'` (cert_sha1), `file:hashes.<MD5|SHA-1|SHA-256|SHA-512>`
//! (hash). A comparison on another path inside an `OR` is skipped and counted (the rest of the
//! pattern still loads: each comparison alone suffices for a match). Any other operator (`AND`,
//! `!=`, `MATCHES`, `IN`, `LIKE`, `FOLLOWEDBY`, qualifiers) makes the whole pattern unsupported:
//! its parts alone would over-match. Each skip is a warning naming the indicator's id.
//!
//! Kept per indicator: `id`, `valid_from`, `valid_until`, `confidence`, `labels` and
//! `indicator_types` (tags), `kill_chain_phases` (tags `kill-chain:NAME:PHASE`), ATT&CK
//! technique ids from `external_references` with `source_name` `mitre-attack`, `name`.

use serde_json::Value;

use super::js;
use crate::db::{Ctx, IntelBuilder};
use crate::load::{add_record, LoadReport, Loc, ReadError};
use crate::time::parse_timestamp;
use crate::{parse, IndicatorType, ProvenanceMeta, MAX_TAGS};

/// Longest pattern parsed; longer ones are unsupported.
const MAX_PATTERN_LEN: usize = 64 * 1024;
/// Most comparisons taken from one pattern.
const MAX_COMPARISONS: usize = 4096;

/// One `path = 'value'` comparison.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Comparison {
    pub path: String,
    pub value: String,
}

/// Parses the supported pattern subset; `Err` names what is unsupported.
pub(crate) fn parse_pattern(p: &str) -> Result<Vec<Comparison>, &'static str> {
    if p.len() > MAX_PATTERN_LEN {
        return Err("pattern too long");
    }
    let b = p.as_bytes();
    let mut i = 0usize;
    let mut out = Vec::new();
    let skip_ws = |i: &mut usize| {
        while b.get(*i).is_some_and(u8::is_ascii_whitespace) {
            *i += 1;
        }
    };
    let keyword = |i: &mut usize, kw: &str| -> bool {
        let end = i.saturating_add(kw.len());
        let ok = b
            .get(*i..end)
            .is_some_and(|s| s.eq_ignore_ascii_case(kw.as_bytes()))
            && !b
                .get(end)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_');
        if ok {
            *i = end;
        }
        ok
    };
    loop {
        skip_ws(&mut i);
        if b.get(i) != Some(&b'[') {
            return Err("expected [ observation");
        }
        i += 1;
        loop {
            skip_ws(&mut i);
            // Object path: everything up to whitespace or '=' or '!', with quoted keys.
            let start = i;
            while let Some(&c) = b.get(i) {
                if c == b'\'' {
                    i += 1;
                    while b.get(i).is_some_and(|&c| c != b'\'') {
                        i += 1;
                    }
                    i += 1;
                } else if c.is_ascii_whitespace() || matches!(c, b'=' | b'!' | b'<' | b'>' | b']') {
                    break;
                } else {
                    i += 1;
                }
            }
            let path = p.get(start..i).ok_or("bad object path")?;
            if path.is_empty() || !path.contains(':') {
                return Err("bad object path");
            }
            skip_ws(&mut i);
            if b.get(i) != Some(&b'=') || b.get(i + 1) == Some(&b'=') {
                return Err("operator other than =");
            }
            i += 1;
            skip_ws(&mut i);
            if b.get(i) != Some(&b'\'') {
                return Err("value is not a string literal");
            }
            i += 1;
            let mut value = Vec::new();
            loop {
                match b.get(i) {
                    None => return Err("unterminated string"),
                    Some(b'\\') => {
                        let c = *b.get(i + 1).ok_or("unterminated string")?;
                        value.push(c);
                        i += 2;
                    }
                    Some(b'\'') => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
            if out.len() >= MAX_COMPARISONS {
                return Err("too many comparisons");
            }
            out.push(Comparison {
                path: path.to_string(),
                value: String::from_utf8(value).map_err(|_| "string is not UTF-8")?,
            });
            skip_ws(&mut i);
            if b.get(i) == Some(&b']') {
                i += 1;
                break;
            }
            if !keyword(&mut i, "OR") {
                return Err("AND or another operator inside an observation");
            }
        }
        skip_ws(&mut i);
        if i >= b.len() {
            return Ok(out);
        }
        if !keyword(&mut i, "OR") {
            return Err("observation operator other than OR, or a qualifier");
        }
    }
}

/// The tapir type for a STIX object path, and the normalised path name used in counts.
fn path_type(path: &str) -> Option<IndicatorType> {
    let (obj, prop) = path.split_once(':')?;
    let prop_l = prop.replace(['\'', '"'], "").to_ascii_lowercase();
    match (obj, prop_l.as_str()) {
        ("ipv4-addr" | "ipv6-addr", "value") => Some(IndicatorType::Ip),
        ("domain-name", "value") => Some(IndicatorType::Domain),
        ("url", "value") => Some(IndicatorType::Url),
        ("x509-certificate", "hashes.sha-1" | "hashes.sha1") => Some(IndicatorType::CertSha1),
        (
            "file",
            "hashes.md5" | "hashes.sha-1" | "hashes.sha1" | "hashes.sha-256" | "hashes.sha256"
            | "hashes.sha-512" | "hashes.sha512",
        ) => Some(IndicatorType::FileHash),
        _ => None,
    }
}

fn meta_of(o: &Value, id: &str) -> ProvenanceMeta {
    let mut tags: Vec<String> = Vec::new();
    for k in ["labels", "indicator_types"] {
        tags.extend(
            js::arr(o, k)
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string),
        );
    }
    for k in js::arr(o, "kill_chain_phases") {
        if let (Some(n), Some(ph)) = (
            js::str_of(k, "kill_chain_name"),
            js::str_of(k, "phase_name"),
        ) {
            tags.push(format!("kill-chain:{n}:{ph}"));
        }
    }
    tags.truncate(MAX_TAGS);
    let mut attack = Vec::new();
    let mut reference = None;
    for r in js::arr(o, "external_references") {
        let src = js::str_of(r, "source_name").unwrap_or("");
        if src.starts_with("mitre-attack")
            || src == "mitre-mobile-attack"
            || src == "mitre-ics-attack"
        {
            if let Some(e) = js::str_of(r, "external_id") {
                attack.push(e.to_string());
            }
        } else if reference.is_none() {
            reference = js::str_of(r, "url").map(str::to_string);
        }
    }
    attack.truncate(MAX_TAGS);
    ProvenanceMeta {
        object_id: Some(id.to_string()),
        stix_id: Some(id.to_string()),
        valid_from: js::str_of(o, "valid_from").and_then(parse_timestamp),
        valid_until: js::str_of(o, "valid_until").and_then(parse_timestamp),
        tags,
        attack,
        reference,
        description: js::str_of(o, "name").map(str::to_string),
        ..ProvenanceMeta::default()
    }
}

pub(crate) fn load(
    b: &mut IntelBuilder,
    doc: &Value,
    ctx: &Ctx,
    report: &mut LoadReport,
) -> Result<(), ReadError> {
    // A bundle, or a bare list / single object as some producers write them.
    let objects: &[Value] = match doc {
        Value::Array(a) => a,
        Value::Object(_) if doc.get("objects").is_some() => js::arr(doc, "objects"),
        Value::Object(_) => std::slice::from_ref(doc),
        _ => &[],
    };
    let mut unsupported = 0usize;
    for o in objects {
        if js::str_of(o, "type") != Some("indicator") {
            continue;
        }
        let id = js::str_of(o, "id").unwrap_or("indicator--?");
        if let Some(pt) = js::str_of(o, "pattern_type") {
            if pt != "stix" {
                report.skipped(&format!("pattern_type:{pt}"));
                report.warn_object(
                    &ctx.source,
                    id,
                    format!("pattern_type {pt} not supported; skipped"),
                );
                continue;
            }
        }
        let Some(pattern) = js::str_of(o, "pattern") else {
            report.warn_object(
                &ctx.source,
                id,
                "indicator without a pattern; skipped".into(),
            );
            continue;
        };
        let comps = match parse_pattern(pattern) {
            Ok(c) => c,
            Err(why) => {
                unsupported += 1;
                report.skipped("unsupported-pattern");
                report.warn_object(
                    &ctx.source,
                    id,
                    format!("unsupported pattern ({why}); skipped"),
                );
                continue;
            }
        };
        let meta = meta_of(o, id);
        let conf = js::confidence(o.get("confidence"));
        for c in comps {
            let Some(ty) = path_type(&c.path) else {
                report.skipped(&c.path);
                report.warn_object(
                    &ctx.source,
                    id,
                    format!("comparison on {} not supported; skipped", c.path),
                );
                continue;
            };
            let p = parse::parse_typed(ty, &c.value);
            let m = Some(Box::new(meta.clone()));
            add_record(
                b,
                report,
                ctx,
                &c.path,
                Loc::Object(id),
                &c.value,
                p,
                conf,
                m,
            )?;
        }
    }
    if unsupported > 0 {
        report.warn(
            &ctx.source,
            None,
            format!("{unsupported} indicators with unsupported patterns skipped"),
        );
    }
    Ok(())
}
