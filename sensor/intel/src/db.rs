//! The immutable indicator store and its builder.

/// aHash: randomly keyed per process like SipHash (feeds are third-party input, so keys must
/// not be predictable), and several times faster on the short keys probed per lookup.
type HashMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;
use std::fmt;
use std::hash::Hash;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::load::{IntelError, LoadReport};
use crate::parse::{
    self, IpNet, LineError, Parsed, UrlParts, JA3_HEX_LEN, JA4_LEN, MAX_DOMAIN_LEN, SHA1_LEN,
};
use crate::{
    Indicator, IndicatorKind, IndicatorType, Provenance, ProvenanceMeta, MAX_INDICATORS,
    MAX_PROVENANCE,
};

/// Longest file hash key (SHA-512 hex).
const FILE_HASH_MAX: usize = 128;

/// Query buffer for domain lookups: the longest name (253) plus room for one trailing dot.
const DOMAIN_BUF_LEN: usize = 256;

/// Longest-prefix-match table: one hash table per prefix length, probed longest-first over the
/// lengths that have entries, so a lookup costs at most (address width + 1) hash probes.
struct Lpm<K> {
    /// Index = prefix length; empty tables cost only their header.
    by_len: Vec<HashMap<K, u32>>,
    /// Prefix lengths that have entries, longest first (filled by `finish`).
    lens_desc: Vec<u8>,
}

impl<K: Copy + Eq + Hash> Lpm<K> {
    fn new(width: u8) -> Self {
        Self {
            by_len: (0..=width).map(|_| HashMap::default()).collect(),
            lens_desc: Vec::new(),
        }
    }

    /// Returns the existing id when the exact prefix is already present.
    fn insert(&mut self, net: K, len: u8, id: u32) -> Option<u32> {
        let table = self.by_len.get_mut(usize::from(len))?;
        match table.entry(net) {
            std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(id);
                None
            }
        }
    }

    fn contains(&self, net: K, len: u8) -> Option<u32> {
        self.by_len.get(usize::from(len))?.get(&net).copied()
    }

    fn finish(&mut self) {
        self.lens_desc = (0..self.by_len.len())
            .rev()
            .filter(|&l| self.by_len.get(l).is_some_and(|t| !t.is_empty()))
            .filter_map(|l| u8::try_from(l).ok())
            .collect();
    }

    fn lookup(&self, addr: K, mask: impl Fn(K, u8) -> K) -> Option<u32> {
        self.lens_desc.iter().find_map(|&len| {
            self.by_len
                .get(usize::from(len))
                .and_then(|t| t.get(&mask(addr, len)).copied())
        })
    }
}

/// One URL indicator under its host.
struct UrlEntry {
    path: Box<[u8]>,
    exact: bool,
    id: u32,
}

/// The finished, read-only indicator store. Cheap to share behind `Arc`; lookups never allocate.
pub struct IntelDb {
    indicators: Vec<Indicator>,
    domains: HashMap<Box<[u8]>, u32>,
    v4: Lpm<u32>,
    v6: Lpm<u128>,
    ja3: HashMap<[u8; JA3_HEX_LEN], u32>,
    ja4: HashMap<[u8; JA4_LEN], u32>,
    /// Lowercase host -> URLs on it, longest path first after `build`.
    urls: HashMap<Box<[u8]>, Vec<UrlEntry>>,
    url_values: HashMap<Box<str>, u32>,
    cert_sha1: HashMap<[u8; SHA1_LEN], u32>,
    ip_port: HashMap<(u128, u16), u32>,
    file_hash: HashMap<Box<[u8]>, u32>,
    hassh: HashMap<[u8; JA3_HEX_LEN], u32>,
    /// Per [`IndicatorType::index`].
    counts: [usize; 9],
    cidrs: usize,
    /// Listings beyond [`MAX_PROVENANCE`] that were only counted.
    provenance_dropped: usize,
    feeds: Vec<crate::feeds::FeedInfo>,
}

/// Per-load context: who is listing, and the feed defaults that shape each [`Provenance`].
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub feed: Arc<str>,
    pub source: Arc<str>,
    pub confidence: Option<u8>,
    pub severity: Option<u8>,
    /// Seconds; applies to listings without their own `valid_until`.
    pub expire_after: Option<i64>,
    pub load_time: i64,
    pub include_non_ids: bool,
}

