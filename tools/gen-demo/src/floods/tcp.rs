//! TCP segments that re-send the same sequence ranges with different bytes, and connections
//! that fill their receiver's out-of-order buffer ahead of a hole that never fills.
//!
//! **Rewrite connections** (100 x scale): an HTTP/1.1 request of [`REQUEST_LEN`] bytes whose
//! path is digits (the original) is sent in four parts P1..P4 (bytes 0-100, 100-200, 200-300,
//! 300-end), with copies whose path bytes are letters instead:
//!
//! 1. P3 as copy `x`, ahead of the next expected byte;
//! 2. P3 again, [`REWRITES`] times, each copy with another letter;
//! 3. P2, original; 4. P1, original (the stream is now contiguous up to byte 300);
//! 5. P1 again, [`REWRITES`] times, lettered copies (all already delivered);
//! 6. bytes 250-end as copy `y` (half delivered, half new);
//! 7. P4, original (all delivered by now).
//!
//! The server answers 200 and both sides close. Which copy a receiver uses for each byte is its
//! overlap policy; [`TcpFacts::uris`] holds the request path a receiver that keeps the FIRST
//! copy of every byte (Suricata's `first` policy) delivers: P1 and P2 original, P3 `x`, P4 `y`.
//! The same model counts bytes that arrived when already delivered
//! ([`TcpFacts::retransmitted_bytes`]) and bytes that arrived when already held out of order
//! ([`TcpFacts::overlap_bytes`]).
//!
//! **Fill connections** (1 500 x scale), after the rewrite connections, from random clients,
//! never closed: the client's first bytes are never sent, then either
//! * (even connections) [`FILL_SEGMENTS`] full segments of [`FILL_SEGMENT_LEN`] bytes ahead of
//!   the hole, then [`FILL_REWRITES`] lettered copies of the first of them, or
//! * (odd connections) [`FILL_PIECES`] 1-byte segments at every other byte ahead of the hole.
//!
//! Buffered without bound, one even connection would hold 58 400 bytes; the sensor's
//! out-of-order bounds (bytes and pieces) decide how many are kept and how many dropped.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr};

use super::{Conn, FloodConfig, Out, DOWN, UP};

/// Length of every rewrite connection's request.
pub const REQUEST_LEN: usize = 400;
/// Lettered copies sent of P3 (before delivery) and of P1 (after).
pub const REWRITES: u64 = 100;
/// Full segments each even fill connection sends ahead of its hole.
pub const FILL_SEGMENTS: u64 = 40;
pub const FILL_SEGMENT_LEN: u64 = 1_460;
/// Lettered copies of the first buffered segment of an even fill connection.
pub const FILL_REWRITES: u64 = 5;
/// 1-byte segments each odd fill connection sends ahead of its hole.
pub const FILL_PIECES: u64 = 80;

const HOST: &str = "rewrite.tapir-flood.test";
/// Bytes of the path that identify the connection (`/c00042/`); the rest are rewritten.
#[cfg(test)]
const PATH_PREFIX: usize = 8;

/// What [`write`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpFacts {
    pub rewrite_conns: u64,
    /// The request path (`http.url`) of each rewrite connection under "first copy wins".
    pub uris: Vec<String>,
    /// Bytes received when already delivered, all connections (first copy wins).
    pub retransmitted_bytes: u64,
    /// Bytes received when already held out of order (rewrite connections only).
    pub overlap_bytes: u64,
    /// Even fill connections ([`FILL_SEGMENTS`] segments of [`FILL_SEGMENT_LEN`] each).
    pub fill_segment_conns: u64,
    /// Odd fill connections ([`FILL_PIECES`] 1-byte pieces each).
    pub fill_piece_conns: u64,
}

/// "First copy wins", byte by byte: what a receiver with that policy delivers and counts.
struct FirstWins {
    got: Vec<Option<u8>>,
    delivered: usize,
    retransmitted: u64,
    overlap: u64,
}

