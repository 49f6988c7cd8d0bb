//! TLS facts that are rare on legitimate traffic to the internet: a self-signed leaf, a leaf
//! outside its validity at packet time, no SNI to a bare external address, and a client
//! fingerprint (JA4, else JA3) that only one internal host uses once many hosts have been
//! seen. Each (client, server, kind) is reported once per `dedup_window_s`; each rare
//! fingerprint once.
//!
//! Memory: at most `max_keys` de-duplication keys, `max_fingerprints` fingerprints (each
//! <= 128 bytes of text and two host addresses) and one 384-byte sketch of internal hosts.

use std::net::IpAddr;

use crate::config::TlsAnomalyConfig;
use crate::home::HomeNet;
use crate::kinds::{ctx, Kind, TLS_EXPIRED, TLS_NO_SNI, TLS_RARE_FINGERPRINT, TLS_SELF_SIGNED};
use crate::lru::{key_hash, Lru};
use crate::obs::{Finding, TlsObs};
use crate::sketch::{cut, ip_hash, Distinct};
use crate::window::expired;

const MAX_FP: usize = 128;

pub(crate) struct TlsAnomaly {
    seen: Lru<(IpAddr, IpAddr, u64), u64>,
    fingerprints: Lru<(bool, Box<str>), Fp>,
    hosts: Distinct,
}

struct Fp {
    first_host: IpAddr,
    /// Another internal host used it too: never rare again.
    shared: bool,
    sightings: u32,
    reported: bool,
}

impl TlsAnomaly {
    pub(crate) fn new(cfg: &TlsAnomalyConfig) -> Self {
        TlsAnomaly {
            seen: Lru::new(cfg.max_keys),
            fingerprints: Lru::new(cfg.max_fingerprints),
            hosts: Distinct::default(),
        }
    }

    pub(crate) fn tls(
        &mut self,
        t: &TlsObs,
        cfg: &TlsAnomalyConfig,
        home: &HomeNet,
        now_us: u64,
        out: &mut Vec<Finding>,
    ) {
        let in_scope = cfg.scope.admits(home, t.client, t.server);
        if cfg.rare_fingerprint && home.contains(t.client) {
            // Every internal client counts towards the population, in scope or not.
            if let Some(f) = self.fingerprint(t, cfg, in_scope, now_us) {
                out.push(f);
            }
        }
        if !in_scope {
            return;
        }
        if let Some(c) = &t.cert {
            if cfg.self_signed && c.self_signed {
                self.report(t, &TLS_SELF_SIGNED, 2, cfg, now_us, out);
            }
            let secs = (now_us / 1_000_000) as i64;
            let ts = (t.ts_us / 1_000_000) as i64;
            if cfg.expired && (ts > c.not_after || ts < c.not_before) {
                let len = self.report(t, &TLS_EXPIRED, 3, cfg, now_us, out);
                if let Some(f) = len.and_then(|i| out.get_mut(i)) {
                    ctx(f, "expired", ts > c.not_after);
                    ctx(f, "checked_at", secs);
                }
            }
        }
        let no_sni = !matches!(t.sni.as_deref(), Some(s) if !s.is_empty());
        if cfg.no_sni && no_sni && home.is_external(t.server) {
            self.report(t, &TLS_NO_SNI, 3, cfg, now_us, out);
        }
    }

    /// Pushes a finding unless this (client, server, kind) was reported within the window;
    /// returns its index in `out`.
    fn report(
        &mut self,
        t: &TlsObs,
        kind: &Kind,
        severity: u8,
        cfg: &TlsAnomalyConfig,
        now_us: u64,
        out: &mut Vec<Finding>,
    ) -> Option<usize> {
        let key = (t.client, t.server, kind.signature_id);
        let h = key_hash(&key);
        if let Some(last) = self.seen.get_mut(h, |k| *k == key) {
            if !expired(*last, cfg.dedup_window_s, now_us) {
                return None;
            }
            *last = now_us;
        } else {
            self.seen.insert(h, key, now_us);
        }
        let name = t.sni.as_deref().filter(|s| !s.is_empty());
        let text = format!(
            "{} -> {}",
            t.client,
            name.map_or_else(|| t.server.to_string(), str::to_string)
        );
        let mut f = kind.finding(now_us, &text, severity, t.client, t.server);
        fill(&mut f, t);
        if let Some(c) = &t.cert {
            ctx(&mut f, "cert_subject", c.subject.as_str());
            ctx(&mut f, "cert_issuer", c.issuer.as_str());
            ctx(&mut f, "cert_not_before", c.not_before);
            ctx(&mut f, "cert_not_after", c.not_after);
            ctx(&mut f, "cert_sha1", c.sha1.as_str());
            ctx(&mut f, "cert_self_signed", c.self_signed);
        }
        out.push(f);
        Some(out.len() - 1)
    }

