//! IPv4 (RFC 791) and IPv6 (RFC 8200 4.5) fragment reassembly.
//!
//! # Keys
//! A datagram is keyed by (source, destination, identification, VLAN ids, tunnel layers) and,
//! for IPv4, the protocol (RFC 791 3.2). IPv6 leaves the protocol out: RFC 8200 4.5 keys on
//! addresses and identification only and takes the next header of the offset-0 fragment.
//!
//! # Overlap policy: BSD
//! Suricata's default `bsd` policy (from Novak, "Target-Based Fragmentation Reassembly"): where
//! a new fragment overlaps data already held, the held data wins, unless the new fragment
//! begins before the held fragment, in which case the new data wins. Every fragment that
//! overlaps another counts in [`DefragStats::overlaps`] (a classic evasion sign).
//!
//! # Limits
//! - [`DefragConfig::max_bytes`] over all buffers (data, headers, range lists) and
//!   [`DefragConfig::max_datagrams`] in progress: a fragment that would exceed either is
//!   dropped and counted in `dropped_memcap` (the datagrams already held are kept).
//! - [`MAX_FRAGMENTS_PER_DATAGRAM`]; a datagram larger than 65535 bytes of payload, an empty
//!   non-last fragment, a last fragment that disagrees with the known end (the first one
//!   wins), a fragment wholly past the end, or a snaplen-cut fragment is counted in
//!   `bad_fragments` and ignored. Data running past the known end is cut off (`trimmed`), as
//!   tshark does; a non-last fragment whose length is not a multiple of 8 is kept (tshark and
//!   BSD stacks keep it too).
//! - [`DefragConfig::timeout_us`] from the first fragment; stale datagrams are dropped by
//!   [`Defragmenter::expire`] (also run from `push` at most once per second of packet time).

use std::collections::HashMap;
use std::net::IpAddr;

use crate::{Fragment, Tunnels, Vlans};

/// Most fragments held for one datagram (8-byte fragments would need 8192).
pub const MAX_FRAGMENTS_PER_DATAGRAM: usize = 256;
/// Largest reassembled payload: the IPv4 total length / IPv6 payload length is 16 bits.
const MAX_DATAGRAM: usize = 65_535;
/// `push` sweeps for expired datagrams at most this often (packet time).
const EXPIRE_INTERVAL_US: u64 = 1_000_000;
/// Bytes charged per stored fragment range.
const RANGE_COST: usize = std::mem::size_of::<(u32, u32)>();

/// Defragmentation bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefragConfig {
    /// Memory cap over all datagrams in progress. Default 16 MiB.
    pub max_bytes: usize,
    /// Most datagrams in progress. Default 4096.
    pub max_datagrams: usize,
    /// Lifetime of a datagram from its first fragment, µs. Default 60 s (Suricata's).
    pub timeout_us: u64,
}

impl Default for DefragConfig {
    fn default() -> Self {
        DefragConfig {
            max_bytes: 16 * 1024 * 1024,
            max_datagrams: 4096,
            timeout_us: 60_000_000,
        }
    }
}

/// Counters of a [`Defragmenter`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefragStats {
    /// Datagrams completed.
    pub reassembled: u64,
    /// Datagrams dropped incomplete after the timeout.
    pub timeouts: u64,
    /// Fragments dropped because of `max_bytes` or `max_datagrams`.
    pub dropped_memcap: u64,
    /// Fragments that overlapped data already held.
    pub overlaps: u64,
    /// Fragments ignored as invalid (see the module doc).
    pub bad_fragments: u64,
    /// Fragments cut because they ran past the end given by the last fragment.
    pub trimmed: u64,
    /// Datagrams in progress now.
    pub in_progress: u64,
    /// Bytes held now.
    pub bytes_buffered: u64,
}

/// A reassembled IP datagram with the context of its fragments; decode it with
/// [`crate::decode_reassembled`].
#[derive(Debug, Clone)]
pub struct Reassembled {
    /// VLAN ids of the fragments.
    pub vlan: Vlans,
    /// Tunnel layers around the fragments.
    pub tunnels: Tunnels,
    /// The whole datagram: IP header (length fields fixed, fragment fields cleared) and payload.
    pub data: Vec<u8>,
    /// Number of fragments it was built from.
    pub fragments: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: u8,
    vlan: Vlans,
    tunnels: Tunnels,
}

