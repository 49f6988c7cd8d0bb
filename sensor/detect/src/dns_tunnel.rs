//! DNS tunnelling per (client, registered domain) per window.
//!
//! Two findings: many distinct subdomains that each carry a lot of information (length times
//! Shannon entropy: a tunnel's base32/hex payload), or a domain asked mostly for TXT/NULL
//! records with changing names. Cardinality alone is not enough (a busy resolver or a CDN
//! asks for thousands of short, low-entropy names such as `e1234.a`), and neither are long
//! names alone (one long name asked repeatedly carries nothing new).
//!
//! Memory: at most `max_keys` keys, each a registrable domain (<= 253 bytes), a distinct-count
//! sketch (<= 384 bytes), counters and `max_flow_ids` flow ids.

use std::net::IpAddr;

use crate::config::DnsTunnelConfig;
use crate::domain::{split, under};
use crate::home::HomeNet;
use crate::kinds::{ctx, DNS_TUNNEL, DNS_TUNNEL_TXT};
use crate::lru::{key_hash, Lru};
use crate::obs::{DnsObs, Finding};
use crate::sketch::{cut, entropy, r3, stable_hash, Distinct, FlowIds};
use crate::window::expired;

const TXT: u16 = 16;
const NULL: u16 = 10;

pub(crate) struct DnsTunnel {
    keys: Lru<(IpAddr, Box<str>), Entry>,
}

#[derive(Default)]
struct Entry {
    start_us: u64,
    last_us: u64,
    queries: u64,
    with_sub: u64,
    txt_null: u64,
    nxdomain: u64,
    unique: Distinct,
    bits_sum: f64,
    entropy_sum: f64,
    sub_len_sum: u64,
    max_label: u64,
    qname_bytes: u64,
    answer_bytes: u64,
    reported_sub: bool,
    reported_txt: bool,
    server: Option<(IpAddr, u16, u8)>,
    flow_ids: FlowIds,
}

impl Entry {
    fn reset(&mut self, now_us: u64) {
        let mut unique = std::mem::take(&mut self.unique);
        let mut flow_ids = std::mem::take(&mut self.flow_ids);
        unique.clear();
        flow_ids.clear();
        *self = Entry {
            start_us: now_us,
            unique,
            flow_ids,
            ..Entry::default()
        };
    }
}

impl DnsTunnel {
    pub(crate) fn new(cfg: &DnsTunnelConfig) -> Self {
        DnsTunnel {
            keys: Lru::new(cfg.max_keys),
        }
    }

    pub(crate) fn dns(
        &mut self,
        d: &DnsObs,
        cfg: &DnsTunnelConfig,
        home: &HomeNet,
        now_us: u64,
        max_ids: usize,
        out: &mut Vec<Finding>,
    ) {
        if !cfg.scope.admits(home, d.client, d.server)
            || cfg.ignore_suffixes.iter().any(|s| under(&d.qname, s))
        {
            return;
        }
        let Some(parts) = split(&d.qname) else { return };
        let reg = cut(parts.registrable, 253);
        let h = key_hash(&(d.client, reg));
        let (e, _) = self.keys.get_or_insert_with(
            h,
            |k| k.0 == d.client && &*k.1 == reg,
            || {
                (
                    (d.client, reg.into()),
                    Entry {
                        start_us: now_us,
                        ..Entry::default()
                    },
                )
            },
        );
        if expired(e.start_us, cfg.window_s, now_us) {
            e.reset(now_us);
        }
        e.last_us = now_us;
        e.queries += 1;
        e.qname_bytes += d.qname.len() as u64;
        e.answer_bytes += u64::from(d.answer_bytes);
        if d.qtype == TXT || d.qtype == NULL {
            e.txt_null += 1;
        }
        if d.rcode == Some(3) {
            e.nxdomain += 1;
        }
        e.server = Some((d.server, d.server_port, d.proto));
        e.flow_ids.push(d.flow_id, max_ids);
        if !parts.sub.is_empty() {
            e.with_sub += 1;
            e.unique.add(stable_hash(parts.sub.as_bytes()));
            let (bits_per_char, n, longest) = entropy(parts.sub.as_bytes());
            e.bits_sum += bits_per_char * n as f64;
            e.entropy_sum += bits_per_char;
            e.sub_len_sum += parts.sub.len() as u64;
            e.max_label = e.max_label.max(longest as u64);
        }

        // Estimating the distinct count walks the sketch: only every 8th candidate query
        // (and once more at the end, in `finish`).
        let due_sub = e.with_sub >= cfg.min_unique_subdomains && e.with_sub % 8 == 0;
        let due_txt = e.txt_null >= cfg.min_txt_queries
            && (e.txt_null % 8 == 0 || e.txt_null == cfg.min_txt_queries);
        if due_sub || due_txt {
            judge(e, d.client, reg, cfg, now_us, out);
        }
    }

