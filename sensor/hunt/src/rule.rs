//! A hunt hypothesis as loaded from `rules/hunts/*.yaml` (the format is documented in
//! `rules/README.md`; [`crate::parse`] builds these and checks them).

use std::net::IpAddr;

/// Detector names the behaviour alerts carry in `alert.metadata.tapir_detector`.
pub const DETECTORS: &[&str] = &[
    "beacon",
    "dns_tunnel",
    "dga",
    "scan",
    "exfil",
    "long_conn",
    "port_mismatch",
    "tls_anomaly",
];

/// Indicator types of intel alerts (`alert.context.indicator.type`), as tapir-intel names them.
pub const INTEL_TYPES: &[&str] = &[
    "ip",
    "cidr",
    "domain",
    "url",
    "ja3",
    "ja4",
    "cert_sha1",
    "ip_port",
    "hash",
    "hassh",
];

/// EVE event types tapir writes.
pub const EVENT_TYPES: &[&str] = &[
    "alert", "flow", "dns", "tls", "http", "quic", "ssh", "socks", "metadata",
];

/// First path segments every event may carry besides its own section (`tls.*` in a `tls`
/// event): the EVE header and the sections some events share.
pub const HEADER_FIELDS: &[&str] = &[
    "timestamp",
    "flow_id",
    "pcap_cnt",
    "event_type",
    "src_ip",
    "src_port",
    "dest_ip",
    "dest_port",
    "proto",
    "app_proto",
    "community_id",
    "icmp_type",
    "icmp_code",
    "vlan",
    "tx_id",
    "tunnel",
    "tcp",
    "flow",
    "metadata",
];

/// One hypothesis.
#[derive(Debug, Clone)]
pub struct Hunt {
    pub id: String,
    pub title: String,
    pub hypothesis: String,
    /// ATT&CK technique ids (`T1071`, `T1071.004`).
    pub techniques: Vec<String>,
    /// The data a verdict needs: each entry is satisfied by any one of its event types.
    pub needs: Vec<Vec<String>>,
    pub severity: Severity,
    /// Correlation key: every condition must hold for the same value of it.
    pub same: Option<Key>,
    /// The matches that make a verdict must all fall within this span (microseconds).
    pub window_us: Option<u64>,
    pub actions: Vec<Action>,
    pub when: Cond,
    /// Leaf conditions, indexed by [`Cond::Leaf`].
    pub leaves: Vec<Leaf>,
    /// Where the hunt was defined (`file`, 1-based line).
    pub file: String,
    pub line: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const NAMES: &'static [&'static str] = &["low", "medium", "high", "critical"];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
}

/// What matches are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    SrcIp,
    DestIp,
    /// The event's `flow_id`, and for behaviour alerts every id in `alert.context.flow_ids`.
    FlowId,
    /// The unordered address pair.
    Pair,
}

impl Key {
    pub const NAMES: &'static [&'static str] = &["src_ip", "dest_ip", "flow_id", "pair"];

    pub fn as_str(self) -> &'static str {
        match self {
            Key::SrcIp => "src_ip",
            Key::DestIp => "dest_ip",
            Key::FlowId => "flow_id",
            Key::Pair => "pair",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "src_ip" => Key::SrcIp,
            "dest_ip" => Key::DestIp,
            "flow_id" => Key::FlowId,
            "pair" => Key::Pair,
            _ => return None,
        })
    }
}

/// A response a hunt proposes when it holds; parsed and reported, carried out by a responder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Block the address found in this field of the evidence (`src_ip` or `dest_ip`).
    Block(BlockTarget),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockTarget {
    SrcIp,
    DestIp,
}

impl BlockTarget {
    pub fn as_str(self) -> &'static str {
        match self {
            BlockTarget::SrcIp => "src_ip",
            BlockTarget::DestIp => "dest_ip",
        }
    }
}

/// A condition tree; leaves index [`Hunt::leaves`].
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
    /// Leaves that must match in this order of time (for the same key).
    Sequence(Vec<usize>),
    Leaf(usize),
}

/// Matches single events.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    /// Event types it applies to (`["alert"]` for alert conditions).
    pub event_types: Vec<String>,
    pub alert: Option<AlertMatch>,
    pub preds: Vec<FieldPred>,
    /// At least this many matching events (for the same key, within the window).
    pub min_count: u64,
    /// Short text for reports, e.g. `alert detector=beacon score>=0.8`.
    pub label: String,
    pub line: usize,
    pub col: usize,
}

