//! MISP formats (<https://www.misp-project.org/datamodels/>, MISP core format RFC draft
//! <https://github.com/MISP/misp-rfc>):
//! - event JSON: `{"Event": {..., "Attribute": [...], "Object": [{"Attribute": [...]}], "Tag":
//!   [...]}}` (also `{"response": [{"Event": ...}]}` and a bare event object);
//! - feed directory: `manifest.json` (`{uuid: {info, date, Tag, ...}}`) plus one `<uuid>.json`
//!   event file per entry (the layout MISP's "Fetch and store" feeds and PyMISP's
//!   `feed-generator` publish);
//! - warninglists: `{"list": [...], "type": "cidr" | "hostname" | "string" | ...}`.
//!
//! Attribute types: `ip-src`, `ip-dst` (ip), `ip-src|port`, `ip-dst|port` (ip_port), `domain`,
//! `hostname` (domain), `domain|ip` (both), `url` (url), `ja3-fingerprint-md5` (ja3),
//! `hassh-md5` (hassh), `x509-fingerprint-sha1` (cert_sha1), `md5`, `sha1`, `sha256`, `sha512`
//! and `filename|<hash>` (hash). Only attributes with `to_ids` set load unless the feed sets
//! `include_non_ids`; skipped ones are counted per type in `skipped_by_type` (`non-ids:TYPE`,
//! `TYPE`). Event and attribute tags are kept; ATT&CK galaxy tags
//! (`misp-galaxy:mitre-attack-pattern="Name - T1071"`) also yield the technique id.

use std::fs;
use std::path::Path;

use serde_json::Value;

use super::{js, read_json};
use crate::db::{Ctx, IntelBuilder};
use crate::load::{add_record, IntelError, LoadReport, Loc, ReadError};
use crate::time::parse_timestamp;
use crate::{parse, IndicatorType, ProvenanceMeta, MAX_DIR_ENTRIES, MAX_TAGS};

/// What an attribute type loads as: one or two (type, part index of a `a|b` value) pairs.
fn attr_types(t: &str) -> Option<&'static [(IndicatorType, Option<usize>)]> {
    use IndicatorType as T;
    Some(match t {
        "ip-src" | "ip-dst" => &[(T::Ip, None)],
        "ip-src|port" | "ip-dst|port" => &[(T::IpPort, None)],
        "domain" | "hostname" => &[(T::Domain, None)],
        "domain|ip" | "hostname|ip" => &[(T::Domain, Some(0)), (T::Ip, Some(1))],
        "url" => &[(T::Url, None)],
        "ja3-fingerprint-md5" => &[(T::Ja3, None)],
        "hassh-md5" => &[(T::Hassh, None)],
        "x509-fingerprint-sha1" => &[(T::CertSha1, None)],
        "md5" | "sha1" | "sha256" | "sha512" => &[(T::FileHash, None)],
        "filename|md5" | "filename|sha1" | "filename|sha256" | "filename|sha512" => {
            &[(T::FileHash, Some(1))]
        }
        _ => return None,
    })
}

/// `T1071` / `T1071.001` at the end of an ATT&CK galaxy tag value.
pub(crate) fn attack_id(tag: &str) -> Option<String> {
    if !tag.starts_with("misp-galaxy:mitre-") {
        return None;
    }
    let v = tag.trim_end_matches('"');
    let id = v.rsplit(" - ").next()?.trim();
    let ok = id.len() >= 5
        && id.starts_with('T')
        && id
            .get(1..5)
            .is_some_and(|d| d.bytes().all(|c| c.is_ascii_digit()))
        && id
            .get(5..)
            .is_some_and(|r| r.is_empty() || (r.starts_with('.') && r.len() == 4));
    ok.then(|| id.to_string())
}

fn tag_names(v: &Value) -> impl Iterator<Item = &str> {
    js::arr(v, "Tag")
        .iter()
        .filter_map(|t| js::str_of(t, "name"))
}

/// The event object inside the accepted wrappers.
fn event_of(doc: &Value) -> Option<&Value> {
    if let Some(e) = doc.get("Event") {
        return Some(e);
    }
    if let Some(r) = doc.get("response").and_then(Value::as_array) {
        return r.first().and_then(|x| x.get("Event"));
    }
    (doc.get("Attribute").is_some() || doc.get("Object").is_some()).then_some(doc)
}

pub(crate) fn load_event_doc(
    b: &mut IntelBuilder,
    doc: &Value,
    ctx: &Ctx,
    report: &mut LoadReport,
) -> Result<(), ReadError> {
    // A `response` array may hold several events.
    if let Some(list) = doc.get("response").and_then(Value::as_array) {
        for e in list.iter().filter_map(|x| x.get("Event")) {
            load_event(b, e, ctx, report)?;
        }
        return Ok(());
    }
    match event_of(doc) {
        Some(e) => load_event(b, e, ctx, report),
        None => {
            report.warn(&ctx.source, None, "no MISP Event object".into());
            Ok(())
        }
    }
}

