//! One AF_PACKET capture socket of one worker on one interface, and the parser of the packets
//! in a ring block (safe code over the bytes [`super::afpacket`] hands out).

use std::os::fd::BorrowedFd;
use std::sync::Arc;

use super::afpacket::{self, Ring, RingSpec, Step};
use super::{bpf, LiveConfig, LiveError, LivePacket, SocketStats, VlanTag};

/// `PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG`: the kernel spreads packets by a symmetric
/// hash of the flow (both directions on one socket) and reassembles IP fragments before
/// hashing them, so every fragment of a datagram reaches the same worker.
const FANOUT_HASH_DEFRAG: u32 = 0x8000;

/// `ARPHRD_*` values whose frames tapir decodes, with the pcap link type they amount to.
fn link_type_of(hatype: u16) -> Option<i32> {
    match hatype {
        // Ethernet, and loopback (which carries a zeroed Ethernet header).
        1 | 772 => Some(1),
        // No link header (tun devices, some tunnels): raw IP.
        0xfffe => Some(101),
        _ => None,
    }
}

/// An AF_PACKET socket of one worker, on one interface.
pub struct AfPacketSocket {
    ring: Ring,
    iface: String,
    ifindex: u32,
    link: i32,
    stats: Arc<SocketStats>,
}

impl AfPacketSocket {
    /// Opens a socket on `iface` with `cfg`'s ring, filter and promiscuous setting, in fanout
    /// group `group` (every worker's socket on one interface joins the same group).
    ///
    /// # Errors
    /// A missing interface, missing privileges (`CAP_NET_RAW`), a ring the kernel refuses, a
    /// filter that does not compile, or a fanout group in use with other settings; each names
    /// the interface and what to change.
    pub fn open(iface: &str, cfg: &LiveConfig, group: u16) -> Result<Self, LiveError> {
        let ifindex = afpacket::interface_index(iface).map_err(|e| LiveError::Interface {
            iface: iface.to_string(),
            reason: e.to_string(),
        })?;
        let spec = RingSpec {
            block_size: cfg.block_size,
            block_count: cfg.block_count(),
            frame_size: cfg.frame_size,
            block_timeout_ms: cfg.block_timeout_ms,
        };
        let fanout = u32::from(group) | (FANOUT_HASH_DEFRAG << 16);
        // The filter depends on the link type, known only once the socket is bound: open once
        // to learn it (Ethernet nearly always), then again with the filter if it differs.
        let open = |filter: Option<&[afpacket::BpfInsn]>| {
            Ring::open(ifindex, spec, filter, cfg.promisc, Some(fanout)).map_err(|(step, e)| {
                LiveError::Socket {
                    iface: iface.to_string(),
                    step: step_hint(step, group),
                    reason: e.to_string(),
                }
            })
        };
        let expected_link = 1;
        let filter = match &cfg.bpf {
            Some(expr) => Some(bpf::compile(expr, expected_link)?),
            None => None,
        };
        let mut ring = open(filter.as_deref())?;
        let link = link_type_of(ring.hatype()).ok_or_else(|| LiveError::Interface {
            iface: iface.to_string(),
            reason: format!("unsupported link type (ARPHRD {})", ring.hatype()),
        })?;
        if link != expected_link {
            if let Some(expr) = &cfg.bpf {
                let f = bpf::compile(expr, link)?;
                drop(ring);
                ring = open(Some(&f))?;
            }
        }
        Ok(AfPacketSocket {
            ring,
            iface: iface.to_string(),
            ifindex,
            link,
            stats: Arc::new(SocketStats::default()),
        })
    }

    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// The interface was deleted (or replaced by another of the same name). A socket stays
    /// bound to the interface it was opened on: after a link down and up it receives again,
    /// after a deletion never.
    pub fn interface_gone(&self) -> bool {
        afpacket::interface_index(&self.iface).map_or(true, |i| i != self.ifindex)
    }

