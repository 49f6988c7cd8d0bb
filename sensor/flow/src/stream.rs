//! TCP stream reassembly: one [`Stream`] per direction of a connection.
//!
//! The flow table decodes each TCP segment (sequence number, flags, payload) and hands it to
//! the [`Stream`] of its direction. The stream turns the segments back into the byte stream
//! the receiving application saw and hands it, in order, to a `deliver` callback (normally
//! the app-layer parser of that direction).
//!
//! # Semantics
//!
//! - **Start.** A SYN sets the initial sequence number (ISN): data starts at ISN + 1, and a
//!   SYN may itself carry data (TCP Fast Open, RFC 7413). Without a SYN (capture started
//!   mid-connection) the stream starts at the sequence number of the first segment that
//!   carries data; bytes sent before that point are never delivered.
//! - **In order** data is delivered at once, by reference to the caller's payload: no copy,
//!   no allocation.
//! - **Out of order** data (ahead of the next expected byte) is copied into a bounded,
//!   sequence-sorted buffer and delivered as soon as the hole before it fills.
//! - **Retransmissions and overlaps: first data wins.** Bytes already delivered are never
//!   delivered again, and bytes already buffered are kept: a later copy of the same sequence
//!   range never replaces them, whatever it contains. Only the new bytes of a partial overlap
//!   are used. This is Suricata's `first` policy; receivers differ (Suricata's per-OS
//!   policies, e.g. `bsd`, `linux`, `windows`, choose per byte range) and per-host policies
//!   are future work. See Ptacek & Newsham, "Insertion, Evasion, and Denial of Service" (1998).
//! - **Sequence arithmetic** is modulo 2^32 (RFC 9293 §3.4): every comparison is made on the
//!   wrapping difference to the next expected sequence number, so streams that cross 2^32
//!   reassemble like any other.
//! - **RST** segments are not delivered (RFC 1122 §4.2.2.12: data in a RST is diagnostic, not
//!   stream data). FIN needs no handling here: the flow table calls [`Stream::flush`] when the
//!   flow ends.
//!
//! # Limits (all per direction)
//!
//! - [`StreamConfig::depth`]: bytes delivered in total (default 1 MiB, like Suricata's
//!   `stream.reassembly.depth`); data past it is neither delivered nor buffered, and once it
//!   is reached ([`StreamStats::depth_reached`]) the out-of-order buffer is released.
//! - [`StreamConfig::max_ooo_bytes`] / [`StreamConfig::max_ooo_segments`]: out-of-order data
//!   buffered (default 64 KiB in at most 64 pieces). A segment that would exceed either is
//!   dropped whole and counted; the sender's retransmission can still fill the hole later.
//! - [`MAX_SEQ_AHEAD`]: segments starting more than 1 GiB before or after the next expected
//!   byte are out of window: dropped and counted.
//! - [`MAX_SEGMENT_LEN`]: longer payloads are dropped and counted (IPv4 and non-jumbo IPv6
//!   carry at most 64 KiB; GRO/TSO captures stay far below this).
//!
//! A [`Stream`] that only ever sees in-order data never allocates. Nothing here panics on any
//! input: see [`crate::fuzzing::fuzz_stream`], which checks every delivered byte.

use std::cmp::min;

/// TCP FIN flag, as passed in `flags` to [`Stream::on_segment`].
pub const FIN: u8 = 0x01;
/// TCP SYN flag, as passed in `flags` to [`Stream::on_segment`].
pub const SYN: u8 = 0x02;
/// TCP RST flag, as passed in `flags` to [`Stream::on_segment`].
pub const RST: u8 = 0x04;

/// Farthest a segment may start before or after the next expected byte (1 GiB). Far larger
/// than any real window (2^30 is also the largest scaled window, RFC 7323 §2.3), and small
/// enough that wrapping differences stay unambiguous.
pub const MAX_SEQ_AHEAD: u32 = 1 << 30;

/// Longest payload accepted in one segment (16 MiB).
pub const MAX_SEGMENT_LEN: usize = 1 << 24;

