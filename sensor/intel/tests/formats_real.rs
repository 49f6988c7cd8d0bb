//! Every feed format on its real sample in ../shared/intel-samples. Expected numbers are the
//! ones ../shared/intel-samples/README.md states for each file (computed there by a separate
//! counting script); nothing here is computed by tapir's own code.

use std::path::{Path, PathBuf};

use tapir_intel::{
    check_path, check_path_as, load_feeds, FeedConfig, FeedFormat, FileCheck, IndicatorType,
};

fn sample(name: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/intel-samples");
    if p.is_dir() {
        Some(p.join(name))
    } else {
        println!("skipped: ../shared/intel-samples not present");
        None
    }
}

fn check(name: &str) -> Option<FileCheck> {
    let p = sample(name)?;
    Some(check_path(&p).unwrap_or_else(|e| panic!("{name}: {e}")))
}

fn rec(c: &FileCheck, t: &str) -> usize {
    c.report.records_by_type.get(t).copied().unwrap_or(0)
}

fn skipped(c: &FileCheck, t: &str) -> usize {
    c.report.skipped_by_type.get(t).copied().unwrap_or(0)
}

fn no_warnings(c: &FileCheck) {
    assert_eq!(c.warning_count(), 0, "{}", c.report);
}

#[test]
fn feodo_ipblocklist() {
    let Some(c) = check("abusech-feodo-ipblocklist.csv") else {
        return;
    };
    // README: rows 750, unique_ipv4 728, unique_ip_port 750.
    assert_eq!(c.format, FeedFormat::Feodo);
    no_warnings(&c);
    assert_eq!(rec(&c, "feodo:ip"), 750);
    assert_eq!(rec(&c, "feodo:ip_port"), 750);
    assert_eq!(c.indicators.ip, 728);
    assert_eq!(c.indicators.ip_port, 750);
    assert_eq!(c.report.duplicates, 750 - 728);
}

#[test]
fn sslbl_ja3() {
    let Some(c) = check("abusech-sslbl-ja3_fingerprints.csv") else {
        return;
    };
    // README: rows 98, unique_ja3_md5 98.
    assert_eq!(c.format, FeedFormat::SslblJa3);
    no_warnings(&c);
    assert_eq!(c.indicators.ja3, 98);
    assert_eq!(c.indicators.total(), 98);
}

#[test]
fn sslbl_certificates() {
    let Some(c) = check("abusech-sslbl-sslblacklist.csv") else {
        return;
    };
    // README: rows 5522, unique_sha1 5522 (CRLF line ends).
    assert_eq!(c.format, FeedFormat::SslblCert);
    no_warnings(&c);
    assert_eq!(c.indicators.cert_sha1, 5522);
    assert_eq!(c.indicators.total(), 5522);
}

#[test]
fn sslbl_ip_blacklist() {
    let Some(c) = check("abusech-sslbl-sslipblacklist-2015.csv") else {
        return;
    };
    // README: rows 83, unique_ipv4 83, unique_ip_port 83 (3 fields per row, header says 2).
    assert_eq!(c.format, FeedFormat::SslblIp);
    no_warnings(&c);
    assert_eq!(c.indicators.ip, 83);
    assert_eq!(c.indicators.ip_port, 83);
}

#[test]
fn urlhaus_csv() {
    let Some(c) = check("abusech-urlhaus-csv_online.csv") else {
        return;
    };
    // README: rows 9042, unique_urls 9042.
    assert_eq!(c.format, FeedFormat::Urlhaus);
    no_warnings(&c);
    assert_eq!(rec(&c, "urlhaus"), 9042);
    assert_eq!(c.indicators.url, 9042);
    assert_eq!(c.indicators.total(), 9042);
}

#[test]
fn zeek_intel() {
    let Some(c) = check("zeek-intel-cps-collected-iocs.intel") else {
        return;
    };
    // README lines_by_type: ADDR 21266, URL 15476, DOMAIN 139, EMAIL 570, FILE_HASH 42;
    // unique (indicator, type) pairs: URL 15476, ADDR 20057, FILE_HASH 42; malformed 0.
    assert_eq!(c.format, FeedFormat::ZeekIntel);
    assert_eq!(rec(&c, "Intel::ADDR"), 21266);
    assert_eq!(rec(&c, "Intel::URL"), 15476);
    assert_eq!(rec(&c, "Intel::DOMAIN"), 139);
    assert_eq!(rec(&c, "Intel::FILE_HASH"), 42);
    assert_eq!(skipped(&c, "Intel::EMAIL"), 570);
    assert_eq!(c.indicators.url, 15476);
    assert_eq!(c.indicators.hash, 42);
    // Some DOMAIN records are IP addresses (routed to ip), so ip is at least the ADDR pairs.
    let ips = c.indicators.ip + c.indicators.cidr;
    assert!((20057..=20057 + 139).contains(&ips), "{ips}");
    // The only warning is the summary of the unsupported EMAIL records.
    assert_eq!(c.warning_count(), 1, "{}", c.report);
    assert!(c.warnings[0]
        .message
        .contains("570 records of unsupported type Intel::EMAIL"));
}

