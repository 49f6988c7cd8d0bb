//! Thresholds and bounds of every detector. Every field has a default (stated on the field);
//! [`DetectConfig::validate`] refuses values that make no sense, naming the field.
//!
//! The structs deserialize with serde (`deny_unknown_fields`, missing fields take their
//! default), so a `[detect]` table of the sensor's TOML file maps onto [`DetectConfig`]
//! directly, with one sub-table per detector (`[detect.beacon]`, `[detect.dns_tunnel]`, ...).
//! `home_net` is written as CIDR strings: `home_net = ["10.0.0.0/8", "fd00::/8"]`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::home::HomeNet;

/// Which flows (by the client's and the server's side of `home_net`) a detector looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Client in `home_net`, server outside it (RITA's default: C2 and exfiltration go out).
    InternalToExternal,
    /// Client in `home_net`, any server (a resolver is usually internal).
    InternalClients,
    /// Every flow.
    Any,
}

impl Scope {
    pub(crate) fn admits(self, home: &HomeNet, client: IpAddr, server: IpAddr) -> bool {
        match self {
            Scope::Any => true,
            Scope::InternalClients => home.contains(client),
            Scope::InternalToExternal => home.contains(client) && home.is_external(server),
        }
    }
}

/// Everything the detectors need. Memory is bounded by the `max_*` fields: see
/// [`DetectConfig::state_bound_bytes`] for the resulting worst case.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    /// Master switch. Default `true`.
    pub enabled: bool,
    /// The internal networks, as CIDRs. Default: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16,
    /// 100.64.0.0/10 (CGNAT), 169.254.0.0/16, 127.0.0.0/8, fc00::/7, fe80::/10, ::1/128.
    /// Multicast, broadcast and unspecified addresses are never "external" whatever this says.
    #[serde(with = "cidr_list")]
    pub home_net: Vec<(IpAddr, u8)>,
    /// Most flow ids a finding lists as evidence (and each tracked key remembers). Default 16.
    pub max_flow_ids: usize,
    pub beacon: BeaconConfig,
    pub dns_tunnel: DnsTunnelConfig,
    pub dga: DgaConfig,
    pub scan: ScanConfig,
    pub exfil: ExfilConfig,
    pub long_conn: LongConnConfig,
    pub port_mismatch: PortMismatchConfig,
    pub tls_anomaly: TlsAnomalyConfig,
}

/// RITA-style beacon scoring per (client, server IP) and per (client, SNI/Host) pair.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BeaconConfig {
    /// Default `true`.
    pub enabled: bool,
    /// Default `internal_to_external` (RITA filters internal-internal and inbound pairs).
    pub scope: Scope,
    /// Pairs tracked per table (one table by server IP, one by server name); the least
    /// recently active pair is dropped beyond it. Default 50 000.
    pub max_pairs: usize,
    /// Connections remembered per pair (start time and bytes to the server). Default 64.
    pub ring_size: usize,
    /// Connections a pair needs before it is scored (RITA needs 4). Default 12.
    pub min_connections: usize,
    /// A pair is rescored every this many new connections (and at the end). Default 4.
    pub score_every: usize,
    /// Combined score at or above which a pair is reported. Default 0.8.
    pub score_threshold: f64,
    /// Lower threshold that applies when the jitter-tolerant (sloth v2) test passes, so
    /// 30-50 % jitter is still reported. Default 0.65.
    pub sloth_score_threshold: f64,
    /// sloth v2: connections needed. Default 12.
    pub sloth_min_samples: usize,
    /// sloth v2: median gap needed, seconds. Default 10.
    pub sloth_min_median_gap_s: f64,
    /// sloth v2: a gap "fits" when within this fraction of the median. Default 0.3.
    pub sloth_tolerance: f64,
    /// sloth v2: share of gaps that must fit. Default 0.6.
    pub sloth_min_fit: f64,
    /// Pairs whose median gap is below this (strobes: keep-alives, polling loops) are not
    /// reported. Seconds, default 5.
    pub min_median_gap_s: f64,
    /// Weights of the ts, ds, hist and dur sub-scores; must sum to 1. Default 0.25 each.
    pub weights: [f64; 4],
    /// Reference span of the dur sub-score's coverage (RITA: the dataset; here the time
    /// observed so far, at most this). Seconds, default 86 400.
    pub duration_window_s: u64,
    /// ... and at least this, so that a pair seen for 70 s of a capture 80 s old does not
    /// "cover" it. Seconds, default 3600.
    pub duration_min_s: u64,
    /// Consecutive scorings at or above the threshold needed before a report, so one lucky
    /// score of a busy, irregular pair is not enough. Default 2.
    pub confirmations: u32,
    /// A reported pair is reported again only when its score has risen by this. Default 0.1.
    pub rereport_step: f64,
    /// Server ports never scored (NTP polls its servers like a beacon). Default `[123]`.
    pub ignore_server_ports: Vec<u16>,
    /// Also score (client, SNI/HTTP Host) pairs. Default `true`.
    pub by_server_name: bool,
}

