//! HTTP/1.x parser against the tshark 4.0 oracles in
//! `../shared/testdata/expected/*.json` (`http[]` arrays: method, host, uri,
//! user_agent, version for requests, status for responses). Each TCP
//! direction is reassembled from the real capture at test time, detected by
//! content (no port hint), parsed, and compared per 4-tuple in order.

mod dns_http_pcap;

use dns_http_pcap::{packets, shared_testdata, tcp_streams};
use serde_json::Value;
use std::collections::HashMap;
use std::net::IpAddr;
use tapir_proto::http::{self, Direction, HttpMessage, HttpStream};

/// Oracle records that cannot be matched, with the reason. Empty: every
/// record in the shared captures matches.
const EXCEPTIONS: &[(&str, u64, &str)] = &[];

/// Responses present and complete in the capture that tshark does not list:
/// (capture, client port, status, why). Each must still be found by the
/// parser, so the list cannot go stale silently.
const UNLISTED_BY_TSHARK: &[(&str, u16, u16, &str)] = &[
    // The body (Content-Length 68323) arrives with segments out of order;
    // tshark 4.0 leaves tcp.reassemble_out_of_order off by default, so the
    // PDU is never completed and no http record is written. The reassembled
    // direction is exactly head + 68323 bytes.
    (
        "sv-tls-subjectaltname.pcap",
        60040,
        200,
        "out-of-order body segments",
    ),
    (
        "sv-tls-subjectaltname.pcap",
        60053,
        200,
        "out-of-order body segments",
    ),
    // A 4-byte segment (frame 589) arrives ahead of the 1206-byte segment
    // before it; tshark drops the first response, then lists the second (301).
    (
        "sv-tls-subjectaltname.pcap",
        60044,
        200,
        "out-of-order segment in body",
    ),
    // The server's sequence numbers jump (ACK 3652128081 in frame 1450, data
    // at 3500283444 in frame 2005, after the client's RST): tshark does not
    // dissect the 404 in that segment.
    (
        "sv-tls-subjectaltname.pcap",
        60064,
        404,
        "segment outside the window tshark tracks",
    ),
];

type FourTuple = (IpAddr, u16, IpAddr, u16);

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| x.to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The oracle fields this parser's message corresponds to, in the oracle's
/// shape (empty lists for absent fields).
fn as_oracle(m: &HttpMessage) -> [Vec<String>; 6] {
    match m {
        HttpMessage::Request(r) => [
            vec![r.method.clone()],
            r.host.iter().cloned().collect(),
            vec![r.uri.clone()],
            r.user_agent.iter().cloned().collect(),
            vec![r.protocol.clone()],
            vec![],
        ],
        HttpMessage::Response(r) => [
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![r.status.to_string()],
        ],
    }
}

const FIELDS: [&str; 6] = ["method", "host", "uri", "user_agent", "version", "status"];

