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

struct Kept {
    stamp: Vec<Option<FileStamp>>,
    layer: Arc<Layer>,
}

/// Builds generations from list paths or configured feeds, keeping each source's table for as
/// long as its files do not change.
pub struct IntelLoader {
    sources: Sources,
    kept: HashMap<String, Kept>,
    /// The sources' stamps when the last load started.
    attempted: Option<Vec<(PathBuf, Vec<Option<FileStamp>>)>>,
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

    /// The kept table of `key` when its files still have `stamp`.
    fn unchanged(&self, key: &str, stamp: &[Option<FileStamp>]) -> Option<Arc<Layer>> {
        self.kept
            .get(key)
            .filter(|k| k.stamp == stamp)
            .map(|k| Arc::clone(&k.layer))
    }

    /// True when the sources' files differ from what the last [`load`](Self::load) saw,
    /// whether that load succeeded or not: what a file-change poll asks before a load. A source
    /// that failed does not ask again (and have a reload refused every poll) until its files
    /// change.
    pub fn stale(&self) -> bool {
        self.attempted.as_ref() != Some(&self.signature())
    }

    /// Every source path with the stamp of its files, in order (a path that cannot be listed
    /// appears with no stamps).
    fn signature(&self) -> Vec<(PathBuf, Vec<Option<FileStamp>>)> {
        match &self.sources {
            Sources::Paths(paths) => {
                let mut scratch = LoadReport::default();
                let mut out = Vec::new();
                for p in paths {
                    match list_files(p, &mut scratch) {
                        Ok(files) => out.extend(
                            files
                                .into_iter()
                                .map(|f| (f.path.clone(), stamp_path(&f.path))),
                        ),
                        Err(_) => out.push((p.clone(), Vec::new())),
                    }
                }
                out
            }
            Sources::Feeds { feeds, cache_dir } => feeds
                .iter()
                .map(|f| {
                    let p = feed_path(f, cache_dir);
                    let st = stamp_path(&p);
                    (p, st)
                })
                .collect(),
        }
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
        let mut stats = ReloadStats::default();
        let mut layers: Vec<Arc<Layer>> = Vec::new();
        let mut fresh: Vec<u64> = Vec::new();
        let mut next_kept: HashMap<String, Kept> = HashMap::new();
        self.attempted = Some(self.signature());
        let mut keys: Vec<String> = Vec::new();
        match &self.sources {
            Sources::Paths(paths) => {
                let mut files: Vec<ListFile> = Vec::new();
                for p in paths {
                    files.extend(list_files(p, &mut report)?);
                }
                for f in files {
                    let key = f.path.display().to_string();
                    if keys.contains(&key) {
                        continue;
                    }
                    keys.push(key.clone());
                    let stamp = stamp_path(&f.path);
                    if let Some(layer) = self.unchanged(&key, &stamp) {
                        stats.reused += 1;
                        layers.push(Arc::clone(&layer));
                        next_kept.insert(key, Kept { stamp, layer });
                        continue;
                    }
                    let Some(slot) = slot_for(&mut self.slots, &key) else {
                        report.warn(
                            &Arc::from(key.as_str()),
                            None,
                            format!("more than {MAX_LAYERS} intel sources; skipped"),
                        );
                        continue;
                    };
                    let mut b = IntelBuilder::for_slot(slot);
                    load_list_file(&mut b, &f, &mut report)?;
                    let layer = Arc::new(Layer::new(b.build_table()));
                    stats.parsed += 1;
                    fresh.push(layer.serial());
                    layers.push(Arc::clone(&layer));
                    next_kept.insert(key, Kept { stamp, layer });
                }
            }
            Sources::Feeds { feeds, cache_dir } => {
                let now = crate::time::now_unix();
                for f in feeds {
                    let key = f.name.clone();
                    keys.push(key.clone());
                    let stamp = stamp_path(&feed_path(f, cache_dir));
                    if let Some(layer) = self.unchanged(&key, &stamp) {
                        stats.reused += 1;
                        layers.push(Arc::clone(&layer));
                        next_kept.insert(key, Kept { stamp, layer });
                        continue;
                    }
                    let Some(slot) = slot_for(&mut self.slots, &key) else {
                        report
                            .failed_feeds
                            .push((key, format!("more than {MAX_LAYERS} feeds")));
                        continue;
                    };
                    let mut b = IntelBuilder::for_slot(slot);
                    if let Err(e) = load_feed(&mut b, f, cache_dir, now, &mut report) {
                        report.failed_feeds.push((f.name.clone(), e.to_string()));
                        continue;
                    }
                    let layer = Arc::new(Layer::new(b.build_table()));
                    stats.parsed += 1;
                    fresh.push(layer.serial());
                    layers.push(Arc::clone(&layer));
                    next_kept.insert(key, Kept { stamp, layer });
                }
            }
        }
        let db = IntelDb::from_layers(layers, &self.overlaps)?;
        db.note_merged_copies(&fresh, &mut report);
        self.overlaps = db.overlaps().clone();
        self.kept = next_kept;
        self.slots.retain(|k, _| keys.contains(k));
        Ok((db, report, stats))
    }
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