    /// The pcap link type of the frames (`LINKTYPE_ETHERNET` or `LINKTYPE_RAW`).
    pub fn link_type(&self) -> i32 {
        self.link
    }

    /// The socket, for [`super::wait_readable`].
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.ring.fd()
    }

    /// This socket's kernel counters, readable from any thread.
    pub fn stats(&self) -> Arc<SocketStats> {
        Arc::clone(&self.stats)
    }

    /// Adds the kernel's counters since the last call to [`Self::stats`]. Only the thread that
    /// owns the socket calls it: the kernel resets them on each read.
    pub fn update_stats(&self) {
        if let Ok(c) = self.ring.take_counters() {
            self.stats.add(u64::from(c.packets), u64::from(c.drops));
        }
    }

    /// Stops the kernel from queueing (and counting) more packets for this socket: what is in
    /// the ring can still be read. Used at shutdown, so that the kernel's count and the packets
    /// processed can be compared exactly.
    ///
    /// # Errors
    /// The kernel refused the filter.
    pub fn stop_delivery(&self) -> std::io::Result<()> {
        afpacket::attach_filter(self.ring.fd(), &bpf::REJECT_ALL)
    }

    /// Calls `f` with every packet of the next block the kernel has handed over, then hands the
    /// block back. Returns the number of packets, or `None` if no block is ready.
    pub fn read_block(&mut self, mut f: impl FnMut(&LivePacket<'_>)) -> Option<usize> {
        let block = self.ring.next_block()?;
        let mut n = 0;
        for p in BlockPackets::new(block.bytes(), block.num_pkts()) {
            f(&p);
            n += 1;
        }
        Some(n)
    }
}

fn step_hint(step: Step, group: u16) -> String {
    match step {
        Step::Socket => "cannot open an AF_PACKET socket (needs CAP_NET_RAW)".into(),
        Step::Version => "TPACKET_V3 not supported by this kernel".into(),
        Step::Filter => "the kernel refused the BPF filter (capture.bpf)".into(),
        Step::Ring => "the kernel refused the ring (capture.ring_size, capture.block_size, capture.frame_size)".into(),
        Step::Mmap => "cannot map the ring (capture.ring_size; locked-memory limits)".into(),
        Step::Bind => "cannot bind to the interface".into(),
        Step::Promisc => "cannot enable promiscuous mode (capture.promisc)".into(),
        Step::Fanout => format!(
            "cannot join fanout group {group} (in use by another process with other settings? set capture.fanout_group)"
        ),
    }
}

/// The packets of one TPACKET_V3 block: each a `tpacket3_hdr`, its frame at `tp_mac`, the
/// next at `tp_next_offset`. Whatever the bytes say, it stops at the first header or frame
/// that does not fit, and never loops: offsets only move forward.
pub struct BlockPackets<'a> {
    data: &'a [u8],
    off: usize,
    left: u32,
}

const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;

impl<'a> BlockPackets<'a> {
    pub fn new(data: &'a [u8], num_pkts: u32) -> Self {
        BlockPackets {
            data,
            off: 0,
            left: num_pkts,
        }
    }
}

fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    let s = b.get(o..o.checked_add(4)?)?;
    Some(u32::from_ne_bytes(<[u8; 4]>::try_from(s).ok()?))
}

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    let s = b.get(o..o.checked_add(2)?)?;
    Some(u16::from_ne_bytes(<[u8; 2]>::try_from(s).ok()?))
}

impl<'a> Iterator for BlockPackets<'a> {
    type Item = LivePacket<'a>;

    fn next(&mut self) -> Option<LivePacket<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let p = self.parse();
        if p.is_none() {
            self.left = 0;
        }
        p
    }
}