impl Ctx {
    /// A context for a bare list file: the file is its own feed, nothing expires.
    pub(crate) fn plain(source: &Arc<str>) -> Self {
        Self {
            feed: Arc::clone(source),
            source: Arc::clone(source),
            confidence: None,
            severity: None,
            expire_after: None,
            load_time: crate::time::now_unix(),
            include_non_ids: false,
        }
    }

    pub(crate) fn prov(
        &self,
        line: u32,
        confidence: Option<u8>,
        meta: Option<Box<ProvenanceMeta>>,
    ) -> Provenance {
        let valid_until = meta.as_ref().and_then(|m| m.valid_until);
        let last = meta.as_ref().and_then(|m| m.last_seen);
        let expires_at = valid_until.or_else(|| {
            self.expire_after
                .map(|e| last.unwrap_or(self.load_time).saturating_add(e))
        });
        Provenance {
            feed: Arc::clone(&self.feed),
            source_file: Arc::clone(&self.source),
            line,
            confidence: confidence.or(self.confidence),
            severity: self.severity,
            expires_at,
            meta,
        }
    }
}

/// What [`IntelBuilder::add`] did with a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// Blank or comment-only line.
    Blank,
    /// A new indicator. `kind` may differ from the list kind: bare IPs in a domains list become
    /// [`IndicatorKind::Ip`]. `host_bits` is true when a CIDR had host bits set and was
    /// normalised to its network address.
    New {
        id: u32,
        kind: IndicatorKind,
        host_bits: bool,
    },
    /// The normalised value was already present; the first occurrence is kept.
    Duplicate { first: u32 },
}

/// Accumulates indicators, then [`build`](IntelBuilder::build)s an [`IntelDb`].
#[derive(Default)]
pub struct IntelBuilder {
    db: IntelDb,
    duplicates: usize,
}

