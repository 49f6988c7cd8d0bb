//! File and directory loading: type inference, warnings with file:line, errors for explicit paths.

use std::fs;
use std::path::{Path, PathBuf};

use tapir_intel::{IndicatorKind, IntelDb, IntelError, MAX_LINE_BYTES};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("tapir-intel-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        fs::write(&p, data).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn show(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn junk_lines_reported_good_lines_load() {
    let t = TempDir::new("junk");
    let f = t.write(
        "ips-test.txt",
        b"# header\r\n192.0.2.1\r\n\r\nnot-an-ip\r\n198.51.100.0/24   # office\r\n10.1.2.3/8\r\n1.2.3.4/40\n192.0.2.1\n\xff\xfe\n2001:db8::/32",
    );
    let (db, report) = IntelDb::load_paths(std::slice::from_ref(&f)).unwrap();
    let warnings: Vec<String> = report.warnings.iter().map(|w| w.to_string()).collect();
    let file = show(&f);
    assert_eq!(warnings.len(), 4, "{warnings:#?}");
    assert!(
        warnings[0].starts_with(&format!("{file}:4: invalid IP address")),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].contains("not-an-ip"));
    assert!(
        warnings[1].starts_with(&format!("{file}:6: host bits set")),
        "{}",
        warnings[1]
    );
    assert!(warnings[1].contains("10.0.0.0/8"));
    assert!(
        warnings[2].starts_with(&format!("{file}:7: invalid CIDR prefix length")),
        "{}",
        warnings[2]
    );
    assert!(
        warnings[3].starts_with(&format!("{file}:9: line is not valid UTF-8")),
        "{}",
        warnings[3]
    );
    assert_eq!(report.loaded.ip, 4);
    assert_eq!(report.duplicates, 1);
    assert_eq!(report.files, 1);
    assert_eq!(db.len(), 4);
    let values: Vec<&str> = db.iter().map(|i| i.value.as_str()).collect();
    assert_eq!(
        values,
        [
            "192.0.2.1",
            "198.51.100.0/24",
            "10.0.0.0/8",
            "2001:db8::/32"
        ]
    );
    let lines: Vec<u32> = db.iter().map(|i| i.line).collect();
    assert_eq!(lines, [2, 5, 6, 10]);
    assert!(db.iter().all(|i| *i.source == *file));
    // Display: one warning per line.
    assert_eq!(report.to_string().lines().count(), 4);
}

#[test]
fn over_long_line_is_skipped_and_next_line_loads() {
    let t = TempDir::new("long");
    let mut data = vec![b'a'; MAX_LINE_BYTES * 3];
    data.extend_from_slice(b".com\nexample.com\n");
    let f = t.write("domains.txt", &data);
    let (db, report) = IntelDb::load_paths(std::slice::from_ref(&f)).unwrap();
    assert_eq!(report.warnings.len(), 1);
    assert_eq!(report.warnings[0].line, Some(1));
    assert!(report.warnings[0].message.contains("longer than"));
    assert_eq!(db.len(), 1);
    assert_eq!(db.get(0).unwrap().line, 2);
    assert!(db.match_domain("www.example.com").is_some());
}

#[test]
fn directory_with_unknown_type_file() {
    let t = TempDir::new("dir");
    // Line 2 is an IDNA name (converted to punycode); line 3 is not a name at all.
    t.write(
        "domains.txt",
        b"example.com\nb\xc3\xbccher.example\nbad..name\n",
    );
    t.write("ips-tor.txt", b"203.0.113.5\n");
    t.write("ja3.list", b"e7eca2baf4458d095b7f45da28c16c34\n");
    t.write("JA4_feed.txt", b"t13d1516h2_8daaf6152771_e5627efa2ab1\n");
    let readme = t.write("README.md", b"example.org\n");
    fs::create_dir(t.0.join("ips-subdir")).unwrap();
    let (db, report) = IntelDb::load_paths(std::slice::from_ref(&t.0)).unwrap();
    assert_eq!(db.count(IndicatorKind::Domain), 2);
    // RFC 3492 / IDNA: "bücher" is "xn--bcher-kva" in ASCII form.
    assert_eq!(
        db.match_domain("www.xn--bcher-kva.example").unwrap().value,
        "xn--bcher-kva.example"
    );
    assert_eq!(db.count(IndicatorKind::Ip), 1);
    assert_eq!(db.count(IndicatorKind::Ja3), 1);
    assert_eq!(db.count(IndicatorKind::Ja4), 1);
    assert_eq!(report.files, 4);
    assert!(
        db.match_domain("example.org").is_none(),
        "README.md must not be loaded"
    );
    let warnings: Vec<String> = report.warnings.iter().map(|w| w.to_string()).collect();
    let readme_w = format!("{}: cannot infer the list type", show(&readme));
    assert!(
        warnings.iter().any(|w| w.starts_with(&readme_w)),
        "{warnings:#?}"
    );
    let bad_line = format!("{}:3: invalid domain", show(&t.0.join("domains.txt")));
    assert!(
        warnings.iter().any(|w| w.starts_with(&bad_line)),
        "{warnings:#?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("ips-subdir") && w.contains("not a regular file")),
        "{warnings:#?}"
    );
    assert_eq!(warnings.len(), 3, "{warnings:#?}");
    // Files load in name order, so ids follow it: JA4_feed.txt < domains.txt < ips-tor.txt < ja3.list.
    let kinds: Vec<IndicatorKind> = db.iter().map(|i| i.kind).collect();
    assert_eq!(
        kinds,
        [
            IndicatorKind::Ja4,
            IndicatorKind::Domain,
            IndicatorKind::Domain,
            IndicatorKind::Ip,
            IndicatorKind::Ja3
        ]
    );
}

#[test]
fn explicit_missing_path_is_an_error() {
    let t = TempDir::new("missing");
    let p = t.0.join("domains-missing.txt");
    let err = IntelDb::load_paths(std::slice::from_ref(&p)).unwrap_err();
    assert!(matches!(err, IntelError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains(&show(&p)));
}

#[test]
fn explicit_unknown_type_is_an_error() {
    let t = TempDir::new("unknown");
    let p = t.write("feed.txt", b"example.com\n");
    let err = IntelDb::load_paths(std::slice::from_ref(&p)).unwrap_err();
    assert!(matches!(err, IntelError::UnknownType { .. }), "{err:?}");
    assert!(err.to_string().starts_with(&show(&p)));
}

#[test]
fn explicit_files_and_duplicates_across_files() {
    let t = TempDir::new("multi");
    let a = t.write("domains-a.txt", b"*.example.com\n");
    let b = t.write("domains-b.txt", b"EXAMPLE.com.\nexample.net\n");
    let (db, report) = IntelDb::load_paths(&[a.clone(), b]).unwrap();
    assert_eq!(db.len(), 2);
    assert_eq!(report.duplicates, 1);
    assert_eq!(&*db.match_domain("x.example.com").unwrap().source, show(&a));
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[test]
fn ips_in_domains_file_are_summarised() {
    let t = TempDir::new("routed");
    let f = t.write("domains.txt", b"example.com\n192.0.2.1\n2001:db8::1\n");
    let (db, report) = IntelDb::load_paths(&[f]).unwrap();
    assert_eq!(report.loaded.domain, 1);
    assert_eq!(report.loaded.ip, 2);
    assert_eq!(report.warnings.len(), 1);
    assert_eq!(report.warnings[0].line, None);
    assert!(report.warnings[0]
        .message
        .starts_with("2 IP address entries"));
    assert!(db.match_ip("::ffff:192.0.2.1".parse().unwrap()).is_some());
}