/// Filters on alert events; an empty list means "any".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertMatch {
    pub detector: Vec<String>,
    pub min_score: Option<f64>,
    pub intel_type: Vec<String>,
    /// Feed names or paths, compared with `alert.context.indicator.source`.
    pub feed: Vec<String>,
    pub signature_id: Vec<u64>,
}

/// A predicate on one field path; every op must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldPred {
    /// Dotted path split into segments; arrays on the way are searched element by element.
    pub path: Vec<String>,
    pub ops: Vec<Op>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Eq(Val),
    Ne(Val),
    In(Vec<Val>),
    NotIn(Vec<Val>),
    Contains(String),
    StartsWith(String),
    EndsWith(String),
    Gt(f64),
    Gte(f64),
    Lt(f64),
    Lte(f64),
    Exists(bool),
    InCidr(Vec<Cidr>),
}

impl std::fmt::Display for FieldPred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path.join(".");
        let list = |v: &[Val]| {
            let mut s: Vec<String> = v.iter().take(4).map(ToString::to_string).collect();
            if v.len() > 4 {
                s.push(format!("… {} more", v.len() - 4));
            }
            format!("[{}]", s.join(", "))
        };
        let parts: Vec<String> = self
            .ops
            .iter()
            .map(|op| match op {
                Op::Eq(v) => format!("{path} = {v}"),
                Op::Ne(v) => format!("{path} != {v}"),
                Op::In(v) => format!("{path} in {}", list(v)),
                Op::NotIn(v) => format!("{path} not in {}", list(v)),
                Op::Contains(s) => format!("{path} contains {s:?}"),
                Op::StartsWith(s) => format!("{path} starts with {s:?}"),
                Op::EndsWith(s) => format!("{path} ends with {s:?}"),
                Op::Gt(n) => format!("{path} > {n}"),
                Op::Gte(n) => format!("{path} >= {n}"),
                Op::Lt(n) => format!("{path} < {n}"),
                Op::Lte(n) => format!("{path} <= {n}"),
                Op::Exists(true) => format!("{path} exists"),
                Op::Exists(false) => format!("{path} absent"),
                Op::InCidr(c) => {
                    let c: Vec<String> = c
                        .iter()
                        .take(4)
                        .map(|c| format!("{}/{}", c.addr, c.len))
                        .collect();
                    format!("{path} in {}", c.join(", "))
                }
            })
            .collect();
        f.write_str(&parts.join(" and "))
    }
}

impl std::fmt::Display for Val {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Val::Str(s) => write!(f, "{s:?}"),
            Val::Num(n) => write!(f, "{n}"),
            Val::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// A scalar to compare with.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Str(String),
    Num(f64),
    Bool(bool),
}

/// An address prefix for `in_cidr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub len: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match l {
            Some(l) => l.trim().parse::<u8>().ok().filter(|&n| n <= max)?,
            None => max,
        };
        Some(Cidr { addr, len })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            _ => ip,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                prefix_eq(&n.octets(), &a.octets(), usize::from(self.len))
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                prefix_eq(&n.octets(), &a.octets(), usize::from(self.len))
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: usize) -> bool {
    let whole = bits / 8;
    if a.get(..whole) != b.get(..whole) {
        return false;
    }
    let rest = bits % 8;
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    match (a.get(whole), b.get(whole)) {
        (Some(x), Some(y)) => x & mask == y & mask,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_matches_on_prefix_boundaries() {
        let c = Cidr::parse("10.2.0.0/15").expect("cidr");
        assert!(!c.contains("10.1.255.255".parse().expect("ip")));
        assert!(c.contains("10.2.0.0".parse().expect("ip")));
        assert!(c.contains("10.3.255.255".parse().expect("ip")));
        assert!(!c.contains("10.4.0.0".parse().expect("ip")));
        let m = Cidr::parse("203.0.113.66").expect("host");
        assert!(m.contains("::ffff:203.0.113.66".parse().expect("mapped")));
        let v6 = Cidr::parse("2001:db8::/32").expect("v6");
        assert!(v6.contains("2001:db8::bad:c2".parse().expect("ip")));
        assert!(!v6.contains("2001:db9::1".parse().expect("ip")));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("nonsense").is_none());
    }
}
