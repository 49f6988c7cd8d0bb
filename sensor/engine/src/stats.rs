//! Run counters. Bumped as plain integers on the hot path (one engine per thread), summed at the end.

use std::collections::BTreeMap;
use std::fmt;

use tapir_intel::IndicatorType;

/// Most distinct indicators one engine keeps sightings for; more are counted, not kept.
pub const MAX_SIGHTINGS: usize = 65_536;

/// Hits on one indicator: how many flows alerted on it, first and last packet time (s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sighting {
    pub hits: u64,
    pub first: i64,
    pub last: i64,
}

/// What the engine counted.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub packets: u64,
    /// Sum of wire lengths (`frame.len`).
    pub bytes: u64,
    pub non_ip: u64,
    /// Malformed packets by reason (`ipv4_truncated`, ...).
    pub decode_errors: BTreeMap<&'static str, u64>,
    pub fragments: u64,
    pub flows: u64,
    pub flows_forced: u64,
    /// Flows ended, by the reason in their flow record (`timeout`, `forced`, `shutdown`).
    pub flows_ended: BTreeMap<&'static str, u64>,
    pub events: BTreeMap<&'static str, u64>,
    /// Every alert: intel, payload pattern and behaviour.
    pub alerts: u64,
    /// Alerts raised by the behaviour detectors, in total and by detector.
    pub behaviour_alerts: u64,
    pub behaviour_by_detector: BTreeMap<&'static str, u64>,
    /// Observations handed to the detectors out of order because the merge buffer was full
    /// (a worker far behind the others); results may then depend on the worker count.
    pub behaviour_obs_forced: u64,
    /// App-layer parse failures by protocol (`tls`, `dns`, `http`).
    pub app_errors: BTreeMap<&'static str, u64>,
    pub tcp_gaps: u64,
    pub tcp_retransmitted_bytes: u64,
    pub tcp_ooo_dropped: u64,
    /// Received bytes already held in the out-of-order buffer (dropped: the first copy wins).
    pub tcp_overlap_bytes: u64,
    /// Segments dropped as out of window or too long.
    pub tcp_out_of_window: u64,
    pub tcp_depth_reached: u64,
    pub defrag_reassembled: u64,
    pub defrag_timeouts: u64,
    /// Fragments dropped at the defragmentation memory bounds.
    pub defrag_dropped_memcap: u64,
    pub defrag_bad_fragments: u64,
    /// Fragments overlapping data already held (the held data wins; an evasion sign).
    pub defrag_overlaps: u64,
    /// Fragments whose data ran past the datagram's known end and was cut off.
    pub defrag_trimmed: u64,
    pub pattern_bytes_scanned: u64,
    /// Stream directions that reached the pattern stream depth (scanning stopped there).
    pub pattern_streams_past_depth: u64,
    pub pattern_bytes_past_depth: u64,
    pub pattern_scan_errors: u64,
    /// Stream directions open at a pattern reload whose scan on the previous set went on
    /// beside the new one (so a kept pattern's match across the reload point is found).
    pub pattern_streams_carried: u64,
    /// Pattern reloads a worker could not follow (no memory for scratch; it kept the old set).
    pub pattern_reload_errors: u64,
    /// QUIC Initials that could not be used, by reason.
    pub quic_errors: BTreeMap<&'static str, u64>,
    /// Indicator hits dropped because the indicator had expired at packet time.
    pub intel_expired_hits: u64,
    /// Sightings by indicator (type, value): kept by value, not id, so they survive reloads.
    pub sightings: BTreeMap<(IndicatorType, String), Sighting>,
    pub sightings_dropped: u64,
}

impl Stats {
    /// Takes the defragmenter's running totals (they are kept there, not added per packet).
    pub fn set_defrag(&mut self, d: &tapir_wire::defrag::DefragStats) {
        self.defrag_reassembled = d.reassembled;
        self.defrag_timeouts = d.timeouts;
        self.defrag_dropped_memcap = d.dropped_memcap;
        self.defrag_bad_fragments = d.bad_fragments;
        self.defrag_overlaps = d.overlaps;
        self.defrag_trimmed = d.trimmed;
    }

    /// Takes a pattern scanner's running totals (kept there, as for the defragmenter).
    pub fn set_patterns(&mut self, p: &tapir_patterns::ScanStats) {
        self.pattern_bytes_scanned = p.bytes_scanned;
        self.pattern_streams_past_depth = p.streams_past_depth;
        self.pattern_bytes_past_depth = p.bytes_past_depth;
        self.pattern_scan_errors = p.scan_errors;
        self.pattern_streams_carried = p.streams_carried;
    }

    pub fn decode_error(&mut self, reason: &'static str) {
        *self.decode_errors.entry(reason).or_insert(0) += 1;
    }
    /// Adds hits on an indicator (bounded by [`MAX_SIGHTINGS`] distinct indicators).
    pub fn add_sighting(&mut self, ty: IndicatorType, value: &str, s: Sighting) {
        if let Some(e) = self.sightings.get_mut(&(ty, value.to_string())) {
            e.hits += s.hits;
            e.first = e.first.min(s.first);
            e.last = e.last.max(s.last);
        } else if self.sightings.len() < MAX_SIGHTINGS {
            self.sightings.insert((ty, value.to_string()), s);
        } else {
            self.sightings_dropped += s.hits;
        }
    }

