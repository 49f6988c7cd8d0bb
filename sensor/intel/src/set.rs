//! A generation of the indicator set: one table per feed (or list file), stacked in load order.
//!
//! Tables are immutable and shared between generations behind `Arc`s, so a reload re-parses
//! only the feeds that changed and holds a second copy of those alone (see [`crate::reload`]).
//! A value listed by several feeds is still one indicator: the copy in the earliest table is
//! its primary, the later copies are shadowed, and the primary's record carries every listing.
//! Lookups probe each table and keep the best hit (longest prefix, most specific domain,
//! longest URL path; the earliest table on a tie, which is always the primary), so a lookup
//! costs one probe per table that holds indicators of the type asked; tables without any skip
//! it with one branch.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::db::{
    lower_into, request_path, strip_host_port, Blocks24, Table, DOMAIN_BUF_LEN, FILE_HASH_MAX,
    MAX_LAYERS, SLOT_SHIFT,
};
use crate::load::{IntelError, LoadReport};
use crate::parse::{self, JA3_HEX_LEN, JA4_LEN, MAX_DOMAIN_LEN};
use crate::{Indicator, IndicatorKind, IndicatorType, IntelBuilder, MAX_INDICATORS};

type HashMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;

/// One feed's table, with a serial number that names this version of it.
pub(crate) struct Layer {
    serial: u64,
    pub(crate) table: Table,
}

impl Layer {
    pub(crate) fn serial(&self) -> u64 {
        self.serial
    }

    pub(crate) fn new(table: Table) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self {
            serial: NEXT.fetch_add(1, Ordering::Relaxed),
            table,
        }
    }
}

/// Ids of the values two table versions share: `(id in the first, id in the second)`.
type Pairs = Arc<Vec<(u32, u32)>>;

/// The shared values of every pair of table versions in a generation, by serial pair (lower
/// serial first), reused by the next generation for the pairs it keeps.
#[derive(Default, Clone)]
pub(crate) struct Overlaps(HashMap<(u64, u64), Pairs>);

impl Overlaps {
    fn get_or_compute(&self, a: &Layer, b: &Layer) -> Pairs {
        let (x, y) = if a.serial < b.serial { (a, b) } else { (b, a) };
        if let Some(p) = self.0.get(&(x.serial, y.serial)) {
            return Arc::clone(p);
        }
        Arc::new(shared_values(&x.table, &y.table))
    }
}

/// Values present in both tables, found by probing the larger with the smaller's values.
/// Allocates (re-parses each value); runs off the packet path, once per new table version.
fn shared_values(x: &Table, y: &Table) -> Vec<(u32, u32)> {
    let common = IndicatorType::ALL
        .iter()
        .any(|&t| x.count_type(t) > 0 && y.count_type(t) > 0);
    if !common {
        return Vec::new();
    }
    let (small, large, swapped) = if x.len() <= y.len() {
        (x, y, false)
    } else {
        (y, x, true)
    };
    let mut out = Vec::new();
    for ind in small.indicators() {
        if large.count_type(ind.ty) == 0 {
            continue;
        }
        let Ok(p) = parse::parse_typed(ind.ty, &ind.value) else {
            continue;
        };
        if let Some(other) = large.existing(&p) {
            out.push(if swapped {
                (other, ind.id)
            } else {
                (ind.id, other)
            });
        }
    }
    out
}

/// `s` lowercased into a fixed-size key, when it is exactly `N` bytes long.
fn fixed_key<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != N {
        return None;
    }
    let mut k = [0u8; N];
    lower_into(s, &mut k)?;
    Some(k)
}

/// The finished, read-only indicator set of one generation. Cheap to share behind `Arc`;
/// lookups never allocate.
pub struct IntelDb {
    layers: Vec<Arc<Layer>>,
    /// Slot -> index into `layers`.
    by_slot: Vec<Option<u16>>,
    /// Primary id -> its record with the listings of every shadowed copy appended.
    merged: HashMap<u32, Indicator>,
    /// Shadowed copy id -> primary id.
    shadowed: HashMap<u32, u32>,
    overlaps: Overlaps,
    /// The /24 blocks any table's IPv4 entries cover.
    v4_blocks: Blocks24,
    len: usize,
    counts: [usize; 9],
    cidrs: usize,
    provenance_dropped: usize,
    feeds: Vec<crate::feeds::FeedInfo>,
}