impl<'a> BlockPackets<'a> {
    fn parse(&mut self) -> Option<LivePacket<'a>> {
        let h = self.data.get(self.off..)?;
        let next = u32_at(h, 0)? as usize;
        let sec = u64::from(u32_at(h, 4)?);
        let nsec = u64::from(u32_at(h, 8)?);
        let snaplen = u32_at(h, 12)? as usize;
        let len = u32_at(h, 16)?;
        let status = u32_at(h, 20)?;
        let mac = usize::from(u16_at(h, 24)?);
        let tci = u32_at(h, 32)?;
        let tpid = u16_at(h, 36)?;
        let data = h.get(mac..mac.checked_add(snaplen)?)?;
        if next == 0 {
            self.left = 0;
        } else {
            self.off = self.off.checked_add(next)?;
        }
        let vlan = (status & TP_STATUS_VLAN_VALID != 0).then_some(VlanTag {
            tpid: if status & TP_STATUS_VLAN_TPID_VALID != 0 && tpid != 0 {
                tpid
            } else {
                0x8100
            },
            // The TCI is 16 bits in a 32-bit field.
            tci: (tci & 0xffff) as u16,
        });
        Some(LivePacket {
            ts_us: sec * 1_000_000 + nsec / 1_000,
            wire_len: len,
            data,
            vlan,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tpacket3_hdr (48 bytes with padding) followed by `frame`, padded to 16 bytes.
    fn pkt(next_last: bool, frame: &[u8], status: u32, tci: u32, sec: u32, nsec: u32) -> Vec<u8> {
        let mac = 48u16;
        let total = (usize::from(mac) + frame.len()).div_ceil(16) * 16;
        let mut v = vec![0u8; total];
        let next = if next_last { 0 } else { total as u32 };
        v[0..4].copy_from_slice(&next.to_ne_bytes());
        v[4..8].copy_from_slice(&sec.to_ne_bytes());
        v[8..12].copy_from_slice(&nsec.to_ne_bytes());
        v[12..16].copy_from_slice(&(frame.len() as u32).to_ne_bytes());
        v[16..20].copy_from_slice(&(frame.len() as u32 + 4).to_ne_bytes());
        v[20..24].copy_from_slice(&status.to_ne_bytes());
        v[24..26].copy_from_slice(&mac.to_ne_bytes());
        v[32..36].copy_from_slice(&tci.to_ne_bytes());
        v[48..48 + frame.len()].copy_from_slice(frame);
        v
    }

    #[test]
    fn packets_of_a_block_with_times_lengths_and_vlan() {
        let mut block = pkt(false, &[1; 60], 1, 0, 1_700_000_000, 123_456_789);
        block.extend(pkt(
            true,
            &[2; 14],
            1 | TP_STATUS_VLAN_VALID,
            42,
            1_700_000_001,
            0,
        ));
        let got: Vec<_> = BlockPackets::new(&block, 2).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].ts_us, 1_700_000_000_123_456);
        assert_eq!(got[0].data, &[1u8; 60][..]);
        assert_eq!(got[0].wire_len, 64);
        assert!(got[0].vlan.is_none());
        assert_eq!(
            got[1].vlan,
            Some(VlanTag {
                tpid: 0x8100,
                tci: 42
            })
        );
        assert_eq!(got[1].data, &[2u8; 14][..]);
    }

    #[test]
    fn lying_headers_end_the_block_without_panicking() {
        // More packets claimed than present, a frame past the end, a zero next offset.
        let block = pkt(false, &[1; 60], 1, 0, 1, 0);
        assert_eq!(BlockPackets::new(&block, 5).count(), 1);
        let mut bad = pkt(true, &[1; 20], 1, 0, 1, 0);
        bad[12..16].copy_from_slice(&10_000u32.to_ne_bytes());
        assert_eq!(BlockPackets::new(&bad, 1).count(), 0);
        assert_eq!(BlockPackets::new(&[0u8; 7], 3).count(), 0);
        let mut looped = pkt(false, &[1; 20], 1, 0, 1, 0);
        looped[0..4].copy_from_slice(&0u32.to_ne_bytes());
        assert_eq!(BlockPackets::new(&looped, 1000).count(), 1);
    }
}