pub(crate) fn load_event(
    b: &mut IntelBuilder,
    ev: &Value,
    ctx: &Ctx,
    report: &mut LoadReport,
) -> Result<(), ReadError> {
    let ev_tags: Vec<&str> = tag_names(ev).collect();
    let info = js::str_of(ev, "info");
    let ev_uuid = js::str_of(ev, "uuid").unwrap_or("");
    let mut attrs: Vec<&Value> = js::arr(ev, "Attribute").iter().collect();
    for o in js::arr(ev, "Object") {
        attrs.extend(js::arr(o, "Attribute"));
    }
    for a in attrs {
        let t = js::str_of(a, "type").unwrap_or("");
        let uuid = js::str_of(a, "uuid").unwrap_or(ev_uuid);
        let obj = format!("attribute {uuid}");
        let Some(kinds) = attr_types(t) else {
            report.skipped(t);
            continue;
        };
        if !ctx.include_non_ids && !js::truthy(a.get("to_ids")) {
            report.skipped(&format!("non-ids:{t}"));
            continue;
        }
        let Some(value) = js::str_of(a, "value") else {
            report.warn_object(&ctx.source, &obj, format!("{t} attribute without a value"));
            continue;
        };
        let mut tags: Vec<String> = ev_tags.iter().map(|s| s.to_string()).collect();
        tags.extend(tag_names(a).map(str::to_string));
        tags.truncate(MAX_TAGS);
        let attack: Vec<String> = tags.iter().filter_map(|t| attack_id(t)).collect();
        let ts = |k: &str| js::text_of(a, k).as_deref().and_then(parse_timestamp);
        let meta = ProvenanceMeta {
            object_id: Some(uuid.to_string()),
            first_seen: ts("first_seen").or_else(|| ts("timestamp")),
            last_seen: ts("last_seen").or_else(|| ts("timestamp")),
            tags,
            attack,
            reference: info.map(str::to_string),
            description: js::str_of(a, "comment")
                .filter(|c| !c.is_empty())
                .map(str::to_string),
            ..ProvenanceMeta::default()
        };
        for &(ty, part) in kinds {
            let v = match part {
                None => value,
                Some(i) => match value.split('|').nth(i) {
                    Some(v) => v,
                    None => {
                        report.warn_object(
                            &ctx.source,
                            &obj,
                            format!("{t} value without '|' parts"),
                        );
                        continue;
                    }
                },
            };
            // `ip|port` composite: MISP separates with '|'; tapir's ip:port parser wants ':'.
            let v_owned;
            let v = if ty == IndicatorType::IpPort {
                v_owned = match v.rsplit_once('|') {
                    Some((ip, port)) if ip.contains(':') => format!("[{ip}]:{port}"),
                    Some((ip, port)) => format!("{ip}:{port}"),
                    None => v.to_string(),
                };
                v_owned.as_str()
            } else {
                v
            };
            let p = parse::parse_typed(ty, v);
            let m = Some(Box::new(meta.clone()));
            add_record(b, report, ctx, t, Loc::Object(&obj), v, p, None, m)?;
        }
    }
    Ok(())
}

/// True for a canonical 8-4-4-4-12 hex UUID: the only names the feed loader opens, so a
/// manifest cannot point outside the feed directory.
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

pub(crate) fn load_feed_dir(
    b: &mut IntelBuilder,
    dir: &Path,
    ctx: &Ctx,
    report: &mut LoadReport,
) -> Result<(), IntelError> {
    let manifest = dir.join("manifest.json");
    report.files = report.files.saturating_add(1);
    let Some(doc) = read_json(&manifest, ctx, report)? else {
        return Ok(());
    };
    let Some(map) = doc.as_object() else {
        report.warn(&ctx.source, None, "manifest.json is not an object".into());
        return Ok(());
    };
    for (n, uuid) in map.keys().enumerate() {
        if n >= MAX_DIR_ENTRIES {
            report.warn(
                &ctx.source,
                None,
                format!("manifest lists more than {MAX_DIR_ENTRIES} events; the rest are ignored"),
            );
            break;
        }
        if !is_uuid(uuid) {
            report.warn_object(
                &ctx.source,
                uuid,
                "manifest key is not a UUID; skipped".into(),
            );
            continue;
        }
        let path = dir.join(format!("{uuid}.json"));
        let src: std::sync::Arc<str> = path.display().to_string().into();
        let ectx = Ctx {
            source: src,
            ..ctx.clone()
        };
        if !path.is_file() {
            report.warn_object(
                &ctx.source,
                uuid,
                "event file listed in manifest.json is missing".into(),
            );
            continue;
        }
        report.files = report.files.saturating_add(1);
        let Some(ev) = read_json(&path, &ectx, report)? else {
            continue;
        };
        load_event_doc(b, &ev, &ectx, report).map_err(|e| e.into_intel(&path))?;
    }
    Ok(())
}

pub(crate) fn load_warninglist(
    b: &mut IntelBuilder,
    doc: &Value,
    ctx: &Ctx,
    report: &mut LoadReport,
) -> Result<(), ReadError> {
    let t = js::str_of(doc, "type").unwrap_or("string");
    let ty = match t {
        "cidr" => Some(IndicatorType::Ip),
        "hostname" => Some(IndicatorType::Domain),
        "string" => None,
        other => {
            report.warn(
                &ctx.source,
                None,
                format!("warninglist type {other} not supported; nothing loaded"),
            );
            return Ok(());
        }
    };
    let name = js::str_of(doc, "name");
    let m = name.map(|n| {
        Box::new(ProvenanceMeta {
            description: Some(n.to_string()),
            ..ProvenanceMeta::default()
        })
    });
    let src_type = format!("warninglist:{t}");
    for (i, v) in js::arr(doc, "list").iter().enumerate() {
        let obj = format!("list[{i}]");
        let Some(s) = v.as_str() else {
            report.warn_object(&ctx.source, &obj, "entry is not a string".into());
            continue;
        };
        let p = match ty {
            Some(ty) => parse::parse_typed(ty, s),
            None => parse::parse_auto(s),
        };
        add_record(
            b,
            report,
            ctx,
            &src_type,
            Loc::Object(&obj),
            s,
            p,
            None,
            m.clone(),
        )?;
    }
    Ok(())
}

/// For tests and tools: is `dir` a MISP feed directory?
#[allow(dead_code)]
pub(crate) fn is_feed_dir(dir: &Path) -> bool {
    fs::metadata(dir.join("manifest.json")).is_ok_and(|m| m.is_file())
}