impl Default for IntelDb {
    fn default() -> Self {
        Self::empty()
    }
}

impl fmt::Debug for IntelDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("IntelDb");
        for t in IndicatorType::ALL {
            d.field(t.as_str(), &self.count_type(t));
        }
        d.field("tables", &self.layers.len());
        d.finish()
    }
}

impl IntelDb {
    /// A store with no indicators: every lookup misses.
    pub fn empty() -> Self {
        Self {
            layers: Vec::new(),
            by_slot: Vec::new(),
            merged: HashMap::default(),
            shadowed: HashMap::default(),
            overlaps: Overlaps::default(),
            v4_blocks: Blocks24::default(),
            len: 0,
            counts: [0; 9],
            cidrs: 0,
            provenance_dropped: 0,
            feeds: Vec::new(),
        }
    }

    pub fn builder() -> IntelBuilder {
        IntelBuilder::new()
    }

    pub(crate) fn from_table(table: Table) -> Self {
        let layer = Arc::new(Layer::new(table));
        // One table has no other to overlap with: this cannot fail.
        Self::from_layers(vec![layer], &Overlaps::default()).unwrap_or_else(|_| Self::empty())
    }

    /// Stacks `layers` (distinct slots, load order) into a generation, reusing the overlaps
    /// `prev` computed for table versions it shares with this one.
    pub(crate) fn from_layers(
        layers: Vec<Arc<Layer>>,
        prev: &Overlaps,
    ) -> Result<Self, IntelError> {
        let total: usize = layers.iter().map(|l| l.table.len()).sum();
        let mut by_slot: Vec<Option<u16>> = vec![None; MAX_LAYERS];
        for (i, l) in layers.iter().enumerate() {
            let slot = usize::try_from(l.table.slot()).unwrap_or(usize::MAX);
            let pos = u16::try_from(i).ok();
            match by_slot.get_mut(slot) {
                Some(s @ None) => *s = pos,
                _ => {
                    return Err(IntelError::Config {
                        name: format!("table {slot}"),
                        message: "two tables in one slot (internal error)".into(),
                    })
                }
            }
        }
        let last_used = by_slot
            .iter()
            .rposition(Option::is_some)
            .map_or(0, |p| p + 1);
        by_slot.truncate(last_used);

        // Shadowed copy -> (position of its primary's table, primary id): the earliest table
        // listing the value. Every pair of tables is compared, so a value in tables 0, 1 and 2
        // gives copy 2 the pairs (0, 2) and (1, 2), and the earliest wins.
        let mut overlaps = Overlaps::default();
        let mut best: HashMap<u32, (usize, u32)> = HashMap::default();
        for (i, a) in layers.iter().enumerate() {
            for b in layers.iter().skip(i + 1) {
                let pairs = prev.get_or_compute(a, b);
                let a_first = a.serial < b.serial;
                let key = if a_first {
                    (a.serial, b.serial)
                } else {
                    (b.serial, a.serial)
                };
                for &(x, y) in pairs.iter() {
                    let (ida, idb) = if a_first { (x, y) } else { (y, x) };
                    let e = best.entry(idb).or_insert((i, ida));
                    if i < e.0 {
                        *e = (i, ida);
                    }
                }
                overlaps.0.insert(key, pairs);
            }
        }
        let shadowed: HashMap<u32, u32> = best.into_iter().map(|(c, (_, p))| (c, p)).collect();

        let mut db = Self {
            layers,
            by_slot,
            merged: HashMap::default(),
            shadowed,
            overlaps,
            v4_blocks: Blocks24::default(),
            len: 0,
            counts: [0; 9],
            cidrs: 0,
            provenance_dropped: 0,
            feeds: Vec::new(),
        };
        if total.saturating_sub(db.shadowed.len()) > MAX_INDICATORS {
            return Err(IntelError::Config {
                name: "intel".into(),
                message: format!("more than {MAX_INDICATORS} indicators over all feeds"),
            });
        }
        for l in &db.layers {
            let t = &l.table;
            for (c, n) in db.counts.iter_mut().zip(t.counts()) {
                *c = c.saturating_add(*n);
            }
            db.cidrs = db.cidrs.saturating_add(t.cidr_count());
            db.v4_blocks.union(t.v4_blocks());
            db.provenance_dropped = db.provenance_dropped.saturating_add(t.provenance_dropped());
            for f in &t.feeds {
                if !db.feeds.iter().any(|g| g.name == f.name) {
                    db.feeds.push(f.clone());
                }
            }
        }
        db.v4_blocks.seal();
        db.len = total.saturating_sub(db.shadowed.len());

        // Merge each shadowed copy's listings into its primary, in table order.
        let mut copies: Vec<(u32, u32)> = db.shadowed.iter().map(|(&c, &p)| (c, p)).collect();
        copies.sort_unstable_by_key(|&(c, _)| (db.position(c), c));
        let mut merged: HashMap<u32, Indicator> = HashMap::default();
        let mut dropped = 0usize;
        let mut counts = db.counts;
        let mut cidrs = db.cidrs;
        for (c, p) in copies {
            let (Some(copy), Some(primary)) = (db.record(c), db.record(p)) else {
                continue;
            };
            if let Some(n) = counts.get_mut(copy.ty.index()) {
                *n = n.saturating_sub(1);
            }
            if copy.is_cidr() {
                cidrs = cidrs.saturating_sub(1);
            }
            let m = merged.entry(p).or_insert_with(|| primary.clone());
            m.expires = match (m.expires, copy.expires) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
            for prov in &copy.provenance {
                if m.provenance.len() < crate::MAX_PROVENANCE {
                    m.provenance.push(prov.clone());
                } else {
                    dropped = dropped.saturating_add(1);
                }
            }
        }
        db.counts = counts;
        db.cidrs = cidrs;
        db.merged = merged;
        db.provenance_dropped = db.provenance_dropped.saturating_add(dropped);
        Ok(db)
    }