    /// Judges every key whose last queries fell between two periodic checks.
    pub(crate) fn finish(&mut self, cfg: &DnsTunnelConfig, now_us: u64, out: &mut Vec<Finding>) {
        self.keys
            .for_each_oldest_first(|k, e| judge(e, k.0, &k.1, cfg, now_us, out));
    }

    /// Forgets keys whose window closed with no query since.
    pub(crate) fn sweep(&mut self, cfg: &DnsTunnelConfig, now_us: u64) {
        self.keys
            .evict_oldest_while(|e| expired(e.last_us, cfg.window_s, now_us));
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.keys.table_bytes()
            + self
                .keys
                .iter()
                .map(|(k, e)| k.1.len() + e.unique.heap_bytes() + e.flow_ids.heap_bytes())
                .sum::<usize>()
    }

    pub(crate) fn bound_bytes(cfg: &DnsTunnelConfig, max_ids: usize) -> usize {
        Lru::<(IpAddr, Box<str>), Entry>::bound_table_bytes(cfg.max_keys)
            + cfg.max_keys * (253 + Distinct::MAX_HEAP + max_ids * 8)
    }
}

fn judge(
    e: &mut Entry,
    client: IpAddr,
    reg: &str,
    cfg: &DnsTunnelConfig,
    now_us: u64,
    out: &mut Vec<Finding>,
) {
    if !e.reported_sub && e.with_sub >= cfg.min_unique_subdomains {
        let unique = e.unique.estimate();
        let mean_bits = e.bits_sum / e.with_sub as f64;
        if unique >= cfg.min_unique_subdomains && mean_bits >= cfg.min_mean_subdomain_bits {
            e.reported_sub = true;
            let card = ((unique as f64).log10()
                / (10.0 * cfg.min_unique_subdomains as f64).log10())
            .min(1.0);
            let lex = (mean_bits / (2.0 * cfg.min_mean_subdomain_bits)).min(1.0);
            let score = r3((card + lex) / 2.0);
            out.push(finding(e, client, reg, unique, score, false, cfg, now_us));
        }
    }
    if !e.reported_txt && e.txt_null >= cfg.min_txt_queries {
        let unique = e.unique.estimate();
        let share = e.txt_null as f64 / e.queries as f64;
        if share >= cfg.min_txt_share && unique >= cfg.min_txt_queries.div_ceil(2) {
            e.reported_txt = true;
            let volume = ((e.txt_null as f64).log10()
                / (10.0 * cfg.min_txt_queries as f64).log10())
            .min(1.0);
            let score = r3((volume + share) / 2.0);
            out.push(finding(e, client, reg, unique, score, true, cfg, now_us));
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn finding(
    e: &Entry,
    client: IpAddr,
    domain: &str,
    unique: u64,
    score: f64,
    txt: bool,
    cfg: &DnsTunnelConfig,
    now_us: u64,
) -> Finding {
    let kind = if txt { &DNS_TUNNEL_TXT } else { &DNS_TUNNEL };
    let (server, port, proto) = e.server.unwrap_or((client, 53, 17));
    let severity = if score >= 0.85 { 1 } else { 2 };
    let mut f = kind.finding(now_us, domain, severity, client, server);
    f.score = Some(score);
    f.dest_port = Some(port);
    f.proto = Some(proto);
    f.flow_ids = e.flow_ids.to_vec();
    f.flow_id = e.flow_ids.last();
    let subs = e.with_sub.max(1) as f64;
    ctx(&mut f, "domain", domain);
    ctx(&mut f, "window_s", cfg.window_s);
    ctx(&mut f, "window_start_us", e.start_us);
    ctx(&mut f, "queries", e.queries);
    ctx(&mut f, "unique_subdomains", unique);
    ctx(
        &mut f,
        "mean_subdomain_len",
        r3(e.sub_len_sum as f64 / subs),
    );
    ctx(&mut f, "max_label_len", e.max_label);
    ctx(&mut f, "mean_entropy", r3(e.entropy_sum / subs));
    ctx(&mut f, "mean_subdomain_bits", r3(e.bits_sum / subs));
    ctx(&mut f, "txt_null_queries", e.txt_null);
    ctx(
        &mut f,
        "txt_null_share",
        r3(e.txt_null as f64 / e.queries.max(1) as f64),
    );
    ctx(&mut f, "nxdomain", e.nxdomain);
    ctx(&mut f, "qname_bytes", e.qname_bytes);
    ctx(&mut f, "answer_bytes", e.answer_bytes);
    f
}
