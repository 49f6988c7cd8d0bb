//! A pure-Rust reader for classic pcap and pcapng files, used for replay because it reads
//! 2-2.6x more packets per second than libpcap (../shared/DEPENDENCIES.md, and benches/README.md
//! here). libpcap ([`crate::PcapFile`]) stays for live capture and as the fallback reader.
//!
//! Unlike libpcap, this reader gives each pcapng packet the link type of its own interface, so
//! a file mixing Ethernet and Linux cooked interfaces is read whole.
//!
//! Formats: classic pcap in both byte orders, micro- and nanosecond magic
//! (<https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-03.html>); pcapng Section Header,
//! Interface Description (with `if_tsresol`), Enhanced, Simple and obsolete Packet blocks; other
//! blocks are skipped (<https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html>).
//!
//! Limits: a record or block over [`MAX_BLOCK`] bytes is a corrupt file (error, records read so
//! far kept); at most [`MAX_INTERFACES`] interfaces per section.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::{CaptureError, RawPacket};

/// Largest record or block accepted (256 KiB covers 64 KiB snaplen with room to spare; libpcap
/// itself caps records at 256 KiB).
pub const MAX_BLOCK: usize = 256 * 1024;
/// Most interfaces one pcapng section may declare.
pub const MAX_INTERFACES: usize = 4096;
/// Read buffer: large sequential reads.
const BUF: usize = 4 << 20;

#[derive(Debug, Clone, Copy)]
struct Iface {
    link: i32,
    /// Timestamp units per second.
    units_per_sec: u64,
}

enum Format {
    Pcap {
        big_endian: bool,
        nanos: bool,
        link: i32,
    },
    PcapNg {
        big_endian: bool,
        ifaces: Vec<Iface>,
    },
}

/// A capture packet with the link type of its interface.
#[derive(Debug, Clone, Copy)]
pub struct LinkPacket<'a> {
    pub link: i32,
    pub packet: RawPacket<'a>,
}

/// Reads pcap and pcapng files without libpcap.
pub struct NativeReader {
    file: File,
    path: PathBuf,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    eof: bool,
    format: Format,
    records: u64,
    finished: bool,
}

fn u16_at(b: &[u8], o: usize, be: bool) -> Option<u16> {
    let a: [u8; 2] = b.get(o..o + 2)?.try_into().ok()?;
    Some(if be {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    })
}

fn u32_at(b: &[u8], o: usize, be: bool) -> Option<u32> {
    let a: [u8; 4] = b.get(o..o + 4)?.try_into().ok()?;
    Some(if be {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    })
}