impl IntelBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one list line (comments and whitespace allowed) as `kind` and stores it.
    /// Returns `Ok(true)` for a new indicator, `Ok(false)` for a blank/comment line or a
    /// duplicate.
    pub fn add_line(
        &mut self,
        kind: IndicatorKind,
        text: &str,
        source: &Arc<str>,
        line: u32,
    ) -> Result<bool, LineError> {
        self.add(kind, text, source, line)
            .map(|a| matches!(a, Added::New { .. }))
    }

    /// Like [`add_line`](Self::add_line), with the details the loaders report.
    pub fn add(
        &mut self,
        kind: IndicatorKind,
        text: &str,
        source: &Arc<str>,
        line: u32,
    ) -> Result<Added, LineError> {
        let t = parse::strip_comment(text);
        if t.is_empty() {
            return Ok(Added::Blank);
        }
        let parsed = parse::parse_typed(IndicatorType::from(kind), t)?;
        let prov = Provenance {
            feed: Arc::clone(source),
            source_file: Arc::clone(source),
            line,
            confidence: None,
            severity: None,
            expires_at: None,
            meta: None,
        };
        self.insert(parsed, prov)
    }

    /// Parses `text` as `ty` (refanged, normalised) and stores it with `prov`.
    pub fn add_typed(
        &mut self,
        ty: IndicatorType,
        text: &str,
        prov: Provenance,
    ) -> Result<Added, LineError> {
        let parsed = parse::parse_typed(ty, text)?;
        self.insert(parsed, prov)
    }

    /// Like [`add_typed`](Self::add_typed), guessing the type from the value (URL, IP/CIDR,
    /// `ip:port`, JA4, hex file hash, domain).
    pub fn add_auto(&mut self, text: &str, prov: Provenance) -> Result<Added, LineError> {
        let parsed = parse::parse_auto(text)?;
        self.insert(parsed, prov)
    }

    /// Adds a listing to an existing indicator (merge), bounded by [`MAX_PROVENANCE`].
    fn merge(&mut self, first: u32, prov: Provenance) -> Added {
        self.duplicates = self.duplicates.saturating_add(1);
        let Some(ind) = usize::try_from(first)
            .ok()
            .and_then(|i| self.db.indicators.get_mut(i))
        else {
            return Added::Duplicate { first };
        };
        // The latest expiry wins; a listing that never expires makes the indicator permanent.
        ind.expires = match (ind.expires, prov.expires_at) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
        if ind.provenance.len() < MAX_PROVENANCE {
            ind.provenance.push(prov);
        } else {
            self.db.provenance_dropped = self.db.provenance_dropped.saturating_add(1);
        }
        Added::Duplicate { first }
    }

    pub(crate) fn insert(&mut self, p: Parsed, prov: Provenance) -> Result<Added, LineError> {
        let db = &mut self.db;
        let len = db.indicators.len();
        if len >= MAX_INDICATORS {
            // Duplicates are still merged so that a full store does not misreport them.
            if let Some(first) = db.existing(&p) {
                return Ok(self.merge(first, prov));
            }
            return Err(LineError::TooManyIndicators);
        }
        let id = u32::try_from(len).map_err(|_| LineError::TooManyIndicators)?;
        let ty = p.ty();
        let (value, host_bits, prev) = match p {
            Parsed::Domain(v) => {
                let key: Box<[u8]> = v.as_bytes().into();
                let prev = match db.domains.entry(key) {
                    std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(id);
                        None
                    }
                };
                (v, false, prev)
            }
            Parsed::Ip { net, host_bits } => {
                let prev = match net {
                    IpNet::V4(a, l) => db.v4.insert(a, l, id),
                    IpNet::V6(a, l) => db.v6.insert(a, l, id),
                };
                let full = matches!(net, IpNet::V4(_, 32) | IpNet::V6(_, 128));
                if !full && prev.is_none() {
                    db.cidrs = db.cidrs.saturating_add(1);
                }
                (net.to_value(), host_bits, prev)
            }
            Parsed::Ja3(k) => (ascii_string(&k), false, insert_map(&mut db.ja3, k, id)),
            Parsed::Ja4(k) => (ascii_string(&k), false, insert_map(&mut db.ja4, k, id)),
            Parsed::Hassh(k) => (ascii_string(&k), false, insert_map(&mut db.hassh, k, id)),
            Parsed::CertSha1(k) => (
                parse::sha1_hex(&k),
                false,
                insert_map(&mut db.cert_sha1, k, id),
            ),
            Parsed::IpPort(a, port) => (
                parse::ip_port_value(a, port),
                false,
                insert_map(&mut db.ip_port, (a, port), id),
            ),
            Parsed::FileHash(h) => {
                let prev = insert_map(&mut db.file_hash, h.as_bytes().into(), id);
                (h, false, prev)
            }
            Parsed::Url(UrlParts {
                value,
                host,
                path,
                exact,
            }) => {
                let prev = insert_map(&mut db.url_values, value.as_str().into(), id);
                if prev.is_none() {
                    db.urls
                        .entry(host.into_bytes().into_boxed_slice())
                        .or_default()
                        .push(UrlEntry {
                            path: path.into_bytes().into_boxed_slice(),
                            exact,
                            id,
                        });
                }
                (value, false, prev)
            }
        };
        if let Some(first) = prev {
            return Ok(self.merge(first, prov));
        }
        let kind = ty.legacy_kind();
        db.indicators.push(Indicator {
            id,
            kind,
            ty,
            value,
            source: Arc::clone(&prov.source_file),
            line: prov.line,
            expires: prov.expires_at,
            provenance: vec![prov],
        });
        if let Some(c) = db.counts.get_mut(ty.index()) {
            *c = c.saturating_add(1);
        }
        Ok(Added::New {
            id,
            kind,
            host_bits,
        })
    }

    /// Loads one list file or directory (see [`IntelDb::load_paths`]) into this builder.
    pub fn load_path(
        &mut self,
        path: &std::path::Path,
        report: &mut LoadReport,
    ) -> Result<(), IntelError> {
        crate::load::load_path(self, path, report)
    }

    /// Indicators added so far.
    pub fn len(&self) -> usize {
        self.db.indicators.len()
    }

    pub fn is_empty(&self) -> bool {
        self.db.indicators.is_empty()
    }

    /// Lines whose normalised value was already present.
    pub fn duplicates(&self) -> usize {
        self.duplicates
    }

    /// Reserves room for about `n` more indicators of type `ty` (a size hint from the file
    /// length, so that big lists do not rehash their tables over and over).
    pub(crate) fn reserve_for(&mut self, ty: IndicatorType, n: usize) {
        let n = n.min(MAX_INDICATORS.saturating_sub(self.db.indicators.len()));
        self.db.indicators.reserve(n);
        match ty {
            IndicatorType::Domain => self.db.domains.reserve(n),
            IndicatorType::Ip => {
                if let Some(t) = self.db.v4.by_len.get_mut(32) {
                    t.reserve(n);
                }
            }
            _ => {}
        }
    }

    /// Records a configured feed's defaults (its tags are kept once here, not per indicator).
    pub fn register_feed(&mut self, info: crate::feeds::FeedInfo) {
        match self.db.feeds.iter_mut().find(|f| f.name == info.name) {
            Some(f) => *f = info,
            None => self.db.feeds.push(info),
        }
    }

    /// The indicator with this id, as added so far.
    pub fn get(&self, id: u32) -> Option<&Indicator> {
        self.db.get(id)
    }

    /// Freezes the store.
    pub fn build(mut self) -> IntelDb {
        self.db.v4.finish();
        self.db.v6.finish();
        for v in self.db.urls.values_mut() {
            // Longest path first, so the first hit in `match_url` is the most specific.
            v.sort_by_key(|e| std::cmp::Reverse(e.path.len()));
        }
        self.db.indicators.shrink_to_fit();
        self.db
    }
}

