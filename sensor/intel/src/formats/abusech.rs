//! abuse.ch exports: Feodo Tracker IP blocklist, SSLBL JA3 / certificate SHA-1 / IP lists,
//! URLhaus database dump, ThreatFox CSV and JSON exports.
//!
//! Layouts (comment banners start with `#`):
//! - Feodo: quoted header row `first_seen_utc,dst_ip,dst_port,c2_status,last_online,malware`;
//!   each row gives an `ip` and an `ip_port` indicator (the list is meant for IP blocking; the
//!   port is kept for precision).
//! - SSLBL JA3: `ja3_md5,Firstseen,Lastseen,Listingreason`.
//! - SSLBL certificates: `Listingdate,SHA1,Listingreason`.
//! - SSLBL IP (SSL IPBL): `DstIP,DstPort[,reason]` -> `ip` and `ip_port`.
//! - URLhaus: `id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter`.
//! - ThreatFox CSV (<https://threatfox.abuse.ch/export/>): `first_seen_utc, ioc_id, ioc_value,
//!   ioc_type, threat_type, fk_malware, malware_alias, malware_printable, last_seen_utc,
//!   confidence_level, reference, tags, anonymous, reporter`; JSON export: an object of
//!   `ioc_id -> [record]` with the same field names, or the API's `{"data": [record]}` with
//!   `ioc` for the value. `ip:port` IOCs become `ip_port` indicators only.

use std::io::BufRead;

use serde_json::Value;

use super::csv::{for_each_row, split_tags};
use super::js;
use super::FeedFormat;
use crate::db::{Ctx, IntelBuilder};
use crate::load::{add_record, Full, LoadReport, Loc, ReadError};
use crate::time::parse_timestamp;
use crate::{parse, IndicatorType, ProvenanceMeta};

