//! Evidence pcaps: a second pass over the captures after the hunt, keeping the packets of the
//! flows each validated finding names (5-tuple in either direction, within the flow's time
//! range), one classic pcap per finding.
//!
//! Bounded by [`EvidenceLimits`]: packets per flow per finding, and bytes held over all
//! findings (packets are held until the pass ends, then written; that total is the memory
//! bound). What the bounds turn away is counted in [`EvidenceStats`].

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use tapir_capture::{CaptureError, CaptureFile, ReaderKind};
use tapir_wire::{Decoded, LinkType};

use crate::pcap::PcapWriter;
use crate::report::Report;
use crate::verdict::EvidencePlan;

/// Packets seen this long before a flow's first or after its last packet still belong to it
/// (EVE times are those of packets, but an ICMP error or a late retransmission may trail).
const SLACK_US: u64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvidenceLimits {
    /// Packets kept per flow in one finding's pcap.
    pub max_packets_per_flow: u64,
    /// Bytes of packet data (plus 16 per record) over all evidence files.
    pub max_total_bytes: u64,
}

impl Default for EvidenceLimits {
    fn default() -> Self {
        EvidenceLimits {
            max_packets_per_flow: 1000,
            max_total_bytes: 64 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EvidenceStats {
    pub files: u64,
    pub packets: u64,
    pub bytes: u64,
    /// Packets past `max_packets_per_flow`.
    pub over_flow_limit: u64,
    /// Packets past `max_total_bytes`.
    pub over_byte_limit: u64,
    /// Packets of a link type other than the file's first (a classic pcap has one).
    pub other_link_type: u64,
    /// Problems reading captures (a capture cut short), one line each.
    pub warnings: Vec<String>,
}

type FlowKey = (u8, IpAddr, u16, IpAddr, u16);
type PairKey = (u8, IpAddr, IpAddr);

fn flow_key(proto: u8, a: IpAddr, ap: u16, b: IpAddr, bp: u16) -> FlowKey {
    if (a, ap) <= (b, bp) {
        (proto, a, ap, b, bp)
    } else {
        (proto, b, bp, a, ap)
    }
}

fn pair_key(proto: u8, a: IpAddr, b: IpAddr) -> PairKey {
    if a <= b {
        (proto, a, b)
    } else {
        (proto, b, a)
    }
}

struct Held {
    link: i32,
    ts_us: u64,
    wire_len: u32,
    data: Vec<u8>,
}

/// Reads `captures` again and writes one pcap per plan with packets into `dir`, then records
/// the file names in `report` (the finding's `evidence` and each of its alerts').
///
/// # Errors
/// The directory cannot be created, a capture cannot be opened, or a file cannot be written.
pub fn write_evidence(
    captures: &[PathBuf],
    reader: ReaderKind,
    plans: &[EvidencePlan],
    report: &mut Report,
    dir: &Path,
    limits: EvidenceLimits,
) -> Result<EvidenceStats, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
    report.evidence_dir = Some(dir.display().to_string());
    let mut stats = EvidenceStats::default();
    // (plan, flow) -> its time range; lookups by exact 5-tuple, and by address pair for
    // non-first IP fragments (which carry no ports).
    let mut by_flow: HashMap<FlowKey, Vec<(usize, usize)>> = HashMap::new();
    let mut by_pair: HashMap<PairKey, Vec<(usize, usize)>> = HashMap::new();
    for (pi, p) in plans.iter().enumerate() {
        for (fi, f) in p.flows.iter().enumerate() {
            by_flow
                .entry(flow_key(f.proto, f.a, f.a_port, f.b, f.b_port))
                .or_default()
                .push((pi, fi));
            by_pair
                .entry(pair_key(f.proto, f.a, f.b))
                .or_default()
                .push((pi, fi));
        }
    }
    let mut held: Vec<Vec<Held>> = plans.iter().map(|_| Vec::new()).collect();
    let mut per_flow: HashMap<(usize, usize), u64> = HashMap::new();
    let mut total: u64 = 0;
    if !by_flow.is_empty() {
        for path in captures {
            let mut cap = CaptureFile::open(path, reader).map_err(|e| e.to_string())?;
            loop {
                let lp = match cap.next_packet() {
                    Ok(Some(lp)) => lp,
                    Ok(None) => break,
                    Err(e @ CaptureError::Truncated { .. })
                    | Err(e @ CaptureError::Read { .. }) => {
                        stats.warnings.push(e.to_string());
                        break;
                    }
                    Err(e) => return Err(e.to_string()),
                };
                let Some(link) = LinkType::from_dlt(lp.link) else {
                    continue;
                };
                let pkt = lp.packet;
                let hits: &[(usize, usize)] = match tapir_wire::decode(link, pkt.data) {
                    Ok(Decoded::Packet(p)) => {
                        let (sp, dp) = p.ports();
                        by_flow
                            .get(&flow_key(p.ip_proto, p.src, sp, p.dst, dp))
                            .map_or(&[], Vec::as_slice)
                    }
                    Ok(Decoded::Fragment(f)) => by_pair
                        .get(&pair_key(f.proto, f.src, f.dst))
                        .map_or(&[], Vec::as_slice),
                    _ => &[],
                };
                for &(pi, fi) in hits {
                    let Some(spec) = plans.get(pi).and_then(|p| p.flows.get(fi)) else {
                        continue;
                    };
                    if pkt.ts_us.saturating_add(SLACK_US) < spec.start_us
                        || pkt.ts_us > spec.end_us.saturating_add(SLACK_US)
                    {
                        continue;
                    }
                    let n = per_flow.entry((pi, fi)).or_insert(0);
                    if *n >= limits.max_packets_per_flow {
                        stats.over_flow_limit += 1;
                        continue;
                    }
                    let cost = pkt.data.len() as u64 + 16;
                    if total + cost > limits.max_total_bytes {
                        stats.over_byte_limit += 1;
                        continue;
                    }
                    *n += 1;
                    total += cost;
                    if let Some(h) = held.get_mut(pi) {
                        h.push(Held {
                            link: lp.link,
                            ts_us: pkt.ts_us,
                            wire_len: pkt.wire_len,
                            data: pkt.data.to_vec(),
                        });
                    }
                }
            }
        }
    }
    for (plan, packets) in plans.iter().zip(held) {
        let Some(first) = packets.first() else {
            continue;
        };
        let link = first.link;
        let snap = packets.iter().map(|p| p.data.len()).max().unwrap_or(0);
        let path = dir.join(&plan.file);
        let f =
            File::create(&path).map_err(|e| format!("{}: cannot create: {e}", path.display()))?;
        let io = |e: std::io::Error| format!("{}: {e}", path.display());
        let mut w = PcapWriter::new(
            BufWriter::new(f),
            u32::try_from(link).unwrap_or(0),
            u32::try_from(snap).unwrap_or(u32::MAX),
        )
        .map_err(io)?;
        let mut written = 0u64;
        for p in &packets {
            if p.link != link {
                stats.other_link_type += 1;
                continue;
            }
            w.packet(p.ts_us, p.wire_len, &p.data).map_err(io)?;
            written += 1;
            stats.bytes += p.data.len() as u64;
        }
        w.finish().map_err(io)?;
        stats.files += 1;
        stats.packets += written;
        if let Some(finding) = report
            .hunts
            .get_mut(plan.hunt)
            .and_then(|h| h.findings.get_mut(plan.finding))
        {
            finding.evidence = Some(plan.file.clone());
            finding.evidence_packets = Some(written);
            for a in &mut finding.alerts {
                a.evidence = Some(plan.file.clone());
            }
        }
    }
    if stats.over_flow_limit + stats.over_byte_limit > 0 {
        report.notes.push(format!(
            "evidence pcaps are cut: {} packets over {} per flow, {} over the {}-byte total",
            stats.over_flow_limit,
            limits.max_packets_per_flow,
            stats.over_byte_limit,
            limits.max_total_bytes
        ));
    }
    if stats.other_link_type > 0 {
        report.notes.push(format!(
            "{} evidence packets of a second link type were left out (a classic pcap has one)",
            stats.other_link_type
        ));
    }
    report
        .notes
        .extend(stats.warnings.iter().map(|w| format!("evidence pass: {w}")));
    Ok(stats)
}
