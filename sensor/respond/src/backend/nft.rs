//! nftables: a table of our own (`inet tapir` by default) holding two sets, `v4` and `v6`,
//! declared `flags interval, timeout` (interval, so a CIDR element matches every address in
//! it, not only the network address: the CrowdSec bouncer's crowdsec#4517), each element with
//! its own timeout, and one base chain per hook with drop rules referencing the sets. Nothing
//! outside the table is ever named.
//!
//! Input is generated text fed to `nft -f -`: one atomic transaction per call, never a shell,
//! never one call per element. New elements are added. Whenever an element must change (a
//! longer timeout for an extended decision, a re-asserted capped timeout) or go, the set of
//! that family is rewritten: `flush set` and `add element` of every element with its
//! remaining time, in the same transaction. That sets the new timeout on every kernel (a
//! plain re-add leaves an existing element's timeout as it was before Linux 6.10, the
//! cs-firewall-bouncer #243 and #509 failure), packets see the old set or the new one and
//! never a gap, and it is fast where nft's element deletion is not (nft 1.0.6: flush + add of
//! 10 000 elements 84 ms, 65 536 in 0.6 s; deleting 10 000 from a 10 000 set 33 s).
//!
//! Interval sets refuse overlapping elements, so what is pushed is the *effective* set: a
//! decision inside a wider one is left out while the wider one is live, and pushed when it
//! goes (within one committer tick).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::Value;

use super::{timeout_secs, Backend, Desired, PushReport};
use crate::config::RespondConfig;
use crate::exec::run;
use crate::net::Net;

/// Seconds of slack when comparing kernel timeouts with desired ones (the listing reports
/// whole seconds, and time passes between computing and applying).
const TOLERANCE_S: u64 = 2;

/// Elements per `add element` statement.
const CHUNK: usize = 500;

pub struct Nft {
    path: PathBuf,
    table: String,
    hooks: Vec<String>,
    priority: i32,
    cap_ms: u64,
    /// Effective elements believed to be in the kernel, with the kernel expiry (Unix ms)
    /// pushed; `None` when unknown (start, after an error): the next call reads and repairs.
    pushed: Option<BTreeMap<Net, u64>>,
    /// The table, sets, chains and rules were asserted by this instance.
    ensured: bool,
}

impl Nft {
    pub fn new(cfg: &RespondConfig) -> Nft {
        Nft {
            path: cfg.nftables.nft_path.clone(),
            table: cfg.nftables.table.clone(),
            hooks: cfg.nftables.hooks.clone(),
            priority: cfg.nftables.priority,
            cap_ms: u64::try_from(cfg.element_timeout_max.as_millis()).unwrap_or(u64::MAX),
            pushed: None,
            ensured: false,
        }
    }

    fn nft(&self, args: &[&str], input: Option<&str>) -> Result<String, crate::exec::ToolError> {
        run(&self.path, args, input)
    }

    fn run_script(&mut self, script: &str) -> Result<(), String> {
        self.nft(&["-f", "-"], Some(script))
            .map(|_| ())
            .map_err(|e| {
                self.pushed = None;
                self.ensured = false;
                format!("nftables: {e}")
            })
    }
}

/// The elements to push: desired networks not inside another desired network, with the
/// expiry of each.
pub fn effective(next: &Desired) -> BTreeMap<Net, u64> {
    let mut out = BTreeMap::new();
    let mut cover: Option<Net> = None;
    // Sorted by family, address, then prefix length: a block comes before the networks inside
    // it, so the last kept one is the only candidate cover.
    for (net, e) in next {
        if cover.is_some_and(|c| c.contains(net)) {
            continue;
        }
        cover = Some(*net);
        out.insert(*net, e.expires_ms);
    }
    out
}