fn insert_map<K: Eq + Hash>(m: &mut HashMap<K, u32>, k: K, id: u32) -> Option<u32> {
    match m.entry(k) {
        std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(id);
            None
        }
    }
}

/// Keys are validated ASCII, so this is lossless.
fn ascii_string(k: &[u8]) -> String {
    String::from_utf8_lossy(k).into_owned()
}

/// Lowercases `s` into `out`; `None` when it does not fit.
fn lower_into<'a>(s: &str, out: &'a mut [u8]) -> Option<&'a [u8]> {
    let b = s.as_bytes();
    let dst = out.get_mut(..b.len())?;
    for (d, &c) in dst.iter_mut().zip(b) {
        *d = c.to_ascii_lowercase();
    }
    Some(dst)
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
        d.finish()
    }
}

impl IntelDb {
    /// A store with no indicators: every lookup misses.
    pub fn empty() -> Self {
        Self {
            indicators: Vec::new(),
            domains: HashMap::default(),
            v4: Lpm::new(32),
            v6: Lpm::new(128),
            ja3: HashMap::default(),
            ja4: HashMap::default(),
            urls: HashMap::default(),
            url_values: HashMap::default(),
            cert_sha1: HashMap::default(),
            ip_port: HashMap::default(),
            file_hash: HashMap::default(),
            hassh: HashMap::default(),
            counts: [0; 9],
            cidrs: 0,
            provenance_dropped: 0,
            feeds: Vec::new(),
        }
    }

    pub fn builder() -> IntelBuilder {
        IntelBuilder::new()
    }

    /// Loads list files and directories into a new store.
    ///
    /// A directory is read non-recursively, files sorted by name. The list type comes from the
    /// file stem, which must start with `domains`, `ips`, `ja3` or `ja4` (ASCII case-insensitive),
    /// e.g. `domains.txt`, `ips-tor.txt`. Inside a directory, a file of unknown type or one that
    /// cannot be read is a warning and is skipped; a path named explicitly that is missing,
    /// unreadable or of unknown type is an [`IntelError`]. Bad lines are warnings (`file:line:
    /// reason`); duplicates are counted and the first occurrence kept.
    pub fn load_paths(paths: &[PathBuf]) -> Result<(IntelDb, LoadReport), IntelError> {
        let mut b = IntelBuilder::new();
        let mut report = LoadReport::default();
        for p in paths {
            b.load_path(p, &mut report)?;
        }
        Ok((b.build(), report))
    }

    /// Longest-prefix match. An IPv4-mapped IPv6 address is looked up as IPv4 first, then in
    /// the IPv6 table (which can only hold prefixes shorter than /96 covering it).
    pub fn match_ip(&self, ip: IpAddr) -> Option<&Indicator> {
        let id = match ip {
            IpAddr::V4(a) => self.v4.lookup(u32::from(a), parse::mask_u32),
            IpAddr::V6(a) => a
                .to_ipv4_mapped()
                .and_then(|v4| self.v4.lookup(u32::from(v4), parse::mask_u32))
                .or_else(|| self.v6.lookup(u128::from(a), parse::mask_u128)),
        }?;
        self.get(id)
    }

