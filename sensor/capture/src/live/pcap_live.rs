//! Live capture through libpcap (the `pcap` crate): the portable alternative to AF_PACKET.
//! One handle per interface, non-blocking, read by one reader thread that feeds the pipeline's
//! dispatcher like a replay.

use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;

use super::{afpacket, bpf, LiveConfig, LiveError, SocketStats};
use crate::RawPacket;

/// Largest frame kept (libpcap's own default snap length).
const SNAPLEN: i32 = 262_144;

/// A libpcap live capture on one interface.
pub struct PcapLive {
    cap: pcap::Capture<pcap::Active>,
    iface: String,
    /// `None` for pseudo-interfaces libpcap knows and the kernel does not (`any`).
    ifindex: Option<u32>,
    link: i32,
    stats: Arc<SocketStats>,
}

impl PcapLive {
    /// Opens `iface` with `cfg`'s promiscuous setting, filter and buffer size (`ring_size`).
    ///
    /// # Errors
    /// libpcap's message (no such device, no permission), or a filter that does not compile.
    pub fn open(iface: &str, cfg: &LiveConfig) -> Result<Self, LiveError> {
        let fail = |e: pcap::Error| LiveError::Pcap {
            iface: iface.to_string(),
            reason: e.to_string(),
        };
        // Not immediate mode: on Linux that makes libpcap fall back to a TPACKET_V2 ring of
        // fixed frames of the snap length, 128 of them in 32 MiB, which bursts overflow (measured:
        // drops at 100 000 packets/s). Without it libpcap uses TPACKET_V3 blocks, handed over when
        // full or after the block timeout, the latency bound.
        let mut cap = pcap::Capture::from_device(iface)
            .map_err(fail)?
            .promisc(cfg.promisc)
            .snaplen(SNAPLEN)
            .buffer_size(i32::try_from(cfg.ring_size).unwrap_or(i32::MAX))
            .timeout(i32::try_from(cfg.block_timeout_ms).unwrap_or(i32::MAX))
            .open()
            .map_err(fail)?;
        if let Some(expr) = &cfg.bpf {
            cap.filter(expr, true).map_err(|e| LiveError::Filter {
                expr: expr.clone(),
                reason: e.to_string(),
            })?;
        }
        let link = cap.get_datalink().0;
        let cap = cap.setnonblock().map_err(fail)?;
        Ok(PcapLive {
            cap,
            iface: iface.to_string(),
            ifindex: afpacket::interface_index(iface).ok(),
            link,
            stats: Arc::new(SocketStats::default()),
        })
    }

    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// The interface was deleted (or replaced by another of the same name): libpcap cannot
    /// follow it, and in non-blocking mode it does not say so itself.
    pub fn interface_gone(&self) -> bool {
        self.ifindex
            .is_some_and(|idx| afpacket::interface_index(&self.iface).map_or(true, |i| i != idx))
    }

    /// The link type libpcap reports for the interface.
    pub fn link_type(&self) -> i32 {
        self.link
    }

    /// The capture's socket, for [`super::wait_readable`].
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.cap.as_fd()
    }

    /// The next packet if one is ready (never blocks).
    ///
    /// # Errors
    /// libpcap's read error (the interface went away, ...).
    pub fn next_packet(&mut self) -> Result<Option<RawPacket<'_>>, LiveError> {
        match self.cap.next_packet() {
            Ok(p) => {
                let sec = u64::try_from(p.header.ts.tv_sec).unwrap_or(0);
                let usec = u64::try_from(p.header.ts.tv_usec).unwrap_or(0);
                Ok(Some(RawPacket {
                    ts_us: sec.saturating_mul(1_000_000).saturating_add(usec),
                    wire_len: p.header.len,
                    data: p.data,
                }))
            }
            Err(pcap::Error::TimeoutExpired | pcap::Error::NoMorePackets) => Ok(None),
            Err(e) => Err(LiveError::Pcap {
                iface: self.iface.clone(),
                reason: e.to_string(),
            }),
        }
    }

    /// This capture's kernel counters, readable from any thread.
    pub fn stats(&self) -> Arc<SocketStats> {
        Arc::clone(&self.stats)
    }

    /// Copies libpcap's counters (totals since the capture opened) into [`Self::stats`].
    pub fn update_stats(&mut self) {
        if let Ok(s) = self.cap.stats() {
            self.stats.set(u64::from(s.received), u64::from(s.dropped));
        }
    }

    /// Stops the kernel from queueing more packets for this capture; what is buffered can still
    /// be read. libpcap on Linux reads an AF_PACKET socket, so the same filter works on it.
    ///
    /// # Errors
    /// The kernel refused the filter.
    pub fn stop_delivery(&self) -> std::io::Result<()> {
        afpacket::attach_filter(self.cap.as_fd(), &bpf::REJECT_ALL)
    }
}