#[derive(Debug, Default)]
struct Datagram {
    first_us: u64,
    /// Header of the offset-0 fragment; empty until it arrives.
    header: Vec<u8>,
    next_header_offset: usize,
    /// Next header / protocol from the offset-0 fragment.
    proto: u8,
    data: Vec<u8>,
    /// Received (start, end) ranges, sorted by start.
    ranges: Vec<(u32, u32)>,
    /// End of the datagram, from the fragment without MF.
    total: Option<u32>,
    charged: usize,
}

impl Datagram {
    fn cost(&self) -> usize {
        self.data.len() + self.header.len() + self.ranges.len() * RANGE_COST
    }

    fn complete(&self) -> bool {
        let Some(total) = self.total else {
            return false;
        };
        if self.header.is_empty() {
            return false;
        }
        let mut covered = 0u32;
        for &(s, e) in &self.ranges {
            if s > covered {
                return false;
            }
            covered = covered.max(e);
        }
        covered >= total
    }
}

/// Reassembles IPv4 and IPv6 fragments within fixed bounds (see the module doc).
#[derive(Debug)]
pub struct Defragmenter {
    cfg: DefragConfig,
    map: HashMap<Key, Datagram>,
    bytes: usize,
    last_expire_us: u64,
    stats: DefragStats,
}

impl Defragmenter {
    /// An empty defragmenter.
    pub fn new(cfg: DefragConfig) -> Self {
        Defragmenter {
            cfg,
            map: HashMap::new(),
            bytes: 0,
            last_expire_us: 0,
            stats: DefragStats::default(),
        }
    }

    /// Counters, with the current `in_progress` and `bytes_buffered`.
    pub fn stats(&self) -> DefragStats {
        DefragStats {
            in_progress: self.map.len() as u64,
            bytes_buffered: self.bytes as u64,
            ..self.stats
        }
    }

    /// Drops datagrams older than the timeout at packet time `now_us`.
    pub fn expire(&mut self, now_us: u64) {
        self.last_expire_us = now_us;
        let timeout = self.cfg.timeout_us;
        let mut dropped = 0u64;
        let mut freed = 0usize;
        self.map.retain(|_, d| {
            let keep = now_us.saturating_sub(d.first_us) <= timeout;
            if !keep {
                dropped += 1;
                freed += d.charged;
            }
            keep
        });
        self.stats.timeouts += dropped;
        self.bytes = self.bytes.saturating_sub(freed);
    }

