//! The on-disk buffer of one network output: append-only segment files of EVE lines, read in
//! order, with a cursor of what the broker has acknowledged.
//!
//! Layout of the output's directory: `seg-NNNNNNNNNNNNNNNNNNNN.log` (one record a line, the
//! decorated EVE line), `cursor` (`SEGMENT OFFSET`: where the first unacknowledged record
//! starts, replaced by rename), `lock` (the process id that owns the directory). A restart
//! reads the cursor and sends the rest; a line torn by a crash (no newline at the end of a
//! segment that is no longer written) is skipped.
//!
//! Bound: the segment files together hold at most `max_bytes`; past it the oldest segment is
//! deleted and its unsent records are counted as dropped. Segments are `max_bytes / 8` (at
//! least 4 KiB), so a drop frees about an eighth of the buffer.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// First segment number of an empty buffer; lower numbers are never needed (segments only
/// grow), the room below is kept for tools that want to prepend.
const FIRST_SEGMENT: u64 = 1 << 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub seg: u64,
    pub off: u64,
}

#[derive(Debug)]
struct Seg {
    id: u64,
    bytes: u64,
    records: u64,
}

pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    seg_max: u64,
    segs: VecDeque<Seg>,
    total_bytes: u64,
    writer: Option<BufWriter<File>>,
    dirty: bool,
    /// Next record to hand out, and how many records of its segment precede it.
    read: Pos,
    read_count: u64,
    reader: Option<(u64, BufReader<File>)>,
    /// First record not yet acknowledged (what the cursor file says).
    acked: Pos,
    /// Records lost outside [`Spool::append`]'s bound (a segment file deleted by hand).
    lost: u64,
    _lock: LockFile,
}

/// What an append did to the bound.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Appended {
    /// Unsent records deleted with the oldest segments to make room.
    pub dropped: u64,
}