/// Reassembly bounds for one direction of a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamConfig {
    /// In-order bytes delivered per direction; later data is dropped. Default 1 MiB.
    pub depth: u32,
    /// Out-of-order bytes buffered per direction. Default 64 KiB.
    pub max_ooo_bytes: u32,
    /// Out-of-order pieces buffered per direction (one per received segment, or several when
    /// a segment spans buffered data). Default 64.
    pub max_ooo_segments: u16,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            depth: 1 << 20,
            max_ooo_bytes: 64 << 10,
            max_ooo_segments: 64,
        }
    }
}

/// What [`Stream::on_segment`] did with a segment.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentOutcome {
    /// All its bytes were new and in order; delivered (with any buffered data it made
    /// contiguous).
    InOrder,
    /// Ahead of the next expected byte; all its bytes were copied into the out-of-order buffer.
    Buffered,
    /// Every byte was already delivered or buffered; nothing new.
    Retransmission,
    /// Some bytes were already delivered or buffered (first data wins); the new ones were
    /// delivered or buffered.
    PartialOverlap,
    /// No payload (SYN, FIN, pure ACK): nothing to deliver.
    Empty,
    /// The stream is at its depth (or this data lies beyond it); nothing delivered.
    DepthReached,
    /// Not used at all, for the given reason.
    Dropped(DropReason),
}

/// Why a segment was dropped.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Starts more than [`MAX_SEQ_AHEAD`] from the next expected byte, or is longer than
    /// [`MAX_SEGMENT_LEN`].
    OutOfWindow,
    /// Buffering it would exceed [`StreamConfig::max_ooo_bytes`].
    OooBytesLimit,
    /// Buffering it would exceed [`StreamConfig::max_ooo_segments`].
    OooSegmentsLimit,
    /// A RST that carried data (not stream data, RFC 1122 §4.2.2.12).
    Reset,
}

/// Counters of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Received bytes that had already been delivered (dropped).
    pub retransmitted_bytes: u64,
    /// Received bytes that were already in the out-of-order buffer (dropped: first data wins).
    pub overlap_bytes: u64,
    /// Out-of-order segments dropped because the buffer limits were reached.
    pub ooo_dropped_segments: u64,
    /// Segments dropped as out of window or too long.
    pub out_of_window_segments: u64,
    /// Holes skipped by [`Stream::flush`]: data the receiver got that the sensor never saw.
    pub gaps: u64,
    /// [`StreamConfig::depth`] bytes were delivered: nothing more will be.
    pub depth_reached: bool,
}

/// Out-of-order bytes starting at `seq`. Pieces never overlap each other.
#[derive(Debug, Clone)]
struct Piece {
    seq: u32,
    data: Vec<u8>,
}

/// Reassembly state of one direction of a TCP connection. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    /// Sequence number of the next byte to deliver; valid once `started`.
    next_seq: u32,
    started: bool,
    delivered: u64,
    /// Depth from the last `on_segment` call, so that `flush` (which takes no config) obeys it.
    depth: u32,
    /// Sorted by distance ahead of `next_seq`; empty (unallocated) while data is in order.
    ooo: Vec<Piece>,
    ooo_bytes: u32,
    stats: StreamStats,
    gap: bool,
}

impl Stream {
    /// An empty stream. Cheap: nothing is allocated until out-of-order data arrives.
    pub fn new() -> Self {
        Stream::default()
    }

    /// Adds one segment of this direction and delivers whatever became contiguous.
    ///
    /// `seq` is the segment's sequence number, `flags` its TCP flags ([`FIN`], [`SYN`],
    /// [`RST`]; others are ignored), `payload` its TCP payload. `deliver` is called zero or
    /// more times with the next in-order bytes of the stream.
    pub fn on_segment(
        &mut self,
        cfg: &StreamConfig,
        seq: u32,
        flags: u8,
        payload: &[u8],
        deliver: &mut dyn FnMut(&[u8]),
    ) -> SegmentOutcome {
        self.on_segment_at(cfg, seq, flags, payload, &mut |_, d| deliver(d))
    }

    /// At the end of the flow: delivers everything still buffered, in order, skipping holes.
    ///
    /// Returns whether a hole was skipped; if so [`Stream::gap`] is set from now on. The
    /// stream stays usable: later data continues after the last delivered byte.
    pub fn flush(&mut self, deliver: &mut dyn FnMut(&[u8])) -> bool {
        self.flush_at(&mut |_, d| deliver(d))
    }

