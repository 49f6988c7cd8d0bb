//! tapir-engine: the per-worker data plane.
//!
//! `capture -> decode (tapir-wire) -> defrag -> flow table -> TCP reassembly (tapir-flow) ->
//! app-layer (tapir-proto) -> intel (tapir-intel) -> EVE JSON lines`.
//!
//! One [`Engine`] owns its flows outright: no locks on the packet path. Events are appended to
//! an in-memory buffer of whole lines that the caller drains ([`Engine::drain_to`]), so several
//! engines can later share one writer without interleaving partial records.

#![forbid(unsafe_code)]

pub mod app;
pub mod config;
pub mod eve;
pub mod events;
pub mod flow;
pub mod pipeline;
pub mod replay;
pub mod stats;

use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::Arc;

use std::collections::hash_map::Entry;
use tapir_capture::RawPacket;
use tapir_flow::community_id::community_id_v1_digest;
use tapir_flow::stream::Stream;
use tapir_intel::{Indicator, IntelDb};
use tapir_proto::dns::DnsMessage;
use tapir_proto::http::HttpMessage;
use tapir_proto::quic::QuicEvent;
use tapir_proto::socks::{SocksCommand, SocksEvent, SocksTarget, SocksVersion};
use tapir_proto::ssh::SshEvent;
use tapir_proto::tls::TlsMessage;

use tapir_patterns::{
    Direction as PatternDir, PatternSet, Ports, Scanner, ScannerConfig, StreamState,
};
use tapir_wire::{Decoded, Defragmenter, LinkType, Packet, TcpInfo, L4};

use crate::app::{AppLayer, AppMsg, MAX_PENDING_HTTP};
pub use crate::config::EngineConfig;
use crate::eve::{proto_name, write_record, Header, TunnelInfo};
use crate::events::{
    AlertBody, DnsBody, FlowBody, HttpBody, Ja3Out, MatchField, QuicBody, SshBody, TcpBody, TlsBody,
};
use crate::flow::{Dir, Flow, FlowKey, FlowTable, TcpFlags};
pub use crate::pipeline::PipelineConfig;
pub use crate::replay::{replay, replay_with, ReplayError, ReplayOptions, ReplayReport};
pub use crate::stats::Stats;

/// How often (in packet time) idle flows are looked for.
const SWEEP_INTERVAL_US: u64 = 1_000_000;

/// Where events go and what is counted: the parts of the engine that event code writes to.
struct Sink {
    out: Vec<u8>,
    stats: Stats,
    ts: String,
}

/// Packet context for event headers.
#[derive(Clone, Copy)]
struct PktCtx {
    ts_us: u64,
    pcap_cnt: Option<u64>,
}

/// One worker's data plane.
pub struct Engine {
    cfg: EngineConfig,
    intel: Arc<IntelDb>,
    flows: FlowTable,
    defrag: Defragmenter,
    sink: Sink,
    msgs: Vec<AppMsg>,
    /// Payload pattern scanner of this worker (its own Hyperscan scratch), when patterns are
    /// loaded.
    scanner: Option<Scanner>,
    /// Pattern hits of the packet being processed: (pattern index, end offset, direction).
    hits: Vec<(u32, u64, Dir)>,
    now_us: u64,
    last_sweep_us: u64,
}

impl Engine {
    pub fn new(cfg: EngineConfig, intel: Arc<IntelDb>) -> Self {
        let defrag = Defragmenter::new(cfg.defrag.clone());
        // The table grows with the flows it holds (up to `max_flows`): sizing it for the cap up
        // front spreads a few thousand live flows over a table of hundreds of MB, and every
        // lookup then misses the cache (measured: 11% of the time in the lookup alone).
        let flows = FlowTable::with_capacity(1024.min(cfg.max_flows));
        Engine {
            cfg,
            intel,
            flows,
            defrag,
            sink: Sink {
                out: Vec::with_capacity(1 << 16),
                stats: Stats::default(),
                ts: String::with_capacity(40),
            },
            msgs: Vec::new(),
            scanner: None,
            hits: Vec::new(),
            now_us: 0,
            last_sweep_us: 0,
        }
    }

    /// Loads payload patterns: TCP bytes are scanned in reassembled order up to `depth` bytes
    /// per direction, UDP payloads one datagram at a time.
    ///
    /// # Errors
    /// Hyperscan could not allocate scratch space for the set.
    pub fn set_patterns(&mut self, set: &PatternSet, depth: u64) -> Result<(), String> {
        if set.is_empty() {
            self.scanner = None;
            return Ok(());
        }
        let sc = Scanner::with_config(
            set,
            ScannerConfig {
                stream_depth: depth,
            },
        )
        .map_err(|e| e.to_string())?;
        self.scanner = Some(sc);
        Ok(())
    }

