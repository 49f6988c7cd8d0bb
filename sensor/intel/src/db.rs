//! One feed's indicator table and its builder. A [`crate::IntelDb`] generation is a stack of
//! these tables, shared between generations so that a reload rebuilds only what changed.

/// aHash: randomly keyed per process like SipHash (feeds are third-party input, so keys must
/// not be predictable), and several times faster on the short keys probed per lookup.
type HashMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Arc;

use crate::load::{IntelError, LoadReport};
use crate::parse::{self, IpNet, LineError, Parsed, UrlParts, JA3_HEX_LEN, JA4_LEN, SHA1_LEN};
use crate::{
    Indicator, IndicatorKind, IndicatorType, IntelDb, Provenance, ProvenanceMeta, MAX_INDICATORS,
    MAX_PROVENANCE,
};

/// Longest file hash key (SHA-512 hex).
pub(crate) const FILE_HASH_MAX: usize = 128;

/// Query buffer for domain lookups: the longest name (253) plus room for one trailing dot.
pub(crate) const DOMAIN_BUF_LEN: usize = 256;

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

    /// `(prefix length, id)` of the longest prefix covering `addr`.
    fn lookup(&self, addr: K, mask: impl Fn(K, u8) -> K) -> Option<(u16, u32)> {
        self.lens_desc.iter().find_map(|&len| {
            self.by_len
                .get(usize::from(len))
                .and_then(|t| t.get(&mask(addr, len)).copied())
                .map(|id| (u16::from(len), id))
        })
    }
}

/// The IPv4 /24 blocks some entry covers (part of). A lookup of an address whose block is not
/// covered misses without probing the prefix tables, which is what most lookups do (one per
/// endpoint of each new flow). Few blocks are kept as sorted, disjoint ranges (8 bytes each, a
/// binary search); past [`Self::MAX_RANGES`] as one bit per block (2 MiB). A table of a handful
/// of addresses, and every generation made of such tables, then costs bytes rather than 2 MiB.
#[derive(Clone)]
pub(crate) enum Blocks24 {
    /// `[first, end)` block ranges; sorted and disjoint once sealed.
    Ranges(Vec<(u32, u32)>),
    Bits(Box<[u64]>),
}

impl Default for Blocks24 {
    fn default() -> Self {
        Self::Ranges(Vec::new())
    }
}

impl Blocks24 {
    const WORDS: usize = (1 << 24) / 64;
    /// Above this many disjoint ranges (32 KiB of them) the bitmap is both smaller per range
    /// and faster (one bit test instead of a 12-step binary search).
    const MAX_RANGES: usize = 4096;

    /// Marks the blocks of `net/len`. Call [`Self::seal`] before [`Self::may_hold`].
    fn cover(&mut self, net: u32, len: u8) {
        let first = net >> 8;
        let count = if len >= 24 {
            1u32
        } else {
            1u32 << (24 - u32::from(len))
        };
        self.cover_blocks(first, first.saturating_add(count).min(1 << 24));
    }

    fn cover_blocks(&mut self, first: u32, end: u32) {
        match self {
            Self::Ranges(r) => {
                r.push((first, end));
                // Bounds the pending list while a large table is covered.
                if r.len() >= 16 * Self::MAX_RANGES {
                    self.seal();
                }
            }
            Self::Bits(words) => {
                let mut b = first;
                // Whole words at a time, so that a short prefix costs at most 2^24 / 64 stores.
                while b < end {
                    let Some(w) = words.get_mut((b / 64) as usize) else {
                        return;
                    };
                    if b.is_multiple_of(64) && end - b >= 64 {
                        *w = u64::MAX;
                        b += 64;
                    } else {
                        *w |= 1 << (b % 64);
                        b += 1;
                    }
                }
            }
        }
    }

    /// Sorts and merges the ranges, and switches to the bitmap when they are too many.
    pub(crate) fn seal(&mut self) {
        let Self::Ranges(r) = self else {
            return;
        };
        r.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(r.len());
        for &(first, end) in r.iter() {
            match merged.last_mut() {
                Some(last) if first <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((first, end)),
            }
        }
        if merged.len() > Self::MAX_RANGES {
            let mut bits = Self::Bits(vec![0; Self::WORDS].into_boxed_slice());
            for (first, end) in merged {
                bits.cover_blocks(first, end);
            }
            *self = bits;
        } else {
            merged.shrink_to_fit();
            *r = merged;
        }
    }