fn meta(
    first: Option<&str>,
    last: Option<&str>,
    tags: Vec<String>,
    description: Option<&str>,
    reference: Option<&str>,
    object_id: Option<&str>,
) -> Option<Box<ProvenanceMeta>> {
    let nonempty = |s: Option<&str>| {
        s.map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    Some(Box::new(ProvenanceMeta {
        first_seen: first.and_then(parse_timestamp),
        last_seen: last.and_then(parse_timestamp),
        tags,
        description: nonempty(description),
        reference: nonempty(reference),
        object_id: nonempty(object_id),
        ..ProvenanceMeta::default()
    }))
}

/// Adds an IP and its `ip:port` (Feodo, SSL IPBL rows).
#[allow(clippy::too_many_arguments)]
fn add_ip_and_port(
    b: &mut IntelBuilder,
    report: &mut LoadReport,
    ctx: &Ctx,
    tag: &str,
    line: u32,
    ip: &str,
    port: &str,
    m: Option<Box<ProvenanceMeta>>,
) -> Result<(), Full> {
    let ip_p = parse::parse_typed(IndicatorType::Ip, ip);
    let ok = add_record(
        b,
        report,
        ctx,
        &format!("{tag}:ip"),
        Loc::Line(line),
        ip,
        ip_p,
        None,
        m.clone(),
    )?;
    if ok {
        let text = format!("{}:{}", ip.trim(), port.trim());
        let pp = parse::parse_typed(IndicatorType::IpPort, &text);
        add_record(
            b,
            report,
            ctx,
            &format!("{tag}:ip_port"),
            Loc::Line(line),
            &text,
            pp,
            None,
            m,
        )?;
    }
    Ok(())
}

fn short(report: &mut LoadReport, ctx: &Ctx, line: u32, need: usize, got: usize) {
    report.warn(
        &ctx.source,
        Some(line),
        format!("expected at least {need} fields, found {got}; row skipped"),
    );
}

/// The ThreatFox `ioc_type` as a tapir type; `None` for types tapir does not handle.
fn threatfox_type(t: &str) -> Option<IndicatorType> {
    match t.trim() {
        "ip:port" => Some(IndicatorType::IpPort),
        "domain" => Some(IndicatorType::Domain),
        "url" => Some(IndicatorType::Url),
        "md5_hash" | "sha1_hash" | "sha256_hash" => Some(IndicatorType::FileHash),
        _ => None,
    }
}

pub(crate) fn read_csv<R: BufRead>(
    b: &mut IntelBuilder,
    format: FeedFormat,
    reader: R,
    ctx: &Ctx,
    report: &mut LoadReport,
) -> Result<(), ReadError> {
    let mut header_seen = false;
    for_each_row(reader, ctx, report, |report, line, f| {
        let g = |i: usize| f.get(i).map(String::as_str);
        match format {
            FeedFormat::Feodo => {
                if !header_seen && g(1).is_some_and(|c| c.eq_ignore_ascii_case("dst_ip")) {
                    header_seen = true;
                    return Ok(());
                }
                let (Some(first), Some(ip), Some(port)) = (g(0), g(1), g(2)) else {
                    short(report, ctx, line, 3, f.len());
                    return Ok(());
                };
                let malware = g(5).unwrap_or("");
                let status = g(3).unwrap_or("");
                let tags = split_tags(malware);
                let desc = format!("{malware} C2 ({status})");
                let m = meta(Some(first), g(4), tags, Some(&desc), None, None);
                add_ip_and_port(b, report, ctx, "feodo", line, ip, port, m)
            }
            FeedFormat::SslblIp => {
                let (Some(ip), Some(port)) = (g(0), g(1)) else {
                    short(report, ctx, line, 2, f.len());
                    return Ok(());
                };
                let m = meta(None, None, Vec::new(), g(2), None, None);
                add_ip_and_port(b, report, ctx, "sslbl-ip", line, ip, port, m)
            }
            FeedFormat::SslblJa3 => {
                let Some(v) = g(0) else { return Ok(()) };
                let m = meta(g(1), g(2), Vec::new(), g(3), None, None);
                let p = parse::parse_typed(IndicatorType::Ja3, v);
                add_record(b, report, ctx, "sslbl-ja3", Loc::Line(line), v, p, None, m).map(|_| ())
            }
            FeedFormat::SslblCert => {
                let Some(v) = g(1) else {
                    short(report, ctx, line, 2, f.len());
                    return Ok(());
                };
                let m = meta(g(0), None, Vec::new(), g(2), None, None);
                let p = parse::parse_typed(IndicatorType::CertSha1, v);
                add_record(b, report, ctx, "sslbl-cert", Loc::Line(line), v, p, None, m).map(|_| ())
            }
            FeedFormat::Urlhaus => {
                let Some(v) = g(2) else {
                    short(report, ctx, line, 3, f.len());
                    return Ok(());
                };
                let tags = g(6).map(split_tags).unwrap_or_default();
                let m = meta(g(1), g(4), tags, g(5), g(7), g(0));
                let p = parse::parse_typed(IndicatorType::Url, v);
                add_record(b, report, ctx, "urlhaus", Loc::Line(line), v, p, None, m).map(|_| ())
            }
            _ => {
                // ThreatFox CSV.
                let (Some(v), Some(t)) = (g(2), g(3)) else {
                    short(report, ctx, line, 4, f.len());
                    return Ok(());
                };
                let Some(ty) = threatfox_type(t) else {
                    report.skipped(&format!("threatfox:{t}"));
                    return Ok(());
                };
                let tags = g(11).map(split_tags).unwrap_or_default();
                let m = meta(g(0), g(8), tags, g(7), g(10), g(1));
                let conf = g(9)
                    .and_then(|c| c.trim().parse::<u8>().ok())
                    .map(|c| c.min(100));
                let p = parse::parse_typed(ty, v);
                add_record(
                    b,
                    report,
                    ctx,
                    &format!("threatfox:{t}"),
                    Loc::Line(line),
                    v,
                    p,
                    conf,
                    m,
                )
                .map(|_| ())
            }
        }
    })
}

/// ThreatFox JSON: the export's `{ioc_id: [record, ...]}` or the API's `{"data": [record]}`.
pub(crate) fn load_threatfox_json(
    b: &mut IntelBuilder,
    doc: &Value,
    ctx: &Ctx,
    report: &mut LoadReport,
) -> Result<(), ReadError> {
    let mut records: Vec<(String, &Value)> = Vec::new();
    match doc {
        Value::Object(map) if map.contains_key("data") => {
            for r in js::arr(doc, "data") {
                let id = js::text_of(r, "id").unwrap_or_default();
                records.push((id, r));
            }
        }
        Value::Object(map) => {
            for (id, v) in map {
                match v.as_array() {
                    Some(list) => records.extend(list.iter().map(|r| (id.clone(), r))),
                    None => {
                        report.warn_object(&ctx.source, id, "not an array of IOC records".into())
                    }
                }
            }
        }
        _ => {
            report.warn(
                &ctx.source,
                None,
                "ThreatFox JSON: expected an object".into(),
            );
            return Ok(());
        }
    }
    for (id, r) in records {
        let obj = format!("ioc {id}");
        let value = js::str_of(r, "ioc_value").or_else(|| js::str_of(r, "ioc"));
        let (Some(v), Some(t)) = (value, js::str_of(r, "ioc_type")) else {
            report.warn_object(
                &ctx.source,
                &obj,
                "record without ioc_value/ioc_type".into(),
            );
            continue;
        };
        let Some(ty) = threatfox_type(t) else {
            report.skipped(&format!("threatfox:{t}"));
            continue;
        };
        let tags = match r.get("tags") {
            Some(Value::String(s)) => split_tags(s),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .take(crate::MAX_TAGS)
                .collect(),
            _ => Vec::new(),
        };
        let m = meta(
            js::str_of(r, "first_seen_utc").or_else(|| js::str_of(r, "first_seen")),
            js::str_of(r, "last_seen_utc").or_else(|| js::str_of(r, "last_seen")),
            tags,
            js::str_of(r, "malware_printable"),
            js::str_of(r, "reference"),
            Some(&id),
        );
        let conf = js::confidence(r.get("confidence_level"));
        let p = parse::parse_typed(ty, v);
        add_record(
            b,
            report,
            ctx,
            &format!("threatfox:{t}"),
            Loc::Object(&obj),
            v,
            p,
            conf,
            m,
        )?;
    }
    Ok(())
}