    /// Position in `layers` of the table that holds `id`.
    fn position(&self, id: u32) -> usize {
        usize::try_from(id >> SLOT_SHIFT)
            .ok()
            .and_then(|s| self.by_slot.get(s).copied().flatten())
            .map_or(usize::MAX, usize::from)
    }

    /// The table record of `id`, without merging.
    fn record(&self, id: u32) -> Option<&Indicator> {
        let pos = usize::try_from(id >> SLOT_SHIFT)
            .ok()
            .and_then(|s| self.by_slot.get(s).copied().flatten())?;
        self.layers.get(usize::from(pos))?.table.get(id)
    }

    /// The indicator with this id: the merged record for a value several feeds list (a
    /// shadowed copy's id gives its primary).
    pub fn get(&self, id: u32) -> Option<&Indicator> {
        let id = self.shadowed.get(&id).copied().unwrap_or(id);
        self.merged.get(&id).or_else(|| self.record(id))
    }

    /// Every indicator once (shadowed copies skipped), table by table in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Indicator> + '_ {
        self.layers
            .iter()
            .flat_map(|l| l.table.indicators().iter())
            .filter(|i| !self.shadowed.contains_key(&i.id))
            .map(|i| self.merged.get(&i.id).unwrap_or(i))
    }

    /// The tables of this generation: `(slot, indicators held, copies included)`.
    pub(crate) fn slot_lens(&self) -> impl Iterator<Item = (u32, usize)> + '_ {
        self.layers.iter().map(|l| (l.table.slot(), l.table.len()))
    }

    /// Counts, in `report`, the shadowed copies held by the table versions in `fresh` (those
    /// a load just parsed, which counted each copy as new).
    pub(crate) fn note_merged_copies(&self, fresh: &[u64], report: &mut LoadReport) {
        for &c in self.shadowed.keys() {
            let Some(l) = self.layers.get(self.position(c)) else {
                continue;
            };
            if !fresh.contains(&l.serial) {
                continue;
            }
            if let Some(ind) = l.table.get(c) {
                report.note_merged(ind.ty, ind.is_cidr());
            }
        }
    }

    pub(crate) fn overlaps(&self) -> &Overlaps {
        &self.overlaps
    }

    /// Tables (feeds or list files) stacked in this generation.
    pub fn table_count(&self) -> usize {
        self.layers.len()
    }

    /// Loads list files and directories into a new store, one table per file.
    ///
    /// A directory is read non-recursively, files sorted by name. The list type comes from the
    /// file stem, which must start with `domains`, `ips`, `ja3` or `ja4` (ASCII case-insensitive),
    /// e.g. `domains.txt`, `ips-tor.txt`. Inside a directory, a file of unknown type or one that
    /// cannot be read is a warning and is skipped; a path named explicitly that is missing,
    /// unreadable or of unknown type is an [`IntelError`]. Bad lines are warnings (`file:line:
    /// reason`); duplicates are counted and the first occurrence kept.
    pub fn load_paths(paths: &[PathBuf]) -> Result<(IntelDb, LoadReport), IntelError> {
        let mut loader = crate::reload::IntelLoader::from_paths(paths.to_vec());
        let (db, report) = loader.load()?;
        Ok((db, report))
    }

    /// The best hit over the tables, by `probe`'s rank; the earliest table wins a tie.
    fn best<R: Ord + Copy>(&self, probe: impl Fn(&Table) -> Option<(R, u32)>) -> Option<u32> {
        let mut best: Option<(R, u32)> = None;
        for l in &self.layers {
            if let Some((r, id)) = probe(&l.table) {
                if best.is_none_or(|(b, _)| r > b) {
                    best = Some((r, id));
                }
            }
        }
        best.map(|(_, id)| id)
    }

    fn first(&self, probe: impl Fn(&Table) -> Option<u32>) -> Option<&Indicator> {
        let id = self.layers.iter().find_map(|l| probe(&l.table))?;
        self.get(id)
    }

    /// Longest-prefix match. An IPv4-mapped IPv6 address is looked up as IPv4 first, then in
    /// the IPv6 table (which can only hold prefixes shorter than /96 covering it).
    pub fn match_ip(&self, ip: IpAddr) -> Option<&Indicator> {
        let v4 = match ip {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(a) => a.to_ipv4_mapped(),
        };
        if let Some(a) = v4 {
            if !self.v4_blocks.may_hold(u32::from(a)) {
                // No IPv4 entry covers it; a mapped address may still be under a v6 prefix.
                return match ip {
                    IpAddr::V4(_) => None,
                    IpAddr::V6(_) => self
                        .best(|t| t.lookup_ip_v6_only(ip))
                        .and_then(|id| self.get(id)),
                };
            }
        }
        let id = self.best(|t| t.lookup_ip(ip))?;
        self.get(id)
    }

    /// Exact or parent-domain match, ASCII case-insensitive, one trailing dot ignored; the most
    /// specific entry wins. Names longer than 253 bytes never match.
    pub fn match_domain(&self, name: &str) -> Option<&Indicator> {
        if self.counts.get(IndicatorType::Domain.index()) == Some(&0) {
            return None;
        }
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.is_empty() || name.len() > MAX_DOMAIN_LEN {
            return None;
        }
        let mut buf = [0u8; DOMAIN_BUF_LEN];
        let q = lower_into(name, &mut buf)?;
        let id = self.best(|t| t.lookup_domain(q))?;
        self.get(id)
    }

    /// Exact JA3 (32 hex digits) match, ASCII case-insensitive.
    pub fn match_ja3(&self, md5: &str) -> Option<&Indicator> {
        let k = fixed_key::<JA3_HEX_LEN>(md5)?;
        self.first(|t| t.lookup_ja3(&k))
    }

    /// Exact JA4 match, ASCII case-insensitive.
    pub fn match_ja4(&self, fp: &str) -> Option<&Indicator> {
        let k = fixed_key::<JA4_LEN>(fp)?;
        self.first(|t| t.lookup_ja4(&k))
    }

    /// Total indicators (a value several feeds list counts once).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Indicators of the type named by a legacy kind (`Ja3` counts JA3 only, not the other
    /// fingerprint types that share its legacy class).
    pub fn count(&self, kind: IndicatorKind) -> usize {
        self.count_type(IndicatorType::from(kind))
    }

    /// Indicators of one type (IP includes CIDRs; see [`cidr_count`](Self::cidr_count)).
    pub fn count_type(&self, ty: IndicatorType) -> usize {
        self.counts.get(ty.index()).copied().unwrap_or(0)
    }

    /// IP indicators that are prefixes shorter than the address width.
    pub fn cidr_count(&self) -> usize {
        self.cidrs
    }

    /// Configured feeds loaded into this store, in load order.
    pub fn feeds(&self) -> &[crate::feeds::FeedInfo] {
        &self.feeds
    }

    /// A configured feed by name (its default tags, confidence, severity).
    pub fn feed(&self, name: &str) -> Option<&crate::feeds::FeedInfo> {
        self.feeds.iter().find(|f| &*f.name == name)
    }

    /// Listings not kept because an indicator already had [`crate::MAX_PROVENANCE`].
    pub fn provenance_dropped(&self) -> usize {
        self.provenance_dropped
    }

    /// Exact `ip:port` match (IPv4-mapped IPv6 addresses match IPv4 entries).
    pub fn match_ip_port(&self, ip: IpAddr, port: u16) -> Option<&Indicator> {
        if self.count_type(IndicatorType::IpPort) == 0 {
            return None;
        }
        let k = (parse::ip_key(ip), port);
        self.first(|t| t.lookup_ip_port(&k))
    }

    /// Certificate SHA-1 match; accepts `aabb..` (40 hex digits) or `AA:BB:..` (as tapir logs
    /// the leaf certificate fingerprint), any case, without allocating.
    pub fn match_cert_sha1(&self, fp: &str) -> Option<&Indicator> {
        if self.count_type(IndicatorType::CertSha1) == 0 {
            return None;
        }
        let k = parse::hex_sha1(fp.as_bytes())?;
        self.first(|t| t.lookup_cert_sha1(&k))
    }

    /// Exact HASSH (32 hex digits) match, ASCII case-insensitive.
    pub fn match_hassh(&self, md5: &str) -> Option<&Indicator> {
        let k = fixed_key::<JA3_HEX_LEN>(md5)?;
        self.first(|t| t.lookup_hassh(&k))
    }

    /// Exact file hash (MD5/SHA-1/SHA-256/SHA-512 hex) lookup, ASCII case-insensitive.
    pub fn match_file_hash(&self, hex: &str) -> Option<&Indicator> {
        let mut buf = [0u8; FILE_HASH_MAX];
        let k = lower_into(hex, &mut buf)?;
        self.first(|t| t.lookup_file_hash(k))
    }

    /// URL match on an HTTP request, Suricata-like: the request's host (the `Host` header, any
    /// `:port` and one trailing dot ignored, ASCII case-insensitive) must equal the URL's host
    /// exactly (no subdomains), and the request target (an absolute-form target is reduced to
    /// its path; a `#fragment` is ignored) must start with the URL's path when the URL has no
    /// query, or equal path and query byte for byte when it has one. The URL's scheme and port
    /// are not compared (the sensor sees cleartext HTTP on any port). The longest matching path
    /// wins. No allocation.
    pub fn match_url(&self, host: &str, target: &str) -> Option<&Indicator> {
        if !self.layers.iter().any(|l| l.table.has_urls()) {
            return None;
        }
        let h = strip_host_port(host);
        let h = h.strip_suffix('.').unwrap_or(h);
        let mut buf = [0u8; DOMAIN_BUF_LEN];
        let key = lower_into(h, &mut buf)?;
        let t = request_path(target);
        let t = t.split('#').next().unwrap_or(t).as_bytes();
        let id = self.best(|tb| tb.lookup_url(key, t))?;
        self.get(id)
    }

    /// The indicator with this normalised (or normalisable) value, e.g. to carry sightings over
    /// to a reloaded store. Allocates; not for the packet path.
    pub fn find(&self, ty: IndicatorType, value: &str) -> Option<&Indicator> {
        let p = parse::parse_typed(ty, value).ok()?;
        if p.ty() != ty {
            return None;
        }
        let id = self.layers.iter().find_map(|l| l.table.existing(&p))?;
        self.get(id)
    }

    /// False once every listing of `ind` has expired at `now` (Unix seconds: packet time in
    /// replay, wall time live). Lookups stay time-free; callers check this on a hit.
    pub fn is_live(&self, ind: &Indicator, now: i64) -> bool {
        !matches!(ind.expires, Some(e) if now >= e)
    }

    /// Indicators that are no longer live at `now`.
    pub fn expired_count(&self, now: i64) -> usize {
        self.iter().filter(|i| !self.is_live(i, now)).count()
    }
}
