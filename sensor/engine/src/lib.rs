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
mod app_events;
pub mod behaviour;
pub mod board;
pub mod config;
mod emit;
pub mod eve;
pub mod events;
pub mod flow;
mod lifecycle;
pub mod live;
mod matching;
pub mod observe;
pub mod pipeline;
pub mod replay;
pub mod stats;
pub mod tap;

use std::io::{self, Write};
use std::sync::Arc;

use std::collections::hash_map::Entry;
use tapir_capture::RawPacket;
use tapir_flow::community_id::community_id_v1_digest;
use tapir_flow::stream::Stream;
use tapir_intel::IntelDb;

use tapir_patterns::{
    Direction as PatternDir, PatternSet, Ports, Scanner, ScannerConfig, StreamState,
};
use tapir_wire::{Decoded, Defragmenter, LinkType, Packet, TcpInfo, L4};

use crate::app::{AppLayer, AppMsg};
use crate::app_events::{handle_msg, maybe_log_tls};
pub use crate::config::EngineConfig;
use crate::eve::TunnelInfo;
use crate::events::MatchField;
use crate::flow::{Dir, Flow, FlowKey, FlowTable, TcpFlags};
use crate::lifecycle::{end_flow, expiry_key};
pub use crate::live::{LiveCapture, LiveReport, LiveRunError};
use crate::matching::{alert, pattern_alerts};
pub use crate::pipeline::PipelineConfig;
pub use crate::replay::{replay, replay_with, ReplayError, ReplayOptions, ReplayReport};
pub use crate::stats::Stats;
pub use tapir_detect::DetectConfig;

/// How often (in packet time) idle flows are looked for.
const SWEEP_INTERVAL_US: u64 = 1_000_000;

/// Where events go and what is counted: the parts of the engine that event code writes to.
pub(crate) struct Sink {
    pub(crate) out: Vec<u8>,
    pub(crate) stats: Stats,
    pub(crate) ts: String,
    /// Observations for the behaviour detectors (inert when detection is off).
    pub(crate) obs: observe::ObsSink,
}

/// Packet context for event headers.
#[derive(Clone, Copy)]
pub(crate) struct PktCtx {
    pub(crate) ts_us: u64,
    pub(crate) pcap_cnt: Option<u64>,
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
        let obs = observe::ObsSink::new(cfg.observe, cfg.long_conn_us.clone());
        Engine {
            cfg,
            intel,
            flows,
            defrag,
            sink: Sink {
                out: Vec::with_capacity(1 << 16),
                stats: Stats::default(),
                ts: String::with_capacity(40),
                obs,
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

    /// Follows a pattern reload: the scanner moves to `set` and keeps its counters (see
    /// [`Scanner::switch_set`]); a worker with no scanner yet gets one scanning `depth` bytes
    /// per TCP direction.
    ///
    /// # Errors
    /// Hyperscan could not allocate scratch space for the set; the old set stays.
    pub fn switch_patterns(&mut self, set: &PatternSet, depth: u64) -> Result<(), String> {
        match self.scanner.as_mut() {
            Some(sc) => sc.switch_set(set).map_err(|e| e.to_string()),
            None => self.set_patterns(set, depth),
        }
    }

    /// The payload patterns in use, if any.
    pub fn patterns(&self) -> Option<&PatternSet> {
        self.scanner.as_ref().map(Scanner::set)
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
        self.sink.obs.key_us = self.now_us;
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
        st.set_defrag(&d);
        if let Some(sc) = &self.scanner {
            st.set_patterns(&sc.stats());
        }
        let flows = self.flows.take_all();
        for (_, f) in flows {
            let timed_out = end_us.saturating_sub(f.last_now_us) > timeout_of(&self.cfg, &f);
            let (reason, key) = if timed_out {
                ("timeout", expiry_key(&self.cfg, &f))
            } else {
                // Alive at the last instant of the input.
                ("shutdown", end_us.saturating_add(1))
            };
            end_flow(&mut self.sink, &mut self.scanner, f, reason, key);
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

    /// Ends idle flows and expires fragments; reports long-connection thresholds crossed by
    /// flows that are still open.
    fn sweep(&mut self) {
        self.last_sweep_us = self.now_us;
        self.defrag.expire(self.now_us);
        let cfg = &self.cfg;
        let expired = self.flows.take_expired(self.now_us, |f| timeout_of(cfg, f));
        for (_, f) in expired {
            let key = expiry_key(&self.cfg, &f);
            end_flow(&mut self.sink, &mut self.scanner, f, "timeout", key);
        }
        if self.sink.obs.enabled && !self.sink.obs.long_conn_us.is_empty() {
            for f in self.flows.map.values_mut() {
                observe::on_clock(&mut self.sink.obs, f, self.now_us);
            }
        }
    }

    /// Moves the clock to `now_us` without a packet (the reader's time while this worker had
    /// none) and sweeps when a sweep is due, so idle flows end and the detectors' merge moves
    /// on.
    pub fn advance(&mut self, now_us: u64) {
        self.set_now(now_us);
        self.sink.obs.key_us = self.now_us;
        if self.now_us.saturating_sub(self.last_sweep_us) >= SWEEP_INTERVAL_US {
            self.sweep();
        }
    }

    /// Observations for the detectors waiting to be shipped (empty when detection is off).
    pub fn pending_observations(&self) -> usize {
        self.sink.obs.out.len()
    }

    /// Swaps the observation buffer for `empty` and returns what was observed so far.
    pub fn take_observations(&mut self, mut empty: Vec<observe::Keyed>) -> Vec<observe::Keyed> {
        empty.clear();
        std::mem::replace(&mut self.sink.obs.out, empty)
    }

    /// No observation this engine emits from now on has an ordering key below this (see
    /// [`observe`]): the last sweep's clock; `u64::MAX` when it observes nothing at all.
    pub fn observed_until(&self) -> u64 {
        if self.sink.obs.enabled {
            self.last_sweep_us
        } else {
            u64::MAX
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
                if f.next_open_us <= self.now_us {
                    observe::on_clock(&mut self.sink.obs, f, self.now_us);
                }
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
                end_flow(&mut self.sink, &mut self.scanner, f, "forced", self.now_us);
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
                    let end_key = expiry_key(&self.cfg, &old);
                    end_flow(&mut self.sink, &mut self.scanner, old, "timeout", end_key);
                    (f, true)
                } else {
                    (f, false)
                }
            }
            Entry::Vacant(v) => (v.insert(new_flow(p, &key, ctx.ts_us, now)), true),
        };
        if is_new {
            self.sink.stats.flows += 1;
            flow.next_open_us = self.sink.obs.first_open_us(now);
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
        if flow.next_open_us <= now {
            // Reported with the counts from before this packet, whoever owns the flow.
            observe::on_clock(&mut self.sink.obs, flow, now);
        }
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
                flow.tcp.data[d] |= !p.payload.is_empty();
                let scanner = &mut self.scanner;
                let hits = &mut self.hits;
                let patterns = scanner.as_ref().is_some_and(|sc| !sc.set().is_empty());
                if patterns && flow.pat.is_none() && !p.payload.is_empty() {
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

pub(crate) fn pattern_dir(d: Dir) -> PatternDir {
    match d {
        Dir::ToServer => PatternDir::ToServer,
        Dir::ToClient => PatternDir::ToClient,
    }
}

pub(crate) fn timeout_of(cfg: &EngineConfig, f: &Flow) -> u64 {
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
        born_now_us: now_us,
        next_open_us: u64::MAX,
        open_idx: 0,
        obs: None,
    }
}