#[test]
fn http_matches_tshark_oracles() {
    let Some(td) = shared_testdata("http_matches_tshark_oracles") else {
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(td.join("expected"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut mismatches = Vec::new();
    let mut checked = 0usize;
    let mut tunnels = 0usize;
    for path in files {
        let oracle: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let Some(records) = oracle["http"].as_array().filter(|a| !a.is_empty()) else {
            continue;
        };
        let pcap = oracle["file"].as_str().unwrap();
        let streams = tcp_streams(&packets(&td, pcap));
        let mut parsed: HashMap<FourTuple, Vec<HttpMessage>> = HashMap::new();
        for client in streams
            .iter()
            .filter(|s| http::looks_like_http_request(&s.data))
        {
            let mut req = HttpStream::new(Direction::ToServer);
            let mut requests = Vec::new();
            req.feed(&client.data, &mut requests);
            assert_eq!(
                req.error(),
                None,
                "{pcap}: request stream {}:{}",
                client.src,
                client.sport
            );
            let server = streams.iter().find(|s| {
                (s.src, s.sport, s.dst, s.dport)
                    == (client.dst, client.dport, client.src, client.sport)
                    && s.first_frame >= client.first_frame.saturating_sub(2)
            });
            let mut responses = Vec::new();
            if let Some(server) = server.filter(|s| http::looks_like_http_response(&s.data)) {
                let mut resp = HttpStream::new(Direction::ToClient);
                for r in &requests {
                    if let HttpMessage::Request(r) = r {
                        resp.expect_response_to(&r.method);
                    }
                }
                resp.feed(&server.data, &mut responses);
                assert_eq!(
                    resp.error(),
                    None,
                    "{pcap}: response stream {}:{}",
                    server.src,
                    server.sport
                );
                if resp.is_done() {
                    tunnels += 1;
                }
                parsed
                    .entry((server.src, server.sport, server.dst, server.dport))
                    .or_default()
                    .extend(responses);
            }
            parsed
                .entry((client.src, client.sport, client.dst, client.dport))
                .or_default()
                .extend(requests);
        }
        // HTTP over UDP (SSDP): one message per datagram.
        for p in packets(&td, pcap).iter().filter(|p| p.proto == 17) {
            let dir = if http::looks_like_http_request(&p.payload) {
                Direction::ToServer
            } else if http::looks_like_http_response(&p.payload) {
                Direction::ToClient
            } else {
                continue;
            };
            let mut s = HttpStream::new(dir);
            let mut out = Vec::new();
            s.feed(&p.payload, &mut out);
            parsed
                .entry((p.src, p.sport, p.dst, p.dport))
                .or_default()
                .extend(out);
        }
        for (file, port, status, _why) in UNLISTED_BY_TSHARK.iter().filter(|u| u.0 == pcap) {
            let hit = parsed.iter_mut().find_map(|(t, v)| {
                let i = v
                    .iter()
                    .position(|m| matches!(m, HttpMessage::Response(r) if r.status == *status));
                (t.3 == *port).then_some(i).flatten().map(|i| (v, i))
            });
            match hit {
                Some((v, i)) => {
                    v.remove(i);
                }
                None => mismatches.push(format!(
                    "{file}: unlisted {status} to port {port} not found by the parser"
                )),
            }
        }
        let mut next: HashMap<FourTuple, usize> = HashMap::new();
        for rec in records {
            let frame = rec["frame"].as_u64().unwrap();
            if EXCEPTIONS
                .iter()
                .any(|(f, fr, _)| *f == pcap && *fr == frame)
            {
                continue;
            }
            checked += 1;
            let t: FourTuple = (
                rec["src"].as_str().unwrap().parse().unwrap(),
                rec["sport"].as_u64().unwrap() as u16,
                rec["dst"].as_str().unwrap().parse().unwrap(),
                rec["dport"].as_u64().unwrap() as u16,
            );
            let i = next.entry(t).or_default();
            let got = parsed.get(&t).and_then(|v| v.get(*i));
            *i += 1;
            let Some(got) = got else {
                mismatches.push(format!(
                    "{pcap} frame {frame}: oracle HTTP message not found"
                ));
                continue;
            };
            let got = as_oracle(got);
            for (k, field) in FIELDS.iter().enumerate() {
                let want = strs(&rec[*field]);
                if want != got[k] {
                    mismatches.push(format!(
                        "{pcap} frame {frame}: {field}: oracle {want:?} parser {:?}",
                        got[k]
                    ));
                }
            }
        }
        for (t, v) in &parsed {
            let listed = next.get(t).copied().unwrap_or(0);
            if listed != v.len() {
                mismatches.push(format!(
                    "{pcap} {t:?}: parser found {} messages, oracle lists {listed}: {v:?}",
                    v.len()
                ));
            }
        }
    }
    println!("http oracle: {checked} messages checked, {tunnels} tunnels");
    for m in &mismatches {
        println!("MISMATCH {m}");
    }
    assert!(
        mismatches.is_empty(),
        "{} HTTP oracle mismatches (listed above)",
        mismatches.len()
    );
    assert!(checked >= 80, "too few oracle records checked: {checked}");
    assert!(tunnels >= 1, "the CONNECT capture must end in a tunnel");
}