impl NativeReader {
    /// Opens a pcap or pcapng file and reads its file header.
    ///
    /// # Errors
    /// [`CaptureError::Open`] for a missing or unreadable file, an empty one, or one that is
    /// neither pcap nor pcapng.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let open_err = |reason: String| CaptureError::Open {
            path: path.to_path_buf(),
            reason,
        };
        let file = File::open(path).map_err(|e| open_err(e.to_string()))?;
        let mut r = NativeReader {
            file,
            path: path.to_path_buf(),
            buf: vec![0; BUF],
            pos: 0,
            end: 0,
            eof: false,
            format: Format::Pcap {
                big_endian: false,
                nanos: false,
                link: 1,
            },
            records: 0,
            finished: false,
        };
        r.fill(24).map_err(|e| open_err(e.to_string()))?;
        let head = &r.buf[r.pos..r.end];
        if head.len() < 24 {
            // Also the pcapng case: an SHB is at least 28 bytes.
            return Err(open_err(format!(
                "not a pcap or pcapng file: only {} bytes",
                head.len()
            )));
        }
        let magic = u32_at(head, 0, false).unwrap_or(0);
        match magic {
            0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 => {
                let big_endian = magic == 0xd4c3_b2a1 || magic == 0x4d3c_b2a1;
                let nanos = magic == 0xa1b2_3c4d || magic == 0x4d3c_b2a1;
                // The link type's upper bits may carry FCS information (pcap draft §4).
                let link = u32_at(head, 20, big_endian).unwrap_or(0) & 0x0fff_ffff;
                r.format = Format::Pcap {
                    big_endian,
                    nanos,
                    link: i32::try_from(link).unwrap_or(-1),
                };
                r.pos += 24;
            }
            0x0a0d_0d0a => {
                // The section header block is read as a normal block below.
                r.format = Format::PcapNg {
                    big_endian: false,
                    ifaces: Vec::new(),
                };
                // An SHB alone is a valid, empty capture.
                r.read_ng_block().map_err(open_err)?;
            }
            _ => return Err(open_err("unknown file format".into())),
        }
        Ok(r)
    }

    /// Records handed out so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The path this capture was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes at least `n` bytes available at `pos` unless the file ends first.
    fn fill(&mut self, n: usize) -> io::Result<()> {
        if self.end - self.pos >= n || self.eof {
            return Ok(());
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.buf.len() < n {
            self.buf.resize(n, 0);
        }
        while self.end < n && !self.eof {
            let got = self.file.read(&mut self.buf[self.end..])?;
            if got == 0 {
                self.eof = true;
            }
            self.end += got;
        }
        Ok(())
    }

    fn truncated(&mut self, reason: String) -> CaptureError {
        self.finished = true;
        CaptureError::Truncated {
            path: self.path.clone(),
            records: self.records,
            reason,
        }
    }

    fn corrupt(&mut self, reason: String) -> CaptureError {
        self.finished = true;
        CaptureError::Read {
            path: self.path.clone(),
            records: self.records,
            reason,
        }
    }

    /// The next packet with its link type; `Ok(None)` at the end of the file.
    ///
    /// # Errors
    /// [`CaptureError::Truncated`] when the file ends inside a record or block,
    /// [`CaptureError::Read`] for an absurd length or an I/O error; every call after an error
    /// returns `Ok(None)`.
    pub fn next_packet(&mut self) -> Result<Option<LinkPacket<'_>>, CaptureError> {
        if self.finished {
            return Ok(None);
        }
        match self.format {
            Format::Pcap {
                big_endian,
                nanos,
                link,
            } => self.next_pcap(big_endian, nanos, link),
            Format::PcapNg { .. } => loop {
                match self.read_ng_block() {
                    Ok(Some(range)) => {
                        let (start, len, link, ts_us, wire_len) = range;
                        self.records += 1;
                        let data = self.buf.get(start..start + len).unwrap_or(&[]);
                        return Ok(Some(LinkPacket {
                            link,
                            packet: RawPacket {
                                ts_us,
                                wire_len,
                                data,
                            },
                        }));
                    }
                    Ok(None) if self.finished => return Ok(None),
                    Ok(None) => continue,
                    Err(reason) => {
                        return Err(if reason.starts_with("cut short") {
                            self.truncated(reason)
                        } else {
                            self.corrupt(reason)
                        })
                    }
                }
            },
        }
    }

    fn next_pcap(
        &mut self,
        be: bool,
        nanos: bool,
        link: i32,
    ) -> Result<Option<LinkPacket<'_>>, CaptureError> {
        if let Err(e) = self.fill(16) {
            return Err(self.corrupt(e.to_string()));
        }
        let avail = self.end - self.pos;
        if avail == 0 {
            self.finished = true;
            return Ok(None);
        }
        if avail < 16 {
            return Err(self.truncated(format!(
                "cut short in a record header ({avail} of 16 bytes)"
            )));
        }
        let h = &self.buf[self.pos..self.pos + 16];
        let sec = u64::from(u32_at(h, 0, be).unwrap_or(0));
        let frac = u64::from(u32_at(h, 4, be).unwrap_or(0));
        let caplen = u32_at(h, 8, be).unwrap_or(0) as usize;
        let wire_len = u32_at(h, 12, be).unwrap_or(0);
        if caplen > MAX_BLOCK {
            return Err(self.corrupt(format!("record length {caplen} over {MAX_BLOCK} bytes")));
        }
        if let Err(e) = self.fill(16 + caplen) {
            return Err(self.corrupt(e.to_string()));
        }
        let avail = self.end - self.pos;
        if avail < 16 + caplen {
            return Err(self.truncated(format!(
                "cut short in a record: {} of {caplen} captured bytes",
                avail - 16
            )));
        }
        let start = self.pos + 16;
        self.pos = start + caplen;
        self.records += 1;
        let ts_us = sec * 1_000_000 + if nanos { frac / 1000 } else { frac };
        Ok(Some(LinkPacket {
            link,
            packet: RawPacket {
                ts_us,
                wire_len,
                data: &self.buf[start..start + caplen],
            },
        }))
    }

    /// Reads one pcapng block. Returns the packet's (data start, caplen, link, ts, wire length)
    /// for packet blocks, `None` for other blocks and at the end (then `finished` is set).
    #[allow(clippy::type_complexity)] // A private tuple keeps the borrow of `buf` out of the loop.
    fn read_ng_block(&mut self) -> Result<Option<(usize, usize, i32, u64, u32)>, String> {
        self.fill(12).map_err(|e| e.to_string())?;
        let avail = self.end - self.pos;
        if avail == 0 {
            self.finished = true;
            return Ok(None);
        }
        if avail < 12 {
            return Err(format!("cut short in a block header ({avail} bytes)"));
        }
        let block_type = u32_at(&self.buf, self.pos, false).unwrap_or(0);
        let mut be = match &self.format {
            Format::PcapNg { big_endian, .. } => *big_endian,
            Format::Pcap { .. } => false,
        };
        if block_type == 0x0a0d_0d0a {
            // A new section: its byte-order magic decides how everything in it is read.
            be = match self.buf.get(self.pos + 8..self.pos + 12) {
                Some([0x1a, 0x2b, 0x3c, 0x4d]) => true,
                Some([0x4d, 0x3c, 0x2b, 0x1a]) => false,
                _ => return Err("bad pcapng byte-order magic".into()),
            };
        }
        let block_type = u32_at(&self.buf, self.pos, be).unwrap_or(0);
        let total = u32_at(&self.buf, self.pos + 4, be).unwrap_or(0) as usize;
        if total < 12 || !total.is_multiple_of(4) || total > MAX_BLOCK {
            return Err(format!("bad pcapng block length {total}"));
        }
        self.fill(total).map_err(|e| e.to_string())?;
        if self.end - self.pos < total {
            return Err(format!(
                "cut short in a block: {} of {total} bytes",
                self.end - self.pos
            ));
        }
        let b0 = self.pos;
        self.pos += total;
        let body = b0 + 8..b0 + total - 4;
        let buf = &self.buf;
        match block_type {
            0x0a0d_0d0a => {
                self.format = Format::PcapNg {
                    big_endian: be,
                    ifaces: Vec::new(),
                };
                Ok(None)
            }
            1 => {
                // Fixed part: link type, reserved, snaplen (8 bytes); never read past the block.
                if body.len() < 8 {
                    return Err("short interface block".into());
                }
                let link = u16_at(buf, body.start, be).ok_or("short interface block")?;
                let units = if_tsresol(buf.get(body.start + 8..body.end).unwrap_or_default(), be);
                if let Format::PcapNg { ifaces, .. } = &mut self.format {
                    if ifaces.len() >= MAX_INTERFACES {
                        return Err(format!("more than {MAX_INTERFACES} interfaces"));
                    }
                    ifaces.push(Iface {
                        link: i32::from(link),
                        units_per_sec: units,
                    });
                }
                Ok(None)
            }
            // Enhanced Packet Block; obsolete Packet Block (2) has a 2-byte drops field instead
            // of the 4-byte interface id, same offsets otherwise.
            6 | 2 => {
                // Fixed part: interface, timestamp, captured and original lengths (20 bytes).
                if body.len() < 20 {
                    return Err("short packet block".into());
                }
                let (iface_id, ts_hi, ts_lo, caplen, wire_len) = if block_type == 6 {
                    (
                        u32_at(buf, body.start, be),
                        u32_at(buf, body.start + 4, be),
                        u32_at(buf, body.start + 8, be),
                        u32_at(buf, body.start + 12, be),
                        u32_at(buf, body.start + 16, be),
                    )
                } else {
                    (
                        u16_at(buf, body.start, be).map(u32::from),
                        u32_at(buf, body.start + 4, be),
                        u32_at(buf, body.start + 8, be),
                        u32_at(buf, body.start + 12, be),
                        u32_at(buf, body.start + 16, be),
                    )
                };
                let (Some(iface_id), Some(hi), Some(lo), Some(caplen), Some(wire_len)) =
                    (iface_id, ts_hi, ts_lo, caplen, wire_len)
                else {
                    return Err("short packet block".into());
                };
                let data_start = body.start + 20;
                let caplen = caplen as usize;
                if data_start + caplen > body.end {
                    return Err(format!("packet block caplen {caplen} exceeds its block"));
                }
                let Format::PcapNg { ifaces, .. } = &self.format else {
                    return Ok(None);
                };
                let iface = ifaces
                    .get(iface_id as usize)
                    .copied()
                    .ok_or_else(|| format!("packet on undeclared interface {iface_id}"))?;
                let ts = (u64::from(hi) << 32) | u64::from(lo);
                let ts_us = to_micros(ts, iface.units_per_sec);
                Ok(Some((data_start, caplen, iface.link, ts_us, wire_len)))
            }
            // Simple Packet Block: interface 0, no timestamp; captured length is what fits.
            3 => {
                if body.len() < 4 {
                    return Err("short simple packet block".into());
                }
                let wire_len = u32_at(buf, body.start, be).ok_or("short simple packet block")?;
                let Format::PcapNg { ifaces, .. } = &self.format else {
                    return Ok(None);
                };
                let iface = ifaces
                    .first()
                    .copied()
                    .ok_or("simple packet block before any interface")?;
                let data_start = body.start + 4;
                let caplen = (wire_len as usize).min(body.end.saturating_sub(data_start));
                Ok(Some((data_start, caplen, iface.link, 0, wire_len)))
            }
            _ => Ok(None),
        }
    }
}

