//! Payload pattern intel matched with Hyperscan, in block mode (UDP datagrams) and streaming
//! mode (TCP, one stream per flow direction, fed reassembled bytes in order).
//!
//! **Files** (format in `rules/README.md`): `patterns*.rules` hold one `key=value` entry a line
//! (id, name, `content=` literal with Suricata `|hex|` escapes and `nocase`, or `regex=/../flags`,
//! scope: proto, ports, direction, depth; severity, ATT&CK tags, reference); `patterns*.txt` hold
//! one literal a line. A line that does not parse, or a pattern Hyperscan cannot compile, becomes
//! a [`LoadError`] naming file, line and the reason (Hyperscan's own message); the rest load.
//!
//! **Compilation** ([`PatternSet::build`]): once per load, into a streaming database (patterns
//! whose scope allows TCP) and a block database (UDP). Literals are escaped to `\xHH` regexes so
//! both kinds share one database per mode (Hyperscan's literal API cannot be mixed with regexes
//! in one database, and two databases would double the per-flow stream state and scan calls).
//! Every pattern gets `HS_FLAG_SINGLEMATCH`: Hyperscan itself reports each pattern at most once
//! per stream (or per datagram). `SOM_LEFTMOST` is not used (it is costly), so a [`Hit`] carries
//! the END offset of the match only. Hyperscan docs:
//! <https://intel.github.io/hyperscan/dev-reference/compilation.html>,
//! <https://intel.github.io/hyperscan/dev-reference/runtime.html>.
//!
//! **Runtime** (per worker, no locks on the scan path): [`PatternSet`] is immutable and cheap to
//! clone (an `Arc`); a [`Scanner`] owns the Hyperscan scratch; a [`StreamState`] per flow
//! direction opens its Hyperscan stream lazily on the first bytes. Streams must be finished with
//! [`Scanner::close`] (which also reports end-of-stream matches such as `$` anchors); dropping a
//! `StreamState` that is still open closes it too (through a fallback scratch behind a mutex,
//! matches discarded, counted in [`PatternSet::dropped_open_streams`]), so Hyperscan stream state
//! cannot leak. [`PatternSet::open_streams`] counts live streams.
//!
//! **Limits**: a stream is scanned up to [`ScannerConfig::stream_depth`] bytes (default
//! [`DEFAULT_STREAM_DEPTH`], 1 MiB like Suricata's `stream.reassembly.depth`); past it the
//! Hyperscan stream is freed and [`ScanStats::streams_past_depth`] /
//! [`ScanStats::bytes_past_depth`] move. At most [`MAX_PATTERNS`] patterns, lines up to
//! [`MAX_LINE_BYTES`], literals up to [`MAX_CONTENT_BYTES`], regexes up to [`MAX_REGEX_BYTES`],
//! files up to [`MAX_FILE_BYTES`], at most [`MAX_FIRED_PER_STREAM`] remembered hits per stream.

#![forbid(unsafe_code)]

mod cache;
mod parse;
mod scan;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hyperscan::{
    BlockDatabase, Builder as _, HsError, Pattern, PatternFlags, Patterns, Scratch,
    StreamingDatabase,
};

pub use parse::{decode_content, parse_rule_line, parse_text, FileKind};
pub use scan::{Hit, ScanStats, Scanner, ScannerConfig, StreamState};

/// Default per-direction stream scan depth (1 MiB, Suricata's `stream.reassembly.depth`).
pub const DEFAULT_STREAM_DEPTH: u64 = 1 << 20;
/// Most patterns one set may hold.
pub const MAX_PATTERNS: usize = 100_000;
/// Longest accepted line in a pattern file.
pub const MAX_LINE_BYTES: usize = 16 * 1024;
/// Longest decoded `content=` literal.
pub const MAX_CONTENT_BYTES: usize = 4096;
/// Longest `regex=` expression.
pub const MAX_REGEX_BYTES: usize = 8192;
/// Largest pattern file read.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// Most entries read from one directory.
pub const MAX_DIR_ENTRIES: usize = 10_000;
/// Most ATT&CK tags on one entry.
pub const MAX_MITRE_TAGS: usize = 16;
/// Most port ranges in one `ports=`/`sport=`/`dport=`.
pub const MAX_PORT_RANGES: usize = 64;
/// Most distinct patterns remembered as fired in one stream (dedupe beyond Hyperscan's own
/// single-match, e.g. across a pattern reload); past it Hyperscan's single-match still applies.
pub const MAX_FIRED_PER_STREAM: usize = 64;
/// Most load errors kept in a report; the rest are only counted.
pub const MAX_LOAD_ERRORS: usize = 1000;
/// Severity of entries that give none (Suricata's default priority).
pub const DEFAULT_SEVERITY: u8 = 3;

