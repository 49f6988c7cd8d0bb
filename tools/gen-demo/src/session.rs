//! Scripted traffic on top of the frame builder: a [`Trace`] (pcap writer, clock, reused frame
//! buffer) and a [`TcpConn`] that keeps both sides' sequence numbers right through the
//! RFC 9293 three-way handshake, data, ACKs and FIN close.

use std::io::{self, Write};
use std::net::IpAddr;

use crate::pcap::PcapWriter;
use crate::wire::{self, build_frame, Header, L2, L4};

/// A pcap being written, with its clock.
pub struct Trace<W: Write> {
    pcap: PcapWriter<W>,
    /// Timestamp of the next frame, microseconds since the Unix epoch.
    pub now_us: u64,
    buf: Vec<u8>,
    ip_id: u16,
}

impl<W: Write> Trace<W> {
    pub fn new(out: W, start_us: u64) -> io::Result<Self> {
        Ok(Trace {
            pcap: PcapWriter::new(out)?,
            now_us: start_us,
            buf: Vec::with_capacity(wire::MAX_FRAME),
            ip_id: 0x1c46,
        })
    }

    /// Advances the clock.
    pub fn tick(&mut self, us: u64) {
        self.now_us = self.now_us.saturating_add(us);
    }

    /// Builds and writes one frame at the current time; `ip_id` 0 means "next from the
    /// trace-wide counter".
    pub fn emit(&mut self, hdr: &Header<'_>, payload: &[u8]) -> io::Result<()> {
        let mut hdr = *hdr;
        if hdr.ip_id == 0 {
            self.ip_id = self.ip_id.wrapping_add(1);
            hdr.ip_id = self.ip_id;
        }
        build_frame(&mut self.buf, &hdr, |b| b.extend_from_slice(payload));
        self.pcap.write_packet(self.now_us, &self.buf)
    }

    /// Writes a frame whose payload was `claimed` bytes on the wire but is not captured, as
    /// a host capture with a short snap length (or one with receive offload, whose segments
    /// reach 64 KiB) shows it: the IP length fields count the payload, the capture holds the
    /// headers only, and the record's original length is the whole frame.
    pub fn emit_cut(&mut self, hdr: &Header<'_>, claimed: usize) -> io::Result<()> {
        let mut hdr = *hdr;
        if hdr.ip_id == 0 {
            self.ip_id = self.ip_id.wrapping_add(1);
            hdr.ip_id = self.ip_id;
        }
        build_frame(&mut self.buf, &hdr, |_| {});
        let orig_len = wire::claim_payload(&mut self.buf, &hdr, claimed);
        self.pcap.write_packet_cut(self.now_us, &self.buf, orig_len)
    }

    pub fn packets(&self) -> u64 {
        self.pcap.packets()
    }

    pub fn bytes(&self) -> u64 {
        self.pcap.bytes()
    }

    pub fn finish(self) -> io::Result<W> {
        self.pcap.finish()
    }
}

/// Direction of a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// Client to server.
    Up,
    /// Server to client.
    Down,
}

impl Dir {
    fn idx(self) -> usize {
        match self {
            Dir::Up => 0,
            Dir::Down => 1,
        }
    }
    pub fn other(self) -> Dir {
        match self {
            Dir::Up => Dir::Down,
            Dir::Down => Dir::Up,
        }
    }
}

/// Microseconds between two back-to-back segments from the same side.
const SAME_SIDE_GAP_US: u64 = 12;

/// One TCP connection between a client and a server.
pub struct TcpConn {
    /// Link addresses client -> server.
    pub l2: L2,
    pub ip: [IpAddr; 2],
    pub port: [u16; 2],
    /// Next sequence number each side will send.
    pub nxt: [u32; 2],
    pub ttl: [u8; 2],
    pub mss: usize,
    pub rtt_us: u64,
    last: Option<Dir>,
}

impl TcpConn {
    /// A connection with initial sequence numbers `isn` (client, server).
    pub fn new(
        l2: L2,
        client: (IpAddr, u16),
        server: (IpAddr, u16),
        isn: [u32; 2],
        rtt_us: u64,
    ) -> Self {
        let mss = if server.0.is_ipv6() { 1440 } else { 1460 };
        TcpConn {
            l2,
            ip: [client.0, server.0],
            port: [client.1, server.1],
            nxt: isn,
            // Linux clients start at 64; servers here are "far away".
            ttl: [64, 52],
            mss,
            rtt_us,
            last: None,
        }
    }

