//! The end of a flow: what it still holds is logged (TLS, SSH, pending HTTP, end-of-stream
//! pattern matches), then the flow record.

use tapir_patterns::Scanner;
use tapir_wire::TcpInfo;

use crate::app::AppLayer;
use crate::app_events::{log_ssh, log_tls};
use crate::emit::{community_id_text, emit, flags_hex, header, write_flow_record};
use crate::eve::{self, proto_name};
use crate::events::{FlowBody, HttpBody, TcpBody};
use crate::flow::{Dir, Flow};
use crate::matching::pattern_alerts;
use crate::observe;
use crate::{timeout_of, EngineConfig, PktCtx, Sink};

/// Logs what a flow still holds, then the flow record itself. `key_us` orders the flow's
/// last observations for the detectors (see [`crate::observe`]): [`expiry_key`] for a timeout,
/// the end of input + 1 for a shutdown, the clock for an eviction.
pub(crate) fn end_flow(
    sink: &mut Sink,
    scanner: &mut Option<Scanner>,
    mut flow: Flow,
    reason: &'static str,
    key_us: u64,
) {
    // A flow can end in the middle of another packet's processing: its observations take
    // the end's key, and the packet's key comes back afterwards.
    let packet_key = std::mem::replace(&mut sink.obs.key_us, key_us);
    let end_ctx = PktCtx {
        ts_us: flow.last_us,
        pcap_cnt: None,
    };
    // End-of-stream pattern matches (`$` anchors) and the Hyperscan stream state are settled
    // here; a state is never left open.
    if let (Some(sc), Some(mut states)) = (scanner.as_mut(), flow.pat.take()) {
        let mut hits = Vec::new();
        for (d, st) in states.iter_mut().enumerate() {
            let dir = if d == 0 { Dir::ToServer } else { Dir::ToClient };
            sc.close(st, |h| hits.push((h.pattern_id, h.offset_end, dir)));
        }
        pattern_alerts(sink, sc, &mut flow, end_ctx, &hits);
    }
    if let Some(streams) = flow.streams.as_mut() {
        for s in streams.iter_mut() {
            if s.flush(&mut |_: &[u8]| {}) {
                sink.stats.tcp_gaps += 1;
            }
            let st = s.stats();
            sink.stats.tcp_retransmitted_bytes += st.retransmitted_bytes;
            sink.stats.tcp_ooo_dropped += st.ooo_dropped_segments;
            sink.stats.tcp_overlap_bytes += st.overlap_bytes;
            sink.stats.tcp_out_of_window += st.out_of_window_segments;
            if st.depth_reached {
                sink.stats.tcp_depth_reached += 1;
            }
        }
    }
    log_tls(sink, &mut flow, end_ctx);
    log_ssh(sink, &mut flow, end_ctx);
    if let AppLayer::Quic(q) = &flow.app {
        for (err, n) in q.errors().iter() {
            if n > 0 {
                *sink.stats.quic_errors.entry(err.reason()).or_insert(0) += n;
            }
        }
    }
    let pending: Vec<_> = match &mut flow.app {
        AppLayer::Http(s) => s.pending.drain(..).collect(),
        _ => Vec::new(),
    };
    for (req, ts) in pending {
        let body = HttpBody::new(Some(&req), None);
        emit(
            sink,
            &flow,
            Dir::ToServer,
            PktCtx {
                ts_us: ts,
                pcap_cnt: None,
            },
            "http",
            &body,
        );
    }
    let both_ways = flow.pkts[0] > 0 && flow.pkts[1] > 0;
    let state = if flow.proto == 6 {
        if flow.tcp.rst || (flow.tcp.fin[0] && flow.tcp.fin[1]) {
            "closed"
        } else if both_ways {
            "established"
        } else {
            "new"
        }
    } else if both_ways {
        "established"
    } else {
        "new"
    };
    let body = FlowBody {
        pkts_toserver: flow.pkts[0],
        pkts_toclient: flow.pkts[1],
        bytes_toserver: flow.bytes[0],
        bytes_toclient: flow.bytes[1],
        start: eve::timestamp_string(flow.start_us),
        end: eve::timestamp_string(flow.last_us),
        age: (flow.last_us.saturating_sub(flow.start_us)) / 1_000_000,
        state,
        reason,
        alerted: !flow.alerted.is_empty(),
    };
    sink.ts.clear();
    eve::format_timestamp(flow.start_us, &mut sink.ts);
    let proto = proto_name(flow.proto);
    let mut cid = [0u8; 32];
    let cid = community_id_text(&flow.community_id, &mut cid);
    let h = header(&flow, Dir::ToServer, "flow", &sink.ts, None, &proto, cid);
    if flow.proto == 6 {
        let all = flow.tcp.seen[0] | flow.tcp.seen[1];
        let tcp = TcpBody {
            tcp_flags: flags_hex(all),
            tcp_flags_ts: flags_hex(flow.tcp.seen[0]),
            tcp_flags_tc: flags_hex(flow.tcp.seen[1]),
            syn: all & TcpInfo::SYN != 0,
            fin: all & TcpInfo::FIN != 0,
            rst: all & TcpInfo::RST != 0,
            psh: all & TcpInfo::PSH != 0,
            ack: all & TcpInfo::ACK != 0,
            urg: all & TcpInfo::URG != 0,
            state,
        };
        write_flow_record(&mut sink.out, &h, &body, Some(&tcp));
    } else {
        write_flow_record(&mut sink.out, &h, &body, None);
    }
    sink.stats.event("flow");
    *sink.stats.flows_ended.entry(reason).or_insert(0) += 1;
    observe::on_flow_end(&mut sink.obs, &mut flow);
    sink.obs.key_us = packet_key;
}

/// The first instant at which `flow` counts as idle past its timeout: what a timeout's
/// observations are ordered by, however the flow's end was noticed.
pub(crate) fn expiry_key(cfg: &EngineConfig, flow: &Flow) -> u64 {
    flow.last_now_us
        .saturating_add(timeout_of(cfg, flow))
        .saturating_add(1)
}