/// Table, sets, chains and rules, idempotently: `add` of what exists is a no-op, and each
/// chain is flushed and refilled in the same transaction, so our rules are exactly these.
pub fn ruleset_script(table: &str, hooks: &[String], priority: i32) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "add table inet {table}");
    for (set, ty) in [("v4", "ipv4_addr"), ("v6", "ipv6_addr")] {
        let _ = writeln!(
            s,
            "add set inet {table} {set} {{ type {ty}; flags interval, timeout; }}"
        );
    }
    for hook in hooks {
        let _ = writeln!(
            s,
            "add chain inet {table} {hook} {{ type filter hook {hook} priority {priority}; policy accept; }}"
        );
        let _ = writeln!(s, "flush chain inet {table} {hook}");
        // Input: traffic from a blocked address; output: traffic to one; forward: both.
        let dirs: &[&str] = match hook.as_str() {
            "input" => &["saddr"],
            "output" => &["daddr"],
            _ => &["saddr", "daddr"],
        };
        for (fam, set) in [("ip", "v4"), ("ip6", "v6")] {
            for d in dirs {
                let _ = writeln!(
                    s,
                    "add rule inet {table} {hook} {fam} {d} @{set} counter drop"
                );
            }
        }
    }
    s
}

/// An element as nft reads it: `1.2.3.4`, `1.2.3.0/24`, or a range `a-b`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Elem {
    Net(Net),
    Range(String, String),
}

/// `add element` of new elements, per family, in chunks.
pub fn add_script(table: &str, adds: &[(Net, u64)]) -> String {
    let mut s = String::new();
    for v4 in [true, false] {
        let set = if v4 { "v4" } else { "v6" };
        let fam: Vec<&(Net, u64)> = adds.iter().filter(|(n, _)| n.is_ipv4() == v4).collect();
        push_elements(&mut s, table, set, &fam);
    }
    s
}

/// The whole set of one family replaced: flushed and refilled in the same transaction.
pub fn rewrite_script(table: &str, v4: bool, all: &[(Net, u64)]) -> String {
    let set = if v4 { "v4" } else { "v6" };
    let mut s = format!("flush set inet {table} {set}\n");
    let fam: Vec<&(Net, u64)> = all.iter().filter(|(n, _)| n.is_ipv4() == v4).collect();
    push_elements(&mut s, table, set, &fam);
    s
}

fn push_elements(s: &mut String, table: &str, set: &str, elems: &[&(Net, u64)]) {
    for chunk in elems.chunks(CHUNK) {
        let timed: Vec<String> = chunk
            .iter()
            .map(|(n, t)| format!("{n} timeout {t}s"))
            .collect();
        let _ = writeln!(
            s,
            "add element inet {table} {set} {{ {} }}",
            timed.join(", ")
        );
    }
}

/// What `nft -j list table` says about one of our sets.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SetState {
    /// Declared with both `interval` and `timeout` and the right type.
    pub sound: bool,
    /// Elements with their remaining seconds (`None`: no timeout).
    pub elems: BTreeMap<Elem, Option<u64>>,
}

/// Parses the JSON listing of our table: the `v4` and `v6` sets, when present.
pub fn parse_listing(json: &str) -> Result<(Option<SetState>, Option<SetState>), String> {
    let v: Value = serde_json::from_str(json).map_err(|e| format!("nft -j output: {e}"))?;
    let items = v
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or("nft -j output: no \"nftables\" array")?;
    let (mut v4, mut v6) = (None, None);
    for it in items {
        let Some(set) = it.get("set") else { continue };
        let name = set.get("name").and_then(Value::as_str).unwrap_or("");
        let want_ty = match name {
            "v4" => "ipv4_addr",
            "v6" => "ipv6_addr",
            _ => continue,
        };
        let flags: Vec<&str> = set
            .get("flags")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut st = SetState {
            sound: set.get("type").and_then(Value::as_str) == Some(want_ty)
                && flags.contains(&"interval")
                && flags.contains(&"timeout"),
            elems: BTreeMap::new(),
        };
        for e in set
            .get("elem")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (val, expires) = match e.get("elem") {
                Some(inner) => (
                    inner.get("val").unwrap_or(&Value::Null),
                    inner.get("expires").and_then(Value::as_u64),
                ),
                None => (e, None),
            };
            if let Some(el) = parse_elem(val) {
                st.elems.insert(el, expires);
            }
        }
        if name == "v4" {
            v4 = Some(st);
        } else {
            v6 = Some(st);
        }
    }
    Ok((v4, v6))
}

