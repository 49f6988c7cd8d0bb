//! Indicator types beyond the first four, end to end on real captures: HASSH (hassh.txt),
//! certificate SHA-1 (certs.txt), URL (urls.txt) and SAN names of the leaf certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use tapir_engine::{replay, EngineConfig};
use tapir_intel::IntelDb;

fn pcap(name: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/testdata/pcaps")
        .join(name);
    p.is_file().then_some(p)
}

/// Replays `capture` with one list file `file` holding `lines`; returns the alerts.
fn alerts(capture: &Path, file: &str, lines: &str) -> Vec<Value> {
    let dir = std::env::temp_dir().join(format!("tapir-types-{}-{file}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join(file), lines).expect("write");
    let (db, report) = IntelDb::load_paths(std::slice::from_ref(&dir)).expect("load");
    assert!(report.warnings.is_empty(), "{report}");
    assert!(!db.is_empty());
    let mut out = Vec::new();
    replay(
        &[capture.to_path_buf()],
        Arc::new(db),
        EngineConfig::default(),
        &mut out,
    )
    .expect("replay");
    let _ = std::fs::remove_dir_all(dir);
    String::from_utf8(out)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json"))
        .filter(|e| e["event_type"] == "alert")
        .collect()
}

fn fields(a: &[Value]) -> Vec<String> {
    a.iter()
        .map(|e| {
            e["alert"]["context"]["indicator"]["matched_field"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

#[test]
fn hassh_list_matches_the_ssh_client_inside_gre() {
    let Some(p) = pcap("ja4-gre-sample.pcap") else {
        println!("skipped: ../shared/testdata not found");
        return;
    };
    // HASSH of the OpenSSH 3.6.1p1 client, as published in FoxIO's expected output.
    let a = alerts(&p, "hassh.txt", "5ef6678a6b060094834599ca16581b05\n");
    assert_eq!(fields(&a), ["ssh.client.hassh.hash"]);
    let a = alerts(&p, "hassh.txt", "6e3242d64766f4154c11858bbd654415\n");
    assert_eq!(fields(&a), ["ssh.server.hassh.hash"], "HASSHServer");
}

#[test]
fn certificate_sha1_and_san_names_match() {
    let Some(p) = pcap("sv-tls-certs-alert.pcap") else {
        println!("skipped: ../shared/testdata not found");
        return;
    };
    // SHA-1 of the DigiCert intermediate in this chain (openssl x509 -fingerprint -sha1).
    let a = alerts(
        &p,
        "certs.txt",
        "1fb86b1168ec743154062e8c9cc5b171a4b7ccb4\n",
    );
    assert_eq!(fields(&a), ["tls.fingerprint"]);
    // www.example.org is in the leaf's SAN list but is not the SNI (example.com).
    let a = alerts(&p, "domains.txt", "www.example.org\n");
    assert_eq!(fields(&a), ["tls.subjectaltname"]);
}

#[test]
fn url_list_matches_http_requests() {
    let Some(p) = pcap("zeek-http-vlan-0.pcap") else {
        println!("skipped: ../shared/testdata not found");
        return;
    };
    // Host and URI from the tshark oracle of this capture.
    let a = alerts(
        &p,
        "urls.txt",
        "http://bro.org/download/CHANGES.bro-aux.txt\n",
    );
    assert_eq!(fields(&a), ["http.url"]);
    let a = alerts(&p, "urls.txt", "http://bro.org/download/other.txt\n");
    assert!(a.is_empty(), "a different path must not match");
}
