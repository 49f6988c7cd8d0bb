//! Port scans from failed attempts only: TCP flows that never completed the handshake (no
//! answer, a RST, or a SYN-ACK the scanner reset) and, optionally, UDP flows with no reply.
//! Vertical: one client, one server, many ports. Horizontal: one client, one port, many
//! servers. Reported when the distinct count reaches the threshold, then again at each
//! doubling within the window (log-scale re-reporting, as Slips does).
//!
//! Memory: two tables of at most `max_keys` keys, each a distinct-count sketch (<= 384 bytes)
//! and `max_flow_ids` flow ids.

use std::net::IpAddr;

use crate::config::ScanConfig;
use crate::home::HomeNet;
use crate::kinds::{ctx, Kind, SCAN_HORIZONTAL, SCAN_VERTICAL};
use crate::lru::{key_hash, Lru};
use crate::obs::{Finding, FlowSummary};
use crate::sketch::{r3, stable_hash_u64, Distinct, FlowIds};
use crate::window::{expired, next_level};

const TCP: u8 = 6;
const UDP: u8 = 17;

pub(crate) struct Scan {
    vertical: Lru<(IpAddr, IpAddr), Entry>,
    horizontal: Lru<(IpAddr, u16, u8), Entry>,
}

#[derive(Default)]
struct Entry {
    start_us: u64,
    last_us: u64,
    attempts: u64,
    rejected: u64,
    unanswered: u64,
    distinct: Distinct,
    /// Distinct count at which the next finding is due.
    level: u64,
    last_server: Option<IpAddr>,
    last_port: u16,
    proto: u8,
    flow_ids: FlowIds,
}

impl Entry {
    fn fresh(now_us: u64, level: u64) -> Self {
        Entry {
            start_us: now_us,
            level,
            ..Entry::default()
        }
    }

    fn reset(&mut self, now_us: u64, level: u64) {
        let mut distinct = std::mem::take(&mut self.distinct);
        let mut flow_ids = std::mem::take(&mut self.flow_ids);
        distinct.clear();
        flow_ids.clear();
        *self = Entry {
            start_us: now_us,
            level,
            distinct,
            flow_ids,
            ..Entry::default()
        };
    }

    fn heap_bytes(&self) -> usize {
        self.distinct.heap_bytes() + self.flow_ids.heap_bytes()
    }
}

/// A connection attempt that failed: the only kind a scan is made of in bulk.
fn failed(f: &FlowSummary, include_udp: bool) -> bool {
    match f.proto {
        // A few packets back at most: a RST, or a SYN-ACK (retransmitted) that the scanner
        // never acknowledged. A flow picked up mid-stream has more.
        TCP => !f.established && f.pkts_toclient <= 3,
        UDP => include_udp && f.pkts_toclient == 0,
        _ => false,
    }
}

impl Scan {
    pub(crate) fn new(cfg: &ScanConfig) -> Self {
        Scan {
            vertical: Lru::new(cfg.max_keys),
            horizontal: Lru::new(cfg.max_keys),
        }
    }

    pub(crate) fn flow_end(
        &mut self,
        f: &FlowSummary,
        cfg: &ScanConfig,
        home: &HomeNet,
        now_us: u64,
        max_ids: usize,
        out: &mut Vec<Finding>,
    ) {
        if !failed(f, cfg.include_udp) || !cfg.scope.admits(home, f.client, f.server) {
            return;
        }
        let vkey = (f.client, f.server);
        let (e, _) = self.vertical.get_or_insert_with(
            key_hash(&vkey),
            |k| *k == vkey,
            || (vkey, Entry::fresh(now_us, cfg.vertical_min_ports)),
        );
        let port_id = u64::from(f.server_port) | (u64::from(f.proto) << 16);
        if let Some(n) = update(
            e,
            f,
            cfg,
            cfg.vertical_min_ports,
            stable_hash_u64(port_id),
            now_us,
            max_ids,
        ) {
            let key = format!("{} -> {}", f.client, f.server);
            let mut found = report(
                e,
                &SCAN_VERTICAL,
                &key,
                f,
                n,
                cfg.vertical_min_ports,
                cfg,
                now_us,
            );
            ctx(&mut found, "distinct_ports", n);
            out.push(found);
        }

        let hkey = (f.client, f.server_port, f.proto);
        let (e, _) = self.horizontal.get_or_insert_with(
            key_hash(&hkey),
            |k| *k == hkey,
            || (hkey, Entry::fresh(now_us, cfg.horizontal_min_hosts)),
        );
        let server_id = match f.server {
            IpAddr::V4(a) => u64::from(u32::from(a)),
            IpAddr::V6(a) => {
                let v = u128::from(a);
                (v as u64) ^ ((v >> 64) as u64).rotate_left(17) ^ (1 << 63)
            }
        };
        if let Some(n) = update(
            e,
            f,
            cfg,
            cfg.horizontal_min_hosts,
            stable_hash_u64(server_id),
            now_us,
            max_ids,
        ) {
            let key = format!(
                "{} -> port {}/{}",
                f.client,
                f.server_port,
                proto_name(f.proto)
            );
            let mut found = report(
                e,
                &SCAN_HORIZONTAL,
                &key,
                f,
                n,
                cfg.horizontal_min_hosts,
                cfg,
                now_us,
            );
            found.dest_port = Some(f.server_port);
            ctx(&mut found, "distinct_hosts", n);
            out.push(found);
        }
    }