/// DNS tunnelling per (client, registered domain) per window.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsTunnelConfig {
    /// Default `true`.
    pub enabled: bool,
    /// Default `internal_clients` (the resolver asked is usually internal).
    pub scope: Scope,
    /// Seconds, default 3600.
    pub window_s: u64,
    /// (client, domain) keys tracked. Default 50 000.
    pub max_keys: usize,
    /// Distinct subdomains in a window needed (RITA's lowest bucket is 100). Default 100.
    pub min_unique_subdomains: u64,
    /// Mean information per query needed: subdomain length times its Shannon entropy
    /// (bits). A CDN's `e1234.a` or `r3---sn-ab12cd` carries 20-60 bits; a tunnel's
    /// base32/hex labels carry 150-300. Default 100.
    pub min_mean_subdomain_bits: f64,
    /// TXT/NULL queries in a window that, with `min_txt_share`, make a TXT tunnel. Default 50.
    pub min_txt_queries: u64,
    /// Share of the domain's queries that are TXT/NULL. Default 0.5.
    pub min_txt_share: f64,
    /// Names under these suffixes are skipped (reverse lookups carry 32 nibble labels).
    /// Default ["in-addr.arpa", "ip6.arpa"].
    pub ignore_suffixes: Vec<String>,
}

/// NXDOMAIN bursts of lexically random names per client per window.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DgaConfig {
    /// Default `true`.
    pub enabled: bool,
    /// Default `internal_clients`.
    pub scope: Scope,
    /// Seconds, default 3600 (Slips' time window).
    pub window_s: u64,
    /// Clients tracked. Default 20 000.
    pub max_clients: usize,
    /// NXDOMAIN answers in a window needed (Slips: 10). Default 10.
    pub min_nxdomain: u64,
    /// Distinct NXDOMAIN registered domains whose label scores as generated. Default 5.
    pub min_suspicious_domains: u64,
    /// Lexical score in [0, 1] from which a name counts as generated. Default 0.6.
    pub lexical_threshold: f64,
    /// Names under these suffixes are skipped. Default ["arpa", "local"].
    pub ignore_suffixes: Vec<String>,
}

/// Vertical and horizontal scans from failed or unanswered connection attempts.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScanConfig {
    /// Default `true`.
    pub enabled: bool,
    /// Default `internal_clients` (inbound internet scanning is constant background noise).
    pub scope: Scope,
    /// Seconds, default 3600.
    pub window_s: u64,
    /// Keys tracked per table (vertical: client+server; horizontal: client+port). Default
    /// 50 000.
    pub max_keys: usize,
    /// Distinct ports on one server (Slips: 5). Default 5.
    pub vertical_min_ports: u64,
    /// Distinct servers on one port (Slips: 6). Default 6.
    pub horizontal_min_hosts: u64,
    /// Count UDP flows that got no answer. Default `true`.
    pub include_udp: bool,
}

/// Large uploads per (client, server) per window.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExfilConfig {
    /// Default `true`.
    pub enabled: bool,
    /// Default `internal_to_external`.
    pub scope: Scope,
    /// Seconds, default 3600.
    pub window_s: u64,
    /// Pairs tracked. Default 50 000.
    pub max_pairs: usize,
    /// Bytes to the server in a window (Slips' documented 100 MB). Default 100 000 000.
    pub min_bytes: u64,
    /// Bytes out divided by bytes in must reach this (a download never does). Default 3.
    pub min_ratio: f64,
}

/// Connections open for hours (RITA buckets 1 h / 4 h / 8 h).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LongConnConfig {
    /// Default `true`.
    pub enabled: bool,
    /// Default `internal_to_external` (a long SSH session between internal hosts is normal).
    pub scope: Scope,
    /// Ascending durations, seconds; the engine sends a `FlowOpen` when an open flow
    /// crosses each. Default [3600, 14400, 28800].
    pub thresholds_s: Vec<u64>,
    /// Open flows remembered (for one alert per flow per threshold). Default 50 000.
    pub max_flows: usize,
}