    /// Swaps in a new indicator set (hot reload). Flows keep their state; indicators are
    /// matched against the new set from the next packet on.
    pub fn set_intel(&mut self, intel: Arc<IntelDb>) {
        self.intel = intel;
    }

    /// The indicator set in use.
    pub fn intel(&self) -> &Arc<IntelDb> {
        &self.intel
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        &self.sink.stats
    }

    /// Flows currently held.
    pub fn flow_count(&self) -> usize {
        self.flows.len()
    }

    /// Bytes of EVE output waiting to be drained.
    pub fn pending_output(&self) -> usize {
        self.sink.out.len()
    }

    /// Writes and clears the buffered EVE lines.
    ///
    /// # Errors
    /// The writer's error; the buffer is kept for a retry.
    pub fn drain_to(&mut self, w: &mut dyn Write) -> io::Result<()> {
        w.write_all(&self.sink.out)?;
        self.sink.out.clear();
        Ok(())
    }

    /// Processes one captured frame of link type `link`; `pcap_cnt` is its 1-based number.
    pub fn process(&mut self, link: LinkType, pkt: &RawPacket<'_>, pcap_cnt: u64) {
        let st = &mut self.sink.stats;
        st.packets += 1;
        st.bytes += u64::from(pkt.wire_len);
        // Packet time only moves forward: a capture with a timestamp going back in time must
        // not expire flows early or make ages negative.
        self.now_us = self.now_us.max(pkt.ts_us);
        if self.now_us.saturating_sub(self.last_sweep_us) >= SWEEP_INTERVAL_US {
            self.sweep();
        }
        let ctx = PktCtx {
            ts_us: pkt.ts_us,
            pcap_cnt: Some(pcap_cnt),
        };
        match tapir_wire::decode(link, pkt.data) {
            Err(e) => self.sink.stats.decode_error(e.reason()),
            Ok(Decoded::NotIp) => self.sink.stats.non_ip += 1,
            Ok(Decoded::Packet(p)) => self.handle(&p, pkt.wire_len, ctx),
            Ok(Decoded::Fragment(f)) => {
                self.sink.stats.fragments += 1;
                if let Some(r) = self.defrag.push(&f, pkt.ts_us) {
                    match tapir_wire::decode_reassembled(&r) {
                        Ok(Decoded::Packet(p)) => self.handle(&p, pkt.wire_len, ctx),
                        Ok(Decoded::NotIp) => self.sink.stats.non_ip += 1,
                        Ok(Decoded::Fragment(_)) => {
                            self.sink.stats.decode_error("defrag_nested_fragment")
                        }
                        Err(e) => self.sink.stats.decode_error(e.reason()),
                    }
                }
            }
        }
    }

    /// Ends every flow (end of input or shutdown) and logs what is still open.
    ///
    /// `end_us` is the time of the last packet of the whole input (not only of this engine's
    /// share of it): a flow idle past its timeout by then ends with reason `timeout`, as it
    /// would have had more packets arrived, the others with `shutdown`. That keeps the events
    /// of N workers equal to those of one.
    pub fn finish(&mut self, end_us: u64) {
        let end_us = end_us.max(self.now_us);
        self.defrag.expire(end_us);
        let d = self.defrag.stats();
        let st = &mut self.sink.stats;
        st.defrag_reassembled = d.reassembled;
        st.defrag_timeouts = d.timeouts;
        st.defrag_dropped_memcap = d.dropped_memcap;
        st.defrag_bad_fragments = d.bad_fragments;
        if let Some(sc) = &self.scanner {
            let p = sc.stats();
            st.pattern_bytes_scanned = p.bytes_scanned;
            st.pattern_streams_past_depth = p.streams_past_depth;
            st.pattern_bytes_past_depth = p.bytes_past_depth;
            st.pattern_scan_errors = p.scan_errors;
        }
        let flows = self.flows.take_all();
        for (_, f) in flows {
            let reason = if end_us.saturating_sub(f.last_now_us) > timeout_of(&self.cfg, &f) {
                "timeout"
            } else {
                "shutdown"
            };
            end_flow(&mut self.sink, &mut self.scanner, f, reason);
        }
    }

