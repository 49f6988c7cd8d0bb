//! Reassembly of a real capture: ../shared/testdata/pcaps/arkime-tls-split-client-hello.pcap
//! (Chrome ClientHello split over two TCP segments). The oracle
//! (expected/arkime-tls-split-client-hello.json, tshark 4.0) says the ClientHello of stream 0
//! is `tcp_reassembled`, completes in frame 5, and carries SNI clients2.google.com.

mod common;

use std::net::IpAddr;

use tapir_flow::stream::{SegmentOutcome, Stream, StreamConfig};

struct Seg {
    frame: usize,
    seq: u32,
    flags: u8,
    payload: Vec<u8>,
}

struct Fixture {
    client: Vec<Seg>,
    server: Vec<Seg>,
    oracle_frame: usize,
    sni: String,
}

fn load(test: &str) -> Option<Fixture> {
    let td = common::testdata(test)?;
    let oracle: serde_json::Value = serde_json::from_slice(
        &std::fs::read(td.join("expected/arkime-tls-split-client-hello.json")).unwrap(),
    )
    .unwrap();
    let hello = &oracle["tls_client_hello"][0];
    assert_eq!(hello["tcp_reassembled"], true);
    let src: IpAddr = hello["src"].as_str().unwrap().parse().unwrap();
    let sport = u16::try_from(hello["sport"].as_u64().unwrap()).unwrap();

    let bytes = std::fs::read(td.join("pcaps/arkime-tls-split-client-hello.pcap")).unwrap();
    let (linktype, frames) = common::read_pcap(&bytes).unwrap();
    assert_eq!(linktype, 1);
    let (mut client, mut server) = (Vec::new(), Vec::new());
    for (i, frame) in frames.iter().enumerate() {
        let ip = common::decode_ethernet(frame).unwrap();
        assert_eq!(ip.proto, 6);
        let tcp = common::decode_tcp(ip.payload).unwrap();
        let seg = Seg {
            frame: i + 1,
            seq: tcp.seq,
            flags: tcp.flags,
            payload: tcp.payload.to_vec(),
        };
        if ip.src == src && tcp.sport == sport {
            client.push(seg);
        } else {
            server.push(seg);
        }
    }
    Some(Fixture {
        client,
        server,
        oracle_frame: usize::try_from(hello["frame"].as_u64().unwrap()).unwrap(),
        sni: hello["sni"][0].as_str().unwrap().to_owned(),
    })
}

/// Length of the first TLS record (RFC 8446 §5.1: type, version, u16 length), if complete.
fn first_record_len(buf: &[u8]) -> Option<usize> {
    let len = usize::from(u16::from_be_bytes([*buf.get(3)?, *buf.get(4)?]));
    (buf.len() >= 5 + len).then_some(5 + len)
}

fn feed(stream: &mut Stream, segs: &[&Seg], out: &mut Vec<u8>) -> Vec<SegmentOutcome> {
    let cfg = StreamConfig::default();
    segs.iter()
        .map(|s| {
            stream.on_segment(&cfg, s.seq, s.flags, &s.payload, &mut |d| {
                out.extend_from_slice(d)
            })
        })
        .collect()
}