/// Direction of the bytes being scanned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to server (the flow initiator's bytes).
    ToServer,
    /// Server to client.
    ToClient,
}

/// Ports of the bytes being scanned: `src` is the sender's port, `dst` the receiver's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ports {
    /// Sender's port.
    pub src: u16,
    /// Receiver's port.
    pub dst: u16,
}

/// Transport protocols a pattern applies to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ProtoScope {
    /// TCP streams only.
    Tcp,
    /// UDP datagrams only.
    Udp,
    /// Both.
    #[default]
    Any,
}

/// Directions a pattern applies to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DirScope {
    /// Client-to-server bytes only.
    ToServer,
    /// Server-to-client bytes only.
    ToClient,
    /// Either direction.
    #[default]
    Both,
}

impl DirScope {
    fn allows(self, dir: Direction) -> bool {
        matches!(
            (self, dir),
            (DirScope::Both, _)
                | (DirScope::ToServer, Direction::ToServer)
                | (DirScope::ToClient, Direction::ToClient)
        )
    }
}

/// A set of inclusive port ranges.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PortSet {
    ranges: Vec<(u16, u16)>,
}

impl PortSet {
    /// A set from inclusive `(low, high)` ranges.
    pub fn new(ranges: Vec<(u16, u16)>) -> PortSet {
        PortSet { ranges }
    }

    /// Whether `port` is in one of the ranges.
    pub fn contains(&self, port: u16) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= port && port <= hi)
    }
}

/// Where a pattern applies. `None` port sets mean any port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scope {
    /// Transport protocols.
    pub proto: ProtoScope,
    /// Directions.
    pub dir: DirScope,
    /// Either side's port must be in this set.
    pub ports: Option<PortSet>,
    /// The sender's port must be in this set.
    pub sport: Option<PortSet>,
    /// The receiver's port must be in this set.
    pub dport: Option<PortSet>,
    /// The match must END within the first `depth` bytes of the direction's stream (of the
    /// datagram, for UDP).
    pub depth: Option<u64>,
}

impl Scope {
    /// Whether bytes with this direction and these ports, matched ending at `offset_end`, are
    /// in scope (the protocol is checked when databases are built).
    pub fn allows(&self, dir: Direction, ports: Ports, offset_end: u64) -> bool {
        // Written as matches! rather than Option::is_none_or, which is newer than the MSRV.
        let miss = |set: &Option<PortSet>, a: u16, b: u16| matches!(set, Some(p) if !p.contains(a) && !p.contains(b));
        self.dir.allows(dir)
            && !miss(&self.ports, ports.src, ports.dst)
            && !miss(&self.sport, ports.src, ports.src)
            && !miss(&self.dport, ports.dst, ports.dst)
            && !matches!(self.depth, Some(d) if offset_end > d)
    }
}

/// What a pattern matches.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Matcher {
    /// Exact bytes, optionally ASCII case-insensitive.
    Literal {
        /// The decoded bytes.
        bytes: Vec<u8>,
        /// ASCII case-insensitive.
        nocase: bool,
    },
    /// A regular expression in the PCRE subset Hyperscan accepts.
    Regex {
        /// The expression, without delimiters.
        expr: String,
        /// Flag `i`.
        caseless: bool,
        /// Flag `s`: `.` matches newlines.
        dotall: bool,
        /// Flag `m`: `^`/`$` match at line boundaries.
        multiline: bool,
    },
}

/// One pattern entry as loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternDef {
    /// User id (`id=`); 0 for entries from plain lists.
    pub id: u32,
    /// Name for alerts (`name=`; the literal's text for plain lists).
    pub name: String,
    /// What it matches.
    pub matcher: Matcher,
    /// Where it applies.
    pub scope: Scope,
    /// 1 (highest) ..= 255.
    pub severity: u8,
    /// ATT&CK technique ids (`T1071`, `T1071.001`).
    pub mitre: Vec<String>,
    /// Reference URL or text.
    pub reference: Option<String>,
    /// File it came from (empty when built in code).
    pub file: Arc<str>,
    /// 1-based line in `file` (0 when built in code).
    pub line: u32,
}

impl PatternDef {
    /// A literal entry with default scope, for building sets in code.
    pub fn literal(id: u32, name: &str, bytes: &[u8], nocase: bool) -> PatternDef {
        PatternDef {
            id,
            name: name.to_string(),
            matcher: Matcher::Literal {
                bytes: bytes.to_vec(),
                nocase,
            },
            scope: Scope::default(),
            severity: DEFAULT_SEVERITY,
            mitre: Vec::new(),
            reference: None,
            file: Arc::from(""),
            line: 0,
        }
    }

