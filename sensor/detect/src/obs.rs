//! What detectors consume ([`Observation`]) and what they produce ([`Finding`]).

use std::net::IpAddr;

/// Facts about traffic that the engine hands to the detectors.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// A flow ended (timeout, FIN/RST, capture end) or was evicted.
    FlowEnd(FlowSummary),
    /// A flow still open has now lasted `duration_us`; sent once per threshold crossing
    /// (engine sweep, on packet time) so long connections are reported while open.
    FlowOpen(FlowSummary),
    /// One DNS response (or a query that never got one, at flow end, with `rcode: None`).
    Dns(DnsObs),
    /// A TLS (or QUIC) ClientHello, with the server's certificate facts when seen.
    Tls(TlsObs),
}

/// One flow's numbers. `client` is the side that opened it. Bytes are wire lengths (the
/// packets' original lengths, so a short snap length still measures volume).
#[derive(Debug, Clone, PartialEq)]
pub struct FlowSummary {
    pub flow_id: u64,
    pub community_id: Option<String>,
    pub proto: u8,
    pub client: IpAddr,
    pub client_port: u16,
    pub server: IpAddr,
    pub server_port: u16,
    pub start_us: u64,
    pub last_us: u64,
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    /// TCP: a SYN-ACK or any data from the server was seen (the connection was answered).
    pub answered: bool,
    /// TCP: the three-way handshake completed.
    pub established: bool,
    /// TCP: the server answered the SYN with a RST.
    pub rejected: bool,
    /// Application protocol identified by content ("tls", "http", "dns", "ssh", "quic", ...).
    pub app_proto: Option<&'static str>,
    /// TLS SNI or HTTP Host of the flow, when seen.
    pub server_name: Option<String>,
    /// JA3 / JA4 of the flow's ClientHello, when seen.
    pub ja3: Option<String>,
    pub ja4: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DnsObs {
    pub ts_us: u64,
    pub flow_id: u64,
    /// The host that asked, the resolver it asked.
    pub client: IpAddr,
    pub server: IpAddr,
    pub client_port: u16,
    pub server_port: u16,
    pub proto: u8,
    /// Query name as sent (lower-cased, no trailing dot).
    pub qname: String,
    /// Query type number (1 A, 16 TXT, 10 NULL, 28 AAAA, 5 CNAME, ...).
    pub qtype: u16,
    /// Response code; `None` when no response was seen.
    pub rcode: Option<u8>,
    /// Number of answer records.
    pub answers: u16,
    /// Bytes of the response's answer section rdata (0 when none), for TXT volume.
    pub answer_bytes: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TlsObs {
    pub ts_us: u64,
    pub flow_id: u64,
    pub community_id: Option<String>,
    pub proto: u8,
    pub client: IpAddr,
    pub client_port: u16,
    pub server: IpAddr,
    pub server_port: u16,
    pub sni: Option<String>,
    pub ja3: Option<String>,
    pub ja4: Option<String>,
    /// Leaf certificate facts (None when no certificate was seen, e.g. TLS 1.3).
    pub cert: Option<CertFacts>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CertFacts {
    pub subject: String,
    pub issuer: String,
    /// Validity, seconds since the epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// Subject equals issuer (and, where checked, the signature verifies with its own key).
    pub self_signed: bool,
    pub sha1: String,
}

/// A detector's decision: becomes one EVE `alert`. Everything an analyst needs to judge it is
/// in `context` (the numbers that made the decision).
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Packet time of the decision.
    pub ts_us: u64,
    /// Short detector name: "beacon", "dns_tunnel", "dga", "scan", "exfil", "long_conn",
    /// "port_mismatch", "tls_anomaly".
    pub detector: &'static str,
    /// Suricata-style signature id (1 630 000 + n for behaviour alerts) and text.
    pub signature_id: u64,
    pub signature: String,
    /// EVE alert category, e.g. "Potential Corporate Privacy Violation"-style free text.
    pub category: &'static str,
    /// 1 high .. 3 low (Suricata's convention).
    pub severity: u8,
    /// Score in [0, 1] where the detector has one.
    pub score: Option<f64>,
    pub mitre_technique_id: Vec<&'static str>,
    pub mitre_tactic_id: Vec<&'static str>,
    /// The endpoints the alert is about (src = the internal/suspect host).
    pub src: IpAddr,
    pub src_port: Option<u16>,
    pub dest: IpAddr,
    pub dest_port: Option<u16>,
    pub proto: Option<u8>,
    /// The flow that triggered it, when one did (the last of a series for beacons).
    pub flow_id: Option<u64>,
    /// Every flow id this finding rests on (bounded), for evidence extraction.
    pub flow_ids: Vec<u64>,
    /// The numbers behind the decision (sub-scores, counts, thresholds).
    pub context: serde_json::Map<String, serde_json::Value>,
}