    pub fn decode_error_total(&self) -> u64 {
        self.decode_errors.values().sum()
    }
    pub fn event(&mut self, kind: &'static str) {
        *self.events.entry(kind).or_insert(0) += 1;
    }
    pub fn event_total(&self) -> u64 {
        self.events.values().sum()
    }
    pub fn app_error(&mut self, proto: &'static str) {
        *self.app_errors.entry(proto).or_insert(0) += 1;
    }
    /// Adds another engine's counters (used when several workers finish).
    pub fn merge(&mut self, o: &Stats) {
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.non_ip += o.non_ip;
        for (k, v) in &o.decode_errors {
            *self.decode_errors.entry(k).or_insert(0) += v;
        }
        self.fragments += o.fragments;
        self.flows += o.flows;
        self.flows_forced += o.flows_forced;
        for (k, v) in &o.flows_ended {
            *self.flows_ended.entry(k).or_insert(0) += v;
        }
        for (k, v) in &o.events {
            *self.events.entry(k).or_insert(0) += v;
        }
        self.alerts += o.alerts;
        self.behaviour_alerts += o.behaviour_alerts;
        for (k, v) in &o.behaviour_by_detector {
            *self.behaviour_by_detector.entry(k).or_insert(0) += v;
        }
        self.behaviour_obs_forced += o.behaviour_obs_forced;
        for (k, v) in &o.app_errors {
            *self.app_errors.entry(k).or_insert(0) += v;
        }
        self.tcp_gaps += o.tcp_gaps;
        self.tcp_retransmitted_bytes += o.tcp_retransmitted_bytes;
        self.tcp_ooo_dropped += o.tcp_ooo_dropped;
        self.tcp_overlap_bytes += o.tcp_overlap_bytes;
        self.tcp_out_of_window += o.tcp_out_of_window;
        self.tcp_depth_reached += o.tcp_depth_reached;
        self.defrag_reassembled += o.defrag_reassembled;
        self.defrag_timeouts += o.defrag_timeouts;
        self.defrag_dropped_memcap += o.defrag_dropped_memcap;
        self.defrag_bad_fragments += o.defrag_bad_fragments;
        self.defrag_overlaps += o.defrag_overlaps;
        self.defrag_trimmed += o.defrag_trimmed;
        self.pattern_bytes_scanned += o.pattern_bytes_scanned;
        self.pattern_streams_past_depth += o.pattern_streams_past_depth;
        self.pattern_bytes_past_depth += o.pattern_bytes_past_depth;
        self.pattern_scan_errors += o.pattern_scan_errors;
        self.pattern_streams_carried += o.pattern_streams_carried;
        self.pattern_reload_errors += o.pattern_reload_errors;
        self.intel_expired_hits += o.intel_expired_hits;
        for (k, v) in &o.sightings {
            self.add_sighting(k.0, &k.1, *v);
        }
        self.sightings_dropped += o.sightings_dropped;
        for (k, v) in &o.quic_errors {
            *self.quic_errors.entry(k).or_insert(0) += v;
        }
    }

    /// Every counter that is not zero, as `name=value` pairs (decode errors and app-layer
    /// errors by reason), for the end-of-run report.
    pub fn counters(&self) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = vec![
            ("non_ip".into(), self.non_ip),
            ("fragments".into(), self.fragments),
            ("flows_forced".into(), self.flows_forced),
            ("tcp_gaps".into(), self.tcp_gaps),
            (
                "tcp_retransmitted_bytes".into(),
                self.tcp_retransmitted_bytes,
            ),
            ("tcp_ooo_dropped".into(), self.tcp_ooo_dropped),
            ("tcp_overlap_bytes".into(), self.tcp_overlap_bytes),
            ("tcp_out_of_window".into(), self.tcp_out_of_window),
            ("tcp_depth_reached".into(), self.tcp_depth_reached),
            ("defrag_reassembled".into(), self.defrag_reassembled),
            ("defrag_timeouts".into(), self.defrag_timeouts),
            ("defrag_dropped_memcap".into(), self.defrag_dropped_memcap),
            ("defrag_bad_fragments".into(), self.defrag_bad_fragments),
            ("defrag_overlaps".into(), self.defrag_overlaps),
            ("defrag_trimmed".into(), self.defrag_trimmed),
            ("pattern_bytes_scanned".into(), self.pattern_bytes_scanned),
            (
                "pattern_streams_past_depth".into(),
                self.pattern_streams_past_depth,
            ),
            (
                "pattern_bytes_past_depth".into(),
                self.pattern_bytes_past_depth,
            ),
            ("pattern_scan_errors".into(), self.pattern_scan_errors),
            (
                "pattern_streams_carried".into(),
                self.pattern_streams_carried,
            ),
            ("pattern_reload_errors".into(), self.pattern_reload_errors),
            ("intel_expired_hits".into(), self.intel_expired_hits),
            ("sightings_dropped".into(), self.sightings_dropped),
            ("behaviour_alerts".into(), self.behaviour_alerts),
            ("behaviour_obs_forced".into(), self.behaviour_obs_forced),
        ];
        v.extend(
            self.behaviour_by_detector
                .iter()
                .map(|(k, n)| (format!("behaviour.{k}"), *n)),
        );
        v.extend(
            self.decode_errors
                .iter()
                .map(|(k, n)| (format!("decode.{k}"), *n)),
        );
        v.extend(
            self.app_errors
                .iter()
                .map(|(k, n)| (format!("app_error.{k}"), *n)),
        );
        v.extend(
            self.quic_errors
                .iter()
                .map(|(k, n)| (format!("quic_error.{k}"), *n)),
        );
        v.extend(self.events.iter().map(|(k, n)| (format!("events.{k}"), *n)));
        v.retain(|(_, n)| *n > 0);
        v
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "packets={} bytes={} flows={} events={} alerts={} decode_errors={}",
            self.packets,
            self.bytes,
            self.flows,
            self.event_total(),
            self.alerts,
            self.decode_error_total()
        )
    }
}