impl Spool {
    /// Opens (creating) the buffer in `dir`, taking its lock. Records left by an earlier run
    /// are found from the cursor on.
    ///
    /// # Errors
    /// The directory cannot be created or read, or another live process holds it.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<Spool> {
        fs::create_dir_all(dir)?;
        // One spelling per directory, so that the lock registry sees two names of one place.
        let dir = &fs::canonicalize(dir)?;
        let lock = LockFile::take(&dir.join("lock"))?;
        let seg_max = (max_bytes / 8).max(4096);
        let mut ids: Vec<u64> = fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let n = e.file_name();
                let n = n.to_str()?;
                n.strip_prefix("seg-")?.strip_suffix(".log")?.parse().ok()
            })
            .collect();
        ids.sort_unstable();
        let cursor = read_cursor(&dir.join("cursor"));
        let mut s = Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            seg_max,
            segs: VecDeque::new(),
            total_bytes: 0,
            writer: None,
            dirty: false,
            read: Pos {
                seg: FIRST_SEGMENT,
                off: 0,
            },
            read_count: 0,
            reader: None,
            acked: Pos {
                seg: FIRST_SEGMENT,
                off: 0,
            },
            lost: 0,
            _lock: lock,
        };
        for id in ids {
            let path = s.seg_path(id);
            if cursor.is_some_and(|c| id < c.seg) {
                let _ = fs::remove_file(&path);
                continue;
            }
            let (bytes, records) = count_records(&path)?;
            s.total_bytes += bytes;
            s.segs.push_back(Seg { id, bytes, records });
        }
        if let Some(first) = s.segs.front() {
            let start = match cursor {
                Some(c) if c.seg == first.id => c,
                _ => Pos {
                    seg: first.id,
                    off: 0,
                },
            };
            let before = count_records_until(&s.seg_path(start.seg), start.off)?;
            s.read = start;
            s.read_count = before;
            s.acked = start;
        }
        Ok(s)
    }

    fn seg_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("seg-{id:020}.log"))
    }

    /// Records not yet handed out for sending.
    pub fn unread(&self) -> u64 {
        self.segs
            .iter()
            .map(|s| match s.id.cmp(&self.read.seg) {
                std::cmp::Ordering::Less => 0,
                std::cmp::Ordering::Equal => s.records.saturating_sub(self.read_count),
                std::cmp::Ordering::Greater => s.records,
            })
            .sum()
    }

    /// Appends one record (a line without its newline), dropping the oldest segments when the
    /// bound is passed. A record larger than a segment is refused and counted as dropped.
    ///
    /// # Errors
    /// A write error; the record is not stored.
    pub fn append(&mut self, line: &[u8]) -> io::Result<Appended> {
        let len = line.len() as u64 + 1;
        if len > self.seg_max {
            return Ok(Appended { dropped: 1 });
        }
        let need_new = match self.segs.back() {
            None => true,
            Some(last) => self.writer.is_none() || last.bytes + len > self.seg_max,
        };
        if need_new {
            self.rotate()?;
        }
        let w = self
            .writer
            .as_mut()
            .ok_or_else(|| io::Error::other("no open segment"))?;
        w.write_all(line)?;
        w.write_all(b"\n")?;
        self.dirty = true;
        if let Some(last) = self.segs.back_mut() {
            last.bytes += len;
            last.records += 1;
        }
        self.total_bytes += len;
        let mut out = Appended::default();
        while self.total_bytes > self.max_bytes && self.segs.len() > 1 {
            out.dropped += self.drop_oldest();
        }
        Ok(out)
    }

    fn rotate(&mut self) -> io::Result<()> {
        if let Some(mut w) = self.writer.take() {
            w.flush()?;
        }
        let id = self.segs.back().map_or(
            if self.read.seg > FIRST_SEGMENT {
                self.read.seg
            } else {
                FIRST_SEGMENT
            },
            |s| s.id + 1,
        );
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.seg_path(id))?;
        // An existing file (a leftover the cursor skipped) is appended to: count what is there.
        let bytes = f.metadata()?.len();
        if self.segs.back().is_none_or(|s| s.id != id) {
            let (_, records) = count_records(&self.seg_path(id))?;
            self.segs.push_back(Seg { id, bytes, records });
            self.total_bytes += bytes;
        }
        if self.segs.len() == 1 && self.read.seg != id {
            self.read = Pos { seg: id, off: 0 };
            self.read_count = 0;
            self.acked = self.read;
        }
        self.writer = Some(BufWriter::with_capacity(1 << 16, f));
        Ok(())
    }

    /// Deletes the oldest segment; returns its records that had not been handed out.
    fn drop_oldest(&mut self) -> u64 {
        let Some(old) = self.segs.pop_front() else {
            return 0;
        };
        let _ = fs::remove_file(self.seg_path(old.id));
        self.total_bytes = self.total_bytes.saturating_sub(old.bytes);
        let lost = match old.id.cmp(&self.read.seg) {
            std::cmp::Ordering::Less => 0,
            std::cmp::Ordering::Equal => old.records.saturating_sub(self.read_count),
            std::cmp::Ordering::Greater => old.records,
        };
        if let Some(next) = self.segs.front() {
            let start = Pos {
                seg: next.id,
                off: 0,
            };
            if self.read.seg <= old.id {
                self.read = start;
                self.read_count = 0;
                self.reader = None;
            }
            if self.acked.seg <= old.id {
                self.acked = start;
                let _ = write_cursor(&self.dir, start);
            }
        }
        lost
    }

    /// Records lost since the last call (segment files deleted from outside).
    pub fn take_lost(&mut self) -> u64 {
        std::mem::take(&mut self.lost)
    }

    /// Makes appended records visible to readers (and to a restart after a crash).
    pub fn flush(&mut self) -> io::Result<()> {
        if self.dirty {
            if let Some(w) = self.writer.as_mut() {
                w.flush()?;
            }
            self.dirty = false;
        }
        Ok(())
    }

    /// Hands out up to `max` records in order and the position after them (for [`Spool::ack`]).
    ///
    /// # Errors
    /// A read error; nothing is handed out.
    pub fn read(&mut self, max: usize) -> io::Result<(Vec<Vec<u8>>, Pos)> {
        self.flush()?;
        let mut out = Vec::new();
        while out.len() < max {
            let Some(seg) = self.segs.iter().find(|s| s.id == self.read.seg) else {
                // Its segment was acknowledged and deleted: go on with the next one, if any.
                if self.segs.iter().any(|s| s.id > self.read.seg) {
                    self.next_segment();
                    continue;
                }
                break;
            };
            let (seg_id, seg_bytes, seg_records) = (seg.id, seg.bytes, seg.records);
            let is_last = self.segs.back().is_some_and(|s| s.id == seg_id);
            if self.read.off >= seg_bytes {
                if is_last {
                    break;
                }
                self.next_segment();
                continue;
            }
            let path = self.seg_path(seg_id);
            let off = self.read.off;
            let reader = match &mut self.reader {
                Some((id, r)) if *id == seg_id => r,
                _ => {
                    let mut f = match File::open(&path) {
                        Ok(f) => f,
                        Err(e) if e.kind() == io::ErrorKind::NotFound && !is_last => {
                            // Deleted behind our back: count what it held and go on.
                            self.lost += seg_records.saturating_sub(self.read_count);
                            self.total_bytes = self.total_bytes.saturating_sub(seg_bytes);
                            self.segs.retain(|s| s.id != seg_id);
                            self.next_segment();
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    f.seek(SeekFrom::Start(off))?;
                    &mut self.reader.insert((seg_id, BufReader::new(f))).1
                }
            };
            let mut line = Vec::new();
            let n = reader.read_until(b'\n', &mut line)? as u64;
            if n == 0 || line.last() != Some(&b'\n') {
                // Torn tail (crash mid-write): nothing more in this segment can be trusted.
                self.reader = None;
                if is_last {
                    break;
                }
                self.next_segment();
                continue;
            }
            line.pop();
            self.read.off += n;
            self.read_count += 1;
            out.push(line);
        }
        Ok((out, self.read))
    }

    fn next_segment(&mut self) {
        self.reader = None;
        if let Some(next) = self.segs.iter().find(|s| s.id > self.read.seg) {
            self.read = Pos {
                seg: next.id,
                off: 0,
            };
            self.read_count = 0;
        }
    }

    /// The broker has everything before `upto`: move the cursor and delete finished segments.
    /// When everything is acknowledged the buffer is emptied.
    ///
    /// # Errors
    /// The cursor cannot be written (the records will be sent again after a restart).
    pub fn ack(&mut self, upto: Pos) -> io::Result<()> {
        if upto <= self.acked {
            return Ok(());
        }
        self.acked = upto;
        while let Some(first) = self.segs.front() {
            let done = first.id < upto.seg
                || (first.id == upto.seg && upto.off >= first.bytes && self.segs.len() > 1);
            if !done {
                break;
            }
            let _ = fs::remove_file(self.seg_path(first.id));
            self.total_bytes = self.total_bytes.saturating_sub(first.bytes);
            self.segs.pop_front();
        }
        if self.unread() == 0 && self.acked == self.read {
            return self.reset();
        }
        write_cursor(&self.dir, self.acked)
    }

    /// Everything was sent: delete every segment and the cursor.
    fn reset(&mut self) -> io::Result<()> {
        self.writer = None;
        self.reader = None;
        self.dirty = false;
        let next = self.segs.back().map_or(self.read.seg, |s| s.id + 1);
        for s in self.segs.drain(..) {
            let _ = fs::remove_file(self.dir.join(format!("seg-{:020}.log", s.id)));
        }
        self.total_bytes = 0;
        let _ = fs::remove_file(self.dir.join("cursor"));
        self.read = Pos { seg: next, off: 0 };
        self.read_count = 0;
        self.acked = self.read;
        Ok(())
    }

    /// Hands-out position goes back to the cursor: records handed out but not acknowledged are
    /// read again (a send that failed and was abandoned, or a shutdown).
    pub fn rewind(&mut self) {
        if self.read != self.acked {
            self.read = self.acked;
            self.reader = None;
            self.read_count =
                count_records_until(&self.seg_path(self.read.seg), self.read.off).unwrap_or(0);
        }
    }

    /// Puts `records` before everything unsent (a shutdown with events still in memory that
    /// are older than the buffer's): the unsent part of the first segment is rewritten after
    /// them. The cursor is moved first, so a crash in between sends some records twice rather
    /// than losing them.
    ///
    /// # Errors
    /// A write error.
    pub fn prepend(&mut self, records: &[Vec<u8>]) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        self.rewind();
        self.flush()?;
        let Some(first) = self.segs.front() else {
            for r in records {
                self.append(r)?;
            }
            return self.flush();
        };
        let (id, old_bytes) = (first.id, first.bytes);
        let path = self.seg_path(id);
        let tmp = self.dir.join("prepend.tmp");
        let mut w = BufWriter::new(File::create(&tmp)?);
        let mut added = 0u64;
        for r in records {
            w.write_all(r)?;
            w.write_all(b"\n")?;
            added += r.len() as u64 + 1;
        }
        let from = if self.acked.seg == id {
            self.acked.off
        } else {
            0
        };
        let mut f = File::open(&path)?;
        f.seek(SeekFrom::Start(from))?;
        let rest = io::copy(&mut f.take(old_bytes.saturating_sub(from)), &mut w)?;
        w.flush()?;
        w.get_ref().sync_data()?;
        drop(w);
        let is_writer = self.segs.len() == 1;
        if is_writer {
            self.writer = None;
        }
        let start = Pos { seg: id, off: 0 };
        write_cursor(&self.dir, start)?;
        fs::rename(&tmp, &path)?;
        let records_left = count_records(&path)?.1;
        if let Some(first) = self.segs.front_mut() {
            self.total_bytes = self.total_bytes.saturating_sub(first.bytes) + added + rest;
            first.bytes = added + rest;
            first.records = records_left;
        }
        self.read = start;
        self.read_count = 0;
        self.acked = start;
        self.reader = None;
        if is_writer {
            let f = OpenOptions::new().append(true).open(&path)?;
            self.writer = Some(BufWriter::with_capacity(1 << 16, f));
        }
        Ok(())
    }

    /// Flushes and syncs the segment being written (a clean stop).
    pub fn sync(&mut self) -> io::Result<()> {
        self.flush()?;
        if let Some(w) = self.writer.as_mut() {
            w.get_ref().sync_data()?;
        }
        Ok(())
    }
}

