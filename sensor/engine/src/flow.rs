//! The flow table: bidirectional flows keyed by the normalised 5-tuple and VLAN ids.
//!
//! The client is the side that sent the SYN; without a SYN, the sender of the first packet,
//! except that a first packet with SYN+ACK makes its receiver the client (the SYN was missed).
//! Timeouts run on packet time, so a replay gives the same flows as the live run it recorded.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use tapir_flow::stream::Stream;

use crate::app::AppLayer;
use crate::eve::TunnelInfo;

/// Direction of a packet within its flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    ToServer = 0,
    ToClient = 1,
}

impl Dir {
    pub fn idx(self) -> usize {
        self as usize
    }
    pub fn other(self) -> Dir {
        match self {
            Dir::ToServer => Dir::ToClient,
            Dir::ToClient => Dir::ToServer,
        }
    }
}

/// Normalised key: the lower (address, port) endpoint first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub lo: IpAddr,
    pub hi: IpAddr,
    pub lo_port: u16,
    pub hi_port: u16,
    pub proto: u8,
    /// Outer two VLAN ids (0 = none), so the same 5-tuple on two VLANs is two flows.
    pub vlan: [u16; 2],
}

impl FlowKey {
    /// Builds the key and says whether `src` is the `lo` endpoint.
    pub fn new(
        src: IpAddr,
        sport: u16,
        dst: IpAddr,
        dport: u16,
        proto: u8,
        vlan: &[u16],
    ) -> (FlowKey, bool) {
        let v = [
            vlan.first().copied().unwrap_or(0),
            vlan.get(1).copied().unwrap_or(0),
        ];
        let src_is_lo = (src, sport) <= (dst, dport);
        let key = if src_is_lo {
            FlowKey {
                lo: src,
                hi: dst,
                lo_port: sport,
                hi_port: dport,
                proto,
                vlan: v,
            }
        } else {
            FlowKey {
                lo: dst,
                hi: src,
                lo_port: dport,
                hi_port: sport,
                proto,
                vlan: v,
            }
        };
        (key, src_is_lo)
    }
}

/// TCP state that matters for timeouts and the flow record.
#[derive(Debug, Default, Clone, Copy)]
pub struct TcpFlags {
    /// OR of all TCP flags seen per direction.
    pub seen: [u8; 2],
    pub fin: [bool; 2],
    pub rst: bool,
    /// Payload seen per direction (a server that sent data answered, whatever its flags).
    pub data: [bool; 2],
}

/// One flow.
pub struct Flow {
    pub flow_id: u64,
    /// Community ID v1 digest (SHA-1), rendered when an event is written.
    pub community_id: [u8; 20],
    pub proto: u8,
    pub client: (IpAddr, u16),
    pub server: (IpAddr, u16),
    /// `lo` endpoint of the key is the client.
    pub client_is_lo: bool,
    pub vlan: Vec<u16>,
    pub tunnel: Option<TunnelInfo>,
    pub icmp: Option<(u8, u8)>,
    pub start_us: u64,
    pub last_us: u64,
    /// The engine clock (latest packet time of the input so far) at this flow's last packet.
    /// Idleness is measured on it, not on `last_us`: a capture whose time jumps backwards then
    /// cannot make a flow look busy or idle by accident.
    pub last_now_us: u64,
    pub pkts: [u64; 2],
    pub bytes: [u64; 2],
    pub tcp: TcpFlags,
    /// Per-direction reassembly, allocated for TCP flows only.
    pub streams: Option<Box<[Stream; 2]>>,
    pub app: AppLayer,
    /// Payload pattern stream state per direction, when patterns are loaded (TCP).
    pub pat: Option<Box<[tapir_patterns::StreamState; 2]>>,
    /// Indicator ids already alerted on this flow (one alert per flow per indicator).
    pub alerted: Vec<u32>,
    /// The engine clock when the flow began: long-connection thresholds count from it.
    pub born_now_us: u64,
    /// Engine-clock instant of the next long-connection threshold; `u64::MAX` when none is
    /// left or detection is off, so the packet path pays one comparison.
    pub next_open_us: u64,
    /// Thresholds reported so far.
    pub open_idx: u8,
    /// What observations for the detectors need later (HTTP host, pending DNS queries);
    /// allocated on first use, only when detection is on.
    pub obs: Option<Box<crate::observe::FlowObs>>,
}

impl Flow {
    /// The direction of a packet from `src:sport`.
    pub fn dir_of(&self, src: IpAddr, sport: u16) -> Dir {
        if (src, sport) == self.client {
            Dir::ToServer
        } else {
            Dir::ToClient
        }
    }

    /// Flow id: a hash of the key and start time, stable within a run and independent of which
    /// worker owns the flow; kept under 2^53 so JSON consumers that read numbers as doubles
    /// (jq, JavaScript) keep it exact.
    pub fn make_id(key: &FlowKey, start_us: u64) -> u64 {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        start_us.hash(&mut h);
        h.finish() & ((1u64 << 53) - 1)
    }

    pub fn alerted_on(&self, id: u32) -> bool {
        self.alerted.contains(&id)
    }
}

/// Flows by key, with packet-time expiry and a hard cap.
///
/// Hashed with aHash: several times faster than SipHash on the 44-byte key, and still keyed
/// randomly per process, so traffic cannot be crafted to collide (HashDoS).
#[derive(Default)]
pub struct FlowTable {
    pub map: HashMap<FlowKey, Flow, ahash::RandomState>,
}

impl FlowTable {
    pub fn with_capacity(n: usize) -> Self {
        FlowTable {
            map: HashMap::with_capacity_and_hasher(n, ahash::RandomState::new()),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Removes and returns the flows idle past their timeout at `now_us`, oldest first.
    pub fn take_expired(
        &mut self,
        now_us: u64,
        timeout_of: impl Fn(&Flow) -> u64,
    ) -> Vec<(FlowKey, Flow)> {
        let keys: Vec<FlowKey> = self
            .map
            .iter()
            .filter(|(_, f)| now_us.saturating_sub(f.last_now_us) > timeout_of(f))
            .map(|(k, _)| *k)
            .collect();
        self.remove_sorted(keys)
    }

    /// Removes the least recently seen `n` flows (used when the table is full).
    pub fn take_oldest(&mut self, n: usize) -> Vec<(FlowKey, Flow)> {
        let mut by_age: Vec<(u64, FlowKey)> =
            self.map.iter().map(|(k, f)| (f.last_now_us, *k)).collect();
        let n = n.min(by_age.len());
        if n == 0 {
            return Vec::new();
        }
        by_age.select_nth_unstable_by_key(n - 1, |(t, _)| *t);
        let keys = by_age.into_iter().take(n).map(|(_, k)| k).collect();
        self.remove_sorted(keys)
    }

    /// Removes every flow (end of input).
    pub fn take_all(&mut self) -> Vec<(FlowKey, Flow)> {
        let keys = self.map.keys().copied().collect();
        self.remove_sorted(keys)
    }

    /// Output order must not depend on hash order: sort by last activity, then flow id.
    fn remove_sorted(&mut self, keys: Vec<FlowKey>) -> Vec<(FlowKey, Flow)> {
        let mut out: Vec<(FlowKey, Flow)> = keys
            .into_iter()
            .filter_map(|k| self.map.remove(&k).map(|f| (k, f)))
            .collect();
        out.sort_by_key(|(_, f)| (f.last_us, f.start_us, f.flow_id));
        out
    }
}
