//! TLS Certificate chains (`Certificate::chain`, `CertInfo::fingerprint_sha256`) on real
//! captures:
//! - ja4-tls-alpn-h2-ipv6: subject / issuer common names of each certificate against FoxIO's
//!   rust snapshot (`third_party.ja4[].rust_snapshot[].tls_certs[].x509[]`);
//! - both captures: SHA-256 fingerprints and common names as printed by
//!   `tshark -T fields -e tls.handshake.certificate` piped into
//!   `openssl x509 -inform DER -noout -subject -issuer -fingerprint -sha256` (OpenSSL 3.0).
//!
//! Skipped (one line) when ../shared is absent.

mod tls_pcap;

use serde_json::Value;
use tapir_proto::tls::{CertInfo, Certificate, TlsMessage, TlsStream};

/// (subject CN, issuer CN, SHA-256 as openssl prints it).
type Expected = (&'static str, &'static str, &'static str);

/// (pcap, certificates in chain order).
const OPENSSL: &[(&str, &[Expected])] = &[
    (
        "ja4-tls-alpn-h2-ipv6.pcap",
        &[
            (
                "cloudflare.com",
                "DigiCert ECC Extended Validation Server CA",
                "84:69:46:45:CB:D1:83:BF:9B:E4:72:CE:70:2B:D1:89:24:6E:1F:CD:15:44:FF:EA:D4:66:D9:56:A7:16:90:BF",
            ),
            (
                "DigiCert ECC Extended Validation Server CA",
                "DigiCert High Assurance EV Root CA",
                "FD:C8:98:6C:FA:C4:F3:5F:1A:CD:51:7E:0F:61:B8:79:88:2A:E0:76:E2:BA:80:B7:7B:D3:F0:FE:5C:EF:88:62",
            ),
        ],
    ),
    (
        "sv-tls-certs-alert.pcap",
        &[
            (
                "www.example.org",
                "DigiCert SHA2 Secure Server CA",
                "92:50:71:1C:54:DE:54:6F:43:70:E0:C3:D3:A3:EC:45:BC:96:09:2A:25:A4:A7:1A:1A:FA:39:6A:F7:04:7E:B8",
            ),
            (
                "DigiCert SHA2 Secure Server CA",
                "DigiCert Global Root CA",
                "15:4C:43:3C:49:19:29:C5:EF:68:6E:83:8E:32:36:64:A0:0E:6A:0D:82:2C:CC:95:8F:B4:DA:B0:3E:49:A0:8F",
            ),
            (
                "DigiCert Global Root CA",
                "DigiCert Global Root CA",
                "43:48:A0:E9:44:4C:78:CB:26:5E:05:8D:5E:89:44:B4:D8:4F:96:62:BD:26:DB:25:7F:89:34:A4:43:C7:01:61",
            ),
        ],
    ),
];

/// The CN attribute of an RFC 4514-style DN as `CertInfo` prints it ("..., CN=x").
fn cn(dn: &str) -> Option<&str> {
    dn.split(", ").find_map(|p| p.strip_prefix("CN="))
}

fn certificates(pcap: &std::path::Path) -> Vec<Certificate> {
    let mut certs = Vec::new();
    for d in tls_pcap::tcp_directions(pcap) {
        let mut s = TlsStream::new();
        let mut out = Vec::new();
        s.feed(&d.bytes, &mut out);
        certs.extend(out.into_iter().filter_map(|m| match m {
            TlsMessage::Certificate(c) => Some(c),
            _ => None,
        }));
    }
    certs
}

fn check_chain(pcap: &str, chain: &[CertInfo], want: &[Expected]) {
    assert_eq!(chain.len(), want.len(), "{pcap}");
    for (i, (c, (s, iss, fp))) in chain.iter().zip(want).enumerate() {
        assert_eq!(
            cn(&c.subject),
            Some(*s),
            "{pcap} #{i} subject {}",
            c.subject
        );
        assert_eq!(
            cn(&c.issuerdn),
            Some(*iss),
            "{pcap} #{i} issuer {}",
            c.issuerdn
        );
        assert_eq!(c.fingerprint_sha256, fp.to_lowercase(), "{pcap} #{i}");
        // Each certificate is issued by the next one.
        if let Some(next) = chain.get(i + 1) {
            assert_eq!(c.issuerdn, next.subject, "{pcap} #{i}");
        }
    }
}

#[test]
fn chains_match_openssl_and_foxio() {
    let Some(shared) = tls_pcap::shared_dir() else {
        println!("chains_match_openssl_and_foxio: skipped, ../shared not present");
        return;
    };
    let td = shared.join("testdata");
    for (pcap, want) in OPENSSL {
        let certs = certificates(&td.join("pcaps").join(pcap));
        assert_eq!(certs.len(), 1, "{pcap}");
        let c = &certs[0];
        assert_eq!(c.chain_len, want.len(), "{pcap}");
        assert_eq!(
            c.chain.first(),
            c.leaf.as_ref(),
            "{pcap}: chain[0] is the leaf"
        );
        check_chain(pcap, &c.chain, want);
    }

    // FoxIO snapshot: per-certificate subject / issuer common names.
    let oracle: Value = serde_json::from_slice(
        &std::fs::read(td.join("expected/ja4-tls-alpn-h2-ipv6.json")).unwrap(),
    )
    .unwrap();
    let certs = certificates(&td.join("pcaps/ja4-tls-alpn-h2-ipv6.pcap"));
    let mut checked = 0;
    for tp in oracle["third_party"]["ja4"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for r in tp["rust_snapshot"].as_array().into_iter().flatten() {
            for tc in r["tls_certs"].as_array().into_iter().flatten() {
                let x509 = tc["x509"].as_array().unwrap();
                let chain = &certs[0].chain;
                assert_eq!(chain.len(), x509.len());
                for (c, x) in chain.iter().zip(x509) {
                    assert_eq!(cn(&c.subject), x["subjectCommonName"].as_str());
                    assert_eq!(cn(&c.issuerdn), x["issuerCommonName"].as_str());
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 2, "FoxIO tls_certs not found");
}