/// Line-level warnings (bad values), as opposed to whole-file summaries.
fn line_warnings(c: &FileCheck) -> usize {
    assert_eq!(c.warnings_suppressed, 0);
    c.warnings.iter().filter(|w| w.line.is_some()).count()
}

#[test]
fn hosts_file() {
    let Some(c) = check("blocklist-hosts-urlhaus-filter-hosts.txt") else {
        return;
    };
    // README: entries 39064, unique_names 39064 (exact strings), names_that_are_ips 0. Some
    // names are not host names (URL query strings glued on, `??` mojibake); each such entry is
    // a warning naming its line, every other one an indicator or a case-folded duplicate.
    assert_eq!(c.format, FeedFormat::Hosts);
    let bad = line_warnings(&c);
    assert!(bad > 0 && bad < 100, "{}", c.report);
    assert_eq!(rec(&c, "hosts") + bad, 39064);
    assert_eq!(c.indicators.domain + c.report.duplicates + bad, 39064);
    assert_eq!(c.indicators.ip, 0);
    assert!(c
        .warnings
        .iter()
        .any(|w| w.line == Some(11948) && w.message.contains("c7paintedparts.com?5YBuk")));
}

#[test]
fn plain_domain_list_with_ips() {
    let Some(c) = check("blocklist-domains-urlhaus-filter-domains.txt") else {
        return;
    };
    // README: entries 63908, unique 63908, ip_entries 39275.
    assert_eq!(c.format, FeedFormat::Plain);
    assert_eq!(c.indicators.ip, 39275);
    let bad = line_warnings(&c);
    assert_eq!(
        c.indicators.domain + c.indicators.ip + c.report.duplicates + bad,
        63908
    );
}

#[test]
fn firehol_netset() {
    let Some(c) = check("iplist-firehol_level1.netset") else {
        return;
    };
    // README: unique_ipv4 407, cidrs 2084, unparsable none.
    assert_eq!(c.format, FeedFormat::Plain);
    no_warnings(&c);
    assert_eq!(c.indicators.ip, 407);
    assert_eq!(c.indicators.cidr, 2084);
}

#[test]
fn misp_warninglists() {
    let Some(c) = check("benign-misp-warninglist-cloudflare.json") else {
        return;
    };
    // README: entries 22, all CIDRs (15 IPv4, 7 IPv6).
    assert_eq!(c.format, FeedFormat::MispWarninglist);
    no_warnings(&c);
    assert_eq!(c.indicators.cidr, 22);
    assert_eq!(c.indicators.total(), 22);
    let Some(c) = check("benign-misp-warninglist-public-dns-v4.json") else {
        return;
    };
    // README: entries 62745, unique 62745, cidr_entries 0.
    no_warnings(&c);
    assert_eq!(c.indicators.ip, 62745);
    assert_eq!(c.indicators.cidr, 0);
    let Some(c) = check("benign-misp-warninglist-tranco10k.json") else {
        return;
    };
    // README: type hostname, entries 10000, unique 10000.
    no_warnings(&c);
    assert_eq!(rec(&c, "warninglist:hostname"), 10000);
}

#[test]
fn misp_event_asert_to_ids_only() {
    let Some(c) = check("misp-event-asert-long_event.json") else {
        return;
    };
    assert_eq!(c.format, FeedFormat::MispEvent);
    // README to_ids_by_type says url 14; one of those values is "107.183.86", which is not a
    // URL (three octets, no scheme or path): it is the one warning, naming the attribute.
    assert_eq!(c.warning_count(), 1, "{}", c.report);
    assert!(c.warnings[0]
        .to_string()
        .contains(": attribute 571620b0-5e38-4e8c-9c29-416d950d210f: invalid URL"));
    assert_eq!(rec(&c, "url"), 13);
    // README to_ids_by_type, for the other attribute types tapir loads.
    for (t, n) in [
        ("md5", 31),
        ("sha256", 40),
        ("hostname", 9),
        ("domain", 3),
        ("ip-dst", 8),
        ("filename|sha256", 44),
        ("sha1", 57),
        ("filename|md5", 44),
    ] {
        assert_eq!(rec(&c, t), n, "{t}");
    }
    // README by_type minus to_ids_by_type: the non-IDS attributes are counted as skipped.
    assert_eq!(skipped(&c, "non-ids:hostname"), 21 - 9);
    assert_eq!(skipped(&c, "non-ids:ip-dst"), 9 - 8);
    // `link` (64) is a reference, not an indicator.
    assert_eq!(skipped(&c, "link"), 64);
    assert_eq!(c.indicators.url, 13);
}

