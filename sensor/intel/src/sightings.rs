//! Sightings: per-indicator hit counts with first/last seen, shared by worker threads, and the
//! writers that hand them back to the analyst's platform.
//!
//! [`Sightings`] belongs to one [`IntelDb`] generation: three atomics per indicator id (24 bytes
//! per indicator, so tracking is bounded by the store's size), updated lock-free on a hit. On a
//! reload, [`Sightings::carry_over`] moves counts to the new generation by indicator value.
//!
//! Output formats:
//! - STIX 2.1 bundle of `sighting` objects (§5.7: `sighting_of_ref`, `count`, `first_seen`,
//!   `last_seen`). The reference is the indicator's STIX id when a feed gave one; otherwise an
//!   `indicator` object is generated for it, with a pattern for its value. Generated ids are
//!   UUIDv5 (RFC 9562 §5.5) of the value, so repeated exports name the same objects.
//! - MISP-style sightings JSON: `[{"value", "source", "timestamp"}]` (the fields of MISP's
//!   `/sightings/add`; `timestamp` is the last-seen Unix time).

use std::io::{self, Write};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use serde_json::{json, Value};
use sha1::{Digest, Sha1};

use crate::time::format_rfc3339;
use crate::{Indicator, IndicatorType, IntelDb};

/// Hit counters for one store generation.
pub struct Sightings {
    /// Slot -> offset of its table's first indicator in the arrays below.
    offsets: Vec<Option<usize>>,
    hits: Vec<AtomicU64>,
    first: Vec<AtomicI64>,
    last: Vec<AtomicI64>,
}

impl std::fmt::Debug for Sightings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sightings")
            .field("tracked", &self.hits.len())
            .finish()
    }
}

impl Sightings {
    /// Counters for every indicator of `db`.
    pub fn new(db: &IntelDb) -> Self {
        let mut offsets: Vec<Option<usize>> = Vec::new();
        let mut n = 0usize;
        for (slot, len) in db.slot_lens() {
            let s = usize::try_from(slot).unwrap_or(usize::MAX);
            if s >= crate::MAX_LAYERS {
                continue;
            }
            if offsets.len() <= s {
                offsets.resize(s + 1, None);
            }
            if let Some(o) = offsets.get_mut(s) {
                *o = Some(n);
            }
            n = n.saturating_add(len);
        }
        Self {
            offsets,
            hits: (0..n).map(|_| AtomicU64::new(0)).collect(),
            first: (0..n).map(|_| AtomicI64::new(i64::MAX)).collect(),
            last: (0..n).map(|_| AtomicI64::new(i64::MIN)).collect(),
        }
    }

    /// Records a hit on indicator `id` at `ts` (Unix seconds). Lock-free; ids out of range are
    /// ignored.
    pub fn record(&self, id: u32, ts: i64) {
        self.record_n(id, 1, ts, ts);
    }

    /// Index of `id` in the counter arrays.
    fn index(&self, id: u32) -> Option<usize> {
        let slot = usize::try_from(id >> crate::db::SLOT_SHIFT).ok()?;
        let base = (*self.offsets.get(slot)?)?;
        let local = usize::try_from(id & ((1 << crate::db::SLOT_SHIFT) - 1)).ok()?;
        base.checked_add(local)
    }

    /// The id at counter index `i`.
    fn id_at(&self, i: usize) -> Option<u32> {
        let (slot, base) = self
            .offsets
            .iter()
            .enumerate()
            .filter_map(|(s, o)| o.map(|b| (s, b)))
            .filter(|&(_, b)| b <= i)
            .max_by_key(|&(_, b)| b)?;
        let local = u32::try_from(i - base).ok()?;
        Some((u32::try_from(slot).ok()? << crate::db::SLOT_SHIFT) | local)
    }

    fn record_n(&self, id: u32, n: u64, first: i64, last: i64) {
        let Some(i) = self.index(id) else { return };
        let (Some(h), Some(f), Some(l)) = (self.hits.get(i), self.first.get(i), self.last.get(i))
        else {
            return;
        };
        h.fetch_add(n, Ordering::Relaxed);
        f.fetch_min(first, Ordering::Relaxed);
        l.fetch_max(last, Ordering::Relaxed);
    }

    pub fn hits(&self, id: u32) -> u64 {
        self.index(id)
            .and_then(|i| self.hits.get(i))
            .map_or(0, |h| h.load(Ordering::Relaxed))
    }