/// Application protocol against the server port.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortMismatchConfig {
    /// Default `true`.
    pub enabled: bool,
    /// Default `internal_to_external`.
    pub scope: Scope,
    /// More usual ports per app protocol, e.g. `{ tls = [9443], ssh = [2200] }`. Default none.
    pub extra_ports: BTreeMap<String, Vec<u16>>,
    /// (client, server, port, protocol) keys remembered for de-duplication. Default 50 000.
    pub max_keys: usize,
    /// The same key is reported again after this many seconds. Default 86 400.
    pub dedup_window_s: u64,
}

/// Certificate and ClientHello anomalies.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsAnomalyConfig {
    /// Default `true`.
    pub enabled: bool,
    /// Default `internal_to_external` (internal appliances use self-signed certificates).
    pub scope: Scope,
    /// Report self-signed leaf certificates. Default `true`.
    pub self_signed: bool,
    /// Report leaf certificates outside their validity at packet time. Default `true`.
    pub expired: bool,
    /// Report TLS without SNI. Default `true`.
    pub no_sni: bool,
    /// Report JA4 (else JA3) fingerprints seen from one internal host only. Default `true`.
    pub rare_fingerprint: bool,
    /// Internal TLS clients that must have been seen before rarity means anything.
    /// Default 20.
    pub rare_min_hosts: u64,
    /// Sightings of the fingerprint (from its one host) before it is reported. Default 3.
    pub rare_min_sightings: u32,
    /// Fingerprints tracked. Default 20 000.
    pub max_fingerprints: usize,
    /// (client, server, kind) keys remembered for de-duplication. Default 50 000.
    pub max_keys: usize,
    /// The same key is reported again after this many seconds. Default 86 400.
    pub dedup_window_s: u64,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            enabled: true,
            home_net: crate::home::default_home_net(),
            max_flow_ids: 16,
            beacon: BeaconConfig::default(),
            dns_tunnel: DnsTunnelConfig::default(),
            dga: DgaConfig::default(),
            scan: ScanConfig::default(),
            exfil: ExfilConfig::default(),
            long_conn: LongConnConfig::default(),
            port_mismatch: PortMismatchConfig::default(),
            tls_anomaly: TlsAnomalyConfig::default(),
        }
    }
}

impl Default for BeaconConfig {
    fn default() -> Self {
        BeaconConfig {
            enabled: true,
            scope: Scope::InternalToExternal,
            max_pairs: 50_000,
            ring_size: 64,
            min_connections: 12,
            score_every: 4,
            score_threshold: 0.8,
            sloth_score_threshold: 0.65,
            sloth_min_samples: 12,
            sloth_min_median_gap_s: 10.0,
            sloth_tolerance: 0.3,
            sloth_min_fit: 0.6,
            min_median_gap_s: 5.0,
            weights: [0.25; 4],
            duration_window_s: 86_400,
            duration_min_s: 3600,
            confirmations: 2,
            rereport_step: 0.1,
            ignore_server_ports: vec![123],
            by_server_name: true,
        }
    }
}

impl Default for DnsTunnelConfig {
    fn default() -> Self {
        DnsTunnelConfig {
            enabled: true,
            scope: Scope::InternalClients,
            window_s: 3600,
            max_keys: 50_000,
            min_unique_subdomains: 100,
            min_mean_subdomain_bits: 100.0,
            min_txt_queries: 50,
            min_txt_share: 0.5,
            ignore_suffixes: vec!["in-addr.arpa".into(), "ip6.arpa".into()],
        }
    }
}

impl Default for DgaConfig {
    fn default() -> Self {
        DgaConfig {
            enabled: true,
            scope: Scope::InternalClients,
            window_s: 3600,
            max_clients: 20_000,
            min_nxdomain: 10,
            min_suspicious_domains: 5,
            lexical_threshold: 0.6,
            ignore_suffixes: vec!["arpa".into(), "local".into()],
        }
    }
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            enabled: true,
            scope: Scope::InternalClients,
            window_s: 3600,
            max_keys: 50_000,
            vertical_min_ports: 5,
            horizontal_min_hosts: 6,
            include_udp: true,
        }
    }
}

impl Default for ExfilConfig {
    fn default() -> Self {
        ExfilConfig {
            enabled: true,
            scope: Scope::InternalToExternal,
            window_s: 3600,
            max_pairs: 50_000,
            min_bytes: 100_000_000,
            min_ratio: 3.0,
        }
    }
}

