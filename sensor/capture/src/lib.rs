//! tapir-capture: packet sources.
//!
//! Offline: pcap and pcapng files read through libpcap (the `pcap` crate), which handles
//! both formats, byte orders, nanosecond files and pcapng files with several interfaces
//! (libpcap requires every interface of one pcapng file to share a link type; a file that
//! mixes them is refused by libpcap with its own message).
//!
//! A capture cut short in the middle of a record is not an error that loses what came before:
//! [`PcapFile::next_packet`] hands out every whole record and then reports [`CaptureError::Truncated`]
//! with the number of records read, so the caller can warn and go on.

// Only `live::afpacket` (the AF_PACKET ring) may use unsafe code; see its module comment.
#![deny(unsafe_code)]

pub mod live;
pub mod native;

use std::path::{Path, PathBuf};

pub use native::{LinkPacket, NativeReader};

/// A scratch path for a fuzz target whose code under test reads files (the capture reader, the
/// output spool, the response journal): on tmpfs (`/dev/shm`) where there is one, since a
/// target writes files for every input, else in [`std::env::temp_dir`]. Unique per process,
/// `tag` and thread, because unit tests run the same entry on parallel threads. Not created:
/// the caller makes a file or a directory there.
pub fn fuzz_scratch(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local!(static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed));
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let slot = SLOT.with(|s| *s);
    base.join(format!("tapir-fuzz-{tag}-{}-{slot}", std::process::id()))
}

/// Which offline reader to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReaderKind {
    /// Our pure-Rust pcap/pcapng reader (the default: faster, per-interface link types).
    #[default]
    Native,
    /// libpcap, through the `pcap` crate.
    Libpcap,
}

/// An offline capture opened with either reader.
pub enum CaptureFile {
    Native(NativeReader),
    Libpcap(PcapFile),
}

impl CaptureFile {
    /// Opens `path` with the chosen reader.
    ///
    /// # Errors
    /// [`CaptureError::Open`] naming the file.
    pub fn open(path: &Path, kind: ReaderKind) -> Result<Self, CaptureError> {
        Ok(match kind {
            ReaderKind::Native => CaptureFile::Native(NativeReader::open(path)?),
            ReaderKind::Libpcap => CaptureFile::Libpcap(PcapFile::open(path)?),
        })
    }

    /// The next packet and its link type; `Ok(None)` at the end.
    ///
    /// # Errors
    /// As the underlying reader: a cut-short file is [`CaptureError::Truncated`].
    pub fn next_packet(&mut self) -> Result<Option<LinkPacket<'_>>, CaptureError> {
        match self {
            CaptureFile::Native(r) => r.next_packet(),
            CaptureFile::Libpcap(r) => {
                let link = r.datalink();
                Ok(r.next_packet()?.map(|packet| LinkPacket { link, packet }))
            }
        }
    }

    /// Records read so far.
    pub fn records(&self) -> u64 {
        match self {
            CaptureFile::Native(r) => r.records(),
            CaptureFile::Libpcap(r) => r.records(),
        }
    }
}

/// One captured frame, borrowed from the reader's buffer until the next call.
#[derive(Debug, Clone, Copy)]
pub struct RawPacket<'a> {
    /// Packet time, microseconds since the Unix epoch.
    pub ts_us: u64,
    /// Length on the wire (`frame.len`); may exceed `data.len()` when the capture was snaplen-cut.
    pub wire_len: u32,
    /// The captured bytes (`caplen` of them).
    pub data: &'a [u8],
}

/// Errors from opening or reading a capture. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened as a capture (missing, unreadable, not pcap/pcapng, empty).
    #[error("{path}: cannot open capture: {reason}")]
    Open { path: PathBuf, reason: String },
    /// The file ends in the middle of a record (or a block): the records before it were read.
    #[error("{path}: capture cut short after {records} records: {reason}")]
    Truncated {
        path: PathBuf,
        records: u64,
        reason: String,
    },
    /// Any other read error from libpcap.
    #[error("{path}: read error after {records} records: {reason}")]
    Read {
        path: PathBuf,
        records: u64,
        reason: String,
    },
}

/// An offline capture file.
pub struct PcapFile {
    cap: pcap::Capture<pcap::Offline>,
    path: PathBuf,
    dlt: i32,
    records: u64,
    finished: bool,
}

