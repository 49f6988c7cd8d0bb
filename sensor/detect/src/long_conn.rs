//! Connections open for hours. The engine sends a `FlowOpen` when an open flow crosses each
//! of `thresholds_s`, so a connection that never ends is still reported; a `FlowEnd` reports
//! the highest threshold crossed that no `FlowOpen` reported. One finding per flow per
//! threshold, severity low (long sessions are often legitimate: chat, VPN, streaming).
//!
//! Memory: at most `max_flows` (flow id, start) keys with the last threshold reported.

use std::net::IpAddr;

use crate::config::LongConnConfig;
use crate::home::HomeNet;
use crate::kinds::{ctx, LONG_CONN};
use crate::lru::{key_hash, Lru};
use crate::obs::{Finding, FlowSummary};
use crate::sketch::r3;

pub(crate) struct LongConn {
    /// (flow id, start) -> number of thresholds already reported.
    flows: Lru<(u64, u64), u8>,
}

impl LongConn {
    pub(crate) fn new(cfg: &LongConnConfig) -> Self {
        LongConn {
            flows: Lru::new(cfg.max_flows),
        }
    }

    pub(crate) fn flow(
        &mut self,
        f: &FlowSummary,
        open: bool,
        cfg: &LongConnConfig,
        home: &HomeNet,
        now_us: u64,
        out: &mut Vec<Finding>,
    ) {
        let key = (f.flow_id, f.start_us);
        let h = key_hash(&key);
        if !cfg.scope.admits(home, f.client, f.server) {
            return;
        }
        let duration_us = f.last_us.saturating_sub(f.start_us);
        let crossed = cfg
            .thresholds_s
            .iter()
            .take_while(|t| duration_us >= t.saturating_mul(1_000_000))
            .count();
        let done = if open {
            self.flows.peek(h, |k| *k == key).copied().unwrap_or(0)
        } else {
            self.flows
                .remove(h, |k| *k == key)
                .map(|(_, v)| v)
                .unwrap_or(0)
        };
        if crossed == 0 || crossed <= usize::from(done) {
            return;
        }
        if open {
            let n = u8::try_from(crossed).unwrap_or(u8::MAX);
            let (v, _) = self.flows.get_or_insert_with(h, |k| *k == key, || (key, 0));
            *v = n;
        }
        let Some(&threshold) = cfg.thresholds_s.get(crossed - 1) else {
            return;
        };
        let longest = cfg.thresholds_s.last().copied().unwrap_or(threshold).max(1);
        let hours = threshold as f64 / 3600.0;
        let key_text = format!(
            "{}:{} -> {}:{} over {}h",
            fmt_ip(f.client),
            f.client_port,
            fmt_ip(f.server),
            f.server_port,
            r3(hours)
        );
        let mut found = LONG_CONN.finding(now_us, &key_text, 3, f.client, f.server);
        found.score = Some(r3((duration_us as f64 / 1e6 / longest as f64).min(1.0)));
        found.src_port = Some(f.client_port);
        found.dest_port = Some(f.server_port);
        found.proto = Some(f.proto);
        found.flow_id = Some(f.flow_id);
        found.flow_ids = vec![f.flow_id];
        ctx(&mut found, "duration_s", r3(duration_us as f64 / 1e6));
        ctx(&mut found, "threshold_s", threshold);
        ctx(&mut found, "still_open", open);
        ctx(&mut found, "bytes_toserver", f.bytes_toserver);
        ctx(&mut found, "bytes_toclient", f.bytes_toclient);
        if let Some(p) = f.app_proto {
            ctx(&mut found, "app_proto", p);
        }
        if let Some(n) = &f.server_name {
            ctx(&mut found, "server_name", n.as_str());
        }
        if let Some(c) = &f.community_id {
            ctx(&mut found, "community_id", c.as_str());
        }
        out.push(found);
    }

    pub(crate) fn len(&self) -> usize {
        self.flows.len()
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.flows.table_bytes()
    }

    pub(crate) fn bound_bytes(cfg: &LongConnConfig) -> usize {
        Lru::<(u64, u64), u8>::bound_table_bytes(cfg.max_flows)
    }
}

fn fmt_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}