impl Default for LongConnConfig {
    fn default() -> Self {
        LongConnConfig {
            enabled: true,
            scope: Scope::InternalToExternal,
            thresholds_s: vec![3600, 14_400, 28_800],
            max_flows: 50_000,
        }
    }
}

impl Default for PortMismatchConfig {
    fn default() -> Self {
        PortMismatchConfig {
            enabled: true,
            scope: Scope::InternalToExternal,
            extra_ports: BTreeMap::new(),
            max_keys: 50_000,
            dedup_window_s: 86_400,
        }
    }
}

impl Default for TlsAnomalyConfig {
    fn default() -> Self {
        TlsAnomalyConfig {
            enabled: true,
            scope: Scope::InternalToExternal,
            self_signed: true,
            expired: true,
            no_sni: true,
            rare_fingerprint: true,
            rare_min_hosts: 20,
            rare_min_sightings: 3,
            max_fingerprints: 20_000,
            max_keys: 50_000,
            dedup_window_s: 86_400,
        }
    }
}

/// Keeps one table from being configured into tens of gigabytes by a typo.
const MAX_TABLE: usize = 10_000_000;

fn check(ok: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(msg())
    }
}

fn table(name: &str, v: usize) -> Result<(), String> {
    check((1..=MAX_TABLE).contains(&v), || {
        format!("detect.{name} must be between 1 and {MAX_TABLE}")
    })
}

fn unit(name: &str, v: f64) -> Result<(), String> {
    check(v > 0.0 && v <= 1.0, || {
        format!("detect.{name} must be in (0, 1]")
    })
}

fn positive(name: &str, v: f64) -> Result<(), String> {
    check(v.is_finite() && v > 0.0, || {
        format!("detect.{name} must be > 0")
    })
}

fn window(name: &str, v: u64) -> Result<(), String> {
    // A year: beyond that a window is a typo, and times stay far from overflow.
    check((1..=31_536_000).contains(&v), || {
        format!("detect.{name} must be between 1 and 31536000 seconds")
    })
}