    /// Adds every block `other` covers; [`Self::seal`] afterwards.
    pub(crate) fn union(&mut self, other: &Blocks24) {
        match other {
            Self::Ranges(ranges) => {
                for &(first, end) in ranges {
                    self.cover_blocks(first, end);
                }
            }
            Self::Bits(theirs) => {
                if let Self::Ranges(mine) = self {
                    let mine = std::mem::take(mine);
                    *self = Self::Bits(theirs.clone());
                    for (first, end) in mine {
                        self.cover_blocks(first, end);
                    }
                } else if let Self::Bits(words) = self {
                    for (a, b) in words.iter_mut().zip(theirs.iter()) {
                        *a |= b;
                    }
                }
            }
        }
    }

    /// False when no entry can cover `addr` (once sealed).
    pub(crate) fn may_hold(&self, addr: u32) -> bool {
        let b = addr >> 8;
        match self {
            Self::Ranges(r) => {
                let i = r.partition_point(|&(_, end)| end <= b);
                r.get(i).is_some_and(|&(first, _)| first <= b)
            }
            Self::Bits(words) => words
                .get((b / 64) as usize)
                .is_some_and(|w| w & (1 << (b % 64)) != 0),
        }
    }
}

/// One URL indicator under its host.
struct UrlEntry {
    path: Box<[u8]>,
    exact: bool,
    id: u32,
}

/// Bits of an indicator id that index its table; the bits above name the table's slot.
pub(crate) const SLOT_SHIFT: u32 = 23;
const LOCAL_MASK: u32 = (1 << SLOT_SHIFT) - 1;
const _: () = assert!(MAX_INDICATORS == 1 << SLOT_SHIFT);
/// Most tables (feeds or list files) one generation stacks: the slot bits left in a `u32` id.
pub const MAX_LAYERS: usize = 1 << (32 - SLOT_SHIFT);

/// One feed's read-only indicators. Lookups never allocate. Ids carry the table's slot in their
/// top bits, so that a table kept across reloads keeps its ids.
pub(crate) struct Table {
    slot: u32,
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
    /// The /24 blocks any IPv4 entry covers (empty when the table has none).
    v4_blocks: Blocks24,
    /// Per [`IndicatorType::index`].
    counts: [usize; 9],
    cidrs: usize,
    /// Listings beyond [`MAX_PROVENANCE`] that were only counted.
    provenance_dropped: usize,
    pub(crate) feeds: Vec<crate::feeds::FeedInfo>,
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
pub struct IntelBuilder {
    db: Table,
    duplicates: usize,
}

impl Default for IntelBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl IntelBuilder {
    pub fn new() -> Self {
        Self::for_slot(0)
    }

    /// A builder for the table in `slot` (< [`MAX_LAYERS`]) of a generation.
    pub(crate) fn for_slot(slot: u32) -> Self {
        Self {
            db: Table::empty(slot),
            duplicates: 0,
        }
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
        let Some(ind) = usize::try_from(first & LOCAL_MASK)
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
        let id =
            u32::try_from(len).map_err(|_| LineError::TooManyIndicators)? | (db.slot << SLOT_SHIFT);
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

    /// Freezes the store: a generation of this one table.
    pub fn build(self) -> IntelDb {
        IntelDb::from_table(self.build_table())
    }

    pub(crate) fn build_table(mut self) -> Table {
        self.db.v4.finish();
        for (len, t) in self.db.v4.by_len.iter().enumerate() {
            let len = u8::try_from(len).unwrap_or(32);
            for &net in t.keys() {
                self.db.v4_blocks.cover(net, len);
            }
        }
        self.db.v4_blocks.seal();
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
pub(crate) fn lower_into<'a>(s: &str, out: &'a mut [u8]) -> Option<&'a [u8]> {
    let b = s.as_bytes();
    let dst = out.get_mut(..b.len())?;
    for (d, &c) in dst.iter_mut().zip(b) {
        *d = c.to_ascii_lowercase();
    }
    Some(dst)
}

impl Table {
    pub(crate) fn empty(slot: u32) -> Self {
        Self {
            slot,
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
            v4_blocks: Blocks24::default(),
            counts: [0; 9],
            cidrs: 0,
            provenance_dropped: 0,
            feeds: Vec::new(),
        }
    }