fn read_cursor(path: &Path) -> Option<Pos> {
    let s = fs::read_to_string(path).ok()?;
    let mut it = s.split_whitespace();
    let seg = it.next()?.parse().ok()?;
    let off = it.next()?.parse().ok()?;
    Some(Pos { seg, off })
}

fn write_cursor(dir: &Path, p: Pos) -> io::Result<()> {
    let tmp = dir.join("cursor.tmp");
    fs::write(&tmp, format!("{} {}\n", p.seg, p.off))?;
    fs::rename(tmp, dir.join("cursor"))
}

/// Bytes and complete records (lines ending in a newline) of a segment file.
fn count_records(path: &Path) -> io::Result<(u64, u64)> {
    let bytes = fs::metadata(path)?.len();
    Ok((bytes, count_records_until(path, bytes)?))
}

fn count_records_until(path: &Path, upto: u64) -> io::Result<u64> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut r = BufReader::new(f.take(upto));
    let mut n = 0u64;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(n);
        }
        n += buf.iter().filter(|&&b| b == b'\n').count() as u64;
        let len = buf.len();
        r.consume(len);
    }
}

/// A directory owned by one process: `lock` holds its pid. A lock left by a process that is no
/// longer running (Linux: no `/proc/PID`) is taken over, and so is one with this process's own
/// pid that this process does not hold (a container restarted under the same pid).
struct LockFile {
    path: PathBuf,
}

