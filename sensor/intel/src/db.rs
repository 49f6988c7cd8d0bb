//! The immutable indicator store and its builder.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::load::{IntelError, LoadReport};
use crate::parse::{self, IpNet, LineError, Parsed, JA3_HEX_LEN, JA4_LEN, MAX_DOMAIN_LEN};
use crate::{Indicator, IndicatorKind, MAX_INDICATORS};

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
            by_len: (0..=width).map(|_| HashMap::new()).collect(),
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

/// The finished, read-only indicator store. Cheap to share behind `Arc`; lookups never allocate.
pub struct IntelDb {
    indicators: Vec<Indicator>,
    domains: HashMap<Box<[u8]>, u32>,
    v4: Lpm<u32>,
    v6: Lpm<u128>,
    ja3: HashMap<[u8; JA3_HEX_LEN], u32>,
    ja4: HashMap<[u8; JA4_LEN], u32>,
    counts: [usize; 4],
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
        let parsed = parse::parse_value(kind, t)?;
        self.insert(parsed, source, line)
    }

    fn insert(&mut self, p: Parsed, source: &Arc<str>, line: u32) -> Result<Added, LineError> {
        let db = &mut self.db;
        let len = db.indicators.len();
        if len >= MAX_INDICATORS {
            // Duplicates are still recognised so that a full store does not misreport them.
            if let Some(first) = db.existing(&p) {
                self.duplicates = self.duplicates.saturating_add(1);
                return Ok(Added::Duplicate { first });
            }
            return Err(LineError::TooManyIndicators);
        }
        let id = u32::try_from(len).map_err(|_| LineError::TooManyIndicators)?;
        let (kind, value, host_bits, prev) = match p {
            Parsed::Domain(v) => {
                let key: Box<[u8]> = v.as_bytes().into();
                let prev = match db.domains.entry(key) {
                    std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(id);
                        None
                    }
                };
                (IndicatorKind::Domain, v, false, prev)
            }
            Parsed::Ip { net, host_bits } => {
                let prev = match net {
                    IpNet::V4(a, l) => db.v4.insert(a, l, id),
                    IpNet::V6(a, l) => db.v6.insert(a, l, id),
                };
                (IndicatorKind::Ip, net.to_value(), host_bits, prev)
            }
            Parsed::Ja3(k) => (
                IndicatorKind::Ja3,
                ascii_string(&k),
                false,
                insert_map(&mut db.ja3, k, id),
            ),
            Parsed::Ja4(k) => (
                IndicatorKind::Ja4,
                ascii_string(&k),
                false,
                insert_map(&mut db.ja4, k, id),
            ),
        };
        if let Some(first) = prev {
            self.duplicates = self.duplicates.saturating_add(1);
            return Ok(Added::Duplicate { first });
        }
        db.indicators.push(Indicator {
            id,
            kind,
            value,
            source: Arc::clone(source),
            line,
        });
        if let Some(c) = db.counts.get_mut(kind.index()) {
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

    /// Freezes the store.
    pub fn build(mut self) -> IntelDb {
        self.db.v4.finish();
        self.db.v6.finish();
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
        f.debug_struct("IntelDb")
            .field("domain", &self.count(IndicatorKind::Domain))
            .field("ip", &self.count(IndicatorKind::Ip))
            .field("ja3", &self.count(IndicatorKind::Ja3))
            .field("ja4", &self.count(IndicatorKind::Ja4))
            .finish()
    }
}

impl IntelDb {
    /// A store with no indicators: every lookup misses.
    pub fn empty() -> Self {
        Self {
            indicators: Vec::new(),
            domains: HashMap::new(),
            v4: Lpm::new(32),
            v6: Lpm::new(128),
            ja3: HashMap::new(),
            ja4: HashMap::new(),
            counts: [0; 4],
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

    /// Indicators of one kind.
    pub fn count(&self, kind: IndicatorKind) -> usize {
        self.counts.get(kind.index()).copied().unwrap_or(0)
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
        }
    }
}

impl IntelBuilder {
    /// Normalised value of an indicator added so far.
    pub(crate) fn value_of(&self, id: u32) -> Option<&str> {
        self.db.get(id).map(|i| i.value.as_str())
    }

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