    /// Moves this engine's clock to `now_us` (never backwards). The pipeline calls it with the
    /// reader's clock, the latest packet time of the whole input so far, so that every worker
    /// measures idleness on the same clock as a single engine would.
    pub fn set_now(&mut self, now_us: u64) {
        self.now_us = self.now_us.max(now_us);
    }

    /// Swaps the EVE buffer for `empty` and returns the lines written so far (whole lines).
    pub fn take_output(&mut self, mut empty: Vec<u8>) -> Vec<u8> {
        empty.clear();
        std::mem::replace(&mut self.sink.out, empty)
    }

    /// Processes a packet whose link type is a pcap `LINKTYPE_*` number.
    pub fn process_dlt(&mut self, dlt: i32, pkt: &RawPacket<'_>, pcap_cnt: u64) {
        match LinkType::from_dlt(dlt) {
            Some(link) => self.process(link, pkt, pcap_cnt),
            None => {
                let st = &mut self.sink.stats;
                st.packets += 1;
                st.bytes += u64::from(pkt.wire_len);
                st.decode_error("unknown_link_type");
            }
        }
    }

    /// Ends idle flows and expires fragments.
    fn sweep(&mut self) {
        self.last_sweep_us = self.now_us;
        self.defrag.expire(self.now_us);
        let cfg = &self.cfg;
        let expired = self.flows.take_expired(self.now_us, |f| timeout_of(cfg, f));
        for (_, f) in expired {
            end_flow(&mut self.sink, &mut self.scanner, f, "timeout");
        }
    }

