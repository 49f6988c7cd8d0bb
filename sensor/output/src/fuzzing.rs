//! Fuzz entry for the disk buffer as a restart finds it (segment files and cursor left by an
//! earlier run, torn or corrupted): used by `tests/fuzz` (target `output_spool`) and by the
//! unit tests below. Not part of the sensor's API.
//!
//! Input: byte 0 is flags (bits 0-1 cursor mode: none, raw text, a position built from bytes
//! 1-3, or both joined; bits 2-4: `max_bytes` = 4 KiB << n; bit 5: gaps between segment ids;
//! bit 6: the first segment below the default first id). The rest, split at every `0xFF`, is
//! the raw cursor text (mode 1 and 3) followed by one segment file per chunk (at most 8).
//!
//! Invariants: opening never fails on readable files; reading terminates; every record is a
//! line of some segment file (no newline inside, followed by one in the file); records and
//! their bytes never exceed the newlines and bytes on disk; a rewind hands out the same
//! records again; once everything is acknowledged the buffer is empty and a new record comes
//! back alone.

use std::fs;

use crate::spool::{Pos, Spool};

const FIRST_SEGMENT: u64 = 1 << 32;
const MAX_SEGMENTS: usize = 8;

/// Writes `data` as a spool directory, opens it and reads everything back, checking the
/// invariants in the module doc. Panics on a broken one.
pub fn fuzz_spool(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let dir = tapir_capture::fuzz_scratch("spool");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("scratch dir");
    let mut chunks = rest.split(|&b| b == 0xFF);
    let cursor_mode = flags & 3;
    let raw_cursor: &[u8] = if cursor_mode & 1 == 1 {
        chunks.next().unwrap_or_default()
    } else {
        &[]
    };
    let segs: Vec<&[u8]> = chunks.take(MAX_SEGMENTS).collect();
    let step = if flags & 0x20 != 0 { 2 } else { 1 };
    let base = if flags & 0x40 != 0 { 7 } else { FIRST_SEGMENT };
    let id = |i: usize| base + step * i as u64;
    for (i, body) in segs.iter().enumerate() {
        fs::write(dir.join(format!("seg-{:020}.log", id(i))), body).expect("write segment");
    }
    let mut cursor = Vec::new();
    if cursor_mode & 2 == 2 {
        let b = |i: usize| u64::from(rest.get(i).copied().unwrap_or(0));
        let seg = id((b(0) % (MAX_SEGMENTS as u64 + 1)) as usize);
        let off = b(1) << 8 | b(2);
        cursor.extend_from_slice(format!("{seg} {off}").as_bytes());
    }
    cursor.extend_from_slice(raw_cursor);
    if cursor_mode != 0 {
        fs::write(dir.join("cursor"), &cursor).expect("write cursor");
    }
    let max_bytes = 4096u64 << ((flags >> 2) & 7);
    check(&dir, max_bytes, &segs);
    let _ = fs::remove_dir_all(&dir);
}

fn check(dir: &std::path::Path, max_bytes: u64, segs: &[&[u8]]) {
    let lines_on_disk: u64 = segs
        .iter()
        .map(|s| s.iter().filter(|&&b| b == b'\n').count() as u64)
        .sum();
    let bytes_on_disk: u64 = segs.iter().map(|s| s.len() as u64).sum();
    let mut s = Spool::open(dir, max_bytes).expect("open never fails on readable files");
    let unread = s.unread();
    assert!(unread <= lines_on_disk, "{unread} unread > {lines_on_disk}");
    let (first, end) = read_all(&mut s, lines_on_disk);
    assert!(first.len() as u64 <= lines_on_disk);
    assert!(
        first.len() as u64 <= unread,
        "{} > unread {unread}",
        first.len()
    );
    let rec_bytes: u64 = first.iter().map(|r| r.len() as u64 + 1).sum();
    assert!(rec_bytes <= bytes_on_disk, "{rec_bytes} > {bytes_on_disk}");
    for r in &first {
        assert!(!r.contains(&b'\n'), "newline inside a record");
        assert!(
            segs.iter().any(|seg| is_line_of(r, seg)),
            "record {r:?} is not a line of any segment"
        );
    }
    s.rewind();
    let (again, _) = read_all(&mut s, lines_on_disk);
    assert_eq!(again, first, "a rewind hands out the same records");
    s.ack(end).expect("ack");
    assert_eq!(s.unread(), 0, "everything acknowledged");
    let (none, _) = s.read(16).expect("read");
    assert!(none.is_empty(), "acknowledged records came back: {none:?}");
    s.append(b"new").expect("append");
    let (fresh, end) = s.read(16).expect("read");
    assert_eq!(fresh, vec![b"new".to_vec()], "only the new record is left");
    s.ack(end).expect("ack");
    drop(s);
    // A restart after that finds nothing more to send.
    let mut s = Spool::open(dir, max_bytes).expect("reopen");
    let (left, _) = s.read(16).expect("read");
    assert!(
        left.is_empty(),
        "records after a full ack and restart: {left:?}"
    );
}

/// Reads until a read hands out nothing; more rounds than lines on disk is a loop.
fn read_all(s: &mut Spool, lines: u64) -> (Vec<Vec<u8>>, Pos) {
    let mut out = Vec::new();
    let mut rounds = 0u64;
    loop {
        let (batch, end) = s.read(4).expect("read of readable files");
        if batch.is_empty() {
            return (out, end);
        }
        out.extend(batch);
        rounds += 1;
        assert!(rounds <= lines + 1, "read does not terminate");
    }
}

/// `r` followed by a newline occurs in `seg` (a whole line, or the tail of one where the
/// cursor pointed inside it).
fn is_line_of(r: &[u8], seg: &[u8]) -> bool {
    let n = r.len() + 1;
    seg.windows(n)
        .any(|w| w.last() == Some(&b'\n') && w.get(..r.len()) == Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_and_torn_buffers_pass() {
        // Two segments, the second torn; no cursor.
        fuzz_spool(b"\x00{\"a\":1}\n{\"a\":2}\n\xff{\"a\":3}\n{\"a\"");
        // Cursor in the middle of the first segment (offset 8), built from bytes 1-3.
        let mut d = vec![0x02, 0, 0, 8];
        d.extend_from_slice(b"{\"a\":1}\n{\"a\":2}\n\xff{\"a\":3}\n");
        fuzz_spool(&d);
        // Garbage cursor, gapped ids below the default first id, small bound.
        fuzz_spool(b"\x61not a cursor\xff\n\n\nx\xffy\n\xff\xff\n");
    }

    #[test]
    fn reads_of_a_restored_buffer_are_whole_lines() {
        assert!(is_line_of(b"ab", b"x\nab\n"));
        assert!(!is_line_of(b"ab", b"x\nab"));
        let mut d = vec![0x00];
        d.extend_from_slice(b"one\ntwo\n");
        fuzz_spool(&d);
    }
}
