//! What must never be blocked, checked before a decision exists: reserved ranges, the
//! network's own addresses (`home_net`), the configured never-block list, major public
//! resolvers and the system's own, and an optional file of protected (CDN/cloud) ranges.
//! A block *overlapping* a protected range is refused, so `8.0.0.0/8` is refused for 8.8.8.8.
//!
//! Lookups are linear scans: guards run once per new decision (rate limited), and the lists
//! are bounded by the files the operator gives.

use std::collections::VecDeque;
use std::fmt;
use std::net::{IpAddr, ToSocketAddrs};
use std::path::Path;

use crate::config::{NeverBlock, RespondConfig};
use crate::net::Net;

/// Shipped: the big public resolvers (Google, Cloudflare, Quad9, OpenDNS), v4 and v6.
pub const PUBLIC_RESOLVERS: [&str; 16] = [
    "8.8.8.8",
    "8.8.4.4",
    "1.1.1.1",
    "1.0.0.1",
    "9.9.9.9",
    "149.112.112.112",
    "208.67.222.222",
    "208.67.220.220",
    "2001:4860:4860::8888",
    "2001:4860:4860::8844",
    "2606:4700:4700::1111",
    "2606:4700:4700::1001",
    "2620:fe::fe",
    "2620:fe::9",
    "2620:119:35::35",
    "2620:119:53::53",
];

/// Never meaningful to block and dangerous to: "this network", loopback, multicast, the
/// reserved and broadcast block, the unspecified and loopback IPv6 addresses, IPv6 multicast.
const RESERVED: [&str; 7] = [
    "0.0.0.0/8",
    "127.0.0.0/8",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "ff00::/8",
];

/// Why a block was refused. [`GuardHit::name`] is the counter label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuardHit {
    Reserved { range: Net },
    HomeNet { range: Net },
    NeverBlock { entry: String },
    Resolver { addr: Net, system: bool },
    Protected { entry: String },
    RateLimit { per_minute: u32 },
    MaxDecisions { max: usize },
}

impl GuardHit {
    pub fn name(&self) -> &'static str {
        match self {
            GuardHit::Reserved { .. } => "reserved",
            GuardHit::HomeNet { .. } => "home_net",
            GuardHit::NeverBlock { .. } => "never_block",
            GuardHit::Resolver { .. } => "resolver",
            GuardHit::Protected { .. } => "protected_ranges",
            GuardHit::RateLimit { .. } => "rate_limit",
            GuardHit::MaxDecisions { .. } => "max_decisions",
        }
    }
}

impl fmt::Display for GuardHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuardHit::Reserved { range } => write!(f, "reserved range {range}"),
            GuardHit::HomeNet { range } => {
                write!(f, "home_net {range} (respond.allow_home_net = false)")
            }
            GuardHit::NeverBlock { entry } => write!(f, "never_block {entry}"),
            GuardHit::Resolver { addr, system } => {
                if *system {
                    write!(f, "resolver {addr} (this system's resolv.conf)")
                } else {
                    write!(f, "resolver {addr} (shipped public resolver list)")
                }
            }
            GuardHit::Protected { entry } => write!(f, "protected_ranges {entry}"),
            GuardHit::RateLimit { per_minute } => {
                write!(f, "rate_limit ({per_minute} new blocks per minute)")
            }
            GuardHit::MaxDecisions { max } => write!(f, "max_decisions ({max} active)"),
        }
    }
}

/// The address guards, built once at start.
#[derive(Debug, Clone, Default)]
pub struct Guards {
    reserved: Vec<Net>,
    home_net: Vec<Net>,
    allow_home_net: bool,
    never: Vec<(Net, String)>,
    resolvers: Vec<(Net, bool)>,
    protected: Vec<(Net, String)>,
    /// Problems that did not stop the start (a never-block domain that did not resolve).
    pub warnings: Vec<String>,
}

/// A protected-ranges file could not be used; names file and line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GuardError(pub String);