    fn handle(&mut self, p: &Packet<'_>, wire_len: u32, ctx: PktCtx) {
        let vlan = p.vlan.as_slice();
        // tshark and Suricata count an ICMP error that quotes a TCP/UDP header in the quoted
        // flow, in the direction of the quoted packet.
        if let L4::Icmp {
            quoted: Some(q), ..
        } = &p.l4
        {
            let (key, _) = FlowKey::new(q.src, q.sport, q.dst, q.dport, q.proto, vlan);
            if let Some(f) = self.flows.map.get_mut(&key) {
                let d = f.dir_of(q.src, q.sport).idx();
                f.pkts[d] += 1;
                f.bytes[d] += u64::from(wire_len);
                f.last_us = f.last_us.max(ctx.ts_us);
                f.last_now_us = self.now_us;
                return;
            }
        }
        let (sport, dport) = p.ports();
        let (key, _) = FlowKey::new(p.src, sport, p.dst, dport, p.ip_proto, vlan);
        // Room for a new flow is made before the lookup, which then is the only one on the
        // common path (an existing, live flow).
        if self.flows.len() >= self.cfg.max_flows && !self.flows.map.contains_key(&key) {
            let n = (self.cfg.max_flows / 16).max(1);
            for (_, f) in self.flows.take_oldest(n) {
                self.sink.stats.flows_forced += 1;
                end_flow(&mut self.sink, &mut self.scanner, f, "forced");
            }
        }
        let now = self.now_us;
        let (flow, is_new) = match self.flows.map.entry(key) {
            Entry::Occupied(o) => {
                let f = o.into_mut();
                // A flow idle past its timeout ends here, whenever the last sweep ran: the
                // decision depends on the clock and this flow only, so any worker count
                // decides alike.
                if now.saturating_sub(f.last_now_us) > timeout_of(&self.cfg, f) {
                    let old = std::mem::replace(f, new_flow(p, &key, ctx.ts_us, now));
                    end_flow(&mut self.sink, &mut self.scanner, old, "timeout");
                    (f, true)
                } else {
                    (f, false)
                }
            }
            Entry::Vacant(v) => (v.insert(new_flow(p, &key, ctx.ts_us, now)), true),
        };
        if is_new {
            self.sink.stats.flows += 1;
            let dir = flow.dir_of(p.src, sport);
            for (ip, field) in [
                (flow.client.0, MatchField::SrcIp),
                (flow.server.0, MatchField::DestIp),
            ] {
                if let Some(ind) = self.intel.match_ip(ip) {
                    // The field names the packet's side, as Suricata's src_ip/dest_ip.
                    let field = if dir == Dir::ToServer {
                        field
                    } else if field == MatchField::SrcIp {
                        MatchField::DestIp
                    } else {
                        MatchField::SrcIp
                    };
                    let text = ip.to_string();
                    alert(
                        &mut self.sink,
                        &self.intel,
                        flow,
                        dir,
                        ctx,
                        ind,
                        field,
                        &text,
                    );
                }
            }
            if matches!(flow.proto, 6 | 17) {
                if let Some(ind) = self.intel.match_ip_port(flow.server.0, flow.server.1) {
                    let text = format!("{}:{}", flow.server.0, flow.server.1);
                    alert(
                        &mut self.sink,
                        &self.intel,
                        flow,
                        dir,
                        ctx,
                        ind,
                        MatchField::DestIpPort,
                        &text,
                    );
                }
            }
        }
        let dir = flow.dir_of(p.src, sport);
        let d = dir.idx();
        flow.pkts[d] += 1;
        flow.bytes[d] += u64::from(wire_len);
        flow.last_us = flow.last_us.max(ctx.ts_us);
        flow.last_now_us = self.now_us;

        let msgs = &mut self.msgs;
        msgs.clear();
        let mut app_error = None;
        match &p.l4 {
            L4::Tcp(t) => {
                flow.tcp.seen[d] |= t.flags;
                if t.flags & TcpInfo::FIN != 0 {
                    flow.tcp.fin[d] = true;
                }
                if t.flags & TcpInfo::RST != 0 {
                    flow.tcp.rst = true;
                }
                let scanner = &mut self.scanner;
                let hits = &mut self.hits;
                if scanner.is_some() && flow.pat.is_none() && !p.payload.is_empty() {
                    flow.pat = Some(Box::new([StreamState::new(), StreamState::new()]));
                }
                let Flow {
                    streams, app, pat, ..
                } = flow;
                let scan = scanner.is_some() && pat.as_ref().is_some_and(|s| !s[d].is_done());
                if let Some(streams) = streams.as_mut() {
                    if (scan || app.wants_tcp(dir))
                        && (!p.payload.is_empty() || t.flags & (TcpInfo::SYN | TcpInfo::FIN) != 0)
                    {
                        let pdir = pattern_dir(dir);
                        let ports = Ports {
                            src: t.src_port,
                            dst: t.dst_port,
                        };
                        streams[d].on_segment(
                            &self.cfg.stream,
                            t.seq,
                            t.flags,
                            p.payload,
                            &mut |data: &[u8]| {
                                if let (Some(sc), Some(st)) = (scanner.as_mut(), pat.as_mut()) {
                                    sc.scan_stream(&mut st[d], data, pdir, ports, |h| {
                                        hits.push((h.pattern_id, h.offset_end, dir));
                                    });
                                }
                                if app.wants_tcp(dir) {
                                    if let Some(e) = app.feed_tcp(dir, data, msgs) {
                                        app_error = Some(e);
                                    }
                                }
                            },
                        );
                    }
                }
            }
            L4::Udp { src_port, dst_port } => {
                if let Some(sc) = self.scanner.as_mut() {
                    let ports = Ports {
                        src: *src_port,
                        dst: *dst_port,
                    };
                    let hits = &mut self.hits;
                    sc.scan_block(p.payload, pattern_dir(dir), ports, |h| {
                        hits.push((h.pattern_id, h.offset_end, dir));
                    });
                }
                app_error = flow
                    .app
                    .feed_udp(dir, p.payload, self.cfg.udp_probe_packets, msgs);
            }
            _ => {}
        }
        if let Some(e) = app_error {
            self.sink.stats.app_error(e);
        }
        if !self.hits.is_empty() {
            if let Some(sc) = self.scanner.as_ref() {
                pattern_alerts(&mut self.sink, sc, flow, ctx, &self.hits);
            }
            self.hits.clear();
        }
        if !self.msgs.is_empty() {
            let msgs = std::mem::take(&mut self.msgs);
            let mut tunnel_opened = false;
            for m in &msgs {
                tunnel_opened |= handle_msg(&mut self.sink, &self.intel, flow, m, ctx);
            }
            if tunnel_opened {
                // After `CONNECT` answered 2xx the stream carries another protocol (usually
                // TLS): detect it afresh from the next bytes of each direction.
                flow.app = AppLayer::default();
            }
            self.msgs = msgs;
            self.msgs.clear();
        }
        maybe_log_tls(&mut self.sink, flow, ctx);
    }
}

fn pattern_dir(d: Dir) -> PatternDir {
    match d {
        Dir::ToServer => PatternDir::ToServer,
        Dir::ToClient => PatternDir::ToClient,
    }
}

/// Pattern alerts share the per-flow "alerted" list with indicators; their keys live above
/// every indicator id.
const PATTERN_ALERT_KEY: u32 = 1 << 31;