/// Timestamp resolution from the IDB options (option 9, `if_tsresol`); default microseconds.
fn if_tsresol(opts: &[u8], be: bool) -> u64 {
    let mut o = 0;
    while let (Some(code), Some(len)) = (u16_at(opts, o, be), u16_at(opts, o + 2, be)) {
        let len = usize::from(len);
        if code == 0 {
            break;
        }
        if code == 9 && len >= 1 {
            if let Some(&v) = opts.get(o + 4) {
                let exp = u32::from(v & 0x7f);
                let units = if v & 0x80 != 0 {
                    2u64.checked_pow(exp)
                } else {
                    10u64.checked_pow(exp)
                };
                return units.filter(|u| *u > 0).unwrap_or(1_000_000);
            }
        }
        o += 4 + len.div_ceil(4) * 4;
    }
    1_000_000
}

fn to_micros(ts: u64, units_per_sec: u64) -> u64 {
    if units_per_sec == 1_000_000 {
        return ts;
    }
    let secs = ts / units_per_sec;
    let frac = ts % units_per_sec;
    let micros = u128::from(frac) * 1_000_000 / u128::from(units_per_sec);
    secs.saturating_mul(1_000_000)
        .saturating_add(u64::try_from(micros).unwrap_or(0))
}

/// Fuzz entry: reads `data` as a capture file through [`NativeReader`] and checks that the
/// reader stays inside its input: no packet longer than [`MAX_BLOCK`] or than the input, the
/// captured bytes of all packets together no more than the input, at most one record per 12
/// input bytes (the smallest pcapng block; a pcap record header is 16), `records()` counting
/// what was handed out, an error naming that count, and only `Ok(None)` after the end or an
/// error.
///
/// The reader reads a [`File`], so the bytes go to a per-thread scratch file first
/// ([`crate::fuzz_scratch`]), removed again afterwards.
///
/// # Panics
/// On a broken invariant (the bug the fuzzer looks for), or if the scratch file cannot be
/// written (a broken fuzzing host, not a finding).
pub fn fuzz_reader(data: &[u8]) {
    let path = crate::fuzz_scratch("reader").with_extension("cap");
    if let Err(e) = std::fs::write(&path, data) {
        panic!("fuzz_reader: cannot write {}: {e}", path.display());
    }
    fuzz_reader_file(&path, data.len());
    let _ = std::fs::remove_file(&path);
}

