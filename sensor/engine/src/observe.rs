//! Observations for the behaviour detectors (`tapir-detect`): facts the data plane already
//! holds, as typed values (no JSON is parsed back): a flow ended, a long flow crossed a
//! duration threshold, a DNS response (or a query never answered), a TLS or QUIC ClientHello
//! with the server's leaf certificate.
//!
//! Nothing here runs when detection is off ([`crate::EngineConfig::observe`]): every entry
//! point returns on one flag test, and flows never get observation state.
//!
//! # Order
//!
//! Each observation carries an ordering key on the reader's clock (the latest packet time of
//! the whole input, which every worker shares) that does not depend on which worker owns the
//! flow or when that worker happened to sweep:
//! - packet-driven observations (DNS, TLS): the clock at that packet;
//! - a flow that timed out: the instant it became idle past its timeout
//!   (`last_now_us + timeout + 1`), whether a sweep, a new packet or the end of input ended it;
//! - a long-connection threshold: the instant the flow's age crossed it.
//!
//! A worker also reports how far it is done ([`Engine::observed_until`](crate::Engine)): no
//! observation it emits later has a smaller key. The writer merges every worker's observations
//! by (key, flow id, emission order) up to the smallest such mark, so the detectors see the
//! same sequence whatever the number of workers.
//!
//! # Memory
//!
//! Per flow, when observing: at most [`MAX_PENDING_DNS`] unanswered DNS queries and the first
//! HTTP host / QUIC ClientHello names, in one box allocated on first use. Per worker: the
//! observations of one output batch (shipped with the EVE buffer, recycled).

use std::net::IpAddr;

use tapir_detect::obs::{CertFacts, DnsObs, FlowSummary, TlsObs};
use tapir_detect::Observation;
use tapir_proto::dns::DnsMessage;
use tapir_proto::tls::{CertInfo, ClientHello};
use tapir_wire::TcpInfo;

use crate::app::AppLayer;
use crate::emit::community_id_text;
use crate::flow::{Dir, Flow};

/// Unanswered DNS queries remembered per flow; past it the oldest is reported unanswered.
pub const MAX_PENDING_DNS: usize = 16;

/// One observation with its ordering key (see the module docs).
#[derive(Debug, Clone)]
pub struct Keyed {
    pub key_us: u64,
    pub flow_id: u64,
    /// Emission order within the worker: orders observations of one flow with equal keys.
    pub seq: u64,
    pub obs: Observation,
}

/// The observation side of a worker's sink.
#[derive(Debug, Default)]
pub(crate) struct ObsSink {
    pub(crate) enabled: bool,
    /// Long-connection thresholds (µs), ascending.
    pub(crate) long_conn_us: Vec<u64>,
    /// Key of what is emitted now: the packet's clock, or a flow end's key while it ends.
    pub(crate) key_us: u64,
    seq: u64,
    pub(crate) out: Vec<Keyed>,
}

impl ObsSink {
    pub(crate) fn new(enabled: bool, mut long_conn_us: Vec<u64>) -> Self {
        long_conn_us.retain(|&t| t > 0);
        long_conn_us.sort_unstable();
        long_conn_us.dedup();
        ObsSink {
            enabled,
            long_conn_us,
            key_us: 0,
            seq: 0,
            out: Vec::new(),
        }
    }

    fn push(&mut self, key_us: u64, flow_id: u64, obs: Observation) {
        self.seq += 1;
        self.out.push(Keyed {
            key_us,
            flow_id,
            seq: self.seq,
            obs,
        });
    }

    /// The engine-clock instant of a new flow's first long-connection threshold.
    pub(crate) fn first_open_us(&self, born_now_us: u64) -> u64 {
        match (self.enabled, self.long_conn_us.first()) {
            (true, Some(t)) => born_now_us.saturating_add(*t),
            _ => u64::MAX,
        }
    }
}