impl FirstWins {
    fn new(len: usize) -> Self {
        FirstWins {
            got: vec![None; len],
            delivered: 0,
            retransmitted: 0,
            overlap: 0,
        }
    }

    fn arrive(&mut self, start: usize, bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            let p = start + i;
            match self.got.get_mut(p) {
                _ if p < self.delivered => self.retransmitted += 1,
                Some(Some(_)) => self.overlap += 1,
                Some(slot) => *slot = Some(b),
                None => {}
            }
        }
        while matches!(self.got.get(self.delivered), Some(Some(_))) {
            self.delivered += 1;
        }
    }

    fn bytes(&self) -> Vec<u8> {
        self.got.iter().map_while(|b| *b).collect()
    }
}

/// The request of connection `conn`, with every path byte after the prefix replaced by
/// `letter` (the original has digits there).
fn request(conn: u64, letter: Option<u8>) -> Vec<u8> {
    let head = format!("GET /c{:05}/", conn % 100_000);
    let tail = format!(" HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: flood\r\n\r\n");
    let mut r = head.into_bytes();
    let path_end = REQUEST_LEN - tail.len();
    let mut i = 0u8;
    while r.len() < path_end {
        r.push(letter.unwrap_or(b'0' + i % 10));
        i = i.wrapping_add(1);
    }
    r.extend_from_slice(tail.as_bytes());
    r
}

/// A random client in 10.64.0.0/10 with an unprivileged port.
fn client(rng: &mut crate::bench::SplitMix64) -> (IpAddr, u16) {
    let r = rng.next_u64();
    let ip = Ipv4Addr::new(
        10,
        64 | (r as u8 & 0x3f),
        (r >> 8) as u8,
        (r >> 16) as u8 | 1,
    );
    (IpAddr::V4(ip), 1_024 + (r >> 24) as u16 % 60_000)
}