fn fuzz_reader_file(path: &Path, input_len: usize) {
    let Ok(mut r) = NativeReader::open(path) else {
        return;
    };
    let mut count: u64 = 0;
    let mut bytes: usize = 0;
    let max_records = u64::try_from(input_len / 12 + 1).unwrap_or(u64::MAX);
    loop {
        match r.next_packet() {
            Ok(Some(p)) => {
                let n = p.packet.data.len();
                assert!(n <= MAX_BLOCK, "packet of {n} bytes over MAX_BLOCK");
                bytes = bytes.saturating_add(n);
                assert!(bytes <= input_len, "more packet bytes than input bytes");
                count += 1;
                assert!(count <= max_records, "more records than the input can hold");
                assert_eq!(r.records(), count);
            }
            Ok(None) => break,
            Err(CaptureError::Truncated { records, .. } | CaptureError::Read { records, .. }) => {
                assert_eq!(records, count, "error names the wrong record count");
                break;
            }
            Err(CaptureError::Open { .. }) => panic!("open error while reading"),
        }
    }
    assert_eq!(r.records(), count);
    assert!(
        matches!(r.next_packet(), Ok(None)),
        "a packet or an error after the end"
    );
}

#[cfg(test)]
mod fuzz_tests {
    use super::fuzz_reader;