/// Raises one alert per flow per pattern for `hits` (pattern index, end offset, direction).
fn pattern_alerts(
    sink: &mut Sink,
    sc: &Scanner,
    flow: &mut Flow,
    ctx: PktCtx,
    hits: &[(u32, u64, Dir)],
) {
    for &(idx, offset, dir) in hits {
        let key = PATTERN_ALERT_KEY | idx;
        if flow.alerted_on(key) {
            continue;
        }
        let Some(def) = sc.set().get(idx) else {
            continue;
        };
        flow.alerted.push(key);
        sink.stats.alerts += 1;
        let body = AlertBody::pattern(def, idx, offset, dir == Dir::ToServer);
        emit(sink, flow, dir, ctx, "alert", &body);
    }
}

fn timeout_of(cfg: &EngineConfig, f: &Flow) -> u64 {
    let both_ways = f.pkts[0] > 0 && f.pkts[1] > 0;
    if f.proto == 6 {
        if f.tcp.rst || (f.tcp.fin[0] && f.tcp.fin[1]) {
            cfg.timeout_tcp_closed_us
        } else if both_ways {
            cfg.timeout_tcp_established_us
        } else {
            cfg.timeout_new_us
        }
    } else if both_ways {
        cfg.timeout_udp_us
    } else {
        cfg.timeout_new_us
    }
}

fn new_flow(p: &Packet<'_>, key: &FlowKey, ts_us: u64, now_us: u64) -> Flow {
    let (sport, dport) = p.ports();
    // A first packet that is a SYN+ACK answers a SYN we missed: its receiver is the client.
    let reversed =
        matches!(&p.l4, L4::Tcp(t) if t.flags & TcpInfo::SYN != 0 && t.flags & TcpInfo::ACK != 0);
    let (client, server) = if reversed {
        ((p.dst, dport), (p.src, sport))
    } else {
        ((p.src, sport), (p.dst, dport))
    };
    let (icmp, cid_ports) = match &p.l4 {
        L4::Icmp {
            icmp_type, code, ..
        } => (
            Some((*icmp_type, *code)),
            (u16::from(*icmp_type), u16::from(*code)),
        ),
        _ => (None, (sport, dport)),
    };
    let community_id =
        community_id_v1_digest(p.src, p.dst, p.ip_proto, cid_ports.0, cid_ports.1, 0);
    let tunnels = p.tunnels.as_slice();
    let tunnel = tunnels.first().map(|t| TunnelInfo {
        src_ip: t.src,
        dest_ip: t.dst,
        proto: t.kind.as_str(),
        depth: u32::try_from(tunnels.len()).unwrap_or(u32::MAX),
    });
    Flow {
        flow_id: Flow::make_id(key, ts_us),
        community_id,
        proto: p.ip_proto,
        client,
        server,
        client_is_lo: (client.0, client.1) == (key.lo, key.lo_port),
        vlan: p.vlan.as_slice().to_vec(),
        tunnel,
        icmp,
        start_us: ts_us,
        last_us: ts_us,
        last_now_us: now_us,
        pkts: [0; 2],
        bytes: [0; 2],
        tcp: TcpFlags::default(),
        streams: (p.ip_proto == 6).then(|| Box::new([Stream::new(), Stream::new()])),
        app: AppLayer::default(),
        pat: None,
        alerted: Vec::new(),
    }
}

/// Community ID text (`1:` + base64 of the SHA-1) written into `buf`; flows keep only the
/// 20-byte digest, which saves a heap string per flow.
fn community_id_text<'a>(digest: &[u8; 20], buf: &'a mut [u8; 32]) -> &'a str {
    use base64::Engine as _;
    buf[0] = b'1';
    buf[1] = b':';
    let n = base64::engine::general_purpose::STANDARD
        .encode_slice(digest, &mut buf[2..])
        .unwrap_or(0);
    std::str::from_utf8(&buf[..2 + n]).unwrap_or("")
}

/// Builds the header for an event about `flow` travelling in `dir`.
fn header<'a>(
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

