//! Which alerts lead to a block, of which address, for how long. Rules are tried in order;
//! the first whose criteria all hold decides. Within one criterion any listed value may match.

use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::net::Net;

/// Which address of the alert is blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Src,
    Dest,
    /// The indicator's own value when it is an address or CIDR (intel alerts).
    Indicator,
    /// Whichever of source and destination lies outside `home_net`, when exactly one does.
    Remote,
}

impl Target {
    pub fn parse(s: &str) -> Option<Target> {
        Some(match s {
            "src" => Target::Src,
            "dest" => Target::Dest,
            "indicator" => Target::Indicator,
            "remote" => Target::Remote,
            _ => return None,
        })
    }
}

/// One policy rule, validated (see `[[respond.rules]]` in tapir.example.toml).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    /// `alert.category`, compared without case.
    pub categories: Vec<String>,
    pub signature_ids: Vec<u64>,
    /// `alert.metadata.tapir_detector` of behaviour alerts (`beacon`, `scan`, ...).
    pub detectors: Vec<String>,
    /// `alert.metadata.indicator_type` (`ip`, `cidr`, `domain`, `ja3`, ...).
    pub indicator_types: Vec<String>,
    /// `alert.context.indicator.source`; `*` matches any run of characters.
    pub indicator_sources: Vec<String>,
    /// Suricata's scale, 1 the most severe: the alert's severity number must be at most this.
    pub min_severity: Option<u8>,
    pub block: Target,
    pub ttl: Duration,
}

/// What the policy reads from an alert line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertFacts {
    pub timestamp: String,
    pub src: Option<IpAddr>,
    pub dest: Option<IpAddr>,
    pub gid: u64,
    pub sid: Option<u64>,
    pub signature: String,
    pub category: String,
    pub severity: Option<u8>,
    pub detectors: Vec<String>,
    pub indicator_types: Vec<String>,
    pub indicator: Option<IndicatorFacts>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndicatorFacts {
    pub kind: String,
    pub value: String,
    pub source: String,
    pub line: Option<u64>,
}

#[derive(Deserialize)]
struct EveLine {
    #[serde(default)]
    event_type: String,
    #[serde(default)]
    timestamp: String,
    src_ip: Option<String>,
    dest_ip: Option<String>,
    alert: Option<EveAlert>,
}

#[derive(Deserialize)]
struct EveAlert {
    #[serde(default)]
    gid: u64,
    signature_id: Option<u64>,
    #[serde(default)]
    signature: String,
    #[serde(default)]
    category: String,
    severity: Option<u64>,
    #[serde(default)]
    metadata: serde_json::Map<String, Value>,
    #[serde(default)]
    context: Option<EveContext>,
}

#[derive(Deserialize)]
struct EveContext {
    indicator: Option<EveIndicator>,
}

#[derive(Deserialize)]
struct EveIndicator {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    source: String,
    line: Option<u64>,
}

/// Strings of a metadata entry: Suricata writes arrays of strings; a bare string is taken too.
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

impl AlertFacts {
    /// Reads an EVE line; `None` when it is not an alert or not JSON (never panics on input).
    pub fn parse(line: &[u8]) -> Option<AlertFacts> {
        let e: EveLine = serde_json::from_slice(line).ok()?;
        if e.event_type != "alert" {
            return None;
        }
        let a = e.alert?;
        let ip = |s: Option<String>| s.and_then(|s| s.parse::<IpAddr>().ok());
        let indicator = a.context.and_then(|c| c.indicator).map(|i| IndicatorFacts {
            kind: i.kind,
            value: i.value,
            source: i.source,
            line: i.line,
        });
        Some(AlertFacts {
            timestamp: e.timestamp,
            src: ip(e.src_ip),
            dest: ip(e.dest_ip),
            gid: a.gid,
            sid: a.signature_id,
            signature: a.signature,
            category: a.category,
            severity: a.severity.map(|s| u8::try_from(s).unwrap_or(u8::MAX)),
            detectors: strings(a.metadata.get("tapir_detector")),
            indicator_types: strings(a.metadata.get("indicator_type")),
            indicator,
        })
    }
}

