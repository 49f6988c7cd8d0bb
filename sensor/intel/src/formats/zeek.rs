//! Zeek Intel framework files
//! (<https://docs.zeek.org/en/master/frameworks/intel.html>): a `#fields` header naming the
//! columns (`indicator`, `indicator_type`, `meta.source`, `meta.desc`, `meta.url`, ...), then one
//! record per line, TAB-separated unless `#separator` says otherwise; `-` is an unset field.
//!
//! Types: `Intel::ADDR`, `Intel::SUBNET` (ip), `Intel::DOMAIN` (domain; IP values are routed to
//! ip), `Intel::URL` (url; Zeek writes them without a scheme, http assumed), `Intel::CERT_HASH`
//! (cert_sha1), `Intel::FILE_HASH` (hash), and the package types `Intel::JA3` / `Intel::HASSH`.
//! Others (`Intel::EMAIL`, `Intel::SOFTWARE`, `Intel::USER_NAME`, `Intel::FILE_NAME`,
//! `Intel::PUBKEY_HASH`) are counted in `skipped_by_type` and summarised in one warning each.

use std::collections::BTreeMap;
use std::io::BufRead;

use crate::db::{Ctx, IntelBuilder};
use crate::load::{add_record, for_each_line, LoadReport, Loc, ReadError};
use crate::{parse, IndicatorType, ProvenanceMeta};

fn zeek_type(t: &str) -> Option<IndicatorType> {
    Some(match t {
        "Intel::ADDR" | "Intel::SUBNET" => IndicatorType::Ip,
        "Intel::DOMAIN" => IndicatorType::Domain,
        "Intel::URL" => IndicatorType::Url,
        "Intel::CERT_HASH" => IndicatorType::CertSha1,
        "Intel::FILE_HASH" => IndicatorType::FileHash,
        "Intel::JA3" => IndicatorType::Ja3,
        "Intel::HASSH" => IndicatorType::Hassh,
        _ => return None,
    })
}

/// `\x09` -> TAB (the `#separator` line escapes its byte).
fn unescape_sep(s: &str) -> Option<char> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("\\x") {
        return u8::from_str_radix(h, 16).ok().map(char::from);
    }
    s.chars().next()
}

pub(crate) fn read<R: BufRead>(
    b: &mut IntelBuilder,
    reader: R,
    ctx: &Ctx,
    report: &mut LoadReport,
) -> Result<(), ReadError> {
    let mut sep = '\t';
    // Column positions from `#fields`; the default is Zeek's documented minimal layout.
    let mut cols: Vec<String> = Vec::new();
    let mut unsupported: BTreeMap<String, usize> = BTreeMap::new();
    let r = for_each_line(reader, &ctx.source, report, |report, line_no, text| {
        if let Some(rest) = text.strip_prefix("#separator") {
            if let Some(c) = unescape_sep(rest) {
                sep = c;
            }
            return Ok(());
        }
        if let Some(rest) = text.strip_prefix("#fields") {
            cols = rest
                .split(sep)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            return Ok(());
        }
        if text.trim().is_empty() || text.starts_with('#') {
            return Ok(());
        }
        if cols.is_empty() {
            report.warn(
                &ctx.source,
                Some(line_no),
                "record before the #fields header; skipped".into(),
            );
            return Ok(());
        }
        let fields: Vec<&str> = text.split(sep).collect();
        if fields.len() != cols.len() {
            report.warn(
                &ctx.source,
                Some(line_no),
                format!(
                    "{} fields, #fields names {}; record skipped",
                    fields.len(),
                    cols.len()
                ),
            );
            return Ok(());
        }
        let col = |name: &str| -> Option<&str> {
            let i = cols.iter().position(|c| c == name)?;
            fields
                .get(i)
                .copied()
                .filter(|v| *v != "-" && *v != "(empty)" && !v.is_empty())
        };
        let (Some(value), Some(t)) = (col("indicator"), col("indicator_type")) else {
            report.warn(
                &ctx.source,
                Some(line_no),
                "no indicator or indicator_type".into(),
            );
            return Ok(());
        };
        let Some(ty) = zeek_type(t) else {
            let c = unsupported.entry(t.to_string()).or_insert(0);
            *c = c.saturating_add(1);
            report.skipped(t);
            return Ok(());
        };
        let src = col("meta.source");
        let desc = col("meta.desc");
        let url = col("meta.url");
        let m = if src.is_some() || desc.is_some() || url.is_some() {
            Some(Box::new(ProvenanceMeta {
                tags: src.map(|s| vec![s.to_string()]).unwrap_or_default(),
                description: desc.map(str::to_string),
                reference: url.map(str::to_string),
                ..ProvenanceMeta::default()
            }))
        } else {
            None
        };
        let p = parse::parse_typed(ty, value);
        add_record(b, report, ctx, t, Loc::Line(line_no), value, p, None, m).map(|_| ())
    });
    for (t, n) in unsupported {
        report.warn(
            &ctx.source,
            None,
            format!("{n} records of unsupported type {t} skipped"),
        );
    }
    r
}
