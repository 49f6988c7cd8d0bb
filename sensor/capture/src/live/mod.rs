//! Live capture from network interfaces.
//!
//! - [`AfPacketSocket`]: AF_PACKET with a TPACKET_V3 ring, one socket per worker and
//!   interface, joined to a `PACKET_FANOUT_HASH` group (with `PACKET_FANOUT_FLAG_DEFRAG`) so the
//!   kernel spreads flows over the workers and each reads its own ring. Linux only.
//! - [`PcapLive`]: libpcap, one handle per interface, the portable alternative.
//!
//! Both take a BPF filter (tcpdump syntax), count what the kernel passed and dropped per socket
//! in a [`SocketStats`] readable from any thread, and can stop the kernel's delivery at shutdown
//! so that everything the kernel counted is read before the end.
//!
//! Memory: each AF_PACKET socket maps `ring_size` bytes (so `workers x interfaces x ring_size`
//! in all); a libpcap handle asks the kernel for a buffer of `ring_size` bytes.

pub mod afpacket;
mod bpf;
mod pcap_live;
mod ring;

use std::sync::atomic::{AtomicU64, Ordering};

pub use afpacket::{wait_readable, BpfInsn};
pub use bpf::compile as compile_filter;
pub use pcap_live::PcapLive;
pub use ring::{AfPacketSocket, BlockPackets};

/// Which live capture to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaptureKind {
    /// AF_PACKET, TPACKET_V3, fanout: one ring per worker, no hop between threads for packets.
    #[default]
    AfPacket,
    /// libpcap: one reader thread for all interfaces, flows spread over workers by tapir.
    Pcap,
}

impl CaptureKind {
    /// `afpacket` or `pcap`.
    ///
    /// # Errors
    /// Any other name, with the accepted ones.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "afpacket" | "af_packet" | "af-packet" => Ok(CaptureKind::AfPacket),
            "pcap" | "libpcap" => Ok(CaptureKind::Pcap),
            other => Err(format!("unknown capture kind {other:?} (afpacket, pcap)")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CaptureKind::AfPacket => "afpacket",
            CaptureKind::Pcap => "pcap",
        }
    }
}

/// Live capture settings (the `[capture]` keys of the configuration file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveConfig {
    pub kind: CaptureKind,
    /// Interfaces to capture on (the `-i` flags replace them).
    pub interfaces: Vec<String>,
    /// BPF filter expression applied in the kernel; `None`: everything.
    pub bpf: Option<String>,
    /// Put the interfaces in promiscuous mode (undone by the kernel when tapir exits).
    pub promisc: bool,
    /// Bytes of ring per socket (AF_PACKET) or of kernel buffer per interface (libpcap).
    pub ring_size: u64,
    /// Bytes per ring block: a power of two, at least the page size; the ring holds
    /// `ring_size / block_size` of them.
    pub block_size: u32,
    /// `tp_frame_size` of the ring request: a multiple of 16 dividing `block_size`.
    pub frame_size: u32,
    /// A block not yet full is handed to tapir after this long: the latency bound at low rates.
    pub block_timeout_ms: u32,
    /// Fanout group id of the first interface (the next interfaces take the next ids); 0: one
    /// derived from the process id, so two instances never share a group by accident.
    pub fanout_group: u16,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            kind: CaptureKind::AfPacket,
            interfaces: Vec::new(),
            bpf: None,
            promisc: true,
            ring_size: 32 << 20,
            block_size: 1 << 20,
            frame_size: 2048,
            block_timeout_ms: 10,
            fanout_group: 0,
        }
    }
}

impl LiveConfig {
    /// Blocks per ring.
    pub fn block_count(&self) -> u32 {
        let n = self.ring_size / u64::from(self.block_size.max(1));
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// The fanout group id of interface number `index` (in the order given).
    pub fn fanout_group_of(&self, index: usize) -> u16 {
        let base = if self.fanout_group == 0 {
            // The low bits of the pid: distinct for processes alive at the same time, unless
            // pids wrap 65 536 apart.
            (std::process::id() & 0xffff) as u16
        } else {
            self.fanout_group
        };
        base.wrapping_add(u16::try_from(index).unwrap_or(0))
    }

    /// Checks the ring geometry; the error is (key, message).
    ///
    /// # Errors
    /// The first key out of range.
    // `is_multiple_of` is newer than the workspace's rust-version (1.80).
    #[allow(clippy::manual_is_multiple_of)]
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let bs = self.block_size;
        if !bs.is_power_of_two() || !(4096..=1 << 30).contains(&bs) {
            return Err((
                "capture.block_size",
                format!("{bs} must be a power of two from 4096 to 1GiB"),
            ));
        }
        let fs = self.frame_size;
        if fs < 128 || fs % 16 != 0 || fs > bs || bs % fs != 0 {
            return Err((
                "capture.frame_size",
                format!("{fs} must be a multiple of 16, at least 128, dividing block_size ({bs})"),
            ));
        }
        let blocks = self.ring_size / u64::from(bs);
        if self.ring_size % u64::from(bs) != 0 || !(2..=65_536).contains(&blocks) {
            return Err((
                "capture.ring_size",
                format!(
                    "{} must be 2 to 65536 times block_size ({bs})",
                    self.ring_size
                ),
            ));
        }
        if self.block_timeout_ms == 0 || self.block_timeout_ms > 10_000 {
            return Err((
                "capture.block_timeout",
                format!("{}ms must be 1ms to 10s", self.block_timeout_ms),
            ));
        }
        Ok(())
    }
}

