//! Classic libpcap file writer: 24-byte global header (magic 0xa1b2c3d4, version 2.4,
//! microsecond timestamps, LINKTYPE_ETHERNET = 1) then one 16-byte record header per packet.
//! Format: <https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html>.
//! Written little-endian (the magic tells readers the byte order).

use std::io::{self, Write};

/// Magic number for microsecond-resolution pcap.
pub const MAGIC_USEC: u32 = 0xa1b2_c3d4;
/// LINKTYPE_ETHERNET (IEEE 802.3 / Ethernet II frames).
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Snapshot length advertised in the global header; frames are never larger.
pub const SNAPLEN: u32 = 65_535;
/// Global header length.
pub const GLOBAL_HEADER_LEN: u64 = 24;
/// Per-record header length.
pub const RECORD_HEADER_LEN: u64 = 16;

/// Streams packets into a classic pcap file.
pub struct PcapWriter<W: Write> {
    out: W,
    packets: u64,
    bytes: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header.
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&MAGIC_USEC.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone 0, sigfigs 0.
        h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
        h[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter {
            out,
            packets: 0,
            bytes: GLOBAL_HEADER_LEN,
        })
    }

    /// Appends one frame captured at `ts_us` microseconds since the Unix epoch.
    pub fn write_packet(&mut self, ts_us: u64, frame: &[u8]) -> io::Result<()> {
        self.write_packet_cut(ts_us, frame, frame.len())
    }

    /// Appends the first bytes of a frame that was `orig_len` bytes on the wire (a capture
    /// with a short snap length: `frame` is what was kept).
    pub fn write_packet_cut(
        &mut self,
        ts_us: u64,
        frame: &[u8],
        orig_len: usize,
    ) -> io::Result<()> {
        let len = u32::try_from(frame.len())
            .ok()
            .filter(|&l| l <= SNAPLEN)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame over snaplen"))?;
        let orig = u32::try_from(orig_len.max(frame.len()))
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame over 4 GiB"))?;
        let secs = u32::try_from(ts_us / 1_000_000)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "timestamp after 2106"))?;
        let usecs = (ts_us % 1_000_000) as u32;
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&usecs.to_le_bytes());
        h[8..12].copy_from_slice(&len.to_le_bytes());
        h[12..16].copy_from_slice(&orig.to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(frame)?;
        self.packets += 1;
        self.bytes += RECORD_HEADER_LEN + u64::from(len);
        Ok(())
    }

    /// Packets written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// File bytes written so far, headers included.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}
