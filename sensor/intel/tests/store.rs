//! In-memory store behaviour through the public builder API. Addresses are the documentation
//! ranges of RFC 5737 (IPv4) and RFC 3849 (IPv6); names use RFC 2606 reserved domains plus the
//! `evil.com` / `notevil.com` pair from the sensor's matching rules; JA3/JA4 values are published
//! ones (Suricata docs, FoxIO / Suricata-verify / Arkime expected outputs).

use std::net::IpAddr;
use std::sync::Arc;

use tapir_intel::{Added, IndicatorKind, IntelDb, LineError};

fn src() -> Arc<str> {
    Arc::from("test-list")
}

fn db_of(kind: IndicatorKind, lines: &[&str]) -> IntelDb {
    let s = src();
    let mut b = IntelDb::builder();
    for (i, l) in lines.iter().enumerate() {
        let n = u32::try_from(i + 1).unwrap();
        b.add_line(kind, l, &s, n)
            .unwrap_or_else(|e| panic!("{l:?}: {e}"));
    }
    b.build()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn kind_names() {
    let names: Vec<&str> = IndicatorKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(names, ["domain", "ip", "ja3", "ja4"]);
}

#[test]
fn empty_db_misses_everything() {
    let db = IntelDb::empty();
    assert!(db.is_empty());
    assert_eq!(db.len(), 0);
    assert!(db.match_ip(ip("192.0.2.1")).is_none());
    assert!(db.match_domain("example.com").is_none());
    assert!(db.match_ja3("e7eca2baf4458d095b7f45da28c16c34").is_none());
    assert!(db
        .match_ja4("t13d1516h2_8daaf6152771_e5627efa2ab1")
        .is_none());
    assert!(db.get(0).is_none());
}

#[test]
fn domain_exact_parent_and_negative() {
    let db = db_of(IndicatorKind::Domain, &["evil.com"]);
    let hit = db.match_domain("evil.com").expect("exact");
    assert_eq!(
        (hit.kind, hit.value.as_str(), hit.line, &*hit.source),
        (IndicatorKind::Domain, "evil.com", 1, "test-list")
    );
    assert!(db.match_domain("a.b.evil.com").is_some());
    assert!(db.match_domain("notevil.com").is_none());
    assert!(db.match_domain("evil.com.org").is_none());
    assert!(db.match_domain("com").is_none());
    assert!(db.match_domain("").is_none());
    assert!(db.match_domain(".").is_none());
    assert!(db.match_domain("evil.co").is_none());
}

#[test]
fn domain_case_and_trailing_dot() {
    let db = db_of(IndicatorKind::Domain, &["Evil.COM."]);
    assert_eq!(db.get(0).unwrap().value, "evil.com");
    assert!(db.match_domain("EVIL.com").is_some());
    assert!(db.match_domain("WWW.Evil.Com.").is_some());
    // Only one trailing dot is ignored.
    assert!(db.match_domain("evil.com..").is_none());
}

#[test]
fn domain_wildcard_forms_are_parent_matches() {
    let db = db_of(IndicatorKind::Domain, &["*.example.net", ".example.org"]);
    assert_eq!(db.get(0).unwrap().value, "example.net");
    assert_eq!(db.get(1).unwrap().value, "example.org");
    assert!(db.match_domain("example.net").is_some());
    assert!(db.match_domain("x.example.org").is_some());
    assert!(db.match_domain("xexample.org").is_none());
}

#[test]
fn domain_most_specific_wins() {
    let db = db_of(IndicatorKind::Domain, &["example.com", "a.b.example.com"]);
    assert_eq!(
        db.match_domain("x.a.b.example.com").unwrap().value,
        "a.b.example.com"
    );
    assert_eq!(
        db.match_domain("b.example.com").unwrap().value,
        "example.com"
    );
}

#[test]
fn domain_length_limits() {
    // RFC 1035 §2.3.4: labels <= 63, names <= 255 octets on the wire = 253 characters of text.
    let l63 = "a".repeat(63);
    let name253 = format!("{l63}.{l63}.{l63}.{}", "b".repeat(61));
    assert_eq!(name253.len(), 253);
    let db = db_of(IndicatorKind::Domain, &[&name253]);
    assert!(db.match_domain(&name253).is_some());
    assert!(db.match_domain(&format!("{name253}.")).is_some());
    // One byte longer can never match, even though its suffix is an indicator.
    let longer = format!("x{name253}");
    assert!(db.match_domain(&format!("y.{longer}")).is_none());
    let s = src();
    let mut b = IntelDb::builder();
    assert!(matches!(
        b.add_line(IndicatorKind::Domain, &longer, &s, 1),
        Err(LineError::InvalidDomain(_))
    ));
    let l64 = format!("{}.com", "a".repeat(64));
    assert!(matches!(
        b.add_line(IndicatorKind::Domain, &l64, &s, 2),
        Err(LineError::InvalidDomain(_))
    ));
}

#[test]
fn domain_rejects_bad_names() {
    let s = src();
    let mut b = IntelDb::builder();
    for bad in [
        "a..com",
        "ex ample.com",
        "evil.com/path",
        "c7paintedparts.com?5YBuk=YKSzQAJINQ3LUw",
        "*.",
        "*",
        "a.*.com",
        "b\u{fc}ch\u{0}er.de",
        "host.123",
        "1.2.3",
        "evil.com#x",
        "http://evil.com",
    ] {
        assert!(
            b.add_line(IndicatorKind::Domain, bad, &s, 1).is_err(),
            "{bad:?} accepted"
        );
    }
    assert!(b.is_empty());
}

#[test]
fn domain_list_ip_entries_become_ip_indicators() {
    let s = src();
    let mut b = IntelDb::builder();
    let r = b.add(IndicatorKind::Domain, "192.0.2.7", &s, 1).unwrap();
    assert!(matches!(
        r,
        Added::New {
            kind: IndicatorKind::Ip,
            ..
        }
    ));
    let db = b.build();
    assert_eq!(db.count(IndicatorKind::Ip), 1);
    assert_eq!(db.count(IndicatorKind::Domain), 0);
    assert!(db.match_ip(ip("192.0.2.7")).is_some());
    assert!(db.match_domain("192.0.2.7").is_none());
}

#[test]
fn ip_exact_and_negative() {
    let db = db_of(IndicatorKind::Ip, &["192.0.2.1", "2001:db8::1"]);
    assert_eq!(db.match_ip(ip("192.0.2.1")).unwrap().value, "192.0.2.1");
    assert!(db.match_ip(ip("192.0.2.2")).is_none());
    assert_eq!(db.match_ip(ip("2001:db8::1")).unwrap().value, "2001:db8::1");
    assert!(db.match_ip(ip("2001:db8::2")).is_none());
}

#[test]
fn ip_longest_prefix_v4() {
    let db = db_of(
        IndicatorKind::Ip,
        &["10.0.0.0/8", "10.1.2.3/32", "10.1.0.0/16", "0.0.0.0/0"],
    );
    assert_eq!(
        db.get(1).unwrap().value,
        "10.1.2.3",
        "a full-length prefix is stored as a bare address"
    );
    assert_eq!(db.match_ip(ip("10.1.2.3")).unwrap().value, "10.1.2.3");
    assert_eq!(db.match_ip(ip("10.1.2.4")).unwrap().value, "10.1.0.0/16");
    assert_eq!(db.match_ip(ip("10.2.0.1")).unwrap().value, "10.0.0.0/8");
    assert_eq!(db.match_ip(ip("198.51.100.1")).unwrap().value, "0.0.0.0/0");
    // v4 entries never match native IPv6 addresses.
    assert!(db.match_ip(ip("2001:db8::1")).is_none());
}

#[test]
fn ip_longest_prefix_v6() {
    let db = db_of(
        IndicatorKind::Ip,
        &["2001:DB8::/32", "2001:db8:1::/48", "2001:db8:1::5/128"],
    );
    assert_eq!(db.get(0).unwrap().value, "2001:db8::/32");
    assert_eq!(
        db.match_ip(ip("2001:db8:1::5")).unwrap().value,
        "2001:db8:1::5"
    );
    assert_eq!(
        db.match_ip(ip("2001:db8:1::6")).unwrap().value,
        "2001:db8:1::/48"
    );
    assert_eq!(
        db.match_ip(ip("2001:db8:ffff::1")).unwrap().value,
        "2001:db8::/32"
    );
    assert!(db.match_ip(ip("2001:db9::1")).is_none());
    assert!(db.match_ip(ip("192.0.2.1")).is_none());
}

#[test]
fn ipv4_mapped_ipv6_matches_ipv4_entries() {
    // RFC 4291 §2.5.5.2: ::ffff:a.b.c.d carries an IPv4 address.
    let db = db_of(IndicatorKind::Ip, &["192.0.2.0/24"]);
    assert_eq!(
        db.match_ip(ip("::ffff:192.0.2.9")).unwrap().value,
        "192.0.2.0/24"
    );
    assert!(db.match_ip(ip("::ffff:198.51.100.1")).is_none());
    // The IPv4-compatible form (::a.b.c.d) is not a mapped address.
    assert!(db.match_ip(ip("::192.0.2.9")).is_none());
    // A mapped entry is stored as IPv4 and matches plain IPv4.
    let db = db_of(IndicatorKind::Ip, &["::ffff:203.0.113.0/120"]);
    assert_eq!(db.get(0).unwrap().value, "203.0.113.0/24");
    assert!(db.match_ip(ip("203.0.113.200")).is_some());
}

#[test]
fn ip_host_bits_normalised() {
    let s = src();
    let mut b = IntelDb::builder();
    let r = b.add(IndicatorKind::Ip, "192.0.2.77/24", &s, 1).unwrap();
    assert!(matches!(
        r,
        Added::New {
            host_bits: true,
            ..
        }
    ));
    let r = b.add(IndicatorKind::Ip, "192.0.2.0/24", &s, 2).unwrap();
    assert!(matches!(r, Added::Duplicate { first: 0 }));
    let db = b.build();
    assert_eq!(db.get(0).unwrap().value, "192.0.2.0/24");
    assert_eq!(db.len(), 1);
}

#[test]
fn ip_rejects_bad_values() {
    let s = src();
    let mut b = IntelDb::builder();
    for bad in [
        "256.1.1.1",
        "1.2.3",
        "010.1.1.1",
        "1.2.3.4/33",
        "2001:db8::/129",
        "1.2.3.4/",
        "1.2.3.4/+8",
        "1.2.3.4/-1",
        "1.2.3.4/8/8",
        "fe80::1%eth0",
        "evil.com",
        "1.2.3.4 5.6.7.8",
        "1.2.3.4:80",
    ] {
        assert!(
            b.add_line(IndicatorKind::Ip, bad, &s, 1).is_err(),
            "{bad:?} accepted"
        );
    }
    assert!(b.is_empty());
}

#[test]
fn comments_blank_and_whitespace() {
    let s = src();
    let mut b = IntelDb::builder();
    assert_eq!(b.add_line(IndicatorKind::Ip, "", &s, 1), Ok(false));
    assert_eq!(b.add_line(IndicatorKind::Ip, "   \t ", &s, 2), Ok(false));
    assert_eq!(
        b.add_line(IndicatorKind::Ip, "# 192.0.2.1", &s, 3),
        Ok(false)
    );
    assert_eq!(b.add_line(IndicatorKind::Ip, "  # note", &s, 4), Ok(false));
    assert_eq!(
        b.add_line(IndicatorKind::Ip, "  192.0.2.1\t# trailing note", &s, 5),
        Ok(true)
    );
    assert_eq!(
        b.add_line(IndicatorKind::Ip, "192.0.2.1", &s, 6),
        Ok(false),
        "duplicate"
    );
    assert_eq!(b.duplicates(), 1);
    let db = b.build();
    assert_eq!(db.len(), 1);
    assert_eq!(db.get(0).unwrap().line, 5, "first occurrence kept");
}

#[test]
fn ja3_match_case_insensitive() {
    // Example hash from Suricata's ja3_hash keyword documentation.
    let db = db_of(IndicatorKind::Ja3, &["E7ECA2BAF4458D095B7F45DA28C16C34"]);
    assert_eq!(db.get(0).unwrap().value, "e7eca2baf4458d095b7f45da28c16c34");
    assert!(db.match_ja3("e7eca2baf4458d095b7f45da28c16c34").is_some());
    assert!(db.match_ja3("E7eca2baf4458d095b7f45da28c16c34").is_some());
    assert!(db.match_ja3("e7eca2baf4458d095b7f45da28c16c35").is_none());
    assert!(db.match_ja3("e7eca2baf4458d095b7f45da28c16c3").is_none());
    assert!(db.match_ja3("").is_none());
    assert!(db.match_ja3("é7eca2baf4458d095b7f45da28c16c3").is_none());
}

#[test]
fn ja3_rejects_bad_values() {
    let s = src();
    let mut b = IntelDb::builder();
    for bad in [
        "e7eca2baf4458d095b7f45da28c16c3",
        "e7eca2baf4458d095b7f45da28c16c345",
        "g7eca2baf4458d095b7f45da28c16c34",
        "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0",
    ] {
        assert!(
            matches!(
                b.add_line(IndicatorKind::Ja3, bad, &s, 1),
                Err(LineError::InvalidJa3(_))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn ja4_match_case_insensitive() {
    // Values from the FoxIO / Suricata-verify expected outputs in ../shared/testdata.
    let db = db_of(
        IndicatorKind::Ja4,
        &[
            "t13d1516h2_8daaf6152771_e5627efa2ab1",
            "Q13D0310H3_55B375C5D22E_CD85D2D88918",
            "t12i860500_e18388e7f3a3_a1e935682795",
        ],
    );
    assert_eq!(
        db.get(1).unwrap().value,
        "q13d0310h3_55b375c5d22e_cd85d2d88918"
    );
    assert!(db
        .match_ja4("T13D1516H2_8DAAF6152771_E5627EFA2AB1")
        .is_some());
    assert!(db
        .match_ja4("q13d0310h3_55b375c5d22e_cd85d2d88918")
        .is_some());
    assert!(db
        .match_ja4("t12i860500_e18388e7f3a3_a1e935682795")
        .is_some());
    assert!(db
        .match_ja4("t13d1516h2_8daaf6152771_9b887d9acb53")
        .is_none());
    assert!(db.match_ja4("t13d1516h2_8daaf6152771").is_none());
}

#[test]
fn ja4_rejects_bad_values() {
    let s = src();
    let mut b = IntelDb::builder();
    for bad in [
        "x13d1516h2_8daaf6152771_e5627efa2ab1",  // protocol
        "t1-d1516h2_8daaf6152771_e5627efa2ab1",  // version
        "t13x1516h2_8daaf6152771_e5627efa2ab1",  // SNI flag
        "t13d15a6h2_8daaf6152771_e5627efa2ab1",  // counts
        "t13d1516h-_8daaf6152771_e5627efa2ab1",  // ALPN chars
        "t13d1516h2-8daaf6152771_e5627efa2ab1",  // separator
        "t13d1516h2_8daaf615277g_e5627efa2ab1",  // hex
        "t13d1516h2_8daaf6152771_e5627efa2ab",   // length
        "t13d1516h2_8daaf6152771_e5627efa2ab1a", // length
        "t13d1516h2_8daaf6152771_e5627efa2ab\u{e9}",
    ] {
        assert!(
            matches!(
                b.add_line(IndicatorKind::Ja4, bad, &s, 1),
                Err(LineError::InvalidJa4(_))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn ids_are_dense_and_counts_per_kind() {
    let s = src();
    let mut b = IntelDb::builder();
    b.add_line(IndicatorKind::Domain, "example.com", &s, 1)
        .unwrap();
    b.add_line(IndicatorKind::Domain, "example.com", &s, 2)
        .unwrap();
    assert!(b
        .add_line(IndicatorKind::Domain, "bad..name", &s, 3)
        .is_err());
    b.add_line(IndicatorKind::Ip, "198.51.100.0/24", &s, 4)
        .unwrap();
    b.add_line(
        IndicatorKind::Ja3,
        "e7eca2baf4458d095b7f45da28c16c34",
        &s,
        5,
    )
    .unwrap();
    let db = b.build();
    assert_eq!(db.len(), 3);
    for (i, ind) in db.iter().enumerate() {
        assert_eq!(usize::try_from(ind.id).unwrap(), i);
    }
    assert_eq!(db.get(1).unwrap().line, 4);
    assert_eq!(IndicatorKind::ALL.map(|k| db.count(k)), [1, 1, 1, 0]);
}

#[test]
fn shared_across_threads() {
    let db = Arc::new(db_of(IndicatorKind::Ip, &["203.0.113.0/24"]));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || db.match_ip("203.0.113.9".parse().unwrap()).is_some())
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap());
    }
}