    fn fingerprint(
        &mut self,
        t: &TlsObs,
        cfg: &TlsAnomalyConfig,
        in_scope: bool,
        now_us: u64,
    ) -> Option<Finding> {
        self.hosts.add(ip_hash(t.client));
        let (is_ja4, fp) = match (&t.ja4, &t.ja3) {
            (Some(j), _) if !j.is_empty() => (true, j.as_str()),
            (_, Some(j)) if !j.is_empty() => (false, j.as_str()),
            _ => return None,
        };
        let fp = cut(fp, MAX_FP);
        let h = key_hash(&(is_ja4, fp));
        let (e, _) = self.fingerprints.get_or_insert_with(
            h,
            |k| k.0 == is_ja4 && &*k.1 == fp,
            || {
                let fresh = Fp {
                    first_host: t.client,
                    shared: false,
                    sightings: 0,
                    reported: false,
                };
                ((is_ja4, fp.into()), fresh)
            },
        );
        if e.first_host != t.client {
            e.shared = true;
        }
        e.sightings = e.sightings.saturating_add(1);
        if e.shared || e.reported || !in_scope || e.sightings < cfg.rare_min_sightings {
            return None;
        }
        let hosts = self.hosts.estimate();
        if hosts < cfg.rare_min_hosts {
            return None;
        }
        e.reported = true;
        let text = format!("{} {}", if is_ja4 { "ja4" } else { "ja3" }, fp);
        let mut f = TLS_RARE_FINGERPRINT.finding(now_us, &text, 3, t.client, t.server);
        f.score = Some(1.0 - 1.0 / hosts as f64);
        fill(&mut f, t);
        ctx(
            &mut f,
            "fingerprint_type",
            if is_ja4 { "ja4" } else { "ja3" },
        );
        ctx(&mut f, "fingerprint", fp);
        ctx(&mut f, "sightings", e.sightings);
        ctx(&mut f, "internal_hosts_seen", hosts);
        Some(f)
    }

    pub(crate) fn len(&self) -> usize {
        self.seen.len() + self.fingerprints.len()
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.seen.table_bytes()
            + self.fingerprints.table_bytes()
            + self
                .fingerprints
                .iter()
                .map(|(k, _)| k.1.len())
                .sum::<usize>()
            + self.hosts.heap_bytes()
    }

    pub(crate) fn bound_bytes(cfg: &TlsAnomalyConfig) -> usize {
        Lru::<(IpAddr, IpAddr, u64), u64>::bound_table_bytes(cfg.max_keys)
            + Lru::<(bool, Box<str>), Fp>::bound_table_bytes(cfg.max_fingerprints)
            + cfg.max_fingerprints * MAX_FP
            + Distinct::MAX_HEAP
    }
}

fn fill(f: &mut Finding, t: &TlsObs) {
    f.src_port = Some(t.client_port);
    f.dest_port = Some(t.server_port);
    f.proto = Some(t.proto);
    f.flow_id = Some(t.flow_id);
    f.flow_ids = vec![t.flow_id];
    if let Some(s) = t.sni.as_deref().filter(|s| !s.is_empty()) {
        ctx(f, "sni", s);
    }
    if let Some(j) = &t.ja3 {
        ctx(f, "ja3", j.as_str());
    }
    if let Some(j) = &t.ja4 {
        ctx(f, "ja4", j.as_str());
    }
    if let Some(c) = &t.community_id {
        ctx(f, "community_id", c.as_str());
    }
}