#[test]
fn misp_event_include_non_ids_and_tags() {
    let Some(p) = sample("misp-event-asert-long_event.json") else {
        return;
    };
    let mut f = FeedConfig::local("asert", &p, FeedFormat::Auto);
    f.include_non_ids = true;
    let (db, report) = load_feeds(&[f], Path::new("/nonexistent-cache"));
    assert!(report.failed_feeds.is_empty(), "{:?}", report.failed_feeds);
    // README by_type (all attributes).
    for (t, n) in [
        ("hostname", 21),
        ("ip-dst", 9),
        ("sha256", 41),
        ("filename|md5", 46),
    ] {
        assert_eq!(report.records_by_type.get(t).copied(), Some(n), "{t}");
    }
    // README event_tags: ["tlp:white", "type:OSINT"], kept on each listing.
    let ind = db.iter().find(|i| i.ty == IndicatorType::Url).unwrap();
    let tags = ind.provenance[0].tags();
    assert!(tags.iter().any(|t| t == "tlp:white") && tags.iter().any(|t| t == "type:OSINT"));
    assert_eq!(&*ind.provenance[0].feed, "asert");
}

#[test]
fn misp_event_babyshark_objects_and_attack_tag() {
    let Some(p) = sample("misp-event-babyshark-image_event.json") else {
        return;
    };
    let c = check_path_as(&p, FeedFormat::MispEvent).unwrap();
    no_warnings(&c);
    // README to_ids_by_type (attributes inside Objects included).
    for (t, n) in [("url", 1), ("sha256", 20), ("md5", 10), ("sha1", 10)] {
        assert_eq!(rec(&c, t), n, "{t}");
    }
    let (db, _) = load_feeds(
        &[FeedConfig::local("bs", &p, FeedFormat::MispEvent)],
        Path::new("/nonexistent-cache"),
    );
    // README mitre_attack_pattern_tags: "... Signing Keys - T1441".
    let ind = db.iter().next().unwrap();
    let meta = ind.provenance[0].meta.as_ref().unwrap();
    assert_eq!(meta.attack, ["T1441"]);
    assert!(meta
        .tags
        .iter()
        .any(|t| t.starts_with("misp-galaxy:mitre-attack-pattern=")));
}

#[test]
fn stix_c2_with_coa() {
    let Some(c) = check("stix21-indicators-for-C2-with-COA.json") else {
        return;
    };
    // README comparisons_by_path: ipv4-addr:value 1, file:hashes.'SHA-256' 1.
    assert_eq!(c.format, FeedFormat::Stix21);
    no_warnings(&c);
    assert_eq!(rec(&c, "ipv4-addr:value"), 1);
    assert_eq!(rec(&c, "file:hashes.'SHA-256'"), 1);
    assert_eq!(c.indicators.ip, 1);
    assert_eq!(c.indicators.hash, 1);
}

#[test]
fn stix_poison_ivy() {
    let Some(p) = sample("stix21-poisonivy-report.json") else {
        return;
    };
    let c = check_path(&p).unwrap();
    assert_eq!(c.format, FeedFormat::Stix21);
    // README: ipv4-addr:value 40 comparisons (18 unique), domain-name:value 25 (one of them is
    // "domain autuo.xicp.net", not a name), file:name 2 (not network-matchable).
    assert_eq!(rec(&c, "ipv4-addr:value"), 40);
    assert_eq!(c.indicators.ip, 18);
    assert_eq!(rec(&c, "domain-name:value"), 24);
    assert_eq!(c.indicators.domain, 24);
    assert_eq!(skipped(&c, "file:name"), 2);
    let bad: Vec<String> = c.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(bad.len(), 3, "{bad:#?}");
    assert!(bad
        .iter()
        .any(|w| w.contains("autuo.xicp.net") && w.contains(": indicator--")));
    assert_eq!(
        bad.iter()
            .filter(|w| w.contains("file:name not supported"))
            .count(),
        2
    );
    // Provenance carries the STIX id for sightings.
    let (db, _) = load_feeds(
        &[FeedConfig::local("pivy", &p, FeedFormat::Stix21)],
        Path::new("/nonexistent-cache"),
    );
    let ind = db.iter().find(|i| i.ty == IndicatorType::Domain).unwrap();
    assert!(ind.provenance[0]
        .stix_id()
        .unwrap()
        .starts_with("indicator--"));
}

#[test]
fn stix_sighting_bundle_has_no_indicators() {
    let Some(c) = check("stix21-sighting-of-observed-data.json") else {
        return;
    };
    // README: indicators 0, sightings 1.
    assert_eq!(c.format, FeedFormat::Stix21);
    no_warnings(&c);
    assert_eq!(c.indicators.total(), 0);
}

#[test]
fn check_json_shape() {
    let Some(c) = check("abusech-sslbl-ja3_fingerprints.csv") else {
        return;
    };
    let v: serde_json::Value = serde_json::to_value(&c).unwrap();
    assert_eq!(v["format"], "sslbl-ja3");
    assert_eq!(v["indicators"]["ja3"], 98);
    assert_eq!(v["warnings"], 0);
    for k in [
        "ip",
        "cidr",
        "domain",
        "url",
        "ja3",
        "ja4",
        "cert_sha1",
        "hash",
        "ip_port",
    ] {
        assert!(v["indicators"].get(k).is_some(), "{k}");
    }
}