fn parse_elem(v: &Value) -> Option<Elem> {
    if let Some(s) = v.as_str() {
        return Net::parse_lenient(s).ok().map(Elem::Net);
    }
    if let Some(p) = v.get("prefix") {
        let addr = p.get("addr")?.as_str()?;
        let len = p.get("len")?.as_u64()?;
        return Net::parse_lenient(&format!("{addr}/{len}"))
            .ok()
            .map(Elem::Net);
    }
    if let Some(r) = v.get("range").and_then(Value::as_array) {
        let a = r.first()?.as_str()?;
        let b = r.get(1)?.as_str()?;
        return Some(Elem::Range(a.to_string(), b.to_string()));
    }
    None
}

/// What a resync must do to one family's set. `rewrite`: some element is stale (missing
/// timeout, timeout off by more than the tolerance, a capped one past half its time) or
/// should not be there; otherwise `missing` elements are simply added.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub rewrite: bool,
    pub missing: Vec<Net>,
    /// Elements missing, stale or extra; capped timeouts re-asserted on schedule are not drift.
    pub drift: usize,
}

/// Compares one family's actual elements with the wanted ones (effective set, expiries).
pub fn plan(
    actual: &BTreeMap<Elem, Option<u64>>,
    want: &BTreeMap<Net, u64>,
    now_ms: u64,
    cap_ms: u64,
) -> Plan {
    let mut p = Plan::default();
    for (net, exp) in want {
        let want_s = timeout_secs(*exp, now_ms, cap_ms);
        let capped = exp.saturating_sub(now_ms) > cap_ms;
        match actual.get(&Elem::Net(*net)) {
            None => {
                p.drift += 1;
                p.missing.push(*net);
            }
            Some(None) => {
                p.drift += 1;
                p.rewrite = true;
            }
            Some(Some(have_s)) if capped => {
                if have_s.saturating_mul(1000) < cap_ms / 2 {
                    p.rewrite = true;
                }
            }
            Some(Some(have_s)) => {
                if have_s + TOLERANCE_S < want_s || *have_s > want_s + TOLERANCE_S {
                    p.drift += 1;
                    p.rewrite = true;
                }
            }
        }
    }
    let extra = actual
        .keys()
        .filter(|e| match e {
            Elem::Net(n) => !want.contains_key(n),
            Elem::Range(..) => true,
        })
        .count();
    if extra > 0 {
        p.drift += extra;
        p.rewrite = true;
    }
    p
}

fn timed(want: &BTreeMap<Net, u64>, now_ms: u64, cap_ms: u64) -> Vec<(Net, u64)> {
    want.iter()
        .map(|(n, e)| (*n, timeout_secs(*e, now_ms, cap_ms)))
        .collect()
}

impl Nft {
    /// What the kernel holds after a push of `want` at `now_ms` (expiry per element).
    fn record(&mut self, want: &BTreeMap<Net, u64>, now_ms: u64) {
        self.pushed = Some(
            want.iter()
                .map(|(n, e)| (*n, now_ms + timeout_secs(*e, now_ms, self.cap_ms) * 1000))
                .collect(),
        );
    }
}

