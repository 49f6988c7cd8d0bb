//! Behaviour of `Stream` on hand-built segment sequences. Expected bytes follow from the
//! documented semantics (RFC 9293 sequence space, "first data wins"), worked out by hand.

use tapir_flow::stream::{
    DropReason, SegmentOutcome, Stream, StreamConfig, FIN, MAX_SEQ_AHEAD, RST, SYN,
};

const MSG: &[u8] = b"The quick brown fox jumps over the lazy dog";

/// Feeds `(seq, flags, payload)` segments; returns the delivered bytes and outcomes.
fn feed(
    s: &mut Stream,
    cfg: &StreamConfig,
    segs: &[(u32, u8, &[u8])],
) -> (Vec<u8>, Vec<SegmentOutcome>) {
    let mut out = Vec::new();
    let mut outcomes = Vec::new();
    for &(seq, flags, payload) in segs {
        outcomes.push(s.on_segment(cfg, seq, flags, payload, &mut |d| out.extend_from_slice(d)));
    }
    (out, outcomes)
}

fn flush(s: &mut Stream) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let gap = s.flush(&mut |d| out.extend_from_slice(d));
    (out, gap)
}

/// `MSG[a..b]` as a segment of a stream whose ISN is `isn`.
fn seg(isn: u32, a: usize, b: usize) -> (u32, u8, &'static [u8]) {
    (isn.wrapping_add(1).wrapping_add(a as u32), 0, &MSG[a..b])
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut all = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            all.push(q);
        }
    }
    all
}

#[test]
fn in_order_after_syn() {
    let cfg = StreamConfig::default();
    let mut s = Stream::new();
    let isn = 1000;
    let (out, oc) = feed(
        &mut s,
        &cfg,
        &[
            (isn, SYN, b""),
            seg(isn, 0, 10),
            seg(isn, 10, 20),
            seg(isn, 20, MSG.len()),
        ],
    );
    assert_eq!(out, MSG);
    assert_eq!(
        oc,
        [
            SegmentOutcome::Empty,
            SegmentOutcome::InOrder,
            SegmentOutcome::InOrder,
            SegmentOutcome::InOrder
        ]
    );
    assert_eq!(s.delivered(), MSG.len() as u64);
    assert_eq!(s.buffered_segments(), 0);
    assert_eq!(s.stats(), Default::default());
    assert_eq!(flush(&mut s), (vec![], false));
    assert!(!s.gap());
}

#[test]
fn every_permutation_of_five_segments() {
    let isn = 0x1234_5678;
    let cuts = [(0, 7), (7, 16), (16, 20), (20, 31), (31, MSG.len())];
    for perm in permutations(cuts.len()) {
        let cfg = StreamConfig::default();
        let mut s = Stream::new();
        let mut segs = vec![(isn, SYN, &b""[..])];
        segs.extend(perm.iter().map(|&i| seg(isn, cuts[i].0, cuts[i].1)));
        let (out, oc) = feed(&mut s, &cfg, &segs);
        assert_eq!(out, MSG, "order {perm:?}");
        assert_eq!(s.buffered_bytes(), 0, "order {perm:?}");
        // The segment that carries offset 0 is always delivered in order.
        let first = perm.iter().position(|&i| i == 0).unwrap();
        assert_eq!(oc[first + 1], SegmentOutcome::InOrder);
        assert_eq!(flush(&mut s), (vec![], false));
    }
}

#[test]
fn every_permutation_of_overlapping_segments() {
    // Overlapping ranges with the same content: any order gives the message once.
    let isn = 77;
    let cuts = [(0, 8), (5, 14), (3, 12), (10, 30), (25, MSG.len())];
    for perm in permutations(cuts.len()) {
        let cfg = StreamConfig::default();
        let mut s = Stream::new();
        let mut segs = vec![(isn, SYN, &b""[..])];
        segs.extend(perm.iter().map(|&i| seg(isn, cuts[i].0, cuts[i].1)));
        let (out, _) = feed(&mut s, &cfg, &segs);
        assert_eq!(out, MSG, "order {perm:?}");
        let st = s.stats();
        // Total received minus message length is exactly what was dropped as duplicate.
        let received: usize = cuts.iter().map(|(a, b)| b - a).sum();
        assert_eq!(
            st.retransmitted_bytes + st.overlap_bytes,
            (received - MSG.len()) as u64,
            "order {perm:?}"
        );
    }
}

#[test]
fn every_split_point_in_both_orders() {
    for k in 0..=MSG.len() {
        for reverse in [false, true] {
            let cfg = StreamConfig::default();
            let mut s = Stream::new();
            let (a, b) = (seg(9, 0, k), seg(9, k, MSG.len()));
            let segs = if reverse {
                [(9, SYN, &b""[..]), b, a]
            } else {
                [(9, SYN, &b""[..]), a, b]
            };
            let (out, _) = feed(&mut s, &cfg, &segs);
            assert_eq!(out, MSG, "split at {k}, reverse {reverse}");
        }
    }
}