impl DetectConfig {
    /// Refuses a configuration that cannot work; the message names the field
    /// (`detect.beacon.min_connections must be >= 4`).
    pub fn validate(&self) -> Result<(), String> {
        for &(ip, len) in &self.home_net {
            let max = if ip.is_ipv4() { 32 } else { 128 };
            check(len <= max, || {
                format!("detect.home_net: prefix length {len} of {ip} exceeds {max}")
            })?;
        }
        check((1..=1024).contains(&self.max_flow_ids), || {
            "detect.max_flow_ids must be between 1 and 1024".into()
        })?;

        let b = &self.beacon;
        check(b.min_connections >= 4, || {
            "detect.beacon.min_connections must be >= 4".into()
        })?;
        check((b.min_connections..=4096).contains(&b.ring_size), || {
            "detect.beacon.ring_size must be between min_connections and 4096".into()
        })?;
        table("beacon.max_pairs", b.max_pairs)?;
        check(b.score_every >= 1, || {
            "detect.beacon.score_every must be >= 1".into()
        })?;
        unit("beacon.score_threshold", b.score_threshold)?;
        unit("beacon.sloth_score_threshold", b.sloth_score_threshold)?;
        check(b.sloth_min_samples >= 4, || {
            "detect.beacon.sloth_min_samples must be >= 4".into()
        })?;
        positive("beacon.sloth_min_median_gap_s", b.sloth_min_median_gap_s)?;
        unit("beacon.sloth_tolerance", b.sloth_tolerance)?;
        unit("beacon.sloth_min_fit", b.sloth_min_fit)?;
        check(
            b.min_median_gap_s.is_finite() && b.min_median_gap_s >= 0.0,
            || "detect.beacon.min_median_gap_s must be >= 0".into(),
        )?;
        check(
            b.weights.iter().all(|w| w.is_finite() && *w >= 0.0)
                && (b.weights.iter().sum::<f64>() - 1.0).abs() < 1e-6,
            || "detect.beacon.weights must be four non-negative numbers summing to 1".into(),
        )?;
        window("beacon.duration_window_s", b.duration_window_s)?;
        check(b.duration_min_s <= b.duration_window_s, || {
            "detect.beacon.duration_min_s must be <= duration_window_s".into()
        })?;
        check((1..=16).contains(&b.confirmations), || {
            "detect.beacon.confirmations must be between 1 and 16".into()
        })?;
        check(
            b.rereport_step.is_finite() && b.rereport_step >= 0.0,
            || "detect.beacon.rereport_step must be >= 0".into(),
        )?;

        let d = &self.dns_tunnel;
        window("dns_tunnel.window_s", d.window_s)?;
        table("dns_tunnel.max_keys", d.max_keys)?;
        check(d.min_unique_subdomains >= 2, || {
            "detect.dns_tunnel.min_unique_subdomains must be >= 2".into()
        })?;
        positive(
            "dns_tunnel.min_mean_subdomain_bits",
            d.min_mean_subdomain_bits,
        )?;
        check(d.min_txt_queries >= 1, || {
            "detect.dns_tunnel.min_txt_queries must be >= 1".into()
        })?;
        unit("dns_tunnel.min_txt_share", d.min_txt_share)?;
        suffixes("dns_tunnel.ignore_suffixes", &d.ignore_suffixes)?;

        let g = &self.dga;
        window("dga.window_s", g.window_s)?;
        table("dga.max_clients", g.max_clients)?;
        check(g.min_nxdomain >= 1, || {
            "detect.dga.min_nxdomain must be >= 1".into()
        })?;
        check(g.min_suspicious_domains >= 1, || {
            "detect.dga.min_suspicious_domains must be >= 1".into()
        })?;
        unit("dga.lexical_threshold", g.lexical_threshold)?;
        suffixes("dga.ignore_suffixes", &g.ignore_suffixes)?;

        let s = &self.scan;
        window("scan.window_s", s.window_s)?;
        table("scan.max_keys", s.max_keys)?;
        check(s.vertical_min_ports >= 2, || {
            "detect.scan.vertical_min_ports must be >= 2".into()
        })?;
        check(s.horizontal_min_hosts >= 2, || {
            "detect.scan.horizontal_min_hosts must be >= 2".into()
        })?;

        let e = &self.exfil;
        window("exfil.window_s", e.window_s)?;
        table("exfil.max_pairs", e.max_pairs)?;
        check(e.min_bytes >= 1, || {
            "detect.exfil.min_bytes must be >= 1".into()
        })?;
        check(e.min_ratio.is_finite() && e.min_ratio >= 0.0, || {
            "detect.exfil.min_ratio must be >= 0".into()
        })?;

        let l = &self.long_conn;
        check(
            !l.thresholds_s.is_empty()
                && l.thresholds_s.len() <= 16
                && l.thresholds_s[0] >= 1
                && l.thresholds_s.windows(2).all(|w| w[0] < w[1]),
            || {
                "detect.long_conn.thresholds_s must be 1 to 16 strictly ascending seconds >= 1"
                    .into()
            },
        )?;
        table("long_conn.max_flows", l.max_flows)?;

        let p = &self.port_mismatch;
        table("port_mismatch.max_keys", p.max_keys)?;
        window("port_mismatch.dedup_window_s", p.dedup_window_s)?;
        for (proto, ports) in &p.extra_ports {
            check(!proto.is_empty() && ports.len() <= 1024, || {
                format!("detect.port_mismatch.extra_ports.{proto}: at most 1024 ports")
            })?;
        }

        let t = &self.tls_anomaly;
        check(t.rare_min_hosts >= 2, || {
            "detect.tls_anomaly.rare_min_hosts must be >= 2".into()
        })?;
        check(t.rare_min_sightings >= 1, || {
            "detect.tls_anomaly.rare_min_sightings must be >= 1".into()
        })?;
        table("tls_anomaly.max_fingerprints", t.max_fingerprints)?;
        table("tls_anomaly.max_keys", t.max_keys)?;
        window("tls_anomaly.dedup_window_s", t.dedup_window_s)?;
        Ok(())
    }

    /// Whether `ip` is inside `home_net` (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn is_home(&self, ip: IpAddr) -> bool {
        HomeNet::new(&self.home_net).contains(ip)
    }

    /// Worst-case bytes of detector state under this configuration: every table full, every
    /// ring full, every name at its longest. [`crate::Detectors::state_bytes`] stays below it.
    pub fn state_bound_bytes(&self) -> usize {
        crate::bound_bytes(self)
    }
}

fn suffixes(name: &str, list: &[String]) -> Result<(), String> {
    for s in list {
        check(
            !s.is_empty() && !s.starts_with('.') && s.len() <= 253 && s == &s.to_ascii_lowercase(),
            || format!("detect.{name}: {s:?} must be a lower-case name without a leading dot"),
        )?;
    }
    Ok(())
}