    /// (first, last) seen, when the indicator was hit.
    pub fn seen(&self, id: u32) -> Option<(i64, i64)> {
        let i = self.index(id)?;
        if self.hits.get(i)?.load(Ordering::Relaxed) == 0 {
            return None;
        }
        Some((
            self.first.get(i)?.load(Ordering::Relaxed),
            self.last.get(i)?.load(Ordering::Relaxed),
        ))
    }

    /// Adds `old`'s counts (for `old_db`) to the same values in this generation (`new_db`).
    /// Indicators that are gone are dropped. Not for the packet path.
    pub fn carry_over(&self, old: &Sightings, old_db: &IntelDb, new_db: &IntelDb) {
        for ind in old_db.iter() {
            let Some((f, l)) = old.seen(ind.id) else {
                continue;
            };
            if let Some(n) = new_db.find(ind.ty, &ind.value) {
                self.record_n(n.id, old.hits(ind.id), f, l);
            }
        }
    }

    /// Ids with hits, most hits first (ties by id).
    fn hit_ids(&self) -> Vec<(u32, u64)> {
        let mut v: Vec<(u32, u64)> = self
            .hits
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                let n = h.load(Ordering::Relaxed);
                (n > 0).then(|| self.id_at(i).map(|id| (id, n)))?
            })
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }

    /// Writes a STIX 2.1 bundle of sightings; returns the number of sightings written.
    /// `now` stamps `created`/`modified`.
    pub fn write_stix<W: Write>(&self, db: &IntelDb, mut w: W, now: i64) -> io::Result<usize> {
        let ts = format_rfc3339(now);
        let mut objects: Vec<Value> = Vec::new();
        let mut n = 0usize;
        for (id, hits) in self.hit_ids() {
            let (Some(ind), Some((first, last))) = (db.get(id), self.seen(id)) else {
                continue;
            };
            let ref_id = match ind.provenance.iter().find_map(|p| p.stix_id()) {
                Some(s) => s.to_string(),
                None => {
                    let iid = format!("indicator--{}", uuid5(&format!("{}:{}", ind.ty, ind.value)));
                    objects.push(json!({
                        "type": "indicator",
                        "spec_version": "2.1",
                        "id": iid,
                        "created": ts,
                        "modified": ts,
                        "name": format!("{} {}", ind.ty, ind.value),
                        "pattern": stix_pattern(ind),
                        "pattern_type": "stix",
                        "valid_from": ts,
                    }));
                    iid
                }
            };
            objects.push(json!({
                "type": "sighting",
                "spec_version": "2.1",
                "id": format!("sighting--{}", uuid5(&format!("sighting:{ref_id}"))),
                "created": ts,
                "modified": ts,
                "sighting_of_ref": ref_id,
                "count": hits,
                "first_seen": format_rfc3339(first),
                "last_seen": format_rfc3339(last),
            }));
            n += 1;
        }
        let bundle = json!({
            "type": "bundle",
            "id": format!("bundle--{}", uuid5(&format!("bundle:{now}"))),
            "objects": objects,
        });
        serde_json::to_writer_pretty(&mut w, &bundle)?;
        w.write_all(b"\n")?;
        Ok(n)
    }

    /// Writes MISP-style sightings `[{"value", "source", "timestamp"}]`, one per hit indicator;
    /// `source` names the sensor.
    pub fn write_misp<W: Write>(&self, db: &IntelDb, mut w: W, source: &str) -> io::Result<usize> {
        let mut out = Vec::new();
        for (id, _) in self.hit_ids() {
            let (Some(ind), Some((_, last))) = (db.get(id), self.seen(id)) else {
                continue;
            };
            out.push(json!({
                "value": ind.value,
                "source": source,
                "timestamp": last.to_string(),
            }));
        }
        serde_json::to_writer_pretty(&mut w, &out)?;
        w.write_all(b"\n")?;
        Ok(out.len())
    }
}