/// What a flow remembers for its observations (allocated on first use, when observing).
#[derive(Debug, Default)]
pub struct FlowObs {
    /// HTTP `Host` of the first request.
    pub http_host: Option<String>,
    /// QUIC ClientHello names (TLS over TCP keeps its ClientHello in the app state).
    pub quic_sni: Option<String>,
    pub quic_ja3: Option<String>,
    pub quic_ja4: Option<String>,
    pending_dns: Vec<PendingQuery>,
}

#[derive(Debug)]
struct PendingQuery {
    id: u16,
    qname: String,
    qtype: u16,
    ts_us: u64,
    dir: Dir,
}

fn state(flow: &mut Flow) -> &mut FlowObs {
    flow.obs.get_or_insert_with(Box::default)
}

fn endpoints(flow: &Flow, dir: Dir) -> ((IpAddr, u16), (IpAddr, u16)) {
    match dir {
        Dir::ToServer => (flow.client, flow.server),
        Dir::ToClient => (flow.server, flow.client),
    }
}

fn community_id(flow: &Flow) -> String {
    let mut buf = [0u8; 32];
    community_id_text(&flow.community_id, &mut buf).to_string()
}

/// The flow's numbers now. `last_us` is the caller's: the last packet for a flow end, the
/// crossing instant for a long-connection report.
fn summary(flow: &Flow, last_us: u64) -> FlowSummary {
    let t = &flow.tcp;
    let (answered, established, rejected) = if flow.proto == 6 {
        let syn_ack = TcpInfo::SYN | TcpInfo::ACK;
        let syn_acked = t.seen[1] & syn_ack == syn_ack;
        let answered = syn_acked || t.data[1];
        let established =
            t.seen[0] & TcpInfo::SYN != 0 && syn_acked && t.seen[0] & TcpInfo::ACK != 0;
        let rejected = t.seen[1] & TcpInfo::RST != 0 && !answered;
        (answered, established, rejected)
    } else {
        let answered = flow.pkts[1] > 0;
        (answered, answered, false)
    };
    let hello = client_hello(flow);
    let o = flow.obs.as_deref();
    let server_name = hello
        .and_then(|h| h.sni.clone())
        .or_else(|| o.and_then(|o| o.quic_sni.clone()))
        .or_else(|| o.and_then(|o| o.http_host.clone()));
    let ja3 = hello
        .map(|h| h.ja3_hash.clone())
        .or_else(|| o.and_then(|o| o.quic_ja3.clone()));
    let ja4 = hello
        .map(|h| h.ja4.clone())
        .or_else(|| o.and_then(|o| o.quic_ja4.clone()));
    FlowSummary {
        flow_id: flow.flow_id,
        community_id: Some(community_id(flow)),
        proto: flow.proto,
        client: flow.client.0,
        client_port: flow.client.1,
        server: flow.server.0,
        server_port: flow.server.1,
        start_us: flow.start_us,
        last_us,
        pkts_toserver: flow.pkts[0],
        pkts_toclient: flow.pkts[1],
        bytes_toserver: flow.bytes[0],
        bytes_toclient: flow.bytes[1],
        answered,
        established,
        rejected,
        // "failed" is not a protocol: nothing was recognised.
        app_proto: flow.app.name().filter(|n| *n != "failed"),
        server_name,
        ja3,
        ja4,
    }
}

fn client_hello(flow: &Flow) -> Option<&ClientHello> {
    match &flow.app {
        AppLayer::Tls(s) => s.info.client_hello.as_ref(),
        _ => None,
    }
}

/// Reports the long-connection thresholds the flow has crossed by `until_us` (inclusive when
/// `inclusive`), each once, with the counts as they stood before the crossing.
fn opens(sink: &mut ObsSink, flow: &mut Flow, until_us: u64, inclusive: bool) {
    while flow.next_open_us != u64::MAX
        && (flow.next_open_us < until_us || (inclusive && flow.next_open_us == until_us))
    {
        let key = flow.next_open_us;
        let idx = usize::from(flow.open_idx);
        let thr = sink.long_conn_us.get(idx).copied().unwrap_or(0);
        let s = summary(flow, flow.start_us.saturating_add(thr));
        sink.push(key, flow.flow_id, Observation::FlowOpen(s));
        flow.open_idx = flow.open_idx.saturating_add(1);
        flow.next_open_us = match sink.long_conn_us.get(usize::from(flow.open_idx)) {
            Some(t) => flow.born_now_us.saturating_add(*t),
            None => u64::MAX,
        };
    }
}

