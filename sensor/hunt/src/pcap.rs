//! A classic pcap writer (microsecond timestamps, little-endian), enough for evidence files
//! that every tool reads.

use std::io::{self, Write};

/// The smallest snap length written in the header; larger records raise it.
pub const MIN_SNAPLEN: u32 = 262_144;

pub struct PcapWriter<W: Write> {
    w: W,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header for `linktype` (a DLT number).
    ///
    /// # Errors
    /// The writer's.
    pub fn new(mut w: W, linktype: u32, snaplen: u32) -> io::Result<Self> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&snaplen.max(MIN_SNAPLEN).to_le_bytes());
        h.extend_from_slice(&linktype.to_le_bytes());
        w.write_all(&h)?;
        Ok(PcapWriter { w })
    }

    /// One record. `orig_len` is the length on the wire (at least the captured length).
    ///
    /// # Errors
    /// The writer's, or a record too large for the format.
    pub fn packet(&mut self, ts_us: u64, orig_len: u32, data: &[u8]) -> io::Result<()> {
        let incl = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "record over 4 GiB"))?;
        let secs = u32::try_from(ts_us / 1_000_000).unwrap_or(u32::MAX);
        let usecs = (ts_us % 1_000_000) as u32;
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&usecs.to_le_bytes());
        h[8..12].copy_from_slice(&incl.to_le_bytes());
        h[12..16].copy_from_slice(&orig_len.max(incl).to_le_bytes());
        self.w.write_all(&h)?;
        self.w.write_all(data)
    }

    /// Flushes and returns the inner writer.
    ///
    /// # Errors
    /// The writer's.
    pub fn finish(mut self) -> io::Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_record_layout() {
        let mut w = PcapWriter::new(Vec::new(), 1, 0).expect("header");
        w.packet(1_768_467_605_180_500, 60, &[0xaa; 42])
            .expect("record");
        let b = w.finish().expect("finish");
        assert_eq!(b.len(), 24 + 16 + 42);
        assert_eq!(&b[0..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(
            u32::from_le_bytes([b[16], b[17], b[18], b[19]]),
            MIN_SNAPLEN
        );
        assert_eq!(u32::from_le_bytes([b[20], b[21], b[22], b[23]]), 1);
        assert_eq!(
            u32::from_le_bytes([b[24], b[25], b[26], b[27]]),
            1_768_467_605
        );
        assert_eq!(u32::from_le_bytes([b[28], b[29], b[30], b[31]]), 180_500);
        assert_eq!(u32::from_le_bytes([b[32], b[33], b[34], b[35]]), 42);
        assert_eq!(u32::from_le_bytes([b[36], b[37], b[38], b[39]]), 60);
    }
}