impl PcapFile {
    /// Opens a pcap or pcapng file.
    ///
    /// # Errors
    /// [`CaptureError::Open`] when the path does not exist, cannot be read, or is not a capture.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        // libpcap's own message for a missing file is about fopen; check first to name it plainly.
        if let Err(e) = std::fs::metadata(path) {
            return Err(CaptureError::Open {
                path: path.to_path_buf(),
                reason: e.to_string(),
            });
        }
        let cap = pcap::Capture::from_file(path).map_err(|e| CaptureError::Open {
            path: path.to_path_buf(),
            reason: pcap_reason(&e),
        })?;
        let dlt = cap.get_datalink().0;
        Ok(PcapFile {
            cap,
            path: path.to_path_buf(),
            dlt,
            records: 0,
            finished: false,
        })
    }

    /// The file's link type (a `LINKTYPE_*` / `DLT_*` number as libpcap reports it).
    pub fn datalink(&self) -> i32 {
        self.dlt
    }

    /// The path this capture was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records handed out so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The next record, `Ok(None)` at the end of the file.
    ///
    /// # Errors
    /// [`CaptureError::Truncated`] when the file ends inside a record; after an error every
    /// further call returns `Ok(None)`.
    pub fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, CaptureError> {
        if self.finished {
            return Ok(None);
        }
        match self.cap.next_packet() {
            Ok(p) => {
                self.records += 1;
                let sec = u64::try_from(p.header.ts.tv_sec).unwrap_or(0);
                let usec = u64::try_from(p.header.ts.tv_usec).unwrap_or(0);
                Ok(Some(RawPacket {
                    ts_us: sec.saturating_mul(1_000_000).saturating_add(usec),
                    wire_len: p.header.len,
                    data: p.data,
                }))
            }
            Err(pcap::Error::NoMorePackets) => {
                self.finished = true;
                Ok(None)
            }
            Err(e) => {
                self.finished = true;
                let reason = pcap_reason(&e);
                // libpcap words a cut-short file as "truncated dump file" (pcap) or
                // "truncated pcapng dump file" / "block ... larger than" (pcapng).
                if reason.contains("truncated") || reason.contains("cut short") {
                    Err(CaptureError::Truncated {
                        path: self.path.clone(),
                        records: self.records,
                        reason,
                    })
                } else {
                    Err(CaptureError::Read {
                        path: self.path.clone(),
                        records: self.records,
                        reason,
                    })
                }
            }
        }
    }
}

fn pcap_reason(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp(name: &str, bytes: &[u8]) -> PathBuf {
        let p = std::env::temp_dir().join(format!("tapir-capture-{}-{name}", std::process::id()));
        let mut f = std::fs::File::create(&p).expect("create temp");
        f.write_all(bytes).expect("write temp");
        p
    }

    /// A classic pcap global header (LE, microseconds, Ethernet) and one 14-byte record.
    fn tiny_pcap() -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&4u16.to_le_bytes());
        v.extend_from_slice(&0i32.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&1u32.to_le_bytes());
        for i in 0..2u32 {
            v.extend_from_slice(&(1_700_000_000 + i).to_le_bytes());
            v.extend_from_slice(&250u32.to_le_bytes());
            v.extend_from_slice(&14u32.to_le_bytes());
            v.extend_from_slice(&60u32.to_le_bytes());
            v.extend_from_slice(&[0xffu8; 14]);
        }
        v
    }

    #[test]
    fn reads_records_with_time_and_lengths() {
        let p = temp("ok.pcap", &tiny_pcap());
        let mut f = PcapFile::open(&p).expect("open");
        assert_eq!(f.datalink(), 1);
        let r = f.next_packet().expect("read").expect("record");
        assert_eq!(r.ts_us, 1_700_000_000_000_250);
        assert_eq!(r.wire_len, 60);
        assert_eq!(r.data.len(), 14);
        assert!(f.next_packet().expect("read").is_some());
        assert!(f.next_packet().expect("end").is_none());
        assert_eq!(f.records(), 2);
        let _ = std::fs::remove_file(p);
    }

    #[test]
    fn cut_short_file_reports_records_read() {
        let mut bytes = tiny_pcap();
        bytes.truncate(bytes.len() - 5);
        let p = temp("cut.pcap", &bytes);
        let mut f = PcapFile::open(&p).expect("open");
        assert!(f.next_packet().expect("first record").is_some());
        match f.next_packet() {
            Err(CaptureError::Truncated { records, .. }) => assert_eq!(records, 1),
            other => panic!("expected truncation, got {other:?}"),
        }
        assert!(f.next_packet().expect("after error").is_none());
        let _ = std::fs::remove_file(p);
    }

    #[test]
    fn missing_garbage_and_empty_files_are_open_errors() {
        let missing = std::env::temp_dir().join("tapir-capture-does-not-exist.pcap");
        let e = PcapFile::open(&missing).err().expect("missing must fail");
        assert!(e.to_string().contains("does-not-exist"));
        let garbage = temp(
            "garbage.pcap",
            b"this is not a capture file at all, just text\n",
        );
        assert!(matches!(
            PcapFile::open(&garbage),
            Err(CaptureError::Open { .. })
        ));
        let empty = temp("empty.pcap", b"");
        assert!(matches!(
            PcapFile::open(&empty),
            Err(CaptureError::Open { .. })
        ));
        let _ = std::fs::remove_file(garbage);
        let _ = std::fs::remove_file(empty);
    }
}
