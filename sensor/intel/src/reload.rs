//! Building generations of the indicator set, re-parsing only the sources that changed.
//!
//! A source is one configured feed, or one list file (a directory given as a list path is
//! expanded to its files on every load, so a file dropped into it becomes a new source). Each
//! source's table is kept with a stamp of its files (length, modification and change times,
//! inode): a load re-parses a source whose stamp differs and reuses the kept table of every
//! other. An edit in place changes the modification time; replacing the file (write to a
//! temporary name, rename) changes the inode. This is what Zeek's input framework relies on to
//! notice a changed intel file (`REREAD` mode); a file rewritten with identical length within
//! one timestamp tick of the file system goes unnoticed until its next change.
//!
//! Memory during a reload: the current generation, plus the new tables of the sources that
//! changed, plus the bookkeeping of values several sources share. A reload where nothing
//! changed allocates nothing of size.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use crate::db::MAX_LAYERS;
use crate::feeds::{load_feed, FeedConfig};
use crate::load::{list_files, load_list_file, IntelError, ListFile, LoadReport};
use crate::set::{Layer, Overlaps};
use crate::{IntelBuilder, IntelDb};

/// What one file looked like when its table was built.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
    changed: (i64, i64),
    inode: u64,
}

fn stamp_file(path: &Path) -> Option<FileStamp> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let (changed, inode) = {
        use std::os::unix::fs::MetadataExt;
        ((m.ctime(), m.ctime_nsec()), m.ino())
    };
    #[cfg(not(unix))]
    let (changed, inode) = ((0, 0), 0);
    Some(FileStamp {
        path: path.to_path_buf(),
        len: m.len(),
        modified: m.modified().ok(),
        changed,
        inode,
    })
}

/// Stamps of a source path: the file, or a directory's entries (names sorted).
fn stamp_path(path: &Path) -> Vec<Option<FileStamp>> {
    let mut out = vec![stamp_file(path)];
    if let Ok(rd) = std::fs::read_dir(path) {
        let mut entries: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .take(crate::MAX_DIR_ENTRIES)
            .collect();
        entries.sort();
        out.extend(entries.iter().map(|e| stamp_file(e)));
    }
    out
}

/// Where the sources come from.
enum Sources {
    /// `--intel` list paths (files or directories of list files).
    Paths(Vec<PathBuf>),
    /// Configured feeds, in configuration order; URL feeds read from their cached copy.
    Feeds {
        feeds: Vec<FeedConfig>,
        cache_dir: PathBuf,
    },
}

/// The stamps of one source's files.
type Stamp = Vec<Option<FileStamp>>;

struct Kept {
    stamp: Stamp,
    layer: Arc<Layer>,
}

/// One source as a load sees it: its key (file path or feed name), its files' stamp, and
/// what parses it.
struct Source<'a> {
    key: String,
    stamp: Stamp,
    what: What<'a>,
}

enum What<'a> {
    List(ListFile),
    /// The feed, and the cache directory its URL copy lives in.
    Feed(&'a FeedConfig, &'a Path),
}

/// Builds generations from list paths or configured feeds, keeping each source's table for as
/// long as its files do not change.
pub struct IntelLoader {
    sources: Sources,
    kept: HashMap<String, Kept>,
    /// The sources' keys and stamps when the last load started (empty when they could not be
    /// listed).
    attempted: Option<Vec<(String, Stamp)>>,
    /// Source key -> slot; a slot is never reused while its source exists, so ids are stable.
    slots: HashMap<String, u32>,
    overlaps: Overlaps,
}

/// What one [`IntelLoader::load`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReloadStats {
    /// Sources whose table was built by this load.
    pub parsed: usize,
    /// Sources whose table was reused unchanged.
    pub reused: usize,
}

impl IntelLoader {
    /// Sources: these list files and directories.
    pub fn from_paths(paths: Vec<PathBuf>) -> Self {
        Self::new(Sources::Paths(paths))
    }

    /// Sources: these feeds (URL feeds from their last good copy in `cache_dir`).
    pub fn from_feeds(feeds: Vec<FeedConfig>, cache_dir: PathBuf) -> Self {
        Self::new(Sources::Feeds { feeds, cache_dir })
    }

    fn new(sources: Sources) -> Self {
        Self {
            sources,
            kept: HashMap::new(),
            attempted: None,
            slots: HashMap::new(),
            overlaps: Overlaps::default(),
        }
    }

    /// True when the sources' files differ from what the last [`load`](Self::load) saw,
    /// whether that load succeeded or not: what a file-change poll asks before a load. A source
    /// that failed does not ask again (and have a reload refused every poll) until its files
    /// change.
    pub fn stale(&self) -> bool {
        let now = list_sources(&self.sources, &mut LoadReport::default())
            .map(|s| signature(&s))
            .unwrap_or_default();
        self.attempted.as_ref() != Some(&now)
    }

