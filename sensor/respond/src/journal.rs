//! The decision journal: the whole set of decisions as JSON lines, rewritten atomically
//! (temporary file, fsync, rename) under an exclusive `flock` on a lock file beside it, so the
//! running sensor and `tapir block` commands can share it. Each writer reads, merges its own
//! changes and writes while holding the lock; a reader notices another writer's change by
//! the file's identity (inode, size, modification time).
//!
//! Size: one line per live decision (about 250 bytes), so at most `max_decisions` lines.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fs::{flock, FlockOperation};

use crate::decision::Decision;

const HEADER: &str = "{\"tapir_journal\":1}";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

fn stamp(p: &Path) -> Option<Stamp> {
    let m = fs::metadata(p).ok()?;
    Some(Stamp {
        ino: m.ino(),
        len: m.len(),
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
    })
}

/// The journal file and what this process last saw of it.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    lock_path: PathBuf,
    seen: Option<Stamp>,
}

/// Held while reading-merging-writing; dropping it releases the lock.
pub struct JournalLock {
    _file: File,
}

/// What a read found.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Decisions still live at the time of reading.
    pub live: Vec<Decision>,
    /// Decisions whose time was up (dropped from the journal on the next write).
    pub expired: Vec<Decision>,
    /// Lines that could not be read, with their line numbers.
    pub warnings: Vec<String>,
}

impl Journal {
    /// Opens (creating the directory, mode 0700 for a new one) without reading.
    ///
    /// # Errors
    /// The directory cannot be created.
    pub fn open(path: &Path) -> io::Result<Journal> {
        let dir = path.parent().unwrap_or(Path::new("."));
        if !dir.as_os_str().is_empty() && !dir.exists() {
            let mut b = fs::DirBuilder::new();
            b.recursive(true);
            std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
            b.create(dir)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        }
        let mut lock_name = path.file_name().unwrap_or_default().to_os_string();
        lock_name.push(".lock");
        Ok(Journal {
            path: path.to_path_buf(),
            lock_path: path.with_file_name(lock_name),
            seen: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the exclusive lock, waiting for another holder.
    ///
    /// # Errors
    /// The lock file cannot be opened or locked.
    pub fn lock(&self) -> io::Result<JournalLock> {
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.lock_path.display())))?;
        flock(&f, FlockOperation::LockExclusive).map_err(io::Error::from)?;
        Ok(JournalLock { _file: f })
    }

    /// Someone else wrote the journal since this process last read or wrote it.
    pub fn changed(&self) -> bool {
        stamp(&self.path) != self.seen
    }

    /// Reads every decision; a missing file is an empty journal.
    ///
    /// # Errors
    /// The file exists but cannot be read.
    pub fn read(&mut self, now_ms: u64) -> io::Result<Loaded> {
        // Bytes, not a string: one line that is not UTF-8 (a torn or corrupted write) is
        // skipped like any other bad line instead of refusing the whole journal at start.
        let text = match fs::read(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.seen = None;
                return Ok(Loaded::default());
            }
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("{}: {e}", self.path.display()),
                ))
            }
        };
        self.seen = stamp(&self.path);
        let mut out = Loaded::default();
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.is_empty() || (i == 0 && line == HEADER.as_bytes()) {
                continue;
            }
            match serde_json::from_slice::<Decision>(line) {
                Ok(d) if d.live(now_ms) => out.live.push(d),
                Ok(d) => out.expired.push(d),
                Err(e) => {
                    out.warnings
                        .push(format!("{}:{}: skipped: {e}", self.path.display(), i + 1))
                }
            }
        }
        Ok(out)
    }

    /// Replaces the journal with `decisions`.
    ///
    /// # Errors
    /// Writing, syncing or renaming failed; the old journal is then left as it was.
    pub fn write<'a>(&mut self, decisions: impl Iterator<Item = &'a Decision>) -> io::Result<()> {
        let mut buf = String::with_capacity(4096);
        buf.push_str(HEADER);
        buf.push('\n');
        for d in decisions {
            if let Ok(s) = serde_json::to_string(d) {
                buf.push_str(&s);
                buf.push('\n');
            }
        }
        write_atomic(&self.path, buf.as_bytes())?;
        self.seen = stamp(&self.path);
        Ok(())
    }
}

/// Writes `data` to a temporary file beside `path`, syncs it and renames it over `path`, so a
/// reader sees the old or the new content, never a part.
///
/// # Errors
/// Any step failed; the temporary file is removed.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.tmp.{}", std::process::id()));
    let res = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // The rename itself is durable only once the directory is synced.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.map_err(|e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Net;

    fn d(net: &str, expires_ms: u64) -> Decision {
        Decision {
            net: Net::parse_strict(net).expect("net"),
            origin: "operator".into(),
            reason: "test \"quoted\"\nnewline".into(),
            sid: Some(7),
            indicator: Some("ip 203.0.113.66 (rules/intel/ips.txt:6)".into()),
            ttl_ms: 10_000,
            created_ms: 1,
            expires_ms,
            hits: 2,
        }
    }

    #[test]
    fn round_trip_drops_expired_and_bad_lines() {
        let dir = std::env::temp_dir().join(format!("tapir-journal-{}", std::process::id()));
        let mut j = Journal::open(&dir.join("state/decisions.jsonl")).expect("open");
        let lock = j.lock().expect("lock");
        let empty = j.read(0).expect("read");
        assert!(empty.live.is_empty() && empty.warnings.is_empty());
        let all = [
            d("203.0.113.66", 50_000),
            d("198.51.100.0/24", 5_000),
            d("2001:db8::bad:c2", 60_000),
        ];
        j.write(all.iter()).expect("write");
        drop(lock);
        assert!(!j.changed());
        let mut other = Journal::open(j.path()).expect("open");
        let back = other.read(10_000).expect("read");
        assert_eq!(back.live, vec![all[0].clone(), all[2].clone()]);
        assert_eq!(back.expired, vec![all[1].clone()]);
        // Another writer: the first handle notices.
        let text = fs::read_to_string(j.path()).expect("read") + "{broken\n";
        write_atomic(j.path(), text.as_bytes()).expect("rewrite");
        assert!(j.changed());
        let back = j.read(10_000).expect("read");
        assert_eq!(back.live.len(), 2);
        assert_eq!(back.warnings.len(), 1);
        assert!(back.warnings[0].contains(":5:"), "{:?}", back.warnings);
        assert!(!j.changed());
        let _ = fs::remove_dir_all(dir);
    }

    /// Found while writing the `respond_journal` fuzz target (its invariant: a readable journal
    /// always reads): one byte that is not UTF-8 failed the whole read, so the responder
    /// refused to start.
    #[test]
    fn a_line_that_is_not_utf8_is_skipped_not_fatal() {
        let dir = std::env::temp_dir().join(format!("tapir-journal-utf8-{}", std::process::id()));
        let mut j = Journal::open(&dir.join("decisions.jsonl")).expect("open");
        j.write([d("203.0.113.66", 50_000)].iter()).expect("write");
        let mut bytes = fs::read(j.path()).expect("read");
        bytes.extend_from_slice(b"{\"net\":\"\xff\"}\r\n");
        fs::write(j.path(), &bytes).expect("write");
        let back = j.read(0).expect("a bad byte is not a read error");
        assert_eq!(back.live.len(), 1);
        assert_eq!(back.warnings.len(), 1);
        assert!(back.warnings[0].contains(":3:"), "{:?}", back.warnings);
        crate::fuzzing::fuzz_journal(&[&[0u8; 8][..], &bytes].concat());
        let _ = fs::remove_dir_all(dir);
    }
}
