//! ipset + iptables: two `hash:net` sets with timeout support (`<prefix>-v4`, `<prefix>-v6`),
//! filled through `ipset -exist restore` (with `-exist`, an `add` of a present element sets
//! its new timeout and a `del` of a missing one is not an error), and one iptables/ip6tables
//! rule per chain and direction, inserted first when missing. hash:net holds overlapping
//! networks, so every decision is pushed as it is.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use super::{timeout_secs, Backend, Desired, PushReport};
use crate::config::RespondConfig;
use crate::exec::run;
use crate::net::Net;

/// The kernel's largest ipset timeout, in seconds.
const IPSET_TIMEOUT_MAX_S: u64 = 2_147_483;

const TOLERANCE_S: u64 = 2;

pub struct Ipset {
    ipset: PathBuf,
    iptables: PathBuf,
    ip6tables: PathBuf,
    prefix: String,
    chains: Vec<String>,
    maxelem: usize,
    cap_ms: u64,
    ensured: bool,
    /// Elements believed present, with the kernel expiry pushed (Unix ms).
    pushed: Option<BTreeMap<Net, u64>>,
}

impl Ipset {
    pub fn new(cfg: &RespondConfig) -> Ipset {
        let c = &cfg.ipset;
        Ipset {
            ipset: c.ipset_path.clone(),
            iptables: c.iptables_path.clone(),
            ip6tables: c.ip6tables_path.clone(),
            prefix: c.set_prefix.clone(),
            chains: c.chains.clone(),
            maxelem: cfg.max_decisions.max(1024),
            cap_ms: u64::try_from(cfg.element_timeout_max.as_millis())
                .unwrap_or(u64::MAX)
                .min(IPSET_TIMEOUT_MAX_S * 1000),
            ensured: false,
            pushed: None,
        }
    }

    fn set(&self, v4: bool) -> String {
        format!("{}-{}", self.prefix, if v4 { "v4" } else { "v6" })
    }

    /// Sets (created if missing) and the iptables rules referencing them.
    fn ensure(&mut self) -> Result<(), String> {
        let script = create_script(&self.prefix, self.maxelem);
        run(&self.ipset, &["-exist", "restore"], Some(&script))
            .map_err(|e| format!("ipset: {e}"))?;
        for v4 in [true, false] {
            let tool = if v4 { &self.iptables } else { &self.ip6tables };
            let set = self.set(v4);
            for chain in &self.chains {
                for dir in directions(chain) {
                    let rule = ["-m", "set", "--match-set", set.as_str(), dir, "-j", "DROP"];
                    let mut check = vec!["-w", "-C", chain.as_str()];
                    check.extend_from_slice(&rule);
                    if run(tool, &check, None).is_err() {
                        let mut insert = vec!["-w", "-I", chain.as_str(), "1"];
                        insert.extend_from_slice(&rule);
                        run(tool, &insert, None).map_err(|e| format!("ipset: {e}"))?;
                    }
                }
            }
        }
        self.ensured = true;
        Ok(())
    }

    fn restore(&mut self, script: &str) -> Result<(), String> {
        run(&self.ipset, &["-exist", "restore"], Some(script))
            .map(|_| ())
            .map_err(|e| {
                self.pushed = None;
                self.ensured = false;
                format!("ipset: {e}")
            })
    }
}

fn directions(chain: &str) -> &'static [&'static str] {
    match chain {
        "INPUT" => &["src"],
        "OUTPUT" => &["dst"],
        _ => &["src", "dst"],
    }
}

/// The `create` lines (with `-exist`, a no-op for sets that exist).
pub fn create_script(prefix: &str, maxelem: usize) -> String {
    format!(
        "create {prefix}-v4 hash:net family inet hashsize 1024 maxelem {maxelem} timeout 0\n\
         create {prefix}-v6 hash:net family inet6 hashsize 1024 maxelem {maxelem} timeout 0\n"
    )
}

/// `del` lines, then `add` lines with their timeouts.
pub fn restore_script(prefix: &str, removals: &[Net], renewals: &[(Net, u64)]) -> String {
    let set = |n: &Net| format!("{prefix}-{}", if n.is_ipv4() { "v4" } else { "v6" });
    let mut s = String::new();
    for n in removals {
        let _ = writeln!(s, "del {} {n}", set(n));
    }
    for (n, t) in renewals {
        let _ = writeln!(s, "add {} {n} timeout {t}", set(n));
    }
    s
}

/// Elements of `ipset save <set>` with their remaining seconds.
pub fn parse_save(text: &str, set: &str) -> BTreeMap<Net, Option<u64>> {
    let mut out = BTreeMap::new();
    for l in text.lines() {
        let mut w = l.split_whitespace();
        if w.next() != Some("add") || w.next() != Some(set) {
            continue;
        }
        let Some(Ok(net)) = w.next().map(Net::parse_lenient) else {
            continue;
        };
        let mut timeout = None;
        while let Some(k) = w.next() {
            if k == "timeout" {
                timeout = w.next().and_then(|t| t.parse().ok());
            }
        }
        out.insert(net, timeout);
    }
    out
}

