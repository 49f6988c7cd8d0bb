//! Large uploads: bytes a client sent to one server in a window, reported when they reach
//! `min_bytes` while the client sent at least `min_ratio` times what it received (a
//! download's acknowledgements never get there), then again at each doubling.
//!
//! Memory: at most `max_pairs` pairs of counters and `max_flow_ids` flow ids.

use std::net::IpAddr;

use crate::config::ExfilConfig;
use crate::home::HomeNet;
use crate::kinds::{ctx, EXFIL_VOLUME};
use crate::lru::{key_hash, Lru};
use crate::obs::{Finding, FlowSummary};
use crate::sketch::{r3, FlowIds};
use crate::window::{expired, next_level};

pub(crate) struct Exfil {
    pairs: Lru<(IpAddr, IpAddr), Entry>,
}

#[derive(Default)]
struct Entry {
    start_us: u64,
    last_us: u64,
    bytes_out: u64,
    bytes_in: u64,
    flows: u64,
    largest_flow_out: u64,
    level: u64,
    server_port: u16,
    proto: u8,
    flow_ids: FlowIds,
}

impl Exfil {
    pub(crate) fn new(cfg: &ExfilConfig) -> Self {
        Exfil {
            pairs: Lru::new(cfg.max_pairs),
        }
    }

    pub(crate) fn flow_end(
        &mut self,
        f: &FlowSummary,
        cfg: &ExfilConfig,
        home: &HomeNet,
        now_us: u64,
        max_ids: usize,
        out: &mut Vec<Finding>,
    ) {
        if !cfg.scope.admits(home, f.client, f.server) || f.bytes_toserver == 0 {
            return;
        }
        let key = (f.client, f.server);
        let (e, _) = self.pairs.get_or_insert_with(
            key_hash(&key),
            |k| *k == key,
            || {
                (
                    key,
                    Entry {
                        start_us: now_us,
                        level: cfg.min_bytes,
                        ..Entry::default()
                    },
                )
            },
        );
        if expired(e.start_us, cfg.window_s, now_us) {
            let mut ids = std::mem::take(&mut e.flow_ids);
            ids.clear();
            *e = Entry {
                start_us: now_us,
                level: cfg.min_bytes,
                flow_ids: ids,
                ..Entry::default()
            };
        }
        e.last_us = now_us;
        e.bytes_out = e.bytes_out.saturating_add(f.bytes_toserver);
        e.bytes_in = e.bytes_in.saturating_add(f.bytes_toclient);
        e.flows += 1;
        e.largest_flow_out = e.largest_flow_out.max(f.bytes_toserver);
        e.server_port = f.server_port;
        e.proto = f.proto;
        e.flow_ids.push(f.flow_id, max_ids);

        let ratio = e.bytes_out as f64 / e.bytes_in.max(1) as f64;
        if e.bytes_out < e.level || ratio < cfg.min_ratio {
            return;
        }
        e.level = next_level(e.bytes_out);
        let volume = (e.bytes_out as f64 / (8.0 * cfg.min_bytes as f64)).min(1.0);
        let lopsided = (ratio / (10.0 * cfg.min_ratio.max(0.1))).min(1.0);
        let score = r3(0.5 + 0.3 * volume + 0.2 * lopsided);
        let severity = if e.bytes_out >= cfg.min_bytes.saturating_mul(8) {
            1
        } else {
            2
        };
        let mut found = EXFIL_VOLUME.finding(
            now_us,
            &format!("{} -> {}", f.client, f.server),
            severity,
            f.client,
            f.server,
        );
        found.score = Some(score);
        found.dest_port = Some(e.server_port);
        found.proto = Some(e.proto);
        found.flow_ids = e.flow_ids.to_vec();
        found.flow_id = e.flow_ids.last();
        ctx(&mut found, "bytes_toserver", e.bytes_out);
        ctx(&mut found, "bytes_toclient", e.bytes_in);
        ctx(&mut found, "ratio", r3(ratio));
        ctx(&mut found, "flows", e.flows);
        ctx(&mut found, "largest_flow_bytes", e.largest_flow_out);
        ctx(&mut found, "threshold_bytes", cfg.min_bytes);
        ctx(&mut found, "next_report_at", e.level);
        ctx(&mut found, "window_s", cfg.window_s);
        ctx(&mut found, "window_start_us", e.start_us);
        out.push(found);
    }

    pub(crate) fn sweep(&mut self, cfg: &ExfilConfig, now_us: u64) {
        self.pairs
            .evict_oldest_while(|e| expired(e.last_us, cfg.window_s, now_us));
    }

    pub(crate) fn len(&self) -> usize {
        self.pairs.len()
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.pairs.table_bytes()
            + self
                .pairs
                .iter()
                .map(|(_, e)| e.flow_ids.heap_bytes())
                .sum::<usize>()
    }

    pub(crate) fn bound_bytes(cfg: &ExfilConfig, max_ids: usize) -> usize {
        Lru::<(IpAddr, IpAddr), Entry>::bound_table_bytes(cfg.max_pairs)
            + cfg.max_pairs * max_ids * 8
    }
}