    /// Builds a generation: sources whose files changed are parsed again, the others keep
    /// their table. Paths: a path named explicitly that cannot be loaded is an error, a bad
    /// file in a directory a warning. Feeds: a feed that cannot be loaded is listed in
    /// `failed_feeds` and left out. The report's counts and warnings cover the tables parsed by
    /// this load.
    pub fn load(&mut self) -> Result<(IntelDb, LoadReport), IntelError> {
        self.load_with_stats().map(|(db, r, _)| (db, r))
    }

    /// Like [`load`](Self::load), also saying how many tables were parsed and reused.
    pub fn load_with_stats(&mut self) -> Result<(IntelDb, LoadReport, ReloadStats), IntelError> {
        let mut report = LoadReport::default();
        let sources = match list_sources(&self.sources, &mut report) {
            Ok(s) => s,
            Err(e) => {
                self.attempted = Some(Vec::new());
                return Err(e);
            }
        };
        // Recorded before parsing, so that a load that fails is not retried until files change.
        self.attempted = Some(signature(&sources));
        let mut stats = ReloadStats::default();
        let mut layers: Vec<Arc<Layer>> = Vec::new();
        let mut fresh: Vec<u64> = Vec::new();
        let mut next_kept: HashMap<String, Kept> = HashMap::new();
        let now = crate::time::now_unix();
        for src in sources {
            let layer = match self.kept.get(&src.key).filter(|k| k.stamp == src.stamp) {
                Some(k) => {
                    stats.reused += 1;
                    Arc::clone(&k.layer)
                }
                None => {
                    let Some(slot) = slot_for(&mut self.slots, &src.key) else {
                        let why = format!("more than {MAX_LAYERS} intel sources; skipped");
                        match src.what {
                            What::List(_) => report.warn(&Arc::from(src.key.as_str()), None, why),
                            What::Feed(..) => report.failed_feeds.push((src.key, why)),
                        }
                        continue;
                    };
                    let mut b = IntelBuilder::for_slot(slot);
                    match &src.what {
                        What::List(f) => load_list_file(&mut b, f, &mut report)?,
                        What::Feed(f, cache_dir) => {
                            if let Err(e) = load_feed(&mut b, f, cache_dir, now, &mut report) {
                                report.failed_feeds.push((src.key, e.to_string()));
                                continue;
                            }
                        }
                    }
                    let layer = Arc::new(Layer::new(b.build_table()));
                    stats.parsed += 1;
                    fresh.push(layer.serial());
                    layer
                }
            };
            layers.push(Arc::clone(&layer));
            next_kept.insert(
                src.key,
                Kept {
                    stamp: src.stamp,
                    layer,
                },
            );
        }
        let current = &next_kept;
        self.slots.retain(|k, _| current.contains_key(k));
        let db = IntelDb::from_layers(layers, &self.overlaps)?;
        db.note_merged_copies(&fresh, &mut report);
        self.overlaps = db.overlaps().clone();
        self.kept = next_kept;
        Ok((db, report, stats))
    }
}

/// The sources now, in load order, each once, with their stamps. Paths: a path named
/// explicitly that cannot be listed is an error.
fn list_sources<'a>(
    sources: &'a Sources,
    report: &mut LoadReport,
) -> Result<Vec<Source<'a>>, IntelError> {
    let mut out: Vec<Source<'a>> = Vec::new();
    match sources {
        Sources::Paths(paths) => {
            for p in paths {
                for f in list_files(p, report)? {
                    let key = f.path.display().to_string();
                    if out.iter().all(|s| s.key != key) {
                        out.push(Source {
                            key,
                            stamp: stamp_path(&f.path),
                            what: What::List(f),
                        });
                    }
                }
            }
        }
        Sources::Feeds { feeds, cache_dir } => {
            out.extend(feeds.iter().map(|f| Source {
                key: f.name.clone(),
                stamp: stamp_path(&feed_path(f, cache_dir)),
                what: What::Feed(f, cache_dir),
            }));
        }
    }
    Ok(out)
}

/// What a poll compares: every source's key and stamp, in order.
fn signature(sources: &[Source<'_>]) -> Vec<(String, Stamp)> {
    sources
        .iter()
        .map(|s| (s.key.clone(), s.stamp.clone()))
        .collect()
}

/// The slot of `key`: its own if it had one, else the lowest one no known source holds (slots
/// of sources that are gone are freed after a load).
fn slot_for(slots: &mut HashMap<String, u32>, key: &str) -> Option<u32> {
    if let Some(&s) = slots.get(key) {
        return Some(s);
    }
    let taken: std::collections::HashSet<u32> = slots.values().copied().collect();
    let s = (0..u32::try_from(MAX_LAYERS).ok()?).find(|s| !taken.contains(s))?;
    slots.insert(key.to_string(), s);
    Some(s)
}

/// The file (or directory) a feed is read from.
fn feed_path(f: &FeedConfig, cache_dir: &Path) -> PathBuf {
    match (&f.path, &f.url) {
        (Some(p), _) => p.clone(),
        (None, _) => crate::fetch::cache_body_path(cache_dir, &f.name),
    }
}