    /// pcapng Section Header Block, little-endian, version 1.0, unknown section length
    /// (draft-ietf-opsawg-pcapng §4.1).
    fn shb() -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&0x0a0d_0d0au32.to_le_bytes());
        v.extend_from_slice(&28u32.to_le_bytes());
        v.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes());
        v.extend_from_slice(&0u16.to_le_bytes());
        v.extend_from_slice(&(-1i64).to_le_bytes());
        v.extend_from_slice(&28u32.to_le_bytes());
        v
    }

    /// A block of `block_type` with no body: only the type and the two 12-byte total lengths.
    fn empty_block(block_type: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&block_type.to_le_bytes());
        v.extend_from_slice(&12u32.to_le_bytes());
        v.extend_from_slice(&12u32.to_le_bytes());
        v
    }

    /// Interface Description Block (§4.2) for Ethernet, no options.
    fn idb() -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&1u32.to_le_bytes());
        v.extend_from_slice(&20u32.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes());
        v.extend_from_slice(&0u16.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&20u32.to_le_bytes());
        v
    }

    #[test]
    fn body_less_blocks() {
        for block_type in [1u32, 2, 3, 6] {
            let mut f = shb();
            f.extend(idb());
            f.extend(empty_block(block_type));
            f.extend([0xffu8; 32]);
            for end in 0..=f.len() {
                fuzz_reader(f.get(..end).unwrap_or_default());
            }
        }
    }
}
