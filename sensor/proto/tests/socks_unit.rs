//! SOCKS handshakes built byte by byte from RFC 1928 (SOCKS5), RFC 1929 (username/password)
//! and the SOCKS4 / SOCKS4a protocol notes: targets of every address type, authentication,
//! grants and refusals, tunnel offsets, detection, truncation at every offset and chunking.

use std::net::{Ipv4Addr, Ipv6Addr};

use tapir_proto::socks::{
    fuzz_socks, looks_like_socks_request, SocksCommand, SocksDirection, SocksError, SocksEvent,
    SocksStream, SocksTarget, SocksVersion,
};
use tapir_proto::tls;

const TLS_HELLO_START: &[u8] = &[0x16, 0x03, 0x01, 0x00, 0x40, 0x01];

fn run(dir: SocksDirection, data: &[u8]) -> (SocksStream, Vec<SocksEvent>) {
    let mut s = SocksStream::new(dir);
    let mut out = Vec::new();
    s.feed(data, &mut out);
    (s, out)
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// SOCKS5, no authentication, CONNECT example.com:443 (ATYP 3), then a TLS record.
fn v5_domain() -> (Vec<u8>, Vec<u8>) {
    let mut req = vec![5, 1, 0, 3, 11];
    req.extend_from_slice(b"example.com");
    req.extend_from_slice(&443u16.to_be_bytes());
    let client = cat(&[&[5, 1, 0], &req, TLS_HELLO_START]);
    // Method 0, then a success reply bound to 192.0.2.1:8080, then tunnelled bytes.
    let server = cat(&[
        &[5, 0],
        &[5, 0, 0, 1, 192, 0, 2, 1, 0x1f, 0x90],
        b"\x16\x03\x03",
    ]);
    (client, server)
}

#[test]
fn socks5_domain_target_and_tunnel_offsets() {
    let (client, server) = v5_domain();
    assert!(looks_like_socks_request(&client));
    let (s, out) = run(SocksDirection::ToServer, &client);
    assert_eq!(
        out,
        vec![
            SocksEvent::Methods(vec![0]),
            SocksEvent::Request {
                version: SocksVersion::V5,
                command: SocksCommand::Connect,
                target: SocksTarget::Domain("example.com".into()),
                port: 443,
                user: None,
                tunnel_offset: 3 + 18,
            }
        ]
    );
    assert_eq!(s.tunnel_offset(), Some(21));
    assert!(s.is_done() && s.error().is_none());
    assert!(tls::looks_like_tls(&client[21..]));

    let (s, out) = run(SocksDirection::ToClient, &server);
    assert_eq!(
        out,
        vec![
            SocksEvent::MethodSelected(0),
            SocksEvent::Reply {
                version: SocksVersion::V5,
                granted: true,
                code: 0,
                bound: SocksTarget::Ipv4(Ipv4Addr::new(192, 0, 2, 1)),
                port: 8080,
                tunnel_offset: 12,
            }
        ]
    );
    assert_eq!(s.tunnel_offset(), Some(12));
    assert_eq!(&server[12..], b"\x16\x03\x03");
}

#[test]
fn socks5_ipv6_target() {
    let addr: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let client = cat(&[
        &[5, 1, 0],
        &[5, 1, 0, 4],
        &addr.octets(),
        &80u16.to_be_bytes(),
    ]);
    let (s, out) = run(SocksDirection::ToServer, &client);
    let Some(SocksEvent::Request { target, port, .. }) = out.get(1) else {
        panic!("{out:?}")
    };
    assert_eq!(*target, SocksTarget::Ipv6(addr));
    assert_eq!(*port, 80);
    assert_eq!(s.tunnel_offset(), Some(client.len() as u64));
}

#[test]
fn socks5_username_password() {
    let client = cat(&[
        &[5, 2, 0, 2],
        &[1, 5],
        b"alice",
        &[6],
        b"secret",
        &[5, 1, 0, 1, 10, 0, 0, 1, 0, 22],
    ]);
    let (s, out) = run(SocksDirection::ToServer, &client);
    assert_eq!(out[0], SocksEvent::Methods(vec![0, 2]));
    assert_eq!(
        out[1],
        SocksEvent::Auth {
            username: "alice".into()
        }
    );
    let SocksEvent::Request { target, port, .. } = &out[2] else {
        panic!("{out:?}")
    };
    assert_eq!(
        (target, *port),
        (&SocksTarget::Ipv4(Ipv4Addr::new(10, 0, 0, 1)), 22)
    );
    assert_eq!(s.tunnel_offset(), Some(client.len() as u64));
    assert!(
        !format!("{out:?}").contains("secret"),
        "password must not be kept"
    );

    let ok = cat(&[&[5, 2], &[1, 0], &[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]]);
    let (s, out) = run(SocksDirection::ToClient, &ok);
    assert_eq!(out[1], SocksEvent::AuthResult { success: true });
    assert_eq!(s.tunnel_offset(), Some(14));

    // RFC 1929 §2: a non-zero status is a failure; the server closes, nothing is tunnelled.
    let (s, out) = run(SocksDirection::ToClient, &[5, 2, 1, 1]);
    assert_eq!(out[1], SocksEvent::AuthResult { success: false });
    assert!(s.is_done() && s.tunnel_offset().is_none());
}

#[test]
fn socks4a_and_socks4() {
    let client = cat(&[
        &[4, 1, 0, 80, 0, 0, 0, 1],
        b"bob\0",
        b"example.org\0",
        b"GET / HTTP/1.1\r\n",
    ]);
    assert!(looks_like_socks_request(&client));
    let (s, out) = run(SocksDirection::ToServer, &client);
    assert_eq!(
        out,
        vec![SocksEvent::Request {
            version: SocksVersion::V4a,
            command: SocksCommand::Connect,
            target: SocksTarget::Domain("example.org".into()),
            port: 80,
            user: Some("bob".into()),
            tunnel_offset: 24,
        }]
    );
    assert!(client[s.tunnel_offset().unwrap() as usize..].starts_with(b"GET /"));
    let (s, out) = run(SocksDirection::ToClient, &[0, 0x5a, 0, 0, 0, 0, 0, 0, b'H']);
    assert!(matches!(
        out[0],
        SocksEvent::Reply {
            granted: true,
            code: 0x5a,
            ..
        }
    ));
    assert_eq!(s.tunnel_offset(), Some(8));

    let (_, out) = run(
        SocksDirection::ToServer,
        &[4, 1, 1, 187, 198, 51, 100, 1, 0],
    );
    assert_eq!(
        out,
        vec![SocksEvent::Request {
            version: SocksVersion::V4,
            command: SocksCommand::Connect,
            target: SocksTarget::Ipv4(Ipv4Addr::new(198, 51, 100, 1)),
            port: 443,
            user: Some(String::new()),
            tunnel_offset: 9,
        }]
    );
}

#[test]
fn refusals() {
    // RFC 1928 §3: X'FF' NO ACCEPTABLE METHODS.
    let (s, out) = run(SocksDirection::ToClient, &[5, 0xff]);
    assert_eq!(out, vec![SocksEvent::MethodSelected(0xff)]);
    assert!(s.is_done() && s.tunnel_offset().is_none() && s.error().is_none());
    // §6: REP 5 = connection refused.
    let (s, out) = run(
        SocksDirection::ToClient,
        &[5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0],
    );
    assert!(matches!(
        out[1],
        SocksEvent::Reply {
            granted: false,
            code: 5,
            ..
        }
    ));
    assert!(s.tunnel_offset().is_none());
    // SOCKS4 CD 91 (0x5b): rejected or failed.
    let (s, out) = run(SocksDirection::ToClient, &[0, 0x5b, 0, 0, 0, 0, 0, 0]);
    assert!(matches!(
        out[0],
        SocksEvent::Reply {
            granted: false,
            code: 0x5b,
            ..
        }
    ));
    assert!(s.tunnel_offset().is_none());
    // GSS-API chosen: not followed.
    let (s, _) = run(SocksDirection::ToClient, &[5, 1]);
    assert_eq!(s.error(), Some(SocksError::UnsupportedMethod(1)));
}

#[test]
fn detection() {
    assert!(!looks_like_socks_request(b""));
    assert!(!looks_like_socks_request(b"GET / HTTP/1.1\r\n"));
    assert!(!looks_like_socks_request(TLS_HELLO_START));
    assert!(!looks_like_socks_request(&[5, 0]));
    assert!(!looks_like_socks_request(&[5, 1, 0x42]));
    assert!(!looks_like_socks_request(&[5, 1, 0, 9]));
    assert!(!looks_like_socks_request(&[4, 3, 0, 80, 1, 2, 3, 4, 0]));
    assert!(looks_like_socks_request(&[5, 2, 0, 2]));
    let (s, _) = run(SocksDirection::ToServer, b"GET / HTTP/1.1\r\n");
    assert_eq!(s.error(), Some(SocksError::NotSocks));
    // A SOCKS4 user id without its NUL within the cap.
    let long = cat(&[&[4, 1, 0, 80, 1, 2, 3, 4], &[b'u'; 300]]);
    let (s, _) = run(SocksDirection::ToServer, &long);
    assert_eq!(s.error(), Some(SocksError::TooLong));
}

#[test]
fn truncation_at_every_offset_and_chunking() {
    let (c, sv) = v5_domain();
    let auth = cat(&[
        &[5, 1, 2],
        &[1, 1],
        b"u",
        &[1],
        b"p",
        &[5, 1, 0, 3, 1],
        b"h",
        &[0, 80],
    ]);
    for (dir, full) in [
        (SocksDirection::ToServer, c),
        (SocksDirection::ToClient, sv),
        (SocksDirection::ToServer, auth),
    ] {
        let (_, whole) = run(dir, &full);
        let end = match whole.last() {
            Some(
                SocksEvent::Request { tunnel_offset, .. } | SocksEvent::Reply { tunnel_offset, .. },
            ) => *tunnel_offset as usize,
            other => panic!("{other:?}"),
        };
        for n in 0..full.len() {
            let (s, out) = run(dir, &full[..n]);
            assert!(s.error().is_none(), "{n}");
            assert_eq!(s.tunnel_offset().is_some(), n >= end, "{n}");
            assert!(out.len() <= whole.len());
            fuzz_socks(&full[..n]);
        }
    }
}