/// `*` matches any run of characters; everything else literally.
fn glob(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    if parts.len() == 1 {
        return pattern == s;
    }
    if !s.starts_with(first) || s.len() < first.len() + last.len() || !s.ends_with(last) {
        return false;
    }
    let mut rest = &s[first.len()..s.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(at) => rest = &rest[at + mid.len()..],
            None => return false,
        }
    }
    true
}

impl Rule {
    /// Every criterion the rule sets holds for the alert.
    pub fn matches(&self, a: &AlertFacts) -> bool {
        let any = |want: &[String], have: &[String]| {
            want.is_empty()
                || want
                    .iter()
                    .any(|w| have.iter().any(|h| h.eq_ignore_ascii_case(w)))
        };
        (self.categories.is_empty()
            || self
                .categories
                .iter()
                .any(|c| c.eq_ignore_ascii_case(&a.category)))
            && (self.signature_ids.is_empty()
                || a.sid.is_some_and(|s| self.signature_ids.contains(&s)))
            && any(&self.detectors, &a.detectors)
            && any(&self.indicator_types, &a.indicator_types)
            && (self.indicator_sources.is_empty()
                || a.indicator
                    .as_ref()
                    .is_some_and(|i| self.indicator_sources.iter().any(|p| glob(p, &i.source))))
            && match self.min_severity {
                None => true,
                Some(m) => a.severity.is_some_and(|s| s <= m),
            }
    }
}

/// A block the policy (or an operator, or a hunt) asks for, before guards.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub net: Net,
    pub ttl: Duration,
    /// Rule name, `operator`, `hunt:<name>`.
    pub origin: String,
    pub reason: String,
    pub sid: Option<u64>,
    /// `type value (source:line)` of the indicator that fired.
    pub indicator: Option<String>,
}

/// The policy's answer for one alert.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    NoRule,
    /// A rule matched but the alert has no address of the kind it blocks.
    NoTarget {
        rule: String,
    },
    Block(Request),
}

/// The rules plus `home_net` (for [`Target::Remote`]).
#[derive(Debug, Clone, Default)]
pub struct Policy {
    rules: Vec<Rule>,
    home_net: Vec<Net>,
}

/// An indicator value as a network: `1.2.3.4`, `1.2.3.0/24`, or an `ip:port` indicator.
fn indicator_net(value: &str) -> Option<Net> {
    if let Ok(n) = Net::parse_lenient(value) {
        return Some(n);
    }
    if let Ok(sa) = value.parse::<std::net::SocketAddr>() {
        return Some(Net::host(sa.ip()));
    }
    None
}

