//! DNS parser and detector against the tshark 4.0 oracles in
//! `../shared/testdata/expected/*.json` (`dns[]` arrays). Payloads are taken
//! from the real captures at test time; every oracle message must be found by
//! content detection (no port hint) and have equal fields.

mod dns_http_pcap;

use dns_http_pcap::{packets, shared_testdata, tcp_streams, Pkt};
use serde_json::Value;
use std::collections::HashMap;
use std::net::IpAddr;
use tapir_proto::dns::{self, rrtype, DnsMessage, DnsTcpStream};

/// Oracle records that cannot be matched, with the reason. Empty: every
/// record in the shared captures matches.
const EXCEPTIONS: &[(&str, u64, &str)] = &[];

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

fn nums(v: &Value) -> Vec<u64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

/// tshark writes the root name as `<Root>`; this parser as `""` (Suricata).
fn tshark_name(n: &str) -> String {
    if n.is_empty() {
        "<Root>".to_owned()
    } else {
        n.to_owned()
    }
}

/// Field-by-field comparison; returns the differences.
fn compare(rec: &Value, m: &DnsMessage) -> Vec<String> {
    let mut diffs = Vec::new();
    let mut check = |field: &str, want: String, got: String| {
        if want != got {
            diffs.push(format!("{field}: oracle {want} parser {got}"));
        }
    };
    check(
        "id",
        format!("{:?}", nums(&rec["id"])),
        format!("{:?}", vec![u64::from(m.id)]),
    );
    let resp: Vec<bool> = rec["response"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_bool)
        .collect();
    check("response", format!("{resp:?}"), format!("{:?}", vec![m.qr]));
    let rcode = nums(&rec["rcode"]);
    if m.qr {
        // tshark shows the 4 header bits (dns.flags.rcode).
        check(
            "rcode",
            format!("{rcode:?}"),
            format!("{:?}", vec![u64::from(m.rcode & 0xf)]),
        );
    }
    let qn: Vec<String> = m.queries.iter().map(|q| tshark_name(&q.rrname)).collect();
    check(
        "qname",
        format!("{:?}", strs(&rec["qname"])),
        format!("{qn:?}"),
    );
    let qt: Vec<u64> = m.queries.iter().map(|q| u64::from(q.rrtype)).collect();
    check(
        "qtype",
        format!("{:?}", nums(&rec["qtype"])),
        format!("{qt:?}"),
    );
    check(
        "answer_count",
        format!("{:?}", nums(&rec["answer_count"])),
        format!("{:?}", vec![m.answers.len()]),
    );
    let all: Vec<_> = m
        .answers
        .iter()
        .chain(&m.authorities)
        .chain(&m.additionals)
        .collect();
    let names: Vec<String> = all.iter().map(|r| tshark_name(&r.rrname)).collect();
    check(
        "answer_names",
        format!("{:?}", strs(&rec["answer_names"])),
        format!("{names:?}"),
    );
    let types: Vec<u64> = all.iter().map(|r| u64::from(r.rrtype)).collect();
    check(
        "answer_types",
        format!("{:?}", nums(&rec["answer_types"])),
        format!("{types:?}"),
    );
    let data_of = |t: u16| -> Vec<String> {
        all.iter()
            .filter(|r| r.rrtype == t)
            .map(|r| r.rdata.clone().unwrap_or_default())
            .collect()
    };
    check(
        "a",
        format!("{:?}", strs(&rec["a"])),
        format!("{:?}", data_of(rrtype::A)),
    );
    check(
        "aaaa",
        format!("{:?}", strs(&rec["aaaa"])),
        format!("{:?}", data_of(rrtype::AAAA)),
    );
    check(
        "cname",
        format!("{:?}", strs(&rec["cname"])),
        format!("{:?}", data_of(rrtype::CNAME)),
    );
    diffs
}

type FourTuple = (IpAddr, u16, IpAddr, u16);

fn tuple_of(rec: &Value) -> FourTuple {
    (
        rec["src"].as_str().unwrap().parse().unwrap(),
        rec["sport"].as_u64().unwrap() as u16,
        rec["dst"].as_str().unwrap().parse().unwrap(),
        rec["dport"].as_u64().unwrap() as u16,
    )
}

