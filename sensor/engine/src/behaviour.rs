//! Behaviour detection on the writer thread: one [`Detectors`] instance fed by every worker's
//! observations, its findings written as EVE `alert` lines next to the workers' events.
//!
//! Workers emit observations in their own order; the detectors must see one order that does
//! not depend on how flows were spread over workers, or a scan window or a beacon series would
//! differ with the worker count. Observations wait in a heap until every worker has said it
//! will send nothing with a smaller key (the smallest of their marks), then go to the
//! detectors in (key, flow id, emission order) order; see [`crate::observe`] for the keys.
//! Packet time reaches the detectors as `tick` at the first observation of each whole second,
//! also a function of the keys alone.
//!
//! Memory: the heap holds at most [`MAX_PENDING_OBSERVATIONS`] observations (a worker far
//! behind the others would otherwise hold all of them back); past it the oldest go to the
//! detectors out of turn, counted in `behaviour_obs_forced`. The detectors bound their own
//! state by their configuration.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use tapir_detect::{DetectConfig, Detectors, Finding};

use crate::observe::Keyed;
use crate::Stats;

/// Most observations waiting for the slowest worker (about 300 bytes each).
pub const MAX_PENDING_OBSERVATIONS: usize = 1 << 17;

/// Packet time between two detector ticks.
const TICK_US: u64 = 1_000_000;

/// Long-connection thresholds of a detector configuration, in µs of flow age: what the
/// engine reports while flows are still open (none when that detector is off).
pub fn long_conn_thresholds_us(cfg: &DetectConfig) -> Vec<u64> {
    if !cfg.enabled || !cfg.long_conn.enabled {
        return Vec::new();
    }
    cfg.long_conn
        .thresholds_s
        .iter()
        .map(|s| s.saturating_mul(1_000_000))
        .collect()
}

struct Pending(Keyed);

impl Pending {
    fn order(&self) -> (u64, u64, u64) {
        (self.0.key_us, self.0.flow_id, self.0.seq)
    }
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.order() == other.order()
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        self.order().cmp(&other.order())
    }
}

/// The detectors and the merge in front of them.
pub struct Behaviour {
    det: Detectors,
    heap: BinaryHeap<Reverse<Pending>>,
    /// Per worker: no observation with a smaller key will come from it.
    marks: Vec<u64>,
    findings: Vec<Finding>,
    last_tick_us: u64,
    stats: Stats,
}

impl Behaviour {
    /// Detectors for `workers` workers' observations.
    pub fn new(cfg: DetectConfig, workers: usize) -> Self {
        Behaviour {
            det: Detectors::new(cfg),
            heap: BinaryHeap::new(),
            marks: vec![0; workers.max(1)],
            findings: Vec::new(),
            last_tick_us: 0,
            stats: Stats::default(),
        }
    }

    /// Takes one worker's observations (`obs` is left empty for reuse) and its mark, feeds the
    /// detectors what is now complete, and appends their alerts to `out`.
    pub fn accept(&mut self, worker: usize, obs: &mut Vec<Keyed>, done_us: u64, out: &mut Vec<u8>) {
        self.heap.extend(obs.drain(..).map(|k| Reverse(Pending(k))));
        if let Some(m) = self.marks.get_mut(worker) {
            *m = (*m).max(done_us);
        }
        let ready = self.marks.iter().copied().min().unwrap_or(u64::MAX);
        while let Some(Reverse(top)) = self.heap.peek() {
            if top.0.key_us >= ready {
                if self.heap.len() <= MAX_PENDING_OBSERVATIONS {
                    break;
                }
                self.stats.behaviour_obs_forced += 1;
            }
            if let Some(Reverse(p)) = self.heap.pop() {
                self.feed(p.0, out);
            }
        }
    }

    /// The input ended: everything still waiting goes in, then the detectors' final reports.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        while let Some(Reverse(p)) = self.heap.pop() {
            self.feed(p.0, out);
        }
        self.det.finish(&mut self.findings);
        self.write_findings(out);
    }

    /// Behaviour alert counters (to merge into the run's).
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    fn feed(&mut self, k: Keyed, out: &mut Vec<u8>) {
        let second = k.key_us - k.key_us % TICK_US;
        if second > self.last_tick_us {
            self.last_tick_us = second;
            self.det.tick(second, &mut self.findings);
        }
        self.det.observe(&k.obs, &mut self.findings);
        self.write_findings(out);
    }

    fn write_findings(&mut self, out: &mut Vec<u8>) {
        for f in self.findings.drain(..) {
            crate::emit::write_finding(out, &f);
            let st = &mut self.stats;
            st.alerts += 1;
            st.behaviour_alerts += 1;
            *st.behaviour_by_detector.entry(f.detector).or_insert(0) += 1;
            st.event("alert");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tapir_detect::Observation;

    fn dns_at(key_us: u64, flow_id: u64, seq: u64) -> Keyed {
        Keyed {
            key_us,
            flow_id,
            seq,
            obs: Observation::Dns(tapir_detect::obs::DnsObs {
                ts_us: key_us,
                flow_id,
                client: "10.0.0.1".parse().expect("ip"),
                server: "10.0.0.2".parse().expect("ip"),
                client_port: 1000,
                server_port: 53,
                proto: 17,
                qname: "a.example".into(),
                qtype: 1,
                rcode: Some(0),
                answers: 1,
                answer_bytes: 4,
            }),
        }
    }

    #[test]
    fn merge_waits_for_the_slowest_worker_and_orders_by_key() {
        let mut b = Behaviour::new(DetectConfig::default(), 2);
        let mut out = Vec::new();
        let mut v = vec![dns_at(5, 1, 1), dns_at(3, 2, 2)];
        b.accept(0, &mut v, 10, &mut out);
        assert!(v.is_empty());
        // Worker 1 has said nothing yet: everything waits.
        assert_eq!(b.heap.len(), 2);
        let mut v = vec![dns_at(4, 3, 1)];
        b.accept(1, &mut v, 4, &mut out);
        // Below 4 only key 3 is complete.
        assert_eq!(b.heap.len(), 2);
        assert_eq!(b.heap.peek().map(|p| p.0 .0.key_us), Some(4));
        b.accept(1, &mut Vec::new(), u64::MAX, &mut out);
        assert!(b.heap.is_empty());
    }

    #[test]
    fn order_breaks_ties_by_flow_then_emission() {
        let a = Pending(dns_at(7, 2, 9));
        let b = Pending(dns_at(7, 3, 1));
        let c = Pending(dns_at(7, 2, 10));
        assert!(a < b && a < c && c < b);
    }
}