/// Packet path (before the packet is counted) and sweeps: thresholds crossed by `now_us`.
pub(crate) fn on_clock(sink: &mut ObsSink, flow: &mut Flow, now_us: u64) {
    if flow.next_open_us <= now_us {
        opens(sink, flow, now_us, true);
    }
}

/// A flow ends with ordering key `key_us`: thresholds crossed while it lived, queries never
/// answered, then the flow itself.
pub(crate) fn on_flow_end(sink: &mut ObsSink, flow: &mut Flow) {
    if !sink.enabled {
        return;
    }
    let key = sink.key_us;
    opens(sink, flow, key, false);
    let pending = flow
        .obs
        .as_mut()
        .map(|o| std::mem::take(&mut o.pending_dns))
        .unwrap_or_default();
    for q in pending {
        unanswered(sink, flow, q, key);
    }
    let s = summary(flow, flow.last_us);
    sink.push(key, flow.flow_id, Observation::FlowEnd(s));
}

fn unanswered(sink: &mut ObsSink, flow: &Flow, q: PendingQuery, key: u64) {
    let (asker, resolver) = endpoints(flow, q.dir);
    let obs = DnsObs {
        ts_us: q.ts_us,
        flow_id: flow.flow_id,
        client: asker.0,
        server: resolver.0,
        client_port: asker.1,
        server_port: resolver.1,
        proto: flow.proto,
        qname: q.qname,
        qtype: q.qtype,
        rcode: None,
        answers: 0,
        answer_bytes: 0,
    };
    sink.push(key, flow.flow_id, Observation::Dns(obs));
}

/// A DNS message travelling `dir`: a query is remembered until its response; a response is
/// reported.
pub(crate) fn on_dns(sink: &mut ObsSink, flow: &mut Flow, dir: Dir, msg: &DnsMessage, ts_us: u64) {
    if !sink.enabled {
        return;
    }
    let Some(q) = msg.queries.first() else {
        return;
    };
    let key = sink.key_us;
    if !msg.qr {
        let st = state(flow);
        let old = (st.pending_dns.len() >= MAX_PENDING_DNS).then(|| st.pending_dns.remove(0));
        st.pending_dns.push(PendingQuery {
            id: msg.id,
            qname: q.rrname.to_ascii_lowercase(),
            qtype: q.rrtype,
            ts_us,
            dir,
        });
        if let Some(old) = old {
            unanswered(sink, flow, old, key);
        }
        return;
    }
    if let Some(o) = flow.obs.as_mut() {
        if let Some(i) = o.pending_dns.iter().position(|p| p.id == msg.id) {
            o.pending_dns.remove(i);
        }
    }
    // A response travels from the resolver to the host that asked.
    let (resolver, asker) = endpoints(flow, dir);
    let answer_bytes = msg
        .answers
        .iter()
        .map(|a| a.rdata.as_ref().map_or(0, String::len))
        .fold(0u32, |n, l| {
            n.saturating_add(u32::try_from(l).unwrap_or(u32::MAX))
        });
    let obs = DnsObs {
        ts_us,
        flow_id: flow.flow_id,
        client: asker.0,
        server: resolver.0,
        client_port: asker.1,
        server_port: resolver.1,
        proto: flow.proto,
        qname: q.rrname.trim_end_matches('.').to_ascii_lowercase(),
        qtype: q.rrtype,
        rcode: Some(u8::try_from(msg.rcode).unwrap_or(u8::MAX)),
        answers: u16::try_from(msg.answers.len()).unwrap_or(u16::MAX),
        answer_bytes,
    };
    sink.push(key, flow.flow_id, Observation::Dns(obs));
}