impl Backend for Nft {
    fn name(&self) -> &'static str {
        "nftables"
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
        let want = effective(next);
        let mut rewrite = [false, false];
        let (mut added, mut removed) = (0, 0);
        let mut adds = Vec::new();
        for n in pushed.keys().filter(|n| !want.contains_key(n)) {
            // Gone, or now inside a wider block; even one about to lapse goes now (its
            // timeout, rounded up to the second, could outlive the decision and block a
            // network it covered from going in).
            rewrite[usize::from(!n.is_ipv4())] = true;
            removed += 1;
        }
        for (net, exp) in &want {
            let target = (*exp).min(now_ms.saturating_add(self.cap_ms));
            match pushed.get(net) {
                None => adds.push((*net, timeout_secs(*exp, now_ms, self.cap_ms))),
                // `have` is what we pushed (rounded up), so any extension shows.
                Some(&have)
                    if have <= now_ms
                        || target > have
                        || (target < *exp && have < now_ms + self.cap_ms / 2) =>
                {
                    rewrite[usize::from(!net.is_ipv4())] = true;
                    added += 1;
                }
                Some(_) => {}
            }
        }
        if adds.is_empty() && !rewrite[0] && !rewrite[1] {
            return Ok(PushReport::default());
        }
        let mut script = if self.ensured {
            String::new()
        } else {
            ruleset_script(&self.table, &self.hooks, self.priority)
        };
        let all = timed(&want, now_ms, self.cap_ms);
        let mut plain = Vec::new();
        for (i, v4) in [true, false].into_iter().enumerate() {
            if rewrite[i] {
                script.push_str(&rewrite_script(&self.table, v4, &all));
            } else {
                plain.extend(adds.iter().filter(|(n, _)| n.is_ipv4() == v4).copied());
            }
        }
        script.push_str(&add_script(&self.table, &plain));
        added += adds.len();
        self.run_script(&script)?;
        self.ensured = true;
        self.record(&want, now_ms);
        Ok(PushReport {
            added,
            removed,
            drift: 0,
        })
    }

    fn resync(&mut self, next: &Desired, now_ms: u64) -> Result<PushReport, String> {
        let want = effective(next);
        let t = self.table.clone();
        let listing = self.nft(&["-j", "list", "table", "inet", &t], None);
        let mut actual = [BTreeMap::new(), BTreeMap::new()];
        let mut script = match listing {
            Ok(json) => {
                let (v4, v6) = parse_listing(&json)?;
                let broken = [&v4, &v6]
                    .iter()
                    .any(|s| s.as_ref().is_some_and(|s| !s.sound));
                if broken {
                    // A set of ours without the interval or timeout flag (an older tapir, or
                    // edited by hand) cannot be fixed in place: the table is rebuilt, in the
                    // same transaction as its refill.
                    format!("delete table inet {t}\n")
                } else {
                    actual = [
                        v4.map(|s| s.elems).unwrap_or_default(),
                        v6.map(|s| s.elems).unwrap_or_default(),
                    ];
                    String::new()
                }
            }
            // The table does not exist yet.
            Err(e) if e.ran && e.stderr.contains("No such file or directory") => String::new(),
            Err(e) => {
                self.pushed = None;
                return Err(format!("nftables: {e}"));
            }
        };
        script.push_str(&ruleset_script(&t, &self.hooks, self.priority));
        let all = timed(&want, now_ms, self.cap_ms);
        let mut rep = PushReport::default();
        for (i, v4) in [true, false].into_iter().enumerate() {
            let fam: BTreeMap<Net, u64> = want
                .iter()
                .filter(|(n, _)| n.is_ipv4() == v4)
                .map(|(n, e)| (*n, *e))
                .collect();
            let p = plan(&actual[i], &fam, now_ms, self.cap_ms);
            rep.drift += p.drift;
            if p.rewrite {
                script.push_str(&rewrite_script(&t, v4, &all));
                rep.added += fam.len();
                rep.removed += actual[i]
                    .keys()
                    .filter(|e| !matches!(e, Elem::Net(n) if fam.contains_key(n)))
                    .count();
            } else {
                let missing: std::collections::BTreeSet<&Net> = p.missing.iter().collect();
                let adds: Vec<(Net, u64)> = all
                    .iter()
                    .filter(|(n, _)| missing.contains(n))
                    .copied()
                    .collect();
                rep.added += adds.len();
                script.push_str(&add_script(&t, &adds));
            }
        }
        self.run_script(&script)?;
        self.ensured = true;
        self.record(&want, now_ms);
        Ok(rep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Entry;

    fn n(s: &str) -> Net {
        Net::parse_strict(s).expect("net")
    }

    fn desired(v: &[(&str, u64)]) -> Desired {
        v.iter()
            .map(|(s, e)| {
                (
                    n(s),
                    Entry {
                        net: n(s),
                        expires_ms: *e,
                        origin: "t".into(),
                        reason: "r".into(),
                    },
                )
            })
            .collect()
    }

    /// Written by hand from the nft(8) manual ("SETS", "ELEMENTS", "CHAINS", "RULES") and
    /// the `flags interval, timeout` set form, not produced by the code.
    const GOLDEN_RULESET: &str = "\
add table inet tapir
add set inet tapir v4 { type ipv4_addr; flags interval, timeout; }
add set inet tapir v6 { type ipv6_addr; flags interval, timeout; }
add chain inet tapir input { type filter hook input priority -10; policy accept; }
flush chain inet tapir input
add rule inet tapir input ip saddr @v4 counter drop
add rule inet tapir input ip6 saddr @v6 counter drop
add chain inet tapir forward { type filter hook forward priority -10; policy accept; }
flush chain inet tapir forward
add rule inet tapir forward ip saddr @v4 counter drop
add rule inet tapir forward ip daddr @v4 counter drop
add rule inet tapir forward ip6 saddr @v6 counter drop
add rule inet tapir forward ip6 daddr @v6 counter drop
add chain inet tapir output { type filter hook output priority -10; policy accept; }
flush chain inet tapir output
add rule inet tapir output ip daddr @v4 counter drop
add rule inet tapir output ip6 daddr @v6 counter drop
";

    const GOLDEN_ADD: &str = "\
add element inet tapir v4 { 198.51.100.0/24 timeout 60s, 203.0.113.66 timeout 3600s }
add element inet tapir v6 { 2001:db8::bad:c2 timeout 5s }
";

    const GOLDEN_REWRITE_V4: &str = "\
flush set inet tapir v4
add element inet tapir v4 { 198.51.100.0/24 timeout 60s, 203.0.113.66 timeout 3600s }
";

    #[test]
    fn ruleset_matches_the_golden_text() {
        let hooks: Vec<String> = ["input", "forward", "output"].map(String::from).to_vec();
        assert_eq!(ruleset_script("tapir", &hooks, -10), GOLDEN_RULESET);
    }

    #[test]
    fn element_scripts_match_the_golden_text() {
        let elems = [
            (n("198.51.100.0/24"), 60),
            (n("203.0.113.66"), 3600),
            (n("2001:db8::bad:c2"), 5),
        ];
        assert_eq!(add_script("tapir", &elems), GOLDEN_ADD);
        assert_eq!(rewrite_script("tapir", true, &elems), GOLDEN_REWRITE_V4);
        assert_eq!(
            rewrite_script("tapir", false, &[]),
            "flush set inet tapir v6\n"
        );
    }

    #[test]
    fn effective_set_leaves_out_networks_inside_others() {
        let d = desired(&[
            ("10.9.0.0/24", 5),
            ("10.9.0.5", 9),
            ("10.9.1.0/24", 5),
            ("10.0.0.0/8", 1),
            ("11.0.0.1", 2),
            ("2001:db8::/32", 3),
            ("2001:db8::1", 4),
        ]);
        let e: Vec<String> = effective(&d).keys().map(ToString::to_string).collect();
        assert_eq!(e, ["10.0.0.0/8", "11.0.0.1", "2001:db8::/32"]);
    }

    #[test]
    fn listing_is_parsed_and_unsound_sets_are_noticed() {
        // As printed by nft 1.0.6 for `nft -j list table inet tapir`.
        let json = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "tapir", "handle": 1}}, {"set": {"family": "inet", "name": "v4", "table": "tapir", "type": "ipv4_addr", "handle": 2, "flags": ["interval", "timeout"], "elem": [{"elem": {"val": {"prefix": {"addr": "10.9.0.0", "len": 24}}, "timeout": 30, "expires": 29}}, {"elem": {"val": "192.0.2.1", "timeout": 10, "expires": 9}}, {"range": ["192.0.2.10", "192.0.2.20"]}]}}, {"set": {"family": "inet", "name": "v6", "table": "tapir", "type": "ipv6_addr", "handle": 3, "flags": ["timeout"]}}]}"#;
        let (v4, v6) = parse_listing(json).expect("parse");
        let v4 = v4.expect("v4");
        assert!(v4.sound);
        assert_eq!(v4.elems.get(&Elem::Net(n("10.9.0.0/24"))), Some(&Some(29)));
        assert_eq!(v4.elems.get(&Elem::Net(n("192.0.2.1"))), Some(&Some(9)));
        assert_eq!(
            v4.elems
                .get(&Elem::Range("192.0.2.10".into(), "192.0.2.20".into())),
            Some(&None)
        );
        // The crowdsec#4517 shape: no interval flag.
        assert!(!v6.expect("v6").sound);
        assert!(parse_listing("not json").is_err());
    }

    #[test]
    fn plan_adds_missing_and_rewrites_on_stale_or_extra_elements() {
        let now = 1_000_000;
        let cap = 86_400_000;
        let set = |v: &[(&str, Option<u64>)]| -> BTreeMap<Elem, Option<u64>> {
            v.iter().map(|(s, t)| (Elem::Net(n(s)), *t)).collect()
        };
        let want: BTreeMap<Net, u64> = [
            (n("192.0.2.1"), now + 10_000),
            (n("192.0.2.2"), now + 60_000),
            (n("192.0.2.5"), now + 7 * cap),
        ]
        .into_iter()
        .collect();
        // In step (the capped one past half its time): nothing.
        let ok = set(&[
            ("192.0.2.1", Some(9)),
            ("192.0.2.2", Some(59)),
            ("192.0.2.5", Some(50_000)),
        ]);
        assert_eq!(plan(&ok, &want, now, cap), Plan::default());
        // One missing: added, no rewrite.
        let missing = set(&[("192.0.2.1", Some(9)), ("192.0.2.5", Some(50_000))]);
        assert_eq!(
            plan(&missing, &want, now, cap),
            Plan {
                rewrite: false,
                missing: vec![n("192.0.2.2")],
                drift: 1
            }
        );
        // Extended to 60 s while the kernel still says 3 s (the #243 shape): rewrite.
        let stale = set(&[
            ("192.0.2.1", Some(9)),
            ("192.0.2.2", Some(3)),
            ("192.0.2.5", Some(50_000)),
        ]);
        assert!(plan(&stale, &want, now, cap).rewrite);
        // A capped element under half its time is re-asserted, not counted as drift.
        let due = set(&[
            ("192.0.2.1", Some(9)),
            ("192.0.2.2", Some(59)),
            ("192.0.2.5", Some(40_000)),
        ]);
        assert_eq!(
            plan(&due, &want, now, cap),
            Plan {
                rewrite: true,
                missing: vec![],
                drift: 0
            }
        );
        // Someone else's element in our set, and a range: rewrite, both drift.
        let mut extra = ok.clone();
        extra.insert(Elem::Net(n("192.0.2.9")), Some(100));
        extra.insert(Elem::Range("192.0.2.10".into(), "192.0.2.20".into()), None);
        assert_eq!(
            plan(&extra, &want, now, cap),
            Plan {
                rewrite: true,
                missing: vec![],
                drift: 2
            }
        );
    }
}