#[test]
fn dns_matches_tshark_oracles() {
    let Some(td) = shared_testdata("dns_matches_tshark_oracles") else {
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(td.join("expected"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut mismatches = Vec::new();
    let mut checked = 0usize;
    let mut captures = 0usize;
    for path in files {
        let oracle: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let Some(records) = oracle["dns"].as_array().filter(|a| !a.is_empty()) else {
            continue;
        };
        captures += 1;
        let pcap = oracle["file"].as_str().unwrap();
        let pkts = packets(&td, pcap);
        // UDP: content detection on every datagram, keyed by frame number.
        let by_frame: HashMap<usize, (&Pkt, DnsMessage)> = pkts
            .iter()
            .filter(|p| p.proto == 17 && dns::looks_like_dns(&p.payload))
            .map(|p| {
                (
                    p.frame,
                    (
                        p,
                        dns::parse_message(&p.payload).expect("detected but not parsed"),
                    ),
                )
            })
            .collect();
        // TCP: reassembled directions that look like DNS, messages in order.
        let mut by_tuple: HashMap<FourTuple, Vec<DnsMessage>> = HashMap::new();
        for s in tcp_streams(&pkts)
            .iter()
            .filter(|s| dns::looks_like_dns_tcp(&s.data))
        {
            let mut d = DnsTcpStream::new();
            let mut out = Vec::new();
            d.feed(&s.data, &mut out);
            assert!(
                !d.is_done(),
                "{pcap}: tcp stream {}:{} error {:?}",
                s.src,
                s.sport,
                d.error()
            );
            by_tuple
                .entry((s.src, s.sport, s.dst, s.dport))
                .or_default()
                .extend(out);
        }
        let mut tcp_seen: HashMap<FourTuple, usize> = HashMap::new();
        for rec in records {
            let frame = rec["frame"].as_u64().unwrap();
            if EXCEPTIONS
                .iter()
                .any(|(f, fr, _)| *f == pcap && *fr == frame)
            {
                continue;
            }
            checked += 1;
            let found = if rec["transport"] == "udp" {
                by_frame.get(&(frame as usize)).map(|(p, m)| {
                    let t = tuple_of(rec);
                    assert_eq!(
                        (p.src, p.sport, p.dst, p.dport),
                        t,
                        "{pcap} frame {frame}: endpoints"
                    );
                    m.clone()
                })
            } else {
                let t = tuple_of(rec);
                let i = tcp_seen.entry(t).or_default();
                *i += 1;
                by_tuple.get(&t).and_then(|v| v.get(*i - 1)).cloned()
            };
            match found {
                None => mismatches.push(format!(
                    "{pcap} frame {frame}: oracle DNS message not detected"
                )),
                Some(m) => {
                    for d in compare(rec, &m) {
                        mismatches.push(format!("{pcap} frame {frame}: {d}"));
                    }
                }
            }
        }
        // Detections the oracle does not list are reported, and must be on a
        // DNS-family port (53 DNS, 5353 mDNS, 5355 LLMNR).
        for (frame, (p, _)) in &by_frame {
            let listed = records
                .iter()
                .any(|r| r["frame"].as_u64() == Some(*frame as u64));
            if !listed {
                let dns_port = [53, 5353, 5355]
                    .iter()
                    .any(|x| *x == p.sport || *x == p.dport);
                println!(
                    "{pcap} frame {frame}: extra detection {}:{} -> {}:{}",
                    p.src, p.sport, p.dst, p.dport
                );
                if !dns_port {
                    mismatches.push(format!(
                        "{pcap} frame {frame}: detected as DNS on a non-DNS port"
                    ));
                }
            }
        }
    }
    println!("dns oracle: {captures} captures, {checked} messages checked");
    for m in &mismatches {
        println!("MISMATCH {m}");
    }
    assert!(
        mismatches.is_empty(),
        "{} DNS oracle mismatches (listed above)",
        mismatches.len()
    );
    assert!(checked >= 100, "too few oracle records checked: {checked}");
}

/// Content detection must accept every UDP DNS/mDNS/LLMNR datagram in the
/// shared captures (port 53/5353/5355 both ways) and nothing else that
/// tshark did not call DNS: run over all captures, including TLS and QUIC ones.
#[test]
fn detection_over_all_captures() {
    let Some(td) = shared_testdata("detection_over_all_captures") else {
        return;
    };
    let mut false_pos = Vec::new();
    let mut missed = Vec::new();
    let mut dns_ports = 0usize;
    for e in std::fs::read_dir(td.join("expected")).unwrap() {
        let path = e.unwrap().path();
        let oracle: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let pcap = oracle["file"].as_str().unwrap().to_owned();
        let dns_frames: Vec<u64> = oracle["dns"]
            .as_array()
            .map(|a| a.iter().filter_map(|r| r["frame"].as_u64()).collect())
            .unwrap_or_default();
        for p in packets(&td, &pcap).iter().filter(|p| p.proto == 17) {
            let is_oracle = dns_frames.contains(&(p.frame as u64));
            let on_dns_port = [53u16, 5353, 5355]
                .iter()
                .any(|x| *x == p.sport || *x == p.dport);
            let detected = dns::looks_like_dns(&p.payload);
            if on_dns_port {
                dns_ports += 1;
                if !detected {
                    missed.push(format!("{pcap} frame {}", p.frame));
                }
            } else if detected && !is_oracle {
                false_pos.push(format!("{pcap} frame {} {}:{}", p.frame, p.sport, p.dport));
            }
        }
    }
    println!("{dns_ports} datagrams on DNS ports");
    assert!(
        missed.is_empty(),
        "DNS-port datagrams not detected: {missed:?}"
    );
    assert!(
        false_pos.is_empty(),
        "non-DNS datagrams detected as DNS: {false_pos:?}"
    );
}

/// Arkime's own expected session documents (third_party.arkime) list every
/// record of the responses with its TTL and data (`ip`, `cname`,
/// `nameserver`): an independent check of TTLs and NS rendering.
#[test]
fn dns_matches_arkime_answers() {
    let Some(td) = shared_testdata("dns_matches_arkime_answers") else {
        return;
    };
    let mut checked = 0usize;
    let mut mismatches = Vec::new();
    for e in std::fs::read_dir(td.join("expected")).unwrap() {
        let oracle: Value =
            serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap();
        let Some(arkime) = oracle["third_party"]["arkime"].as_array() else {
            continue;
        };
        let pcap = oracle["file"].as_str().unwrap();
        let pkts = packets(&td, pcap);
        // Every response message of the capture with its client endpoint.
        let mut responses: Vec<((IpAddr, u16), DnsMessage)> = pkts
            .iter()
            .filter(|p| p.proto == 17 && dns::looks_like_dns(&p.payload))
            .filter_map(|p| {
                dns::parse_message(&p.payload)
                    .ok()
                    .map(|m| ((p.dst, p.dport), m))
            })
            .collect();
        for s in tcp_streams(&pkts)
            .iter()
            .filter(|s| dns::looks_like_dns_tcp(&s.data))
        {
            let mut d = DnsTcpStream::new();
            let mut out = Vec::new();
            d.feed(&s.data, &mut out);
            responses.extend(out.into_iter().map(|m| ((s.dst, s.dport), m)));
        }
        for session in arkime
            .iter()
            .flat_map(|a| a["sessions"].as_array().into_iter().flatten())
        {
            let mut want: Vec<String> = session["dns"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|d| d["answers"].as_array().into_iter().flatten())
                .map(|a| {
                    let value = ["ip", "cname", "nameserver"]
                        .iter()
                        .find_map(|k| a[*k].as_str())
                        .unwrap_or("");
                    format!(
                        "{} {} {} {}",
                        a["name"].as_str().unwrap(),
                        a["type"].as_str().unwrap(),
                        a["ttl"],
                        value
                    )
                })
                .collect();
            if want.is_empty() {
                continue;
            }
            let client: (IpAddr, u16) = (
                session["source"]["ip"].as_str().unwrap().parse().unwrap(),
                session["source"]["port"].as_u64().unwrap() as u16,
            );
            let mut got: Vec<String> = responses
                .iter()
                .filter(|(c, m)| *c == client && m.qr)
                .flat_map(|(_, m)| m.answers.iter().chain(&m.authorities).chain(&m.additionals))
                .filter(|r| r.rrtype != rrtype::OPT)
                .map(|r| {
                    let value = r.rdata.clone().unwrap_or_default();
                    format!(
                        "{} {} {} {}",
                        r.rrname,
                        dns::rrtype_name(r.rrtype),
                        r.ttl,
                        value
                    )
                })
                .collect();
            want.sort();
            got.sort();
            checked += want.len();
            if want != got {
                mismatches.push(format!(
                    "{pcap} client {client:?}:\n  arkime {want:?}\n  parser {got:?}"
                ));
            }
        }
    }
    println!("arkime: {checked} records checked");
    assert!(
        mismatches.is_empty(),
        "arkime mismatches:\n{}",
        mismatches.join("\n")
    );
    assert!(checked >= 40, "too few Arkime records checked: {checked}");
}