    /// A regex entry (no flags) with default scope, for building sets in code.
    pub fn regex(id: u32, name: &str, expr: &str) -> PatternDef {
        PatternDef {
            matcher: Matcher::Regex {
                expr: expr.to_string(),
                caseless: false,
                dotall: false,
                multiline: false,
            },
            ..PatternDef::literal(id, name, b"", false)
        }
    }

    /// The Hyperscan expression and flags this entry compiles to.
    fn hs_pattern(&self, index: usize) -> Pattern {
        let mut flags = PatternFlags::SINGLEMATCH;
        let expression = match &self.matcher {
            Matcher::Literal { bytes, nocase } => {
                if *nocase {
                    flags |= PatternFlags::CASELESS;
                }
                escape_literal(bytes)
            }
            Matcher::Regex {
                expr,
                caseless,
                dotall,
                multiline,
            } => {
                for (on, f) in [
                    (*caseless, PatternFlags::CASELESS),
                    (*dotall, PatternFlags::DOTALL),
                    (*multiline, PatternFlags::MULTILINE),
                ] {
                    if on {
                        flags |= f;
                    }
                }
                expr.clone()
            }
        };
        Pattern {
            expression,
            flags,
            id: Some(index),
            ext: Default::default(),
            som: None,
        }
    }
}

/// Escapes bytes into a regex that matches exactly them: alphanumerics as is, all else `\xHH`.
fn escape_literal(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut s = String::with_capacity(bytes.len().saturating_mul(4));
    for &b in bytes {
        if b.is_ascii_alphanumeric() {
            s.push(char::from(b));
        } else {
            let _ = write!(s, "\\x{b:02x}");
        }
    }
    s
}

/// A line that did not load: bad syntax, or a pattern Hyperscan rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// File name or path as given (empty for entries built in code).
    pub file: Arc<str>,
    /// 1-based line (0 when not from a file).
    pub line: u32,
    /// Why (for compile errors, Hyperscan's message).
    pub reason: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

/// Failures that stop a load as a whole.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// More than [`MAX_PATTERNS`] patterns.
    #[error("too many patterns: {0} (limit {MAX_PATTERNS})")]
    TooManyPatterns(usize),
    /// Hyperscan failed for a reason not tied to one pattern (memory, platform, a database too
    /// large as a whole).
    #[error("hyperscan: {0}")]
    Hyperscan(String),
}

/// The result of loading: the set and every line that did not load.
#[derive(Debug)]
pub struct Loaded {
    /// The compiled set (possibly empty).
    pub set: PatternSet,
    /// Lines that did not load, at most [`MAX_LOAD_ERRORS`].
    pub errors: Vec<LoadError>,
    /// Errors beyond [`MAX_LOAD_ERRORS`], counted only.
    pub errors_dropped: usize,
    /// Whether compiled databases came from the on-disk cache.
    pub from_cache: bool,
}

/// Options for [`PatternSet::load_paths`] and [`PatternSet::build_with`].
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// Directory for serialized databases keyed by a SHA-256 of the compiled patterns, the
    /// Hyperscan version and the mode; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
}

pub(crate) struct Inner {
    pub(crate) defs: Vec<PatternDef>,
    pub(crate) stream_db: Option<StreamingDatabase>,
    pub(crate) block_db: Option<BlockDatabase>,
    /// Only for closing streams dropped without [`Scanner::close`]; never on the scan path.
    pub(crate) drop_scratch: Mutex<Option<Scratch>>,
    pub(crate) open_streams: AtomicU64,
    pub(crate) dropped_open: AtomicU64,
}

/// Compiled patterns and their metadata: immutable, shared by all workers (clone is an `Arc`
/// clone).
#[derive(Clone)]
pub struct PatternSet {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for PatternSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PatternSet")
            .field("patterns", &self.inner.defs.len())
            .field("stream_db", &self.inner.stream_db.is_some())
            .field("block_db", &self.inner.block_db.is_some())
            .finish()
    }
}

impl PatternSet {
    /// An empty set (scanning finds nothing).
    pub fn empty() -> PatternSet {
        PatternSet {
            inner: Arc::new(Inner {
                defs: Vec::new(),
                stream_db: None,
                block_db: None,
                drop_scratch: Mutex::new(None),
                open_streams: AtomicU64::new(0),
                dropped_open: AtomicU64::new(0),
            }),
        }
    }

