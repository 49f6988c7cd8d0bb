//! Decisions: one per network, deduplicated; a repeat extends the expiry. Pure data with the
//! clock passed in, so the same code serves the tap, operator commands and hunts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::guard::GuardHit;
use crate::net::Net;
use crate::policy::Request;

/// A block in force until `expires_ms` (Unix ms, wall clock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub net: Net,
    /// Rule name, `operator`, `hunt:<name>`.
    pub origin: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indicator: Option<String>,
    /// The TTL last applied.
    pub ttl_ms: u64,
    pub created_ms: u64,
    pub expires_ms: u64,
    /// How many times it was asked for (alerts that repeated it).
    #[serde(default)]
    pub hits: u64,
}

impl Decision {
    pub fn from_request(r: &Request, now_ms: u64) -> Decision {
        let ttl_ms = u64::try_from(r.ttl.as_millis()).unwrap_or(u64::MAX);
        Decision {
            net: r.net,
            origin: r.origin.clone(),
            reason: r.reason.clone(),
            sid: r.sid,
            indicator: r.indicator.clone(),
            ttl_ms,
            created_ms: now_ms,
            expires_ms: now_ms.saturating_add(ttl_ms),
            hits: 1,
        }
    }

    pub fn live(&self, now_ms: u64) -> bool {
        self.expires_ms > now_ms
    }
}

/// What a request did to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    Created,
    Extended {
        previous_expires_ms: u64,
    },
    /// Already in force at least as long (or extended by less than the granularity).
    Unchanged,
}

/// Decisions by network. At most `max` live ones: a new one past that is refused
/// ([`GuardHit::MaxDecisions`]); extensions always pass.
#[derive(Debug, Clone)]
pub struct DecisionStore {
    map: BTreeMap<Net, Decision>,
    max: usize,
}

/// A repeat moves the expiry only by at least this share of the TTL (and 1 s), so an alert
/// that fires a thousand times a second does not rewrite the journal or the firewall each
/// time: at most ~100 extensions per TTL.
const EXTEND_GRANULARITY_DIV: u64 = 100;

impl DecisionStore {
    pub fn new(max: usize) -> DecisionStore {
        DecisionStore {
            map: BTreeMap::new(),
            max,
        }
    }

    /// Records a request: creates, extends (the later expiry wins) or leaves it.
    ///
    /// # Errors
    /// [`GuardHit::MaxDecisions`] when a new decision would pass the cap.
    pub fn upsert(&mut self, r: &Request, now_ms: u64) -> Result<Upsert, GuardHit> {
        let fresh = Decision::from_request(r, now_ms);
        if let Some(d) = self.map.get_mut(&r.net) {
            if d.live(now_ms) {
                d.hits = d.hits.saturating_add(1);
                let step = (fresh.ttl_ms / EXTEND_GRANULARITY_DIV).max(1000);
                if fresh.expires_ms >= d.expires_ms.saturating_add(step)
                    || (fresh.expires_ms > d.expires_ms && fresh.ttl_ms < step * 2)
                {
                    let previous_expires_ms = d.expires_ms;
                    d.expires_ms = fresh.expires_ms;
                    d.ttl_ms = fresh.ttl_ms;
                    d.reason = fresh.reason;
                    if fresh.indicator.is_some() {
                        d.indicator = fresh.indicator;
                        d.sid = fresh.sid;
                    }
                    return Ok(Upsert::Extended {
                        previous_expires_ms,
                    });
                }
                return Ok(Upsert::Unchanged);
            }
            *d = fresh;
            return Ok(Upsert::Created);
        }
        // Counting live ones is a scan; only needed when expired ones may still be counted.
        if self.map.len() >= self.max && self.live_count(now_ms) >= self.max {
            return Err(GuardHit::MaxDecisions { max: self.max });
        }
        self.map.insert(r.net, fresh);
        Ok(Upsert::Created)
    }

    /// Puts a decision as it is (journal replay); an existing one keeps the later expiry.
    pub fn merge(&mut self, d: Decision) {
        match self.map.get_mut(&d.net) {
            Some(cur) if cur.expires_ms >= d.expires_ms => {
                cur.hits = cur.hits.max(d.hits);
            }
            _ => {
                self.map.insert(d.net, d);
            }
        }
    }