/// Locks held by this process.
static HELD: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

impl LockFile {
    fn take(path: &Path) -> io::Result<LockFile> {
        let me = std::process::id();
        let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
        if held.iter().any(|p| p == path) {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!(
                    "{} is held by another output of this process",
                    path.display()
                ),
            ));
        }
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(path) {
                Ok(mut f) => {
                    writeln!(f, "{me}")?;
                    held.push(path.to_path_buf());
                    return Ok(LockFile {
                        path: path.to_path_buf(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let holder: Option<u32> = fs::read_to_string(path)
                        .ok()
                        .and_then(|s| s.trim().parse().ok());
                    match holder {
                        Some(pid) if pid != me && Path::new(&format!("/proc/{pid}")).exists() => {
                            return Err(io::Error::new(
                                io::ErrorKind::AddrInUse,
                                format!("{} is held by running process {pid}", path.display()),
                            ));
                        }
                        _ => {
                            let _ = fs::remove_file(path);
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other(format!(
            "{}: could not take the lock",
            path.display()
        )))
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
        HELD.lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|p| p != &self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tapir-spool-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn rec(i: usize) -> Vec<u8> {
        format!("{{\"n\":{i},\"pad\":\"{}\"}}", "y".repeat(40)).into_bytes()
    }

    #[test]
    fn records_come_back_in_order_across_segments_and_a_reopen() {
        let d = dir("order");
        let mut s = Spool::open(&d, 64 << 10).expect("open");
        for i in 0..1000 {
            assert_eq!(s.append(&rec(i)).expect("append").dropped, 0);
        }
        assert_eq!(s.unread(), 1000);
        let (a, end) = s.read(300).expect("read");
        assert_eq!(a, (0..300).map(rec).collect::<Vec<_>>());
        s.ack(end).expect("ack");
        let (b, _) = s.read(100).expect("read");
        assert_eq!(b.first(), Some(&rec(300)));
        // Not acknowledged: after a reopen they come again, from the cursor.
        drop(s);
        let mut s = Spool::open(&d, 64 << 10).expect("reopen");
        assert_eq!(s.unread(), 700);
        let (c, end) = s.read(1000).expect("read");
        assert_eq!(c, (300..1000).map(rec).collect::<Vec<_>>());
        s.ack(end).expect("ack");
        assert_eq!(s.unread(), 0);
        let segs = fs::read_dir(&d)
            .expect("dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("seg-"))
            })
            .count();
        assert_eq!(segs, 0, "everything acknowledged: no segment left");
        drop(s);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_torn_tail_and_a_deleted_segment_are_skipped() {
        let d = dir("torn");
        let mut s = Spool::open(&d, 64 << 10).expect("open");
        for i in 0..400 {
            s.append(&rec(i)).expect("append");
        }
        s.flush().expect("flush");
        drop(s);
        let mut ids: Vec<PathBuf> = fs::read_dir(&d)
            .expect("dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().contains("seg-"))
            .collect();
        ids.sort();
        assert!(ids.len() >= 3, "{ids:?}");
        // A crash mid-write leaves half a line at the end of the last segment.
        let last = ids.last().expect("a segment").clone();
        let mut f = OpenOptions::new().append(true).open(&last).expect("open");
        f.write_all(b"{\"n\":99999,\"pa").expect("write");
        drop(f);
        let mut s = Spool::open(&d, 64 << 10).expect("reopen");
        s.append(&rec(400)).expect("append");
        // The second segment disappears from outside.
        let second = ids.get(1).expect("second").clone();
        let in_second = count_records(&second).expect("count").1;
        fs::remove_file(&second).expect("rm");
        let (all, _) = s.read(10_000).expect("read");
        let lost = s.take_lost();
        assert_eq!(lost, in_second);
        assert_eq!(all.len() as u64 + lost, 401);
        assert_eq!(all.last(), Some(&rec(400)));
        assert!(all.windows(2).all(|w| w[0] != w[1]));
        drop(s);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn prepend_puts_records_before_the_unsent_rest() {
        let d = dir("prepend");
        let mut s = Spool::open(&d, 1 << 20).expect("open");
        for i in 10..20 {
            s.append(&rec(i)).expect("append");
        }
        let (_, end) = s.read(3).expect("read");
        s.ack(end).expect("ack");
        s.prepend(&(0..5).map(rec).collect::<Vec<_>>())
            .expect("prepend");
        drop(s);
        let mut s = Spool::open(&d, 1 << 20).expect("reopen");
        let (all, _) = s.read(100).expect("read");
        let want: Vec<Vec<u8>> = (0..5).chain(13..20).map(rec).collect();
        assert_eq!(all, want);
        drop(s);
        let _ = fs::remove_dir_all(&d);
    }
}