/// `home_net` as `"addr/len"` strings (a bare address is a host route).
mod cidr_list {
    use std::net::IpAddr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[(IpAddr, u8)], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|(ip, len)| format!("{ip}/{len}")))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(IpAddr, u8)>, D::Error> {
        let raw = Vec::<String>::deserialize(d)?;
        raw.iter()
            .map(|s| parse(s).map_err(serde::de::Error::custom))
            .collect()
    }

    pub(crate) fn parse(s: &str) -> Result<(IpAddr, u8), String> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let ip: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("home_net: {s:?} is not an address or CIDR"))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => l
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| format!("home_net: {s:?} has a bad prefix length"))?,
        };
        Ok((ip, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_round_trip_through_toml() {
        let cfg = DetectConfig::default();
        cfg.validate().expect("defaults are valid");
        let text = toml::to_string(&cfg).expect("serializes");
        let back: DetectConfig = toml::from_str(&text).expect("parses back");
        assert_eq!(back, cfg);
    }

    #[test]
    fn partial_tables_take_defaults_and_unknown_keys_are_refused() {
        let cfg: DetectConfig = toml::from_str(
            "home_net = [\"10.1.0.0/16\", \"2001:db8::1\"]\n[beacon]\nmin_connections = 20\n",
        )
        .expect("parses");
        assert_eq!(cfg.beacon.min_connections, 20);
        assert_eq!(cfg.beacon.ring_size, 64);
        assert_eq!(cfg.home_net.len(), 2);
        assert_eq!(cfg.home_net[1].1, 128);
        assert!(cfg.is_home("10.1.2.3".parse().expect("ip")));
        assert!(!cfg.is_home("10.2.0.1".parse().expect("ip")));

        let err = toml::from_str::<DetectConfig>("[beacon]\nmin_conections = 3\n")
            .expect_err("typo refused");
        assert!(err.to_string().contains("min_conections"), "{err}");
        let err = toml::from_str::<DetectConfig>("home_net = [\"10.0.0.0/33\"]\n")
            .expect_err("bad prefix refused");
        assert!(err.to_string().contains("10.0.0.0/33"), "{err}");
    }

    #[test]
    fn readme_defaults_are_the_defaults() {
        let readme = include_str!("../README.md");
        let start = readme.find("```toml\n").expect("toml block") + 8;
        let len = readme[start..].find("```").expect("block end");
        #[derive(Deserialize)]
        struct File {
            detect: DetectConfig,
        }
        let f: File = toml::from_str(&readme[start..start + len]).expect("README block parses");
        assert_eq!(f.detect, DetectConfig::default());
    }

    #[test]
    fn validation_names_the_field() {
        let mut cfg = DetectConfig::default();
        cfg.beacon.min_connections = 3;
        assert_eq!(
            cfg.validate().expect_err("refused"),
            "detect.beacon.min_connections must be >= 4"
        );
        let mut cfg = DetectConfig::default();
        cfg.beacon.weights = [0.5, 0.5, 0.5, 0.0];
        assert!(cfg
            .validate()
            .expect_err("refused")
            .contains("detect.beacon.weights"));
        let mut cfg = DetectConfig::default();
        cfg.long_conn.thresholds_s = vec![100, 50];
        assert!(cfg
            .validate()
            .expect_err("refused")
            .contains("detect.long_conn.thresholds_s"));
        let mut cfg = DetectConfig::default();
        cfg.scan.max_keys = 0;
        assert!(cfg
            .validate()
            .expect_err("refused")
            .contains("detect.scan.max_keys"));
        let mut cfg = DetectConfig::default();
        cfg.dns_tunnel.ignore_suffixes = vec![".arpa".into()];
        assert!(cfg
            .validate()
            .expect_err("refused")
            .contains("detect.dns_tunnel.ignore_suffixes"));
    }

    #[test]
    fn default_home_net_covers_private_ranges_only() {
        let cfg = DetectConfig::default();
        for ip in [
            "10.9.8.7",
            "172.20.0.1",
            "192.168.1.1",
            "100.64.3.4",
            "169.254.1.1",
            "127.0.0.1",
            "fd00::5",
            "fe80::1",
            "::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(cfg.is_home(ip.parse().expect("ip")), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2001:db8::1",
            "203.0.113.9",
        ] {
            assert!(!cfg.is_home(ip.parse().expect("ip")), "{ip}");
        }
    }
}