fn emit<B: serde::Serialize>(
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
fn emit_as<B: serde::Serialize>(
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

/// Raises an intel alert unless this flow already alerted on this indicator.
#[allow(clippy::too_many_arguments)] // One call shape for every match site.
fn alert(
    sink: &mut Sink,
    intel: &IntelDb,
    flow: &mut Flow,
    dir: Dir,
    ctx: PktCtx,
    ind: &Indicator,
    field: MatchField,
    matched: &str,
) {
    if flow.alerted_on(ind.id) {
        return;
    }
    // Past its valid_until (or the feed's expire_after), on packet time: no longer matches.
    let now = i64::try_from(ctx.ts_us / 1_000_000).unwrap_or(i64::MAX);
    if !intel.is_live(ind, now) {
        sink.stats.intel_expired_hits += 1;
        return;
    }
    flow.alerted.push(ind.id);
    sink.stats.alerts += 1;
    let body = AlertBody::intel(ind, field, matched);
    emit(sink, flow, dir, ctx, "alert", &body);
}

fn match_domain(
    sink: &mut Sink,
    intel: &IntelDb,
    flow: &mut Flow,
    dir: Dir,
    ctx: PktCtx,
    name: &str,
    field: MatchField,
) {
    if let Some(ind) = intel.match_domain(name) {
        alert(sink, intel, flow, dir, ctx, ind, field, name);
    }
}

/// Handles one app-layer message; returns true when it opened a CONNECT tunnel.
fn handle_msg(sink: &mut Sink, intel: &IntelDb, flow: &mut Flow, m: &AppMsg, ctx: PktCtx) -> bool {
    match m {
        AppMsg::Dns(dir, msg) => log_dns(sink, intel, flow, *dir, msg, ctx),
        AppMsg::Tls(dir, msg) => {
            match msg {
                TlsMessage::ClientHello(ch) => {
                    if let Some(sni) = &ch.sni {
                        match_domain(sink, intel, flow, *dir, ctx, sni, MatchField::TlsSni);
                    }
                    if let Some(ind) = intel.match_ja3(&ch.ja3_hash) {
                        alert(
                            sink,
                            intel,
                            flow,
                            *dir,
                            ctx,
                            ind,
                            MatchField::TlsJa3,
                            &ch.ja3_hash,
                        );
                    }
                    if let Some(ind) = intel.match_ja4(&ch.ja4) {
                        alert(
                            sink,
                            intel,
                            flow,
                            *dir,
                            ctx,
                            ind,
                            MatchField::TlsJa4,
                            &ch.ja4,
                        );
                    }
                }
                TlsMessage::ServerHello(_) | TlsMessage::Certificate(_) => {}
            }
            if let AppLayer::Tls(s) = &mut flow.app {
                match msg {
                    TlsMessage::ClientHello(ch) => {
                        if s.info.client_hello.is_none() {
                            s.info.client_hello = Some(ch.clone());
                        }
                    }
                    TlsMessage::ServerHello(sh) => {
                        if s.info.server_hello.is_none() {
                            s.info.server_hello = Some(sh.clone());
                        }
                    }
                    TlsMessage::Certificate(c) => {
                        if s.info.leaf.is_none() {
                            s.info.leaf = c.leaf.clone();
                            s.info.chain_len = c.chain_len;
                            s.chain = c.chain.clone();
                        }
                    }
                }
            }
            if let TlsMessage::Certificate(c) = msg {
                for cert in &c.chain {
                    if let Some(ind) = intel.match_cert_sha1(&cert.fingerprint) {
                        alert(
                            sink,
                            intel,
                            flow,
                            *dir,
                            ctx,
                            ind,
                            MatchField::TlsCertSha1,
                            &cert.fingerprint,
                        );
                    }
                }
                if let Some(leaf) = &c.leaf {
                    for name in &leaf.subjectaltname {
                        match_domain(sink, intel, flow, *dir, ctx, name, MatchField::TlsSan);
                    }
                }
            }
        }
        AppMsg::Http(dir, msg) => match msg {
            HttpMessage::Request(req) => {
                if let Some(host) = &req.hostname {
                    match_domain(sink, intel, flow, *dir, ctx, host, MatchField::HttpHostname);
                    if let Some(ind) = intel.match_url(host, &req.uri) {
                        alert(
                            sink,
                            intel,
                            flow,
                            *dir,
                            ctx,
                            ind,
                            MatchField::HttpUrl,
                            &req.uri,
                        );
                    }
                }
                let overflow = if let AppLayer::Http(s) = &mut flow.app {
                    s.pending.push_back((req.clone(), ctx.ts_us));
                    if s.pending.len() > MAX_PENDING_HTTP {
                        s.pending.pop_front()
                    } else {
                        None
                    }
                } else {
                    None
                };
                if let Some((old, ts)) = overflow {
                    let body = HttpBody::new(Some(&old), None);
                    emit(
                        sink,
                        flow,
                        Dir::ToServer,
                        PktCtx {
                            ts_us: ts,
                            pcap_cnt: ctx.pcap_cnt,
                        },
                        "http",
                        &body,
                    );
                }
            }
            HttpMessage::Response(resp) => {
                let req = if let AppLayer::Http(s) = &mut flow.app {
                    s.pending.pop_front()
                } else {
                    None
                };
                let body = HttpBody::new(req.as_ref().map(|r| &r.0), Some(resp));
                emit(sink, flow, Dir::ToServer, ctx, "http", &body);
                return (200..300).contains(&resp.status)
                    && req.is_some_and(|(r, _)| r.method.eq_ignore_ascii_case("CONNECT"));
            }
        },
        AppMsg::HttpDatagram(dir, msg) => {
            let body = match msg {
                HttpMessage::Request(req) => {
                    if let Some(host) = &req.hostname {
                        match_domain(sink, intel, flow, *dir, ctx, host, MatchField::HttpHostname);
                    }
                    HttpBody::new(Some(req), None)
                }
                HttpMessage::Response(resp) => HttpBody::new(None, Some(resp)),
            };
            emit(sink, flow, *dir, ctx, "http", &body);
        }
        AppMsg::Quic(dir, ev) => {
            if let QuicEvent::ClientHello { version, hello, ua } = ev {
                let body = QuicBody {
                    version: tapir_proto::quic::version_string(*version),
                    sni: hello.sni.as_deref(),
                    ja3: Ja3Out {
                        hash: &hello.ja3_hash,
                        string: &hello.ja3_string,
                    },
                    ja4: &hello.ja4,
                    ua: ua.as_deref(),
                };
                emit(sink, flow, *dir, ctx, "quic", &body);
                if let Some(sni) = &hello.sni {
                    match_domain(sink, intel, flow, *dir, ctx, sni, MatchField::QuicSni);
                }
                if let Some(ind) = intel.match_ja4(&hello.ja4) {
                    alert(
                        sink,
                        intel,
                        flow,
                        *dir,
                        ctx,
                        ind,
                        MatchField::QuicJa4,
                        &hello.ja4,
                    );
                }
                if let Some(ind) = intel.match_ja3(&hello.ja3_hash) {
                    alert(
                        sink,
                        intel,
                        flow,
                        *dir,
                        ctx,
                        ind,
                        MatchField::QuicJa3,
                        &hello.ja3_hash,
                    );
                }
            }
        }
        AppMsg::Ssh(dir, ev) => {
            let d = dir.idx();
            if let SshEvent::Kexinit { hassh, .. } = ev {
                let field = if *dir == Dir::ToServer {
                    MatchField::SshHassh
                } else {
                    MatchField::SshHasshServer
                };
                if let Some(ind) = intel.match_hassh(&hassh.hash) {
                    alert(sink, intel, flow, *dir, ctx, ind, field, &hassh.hash);
                }
            }
            if let AppLayer::Ssh(s) = &mut flow.app {
                match ev {
                    SshEvent::Banner(b) => s.info.banner[d] = Some(b.clone()),
                    SshEvent::Kexinit { hassh, .. } => s.info.hassh[d] = Some(hassh.clone()),
                }
            }
            let ready = matches!(&flow.app, AppLayer::Ssh(s) if !s.info.logged && s.info.hassh[0].is_some() && s.info.hassh[1].is_some());
            if ready {
                log_ssh(sink, flow, ctx);
            }
        }
        AppMsg::Socks(dir, ev) => match ev {
            SocksEvent::Request {
                version,
                command,
                target,
                port,
                ..
            } => {
                log_socks(sink, flow, *dir, ctx, *version, *command, target, *port);
                match target {
                    SocksTarget::Domain(name) => {
                        match_domain(sink, intel, flow, *dir, ctx, name, MatchField::SocksTarget);
                    }
                    SocksTarget::Ipv4(a) => socks_ip(sink, intel, flow, *dir, ctx, IpAddr::V4(*a)),
                    SocksTarget::Ipv6(a) => socks_ip(sink, intel, flow, *dir, ctx, IpAddr::V6(*a)),
                }
            }
            // Granted: what follows is the tunnelled protocol (TLS, HTTP...).
            SocksEvent::Reply { granted: true, .. } => return true,
            _ => {}
        },
    }
    false
}

/// The SOCKS request as a `socks` record. EVE has no `socks` object, so the fields travel as
/// Suricata's `metadata.flowvars` key/value pairs, which the schema and SIEM parsers accept.
#[allow(clippy::too_many_arguments)] // Fields of one request, passed as parsed.
fn log_socks(
    sink: &mut Sink,
    flow: &Flow,
    dir: Dir,
    ctx: PktCtx,
    version: SocksVersion,
    command: SocksCommand,
    target: &SocksTarget,
    port: u16,
) {
    #[derive(serde::Serialize)]
    struct Var {
        key: &'static str,
        value: String,
    }
    #[derive(serde::Serialize)]
    struct Meta {
        flowvars: [Var; 4],
    }
    let version = match version {
        SocksVersion::V4 => "4",
        SocksVersion::V4a => "4a",
        SocksVersion::V5 => "5",
    };
    let command = match command {
        SocksCommand::Connect => "connect".to_string(),
        SocksCommand::Bind => "bind".to_string(),
        SocksCommand::UdpAssociate => "udp_associate".to_string(),
        SocksCommand::Other(n) => n.to_string(),
    };
    let target = match target {
        SocksTarget::Domain(d) => d.clone(),
        SocksTarget::Ipv4(a) => a.to_string(),
        SocksTarget::Ipv6(a) => a.to_string(),
    };
    let meta = Meta {
        flowvars: [
            Var {
                key: "socks.version",
                value: version.to_string(),
            },
            Var {
                key: "socks.command",
                value: command,
            },
            Var {
                key: "socks.target",
                value: target,
            },
            Var {
                key: "socks.port",
                value: port.to_string(),
            },
        ],
    };
    emit_as(sink, flow, dir, ctx, "socks", "metadata", &meta);
}

fn socks_ip(sink: &mut Sink, intel: &IntelDb, flow: &mut Flow, dir: Dir, ctx: PktCtx, ip: IpAddr) {
    if let Some(ind) = intel.match_ip(ip) {
        let text = ip.to_string();
        alert(
            sink,
            intel,
            flow,
            dir,
            ctx,
            ind,
            MatchField::SocksTarget,
            &text,
        );
    }
}

fn log_ssh(sink: &mut Sink, flow: &mut Flow, ctx: PktCtx) {
    let AppLayer::Ssh(s) = &flow.app else {
        return;
    };
    if s.info.logged || (s.info.banner[0].is_none() && s.info.banner[1].is_none()) {
        return;
    }
    let body = SshBody::new(&s.info);
    emit(sink, flow, Dir::ToServer, ctx, "ssh", &body);
    if let AppLayer::Ssh(s) = &mut flow.app {
        s.info.logged = true;
    }
}

fn log_dns(
    sink: &mut Sink,
    intel: &IntelDb,
    flow: &mut Flow,
    dir: Dir,
    msg: &DnsMessage,
    ctx: PktCtx,
) {
    let body = DnsBody::new(msg);
    emit(sink, flow, dir, ctx, "dns", &body);
    for q in &msg.queries {
        match_domain(
            sink,
            intel,
            flow,
            dir,
            ctx,
            &q.rrname,
            MatchField::DnsRrname,
        );
    }
    for a in &msg.answers {
        match_domain(
            sink,
            intel,
            flow,
            dir,
            ctx,
            &a.rrname,
            MatchField::DnsRrname,
        );
    }
}

/// Logs the `tls` event once the server side of the handshake is over (or the flow ends).
fn maybe_log_tls(sink: &mut Sink, flow: &mut Flow, ctx: PktCtx) {
    let ready = match &flow.app {
        AppLayer::Tls(s) => {
            !s.info.logged
                && (s.info.client_hello.is_some() || s.info.server_hello.is_some())
                && s.parsers[Dir::ToClient.idx()].is_done()
        }
        _ => false,
    };
    if ready {
        log_tls(sink, flow, ctx);
    }
}

fn log_tls(sink: &mut Sink, flow: &mut Flow, ctx: PktCtx) {
    let AppLayer::Tls(s) = &flow.app else {
        return;
    };
    if s.info.logged || (s.info.client_hello.is_none() && s.info.server_hello.is_none()) {
        return;
    }
    let body = TlsBody::new(&s.info, &s.chain);
    emit(sink, flow, Dir::ToServer, ctx, "tls", &body);
    if let AppLayer::Tls(s) = &mut flow.app {
        s.info.logged = true;
    }
}

fn flags_hex(f: u8) -> String {
    format!("{f:02x}")
}

/// Logs what a flow still holds, then the flow record itself.
fn end_flow(sink: &mut Sink, scanner: &mut Option<Scanner>, mut flow: Flow, reason: &'static str) {
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
}

/// A flow record carries two objects (`flow`, and `tcp` for TCP).
fn write_flow_record(out: &mut Vec<u8>, h: &Header<'_>, flow: &FlowBody, tcp: Option<&TcpBody>) {
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