    /// Bytes delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Counters of this direction.
    pub fn stats(&self) -> StreamStats {
        self.stats
    }

    /// Data was lost (a hole skipped by [`Stream::flush`]): an app-layer parser of this
    /// direction must stop, since its input is no longer contiguous.
    pub fn gap(&self) -> bool {
        self.gap
    }

    /// Bytes now held in the out-of-order buffer.
    pub fn buffered_bytes(&self) -> u32 {
        self.ooo_bytes
    }

    /// Pieces now held in the out-of-order buffer.
    pub fn buffered_segments(&self) -> usize {
        self.ooo.len()
    }

    /// Sequence number of the next byte expected, once the stream has started.
    pub fn next_seq(&self) -> Option<u32> {
        self.started.then_some(self.next_seq)
    }

    /// Signed distance of `seq` from `next_seq`. Reinterpreting the wrapping difference as
    /// i32 is the RFC 9293 §3.4 comparison; all values used are within ±2^30 + 2^24.
    fn rel(&self, seq: u32) -> i64 {
        i64::from(seq.wrapping_sub(self.next_seq) as i32)
    }

    /// [`Stream::on_segment`], with the sequence number of each delivered chunk.
    pub(crate) fn on_segment_at(
        &mut self,
        cfg: &StreamConfig,
        seq: u32,
        flags: u8,
        payload: &[u8],
        deliver: &mut dyn FnMut(u32, &[u8]),
    ) -> SegmentOutcome {
        self.depth = cfg.depth;
        if flags & RST != 0 {
            return if payload.is_empty() {
                SegmentOutcome::Empty
            } else {
                SegmentOutcome::Dropped(DropReason::Reset)
            };
        }
        let mut data_seq = seq;
        if flags & SYN != 0 {
            // The SYN occupies one sequence number; its data (TFO) follows it.
            data_seq = seq.wrapping_add(1);
            if !self.started {
                self.started = true;
                self.next_seq = data_seq;
            }
        }
        if payload.is_empty() {
            return SegmentOutcome::Empty;
        }
        if self.stats.depth_reached {
            return SegmentOutcome::DepthReached;
        }
        if payload.len() > MAX_SEGMENT_LEN {
            self.stats.out_of_window_segments += 1;
            return SegmentOutcome::Dropped(DropReason::OutOfWindow);
        }
        if !self.started {
            self.started = true;
            self.next_seq = data_seq;
        }
        let start = self.rel(data_seq);
        let ahead = i64::from(MAX_SEQ_AHEAD);
        if !(-ahead..=ahead).contains(&start) {
            self.stats.out_of_window_segments += 1;
            return SegmentOutcome::Dropped(DropReason::OutOfWindow);
        }
        // MAX_SEGMENT_LEN fits in i64 and u64 on every target.
        let len = payload.len() as i64;
        let end = start + len;
        if end <= 0 {
            self.stats.retransmitted_bytes += payload.len() as u64;
            return SegmentOutcome::Retransmission;
        }
        if start > 0 {
            return self.buffer(cfg, data_seq, start, payload);
        }
        // start <= 0 < end: the first -start bytes were delivered already.
        let old = usize::try_from(-start).unwrap_or(usize::MAX);
        let fresh = payload.get(old..).unwrap_or_default();
        self.stats.retransmitted_bytes += old as u64;
        match self.deliver_in_order(fresh, deliver) {
            None => SegmentOutcome::DepthReached,
            Some(true) => SegmentOutcome::PartialOverlap,
            Some(false) if old > 0 => SegmentOutcome::PartialOverlap,
            Some(false) => SegmentOutcome::InOrder,
        }
    }