impl Backend for Ipset {
    fn name(&self) -> &'static str {
        "ipset"
    }

    fn apply(
        &mut self,
        _prev: &Desired,
        next: &Desired,
        now_ms: u64,
    ) -> Result<PushReport, String> {
        let Some(pushed) = &self.pushed else {
            return self.resync(next, now_ms);
        };
        let removals: Vec<Net> = pushed
            .iter()
            .filter(|(n, exp)| !next.contains_key(n) && **exp > now_ms)
            .map(|(n, _)| *n)
            .collect();
        let mut renewals = Vec::new();
        for (n, e) in next {
            let target = e.expires_ms.min(now_ms.saturating_add(self.cap_ms));
            let due = match pushed.get(n) {
                None => true,
                Some(&have) => {
                    have <= now_ms
                        || target > have
                        || (target < e.expires_ms && have < now_ms + self.cap_ms / 2)
                }
            };
            if due {
                renewals.push((*n, timeout_secs(e.expires_ms, now_ms, self.cap_ms)));
            }
        }
        if removals.is_empty() && renewals.is_empty() {
            return Ok(PushReport::default());
        }
        if !self.ensured {
            self.ensure()?;
        }
        self.restore(&restore_script(&self.prefix, &removals, &renewals))?;
        let pushed = self.pushed.get_or_insert_with(BTreeMap::new);
        for n in &removals {
            pushed.remove(n);
        }
        pushed.retain(|n, exp| *exp > now_ms || next.contains_key(n));
        for (n, s) in &renewals {
            pushed.insert(*n, now_ms + s * 1000);
        }
        Ok(PushReport {
            added: renewals.len(),
            removed: removals.len(),
            drift: 0,
        })
    }

    fn resync(&mut self, next: &Desired, now_ms: u64) -> Result<PushReport, String> {
        self.ensure().inspect_err(|_| self.pushed = None)?;
        let mut actual = BTreeMap::new();
        for v4 in [true, false] {
            let set = self.set(v4);
            let text = run(&self.ipset, &["save", &set], None).map_err(|e| {
                self.pushed = None;
                format!("ipset: {e}")
            })?;
            actual.extend(parse_save(&text, &set));
        }
        let mut drift = 0;
        let mut renewals = Vec::new();
        for (n, e) in next {
            let want_s = timeout_secs(e.expires_ms, now_ms, self.cap_ms);
            let capped = e.expires_ms.saturating_sub(now_ms) > self.cap_ms;
            match actual.get(n) {
                None | Some(None) => {
                    drift += 1;
                    renewals.push((*n, want_s));
                }
                Some(Some(have)) if capped => {
                    if have.saturating_mul(1000) < self.cap_ms / 2 {
                        renewals.push((*n, want_s));
                    }
                }
                Some(Some(have)) => {
                    if have + TOLERANCE_S < want_s || *have > want_s + TOLERANCE_S {
                        drift += 1;
                        renewals.push((*n, want_s));
                    }
                }
            }
        }
        let removals: Vec<Net> = actual
            .keys()
            .filter(|n| !next.contains_key(n))
            .copied()
            .collect();
        drift += removals.len();
        if !removals.is_empty() || !renewals.is_empty() {
            self.restore(&restore_script(&self.prefix, &removals, &renewals))?;
        }
        let mut pushed = BTreeMap::new();
        for (n, e) in next {
            let kernel = match actual.get(n) {
                Some(Some(s)) => now_ms + s * 1000,
                _ => e.expires_ms.min(now_ms.saturating_add(self.cap_ms)),
            };
            pushed.insert(*n, kernel);
        }
        for (n, s) in &renewals {
            pushed.insert(*n, now_ms + s * 1000);
        }
        self.pushed = Some(pushed);
        Ok(PushReport {
            added: renewals.len(),
            removed: removals.len(),
            drift,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Net {
        Net::parse_strict(s).expect("net")
    }

    /// By hand from ipset(8): `restore` takes the `save` format, one command a line.
    #[test]
    fn restore_script_matches_the_golden_text() {
        assert_eq!(
            create_script("tapir", 65_536),
            "create tapir-v4 hash:net family inet hashsize 1024 maxelem 65536 timeout 0\n\
             create tapir-v6 hash:net family inet6 hashsize 1024 maxelem 65536 timeout 0\n"
        );
        assert_eq!(
            restore_script("tapir", &[n("192.0.2.7")], &[(n("198.51.100.0/24"), 60), (n("2001:db8::bad:c2"), 5)]),
            "del tapir-v4 192.0.2.7\nadd tapir-v4 198.51.100.0/24 timeout 60\nadd tapir-v6 2001:db8::bad:c2 timeout 5\n"
        );
    }

    #[test]
    fn save_output_is_parsed() {
        let text = "create tapir-v4 hash:net family inet hashsize 1024 maxelem 65536 timeout 0 bucketsize 12 initval 0x1\n\
                    add tapir-v4 198.51.100.0/24 timeout 57\nadd tapir-v4 192.0.2.1 timeout 3\nadd other 192.0.2.9\n";
        let m = parse_save(text, "tapir-v4");
        assert_eq!(m.len(), 2);
        assert_eq!(m.get(&n("198.51.100.0/24")), Some(&Some(57)));
        assert_eq!(m.get(&n("192.0.2.1")), Some(&Some(3)));
    }
}