    /// Replaces whatever is there (operator `add` with an explicit TTL may shorten).
    pub fn put(&mut self, d: Decision) {
        self.map.insert(d.net, d);
    }

    pub fn remove(&mut self, net: &Net) -> Option<Decision> {
        self.map.remove(net)
    }

    /// Removes and returns the decisions whose time is up.
    pub fn expire(&mut self, now_ms: u64) -> Vec<Decision> {
        let gone: Vec<Net> = self
            .map
            .values()
            .filter(|d| !d.live(now_ms))
            .map(|d| d.net)
            .collect();
        gone.iter().filter_map(|n| self.map.remove(n)).collect()
    }

    pub fn get(&self, net: &Net) -> Option<&Decision> {
        self.map.get(net)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Decision> {
        self.map.values()
    }

    pub fn live_count(&self, now_ms: u64) -> usize {
        self.map.values().filter(|d| d.live(now_ms)).count()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn max(&self) -> usize {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn req(net: &str, ttl_s: u64) -> Request {
        Request {
            net: Net::parse_strict(net).expect("net"),
            ttl: Duration::from_secs(ttl_s),
            origin: "test".into(),
            reason: "because".into(),
            sid: Some(1),
            indicator: None,
        }
    }

    #[test]
    fn dedup_and_repeat_extends() {
        let mut s = DecisionStore::new(10);
        assert_eq!(s.upsert(&req("192.0.2.1", 4), 1_000), Ok(Upsert::Created));
        // Half a second later: within the granularity (1 s), nothing moves.
        assert_eq!(s.upsert(&req("192.0.2.1", 4), 1_500), Ok(Upsert::Unchanged));
        assert_eq!(
            s.upsert(&req("192.0.2.1", 4), 3_000),
            Ok(Upsert::Extended {
                previous_expires_ms: 5_000
            })
        );
        let d = s
            .get(&Net::parse_strict("192.0.2.1").expect("net"))
            .expect("kept");
        assert_eq!((d.created_ms, d.expires_ms, d.hits), (1_000, 7_000, 3));
        // A shorter TTL never shortens a live decision.
        assert_eq!(s.upsert(&req("192.0.2.1", 1), 3_500), Ok(Upsert::Unchanged));
        assert_eq!(s.len(), 1);
        // After expiry the same network is a new decision.
        assert_eq!(s.upsert(&req("192.0.2.1", 4), 8_000), Ok(Upsert::Created));
    }

    #[test]
    fn granularity_scales_with_the_ttl() {
        let mut s = DecisionStore::new(10);
        s.upsert(&req("192.0.2.1", 3600), 0).expect("created");
        // 1% of an hour is 36 s: a repeat 10 s later is absorbed, one 40 s later extends.
        assert_eq!(
            s.upsert(&req("192.0.2.1", 3600), 10_000),
            Ok(Upsert::Unchanged)
        );
        assert!(matches!(
            s.upsert(&req("192.0.2.1", 3600), 40_000),
            Ok(Upsert::Extended { .. })
        ));
    }

    #[test]
    fn cap_refuses_new_but_not_repeats_and_expiry_frees() {
        let mut s = DecisionStore::new(2);
        s.upsert(&req("192.0.2.1", 10), 0).expect("1");
        s.upsert(&req("192.0.2.2", 20), 0).expect("2");
        assert_eq!(
            s.upsert(&req("192.0.2.3", 10), 0).map_err(|h| h.name()),
            Err("max_decisions")
        );
        assert!(s.upsert(&req("192.0.2.1", 10), 5_000).is_ok());
        let gone = s.expire(16_000);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].net.to_string(), "192.0.2.1");
        assert_eq!(s.upsert(&req("192.0.2.3", 10), 16_000), Ok(Upsert::Created));
    }

    #[test]
    fn merge_keeps_the_later_expiry() {
        let mut s = DecisionStore::new(10);
        let a = Decision::from_request(&req("192.0.2.1", 10), 0);
        let mut b = a.clone();
        b.expires_ms = 50_000;
        s.merge(b.clone());
        s.merge(a);
        assert_eq!(s.get(&b.net).map(|d| d.expires_ms), Some(50_000));
    }
}