/// Writes `data` to `path` atomically (temporary file in the same directory, then rename).
pub fn write_atomic(path: &std::path::Path, data: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// A STIX pattern for a value (custom `x-tapir-fingerprint` object for fingerprints STIX has no
/// object for).
fn stix_pattern(ind: &Indicator) -> String {
    let v = ind.value.replace('\\', "\\\\").replace('\'', "\\'");
    match ind.ty {
        IndicatorType::Ip if ind.value.contains(':') => format!("[ipv6-addr:value = '{v}']"),
        IndicatorType::Ip => format!("[ipv4-addr:value = '{v}']"),
        IndicatorType::Domain => format!("[domain-name:value = '{v}']"),
        IndicatorType::Url => format!("[url:value = '{v}']"),
        IndicatorType::CertSha1 => format!("[x509-certificate:hashes.'SHA-1' = '{v}']"),
        IndicatorType::FileHash => {
            let alg = match v.len() {
                32 => "MD5",
                40 => "SHA-1",
                64 => "SHA-256",
                _ => "SHA-512",
            };
            format!("[file:hashes.'{alg}' = '{v}']")
        }
        IndicatorType::IpPort => {
            let (ip, port) = v.rsplit_once(':').unwrap_or((&v, "0"));
            let ip = ip.trim_start_matches('[').trim_end_matches(']');
            let t = if ip.contains(':') {
                "ipv6-addr"
            } else {
                "ipv4-addr"
            };
            format!(
                "[network-traffic:dst_ref.type = '{t}' AND network-traffic:dst_ref.value = '{ip}' AND network-traffic:dst_port = {port}]"
            )
        }
        IndicatorType::Ja3 | IndicatorType::Ja4 | IndicatorType::Hassh => {
            format!("[x-tapir-fingerprint:{} = '{v}']", ind.ty)
        }
    }
}

/// UUIDv5 (SHA-1 name-based, RFC 9562 §5.5) in tapir's own namespace.
fn uuid5(name: &str) -> String {
    // A fixed random namespace for tapir-generated STIX ids.
    const NS: [u8; 16] = [
        0x6f, 0x1c, 0x3a, 0x52, 0x0e, 0x4b, 0x4d, 0x2a, 0x9b, 0x71, 0x5e, 0x83, 0x2d, 0xc4, 0x10,
        0x77,
    ];
    let mut h = Sha1::new();
    h.update(NS);
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(d.get(..16).unwrap_or(&[0u8; 16]));
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// One indicator in the top-hits list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TopHit {
    pub id: u32,
    #[serde(rename = "type")]
    pub type_name: &'static str,
    pub value: String,
    pub hits: u64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub feeds: Vec<String>,
}

/// Per-feed numbers for `tapir intel stats`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FeedStats {
    pub feed: String,
    /// Indicators with at least one listing from this feed.
    pub loaded: usize,
    /// Of those, listings from this feed that have expired at `now`.
    pub expired: usize,
    /// Of those, indicators hit at least once.
    pub hit: usize,
}

/// `tapir intel stats` output.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StatsReport {
    pub indicators: usize,
    /// Indicators no longer live at `now`.
    pub expired: usize,
    pub top: Vec<TopHit>,
    pub feeds: Vec<FeedStats>,
}

impl IntelDb {
    /// Top `top_n` hit indicators and per-feed loaded / expired / hit counts at `now`.
    pub fn stats(&self, s: &Sightings, now: i64, top_n: usize) -> StatsReport {
        let mut feeds: Vec<FeedStats> = Vec::new();
        for ind in self.iter() {
            let hit = s.hits(ind.id) > 0;
            let mut seen_feeds: Vec<&str> = Vec::new();
            for p in &ind.provenance {
                let f = &*p.feed;
                if seen_feeds.contains(&f) {
                    continue;
                }
                seen_feeds.push(f);
                let i = match feeds.iter().position(|x| x.feed == f) {
                    Some(i) => i,
                    None => {
                        feeds.push(FeedStats {
                            feed: f.to_string(),
                            loaded: 0,
                            expired: 0,
                            hit: 0,
                        });
                        feeds.len() - 1
                    }
                };
                if let Some(fs) = feeds.get_mut(i) {
                    fs.loaded += 1;
                    if !p.is_live(now) {
                        fs.expired += 1;
                    }
                    if hit {
                        fs.hit += 1;
                    }
                }
            }
        }
        let top = s
            .hit_ids()
            .into_iter()
            .take(top_n)
            .filter_map(|(id, hits)| {
                let ind = self.get(id)?;
                let (first_seen, last_seen) = s.seen(id)?;
                let mut fs: Vec<String> = Vec::new();
                for p in &ind.provenance {
                    if !fs.iter().any(|f| *f == *p.feed) {
                        fs.push(p.feed.to_string());
                    }
                }
                Some(TopHit {
                    id,
                    type_name: ind.type_name(),
                    value: ind.value.clone(),
                    hits,
                    first_seen,
                    last_seen,
                    feeds: fs,
                })
            })
            .collect();
        StatsReport {
            indicators: self.len(),
            expired: self.expired_count(now),
            top,
            feeds,
        }
    }
}