    /// Exact or parent-domain match, ASCII case-insensitive, one trailing dot ignored; the most
    /// specific entry wins. Names longer than 253 bytes never match.
    pub fn match_domain(&self, name: &str) -> Option<&Indicator> {
        if self.domains.is_empty() {
            return None;
        }
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.is_empty() || name.len() > MAX_DOMAIN_LEN {
            return None;
        }
        let mut buf = [0u8; DOMAIN_BUF_LEN];
        let q = lower_into(name, &mut buf)?;
        if let Some(&id) = self.domains.get(q) {
            return self.get(id);
        }
        for (i, &c) in q.iter().enumerate() {
            if c == b'.' {
                if let Some(&id) = q
                    .get(i.saturating_add(1)..)
                    .and_then(|s| self.domains.get(s))
                {
                    return self.get(id);
                }
            }
        }
        None
    }

    /// Exact JA3 (32 hex digits) match, ASCII case-insensitive.
    pub fn match_ja3(&self, md5: &str) -> Option<&Indicator> {
        let mut k = [0u8; JA3_HEX_LEN];
        if md5.len() != JA3_HEX_LEN {
            return None;
        }
        lower_into(md5, &mut k)?;
        self.ja3.get(&k).and_then(|&id| self.get(id))
    }

    /// Exact JA4 match, ASCII case-insensitive.
    pub fn match_ja4(&self, fp: &str) -> Option<&Indicator> {
        let mut k = [0u8; JA4_LEN];
        if fp.len() != JA4_LEN {
            return None;
        }
        lower_into(fp, &mut k)?;
        self.ja4.get(&k).and_then(|&id| self.get(id))
    }

    /// Total indicators.
    pub fn len(&self) -> usize {
        self.indicators.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty()
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

    /// Listings not kept because an indicator already had [`MAX_PROVENANCE`].
    pub fn provenance_dropped(&self) -> usize {
        self.provenance_dropped
    }

    /// Exact `ip:port` match (IPv4-mapped IPv6 addresses match IPv4 entries).
    pub fn match_ip_port(&self, ip: IpAddr, port: u16) -> Option<&Indicator> {
        if self.ip_port.is_empty() {
            return None;
        }
        let id = *self.ip_port.get(&(parse::ip_key(ip), port))?;
        self.get(id)
    }

    /// Certificate SHA-1 match; accepts `aabb..` (40 hex digits) or `AA:BB:..` (as tapir logs
    /// the leaf certificate fingerprint), any case, without allocating.
    pub fn match_cert_sha1(&self, fp: &str) -> Option<&Indicator> {
        if self.cert_sha1.is_empty() {
            return None;
        }
        let k = parse::hex_sha1(fp.as_bytes())?;
        self.cert_sha1.get(&k).and_then(|&id| self.get(id))
    }

    /// Exact HASSH (32 hex digits) match, ASCII case-insensitive.
    pub fn match_hassh(&self, md5: &str) -> Option<&Indicator> {
        let mut k = [0u8; JA3_HEX_LEN];
        if md5.len() != JA3_HEX_LEN {
            return None;
        }
        lower_into(md5, &mut k)?;
        self.hassh.get(&k).and_then(|&id| self.get(id))
    }

    /// Exact file hash (MD5/SHA-1/SHA-256/SHA-512 hex) lookup, ASCII case-insensitive.
    pub fn match_file_hash(&self, hex: &str) -> Option<&Indicator> {
        let mut buf = [0u8; FILE_HASH_MAX];
        let k = lower_into(hex, &mut buf)?;
        self.file_hash.get(k).and_then(|&id| self.get(id))
    }

    /// URL match on an HTTP request, Suricata-like: the request's host (the `Host` header, any
    /// `:port` and one trailing dot ignored, ASCII case-insensitive) must equal the URL's host
    /// exactly (no subdomains), and the request target (an absolute-form target is reduced to
    /// its path; a `#fragment` is ignored) must start with the URL's path when the URL has no
    /// query, or equal path and query byte for byte when it has one. The URL's scheme and port
    /// are not compared (the sensor sees cleartext HTTP on any port). The longest matching path
    /// wins. No allocation.
    pub fn match_url(&self, host: &str, target: &str) -> Option<&Indicator> {
        if self.urls.is_empty() {
            return None;
        }
        let h = strip_host_port(host);
        let h = h.strip_suffix('.').unwrap_or(h);
        let mut buf = [0u8; DOMAIN_BUF_LEN];
        let key = lower_into(h, &mut buf)?;
        let entries = self.urls.get(key)?;
        let t = request_path(target);
        let t = t.split('#').next().unwrap_or(t).as_bytes();
        entries
            .iter()
            .find(|e| {
                if e.exact {
                    t == &*e.path
                } else {
                    t.starts_with(&e.path)
                }
            })
            .and_then(|e| self.get(e.id))
    }

    /// The indicator with this normalised (or normalisable) value, e.g. to carry sightings over
    /// to a reloaded store. Allocates; not for the packet path.
    pub fn find(&self, ty: IndicatorType, value: &str) -> Option<&Indicator> {
        let p = parse::parse_typed(ty, value).ok()?;
        if p.ty() != ty {
            return None;
        }
        self.existing(&p).and_then(|id| self.get(id))
    }

    /// False once every listing of `ind` has expired at `now` (Unix seconds: packet time in
    /// replay, wall time live). Lookups stay time-free; callers check this on a hit.
    pub fn is_live(&self, ind: &Indicator, now: i64) -> bool {
        !matches!(ind.expires, Some(e) if now >= e)
    }

    /// Indicators that are no longer live at `now`.
    pub fn expired_count(&self, now: i64) -> usize {
        self.indicators
            .iter()
            .filter(|i| !self.is_live(i, now))
            .count()
    }

    /// The indicator with this dense id.
    pub fn get(&self, id: u32) -> Option<&Indicator> {
        self.indicators.get(usize::try_from(id).ok()?)
    }

    /// All indicators in id order.
    pub fn iter(&self) -> std::slice::Iter<'_, Indicator> {
        self.indicators.iter()
    }

