//! Where decisions are enforced or exported. Every backend is told the whole desired set
//! (and the set it was last brought to), so it can push a delta when it is in step and
//! repair everything when it was down or drifted.

use std::collections::BTreeMap;

use crate::config::RespondConfig;
use crate::net::Net;

pub mod ipset;
pub mod list;
pub mod nft;
pub mod webhook;

/// One element of the desired set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub net: Net,
    pub expires_ms: u64,
    pub origin: String,
    pub reason: String,
}

/// The desired set, by network.
pub type Desired = BTreeMap<Net, Entry>;

/// What one call changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushReport {
    /// Elements added or given a new timeout.
    pub added: usize,
    pub removed: usize,
    /// For a resync: differences found between the actual and the desired set.
    pub drift: usize,
}

impl PushReport {
    pub fn is_empty(&self) -> bool {
        self.added == 0 && self.removed == 0 && self.drift == 0
    }
}

/// A backend. Calls come from one thread at a time (its runner, or an operator command).
pub trait Backend: Send {
    fn name(&self) -> &'static str;

    /// Brings the backend from `prev` (the set it was last brought to) to `next`.
    ///
    /// # Errors
    /// The backend refused or could not be reached; the caller retries with `resync`.
    fn apply(&mut self, prev: &Desired, next: &Desired, now_ms: u64) -> Result<PushReport, String>;

    /// Reads the backend's actual state where it can and repairs every difference (firewalls,
    /// the list), or sends the whole set (webhook).
    ///
    /// # Errors
    /// As [`Backend::apply`].
    fn resync(&mut self, next: &Desired, now_ms: u64) -> Result<PushReport, String>;

    /// Whether a periodic reconcile makes sense (it reads the actual state); a webhook has
    /// no state to read, so it is resent only after a failure.
    fn reconciles(&self) -> bool {
        true
    }
}

/// The change from `prev` to `next`: entries new or extended, and entries gone while still
/// live (deleted, not expired: an expired one lapses by its own timeout).
pub fn diff(prev: &Desired, next: &Desired, now_ms: u64) -> (Vec<Entry>, Vec<Entry>) {
    let added = next
        .values()
        .filter(|e| match prev.get(&e.net) {
            None => true,
            Some(p) => e.expires_ms > p.expires_ms,
        })
        .cloned()
        .collect();
    let removed = prev
        .values()
        .filter(|p| !next.contains_key(&p.net) && p.expires_ms > now_ms)
        .cloned()
        .collect();
    (added, removed)
}

/// Backends, and the list's HTTP server when one was started.
pub type Built = (Vec<Box<dyn Backend>>, Option<list::Server>);

/// Builds the named backends; `serve_list`: start the HTTP server of the list backend.
///
/// # Errors
/// A backend could not be set up (the list's HTTP address cannot be bound).
pub fn build(cfg: &RespondConfig, names: &[String], serve_list: bool) -> Result<Built, String> {
    let mut out: Vec<Box<dyn Backend>> = Vec::new();
    let mut server = None;
    for n in names {
        match n.as_str() {
            "nftables" => out.push(Box::new(nft::Nft::new(cfg))),
            "ipset" => out.push(Box::new(ipset::Ipset::new(cfg))),
            "list" => {
                let (b, s) = list::List::new(cfg, serve_list)?;
                server = s;
                out.push(Box::new(b));
            }
            "webhook" => out.push(Box::new(webhook::Webhook::new(cfg))),
            other => return Err(format!("unknown backend {other:?}")),
        }
    }
    Ok((out, server))
}

/// Seconds of kernel timeout for an element: what is left of the decision, capped (the cap
/// is re-asserted by reconciles before it lapses), at least 1.
pub fn timeout_secs(expires_ms: u64, now_ms: u64, cap_ms: u64) -> u64 {
    expires_ms
        .saturating_sub(now_ms)
        .min(cap_ms)
        .div_ceil(1000)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn entry(net: &str, expires_ms: u64) -> Entry {
        Entry {
            net: Net::parse_strict(net).expect("net"),
            expires_ms,
            origin: "t".into(),
            reason: "r".into(),
        }
    }

    pub(crate) fn set(entries: &[(&str, u64)]) -> Desired {
        entries
            .iter()
            .map(|(n, e)| {
                let x = entry(n, *e);
                (x.net, x)
            })
            .collect()
    }

    #[test]
    fn diff_reports_new_extended_and_deleted_not_expired() {
        let prev = set(&[
            ("192.0.2.1", 10_000),
            ("192.0.2.2", 10_000),
            ("192.0.2.3", 2_000),
        ]);
        let next = set(&[("192.0.2.1", 20_000), ("192.0.2.4", 10_000)]);
        let (added, removed) = diff(&prev, &next, 5_000);
        let a: Vec<String> = added.iter().map(|e| e.net.to_string()).collect();
        let r: Vec<String> = removed.iter().map(|e| e.net.to_string()).collect();
        assert_eq!(a, ["192.0.2.1", "192.0.2.4"]);
        // .3 expired at 2 s: it lapses by itself; .2 was deleted while live.
        assert_eq!(r, ["192.0.2.2"]);
    }

    #[test]
    fn timeouts_are_capped_and_rounded_up() {
        assert_eq!(timeout_secs(10_500, 1_000, 86_400_000), 10);
        assert_eq!(timeout_secs(10_001, 0, 86_400_000), 11);
        assert_eq!(
            timeout_secs(1_000 + 7 * 86_400_000, 1_000, 86_400_000),
            86_400
        );
        assert_eq!(timeout_secs(0, 5_000, 86_400_000), 1);
    }
}
