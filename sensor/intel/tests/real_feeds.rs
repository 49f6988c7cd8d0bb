//! Real feed samples from ../shared/intel-samples loaded through the plain-list line parser.
//! Expected counts are the ones stated in ../shared/intel-samples/README.md; JA4 values come
//! from the third-party oracles in ../shared/testdata/expected.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tapir_intel::{IndicatorKind, IntelDb, LoadReport};

fn shared() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    if p.is_dir() {
        Some(p)
    } else {
        println!("skipped: ../shared not present");
        None
    }
}

/// Loads `file` as a list of `kind` through the same reader the file loader uses.
fn load_as(kind: IndicatorKind, file: &Path) -> (IntelDb, LoadReport) {
    let data = fs::read(file).unwrap();
    let src: Arc<str> = file.display().to_string().into();
    let mut b = IntelDb::builder();
    let mut report = LoadReport::default();
    b.load_reader(kind, data.as_slice(), &src, &mut report)
        .unwrap();
    (b.build(), report)
}

#[test]
fn firehol_level1_as_ips() {
    let Some(sh) = shared() else { return };
    let (db, report) = load_as(
        IndicatorKind::Ip,
        &sh.join("intel-samples/iplist-firehol_level1.netset"),
    );
    // README: {"data_lines": 2491, "unique_ipv4": 407, "cidrs": 2084, "duplicates": 0, "unparsable": []}
    assert!(report.warnings.is_empty(), "{report}");
    assert_eq!(report.duplicates, 0);
    assert_eq!(db.count(IndicatorKind::Ip), 2491);
    assert_eq!(db.len(), 2491);
    assert_eq!(db.iter().filter(|i| i.value.contains('/')).count(), 2084);
    assert_eq!(db.iter().filter(|i| !i.value.contains('/')).count(), 407);
    // README quirk: the list includes 10.0.0.0/8 and 224.0.0.0/3.
    assert_eq!(
        db.match_ip("10.200.1.1".parse().unwrap()).unwrap().value,
        "10.0.0.0/8"
    );
    assert_eq!(
        db.match_ip("::ffff:239.1.1.1".parse().unwrap())
            .unwrap()
            .value,
        "224.0.0.0/3"
    );
    // Each entry's network address finds an entry at least as specific.
    for ind in db.iter() {
        let addr = ind.value.split('/').next().unwrap().parse().unwrap();
        let hit = db.match_ip(addr).unwrap();
        let len = |v: &str| {
            v.split_once('/')
                .map_or(32, |(_, l)| l.parse::<u8>().unwrap())
        };
        assert!(len(&hit.value) >= len(&ind.value));
    }
}

#[test]
fn urlhaus_filter_domains_as_domains() {
    let Some(sh) = shared() else { return };
    let (db, report) = load_as(
        IndicatorKind::Domain,
        &sh.join("intel-samples/blocklist-domains-urlhaus-filter-domains.txt"),
    );
    // README: {"entries": 63908, "unique": 63908, "ip_entries": 39275}. Exact-string unique, so the
    // only collapses here come from case folding; every entry is a new indicator, a duplicate or a
    // reported bad line.
    let line_warnings = report.warnings.iter().filter(|w| w.line.is_some()).count();
    assert_eq!(report.warnings_suppressed, 0);
    assert_eq!(
        db.len() + report.duplicates + line_warnings,
        63908,
        "{report}"
    );
    assert_eq!(db.count(IndicatorKind::Ip), 39275);
    // The README points out values carrying literal '?' (URL query strings glued to the host).
    assert!(report
        .warnings
        .iter()
        .any(|w| w.message.contains("c7paintedparts.com?5YBuk")
            && w.message.starts_with("invalid domain (illegal character)")));
    assert!(db.match_domain("0-day.us").is_some());
    assert!(db.match_domain("www.ALANAMORSCHEL.com.br.").is_some());
    assert!(db.match_domain("notalanamorschel.com.br").is_none());
    for ind in db.iter().filter(|i| i.kind == IndicatorKind::Domain) {
        assert_eq!(db.match_domain(&ind.value).map(|i| i.id), Some(ind.id));
    }
}

#[test]
fn sslbl_ja3_first_column_as_ja3() {
    let Some(sh) = shared() else { return };
    // README: {"rows": 98, "unique_ja3_md5": 98, "bad": []}. Only the first CSV column is fed in;
    // the CSV loader itself is a later feature.
    let text =
        fs::read_to_string(sh.join("intel-samples/abusech-sslbl-ja3_fingerprints.csv")).unwrap();
    let list: String = text
        .lines()
        .map(|l| format!("{}\n", l.split(',').next().unwrap_or("")))
        .collect();
    let src: Arc<str> = Arc::from("ja3_fingerprints.csv#1");
    let mut b = IntelDb::builder();
    let mut report = LoadReport::default();
    b.load_reader(IndicatorKind::Ja3, list.as_bytes(), &src, &mut report)
        .unwrap();
    assert!(report.warnings.is_empty(), "{report}");
    let db = b.build();
    assert_eq!(db.count(IndicatorKind::Ja3), 98);
    assert!(db.match_ja3("B386946A5A44D1DDCC843BC75336DFCE").is_some());
}

#[test]
fn oracle_ja4_values_are_accepted() {
    let Some(sh) = shared() else { return };
    let mut values = Vec::new();
    for e in fs::read_dir(sh.join("testdata/expected")).unwrap() {
        let text = fs::read_to_string(e.unwrap().path()).unwrap();
        for part in text.split("\"ja4\": \"").skip(1) {
            values.push(part.split('"').next().unwrap().to_string());
        }
    }
    assert!(!values.is_empty());
    let src: Arc<str> = Arc::from("oracles");
    let mut b = IntelDb::builder();
    for v in &values {
        b.add_line(IndicatorKind::Ja4, v, &src, 1)
            .unwrap_or_else(|e| panic!("{v}: {e}"));
    }
    let db = b.build();
    for v in &values {
        assert!(db.match_ja4(v).is_some(), "{v}");
    }
}