    fn pace<W: Write>(&mut self, tr: &mut Trace<W>, dir: Dir) {
        match self.last {
            Some(d) if d == dir => tr.tick(SAME_SIDE_GAP_US),
            Some(_) => tr.tick(self.rtt_us / 2),
            None => {}
        }
        self.last = Some(dir);
    }

    /// Writes one segment with explicit sequence and acknowledgement numbers; no state changes
    /// apart from the clock. Used for retransmissions and reordering.
    #[allow(clippy::too_many_arguments)]
    pub fn raw<W: Write>(
        &mut self,
        tr: &mut Trace<W>,
        dir: Dir,
        seq: u32,
        ack: u32,
        flags: u8,
        options: &[u8],
        payload: &[u8],
    ) -> io::Result<()> {
        self.pace(tr, dir);
        let (s, d) = (dir.idx(), dir.other().idx());
        let l2 = if dir == Dir::Up {
            self.l2
        } else {
            self.l2.reversed()
        };
        let hdr = Header {
            l2,
            src: self.ip[s],
            dst: self.ip[d],
            ttl: self.ttl[s],
            ip_id: 0,
            l4: L4::Tcp {
                sport: self.port[s],
                dport: self.port[d],
                seq,
                ack,
                flags,
                // 64240 in the SYN (unscaled), then 502 << 7 = 64256 bytes.
                window: if flags & wire::SYN != 0 { 64240 } else { 502 },
                options,
            },
        };
        tr.emit(&hdr, payload)
    }

    /// Three-way handshake.
    pub fn handshake<W: Write>(&mut self, tr: &mut Trace<W>) -> io::Result<()> {
        let opts = if self.ip[1].is_ipv6() {
            &wire::SYN_OPTIONS_V6
        } else {
            &wire::SYN_OPTIONS_V4
        };
        let [c, s] = self.nxt;
        self.raw(tr, Dir::Up, c, 0, wire::SYN, opts, &[])?;
        self.raw(
            tr,
            Dir::Down,
            s,
            c.wrapping_add(1),
            wire::SYN | wire::ACK,
            opts,
            &[],
        )?;
        self.nxt = [c.wrapping_add(1), s.wrapping_add(1)];
        self.ack(tr, Dir::Up)
    }

    /// Pure ACK from `dir` for everything the other side has sent.
    pub fn ack<W: Write>(&mut self, tr: &mut Trace<W>, dir: Dir) -> io::Result<()> {
        let (seq, ack) = (self.nxt[dir.idx()], self.nxt[dir.other().idx()]);
        self.raw(tr, dir, seq, ack, wire::ACK, &[], &[])
    }

    /// Sends `data` from `dir`, cut into MSS-sized segments; PSH on the last one. The
    /// receiver acknowledges every second full segment, as delayed ACK does.
    pub fn send<W: Write>(&mut self, tr: &mut Trace<W>, dir: Dir, data: &[u8]) -> io::Result<()> {
        let n = data.chunks(self.mss).count();
        for (i, chunk) in data.chunks(self.mss).enumerate() {
            let last = i + 1 == n;
            let flags = if last {
                wire::ACK | wire::PSH
            } else {
                wire::ACK
            };
            let (seq, ack) = (self.nxt[dir.idx()], self.nxt[dir.other().idx()]);
            self.raw(tr, dir, seq, ack, flags, &[], chunk)?;
            self.advance(dir, chunk.len());
            if !last && i % 2 == 1 {
                self.ack(tr, dir.other())?;
            }
        }
        Ok(())
    }

    /// Sends `data` from `dir` and has the other side acknowledge it.
    pub fn send_acked<W: Write>(
        &mut self,
        tr: &mut Trace<W>,
        dir: Dir,
        data: &[u8],
    ) -> io::Result<()> {
        self.send(tr, dir, data)?;
        self.ack(tr, dir.other())
    }

    /// Moves `dir`'s next sequence number past `len` bytes it has sent via [`TcpConn::raw`].
    pub fn advance(&mut self, dir: Dir, len: usize) {
        let i = dir.idx();
        self.nxt[i] = self.nxt[i].wrapping_add(len as u32);
    }

    /// Client-initiated close: FIN, FIN, ACK.
    pub fn close<W: Write>(&mut self, tr: &mut Trace<W>) -> io::Result<()> {
        for dir in [Dir::Up, Dir::Down] {
            let (seq, ack) = (self.nxt[dir.idx()], self.nxt[dir.other().idx()]);
            self.raw(tr, dir, seq, ack, wire::FIN | wire::ACK, &[], &[])?;
            self.advance(dir, 1);
        }
        self.ack(tr, Dir::Up)
    }
}