/// The first HTTP request's host, for the flow's summary.
pub(crate) fn on_http_host(sink: &ObsSink, flow: &mut Flow, host: &str) {
    if !sink.enabled {
        return;
    }
    let st = state(flow);
    if st.http_host.is_none() {
        st.http_host = Some(host.to_ascii_lowercase());
    }
}

/// A QUIC ClientHello: reported at once (its certificate is encrypted).
pub(crate) fn on_quic_hello(sink: &mut ObsSink, flow: &mut Flow, hello: &ClientHello, ts_us: u64) {
    if !sink.enabled {
        return;
    }
    let st = state(flow);
    if st.quic_ja3.is_none() {
        st.quic_sni = hello.sni.clone();
        st.quic_ja3 = Some(hello.ja3_hash.clone());
        st.quic_ja4 = Some(hello.ja4.clone());
    }
    tls_obs(sink, flow, Some(hello), None, ts_us);
}

/// The `tls` event is being logged: the ClientHello with the leaf certificate, if any.
pub(crate) fn on_tls_logged(sink: &mut ObsSink, flow: &Flow, ts_us: u64) {
    if !sink.enabled {
        return;
    }
    let AppLayer::Tls(s) = &flow.app else {
        return;
    };
    let hello = s.info.client_hello.as_ref();
    let cert = s.info.leaf.as_ref().map(cert_facts);
    tls_obs(sink, flow, hello, cert, ts_us);
}

fn tls_obs(
    sink: &mut ObsSink,
    flow: &Flow,
    hello: Option<&ClientHello>,
    cert: Option<CertFacts>,
    ts_us: u64,
) {
    let obs = TlsObs {
        ts_us,
        flow_id: flow.flow_id,
        community_id: Some(community_id(flow)),
        proto: flow.proto,
        client: flow.client.0,
        client_port: flow.client.1,
        server: flow.server.0,
        server_port: flow.server.1,
        sni: hello.and_then(|h| h.sni.clone()),
        ja3: hello.map(|h| h.ja3_hash.clone()),
        ja4: hello.map(|h| h.ja4.clone()),
        cert,
    };
    let key = sink.key_us;
    sink.push(key, flow.flow_id, Observation::Tls(obs));
}

/// Validity that does not parse counts as unbounded, so a certificate is never called
/// expired on a date we could not read.
fn cert_facts(c: &CertInfo) -> CertFacts {
    CertFacts {
        subject: c.subject.clone(),
        issuer: c.issuerdn.clone(),
        not_before: parse_utc(&c.notbefore).unwrap_or(i64::MIN),
        not_after: parse_utc(&c.notafter).unwrap_or(i64::MAX),
        self_signed: !c.subject.is_empty() && c.subject == c.issuerdn,
        sha1: c.fingerprint.clone(),
    }
}

/// `YYYY-MM-DDTHH:MM:SS` (UTC, as `tapir_proto::tls::CertInfo` renders validity) to seconds
/// since the epoch.
pub fn parse_utc(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b.get(4) != Some(&b'-') || b.get(10) != Some(&b'T') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_parse_to_epoch_seconds() {
        // date -u -d 2026-11-27T19:27:53 +%s = 1795807673.
        assert_eq!(parse_utc("2026-11-27T19:27:53"), Some(1_795_807_673));
        assert_eq!(parse_utc("1970-01-01T00:00:00"), Some(0));
        // 2024-02-29T12:00:00Z = 1709208000 (leap day).
        assert_eq!(parse_utc("2024-02-29T12:00:00"), Some(1_709_208_000));
        // Before the epoch: 1969-12-31T23:59:59Z = -1.
        assert_eq!(parse_utc("1969-12-31T23:59:59"), Some(-1));
        for bad in [
            "",
            "2026-11-27",
            "2026-13-01T00:00:00",
            "20261127T19:27:53Z",
            "2026-1x-27T19:27:53",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }
}