/// One captured frame as the kernel handed it over.
#[derive(Debug, Clone, Copy)]
pub struct LivePacket<'a> {
    /// Kernel receive time, microseconds since the Unix epoch.
    pub ts_us: u64,
    /// Length on the wire, without a VLAN tag the kernel took out of the frame.
    pub wire_len: u32,
    pub data: &'a [u8],
    /// The outer VLAN tag, which the kernel strips from the frame and reports beside it.
    pub vlan: Option<VlanTag>,
}

/// An 802.1Q / 802.1ad tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlanTag {
    pub tpid: u16,
    pub tci: u16,
}

/// Puts `tag` back after the two MAC addresses of Ethernet frame `data`, into `out`, so the
/// frame reads as it was on the wire (and as it would in a capture file).
pub fn reinsert_vlan(data: &[u8], tag: VlanTag, out: &mut Vec<u8>) {
    out.clear();
    match (data.get(..12), data.get(12..)) {
        (Some(macs), Some(rest)) => {
            out.extend_from_slice(macs);
            out.extend_from_slice(&tag.tpid.to_be_bytes());
            out.extend_from_slice(&tag.tci.to_be_bytes());
            out.extend_from_slice(rest);
        }
        _ => out.extend_from_slice(data),
    }
}

/// Kernel counters of one capture socket, totals since it opened. Written by the thread that
/// owns the socket, read by anyone (metrics, the final summary).
#[derive(Debug, Default)]
pub struct SocketStats {
    packets: AtomicU64,
    drops: AtomicU64,
}

impl SocketStats {
    /// Packets the kernel passed to the socket, dropped ones included (as `PACKET_STATISTICS`
    /// and `pcap_stats` count them).
    pub fn packets(&self) -> u64 {
        self.packets.load(Ordering::Relaxed)
    }

    /// Packets the kernel dropped because the ring or buffer was full.
    pub fn drops(&self) -> u64 {
        self.drops.load(Ordering::Relaxed)
    }

    pub(crate) fn add(&self, packets: u64, drops: u64) {
        self.packets.fetch_add(packets, Ordering::Relaxed);
        self.drops.fetch_add(drops, Ordering::Relaxed);
    }

    pub(crate) fn set(&self, packets: u64, drops: u64) {
        self.packets.store(packets, Ordering::Relaxed);
        self.drops.store(drops, Ordering::Relaxed);
    }
}

/// Live capture errors; each names the interface or the configuration key.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("interface {iface}: {reason}")]
    Interface { iface: String, reason: String },
    #[error("interface {iface}: {step}: {reason}")]
    Socket {
        iface: String,
        step: String,
        reason: String,
    },
    #[error("interface {iface}: libpcap: {reason}")]
    Pcap { iface: String, reason: String },
    #[error("capture.bpf: {expr:?}: {reason}")]
    Filter { expr: String, reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlan_tag_goes_back_after_the_macs() {
        let frame: Vec<u8> = (0u8..20).collect();
        let mut out = Vec::new();
        reinsert_vlan(
            &frame,
            VlanTag {
                tpid: 0x8100,
                tci: 0x0064,
            },
            &mut out,
        );
        assert_eq!(&out[..12], &frame[..12]);
        assert_eq!(&out[12..16], &[0x81, 0x00, 0x00, 0x64]);
        assert_eq!(&out[16..], &frame[12..]);
        reinsert_vlan(&frame[..5], VlanTag { tpid: 1, tci: 2 }, &mut out);
        assert_eq!(out, &frame[..5]);
    }

    #[test]
    fn ring_geometry_is_checked_by_key() {
        assert!(LiveConfig::default().validate().is_ok());
        let bad = |f: fn(&mut LiveConfig)| {
            let mut c = LiveConfig::default();
            f(&mut c);
            c.validate().err().map(|(k, _)| k)
        };
        assert_eq!(bad(|c| c.block_size = 5000), Some("capture.block_size"));
        assert_eq!(bad(|c| c.frame_size = 100), Some("capture.frame_size"));
        assert_eq!(bad(|c| c.ring_size = 1 << 20), Some("capture.ring_size"));
        assert_eq!(
            bad(|c| c.block_timeout_ms = 0),
            Some("capture.block_timeout")
        );
        assert_eq!(LiveConfig::default().block_count(), 32);
    }

    #[test]
    fn kinds_parse_by_name() {
        assert_eq!(CaptureKind::parse("afpacket"), Ok(CaptureKind::AfPacket));
        assert_eq!(CaptureKind::parse("pcap"), Ok(CaptureKind::Pcap));
        assert!(CaptureKind::parse("pfring").is_err());
    }
}
