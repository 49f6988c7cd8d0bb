//! Writing EVE records for a flow: the shared header (endpoints in the event's direction,
//! Community ID, tunnel, VLAN) and the body under its key.

use crate::eve::{self, proto_name, write_record, Header};
use crate::events::{FlowBody, TcpBody};
use crate::flow::{Dir, Flow};
use crate::{PktCtx, Sink};

/// Community ID text (`1:` + base64 of the SHA-1) written into `buf`; flows keep only the
/// 20-byte digest, which saves a heap string per flow.
pub(crate) fn community_id_text<'a>(digest: &[u8; 20], buf: &'a mut [u8; 32]) -> &'a str {
    use base64::Engine as _;
    buf[0] = b'1';
    buf[1] = b':';
    let n = base64::engine::general_purpose::STANDARD
        .encode_slice(digest, &mut buf[2..])
        .unwrap_or(0);
    std::str::from_utf8(&buf[..2 + n]).unwrap_or("")
}

/// Builds the header for an event about `flow` travelling in `dir`.
pub(crate) fn header<'a>(
    flow: &'a Flow,
    dir: Dir,
    event_type: &'static str,
    ts: &'a str,
    pcap_cnt: Option<u64>,
    proto: &'a str,
    cid: &'a str,
) -> Header<'a> {
    let (src, dst) = match dir {
        Dir::ToServer => (flow.client, flow.server),
        Dir::ToClient => (flow.server, flow.client),
    };
    let has_ports = matches!(flow.proto, 6 | 17 | 132);
    Header {
        timestamp: ts,
        flow_id: flow.flow_id,
        pcap_cnt,
        event_type,
        vlan: (!flow.vlan.is_empty()).then_some(flow.vlan.as_slice()),
        src_ip: src.0,
        src_port: has_ports.then_some(src.1),
        dest_ip: dst.0,
        dest_port: has_ports.then_some(dst.1),
        proto,
        icmp_type: flow.icmp.map(|i| i.0),
        icmp_code: flow.icmp.map(|i| i.1),
        app_proto: flow.app.name(),
        tunnel: flow.tunnel.as_ref(),
        community_id: cid,
    }
}

pub(crate) fn emit<B: serde::Serialize>(
    sink: &mut Sink,
    flow: &Flow,
    dir: Dir,
    ctx: PktCtx,
    event_type: &'static str,
    body: &B,
) {
    emit_as(sink, flow, dir, ctx, event_type, event_type, body);
}

/// Like [`emit`], with the body under `key` instead of the event type's own key.
pub(crate) fn emit_as<B: serde::Serialize>(
    sink: &mut Sink,
    flow: &Flow,
    dir: Dir,
    ctx: PktCtx,
    event_type: &'static str,
    key: &str,
    body: &B,
) {
    sink.ts.clear();
    eve::format_timestamp(ctx.ts_us, &mut sink.ts);
    let proto = proto_name(flow.proto);
    let mut cid = [0u8; 32];
    let cid = community_id_text(&flow.community_id, &mut cid);
    let h = header(flow, dir, event_type, &sink.ts, ctx.pcap_cnt, &proto, cid);
    write_record(&mut sink.out, &h, key, body);
    sink.stats.event(event_type);
}

pub(crate) fn flags_hex(f: u8) -> String {
    format!("{f:02x}")
}

/// A flow record carries two objects (`flow`, and `tcp` for TCP).
pub(crate) fn write_flow_record(
    out: &mut Vec<u8>,
    h: &Header<'_>,
    flow: &FlowBody,
    tcp: Option<&TcpBody>,
) {
    let start = out.len();
    write_record(out, h, "flow", flow);
    if let Some(tcp) = tcp {
        // Reopen the line to add the `tcp` object next to `flow`.
        if out.len() > start && out.ends_with(b"}\n") {
            out.truncate(out.len() - 2);
            out.extend_from_slice(b",\"tcp\":");
            if serde_json::to_writer(&mut *out, tcp).is_err() {
                out.truncate(start);
                return;
            }
            out.extend_from_slice(b"}\n");
        }
    }
}

/// The header of an event that is not about one flow's packet (a behaviour finding): the
/// flow id only when the finding rests on one flow.
#[derive(serde::Serialize)]
struct FindingHeader<'a> {
    timestamp: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    flow_id: Option<u64>,
    event_type: &'static str,
    src_ip: std::net::IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    src_port: Option<u16>,
    dest_ip: std::net::IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    dest_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    proto: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    community_id: Option<&'a str>,
    alert: crate::events::BehaviourAlertBody<'a>,
}

/// Appends a behaviour finding as one EVE `alert` line. The Community ID is given when the
/// finding names one flow by its full 5-tuple (it is a function of the 5-tuple alone).
pub(crate) fn write_finding(out: &mut Vec<u8>, f: &tapir_detect::Finding) {
    let mut ts = String::with_capacity(32);
    eve::format_timestamp(f.ts_us, &mut ts);
    let proto = f.proto.map(proto_name);
    let mut cid_buf = [0u8; 32];
    let cid = match (f.flow_id, f.proto, f.src_port, f.dest_port) {
        (Some(_), Some(p @ (6 | 17 | 132)), Some(sp), Some(dp)) => {
            let digest =
                tapir_flow::community_id::community_id_v1_digest(f.src, f.dest, p, sp, dp, 0);
            Some(community_id_text(&digest, &mut cid_buf))
        }
        _ => None,
    };
    let line = FindingHeader {
        timestamp: &ts,
        flow_id: f.flow_id,
        event_type: "alert",
        src_ip: f.src,
        src_port: f.src_port,
        dest_ip: f.dest,
        dest_port: f.dest_port,
        proto: proto.as_deref(),
        community_id: cid,
        alert: crate::events::BehaviourAlertBody::new(f),
    };
    let start = out.len();
    // Our own structs and a JSON map: serialisation into a Vec cannot fail; should it, no
    // half line is left.
    if serde_json::to_writer(&mut *out, &line).is_err() {
        out.truncate(start);
        return;
    }
    out.push(b'\n');
}