    pub(crate) fn sweep(&mut self, cfg: &ScanConfig, now_us: u64) {
        self.vertical
            .evict_oldest_while(|e| expired(e.last_us, cfg.window_s, now_us));
        self.horizontal
            .evict_oldest_while(|e| expired(e.last_us, cfg.window_s, now_us));
    }

    pub(crate) fn len(&self) -> usize {
        self.vertical.len() + self.horizontal.len()
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.vertical.table_bytes()
            + self.horizontal.table_bytes()
            + self
                .vertical
                .iter()
                .map(|(_, e)| e.heap_bytes())
                .sum::<usize>()
            + self
                .horizontal
                .iter()
                .map(|(_, e)| e.heap_bytes())
                .sum::<usize>()
    }

    pub(crate) fn bound_bytes(cfg: &ScanConfig, max_ids: usize) -> usize {
        Lru::<(IpAddr, IpAddr), Entry>::bound_table_bytes(cfg.max_keys)
            + Lru::<(IpAddr, u16, u8), Entry>::bound_table_bytes(cfg.max_keys)
            + 2 * cfg.max_keys * (Distinct::MAX_HEAP + max_ids * 8)
    }
}

fn proto_name(p: u8) -> &'static str {
    match p {
        TCP => "tcp",
        UDP => "udp",
        _ => "ip",
    }
}

/// Adds one attempt; returns the distinct count when a finding is due.
fn update(
    e: &mut Entry,
    f: &FlowSummary,
    cfg: &ScanConfig,
    min: u64,
    item: u64,
    now_us: u64,
    max_ids: usize,
) -> Option<u64> {
    if expired(e.start_us, cfg.window_s, now_us) {
        e.reset(now_us, min);
    }
    e.last_us = now_us;
    e.attempts += 1;
    if f.rejected {
        e.rejected += 1;
    } else if !f.answered {
        e.unanswered += 1;
    }
    e.distinct.add(item);
    e.last_server = Some(f.server);
    e.last_port = f.server_port;
    e.proto = f.proto;
    e.flow_ids.push(f.flow_id, max_ids);
    // The distinct count never exceeds the attempts: skip the sketch walk until it could.
    if e.attempts < e.level {
        return None;
    }
    let n = e.distinct.estimate();
    if n < e.level {
        return None;
    }
    e.level = next_level(n);
    Some(n)
}

#[allow(clippy::too_many_arguments)]
fn report(
    e: &Entry,
    kind: &Kind,
    key: &str,
    f: &FlowSummary,
    n: u64,
    min: u64,
    cfg: &ScanConfig,
    now_us: u64,
) -> Finding {
    let score = r3((n as f64 / (4.0 * min as f64)).min(1.0));
    let severity = if n >= min.saturating_mul(4) { 2 } else { 3 };
    let mut found = kind.finding(
        now_us,
        key,
        severity,
        f.client,
        e.last_server.unwrap_or(f.server),
    );
    found.score = Some(score);
    found.proto = Some(e.proto);
    found.flow_ids = e.flow_ids.to_vec();
    found.flow_id = e.flow_ids.last();
    ctx(&mut found, "attempts", e.attempts);
    ctx(&mut found, "rejected", e.rejected);
    ctx(&mut found, "unanswered", e.unanswered);
    ctx(&mut found, "threshold", min);
    ctx(&mut found, "next_report_at", e.level);
    ctx(&mut found, "window_s", cfg.window_s);
    ctx(&mut found, "window_start_us", e.start_us);
    ctx(&mut found, "last_port", e.last_port);
    found
}