    /// Delivers `data` (which starts at `next_seq`) and then any buffered pieces it makes
    /// contiguous. Returns `None` when the depth was reached, else whether part of `data` was
    /// replaced by buffered bytes (first data wins).
    fn deliver_in_order(
        &mut self,
        mut data: &[u8],
        deliver: &mut dyn FnMut(u32, &[u8]),
    ) -> Option<bool> {
        let mut overlapped = false;
        loop {
            let next_piece = self.ooo.first().map(|p| self.rel(p.seq));
            match next_piece {
                Some(at) if at <= 0 => {
                    let piece = self.ooo.remove(0);
                    self.ooo_bytes = self.ooo_bytes.saturating_sub(len_u32(&piece.data));
                    let behind = usize::try_from(-at).unwrap_or(usize::MAX);
                    let bytes = piece.data.get(behind..).unwrap_or_default();
                    // The buffered copy arrived first, so it wins over `data`.
                    let covered = min(bytes.len(), data.len());
                    if covered > 0 {
                        overlapped = true;
                        self.stats.overlap_bytes += covered as u64;
                        data = data.get(covered..).unwrap_or_default();
                    }
                    if !bytes.is_empty() && !self.emit(bytes, deliver) {
                        return None;
                    }
                }
                _ if data.is_empty() => return Some(overlapped),
                at => {
                    // Up to the next buffered piece (or all of `data`).
                    let take = at
                        .and_then(|a| usize::try_from(a).ok())
                        .map_or(data.len(), |a| min(a, data.len()));
                    let (now, rest) = data.split_at(take);
                    data = rest;
                    if !self.emit(now, deliver) {
                        return None;
                    }
                }
            }
        }
    }

    /// Hands `data` (at `next_seq`) to `deliver`, cut at the depth; returns false if it was
    /// cut. Once the depth is reached the out-of-order buffer is released.
    fn emit(&mut self, data: &[u8], deliver: &mut dyn FnMut(u32, &[u8])) -> bool {
        let room = u64::from(self.depth).saturating_sub(self.delivered);
        let n = usize::try_from(room).map_or(data.len(), |r| min(r, data.len()));
        if let Some(now) = data.get(..n).filter(|d| !d.is_empty()) {
            deliver(self.next_seq, now);
            self.delivered += n as u64;
        }
        self.next_seq = self.next_seq.wrapping_add(len_u32(data));
        if self.delivered >= u64::from(self.depth) {
            self.stats.depth_reached = true;
            self.ooo = Vec::new();
            self.ooo_bytes = 0;
        }
        n == data.len()
    }

    /// Copies the new bytes of an out-of-order segment (`start` > 0 bytes ahead) into the
    /// buffer, keeping bytes already buffered (first data wins).
    fn buffer(
        &mut self,
        cfg: &StreamConfig,
        seq: u32,
        start: i64,
        payload: &[u8],
    ) -> SegmentOutcome {
        // Bytes at or past the depth can never be delivered: do not spend memory on them.
        let room =
            i64::try_from(u64::from(self.depth).saturating_sub(self.delivered)).unwrap_or(i64::MAX);
        if start >= room {
            return SegmentOutcome::DepthReached;
        }
        let keep = usize::try_from(room - start).map_or(payload.len(), |r| min(r, payload.len()));
        let payload = payload.get(..keep).unwrap_or_default();
        let end = start + payload.len() as i64;

        let mut new_bytes: u64 = 0;
        let mut new_pieces: usize = 0;
        self.for_each_hole(start, end, |a, b| {
            new_bytes += (b - a) as u64;
            new_pieces += 1;
        });
        if new_bytes == 0 {
            self.stats.overlap_bytes += payload.len() as u64;
            return SegmentOutcome::Retransmission;
        }
        if u64::from(self.ooo_bytes) + new_bytes > u64::from(cfg.max_ooo_bytes) {
            self.stats.ooo_dropped_segments += 1;
            return SegmentOutcome::Dropped(DropReason::OooBytesLimit);
        }
        if self.ooo.len() + new_pieces > usize::from(cfg.max_ooo_segments) {
            self.stats.ooo_dropped_segments += 1;
            return SegmentOutcome::Dropped(DropReason::OooSegmentsLimit);
        }
        let overlap = payload.len() as u64 - new_bytes;
        self.stats.overlap_bytes += overlap;

        let mut holes = Vec::with_capacity(new_pieces);
        self.for_each_hole(start, end, |a, b| holes.push((a, b)));
        self.ooo.reserve(new_pieces);
        for (a, b) in holes {
            let (Ok(from), Ok(to)) = (usize::try_from(a - start), usize::try_from(b - start))
            else {
                continue;
            };
            if let Some(bytes) = payload.get(from..to) {
                self.ooo_bytes = self.ooo_bytes.saturating_add(len_u32(bytes));
                self.ooo.push(Piece {
                    seq: seq.wrapping_add(len_u32(payload.get(..from).unwrap_or_default())),
                    data: bytes.to_vec(),
                });
            }
        }
        // Every piece is ahead of next_seq here, so the unsigned distance orders them.
        let next = self.next_seq;
        self.ooo.sort_unstable_by_key(|p| p.seq.wrapping_sub(next));
        if overlap > 0 {
            SegmentOutcome::PartialOverlap
        } else {
            SegmentOutcome::Buffered
        }
    }