#[test]
fn duplicate_segment_is_retransmission() {
    let cfg = StreamConfig::default();
    let mut s = Stream::new();
    let (out, oc) = feed(
        &mut s,
        &cfg,
        &[(0, SYN, b""), seg(0, 0, 9), seg(0, 0, 9), seg(0, 3, 6)],
    );
    assert_eq!(out, &MSG[..9]);
    assert_eq!(oc[2], SegmentOutcome::Retransmission);
    assert_eq!(oc[3], SegmentOutcome::Retransmission);
    assert_eq!(s.stats().retransmitted_bytes, 12);
    // Negative: a duplicate of buffered (not yet delivered) data counts as overlap instead.
    let mut s = Stream::new();
    let (out, oc) = feed(&mut s, &cfg, &[(0, SYN, b""), seg(0, 4, 9), seg(0, 4, 9)]);
    assert!(out.is_empty());
    assert_eq!(
        oc[1..],
        [SegmentOutcome::Buffered, SegmentOutcome::Retransmission]
    );
    assert_eq!(s.stats().overlap_bytes, 5);
    assert_eq!(s.stats().retransmitted_bytes, 0);
}

#[test]
fn partial_overlap_with_delivered_data_keeps_the_first_copy() {
    let cfg = StreamConfig::default();
    let mut s = Stream::new();
    // "abcd" at 0..4, then "XXef" at 2..6: XX overlaps delivered bytes and is dropped.
    let (out, oc) = feed(
        &mut s,
        &cfg,
        &[(99, SYN, b""), (100, 0, b"abcd"), (102, 0, b"XXef")],
    );
    assert_eq!(out, b"abcdef");
    assert_eq!(oc[2], SegmentOutcome::PartialOverlap);
    assert_eq!(s.stats().retransmitted_bytes, 2);
}

#[test]
fn partial_overlap_with_buffered_data_keeps_the_first_copy() {
    let cfg = StreamConfig::default();
    // Front side: buffered "WXYZ" at 4..8, then in-order "abcdQRST" at 0..8.
    let mut s = Stream::new();
    let (out, oc) = feed(
        &mut s,
        &cfg,
        &[(99, SYN, b""), (104, 0, b"WXYZ"), (100, 0, b"abcdQRST")],
    );
    assert_eq!(out, b"abcdWXYZ");
    assert_eq!(
        oc[1..],
        [SegmentOutcome::Buffered, SegmentOutcome::PartialOverlap]
    );
    assert_eq!(s.stats().overlap_bytes, 4);

    // Back side: buffered "efgh" at 4..8, then "XXijkl" at 6..12 adds only 8..12.
    let mut s = Stream::new();
    let (out, oc) = feed(
        &mut s,
        &cfg,
        &[
            (99, SYN, b""),
            (104, 0, b"efgh"),
            (106, 0, b"XXijkl"),
            (100, 0, b"abcd"),
        ],
    );
    assert_eq!(out, b"abcdefghijkl");
    assert_eq!(
        oc[1..],
        [
            SegmentOutcome::Buffered,
            SegmentOutcome::PartialOverlap,
            SegmentOutcome::InOrder
        ]
    );
    assert_eq!(s.stats().overlap_bytes, 2);

    // Spanning: "mn" buffered at 12..14, "efgh" at 4..8, then "XXXXXXXXXXXXop" at 2..16
    // fills 2..4, 8..12 and 14..16 around the buffered bytes.
    let mut s = Stream::new();
    let (out, _) = feed(
        &mut s,
        &cfg,
        &[
            (99, SYN, b""),
            (112, 0, b"mn"),
            (104, 0, b"efgh"),
            (102, 0, b"cdXXXXijklXXop"),
            (100, 0, b"ab"),
        ],
    );
    assert_eq!(out, b"abcdefghijklmnop");
}

#[test]
fn sequence_wraps_around_2_pow_32() {
    let isn = u32::MAX - 9; // data starts at 2^32 - 9 and wraps after 9 bytes
    let cfg = StreamConfig::default();
    let cuts = [(0, 5), (5, 12), (12, 20), (20, MSG.len())];
    for perm in permutations(cuts.len()) {
        let mut s = Stream::new();
        let mut segs = vec![(isn, SYN, &b""[..])];
        segs.extend(perm.iter().map(|&i| seg(isn, cuts[i].0, cuts[i].1)));
        let (out, _) = feed(&mut s, &cfg, &segs);
        assert_eq!(out, MSG, "order {perm:?}");
        assert_eq!(s.next_seq(), Some(isn.wrapping_add(1 + MSG.len() as u32)));
    }
    // A retransmission from before the wrap is still recognised after it.
    let mut s = Stream::new();
    let (_, oc) = feed(
        &mut s,
        &cfg,
        &[(isn, SYN, b""), seg(isn, 0, 20), seg(isn, 2, 6)],
    );
    assert_eq!(oc[2], SegmentOutcome::Retransmission);
}