pub(crate) fn write<W: Write>(out: &mut Out<W>, cfg: &FloodConfig) -> io::Result<TcpFacts> {
    let mut rng = super::rng(cfg, 0x7c9);
    let n = u64::from(cfg.scale);
    let server = IpAddr::V4(Ipv4Addr::new(10, 88, 0, 80));
    let mut facts = TcpFacts {
        rewrite_conns: 100 * n,
        ..TcpFacts::default()
    };
    for c in 0..facts.rewrite_conns {
        let isn = [rng.next_u64() as u32, rng.next_u64() as u32];
        let mut conn = Conn::new(client(&mut rng), (server, 80), isn);
        conn.handshake(out)?;
        let original = request(c, None);
        let mut model = FirstWins::new(original.len());
        let base = conn.nxt[UP];
        let mut send = |out: &mut Out<W>, start: usize, end: usize, letter: Option<u8>| {
            let copy = match letter {
                None => original.clone(),
                Some(l) => request(c, Some(l)),
            };
            let bytes = copy.get(start..end).unwrap_or_default();
            model.arrive(start, bytes);
            out.tick(15);
            conn.seg(out, UP, base.wrapping_add(start as u32), 0, bytes)
        };
        let len = original.len();
        let letter = |k: u64| b'a' + (k % 23) as u8;
        send(out, 200, 300, Some(b'x'))?;
        for k in 0..REWRITES {
            send(out, 200, 300, Some(letter(k)))?;
        }
        send(out, 100, 200, None)?;
        send(out, 0, 100, None)?;
        for k in 0..REWRITES {
            send(out, 0, 100, Some(letter(k)))?;
        }
        send(out, 250, len, Some(b'y'))?;
        send(out, 300, len, None)?;
        let delivered = model.bytes();
        let uri = delivered
            .get(4..)
            .and_then(|r| r.split(|&b| b == b' ').next())
            .map(|u| String::from_utf8_lossy(u).into_owned())
            .unwrap_or_default();
        facts.uris.push(uri);
        facts.retransmitted_bytes += model.retransmitted;
        facts.overlap_bytes += model.overlap;
        conn.nxt[UP] = base.wrapping_add(len as u32);
        out.tick(300);
        conn.send(
            out,
            DOWN,
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            1_460,
        )?;
        conn.close(out)?;
        out.tick(500);
    }
    for c in 0..1_500 * n {
        let isn = [rng.next_u64() as u32, rng.next_u64() as u32];
        let mut conn = Conn::new(client(&mut rng), (server, 8_080), isn);
        conn.handshake(out)?;
        let base = conn.nxt[UP];
        if c.is_multiple_of(2) {
            facts.fill_segment_conns += 1;
            let seg = FILL_SEGMENT_LEN as usize;
            let body = crate::tls::filler(c as u8, seg);
            for i in 1..=FILL_SEGMENTS {
                conn.seg(
                    out,
                    UP,
                    base.wrapping_add((i as usize * seg) as u32),
                    0,
                    &body,
                )?;
                out.tick(15);
            }
            for k in 0..FILL_REWRITES {
                let copy = vec![b'a' + k as u8; seg];
                conn.seg(out, UP, base.wrapping_add(seg as u32), 0, &copy)?;
                out.tick(15);
            }
        } else {
            facts.fill_piece_conns += 1;
            for j in 1..=FILL_PIECES {
                conn.seg(out, UP, base.wrapping_add(2 * j as u32), 0, b"p")?;
                out.tick(15);
            }
        }
        out.tick(500);
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_have_the_same_length_and_frame_for_every_letter() {
        let o = request(42, None);
        let x = request(42, Some(b'x'));
        assert_eq!(o.len(), REQUEST_LEN);
        assert_eq!(x.len(), REQUEST_LEN);
        assert!(o.starts_with(b"GET /c00042/0123456789"));
        assert!(x.starts_with(b"GET /c00042/xxxx"));
        let differ: Vec<usize> = (0..o.len()).filter(|&i| o[i] != x[i]).collect();
        assert_eq!(differ.first(), Some(&(4 + PATH_PREFIX)));
        assert!(o.ends_with(b"\r\n\r\n") && x.ends_with(b"\r\n\r\n"));
    }

    #[test]
    fn first_wins_model_keeps_the_first_copy_of_each_byte() {
        let mut m = FirstWins::new(6);
        m.arrive(3, b"XYZ");
        m.arrive(3, b"abc");
        assert_eq!(m.overlap, 3);
        m.arrive(0, b"0123");
        assert_eq!(m.bytes(), b"012XYZ");
        m.arrive(1, b"qq");
        assert_eq!(m.retransmitted, 2);
    }

    #[test]
    fn rewrite_uris_mix_the_copies_as_first_wins_says() {
        let mut out = Out::new(Vec::new(), 0).expect("pcap");
        let facts = write(
            &mut out,
            &FloodConfig::new(super::super::FloodKind::TcpOverlap),
        )
        .expect("write");
        let uri = facts.uris.first().expect("one");
        // Path bytes 0..96 of P1 and P2 are digits, 196..246 of P3 is 'x', then 'y'.
        let path = uri.as_bytes();
        assert!(uri.starts_with("/c00000/0123"));
        assert_eq!(path.get(200 - 4), Some(&b'x'));
        assert_eq!(path.get(299 - 4), Some(&b'x'));
        assert_eq!(path.get(300 - 4), Some(&b'y'));
        assert_eq!(
            path.get(199 - 4),
            Some(&b'7'),
            "byte 199 is the original digit"
        );
        // Per connection: 100 x 100 bytes of P1 copies, 50 + 100 bytes in steps 6 and 7.
        let per_conn = REWRITES * 100 + 50 + (REQUEST_LEN as u64 - 300);
        assert_eq!(facts.retransmitted_bytes, facts.rewrite_conns * per_conn);
        assert_eq!(facts.overlap_bytes, facts.rewrite_conns * REWRITES * 100);
    }
}