    /// Reads pattern files (`patterns*.rules`, `patterns*.txt`) and directories of them (not
    /// recursive; other file names in a directory are skipped; a file named explicitly must
    /// still have one of those names), then compiles them.
    pub fn load_paths(paths: &[PathBuf], opts: &BuildOptions) -> Result<Loaded, Error> {
        let mut defs = Vec::new();
        let mut errors = Vec::new();
        for path in paths {
            let meta = std::fs::metadata(path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            let mut files = Vec::new();
            if meta.is_dir() {
                let rd = std::fs::read_dir(path).map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?;
                for entry in rd.take(MAX_DIR_ENTRIES) {
                    let entry = entry.map_err(|source| Error::Io {
                        path: path.clone(),
                        source,
                    })?;
                    let p = entry.path();
                    if p.is_file() && kind_of(&p).is_some() {
                        files.push(p);
                    }
                }
                files.sort();
            } else {
                files.push(path.clone());
            }
            for file in files {
                let label = file.display().to_string();
                let Some(kind) = kind_of(&file) else {
                    errors.push(LoadError {
                        file: Arc::from(label.as_str()),
                        line: 0,
                        reason: "not a pattern file name (patterns*.rules or patterns*.txt)".into(),
                    });
                    continue;
                };
                let text = read_capped(&file)?;
                let (d, e) = parse_text(kind, &label, &text);
                defs.extend(d);
                errors.extend(e);
            }
        }
        let mut loaded = PatternSet::build_with(defs, opts)?;
        errors.append(&mut loaded.errors);
        let total = errors.len();
        errors.truncate(MAX_LOAD_ERRORS);
        loaded.errors_dropped = total.saturating_sub(MAX_LOAD_ERRORS);
        loaded.errors = errors;
        Ok(loaded)
    }

    /// Compiles entries without a cache. See [`PatternSet::build_with`].
    pub fn build(defs: Vec<PatternDef>) -> Result<Loaded, Error> {
        PatternSet::build_with(defs, &BuildOptions::default())
    }

    /// Compiles entries into the streaming (TCP) and block (UDP) databases. Entries with a
    /// user id already used by an earlier entry, and entries Hyperscan rejects (each is
    /// compiled alone once the batch fails, to name the culprit), become [`LoadError`]s; the
    /// rest load. Pattern indices ([`Hit::pattern_id`]) are positions in [`PatternSet::get`]
    /// order, which is the input order minus rejected entries.
    pub fn build_with(defs: Vec<PatternDef>, opts: &BuildOptions) -> Result<Loaded, Error> {
        if defs.len() > MAX_PATTERNS {
            return Err(Error::TooManyPatterns(defs.len()));
        }
        let mut errors = Vec::new();
        let mut seen_ids = std::collections::HashSet::new();
        let mut defs: Vec<PatternDef> = defs
            .into_iter()
            .filter(|d| {
                if d.id == 0 || seen_ids.insert(d.id) {
                    true
                } else {
                    errors.push(LoadError {
                        file: d.file.clone(),
                        line: d.line,
                        reason: format!("duplicate id {}", d.id),
                    });
                    false
                }
            })
            .collect();

        let (stream_db, block_db, from_cache) = match compile_all(&defs, opts) {
            Ok(dbs) => dbs,
            Err(first) => {
                // Name the culprits, drop them (indices shift), compile again.
                let bad = find_uncompilable(&defs);
                if bad.is_empty() {
                    // Each compiles alone but not together: nothing to blame on one line.
                    return Err(Error::Hyperscan(first));
                }
                let mut keep = Vec::with_capacity(defs.len());
                for (i, d) in defs.into_iter().enumerate() {
                    match bad.iter().find(|(b, _)| *b == i) {
                        Some((_, msg)) => errors.push(LoadError {
                            file: d.file.clone(),
                            line: d.line,
                            reason: format!("hyperscan cannot compile this pattern: {msg}"),
                        }),
                        None => keep.push(d),
                    }
                }
                defs = keep;
                compile_all(&defs, opts)
                    .map_err(|e| Error::Hyperscan(format!("after removing bad patterns: {e}")))?
            }
        };
        let drop_scratch = match &stream_db {
            Some(db) => Some(
                db.alloc_scratch()
                    .map_err(|e| Error::Hyperscan(e.to_string()))?,
            ),
            None => None,
        };
        Ok(Loaded {
            set: PatternSet {
                inner: Arc::new(Inner {
                    defs,
                    stream_db,
                    block_db,
                    drop_scratch: Mutex::new(drop_scratch),
                    open_streams: AtomicU64::new(0),
                    dropped_open: AtomicU64::new(0),
                }),
            },
            errors,
            errors_dropped: 0,
            from_cache,
        })
    }

    /// Number of loaded patterns.
    pub fn len(&self) -> usize {
        self.inner.defs.len()
    }

    /// Whether no pattern loaded.
    pub fn is_empty(&self) -> bool {
        self.inner.defs.is_empty()
    }

    /// The entry behind a [`Hit::pattern_id`].
    pub fn get(&self, pattern_id: u32) -> Option<&PatternDef> {
        self.inner.defs.get(usize::try_from(pattern_id).ok()?)
    }

    /// Hyperscan streams currently open (opened by a scan, not yet closed or dropped).
    pub fn open_streams(&self) -> u64 {
        self.inner.open_streams.load(Ordering::Relaxed)
    }

    /// Streams that were dropped while open instead of being passed to [`Scanner::close`]
    /// (they were closed on drop, their end-of-stream matches discarded).
    pub fn dropped_open_streams(&self) -> u64 {
        self.inner.dropped_open.load(Ordering::Relaxed)
    }

    /// Bytes of Hyperscan state per open stream (0 without TCP patterns).
    pub fn stream_state_bytes(&self) -> usize {
        self.inner
            .stream_db
            .as_ref()
            .and_then(|db| db.stream_size().ok())
            .unwrap_or(0)
    }

    /// Whether two sets hold the same entries, in the same order, from the same file lines
    /// (so that a reload that changed nothing need not disturb open streams).
    pub fn same_patterns(&self, other: &PatternSet) -> bool {
        self.inner.defs == other.inner.defs
    }

    /// Whether two handles share the same compiled set.
    pub fn same_as(&self, other: &PatternSet) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

fn kind_of(path: &Path) -> Option<FileKind> {
    FileKind::from_file_name(path.file_name()?.to_str()?)
}

fn read_capped(path: &Path) -> Result<String, Error> {
    use std::io::Read as _;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut buf = Vec::new();
    f.take(MAX_FILE_BYTES).read_to_end(&mut buf).map_err(io)?;
    // Invalid UTF-8 is replaced rather than rejecting the whole file: the bad line then fails
    // to parse (or is matched as the replacement text) and is reported alone.
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn wants_stream(d: &PatternDef) -> bool {
    d.scope.proto != ProtoScope::Udp
}

fn wants_block(d: &PatternDef) -> bool {
    d.scope.proto != ProtoScope::Tcp
}

fn patterns_for(defs: &[PatternDef], pick: fn(&PatternDef) -> bool) -> Patterns {
    Patterns(
        defs.iter()
            .enumerate()
            .filter(|(_, d)| pick(d))
            .map(|(i, d)| d.hs_pattern(i))
            .collect(),
    )
}

type Dbs = (Option<StreamingDatabase>, Option<BlockDatabase>, bool);

fn compile_all(defs: &[PatternDef], opts: &BuildOptions) -> Result<Dbs, String> {
    let sp = patterns_for(defs, wants_stream);
    let bp = patterns_for(defs, wants_block);
    let mut from_cache = true;
    let stream_db = if sp.is_empty() {
        None
    } else {
        let (db, hit) = cache::compile_cached::<hyperscan::StreamingMode>(&sp, opts)?;
        from_cache &= hit;
        Some(db)
    };
    let block_db = if bp.is_empty() {
        None
    } else {
        let (db, hit) = cache::compile_cached::<hyperscan::BlockMode>(&bp, opts)?;
        from_cache &= hit;
        Some(db)
    };
    let from_cache = from_cache && (stream_db.is_some() || block_db.is_some());
    Ok((stream_db, block_db, from_cache))
}

/// Indices of entries Hyperscan rejects when compiled alone, with its message (only run once
/// the batch failed).
fn find_uncompilable(defs: &[PatternDef]) -> Vec<(usize, String)> {
    let mut bad = Vec::new();
    for (i, d) in defs.iter().enumerate() {
        let one = Patterns(vec![d.hs_pattern(0)]);
        let mut res = Ok(());
        if wants_stream(d) {
            res = one.build::<hyperscan::StreamingMode>().map(drop);
        }
        if res.is_ok() && wants_block(d) {
            res = one.build::<hyperscan::BlockMode>().map(drop);
        }
        if let Err(e) = res {
            bad.push((i, hs_message(&e)));
        }
    }
    bad
}

pub(crate) fn hs_message(e: &hyperscan::Error) -> String {
    match e {
        hyperscan::Error::Hyperscan(HsError::CompileError(ce)) => ce.message().to_string(),
        other => other.to_string(),
    }
}