    /// Id of the entry equal to `p`, if any.
    fn existing(&self, p: &Parsed) -> Option<u32> {
        match p {
            Parsed::Domain(v) => self.domains.get(v.as_bytes()).copied(),
            Parsed::Ip {
                net: IpNet::V4(a, l),
                ..
            } => self.v4.contains(*a, *l),
            Parsed::Ip {
                net: IpNet::V6(a, l),
                ..
            } => self.v6.contains(*a, *l),
            Parsed::Ja3(k) => self.ja3.get(k).copied(),
            Parsed::Ja4(k) => self.ja4.get(k).copied(),
            Parsed::Hassh(k) => self.hassh.get(k).copied(),
            Parsed::CertSha1(k) => self.cert_sha1.get(k).copied(),
            Parsed::IpPort(a, p) => self.ip_port.get(&(*a, *p)).copied(),
            Parsed::FileHash(h) => self.file_hash.get(h.as_bytes()).copied(),
            Parsed::Url(u) => self.url_values.get(u.value.as_str()).copied(),
        }
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` -> the host part; a bare IPv6 address is kept.
fn strip_host_port(h: &str) -> &str {
    if let Some(r) = h.strip_prefix('[') {
        return r.split(']').next().unwrap_or(r);
    }
    match h.rsplit_once(':') {
        Some((a, _)) if !a.contains(':') => a,
        _ => h,
    }
}

/// The origin-form part of a request target (`http://h/p?q` -> `/p?q`).
fn request_path(t: &str) -> &str {
    if t.starts_with('/') {
        return t;
    }
    match t.split_once("://") {
        Some((_, rest)) => match rest.find(['/', '?']) {
            Some(i) => rest.get(i..).unwrap_or("/"),
            None => "/",
        },
        None => t,
    }
}

impl IntelBuilder {
    /// Reads a whole list from a byte stream through the same line parser as files use.
    /// `source` names the list in indicators and warnings.
    pub fn load_reader<R: std::io::BufRead>(
        &mut self,
        kind: IndicatorKind,
        reader: R,
        source: &Arc<str>,
        report: &mut LoadReport,
    ) -> std::io::Result<()> {
        match crate::load::read_list(self, kind, reader, source, report) {
            Ok(()) => Ok(()),
            Err(crate::load::ReadError::Io(e)) => Err(e),
            Err(crate::load::ReadError::Full { line }) => Err(std::io::Error::other(format!(
                "{source}:{line}: {}",
                LineError::TooManyIndicators
            ))),
        }
    }
}