impl Guards {
    /// Builds the guards; never-block domains are resolved now, and `resolv_conf`'s
    /// nameservers join the resolver list.
    ///
    /// # Errors
    /// The protected-ranges file cannot be read or has a line that is not an address/CIDR.
    pub fn build(cfg: &RespondConfig, resolv_conf: Option<&Path>) -> Result<Guards, GuardError> {
        let mut g = Guards {
            reserved: RESERVED
                .iter()
                .filter_map(|s| Net::parse_strict(s).ok())
                .collect(),
            home_net: cfg.home_net.clone(),
            allow_home_net: cfg.allow_home_net,
            ..Guards::default()
        };
        for e in &cfg.never_block {
            match e {
                NeverBlock::Net(n) => g.never.push((*n, n.to_string())),
                NeverBlock::Domain(d) => match (d.as_str(), 0u16).to_socket_addrs() {
                    Ok(addrs) => {
                        let mut any = false;
                        for a in addrs {
                            any = true;
                            g.never
                                .push((Net::host(a.ip()), format!("{d} ({})", a.ip())));
                        }
                        if !any {
                            g.warnings
                                .push(format!("never_block {d}: resolved to no address"));
                        }
                    }
                    Err(e) => g.warnings.push(format!(
                        "never_block {d}: cannot resolve ({e}); not protected"
                    )),
                },
            }
        }
        if cfg.default_resolvers {
            g.resolvers.extend(
                PUBLIC_RESOLVERS
                    .iter()
                    .filter_map(|s| Net::parse_strict(s).ok())
                    .map(|n| (n, false)),
            );
        }
        if let Some(p) = resolv_conf {
            if let Ok(text) = std::fs::read_to_string(p) {
                for l in text.lines() {
                    let mut w = l.split_whitespace();
                    if w.next() == Some("nameserver") {
                        // Scoped IPv6 (fe80::1%eth0): the scope is not part of the address.
                        let a = w.next().unwrap_or("").split('%').next().unwrap_or("");
                        if let Ok(ip) = a.parse::<IpAddr>() {
                            g.resolvers.push((Net::host(ip), true));
                        }
                    }
                }
            }
        }
        if let Some(p) = &cfg.protected_ranges_file {
            g.protected = load_ranges(p)?;
        }
        Ok(g)
    }

    /// `Ok` when `net` may be blocked; otherwise the first guard that stops it.
    pub fn check(&self, net: &Net) -> Result<(), GuardHit> {
        if let Some(r) = self.reserved.iter().find(|r| r.overlaps(net)) {
            return Err(GuardHit::Reserved { range: *r });
        }
        if !self.allow_home_net {
            if let Some(r) = self.home_net.iter().find(|r| r.overlaps(net)) {
                return Err(GuardHit::HomeNet { range: *r });
            }
        }
        if let Some((_, e)) = self.never.iter().find(|(r, _)| r.overlaps(net)) {
            return Err(GuardHit::NeverBlock { entry: e.clone() });
        }
        if let Some((r, system)) = self.resolvers.iter().find(|(r, _)| r.overlaps(net)) {
            return Err(GuardHit::Resolver {
                addr: *r,
                system: *system,
            });
        }
        if let Some((_, e)) = self.protected.iter().find(|(r, _)| r.overlaps(net)) {
            return Err(GuardHit::Protected { entry: e.clone() });
        }
        Ok(())
    }
}

/// One address or CIDR a line; `#` starts a comment.
fn load_ranges(p: &Path) -> Result<Vec<(Net, String)>, GuardError> {
    let text = std::fs::read_to_string(p).map_err(|e| {
        GuardError(format!(
            "respond.protected_ranges_file {}: {e}",
            p.display()
        ))
    })?;
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let t = l.split('#').next().unwrap_or("").trim();
        if t.is_empty() {
            continue;
        }
        let n = Net::parse_lenient(t)
            .map_err(|e| GuardError(format!("{}:{}: {e}", p.display(), i + 1)))?;
        out.push((n, format!("{t} ({}:{})", p.display(), i + 1)));
    }
    Ok(out)
}

/// New blocks per minute over a sliding window; memory is at most `per_minute` timestamps.
#[derive(Debug, Clone)]
pub struct RateLimit {
    per_minute: u32,
    recent: VecDeque<u64>,
}

impl RateLimit {
    pub fn new(per_minute: u32) -> RateLimit {
        RateLimit {
            per_minute,
            recent: VecDeque::new(),
        }
    }