    pub(crate) fn slot(&self) -> u32 {
        self.slot
    }

    pub(crate) fn v4_blocks(&self) -> &Blocks24 {
        &self.v4_blocks
    }

    /// Longest-prefix match: `(rank, id)`, where a longer prefix ranks higher and an IPv4 hit
    /// for an IPv4-mapped IPv6 address outranks an IPv6 one (it is looked up first).
    pub(crate) fn lookup_ip(&self, ip: IpAddr) -> Option<(u16, u32)> {
        match ip {
            IpAddr::V4(a) => self.v4.lookup(u32::from(a), parse::mask_u32),
            IpAddr::V6(a) => a
                .to_ipv4_mapped()
                .and_then(|v4| self.v4.lookup(u32::from(v4), parse::mask_u32))
                .map(|(l, id)| (l + 256, id))
                .or_else(|| self.v6.lookup(u128::from(a), parse::mask_u128)),
        }
    }

    /// The IPv6 prefix tables alone (for an IPv4-mapped address no IPv4 entry covers).
    pub(crate) fn lookup_ip_v6_only(&self, ip: IpAddr) -> Option<(u16, u32)> {
        match ip {
            IpAddr::V6(a) => self.v6.lookup(u128::from(a), parse::mask_u128),
            IpAddr::V4(_) => None,
        }
    }

    /// `q`: a lowercased name without trailing dot. `(matched length, id)`: the most specific
    /// entry of this table.
    pub(crate) fn lookup_domain(&self, q: &[u8]) -> Option<(usize, u32)> {
        if self.domains.is_empty() {
            return None;
        }
        if let Some(&id) = self.domains.get(q) {
            return Some((q.len(), id));
        }
        for (i, &c) in q.iter().enumerate() {
            if c == b'.' {
                let rest = q.get(i.saturating_add(1)..)?;
                if let Some(&id) = self.domains.get(rest) {
                    return Some((rest.len(), id));
                }
            }
        }
        None
    }

    pub(crate) fn lookup_ja3(&self, k: &[u8; JA3_HEX_LEN]) -> Option<u32> {
        self.ja3.get(k).copied()
    }

    pub(crate) fn lookup_ja4(&self, k: &[u8; JA4_LEN]) -> Option<u32> {
        self.ja4.get(k).copied()
    }

    pub(crate) fn lookup_hassh(&self, k: &[u8; JA3_HEX_LEN]) -> Option<u32> {
        self.hassh.get(k).copied()
    }

    pub(crate) fn lookup_ip_port(&self, k: &(u128, u16)) -> Option<u32> {
        self.ip_port.get(k).copied()
    }

    pub(crate) fn lookup_cert_sha1(&self, k: &[u8; SHA1_LEN]) -> Option<u32> {
        self.cert_sha1.get(k).copied()
    }

    pub(crate) fn lookup_file_hash(&self, k: &[u8]) -> Option<u32> {
        self.file_hash.get(k).copied()
    }

    pub(crate) fn has_urls(&self) -> bool {
        !self.urls.is_empty()
    }

    /// `host`: lowercased; `t`: the request path without fragment. `(path length, id)` of the
    /// longest matching URL of this table.
    pub(crate) fn lookup_url(&self, host: &[u8], t: &[u8]) -> Option<(usize, u32)> {
        self.urls
            .get(host)?
            .iter()
            .find(|e| {
                if e.exact {
                    t == &*e.path
                } else {
                    t.starts_with(&e.path)
                }
            })
            .map(|e| (e.path.len(), e.id))
    }

    pub(crate) fn len(&self) -> usize {
        self.indicators.len()
    }

    pub(crate) fn count_type(&self, ty: IndicatorType) -> usize {
        self.counts.get(ty.index()).copied().unwrap_or(0)
    }

    pub(crate) fn counts(&self) -> &[usize; 9] {
        &self.counts
    }

    pub(crate) fn cidr_count(&self) -> usize {
        self.cidrs
    }