impl Policy {
    pub fn new(rules: Vec<Rule>, home_net: Vec<Net>) -> Policy {
        Policy { rules, home_net }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    fn in_home(&self, a: IpAddr) -> bool {
        self.home_net.iter().any(|n| n.contains_addr(a))
    }

    pub fn evaluate(&self, a: &AlertFacts) -> Verdict {
        let Some(rule) = self.rules.iter().find(|r| r.matches(a)) else {
            return Verdict::NoRule;
        };
        let net = match rule.block {
            Target::Src => a.src.map(Net::host),
            Target::Dest => a.dest.map(Net::host),
            Target::Indicator => a.indicator.as_ref().and_then(|i| indicator_net(&i.value)),
            Target::Remote => match (a.src, a.dest) {
                (Some(s), Some(d)) => match (self.in_home(s), self.in_home(d)) {
                    (true, false) => Some(Net::host(d)),
                    (false, true) => Some(Net::host(s)),
                    _ => None,
                },
                _ => None,
            },
        };
        let Some(net) = net else {
            return Verdict::NoTarget {
                rule: rule.name.clone(),
            };
        };
        let sid = a
            .sid
            .map_or_else(String::new, |s| format!(" [{}:{s}]", a.gid));
        Verdict::Block(Request {
            net,
            ttl: rule.ttl,
            origin: rule.name.clone(),
            reason: format!("rule {}:{sid} {}", rule.name, a.signature),
            sid: a.sid,
            indicator: a.indicator.as_ref().map(|i| match i.line {
                Some(l) => format!("{} {} ({}:{l})", i.kind, i.value, i.source),
                None => format!("{} {} ({})", i.kind, i.value, i.source),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTEL: &str = r#"{"timestamp":"2026-01-15T09:00:05.331100+0000","flow_id":7935949766942834,"event_type":"alert","src_ip":"10.0.0.23","src_port":49730,"dest_ip":"203.0.113.66","dest_port":443,"proto":"TCP","alert":{"action":"allowed","gid":1,"signature_id":1610001,"rev":1,"signature":"TAPIR INTEL IP 203.0.113.66 in dest_ip (rules/intel/ips.txt:6)","category":"Threat Intelligence Indicator Match","severity":2,"metadata":{"indicator_type":["ip"],"matched_field":["dest_ip"]},"context":{"indicator":{"type":"ip","value":"203.0.113.66","source":"rules/intel/ips.txt","line":6,"matched_field":"dest_ip","matched_value":"203.0.113.66"}}}}"#;
    const CIDR: &str = r#"{"event_type":"alert","src_ip":"10.0.0.23","dest_ip":"198.51.100.23","alert":{"gid":1,"signature_id":1610001,"signature":"TAPIR INTEL CIDR","category":"Threat Intelligence Indicator Match","severity":2,"metadata":{"indicator_type":["cidr"]},"context":{"indicator":{"type":"cidr","value":"198.51.100.0/24","source":"rules/intel/ips.txt","line":8}}}}"#;
    const BEACON: &str = r#"{"event_type":"alert","src_ip":"10.0.0.23","dest_ip":"192.0.2.80","alert":{"gid":1,"signature_id":1700001,"signature":"TAPIR BEHAVIOUR beacon","category":"Behaviour","severity":1,"metadata":{"tapir_detector":["beacon"]}}}"#;
    const DNS: &str = r#"{"event_type":"alert","src_ip":"10.0.0.23","dest_ip":"10.0.0.2","alert":{"gid":1,"signature_id":1610002,"signature":"TAPIR INTEL domain","category":"Threat Intelligence Indicator Match","severity":2,"metadata":{"indicator_type":["domain"]},"context":{"indicator":{"type":"domain","value":"c2.badcdn.example","source":"rules/intel/domains.txt","line":7}}}}"#;

    fn rule(name: &str, block: Target) -> Rule {
        Rule {
            name: name.into(),
            categories: Vec::new(),
            signature_ids: Vec::new(),
            detectors: Vec::new(),
            indicator_types: Vec::new(),
            indicator_sources: Vec::new(),
            min_severity: None,
            block,
            ttl: Duration::from_secs(3600),
        }
    }

    fn facts(s: &str) -> AlertFacts {
        AlertFacts::parse(s.as_bytes()).expect("alert line")
    }

    fn home() -> Vec<Net> {
        vec![Net::parse_strict("10.0.0.0/8").expect("net")]
    }

    #[test]
    fn reads_the_intel_alert() {
        let a = facts(INTEL);
        assert_eq!(a.sid, Some(1_610_001));
        assert_eq!(a.severity, Some(2));
        assert_eq!(a.indicator_types, ["ip"]);
        let i = a.indicator.expect("indicator");
        assert_eq!(
            (i.value.as_str(), i.source.as_str(), i.line),
            ("203.0.113.66", "rules/intel/ips.txt", Some(6))
        );
        assert!(AlertFacts::parse(br#"{"event_type":"dns"}"#).is_none());
        assert!(AlertFacts::parse(b"{not json").is_none());
        assert!(AlertFacts::parse(br#"{"event_type":"alert","alert":{"severity":"x"}}"#).is_none());
    }

    #[test]
    fn first_matching_rule_chooses_the_address() {
        let mut by_type = rule("intel-ip", Target::Indicator);
        by_type.indicator_types = vec!["ip".into(), "cidr".into()];
        let mut beacon = rule("beacons", Target::Remote);
        beacon.detectors = vec!["beacon".into()];
        beacon.ttl = Duration::from_secs(600);
        let p = Policy::new(vec![by_type, beacon], home());
        let Verdict::Block(r) = p.evaluate(&facts(INTEL)) else {
            panic!("no block")
        };
        assert_eq!(r.net.to_string(), "203.0.113.66");
        assert_eq!(r.origin, "intel-ip");
        assert_eq!(
            r.indicator.as_deref(),
            Some("ip 203.0.113.66 (rules/intel/ips.txt:6)")
        );
        assert!(r.reason.contains("[1:1610001]"), "{}", r.reason);
        let Verdict::Block(r) = p.evaluate(&facts(CIDR)) else {
            panic!("no block")
        };
        assert_eq!(r.net.to_string(), "198.51.100.0/24");
        let Verdict::Block(r) = p.evaluate(&facts(BEACON)) else {
            panic!("no block")
        };
        assert_eq!(
            (r.net.to_string(), r.ttl),
            ("192.0.2.80".to_string(), Duration::from_secs(600))
        );
        assert_eq!(p.evaluate(&facts(DNS)), Verdict::NoRule);
    }

    #[test]
    fn criteria_and_targets() {
        let mut r = rule("dns-dest", Target::Dest);
        r.categories = vec!["threat intelligence indicator match".into()];
        r.indicator_sources = vec!["rules/intel/domains*".into()];
        r.min_severity = Some(2);
        let p = Policy::new(vec![r.clone()], home());
        let Verdict::Block(b) = p.evaluate(&facts(DNS)) else {
            panic!("no block")
        };
        // The destination of a DNS alert is the resolver: the policy says so, the guards
        // (not the policy) refuse it.
        assert_eq!(b.net.to_string(), "10.0.0.2");
        assert_eq!(p.evaluate(&facts(INTEL)), Verdict::NoRule);
        r.min_severity = Some(1);
        assert_eq!(
            Policy::new(vec![r], home()).evaluate(&facts(DNS)),
            Verdict::NoRule
        );
        let mut ind = rule("dom", Target::Indicator);
        ind.indicator_types = vec!["domain".into()];
        assert_eq!(
            Policy::new(vec![ind], home()).evaluate(&facts(DNS)),
            Verdict::NoTarget { rule: "dom".into() }
        );
        let mut remote = rule("remote", Target::Remote);
        remote.signature_ids = vec![1_610_002];
        assert_eq!(
            Policy::new(vec![remote], home()).evaluate(&facts(DNS)),
            Verdict::NoTarget {
                rule: "remote".into()
            }
        );
        let mut src = rule("src", Target::Src);
        src.signature_ids = vec![1_700_001];
        let Verdict::Block(b) = Policy::new(vec![src], home()).evaluate(&facts(BEACON)) else {
            panic!()
        };
        assert_eq!(b.net.to_string(), "10.0.0.23");
    }

    #[test]
    fn globs() {
        assert!(glob("rules/intel/*", "rules/intel/ips.txt"));
        assert!(glob("*ips*", "rules/intel/ips.txt"));
        assert!(glob("feodo", "feodo"));
        assert!(!glob("feodo", "feodo2"));
        assert!(!glob("a*b*c", "acb"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("ab*ba", "aba"));
    }

    #[test]
    fn ip_port_indicators_block_the_address() {
        assert_eq!(
            indicator_net("192.0.2.1:443").map(|n| n.to_string()),
            Some("192.0.2.1".into())
        );
        assert_eq!(
            indicator_net("[2001:db8::1]:443").map(|n| n.to_string()),
            Some("2001:db8::1".into())
        );
        assert_eq!(indicator_net("evil.example"), None);
    }
}
