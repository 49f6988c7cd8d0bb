//! Domain generation algorithms: a client whose NXDOMAIN answers in a window are many
//! (Slips: >= 10) and whose failed names look generated (see `lexical`).
//!
//! Only the registered label is scored (`xkq3bz8w1p` of `a.xkq3bz8w1p.net`): search-domain
//! expansion and Chrome's random intranet probes put the noise in subdomains or in a
//! single-label name, which has no registered label, and neither counts as generated.
//! Dictionary DGAs (word pairs) look like English and are out of reach of this test.
//!
//! Memory: at most `max_clients` clients, each two distinct-count sketches (<= 384 bytes
//! each), three sample names (<= 64 bytes each) and `max_flow_ids` flow ids.

use std::net::IpAddr;

use crate::config::DgaConfig;
use crate::domain::{split, under};
use crate::home::HomeNet;
use crate::kinds::{ctx, DGA};
use crate::lexical;
use crate::lru::{key_hash, Lru};
use crate::obs::{DnsObs, Finding};
use crate::sketch::{cut, r3, stable_hash, Distinct, FlowIds};
use crate::window::expired;

const NXDOMAIN: u8 = 3;
const SAMPLES: usize = 3;
/// Sample names are cut here: enough for an analyst to recognise the family.
const SAMPLE_LEN: usize = 64;

pub(crate) struct Dga {
    clients: Lru<IpAddr, Entry>,
}

#[derive(Default)]
struct Entry {
    start_us: u64,
    last_us: u64,
    nx: u64,
    nx_domains: Distinct,
    suspicious: Distinct,
    suspicious_answers: u64,
    lex_sum: f64,
    samples: Vec<Box<str>>,
    reported: bool,
    server: Option<(IpAddr, u16, u8)>,
    flow_ids: FlowIds,
}

impl Entry {
    fn reset(&mut self, now_us: u64) {
        let mut keep = Entry {
            start_us: now_us,
            ..Entry::default()
        };
        std::mem::swap(&mut keep.nx_domains, &mut self.nx_domains);
        std::mem::swap(&mut keep.suspicious, &mut self.suspicious);
        std::mem::swap(&mut keep.flow_ids, &mut self.flow_ids);
        std::mem::swap(&mut keep.samples, &mut self.samples);
        keep.nx_domains.clear();
        keep.suspicious.clear();
        keep.flow_ids.clear();
        keep.samples.clear();
        *self = keep;
    }

    fn heap_bytes(&self) -> usize {
        self.nx_domains.heap_bytes()
            + self.suspicious.heap_bytes()
            + self.flow_ids.heap_bytes()
            + self.samples.capacity() * std::mem::size_of::<Box<str>>()
            + self.samples.iter().map(|s| s.len()).sum::<usize>()
    }
}

impl Dga {
    pub(crate) fn new(cfg: &DgaConfig) -> Self {
        Dga {
            clients: Lru::new(cfg.max_clients),
        }
    }

    pub(crate) fn dns(
        &mut self,
        d: &DnsObs,
        cfg: &DgaConfig,
        home: &HomeNet,
        now_us: u64,
        max_ids: usize,
        out: &mut Vec<Finding>,
    ) {
        if d.rcode != Some(NXDOMAIN)
            || !cfg.scope.admits(home, d.client, d.server)
            || cfg.ignore_suffixes.iter().any(|s| under(&d.qname, s))
        {
            return;
        }
        let client = d.client;
        let (e, _) = self.clients.get_or_insert_with(
            key_hash(&client),
            |k| *k == client,
            || {
                (
                    client,
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
        e.nx += 1;
        e.server = Some((d.server, d.server_port, d.proto));
        e.flow_ids.push(d.flow_id, max_ids);
        if let Some(parts) = split(&d.qname) {
            let h = stable_hash(parts.registrable.as_bytes());
            e.nx_domains.add(h);
            let lex = lexical::score(parts.label);
            if lex.score >= cfg.lexical_threshold {
                e.suspicious.add(h);
                e.suspicious_answers += 1;
                e.lex_sum += lex.score;
                if e.samples.len() < SAMPLES
                    && !e
                        .samples
                        .iter()
                        .any(|s| **s == *cut(parts.registrable, SAMPLE_LEN))
                {
                    if e.samples.capacity() == 0 {
                        e.samples.reserve_exact(SAMPLES);
                    }
                    e.samples.push(cut(parts.registrable, SAMPLE_LEN).into());
                }
            }
        }
        if e.reported || e.nx < cfg.min_nxdomain {
            return;
        }
        let suspicious = e.suspicious.estimate();
        if suspicious < cfg.min_suspicious_domains {
            return;
        }
        e.reported = true;
        let mean_lex = e.lex_sum / e.suspicious_answers.max(1) as f64;
        let breadth = (suspicious as f64 / (2.0 * cfg.min_suspicious_domains as f64)).min(1.0);
        let score = r3(mean_lex * (0.5 + 0.5 * breadth));
        let (server, port, proto) = e.server.unwrap_or((client, 53, 17));
        let severity = if suspicious >= cfg.min_suspicious_domains.saturating_mul(10) {
            1
        } else {
            2
        };
        let mut f = DGA.finding(now_us, &client.to_string(), severity, client, server);
        f.score = Some(score);
        f.dest_port = Some(port);
        f.proto = Some(proto);
        f.flow_ids = e.flow_ids.to_vec();
        f.flow_id = e.flow_ids.last();
        ctx(&mut f, "window_s", cfg.window_s);
        ctx(&mut f, "window_start_us", e.start_us);
        ctx(&mut f, "nxdomain", e.nx);
        ctx(&mut f, "nxdomain_domains", e.nx_domains.estimate());
        ctx(&mut f, "suspicious_domains", suspicious);
        ctx(&mut f, "mean_lexical_score", r3(mean_lex));
        ctx(&mut f, "lexical_threshold", cfg.lexical_threshold);
        let samples: Vec<serde_json::Value> = e
            .samples
            .iter()
            .map(|s| serde_json::Value::from(&**s))
            .collect();
        ctx(&mut f, "samples", samples);
        out.push(f);
    }

    pub(crate) fn sweep(&mut self, cfg: &DgaConfig, now_us: u64) {
        self.clients
            .evict_oldest_while(|e| expired(e.last_us, cfg.window_s, now_us));
    }

    pub(crate) fn len(&self) -> usize {
        self.clients.len()
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.clients.table_bytes()
            + self
                .clients
                .iter()
                .map(|(_, e)| e.heap_bytes())
                .sum::<usize>()
    }

    pub(crate) fn bound_bytes(cfg: &DgaConfig, max_ids: usize) -> usize {
        Lru::<IpAddr, Entry>::bound_table_bytes(cfg.max_clients)
            + cfg.max_clients
                * (2 * Distinct::MAX_HEAP
                    + max_ids * 8
                    + SAMPLES * (SAMPLE_LEN + std::mem::size_of::<Box<str>>()))
    }
}
