//! An identified application protocol on a port it does not belong to (table in `ports`).
//! One finding per (client, server, port, protocol) per `dedup_window_s`.
//!
//! Memory: at most `max_keys` de-duplication keys.

use std::net::IpAddr;

use crate::config::PortMismatchConfig;
use crate::home::HomeNet;
use crate::kinds::{ctx, PORT_OFF_USUAL, PORT_WRONG_PROTO};
use crate::lru::{key_hash, Lru};
use crate::obs::{Finding, FlowSummary};
use crate::ports::{check, Mismatch};
use crate::window::expired;

pub(crate) struct PortMismatch {
    seen: Lru<(IpAddr, IpAddr, u16, &'static str), u64>,
}

impl PortMismatch {
    pub(crate) fn new(cfg: &PortMismatchConfig) -> Self {
        PortMismatch {
            seen: Lru::new(cfg.max_keys),
        }
    }

    pub(crate) fn flow_end(
        &mut self,
        f: &FlowSummary,
        cfg: &PortMismatchConfig,
        home: &HomeNet,
        now_us: u64,
        out: &mut Vec<Finding>,
    ) {
        let Some(proto) = f.app_proto.filter(|p| *p != "failed") else {
            return;
        };
        if !cfg.scope.admits(home, f.client, f.server) {
            return;
        }
        let Some(kind) = check(proto, f.server_port, |p| {
            cfg.extra_ports.get(p).map(Vec::as_slice)
        }) else {
            return;
        };
        let key = (f.client, f.server, f.server_port, proto);
        let h = key_hash(&key);
        if let Some(last) = self.seen.get_mut(h, |k| *k == key) {
            if !expired(*last, cfg.dedup_window_s, now_us) {
                return;
            }
            *last = now_us;
        } else {
            self.seen.insert(h, key, now_us);
        }
        let (k, severity) = match kind {
            Mismatch::WrongProto => (&PORT_WRONG_PROTO, 2),
            Mismatch::OffUsual => (&PORT_OFF_USUAL, 3),
        };
        let text = format!(
            "{proto} on {}/{} {} -> {}",
            f.server_port,
            proto_name(f.proto),
            f.client,
            f.server
        );
        let mut found = k.finding(now_us, &text, severity, f.client, f.server);
        found.src_port = Some(f.client_port);
        found.dest_port = Some(f.server_port);
        found.proto = Some(f.proto);
        found.flow_id = Some(f.flow_id);
        found.flow_ids = vec![f.flow_id];
        ctx(&mut found, "app_proto", proto);
        ctx(&mut found, "server_port", f.server_port);
        ctx(&mut found, "established", f.established);
        ctx(&mut found, "bytes_toserver", f.bytes_toserver);
        ctx(&mut found, "bytes_toclient", f.bytes_toclient);
        if let Some(n) = &f.server_name {
            ctx(&mut found, "server_name", n.as_str());
        }
        out.push(found);
    }

    pub(crate) fn len(&self) -> usize {
        self.seen.len()
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.seen.table_bytes()
    }

    pub(crate) fn bound_bytes(cfg: &PortMismatchConfig) -> usize {
        Lru::<(IpAddr, IpAddr, u16, &'static str), u64>::bound_table_bytes(cfg.max_keys)
    }
}

fn proto_name(p: u8) -> &'static str {
    match p {
        6 => "tcp",
        17 => "udp",
        _ => "ip",
    }
}