#[test]
fn syn_with_data_tcp_fast_open() {
    let cfg = StreamConfig::default();
    let mut s = Stream::new();
    let (out, oc) = feed(
        &mut s,
        &cfg,
        &[
            (5000, SYN, b"GET"),
            (5004, 0, b" / HTTP/1.1"),
            (5000, SYN, b"GET"),
        ],
    );
    assert_eq!(out, b"GET / HTTP/1.1");
    assert_eq!(
        oc,
        [
            SegmentOutcome::InOrder,
            SegmentOutcome::InOrder,
            SegmentOutcome::Retransmission
        ]
    );
}

#[test]
fn mid_stream_pickup_starts_at_first_data() {
    let cfg = StreamConfig::default();
    let mut s = Stream::new();
    // A pure ACK does not start the stream (keep-alives carry seq - 1).
    let (_, oc) = feed(&mut s, &cfg, &[(777_000, 0, b"")]);
    assert_eq!(oc, [SegmentOutcome::Empty]);
    assert_eq!(s.next_seq(), None);
    let (out, oc) = feed(
        &mut s,
        &cfg,
        &[
            (777_777, 0, b"abc"),
            (777_780, FIN, b"def"),
            (777_770, 0, b"0123456"),
        ],
    );
    assert_eq!(out, b"abcdef");
    assert_eq!(oc[2], SegmentOutcome::Retransmission);
    assert_eq!(s.next_seq(), Some(777_783));
}

#[test]
fn depth_cuts_delivery() {
    let cfg = StreamConfig {
        depth: 10,
        ..Default::default()
    };
    let mut s = Stream::new();
    let (out, oc) = feed(
        &mut s,
        &cfg,
        &[(0, SYN, b""), seg(0, 0, 6), seg(0, 6, 12), seg(0, 12, 14)],
    );
    assert_eq!(out, &MSG[..10]);
    assert_eq!(
        oc[2..],
        [SegmentOutcome::DepthReached, SegmentOutcome::DepthReached]
    );
    assert_eq!(s.delivered(), 10);
    assert!(s.stats().depth_reached);
    // Not a gap: the parser saw contiguous data, just not all of it.
    assert!(!s.gap());

    // Out-of-order data wholly past the depth is not buffered; data straddling it is cut.
    let mut s = Stream::new();
    let (out, oc) = feed(
        &mut s,
        &cfg,
        &[(0, SYN, b""), seg(0, 12, 14), seg(0, 6, 14)],
    );
    assert!(out.is_empty());
    assert_eq!(
        oc[1..],
        [SegmentOutcome::DepthReached, SegmentOutcome::Buffered]
    );
    assert_eq!(s.buffered_bytes(), 4);
    let (out, _) = feed(&mut s, &cfg, &[seg(0, 0, 6)]);
    assert_eq!(out, &MSG[..10]);
    assert!(s.stats().depth_reached);

    // Exactly the depth: reached, so the parser knows nothing more will come.
    let mut s = Stream::new();
    let (out, oc) = feed(&mut s, &cfg, &[(0, SYN, b""), seg(0, 0, 9), seg(0, 9, 10)]);
    assert_eq!(out, &MSG[..10]);
    assert_eq!(oc[1..], [SegmentOutcome::InOrder, SegmentOutcome::InOrder]);
    assert!(s.stats().depth_reached);
    let (_, oc) = feed(&mut s, &cfg, &[seg(0, 10, 11)]);
    assert_eq!(oc, [SegmentOutcome::DepthReached]);

    // Depth 0: nothing is ever delivered.
    let cfg0 = StreamConfig {
        depth: 0,
        ..Default::default()
    };
    let mut s = Stream::new();
    let (out, oc) = feed(&mut s, &cfg0, &[(0, SYN, b""), seg(0, 0, 3)]);
    assert!(out.is_empty());
    assert_eq!(oc[1], SegmentOutcome::DepthReached);
}