    pub(crate) fn provenance_dropped(&self) -> usize {
        self.provenance_dropped
    }

    /// The indicator with this id, when the id is of this table.
    pub(crate) fn get(&self, id: u32) -> Option<&Indicator> {
        if id >> SLOT_SHIFT != self.slot {
            return None;
        }
        self.indicators.get(usize::try_from(id & LOCAL_MASK).ok()?)
    }

    pub(crate) fn indicators(&self) -> &[Indicator] {
        &self.indicators
    }

    /// Id of the entry equal to `p`, if any.
    pub(crate) fn existing(&self, p: &Parsed) -> Option<u32> {
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
pub(crate) fn strip_host_port(h: &str) -> &str {
    if let Some(r) = h.strip_prefix('[') {
        return r.split(']').next().unwrap_or(r);
    }
    match h.rsplit_once(':') {
        Some((a, _)) if !a.contains(':') => a,
        _ => h,
    }
}

/// The origin-form part of a request target (`http://h/p?q` -> `/p?q`).
pub(crate) fn request_path(t: &str) -> &str {
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

#[cfg(test)]
mod tests {
    use super::Blocks24;

    /// Random `net/len` pairs from a fixed LCG: lengths 8..=32, or 24..=32 for an odd `seed`
    /// (too many disjoint blocks to stay ranges once there are thousands).
    fn nets(n: usize, seed: u64) -> Vec<(u32, u8)> {
        let min = if !seed.is_multiple_of(2) { 24 } else { 8 };
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let len = min + ((x >> 59) as u8 % (33 - min));
                let net = (x >> 16) as u32 & (u32::MAX << (32 - u32::from(len)));
                (net, len)
            })
            .collect()
    }

    fn covered(nets: &[(u32, u8)], addr: u32) -> bool {
        nets.iter().any(|&(net, len)| {
            (addr >> 8) >> (24 - u32::from(len.min(24)))
                == (net >> 8) >> (24 - u32::from(len.min(24)))
        })
    }

    fn blocks(nets: &[(u32, u8)]) -> Blocks24 {
        let mut b = Blocks24::default();
        for &(net, len) in nets {
            b.cover(net, len);
        }
        b.seal();
        b
    }

    fn probes(set: &[(u32, u8)]) -> Vec<u32> {
        let mut p: Vec<u32> = set
            .iter()
            .take(400)
            .flat_map(|&(net, _)| {
                [
                    net,
                    net.wrapping_sub(256),
                    net.wrapping_add(256),
                    net | 0xff,
                ]
            })
            .collect();
        p.extend(nets(400, 99).iter().map(|&(n, _)| n ^ 0x5a5a_5a5a));
        p.extend([0, u32::MAX]);
        p
    }

    #[test]
    fn both_representations_answer_like_a_scan() {
        for (n, seed, want_bits) in [
            (0, 0, false),
            (1, 1, false),
            (300, 2, false),
            (20_000, 4, false),
            (20_000, 5, true),
        ] {
            let set = nets(n, seed);
            let b = blocks(&set);
            assert_eq!(matches!(b, Blocks24::Bits(_)), want_bits, "{n} nets");
            for a in probes(&set) {
                assert_eq!(b.may_hold(a), covered(&set, a), "{n} nets, {a:#x}");
            }
        }
    }

    #[test]
    fn union_of_mixed_representations() {
        let small = nets(50, 1);
        let large = nets(20_000, 5);
        let tiny = nets(3, 3);
        for order in [
            [&small, &large, &tiny],
            [&large, &tiny, &small],
            [&tiny, &small, &large],
        ] {
            let mut u = Blocks24::default();
            for part in order {
                u.union(&blocks(part));
            }
            u.seal();
            let all: Vec<_> = [&small, &large, &tiny]
                .into_iter()
                .flatten()
                .copied()
                .collect();
            for a in probes(&all) {
                assert_eq!(u.may_hold(a), covered(&all, a), "{a:#x}");
            }
        }
        let mut u = Blocks24::default();
        u.union(&blocks(&small));
        u.union(&blocks(&tiny));
        u.seal();
        assert!(matches!(u, Blocks24::Ranges(_)), "small tables stay ranges");
    }
}
