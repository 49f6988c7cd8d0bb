//! Shared helpers for tapir's criterion benches: in-memory pcap records so that benches
//! measure parsing, not disk.

/// One classic-pcap record: time, wire length and the byte range of the frame.
pub struct Record {
    pub ts_us: u64,
    pub wire_len: u32,
    pub range: std::ops::Range<usize>,
}

/// Splits a little-endian microsecond classic pcap (as tools/gen-demo writes) into records.
pub fn records(pcap: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    let mut off = 24;
    let u32_at = |o: usize| -> Option<u32> {
        Some(u32::from_le_bytes(pcap.get(o..o + 4)?.try_into().ok()?))
    };
    while let (Some(sec), Some(usec), Some(incl), Some(orig)) = (
        u32_at(off),
        u32_at(off + 4),
        u32_at(off + 8),
        u32_at(off + 12),
    ) {
        let start = off + 16;
        let end = start + incl as usize;
        if end > pcap.len() {
            break;
        }
        out.push(Record {
            ts_us: u64::from(sec) * 1_000_000 + u64::from(usec),
            wire_len: orig,
            range: start..end,
        });
        off = end;
    }
    out
}
