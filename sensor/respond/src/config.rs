//! The `[respond]` section of the configuration: `Raw*` mirrors the file (unknown keys
//! refused), [`RawRespond::validate`] checks it and names the key of every problem.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::net::Net;
use crate::policy::{Rule, Target};
use crate::time::parse_duration;

/// A duration in the file: seconds as an integer, or text with a unit.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawDur {
    Secs(u64),
    Text(String),
}

/// A size in the file: bytes as an integer, or text with a unit (`64MiB`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawSize {
    Bytes(u64),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRespond {
    pub enabled: Option<bool>,
    pub dry_run: Option<bool>,
    pub state_dir: Option<PathBuf>,
    pub audit_log: Option<PathBuf>,
    pub audit_max_bytes: Option<RawSize>,
    pub backends: Option<Vec<String>>,
    pub home_net: Option<Vec<String>>,
    pub allow_home_net: Option<bool>,
    pub never_block: Option<Vec<String>>,
    pub default_resolvers: Option<bool>,
    pub protected_ranges_file: Option<PathBuf>,
    pub max_new_per_minute: Option<u32>,
    pub max_decisions: Option<usize>,
    pub default_ttl: Option<RawDur>,
    pub max_ttl: Option<RawDur>,
    pub reconcile_interval: Option<RawDur>,
    pub element_timeout_max: Option<RawDur>,
    pub retry_min: Option<RawDur>,
    pub retry_max: Option<RawDur>,
    #[serde(default)]
    pub nftables: RawNft,
    #[serde(default)]
    pub ipset: RawIpset,
    #[serde(default)]
    pub list: RawList,
    #[serde(default)]
    pub webhook: RawWebhook,
    #[serde(default)]
    pub rules: Vec<RawRule>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNft {
    pub nft_path: Option<PathBuf>,
    pub table: Option<String>,
    pub hooks: Option<Vec<String>>,
    pub priority: Option<i32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIpset {
    pub ipset_path: Option<PathBuf>,
    pub iptables_path: Option<PathBuf>,
    pub ip6tables_path: Option<PathBuf>,
    pub set_prefix: Option<String>,
    pub chains: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawList {
    pub path: Option<PathBuf>,
    pub listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    pub url: Option<String>,
    pub timeout: Option<RawDur>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub batch_max: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub name: Option<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub signature_ids: Vec<u64>,
    #[serde(default)]
    pub detectors: Vec<String>,
    #[serde(default)]
    pub indicator_types: Vec<String>,
    #[serde(default)]
    pub indicator_sources: Vec<String>,
    pub min_severity: Option<u8>,
    pub block: Option<String>,
    pub ttl: Option<RawDur>,
}

/// Which backends are known, by the names `backends` and `--backend` take.
pub const BACKENDS: [&str; 4] = ["nftables", "ipset", "list", "webhook"];

/// The validated `[respond]` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RespondConfig {
    /// Alerts of a running sensor lead to decisions (operator commands work either way).
    pub enabled: bool,
    /// Shadow mode: decisions are journaled (in a separate journal) and audited, no backend
    /// is called.
    pub dry_run: bool,
    pub state_dir: PathBuf,
    /// `None`: `<state_dir>/audit.jsonl`.
    pub audit_log: Option<PathBuf>,
    /// When the audit log passes this, it is renamed to `.1` (one generation kept).
    pub audit_max_bytes: u64,
    pub backends: Vec<String>,
    pub home_net: Vec<Net>,
    pub allow_home_net: bool,
    /// Addresses and CIDRs (parsed) and domain names (resolved when guards are built).
    pub never_block: Vec<NeverBlock>,
    pub default_resolvers: bool,
    pub protected_ranges_file: Option<PathBuf>,
    pub max_new_per_minute: u32,
    pub max_decisions: usize,
    pub default_ttl: Duration,
    pub max_ttl: Duration,
    pub reconcile_interval: Duration,
    pub element_timeout_max: Duration,
    pub retry_min: Duration,
    pub retry_max: Duration,
    pub nftables: NftConfig,
    pub ipset: IpsetConfig,
    pub list: ListConfig,
    pub webhook: WebhookConfig,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NeverBlock {
    Net(Net),
    Domain(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftConfig {
    pub nft_path: PathBuf,
    pub table: String,
    pub hooks: Vec<String>,
    pub priority: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpsetConfig {
    pub ipset_path: PathBuf,
    pub iptables_path: PathBuf,
    pub ip6tables_path: PathBuf,
    pub set_prefix: String,
    pub chains: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListConfig {
    /// `None`: `<state_dir>/blocklist.txt`.
    pub path: Option<PathBuf>,
    /// `host:port` for `/blocklist.txt`; empty: not served.
    pub listen: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    pub url: String,
    pub timeout: Duration,
    pub headers: BTreeMap<String, String>,
    pub batch_max: usize,
}

/// Private, shared, loopback-adjacent and link-local ranges: what a sensor's own network
/// usually is.
pub const DEFAULT_HOME_NET: [&str; 7] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "fc00::/7",
    "fe80::/10",
];

impl Default for RespondConfig {
    fn default() -> Self {
        RespondConfig {
            enabled: false,
            dry_run: false,
            state_dir: PathBuf::from("/var/lib/tapir"),
            audit_log: None,
            audit_max_bytes: 64 << 20,
            backends: vec!["nftables".into()],
            home_net: DEFAULT_HOME_NET
                .iter()
                .filter_map(|s| Net::parse_strict(s).ok())
                .collect(),
            allow_home_net: false,
            never_block: Vec::new(),
            default_resolvers: true,
            protected_ranges_file: None,
            max_new_per_minute: 60,
            max_decisions: 65_536,
            default_ttl: Duration::from_secs(4 * 3600),
            max_ttl: Duration::from_secs(30 * 86_400),
            reconcile_interval: Duration::from_secs(60),
            element_timeout_max: Duration::from_secs(86_400),
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            nftables: NftConfig {
                nft_path: PathBuf::from("nft"),
                table: "tapir".into(),
                hooks: vec!["input".into(), "forward".into(), "output".into()],
                priority: -10,
            },
            ipset: IpsetConfig {
                ipset_path: PathBuf::from("ipset"),
                iptables_path: PathBuf::from("iptables"),
                ip6tables_path: PathBuf::from("ip6tables"),
                set_prefix: "tapir".into(),
                chains: vec!["INPUT".into(), "FORWARD".into(), "OUTPUT".into()],
            },
            list: ListConfig {
                path: None,
                listen: "127.0.0.1:8642".into(),
            },
            webhook: WebhookConfig {
                url: String::new(),
                timeout: Duration::from_secs(5),
                headers: BTreeMap::new(),
                batch_max: 1000,
            },
            rules: Vec::new(),
        }
    }
}

impl RespondConfig {
    /// Where the audit log goes.
    pub fn audit_path(&self) -> PathBuf {
        self.audit_log
            .clone()
            .unwrap_or_else(|| self.state_dir.join("audit.jsonl"))
    }

    /// Where the list backend writes.
    pub fn list_path(&self) -> PathBuf {
        self.list
            .path
            .clone()
            .unwrap_or_else(|| self.state_dir.join("blocklist.txt"))
    }

    /// The journal file: shadow decisions are kept apart so that turning dry-run off does
    /// not enforce them.
    pub fn journal_path(&self) -> PathBuf {
        self.state_dir.join(if self.dry_run {
            "decisions.dry-run.jsonl"
        } else {
            "decisions.jsonl"
        })
    }
}

type Invalid = (String, String);

/// The longest duration any `[respond]` key accepts: ten years. Longer is a typo (a unit
/// missing or a digit too many), and refusing it keeps every later sum and multiple of these
/// durations far inside `Duration`'s range.
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 86_400);

fn dur(key: &str, v: &Option<RawDur>, min: Duration) -> Result<Option<Duration>, Invalid> {
    let Some(v) = v else { return Ok(None) };
    let d = match v {
        RawDur::Secs(n) => Duration::from_secs(*n),
        RawDur::Text(s) => parse_duration(s).map_err(|m| (key.to_string(), m))?,
    };
    if d < min {
        return Err((
            key.into(),
            format!("must be at least {}ms", min.as_millis()),
        ));
    }
    if d > MAX_DURATION {
        return Err((key.into(), "must be at most 3650 days".into()));
    }
    Ok(Some(d))
}

fn size(key: &str, v: &Option<RawSize>) -> Result<Option<u64>, Invalid> {
    let Some(v) = v else { return Ok(None) };
    match v {
        RawSize::Bytes(n) => Ok(Some(*n)),
        RawSize::Text(s) => {
            let t = s.trim();
            let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
            let (num, unit) = t.split_at(split);
            let n: u64 = num
                .parse()
                .map_err(|_| (key.to_string(), format!("{s:?} is not a size")))?;
            let mult: u64 = match unit.trim() {
                "" | "B" => 1,
                "KiB" => 1 << 10,
                "MiB" => 1 << 20,
                "GiB" => 1 << 30,
                u => return Err((key.into(), format!("unknown size unit {u:?}"))),
            };
            n.checked_mul(mult)
                .map(Some)
                .ok_or((key.to_string(), "too large".to_string()))
        }
    }
}

fn nets(key: &str, v: &[String]) -> Result<Vec<Net>, Invalid> {
    v.iter()
        .enumerate()
        .map(|(i, s)| Net::parse_strict(s).map_err(|m| (format!("{key}[{i}]"), m)))
        .collect()
}

fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn name_ok(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl RawRespond {
    /// Checks every key; the error is (key, message) with keys under `respond.`.
    ///
    /// # Errors
    /// The first key whose value is malformed or out of range.
    pub fn validate(self) -> Result<RespondConfig, Invalid> {
        let mut c = RespondConfig::default();
        let k = |s: &str| format!("respond.{s}");
        if let Some(v) = self.enabled {
            c.enabled = v;
        }
        if let Some(v) = self.dry_run {
            c.dry_run = v;
        }
        if let Some(v) = self.state_dir {
            if v.as_os_str().is_empty() {
                return Err((k("state_dir"), "must be a directory path".into()));
            }
            c.state_dir = v;
        }
        c.audit_log = self.audit_log.filter(|p| !p.as_os_str().is_empty());
        if let Some(v) = size(&k("audit_max_bytes"), &self.audit_max_bytes)? {
            if v < 4096 {
                return Err((k("audit_max_bytes"), "must be at least 4096".into()));
            }
            c.audit_max_bytes = v;
        }
        if let Some(b) = self.backends {
            for (i, name) in b.iter().enumerate() {
                if !BACKENDS.contains(&name.as_str()) {
                    return Err((
                        format!("respond.backends[{i}]"),
                        format!("unknown backend {name:?} ({})", BACKENDS.join(", ")),
                    ));
                }
                if b[..i].contains(name) {
                    return Err((
                        format!("respond.backends[{i}]"),
                        format!("{name:?} listed twice"),
                    ));
                }
            }
            c.backends = b;
        }
        if let Some(v) = self.home_net {
            c.home_net = nets(&k("home_net"), &v)?;
        }
        if let Some(v) = self.allow_home_net {
            c.allow_home_net = v;
        }
        if let Some(v) = self.never_block {
            for (i, s) in v.iter().enumerate() {
                let entry = match Net::parse_strict(s) {
                    Ok(n) => NeverBlock::Net(n),
                    Err(_) if is_hostname(s) && s.parse::<std::net::IpAddr>().is_err() => {
                        NeverBlock::Domain(s.to_ascii_lowercase())
                    }
                    Err(m) => {
                        return Err((
                            format!("respond.never_block[{i}]"),
                            format!("{m}; expected an address, a CIDR or a domain name"),
                        ))
                    }
                };
                c.never_block.push(entry);
            }
        }
        if let Some(v) = self.default_resolvers {
            c.default_resolvers = v;
        }
        c.protected_ranges_file = self
            .protected_ranges_file
            .filter(|p| !p.as_os_str().is_empty());
        if let Some(v) = self.max_new_per_minute {
            if v == 0 {
                return Err((k("max_new_per_minute"), "must be at least 1".into()));
            }
            c.max_new_per_minute = v;
        }
        if let Some(v) = self.max_decisions {
            if !(1..=1 << 24).contains(&v) {
                return Err((k("max_decisions"), format!("{v} is outside 1..=16777216")));
            }
            c.max_decisions = v;
        }
        let second = Duration::from_secs(1);
        if let Some(v) = dur(&k("max_ttl"), &self.max_ttl, second)? {
            c.max_ttl = v;
        }
        if let Some(v) = dur(&k("default_ttl"), &self.default_ttl, second)? {
            c.default_ttl = v;
        }
        if c.default_ttl > c.max_ttl {
            return Err((k("default_ttl"), "longer than respond.max_ttl".into()));
        }
        if let Some(v) = dur(&k("reconcile_interval"), &self.reconcile_interval, second)? {
            c.reconcile_interval = v;
        }
        if let Some(v) = dur(
            &k("element_timeout_max"),
            &self.element_timeout_max,
            second * 60,
        )? {
            c.element_timeout_max = v;
        }
        // Saturating: `reconcile_interval` may be any u64 of seconds, and `* 3` panics past
        // Duration's range (fuzz finding, tests/fuzz/README.md).
        if c.element_timeout_max < c.reconcile_interval.saturating_mul(3) {
            // A capped element is re-asserted by a reconcile once past half its timeout; the
            // next reconcile must come before it lapses.
            return Err((
                k("element_timeout_max"),
                "must be at least 3 x respond.reconcile_interval".into(),
            ));
        }
        let ms = Duration::from_millis(50);
        if let Some(v) = dur(&k("retry_min"), &self.retry_min, ms)? {
            c.retry_min = v;
        }
        if let Some(v) = dur(&k("retry_max"), &self.retry_max, ms)? {
            c.retry_max = v;
        }
        if c.retry_max < c.retry_min {
            return Err((k("retry_max"), "shorter than respond.retry_min".into()));
        }
        self.nftables.apply(&mut c.nftables)?;
        self.ipset.apply(&mut c.ipset)?;
        if let Some(p) = self.list.path.filter(|p| !p.as_os_str().is_empty()) {
            c.list.path = Some(p);
        }
        if let Some(l) = self.list.listen {
            if !l.is_empty()
                && !matches!(l.rsplit_once(':'), Some((_, p)) if p.parse::<u16>().is_ok())
            {
                return Err((k("list.listen"), format!("{l:?} is not host:port")));
            }
            c.list.listen = l;
        }
        let w = self.webhook;
        if let Some(u) = w.url {
            if !(u.is_empty() || u.starts_with("http://") || u.starts_with("https://")) {
                return Err((
                    k("webhook.url"),
                    "must start with http:// or https://".into(),
                ));
            }
            c.webhook.url = u;
        }
        if let Some(v) = dur(&k("webhook.timeout"), &w.timeout, ms)? {
            c.webhook.timeout = v;
        }
        c.webhook.headers = w.headers;
        if let Some(v) = w.batch_max {
            if !(1..=100_000).contains(&v) {
                return Err((k("webhook.batch_max"), format!("{v} is outside 1..=100000")));
            }
            c.webhook.batch_max = v;
        }
        if c.backends.iter().any(|b| b == "webhook") && c.webhook.url.is_empty() {
            return Err((
                k("webhook.url"),
                "required when backends has \"webhook\"".into(),
            ));
        }
        for (i, r) in self.rules.into_iter().enumerate() {
            c.rules.push(r.validate(i, c.max_ttl)?);
        }
        Ok(c)
    }
}

impl RawNft {
    fn apply(self, c: &mut NftConfig) -> Result<(), Invalid> {
        if let Some(p) = self.nft_path {
            c.nft_path = p;
        }
        if let Some(t) = self.table {
            if !name_ok(&t, 64) || t.contains('-') {
                return Err((
                    "respond.nftables.table".into(),
                    "letters, digits and _ only, at most 64".into(),
                ));
            }
            c.table = t;
        }
        if let Some(h) = self.hooks {
            for (i, x) in h.iter().enumerate() {
                if !["input", "forward", "output"].contains(&x.as_str()) {
                    return Err((
                        format!("respond.nftables.hooks[{i}]"),
                        format!("unknown hook {x:?} (input, forward, output)"),
                    ));
                }
            }
            if h.is_empty() {
                return Err((
                    "respond.nftables.hooks".into(),
                    "must name at least one".into(),
                ));
            }
            c.hooks = h;
        }
        if let Some(p) = self.priority {
            if !(-400..=400).contains(&p) {
                return Err((
                    "respond.nftables.priority".into(),
                    format!("{p} is outside -400..=400"),
                ));
            }
            c.priority = p;
        }
        Ok(())
    }
}

impl RawIpset {
    fn apply(self, c: &mut IpsetConfig) -> Result<(), Invalid> {
        if let Some(p) = self.ipset_path {
            c.ipset_path = p;
        }
        if let Some(p) = self.iptables_path {
            c.iptables_path = p;
        }
        if let Some(p) = self.ip6tables_path {
            c.ip6tables_path = p;
        }
        if let Some(s) = self.set_prefix {
            // ipset names are at most 31 bytes; "-v6" is appended.
            if !name_ok(&s, 28) {
                return Err((
                    "respond.ipset.set_prefix".into(),
                    "letters, digits, _ and - only, at most 28".into(),
                ));
            }
            c.set_prefix = s;
        }
        if let Some(ch) = self.chains {
            for (i, x) in ch.iter().enumerate() {
                if !["INPUT", "FORWARD", "OUTPUT"].contains(&x.as_str()) {
                    return Err((
                        format!("respond.ipset.chains[{i}]"),
                        format!("unknown chain {x:?} (INPUT, FORWARD, OUTPUT)"),
                    ));
                }
            }
            if ch.is_empty() {
                return Err((
                    "respond.ipset.chains".into(),
                    "must name at least one".into(),
                ));
            }
            c.chains = ch;
        }
        Ok(())
    }
}

impl RawRule {
    fn validate(self, i: usize, max_ttl: Duration) -> Result<Rule, Invalid> {
        let k = |s: &str| format!("respond.rules[{i}].{s}");
        let name = self.name.unwrap_or_default();
        if !name_ok(&name, 64) {
            return Err((
                k("name"),
                "required: letters, digits, _ and - only, at most 64".into(),
            ));
        }
        if self.categories.is_empty()
            && self.signature_ids.is_empty()
            && self.detectors.is_empty()
            && self.indicator_types.is_empty()
            && self.indicator_sources.is_empty()
            && self.min_severity.is_none()
        {
            // A rule without criteria would block on every alert.
            return Err((
                k("(criteria)"),
                "a rule needs at least one of categories, signature_ids, detectors, indicator_types, indicator_sources, min_severity".into(),
            ));
        }
        if let Some(s) = self.min_severity {
            if !(1..=255).contains(&s) {
                return Err((k("min_severity"), "1 (most severe) or more".into()));
            }
        }
        let block = match self.block.as_deref() {
            None => {
                return Err((
                    k("block"),
                    "required: src, dest, indicator or remote".into(),
                ))
            }
            Some(b) => Target::parse(b).ok_or_else(|| {
                (
                    k("block"),
                    format!("unknown target {b:?} (src, dest, indicator, remote)"),
                )
            })?,
        };
        let ttl = dur(&k("ttl"), &self.ttl, Duration::from_secs(1))?
            .ok_or_else(|| (k("ttl"), "required (e.g. \"1h\")".to_string()))?;
        if ttl > max_ttl {
            return Err((k("ttl"), "longer than respond.max_ttl".into()));
        }
        Ok(Rule {
            name,
            categories: self.categories,
            signature_ids: self.signature_ids,
            detectors: self.detectors,
            indicator_types: self.indicator_types,
            indicator_sources: self.indicator_sources,
            min_severity: self.min_severity,
            block,
            ttl,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RespondConfig, Invalid> {
        let raw: RawRespond =
            toml::from_str(text).map_err(|e| ("(toml)".to_string(), e.to_string()))?;
        raw.validate()
    }

    #[test]
    fn empty_section_is_the_default() {
        assert_eq!(parse("").expect("empty"), RespondConfig::default());
    }

    #[test]
    fn bad_values_name_their_key() {
        let key = |t: &str| parse(t).expect_err("refused").0;
        assert_eq!(key("backends = [\"pf\"]"), "respond.backends[0]");
        assert_eq!(key("home_net = [\"10.0.0.1/8\"]"), "respond.home_net[0]");
        assert_eq!(
            key("never_block = [\"bad name!\"]"),
            "respond.never_block[0]"
        );
        assert_eq!(key("backends = [\"webhook\"]"), "respond.webhook.url");
        assert_eq!(key("[nftables]\ntable = \"x y\""), "respond.nftables.table");
        assert_eq!(
            key("[[rules]]\nname = \"a\"\nblock = \"dest\"\nttl = \"1h\""),
            "respond.rules[0].(criteria)"
        );
        assert_eq!(
            key("[[rules]]\nname = \"a\"\nmin_severity = 2\nblock = \"elsewhere\"\nttl = \"1h\""),
            "respond.rules[0].block"
        );
        assert_eq!(
            key("[[rules]]\nname = \"a\"\nmin_severity = 2\nblock = \"src\""),
            "respond.rules[0].ttl"
        );
        assert_eq!(key("default_ttl = \"0s\""), "respond.default_ttl");
        assert_eq!(
            key("reconcile_interval = \"10h\""),
            "respond.element_timeout_max"
        );
    }

    #[test]
    fn never_block_takes_addresses_cidrs_and_domains() {
        let c = parse("never_block = [\"192.0.2.1\", \"198.51.100.0/24\", \"Resolver.Example.\"]")
            .err()
            .map(|e| e.1);
        // A trailing dot leaves an empty label: refused rather than guessed.
        assert!(c.is_some());
        let c = parse("never_block = [\"192.0.2.1\", \"198.51.100.0/24\", \"Resolver.Example\"]")
            .expect("valid");
        assert_eq!(c.never_block.len(), 3);
        assert_eq!(
            c.never_block[2],
            NeverBlock::Domain("resolver.example".into())
        );
    }
}