    /// Adds one fragment seen at packet time `now_us` (µs); returns the datagram when this
    /// fragment completes it.
    pub fn push(&mut self, frag: &Fragment<'_>, now_us: u64) -> Option<Reassembled> {
        if now_us.saturating_sub(self.last_expire_us) >= EXPIRE_INTERVAL_US {
            self.expire(now_us);
        }
        let start = frag.offset as usize;
        let end = start.saturating_add(frag.payload.len());
        // Bytes of the IPv4 header or of the IPv6 extension headers count in the 16-bit length.
        let fixed = match frag.ip_version {
            4 => frag.header.len(),
            _ => frag.header.len().saturating_sub(40),
        };
        // A non-last fragment whose length is not a multiple of 8 breaks RFC 791/8200 but is
        // not ambiguous; tshark and the BSD stacks keep it, so do we (the gap it leaves must be
        // filled by another fragment).
        let bad = frag.truncated
            || (frag.more_fragments && frag.payload.is_empty())
            || end.saturating_add(fixed) > MAX_DATAGRAM
            || (frag.offset == 0 && frag.next_header_offset >= frag.header.len());
        if bad {
            self.stats.bad_fragments += 1;
            return None;
        }
        let start32 = start as u32;
        let mut end32 = end as u32;
        let key = Key {
            src: frag.src,
            dst: frag.dst,
            id: frag.id,
            proto: if frag.ip_version == 4 { frag.proto } else { 0 },
            vlan: frag.vlan,
            tunnels: frag.tunnels,
        };
        let timeout = self.cfg.timeout_us;
        if let Some(d) = self.map.get(&key) {
            if now_us.saturating_sub(d.first_us) > timeout {
                self.bytes = self.bytes.saturating_sub(d.charged);
                self.map.remove(&key);
                self.stats.timeouts += 1;
            }
        }
        if !self.map.contains_key(&key) && self.map.len() >= self.cfg.max_datagrams {
            self.stats.dropped_memcap += 1;
            return None;
        }
        let d = self.map.entry(key).or_insert_with(|| Datagram {
            first_us: now_us,
            ..Datagram::default()
        });
        // Validate against what is known before touching anything. Two different ends is a
        // conflict (first wins); data past a known end is cut off, as tshark does.
        let mut trimmed = false;
        let inconsistent = match d.total {
            Some(t) => {
                if end32 > t {
                    end32 = t;
                    trimmed = true;
                }
                (!frag.more_fragments && end32 != t) || start32 >= t
            }
            None => false,
        };
        if inconsistent || d.ranges.len() >= MAX_FRAGMENTS_PER_DATAGRAM {
            self.stats.bad_fragments += 1;
            if d.ranges.is_empty() {
                self.map.remove(&key);
            }
            return None;
        }
        let end = end32 as usize;
        let payload = frag.payload.get(..end - start).unwrap_or(&[]);
        if trimmed {
            self.stats.trimmed += 1;
        }
        let new_header = start == 0 && d.header.is_empty();
        let growth = end.saturating_sub(d.data.len())
            + if new_header { frag.header.len() } else { 0 }
            + RANGE_COST;
        if self.bytes + growth > self.cfg.max_bytes {
            self.stats.dropped_memcap += 1;
            if d.ranges.is_empty() {
                self.map.remove(&key);
            }
            return None;
        }
        if new_header {
            d.header.extend_from_slice(frag.header);
            d.next_header_offset = frag.next_header_offset;
            d.proto = frag.proto;
        }
        if !frag.more_fragments {
            d.total = Some(end32);
        }
        // BSD policy: held data wins over the part of the new fragment covered by a fragment
        // that starts at or before it. Those parts all begin at `start`, so they form one
        // prefix [start, keep_end); the rest of the new fragment is written.
        let mut overlap = false;
        let mut keep_end = start32;
        for &(s, e) in &d.ranges {
            if s < end32 && e > start32 {
                overlap = true;
                if s <= start32 {
                    keep_end = keep_end.max(e.min(end32));
                }
            }
        }
        if d.data.len() < end {
            d.data.resize(end, 0);
        }
        let from = keep_end as usize;
        if let (Some(dst), Some(src)) = (d.data.get_mut(from..end), payload.get(from - start..)) {
            dst.copy_from_slice(src);
        }
        let pos = d.ranges.partition_point(|r| r.0 <= start32);
        d.ranges.insert(pos, (start32, end32));
        if overlap {
            self.stats.overlaps += 1;
        }
        let cost = d.cost();
        self.bytes = (self.bytes + cost).saturating_sub(d.charged);
        d.charged = cost;
        if !d.complete() {
            return None;
        }
        let d = self.map.remove(&key)?;
        self.bytes = self.bytes.saturating_sub(d.charged);
        self.stats.reassembled += 1;
        build(&d, frag.ip_version, key.vlan, key.tunnels)
    }
}

fn build(d: &Datagram, version: u8, vlan: Vlans, tunnels: Tunnels) -> Option<Reassembled> {
    let total = d.total? as usize;
    let mut out = Vec::with_capacity(d.header.len() + total);
    out.extend_from_slice(&d.header);
    out.extend_from_slice(d.data.get(..total)?);
    if version == 4 {
        let len = u16::try_from(out.len()).ok()?;
        out.get_mut(2..4)?.copy_from_slice(&len.to_be_bytes());
        out.get_mut(6..8)?.copy_from_slice(&[0, 0]);
        // Refresh the header checksum (RFC 1071) so the datagram is well formed for anyone
        // who checks it.
        out.get_mut(10..12)?.copy_from_slice(&[0, 0]);
        let sum = checksum(out.get(..d.header.len())?);
        out.get_mut(10..12)?.copy_from_slice(&sum.to_be_bytes());
    } else {
        let plen = u16::try_from(out.len().checked_sub(40)?).ok()?;
        out.get_mut(4..6)?.copy_from_slice(&plen.to_be_bytes());
        *out.get_mut(d.next_header_offset)? = d.proto;
    }
    Some(Reassembled {
        vlan,
        tunnels,
        data: out,
        fragments: d.ranges.len(),
    })
}

fn checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in h.chunks(2) {
        let hi = u32::from(c.first().copied().unwrap_or(0));
        let lo = u32::from(c.get(1).copied().unwrap_or(0));
        sum += (hi << 8) | lo;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
