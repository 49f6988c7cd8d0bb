//! Fuzz entry points (for `cargo fuzz` targets and the in-crate smoke tests).

use std::sync::Arc;

use crate::parse::{self, Parsed};
use crate::{IndicatorKind, LoadReport};

/// Parses arbitrary bytes as a list file of `kind` through the same line parser used for files
/// (no disk), then checks invariants on the result: each accepted indicator matches itself, its
/// normalised value re-parses to itself, and IP lookups return a prefix at least as specific.
///
/// # Panics
/// On an invariant violation (that is the point of a fuzz target); never on any input otherwise.
pub fn fuzz_list(kind: IndicatorKind, data: &[u8]) {
    let source: Arc<str> = Arc::from("fuzz");
    let mut b = crate::IntelDb::builder();
    let mut report = LoadReport::default();
    // The in-memory reader cannot fail and `data` cannot reach MAX_INDICATORS lines... unless it
    // is enormous, which is still not an invariant violation.
    let _ = b.load_reader(kind, data, &source, &mut report);
    assert_eq!(b.len(), report.loaded.total());
    let db = b.build();
    assert_eq!(db.len(), report.loaded.total());
    for ind in db.iter() {
        assert_eq!(db.get(ind.id), Some(ind));
        match ind.kind {
            IndicatorKind::Domain => {
                assert_eq!(
                    parse::parse_domain(&ind.value).as_deref(),
                    Ok(ind.value.as_str())
                );
                assert_eq!(db.match_domain(&ind.value).map(|i| i.id), Some(ind.id));
                assert_eq!(
                    db.match_domain(&ind.value.to_ascii_uppercase())
                        .map(|i| i.id),
                    Some(ind.id)
                );
                if ind.value.len() < parse::MAX_DOMAIN_LEN.saturating_sub(2) {
                    let sub = format!("x.{}.", ind.value);
                    assert!(
                        db.match_domain(&sub).is_some(),
                        "subdomain of {} missed",
                        ind.value
                    );
                }
            }
            IndicatorKind::Ip => {
                let Ok(Parsed::Ip { net, host_bits }) = parse::parse_ip(&ind.value) else {
                    panic!("normalised ip {:?} does not re-parse", ind.value);
                };
                assert!(!host_bits);
                assert_eq!(net.to_value(), ind.value);
                let hit = db.match_ip(net.addr()).expect("network address must match");
                let Ok(Parsed::Ip { net: hit_net, .. }) = parse::parse_ip(&hit.value) else {
                    panic!("matched value {:?} does not parse", hit.value);
                };
                assert!(hit_net.prefix_len() >= net.prefix_len());
            }
            IndicatorKind::Ja3 => {
                assert_eq!(db.match_ja3(&ind.value).map(|i| i.id), Some(ind.id));
                assert_eq!(
                    db.match_ja3(&ind.value.to_ascii_uppercase()).map(|i| i.id),
                    Some(ind.id)
                );
            }
            IndicatorKind::Ja4 => {
                assert_eq!(db.match_ja4(&ind.value).map(|i| i.id), Some(ind.id));
                assert_eq!(
                    db.match_ja4(&ind.value.to_ascii_uppercase()).map(|i| i.id),
                    Some(ind.id)
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Per-format loaders. The file loaders read from disk; these run the same in-crate parsers on a
// byte slice, so a fuzz target needs no temporary files.
// ---------------------------------------------------------------------------------------------

/// The formats [`fuzz_feed`] accepts, for targets that pick one from an input byte.
/// `MispFeed` is a directory (`manifest.json` plus one event file per UUID): its event files go
/// through the `MispEvent` loader, so it is not listed separately.
pub const FUZZ_FORMATS: [crate::FeedFormat; 15] = {
    use crate::FeedFormat as F;
    [
        F::Auto,
        F::Plain,
        F::Hosts,
        F::Csv,
        F::ZeekIntel,
        F::Stix21,
        F::MispEvent,
        F::MispWarninglist,
        F::Feodo,
        F::SslblJa3,
        F::SslblCert,
        F::SslblIp,
        F::Urlhaus,
        F::ThreatfoxCsv,
        F::ThreatfoxJson,
    ]
};

/// The CSV mapping [`fuzz_feed`] uses for [`crate::FeedFormat::Csv`]: a header row naming the
/// columns, so header resolution, the type column and every optional column are exercised.
pub fn fuzz_csv_mapping() -> crate::CsvMapping {
    use crate::Column;
    let mut m = crate::CsvMapping::new(0, None);
    m.value_column = Column::Name("value".into());
    m.type_column = Some(Column::Name("type".into()));
    m.has_header = true;
    m.first_seen_column = Some(Column::Name("first_seen".into()));
    m.last_seen_column = Some(Column::Name("last_seen".into()));
    m.confidence_column = Some(Column::Index(4));
    m.tags_column = Some(Column::Name("tags".into()));
    m.description_column = Some(Column::Index(6));
    m.reference_column = Some(Column::Name("reference".into()));
    m
}

/// Parses `data` as one feed file in `format` through the loader the file path uses (no disk;
/// `Auto` sniffs the format from the bytes as [`crate::detect_format`] does, under the name
/// `fuzz`; `MispFeed` is read as one event file), then checks the store: see [`check_store`].
///
/// # Panics
/// On an invariant violation (that is the point of a fuzz target); never on any input otherwise.
pub fn fuzz_feed(format: crate::FeedFormat, data: &[u8]) {
    let mapping = fuzz_csv_mapping();
    fuzz_feed_with(format, Some(&mapping), data);
}

/// [`fuzz_feed`] with a caller's CSV mapping (`None`: a `Csv` feed without one loads nothing).
///
/// # Panics
/// On an invariant violation.
pub fn fuzz_feed_with(format: crate::FeedFormat, mapping: Option<&crate::CsvMapping>, data: &[u8]) {
    use crate::formats::{self, abusech, csv, misp, stix, zeek};
    use crate::load::{read_hosts, read_plain, ReadError};
    use crate::FeedFormat as F;

    let source: Arc<str> = Arc::from("fuzz");
    let ctx = crate::db::Ctx::plain(&source);
    let mut b = crate::IntelBuilder::new();
    let mut report = LoadReport::default();
    let format = match format {
        F::Auto => formats::detect_bytes("fuzz", data),
        f => f,
    };
    assert_ne!(format, F::Auto, "detection must pick a format");
    let json = |report: &mut LoadReport| {
        let body = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(v) => Some(v),
            Err(e) => {
                report.warn(&source, None, format!("broken JSON: {e}"));
                None
            }
        }
    };
    let r: Result<(), ReadError> = match format {
        F::Auto | F::Plain => read_plain(&mut b, None, data, &ctx, &mut report),
        F::Hosts => read_hosts(&mut b, data, &ctx, &mut report),
        F::Csv => match mapping {
            Some(m) => csv::read_mapped(&mut b, m, data, &ctx, &mut report),
            None => Ok(()),
        },
        F::ZeekIntel => zeek::read(&mut b, data, &ctx, &mut report),
        F::Feodo | F::SslblJa3 | F::SslblCert | F::SslblIp | F::Urlhaus | F::ThreatfoxCsv => {
            abusech::read_csv(&mut b, format, data, &ctx, &mut report)
        }
        F::Stix21 | F::MispEvent | F::MispFeed | F::MispWarninglist | F::ThreatfoxJson => {
            match json(&mut report) {
                None => Ok(()),
                Some(doc) => match format {
                    F::Stix21 => stix::load(&mut b, &doc, &ctx, &mut report),
                    F::MispWarninglist => misp::load_warninglist(&mut b, &doc, &ctx, &mut report),
                    F::ThreatfoxJson => {
                        abusech::load_threatfox_json(&mut b, &doc, &ctx, &mut report)
                    }
                    _ => misp::load_event_doc(&mut b, &doc, &ctx, &mut report),
                },
            }
        }
    };
    // A byte slice cannot fail to read, and a fuzz input cannot hold MAX_INDICATORS records.
    assert!(r.is_ok(), "{format} loader failed on an in-memory input");
    assert_eq!(
        b.len(),
        report.by_type.total(),
        "{format}: new-indicator counts"
    );
    assert!(report.warnings.len() <= crate::MAX_WARNINGS);
    check_store(b.build());
}

/// Invariants of a built store, whatever loaded it: ids are dense and `get` returns the record,
/// each record has 1..=[`crate::MAX_PROVENANCE`] listings, every normalised value re-parses to
/// itself and is found again ([`crate::IntelDb::find`]), and per-type counts add up.
///
/// # Panics
/// On an invariant violation.
pub fn check_store(db: crate::IntelDb) {
    let mut per_type = [0usize; crate::IndicatorType::ALL.len()];
    for (i, ind) in db.iter().enumerate() {
        assert_eq!(usize::try_from(ind.id).ok(), Some(i), "ids are not dense");
        assert_eq!(db.get(ind.id), Some(ind));
        assert!(!ind.provenance.is_empty() && ind.provenance.len() <= crate::MAX_PROVENANCE);
        assert_eq!(
            db.find(ind.ty, &ind.value).map(|f| f.id),
            Some(ind.id),
            "normalised {} {:?} is not found again",
            ind.ty.as_str(),
            ind.value
        );
        if let Some(slot) = crate::IndicatorType::ALL
            .iter()
            .position(|t| *t == ind.ty)
            .and_then(|p| per_type.get_mut(p))
        {
            *slot += 1;
        }
    }
    for (ty, n) in crate::IndicatorType::ALL.iter().zip(per_type) {
        assert_eq!(db.count_type(*ty), n, "count_type({})", ty.as_str());
    }
}

/// The small text parsers fed from feed fields and the config: durations
/// ([`crate::parse_duration`]), timestamps ([`crate::parse_timestamp`]) and STIX patterns.
/// Non-UTF-8 input is ignored (the callers only ever hand these `&str`).
///
/// # Panics
/// On an invariant violation.
pub fn fuzz_fields(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = crate::parse_duration(text);
    let _ = crate::parse_timestamp(text);
    if let Ok(cmps) = crate::formats::stix::parse_pattern(text) {
        // Each comparison's value is a quoted literal taken from the pattern.
        let total: usize = cmps.iter().map(|c| c.value.len()).sum();
        assert!(
            total <= text.len(),
            "comparison values longer than the pattern"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-written records in each format (syntax from the format docs cited in each loader).
    const SAMPLES: [(crate::FeedFormat, &[u8]); 12] = {
        use crate::FeedFormat as F;
        [
            (F::Plain, b"192.0.2.1\nexample.com # c\nhxxp://evil[.]example/x?y=1\n198.51.100.0/24:443\n"),
            (F::Hosts, b"0.0.0.0 ads.example localhost\n127.0.0.1\tTracker.Example.\n"),
            (F::Csv, b"value,type,first_seen,last_seen,conf,tags,desc,reference\n192.0.2.7,ip,2024-01-01,2024-02-01 10:00:00,80,a;b,d,https://r.example/\n"),
            (F::ZeekIntel, b"#separator \\x09\n#fields\tindicator\tindicator_type\tmeta.source\n192.0.2.9\tIntel::ADDR\tfeed\nevil.example\tIntel::DOMAIN\tfeed\n"),
            (F::Stix21, br#"{"type":"bundle","id":"bundle--1","objects":[{"type":"indicator","spec_version":"2.1","id":"indicator--1","pattern_type":"stix","pattern":"[ipv4-addr:value = '192.0.2.3'] OR [domain-name:value = 'c2.example']","valid_from":"2024-01-01T00:00:00Z"}]}"#),
            (F::MispEvent, br#"{"Event":{"info":"x","Attribute":[{"type":"ip-dst","value":"192.0.2.4","to_ids":true},{"type":"domain","value":"m.example","to_ids":"1"}]}}"#),
            (F::MispWarninglist, br#"{"name":"w","type":"cidr","list":["192.0.2.0/24","2001:db8::/32"]}"#),
            (F::Feodo, b"# abuse.ch Feodo Tracker\n\"first_seen_utc\",\"dst_ip\",\"dst_port\",\"c2_status\",\"last_online\",\"malware\"\n\"2024-01-01 00:00:00\",\"192.0.2.5\",\"443\",\"online\",\"2024-01-02\",\"QakBot\"\n"),
            (F::SslblJa3, b"# ja3_md5,Firstseen,Lastseen,Listingreason\ne7eca2baf4458d095b7f45da28c16c34,2017-07-13 18:06:09,2019-05-31 05:43:02,Adware\n"),
            (F::Urlhaus, b"# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n\"1\",\"2024-01-01 00:00:00\",\"http://192.0.2.6/a.sh\",\"online\",\"\",\"malware_download\",\"elf\",\"https://urlhaus.abuse.ch/url/1/\",\"r\"\n"),
            (F::ThreatfoxJson, br#"{"1":[{"ioc_value":"192.0.2.8:8080","ioc_type":"ip:port","threat_type":"botnet_cc","malware":"x","confidence_level":75,"first_seen_utc":"2024-01-01 00:00:00"}]}"#),
            (F::Auto, b"#fields\tindicator\tindicator_type\n192.0.2.10\tIntel::ADDR\n"),
        ]
    };

    #[test]
    fn samples_load_something() {
        for (format, data) in SAMPLES {
            let mapping = fuzz_csv_mapping();
            let mut b = crate::IntelBuilder::new();
            let source: Arc<str> = Arc::from("t");
            let mut report = LoadReport::default();
            // The same bytes through the public file path must load at least one indicator,
            // so the fuzz entry starts from inputs that reach the record code.
            let dir = std::env::temp_dir().join(format!(
                "tapir-intel-fuzzing-{}-{}",
                std::process::id(),
                format.as_str()
            ));
            std::fs::create_dir_all(&dir).expect("test data is valid");
            let path = dir.join("feed.data");
            std::fs::write(&path, data).expect("test data is valid");
            let ctx = crate::db::Ctx::plain(&source);
            let used =
                crate::formats::load_file(&mut b, &path, format, &ctx, Some(&mapping), &mut report)
                    .expect("test data is valid");
            let _ = std::fs::remove_dir_all(&dir);
            assert!(!b.is_empty(), "{used}: nothing loaded: {report:?}");
            fuzz_feed(format, data);
        }
    }

    #[test]
    fn truncation_at_every_offset() {
        for (format, data) in SAMPLES {
            for end in 0..=data.len() {
                fuzz_feed(format, &data[..end]);
                fuzz_feed(format, &data[end..]);
                fuzz_feed(crate::FeedFormat::Auto, &data[..end]);
            }
        }
    }

    #[test]
    fn fields() {
        for t in [
            &b"[ipv4-addr:value = '192.0.2.1'] OR [url:value = 'http://x/']"[..],
            b"[file:hashes.'SHA-256' = 'ab' AND x:y = 'z']",
            b"90d",
            b"2024-01-01T00:00:00Z",
            b"\xff",
            b"",
        ] {
            for end in 0..=t.len() {
                fuzz_fields(&t[..end]);
            }
        }
    }
}

#[cfg(test)]
mod regressions {
    use crate::FeedFormat;

    /// A committed regression input, `tests/fuzz/seeds/TARGET/NAME`.
    fn seed(target_and_name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../../tests/fuzz/seeds/{target_and_name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("regression input {path}: {e}"))
    }

    /// Finding 5 (tests/fuzz/README.md): a MISP URL attribute with nested defanging
    /// (`[[[[:]]]]`, one level refanged per pass) normalised to a value that refanged again on
    /// lookup, so `find` missed the indicator just loaded.
    #[test]
    fn nested_defang_is_refused_not_stored_unfindable() {
        let data = seed("intel_misp_event/regress-nested-defang.json");
        super::fuzz_feed(FeedFormat::MispEvent, &data);
        for (text, ok) in [
            ("evil[.]example", true),
            ("evil[[.]]example", false),
            ("http://a.example/x[[:]]y", false),
            ("hxxp://a[.]example/p", true),
        ] {
            assert_eq!(crate::parse::parse_auto(text).is_ok(), ok, "{text}");
        }
    }

    /// Finding 8: a scheme-less URL of exactly [`crate::MAX_URL_LEN`] bytes was accepted, then
    /// normalised with `http://` in front to a value over the limit, which `find` refused to
    /// parse, so the indicator just loaded was not found again.
    #[test]
    fn url_over_the_limit_once_normalised_is_refused() {
        let data = seed("intel_misp_event/regress-url-normalised-too-long.json");
        super::fuzz_feed(FeedFormat::MispEvent, &data);
        let max = crate::MAX_URL_LEN;
        let host = "evil.example/";
        let fits = format!("{host}{}", "a".repeat(max - host.len() - "http://".len()));
        let parsed = crate::parse::parse_url(&fits).expect("fits once normalised");
        assert_eq!(parsed.value.len(), max);
        assert_eq!(
            crate::parse::parse_url(&parsed.value).map(|p| p.value),
            Ok(parsed.value.clone())
        );
        let over = format!("{fits}a");
        assert!(
            crate::parse::parse_url(&over).is_err(),
            "{} bytes",
            over.len()
        );
        // `/` before a bare query lengthens it too.
        let query = format!("http://evil.example?{}", "q".repeat(max - 20));
        assert_eq!(query.len(), max);
        assert!(crate::parse::parse_url(&query).is_err());
    }

    /// Finding 10: `.hxXpS` (a domain with a leading dot) was stored as `hxxps`, which the
    /// scheme refanging turned into `https` when read back, so `find` missed it.
    #[test]
    fn a_domain_named_like_a_defanged_scheme_reads_back() {
        let data = seed("intel_auto/regress-hxxps-domain.txt");
        super::fuzz_feed(FeedFormat::Auto, &data);
        super::fuzz_feed(FeedFormat::Plain, &data);
        for (text, want) in [
            (".hxXpS", "hxxps"),
            ("hxxps", "hxxps"),
            ("hxxps[:]//a[.]example/x", "https://a.example/x"),
            ("hXXp://a[.]example", "http://a.example/"),
            ("hxxpsite.example", "hxxpsite.example"),
        ] {
            let got = match crate::parse::parse_auto(text) {
                Ok(crate::parse::Parsed::Domain(d)) => d,
                Ok(crate::parse::Parsed::Url(u)) => u.value,
                other => panic!("{text}: {other:?}"),
            };
            assert_eq!(got, want, "{text}");
        }
    }

    /// Finding 9: a URL with a Unicode space or C1 control (U+0085 NEL) before its fragment was
    /// stored ending in it (the fragment is dropped), and `find` trims Unicode whitespace, so
    /// the indicator just loaded was not found again.
    #[test]
    fn url_with_unicode_space_is_refused() {
        let data = seed("intel_csv/regress-url-unicode-space.csv");
        super::fuzz_feed(FeedFormat::Csv, &data);
        for (text, ok) in [
            ("http://evil.example/a\u{85}#frag", false),
            ("http://evil.example/b\u{2028}", false),
            ("http://evil.example/\u{a0}x", false),
            ("http://evil.example/\u{9f}", false),
            ("http://evil.example/caf\u{e9}", true),
        ] {
            assert_eq!(crate::parse::parse_url(text).is_ok(), ok, "{text:?}");
        }
    }
}
