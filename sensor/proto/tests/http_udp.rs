//! HTTP over UDP (`http::parse_datagram`) against the tshark 4.0 oracle for ja4-tls3.pcapng:
//! every `http[]` record with `transport: udp` (SSDP M-SEARCH on UDP 1900) must be found in the
//! datagram of its frame with the same method, host, uri, version and user agent (absent).
//! Also: an empty User-Agent field is present and empty (`Some("")`), not absent.

mod dns_http_pcap;

use dns_http_pcap::{packets, shared_testdata};
use serde_json::Value;
use tapir_proto::http::{self, Direction, HttpMessage, HttpStream};

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn ssdp_datagrams_match_tshark() {
    let Some(td) = shared_testdata("ssdp_datagrams_match_tshark") else {
        return;
    };
    let oracle: Value =
        serde_json::from_slice(&std::fs::read(td.join("expected/ja4-tls3.json")).unwrap()).unwrap();
    let pkts = packets(&td, "ja4-tls3.pcapng");
    let mut checked = 0;
    for r in oracle["http"].as_array().unwrap() {
        if r["transport"] != "udp" {
            continue;
        }
        let frame = r["frame"].as_u64().unwrap() as usize;
        let p = pkts
            .iter()
            .find(|p| p.frame == frame)
            .expect("frame decoded");
        let Some(HttpMessage::Request(q)) = http::parse_datagram(&p.payload) else {
            panic!("frame {frame}: no request")
        };
        assert_eq!(vec![q.method.clone()], strs(&r["method"]), "frame {frame}");
        assert_eq!(q.host.iter().cloned().collect::<Vec<_>>(), strs(&r["host"]));
        assert_eq!(vec![q.uri.clone()], strs(&r["uri"]));
        assert_eq!(vec![q.protocol.clone()], strs(&r["version"]));
        assert_eq!(
            q.user_agent.iter().cloned().collect::<Vec<_>>(),
            strs(&r["user_agent"])
        );
        checked += 1;
    }
    assert_eq!(checked, 4, "the oracle lists 4 SSDP requests");
    // Other UDP datagrams taken for HTTP: only the bare "M-SEARCH * HTTP/1.1" probes sent to
    // the broadcast address on UDP 32412/32414 (Plex GDM discovery). They are HTTP-over-UDP
    // heads, but tshark only dissects SSDP on port 1900, so its oracle does not list them.
    let extra: Vec<(usize, u16)> = pkts
        .iter()
        .filter(|p| p.proto == 17 && http::parse_datagram(&p.payload).is_some())
        .filter(|p| p.dport != 1900)
        .map(|p| (p.frame, p.dport))
        .collect();
    assert_eq!(
        extra,
        [(8, 32414), (9, 32414), (1172, 32412), (1173, 32412)]
    );
}

#[test]
fn ssdp_forms() {
    // UPnP Device Architecture 2.0 §1.3.2 / §1.3.3 style messages.
    let notify = b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNT: upnp:rootdevice\r\n\
                   NTS: ssdp:alive\r\nSERVER: Linux/5 UPnP/2.0 x/1\r\n\r\n";
    let Some(HttpMessage::Request(q)) = http::parse_datagram(notify) else {
        panic!()
    };
    assert_eq!((q.method.as_str(), q.uri.as_str()), ("NOTIFY", "*"));
    assert_eq!(q.hostname.as_deref(), Some("239.255.255.250"));
    assert_eq!(q.port, Some(1900));
    let resp = b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nST: ssdp:all\r\n";
    let Some(HttpMessage::Response(r)) = http::parse_datagram(resp) else {
        panic!("a head without the final empty line is accepted")
    };
    assert_eq!(r.status, 200);
    assert!(http::parse_datagram(b"").is_none());
    assert!(http::parse_datagram(b"\x16\x03\x01").is_none());
    assert!(http::parse_datagram(b"M-SEARCH * HTTP/1.1\r\nHOST: x").is_none());
    for n in 0..notify.len() {
        let _ = http::parse_datagram(&notify[..n]);
    }
}

#[test]
fn empty_user_agent_is_present() {
    for data in [
        &b"GET / HTTP/1.1\r\nHost: a\r\nUser-Agent:\r\n\r\n"[..],
        &b"GET / HTTP/1.1\r\nHost: a\r\nUser-Agent:   \r\n\r\n"[..],
    ] {
        let mut s = HttpStream::new(Direction::ToServer);
        let mut out = Vec::new();
        s.feed(data, &mut out);
        let [HttpMessage::Request(q)] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!(q.user_agent.as_deref(), Some(""));
    }
    let Some(HttpMessage::Request(q)) = http::parse_datagram(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    else {
        panic!()
    };
    assert_eq!(q.user_agent, None);
}