#[test]
fn client_hello_reassembles_in_order() {
    let Some(fx) = load("client_hello_reassembles_in_order") else {
        return;
    };
    let mut stream = Stream::new();
    let mut out = Vec::new();
    let mut completed_at = None;
    for seg in &fx.client {
        feed(&mut stream, &[seg], &mut out);
        if completed_at.is_none() && first_record_len(&out).is_some() {
            completed_at = Some(seg.frame);
        }
    }
    // TLS handshake record (0x16), TLS 1.x (0x03 ..), handshake type ClientHello (1).
    assert_eq!(out[..2], [0x16, 0x03]);
    assert_eq!(out[5], 0x01);
    let rec = first_record_len(&out).expect("first record complete");
    assert_eq!(
        completed_at,
        Some(fx.oracle_frame),
        "tshark completes the PDU in this frame"
    );
    let sni = fx.sni.as_bytes();
    assert!(
        out[..rec].windows(sni.len()).any(|w| w == sni),
        "SNI {} in the record",
        fx.sni
    );
    assert!(!stream.gap());
    let st = stream.stats();
    assert_eq!(
        (st.retransmitted_bytes, st.overlap_bytes, st.gaps),
        (0, 0, 0)
    );
    let total: usize = fx.client.iter().map(|s| s.payload.len()).sum();
    assert_eq!(stream.delivered(), total as u64);

    // The server direction starts with its own handshake record (ServerHello, type 2).
    let mut server = Stream::new();
    let mut sout = Vec::new();
    feed(
        &mut server,
        &fx.server.iter().collect::<Vec<_>>(),
        &mut sout,
    );
    assert_eq!(sout[..2], [0x16, 0x03]);
    assert_eq!(sout[5], 0x02);
}

#[test]
fn client_hello_reassembles_in_reverse_order() {
    let Some(fx) = load("client_hello_reassembles_in_reverse_order") else {
        return;
    };
    let mut in_order = Vec::new();
    feed(
        &mut Stream::new(),
        &fx.client.iter().collect::<Vec<_>>(),
        &mut in_order,
    );

    // SYN first (it sets the ISN), then every other segment last-to-first.
    let (syn, rest) = fx.client.split_first().unwrap();
    assert_eq!(syn.flags & 0x02, 0x02);
    let mut order = vec![syn];
    order.extend(rest.iter().rev());
    let mut stream = Stream::new();
    let mut out = Vec::new();
    let outcomes = feed(&mut stream, &order, &mut out);
    assert!(outcomes.contains(&SegmentOutcome::Buffered));
    assert_eq!(out, in_order);
    let mut tail = Vec::new();
    assert!(!stream.flush(&mut |d| tail.extend_from_slice(d)));
    assert!(tail.is_empty());

    // Dropping the first data segment leaves a hole that only flush can skip.
    let mut stream = Stream::new();
    let mut out = Vec::new();
    let first_data = fx
        .client
        .iter()
        .position(|s| !s.payload.is_empty())
        .unwrap();
    let without: Vec<&Seg> = fx
        .client
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != first_data)
        .map(|(_, s)| s)
        .collect();
    feed(&mut stream, &without, &mut out);
    assert!(out.is_empty());
    assert!(stream.flush(&mut |d| tail.extend_from_slice(d)));
    assert!(stream.gap());
    assert_eq!(tail, in_order[fx.client[first_data].payload.len()..]);
}

#[test]
fn truncated_segments_never_panic() {
    let Some(fx) = load("truncated_segments_never_panic") else {
        return;
    };
    // Every segment cut at every length (as a snaplen or a lying IP length would).
    let mut in_order = Vec::new();
    feed(
        &mut Stream::new(),
        &fx.client.iter().collect::<Vec<_>>(),
        &mut in_order,
    );
    for (i, seg) in fx.client.iter().enumerate() {
        for cut in 0..seg.payload.len() {
            let mut stream = Stream::new();
            let mut out = Vec::new();
            let cfg = StreamConfig::default();
            for (j, s) in fx.client.iter().enumerate() {
                let p = if i == j {
                    &s.payload[..cut]
                } else {
                    &s.payload[..]
                };
                stream.on_segment(&cfg, s.seq, s.flags, p, &mut |d| out.extend_from_slice(d));
            }
            stream.flush(&mut |d| out.extend_from_slice(d));
            // What arrives is the original stream minus exactly the bytes cut off.
            let at = seg.seq.wrapping_sub(fx.client[0].seq.wrapping_add(1)) as usize;
            let mut want = in_order.clone();
            want.drain(at + cut..at + seg.payload.len());
            assert_eq!(out, want, "segment {i} cut to {cut}");
        }
    }
}