    /// Calls `f(a, b)` for each sub-range of `[start, end)` (distances from `next_seq`) that
    /// no buffered piece covers, in order.
    fn for_each_hole(&self, start: i64, end: i64, mut f: impl FnMut(i64, i64)) {
        let mut cur = start;
        for p in &self.ooo {
            let ps = self.rel(p.seq);
            let pe = ps + i64::from(len_u32(&p.data));
            if pe <= cur {
                continue;
            }
            if ps >= end {
                break;
            }
            if ps > cur {
                f(cur, ps);
            }
            cur = pe;
            if cur >= end {
                return;
            }
        }
        if cur < end {
            f(cur, end);
        }
    }

    /// [`Stream::flush`], with the sequence number of each delivered chunk.
    pub(crate) fn flush_at(&mut self, deliver: &mut dyn FnMut(u32, &[u8])) -> bool {
        let pieces = std::mem::take(&mut self.ooo);
        self.ooo_bytes = 0;
        let mut skipped = false;
        for piece in pieces {
            if self.stats.depth_reached {
                break;
            }
            let at = self.rel(piece.seq);
            let bytes = if at > 0 {
                skipped = true;
                self.stats.gaps += 1;
                self.next_seq = piece.seq;
                piece.data.as_slice()
            } else {
                let behind = usize::try_from(-at).unwrap_or(usize::MAX);
                piece.data.get(behind..).unwrap_or_default()
            };
            if !bytes.is_empty() && !self.emit(bytes, deliver) {
                break;
            }
        }
        self.gap |= skipped;
        skipped
    }
}

/// Length as u32; every buffer here is at most [`MAX_SEGMENT_LEN`] long.
fn len_u32(b: &[u8]) -> u32 {
    u32::try_from(b.len()).unwrap_or(u32::MAX)
}