#[test]
fn out_of_order_bounds() {
    let cfg = StreamConfig {
        max_ooo_bytes: 9,
        max_ooo_segments: 2,
        ..Default::default()
    };
    let mut s = Stream::new();
    let (out, oc) = feed(
        &mut s,
        &cfg,
        &[
            (0, SYN, b""),
            seg(0, 10, 16), // 6 bytes in 1 piece
            seg(0, 20, 24), // would be 10 bytes
            seg(0, 20, 22), // 8 bytes in 2 pieces
            seg(0, 30, 31), // 9 bytes but 3 pieces
            seg(0, 24, 26), // would be 10 bytes
        ],
    );
    assert!(out.is_empty());
    assert_eq!(
        oc[1..],
        [
            SegmentOutcome::Buffered,
            SegmentOutcome::Dropped(DropReason::OooBytesLimit),
            SegmentOutcome::Buffered,
            SegmentOutcome::Dropped(DropReason::OooSegmentsLimit),
            SegmentOutcome::Dropped(DropReason::OooBytesLimit),
        ]
    );
    assert_eq!(s.stats().ooo_dropped_segments, 3);
    assert_eq!((s.buffered_bytes(), s.buffered_segments()), (8, 2));
    // The sender retransmits: once the holes fill, everything arrives.
    let (out, _) = feed(&mut s, &cfg, &[seg(0, 0, 10)]);
    assert_eq!(out, &MSG[..16]);
    let (out, _) = feed(&mut s, &cfg, &[seg(0, 16, 30), seg(0, 30, MSG.len())]);
    assert_eq!(out, &MSG[16..]);
    assert_eq!(s.buffered_bytes(), 0);
    assert_eq!(s.stats().overlap_bytes, 2);
    assert!(!s.gap());
}

#[test]
fn hole_is_skipped_at_flush() {
    let cfg = StreamConfig::default();
    let mut s = Stream::new();
    let (out, _) = feed(
        &mut s,
        &cfg,
        &[(0, SYN, b""), seg(0, 0, 4), seg(0, 8, 12), seg(0, 14, 16)],
    );
    assert_eq!(out, &MSG[..4]);
    let (rest, gap) = flush(&mut s);
    assert!(gap);
    assert!(s.gap());
    assert_eq!(rest, [&MSG[8..12], &MSG[14..16]].concat());
    assert_eq!(s.stats().gaps, 2);
    assert_eq!(s.buffered_bytes(), 0);
    // The stream continues after the last flushed byte.
    let (out, oc) = feed(&mut s, &cfg, &[seg(0, 16, 20)]);
    assert_eq!(out, &MSG[16..20]);
    assert_eq!(oc, [SegmentOutcome::InOrder]);
    // Negative: nothing buffered, nothing skipped.
    let (rest, gap) = flush(&mut s);
    assert!(rest.is_empty() && !gap);
    assert_eq!(s.stats().gaps, 2);
}

#[test]
fn zero_length_and_control_segments() {
    let cfg = StreamConfig::default();
    let mut s = Stream::new();
    let (out, oc) = feed(
        &mut s,
        &cfg,
        &[
            (10, SYN, b""),
            (11, 0, b""),
            (11, FIN, b""),
            (11, RST, b""),
            (11, 0, b"x"),
        ],
    );
    assert_eq!(out, b"x");
    assert_eq!(oc[..4], [SegmentOutcome::Empty; 4]);
    assert_eq!(s.stats(), Default::default());
}

#[test]
fn rst_data_is_not_delivered() {
    let cfg = StreamConfig::default();
    let mut s = Stream::new();
    let (out, oc) = feed(
        &mut s,
        &cfg,
        &[(10, SYN, b""), (11, RST, b"diagnostic"), (11, 0, b"real")],
    );
    assert_eq!(out, b"real");
    assert_eq!(oc[1], SegmentOutcome::Dropped(DropReason::Reset));
}

#[test]
fn out_of_window_segments_are_dropped() {
    let cfg = StreamConfig {
        depth: u32::MAX,
        ..Default::default()
    };
    let mut s = Stream::new();
    let far = 1001 + MAX_SEQ_AHEAD + 1;
    let (out, oc) = feed(
        &mut s,
        &cfg,
        &[
            (1000, SYN, b""),
            (far, 0, b"far"),
            (1001u32.wrapping_sub(MAX_SEQ_AHEAD + 1), 0, b"old"),
            (1001 + (1 << 31), 0, b"half"),
        ],
    );
    assert!(out.is_empty());
    assert_eq!(
        oc[1..],
        [SegmentOutcome::Dropped(DropReason::OutOfWindow); 3]
    );
    assert_eq!(s.stats().out_of_window_segments, 3);
    assert_eq!(s.buffered_bytes(), 0);
    // Just inside the window is buffered.
    let (_, oc) = feed(&mut s, &cfg, &[(1001 + MAX_SEQ_AHEAD, 0, b"edge")]);
    assert_eq!(oc, [SegmentOutcome::Buffered]);
}

#[test]
fn new_stream_is_empty() {
    let s = Stream::new();
    assert_eq!(s.delivered(), 0);
    assert_eq!(s.next_seq(), None);
    assert!(!s.gap());
    assert_eq!(
        StreamConfig::default(),
        StreamConfig {
            depth: 1 << 20,
            max_ooo_bytes: 64 << 10,
            max_ooo_segments: 64
        }
    );
}