    /// Takes one slot if the last minute has one free.
    pub fn allow(&mut self, now_ms: u64) -> Result<(), GuardHit> {
        while self
            .recent
            .front()
            .is_some_and(|&t| now_ms.saturating_sub(t) >= 60_000)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= self.per_minute as usize {
            return Err(GuardHit::RateLimit {
                per_minute: self.per_minute,
            });
        }
        self.recent.push_back(now_ms);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Net {
        Net::parse_lenient(s).expect("net")
    }

    fn guards(f: impl FnOnce(&mut RespondConfig)) -> Guards {
        let mut c = RespondConfig::default();
        f(&mut c);
        Guards::build(&c, None).expect("guards")
    }

    #[test]
    fn defaults_stop_home_net_resolvers_and_reserved() {
        let g = guards(|_| {});
        assert_eq!(g.check(&n("203.0.113.66")), Ok(()));
        assert_eq!(g.check(&n("198.51.100.0/24")), Ok(()));
        assert_eq!(
            g.check(&n("10.0.0.2")).map_err(|h| h.name()),
            Err("home_net")
        );
        assert_eq!(
            g.check(&n("8.8.8.8")).map_err(|h| h.name()),
            Err("resolver")
        );
        assert_eq!(
            g.check(&n("2606:4700:4700::1111")).map_err(|h| h.name()),
            Err("resolver")
        );
        // A block that would cover a resolver is refused too.
        assert_eq!(
            g.check(&n("1.0.0.0/8")).map_err(|h| h.name()),
            Err("resolver")
        );
        assert_eq!(
            g.check(&n("0.0.0.0/0")).map_err(|h| h.name()),
            Err("reserved")
        );
        assert_eq!(
            g.check(&n("127.0.0.1")).map_err(|h| h.name()),
            Err("reserved")
        );
        assert_eq!(
            g.check(&n("ff02::1")).map_err(|h| h.name()),
            Err("reserved")
        );
        let msg = g.check(&n("192.168.1.1")).expect_err("home").to_string();
        assert!(msg.contains("192.168.0.0/16"), "{msg}");
    }

    #[test]
    fn configured_lists_and_switches() {
        let g = guards(|c| {
            c.allow_home_net = true;
            c.default_resolvers = false;
            c.never_block = vec![
                NeverBlock::Net(n("192.0.2.0/28")),
                NeverBlock::Domain("localhost".into()),
            ];
        });
        assert_eq!(g.check(&n("10.0.0.2")), Ok(()));
        assert_eq!(g.check(&n("8.8.8.8")), Ok(()));
        let hit = g.check(&n("192.0.2.5")).expect_err("never");
        assert_eq!(
            hit,
            GuardHit::NeverBlock {
                entry: "192.0.2.0/28".into()
            }
        );
        // localhost resolves to loopback, which the reserved guard already stops; the entry
        // is still recorded.
        assert!(
            g.never.iter().any(|(_, e)| e.starts_with("localhost")),
            "{:?}",
            g.never
        );
    }

    #[test]
    fn protected_file_and_system_resolvers() {
        let dir = std::env::temp_dir().join(format!("tapir-guard-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let ranges = dir.join("cdn.txt");
        std::fs::write(
            &ranges,
            "# cdn\n104.16.0.0/13 # cloudflare\n\n2400:cb00::/32\n",
        )
        .expect("write");
        let resolv = dir.join("resolv.conf");
        std::fs::write(
            &resolv,
            "search example\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\n",
        )
        .expect("write");
        let c = RespondConfig {
            protected_ranges_file: Some(ranges.clone()),
            ..RespondConfig::default()
        };
        let g = Guards::build(&c, Some(&resolv)).expect("guards");
        let hit = g.check(&n("104.18.1.1")).expect_err("cdn");
        assert!(hit.to_string().contains("cdn.txt:2"), "{hit}");
        assert_eq!(
            g.check(&n("192.0.2.53")),
            Err(GuardHit::Resolver {
                addr: n("192.0.2.53"),
                system: true
            })
        );
        std::fs::write(&ranges, "104.16.0.0/13\nnot-a-range\n").expect("write");
        let e = Guards::build(&c, None).expect_err("bad line");
        assert!(e.to_string().contains("cdn.txt:2"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn rate_limit_is_a_sliding_minute() {
        let mut r = RateLimit::new(3);
        assert!(r.allow(0).is_ok());
        assert!(r.allow(10).is_ok());
        assert!(r.allow(20).is_ok());
        assert_eq!(r.allow(30).map_err(|h| h.name()), Err("rate_limit"));
        assert!(r.allow(59_999).is_err());
        assert!(r.allow(60_000).is_ok());
        assert!(r.allow(60_005).is_err());
        assert!(r.allow(60_010).is_ok());
    }
}