/// Fuzz body behind [`crate::fuzzing::fuzz_stream`].
///
/// Input: 9 header bytes (ISN u32 BE, depth u16 BE, max_ooo_bytes u16 BE, max_ooo_segments
/// u8), then 4-byte records `[flags, offset_hi, offset_lo, len]`. A record sends `len` bytes
/// of a fixed reference stream at signed 16-bit `offset` from ISN + 1 (with the SYN, FIN, RST
/// bits of `flags`); flag bit 0x80 calls `flush` instead. Every delivered chunk is checked
/// against the reference at its sequence number, chunks must never go backwards or repeat,
/// the depth and buffer bounds must hold after every call, and (unless the depth was
/// reached) every byte of an accepted segment that was ahead of the stream when it arrived
/// must have been delivered after the final flush.
pub(crate) fn fuzz_run(data: &[u8]) {
    let Some((hdr, records)) = data.split_first_chunk::<9>() else {
        return;
    };
    let [i0, i1, i2, i3, d0, d1, o0, o1, s0] = *hdr;
    let isn = u32::from_be_bytes([i0, i1, i2, i3]);
    let cfg = StreamConfig {
        depth: u32::from(u16::from_be_bytes([d0, d1])),
        max_ooo_bytes: u32::from(u16::from_be_bytes([o0, o1])),
        max_ooo_segments: u16::from(s0),
    };
    let base = isn.wrapping_add(1);
    // Offsets from `base` span i16 plus one record's length: index them from 0.
    let index = |seq: u32| usize::try_from(i64::from(seq.wrapping_sub(base) as i32) + 32_768).ok();
    const SPAN: usize = (1 << 16) + 256;
    // Bytes that must come out by the end (accepted, ahead of next_seq, within the depth
    // budget), and bytes that did.
    let mut must = vec![0u64; SPAN / 64];
    let mut got = vec![0u64; SPAN / 64];
    fn set(bits: &mut [u64], i: Option<usize>) {
        if let Some(w) = i.and_then(|i| bits.get_mut(i / 64).map(|w| (w, i % 64))) {
            *w.0 |= 1 << w.1;
        }
    }
    let mut stream = Stream::new();
    let mut expect_next: Option<u32> = None;
    let mut total: u64 = 0;
    let mut check = |seq: u32, chunk: &[u8], after_flush: bool| {
        assert!(!chunk.is_empty(), "empty chunk delivered");
        if let Some(want) = expect_next {
            let d = seq.wrapping_sub(want) as i32;
            // Only a flush may skip ahead; nothing may ever go back.
            assert!(
                d == 0 || (after_flush && d > 0),
                "chunk at {seq} but expected {want}"
            );
        }
        for (i, &b) in chunk.iter().enumerate() {
            let off = seq.wrapping_add(len_u32(chunk.get(..i).unwrap_or_default()));
            assert_eq!(
                b,
                reference_byte(off.wrapping_sub(base)),
                "wrong byte at seq {off}"
            );
            set(&mut got, index(off));
        }
        expect_next = Some(seq.wrapping_add(len_u32(chunk)));
        total += chunk.len() as u64;
    };
    let mut buf = [0u8; 255];
    for rec in records.chunks_exact(4) {
        let &[flags, h, l, len] = rec else {
            continue;
        };
        if flags & 0x80 != 0 {
            stream.flush_at(&mut |s, c| check(s, c, true));
        } else {
            let off = i16::from_be_bytes([h, l]);
            let data_seq = base.wrapping_add(off as u32);
            let payload = buf.get_mut(..usize::from(len)).unwrap_or_default();
            for (i, b) in payload.iter_mut().enumerate() {
                *b = reference_byte(data_seq.wrapping_add(i as u32).wrapping_sub(base));
            }
            let flags = flags & (FIN | SYN | RST);
            let seq = if flags & SYN != 0 {
                data_seq.wrapping_sub(1)
            } else {
                data_seq
            };
            let next_before = stream.next_seq().unwrap_or(data_seq);
            let room = u64::from(cfg.depth).saturating_sub(stream.delivered());
            let outcome =
                stream.on_segment_at(&cfg, seq, flags, payload, &mut |s, c| check(s, c, false));
            if matches!(
                outcome,
                SegmentOutcome::InOrder | SegmentOutcome::Buffered | SegmentOutcome::PartialOverlap
            ) {
                for i in 0..u32::from(len) {
                    let q = data_seq.wrapping_add(i);
                    let rel = q.wrapping_sub(next_before) as i32;
                    if rel >= 0 && u64::from(rel.unsigned_abs()) < room {
                        set(&mut must, index(q));
                    }
                }
            }
        }
        assert!(stream.buffered_bytes() <= cfg.max_ooo_bytes);
        assert!(stream.buffered_segments() <= usize::from(cfg.max_ooo_segments));
        assert!(stream.delivered() <= u64::from(cfg.depth));
    }
    stream.flush_at(&mut |s, c| check(s, c, true));
    assert_eq!(stream.buffered_bytes(), 0);
    assert_eq!(stream.buffered_segments(), 0);
    assert_eq!(stream.delivered(), total);
    assert!(total <= u64::from(cfg.depth));
    if !stream.stats().depth_reached {
        let lost = must.iter().zip(&got).position(|(&m, &g)| m & !g != 0);
        assert_eq!(lost, None, "an accepted byte was never delivered");
    }
}

/// Byte at `offset` of the fuzz reference stream: a multiplicative hash, so that a byte
/// delivered at the wrong offset is almost always caught.
fn reference_byte(offset: u32) -> u8 {
    (offset.wrapping_mul(0x9E37_79B1) >> 24) as u8
}
