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
