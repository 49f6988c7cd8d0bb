//! The metric families and how each scrape fills them from the board, the alert counts and
//! the intel state.
//!
//! Workers keep their own plain counters (see `tapir_engine::board`); a scrape copies the sums
//! in. Counters are raised by the difference to their current value (sources only grow), so
//! they keep Prometheus counter semantics; gauges are reset and set, so a label that went away
//! (a feed dropped by a reload) does not linger.

use prometheus::{
    Gauge, GaugeVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use tapir_engine::board::Board;
use tapir_engine::Stats;

use crate::alerts::AlertCounts;
use crate::intel::IntelView;

/// Labels of per-worker series.
const WORKER: &[&str] = &["worker"];

pub(crate) struct Families {
    pub registry: Registry,
    capture_packets: IntCounterVec,
    capture_bytes: IntCounterVec,
    kernel_packets: IntCounterVec,
    kernel_drops: IntCounterVec,
    decoder_errors: IntCounterVec,
    decoder_non_ip: IntCounter,
    decoder_fragments: IntCounter,
    flows_active: IntGaugeVec,
    flows_created: IntCounter,
    flows_evicted: IntCounterVec,
    tcp_memory: IntGaugeVec,
    tcp_gaps: IntCounter,
    tcp_ooo_dropped: IntCounter,
    tcp_depth_reached: IntCounter,
    defrag_memory: IntGaugeVec,
    defrag_datagrams: IntGaugeVec,
    defrag_reassembled: IntCounter,
    defrag_dropped: IntCounterVec,
    app_events: IntCounterVec,
    app_errors: IntCounterVec,
    alerts: IntCounterVec,
    alerts_by_technique: IntCounterVec,
    pattern_bytes: IntCounter,
    intel_indicators: IntGaugeVec,
    intel_hits: IntCounterVec,
    intel_expired_hits: IntCounter,
    intel_reloads: IntCounter,
    intel_reload_failures: IntCounter,
    intel_load_seconds: Gauge,
    intel_last_load: Gauge,
    queue_batches: IntGaugeVec,
    busy_ratio: GaugeVec,
    workers_alive: IntGauge,
    build_info: IntGaugeVec,
}

fn counter(r: &Registry, name: &str, help: &str) -> prometheus::Result<IntCounter> {
    let c = IntCounter::new(name, help)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

fn counter_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntCounterVec> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(c.clone()))?;
    Ok(c)
}

fn gauge_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> prometheus::Result<IntGaugeVec> {
    let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

fn gauge(r: &Registry, name: &str, help: &str) -> prometheus::Result<Gauge> {
    let g = Gauge::new(name, help)?;
    r.register(Box::new(g.clone()))?;
    Ok(g)
}

/// Raises a counter to `total` (never lowers it).
fn raise(c: &IntCounter, total: u64) {
    let cur = c.get();
    if total > cur {
        c.inc_by(total - cur);
    }
}

impl Families {
    pub fn new() -> prometheus::Result<Families> {
        let r = Registry::new();
        let f = Families {
            capture_packets: counter_vec(
                &r,
                "tapir_capture_packets_total",
                "Packets processed, per worker.",
                WORKER,
            )?,
            capture_bytes: counter_vec(
                &r,
                "tapir_capture_bytes_total",
                "Bytes of the packets processed (wire length), per worker.",
                WORKER,
            )?,
            kernel_packets: counter_vec(
                &r,
                "tapir_capture_kernel_packets_total",
                "Packets the kernel passed to the capture socket, per worker (live capture).",
                WORKER,
            )?,
            kernel_drops: counter_vec(
                &r,
                "tapir_capture_kernel_drops_total",
                "Packets the kernel dropped for want of ring space, per worker (live capture).",
                WORKER,
            )?,
            decoder_errors: counter_vec(
                &r,
                "tapir_decoder_errors_total",
                "Malformed packets, by reason.",
                &["reason"],
            )?,
            decoder_non_ip: counter(
                &r,
                "tapir_decoder_non_ip_packets_total",
                "Packets that carried no IP (ARP, LLDP, ...).",
            )?,
            decoder_fragments: counter(
                &r,
                "tapir_decoder_ip_fragments_total",
                "IP fragments received.",
            )?,
            flows_active: gauge_vec(
                &r,
                "tapir_flows_active",
                "Flows held now, per worker.",
                WORKER,
            )?,
            flows_created: counter(&r, "tapir_flows_created_total", "Flows created.")?,
            flows_evicted: counter_vec(
                &r,
                "tapir_flows_evicted_total",
                "Flows ended, by reason: timeout (idle), forced (flow table full), shutdown.",
                &["reason"],
            )?,
            tcp_memory: gauge_vec(
                &r,
                "tapir_tcp_reassembly_memory_bytes",
                "Out-of-order TCP bytes buffered now, per worker (refreshed every second).",
                WORKER,
            )?,
            tcp_gaps: counter(
                &r,
                "tapir_tcp_reassembly_gaps_total",
                "TCP stream directions that ended with data missing (counted at flow end).",
            )?,
            tcp_ooo_dropped: counter(
                &r,
                "tapir_tcp_reassembly_dropped_segments_total",
                "Out-of-order TCP segments dropped at the buffer bound (counted at flow end).",
            )?,
            tcp_depth_reached: counter(
                &r,
                "tapir_tcp_reassembly_depth_reached_total",
                "TCP stream directions that reached stream.depth (counted at flow end).",
            )?,
            defrag_memory: gauge_vec(
                &r,
                "tapir_defrag_memory_bytes",
                "Bytes of IP fragments buffered now, per worker.",
                WORKER,
            )?,
            defrag_datagrams: gauge_vec(
                &r,
                "tapir_defrag_datagrams",
                "IP datagrams being reassembled now, per worker.",
                WORKER,
            )?,
            defrag_reassembled: counter(
                &r,
                "tapir_defrag_reassembled_total",
                "IP datagrams reassembled from fragments.",
            )?,
            defrag_dropped: counter_vec(
                &r,
                "tapir_defrag_dropped_total",
                "IP fragments or datagrams dropped, by reason: memcap (fragments past the \
                 memory bounds), timeout (datagrams never completed), invalid (fragments).",
                &["reason"],
            )?,
            app_events: counter_vec(
                &r,
                "tapir_app_layer_events_total",
                "App-layer EVE events written, by protocol.",
                &["protocol"],
            )?,
            app_errors: counter_vec(
                &r,
                "tapir_app_layer_errors_total",
                "App-layer parse failures, by protocol.",
                &["protocol"],
            )?,
            alerts: counter_vec(
                &r,
                "tapir_alerts_total",
                "Alerts written, by category.",
                &["category"],
            )?,
            alerts_by_technique: counter_vec(
                &r,
                "tapir_alerts_by_technique_total",
                "Alerts written, by category and MITRE ATT&CK technique id (an alert naming \
                 several techniques counts once for each; \"none\" when it names none).",
                &["category", "technique"],
            )?,
            pattern_bytes: counter(
                &r,
                "tapir_patterns_scanned_bytes_total",
                "Bytes scanned for payload patterns.",
            )?,
            intel_indicators: gauge_vec(
                &r,
                "tapir_intel_indicators",
                "Indicators in the set in use, by feed and type (an indicator listed by \
                 several feeds counts in each).",
                &["feed", "type"],
            )?,
            intel_hits: counter_vec(
                &r,
                "tapir_intel_hits_total",
                "Intel alerts, by feed listing the indicator and indicator type.",
                &["feed", "type"],
            )?,
            intel_expired_hits: counter(
                &r,
                "tapir_intel_expired_hits_total",
                "Indicator matches not alerted because the indicator had expired.",
            )?,
            intel_reloads: counter(
                &r,
                "tapir_intel_reloads_total",
                "Indicator sets rebuilt and swapped in after the first load.",
            )?,
            intel_reload_failures: counter(
                &r,
                "tapir_intel_reload_failures_total",
                "Reloads refused (the set in use stayed).",
            )?,
            intel_load_seconds: gauge(
                &r,
                "tapir_intel_load_duration_seconds",
                "Wall time of the last load or reload attempt.",
            )?,
            intel_last_load: gauge(
                &r,
                "tapir_intel_last_load_timestamp_seconds",
                "Unix time of the last successful load.",
            )?,
            queue_batches: gauge_vec(
                &r,
                "tapir_pipeline_queue_batches",
                "Batches waiting in each worker's queue (bounded by pipeline.queue_batches).",
                WORKER,
            )?,
            busy_ratio: {
                let g = GaugeVec::new(
                    Opts::new(
                        "tapir_worker_busy_ratio",
                        "Share of wall time each worker spent processing packets over the last \
                         quarter second (1 = saturated).",
                    ),
                    WORKER,
                )?;
                r.register(Box::new(g.clone()))?;
                g
            },
            workers_alive: {
                let g = IntGauge::new(
                    "tapir_workers_alive",
                    "Workers running and reporting (/healthz is 200 while this is above 0).",
                )?;
                r.register(Box::new(g.clone()))?;
                g
            },
            build_info: gauge_vec(
                &r,
                "tapir_build_info",
                "Always 1; the version of tapir serving these metrics.",
                &["version"],
            )?,
            registry: r,
        };
        f.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        Ok(f)
    }

    /// Copies the current numbers in.
    pub fn update(&self, board: &Board, alerts: &AlertCounts, intel: &IntelView) {
        let snaps = board.snapshots();
        let mut total = Stats::default();
        for (i, s) in snaps.iter().enumerate() {
            let w = i.to_string();
            let w = [w.as_str()];
            raise(&self.capture_packets.with_label_values(&w), s.stats.packets);
            raise(&self.capture_bytes.with_label_values(&w), s.stats.bytes);
            total.merge(&s.stats);
        }
        // Gauges: reset so that only current workers show.
        for v in [
            &self.flows_active,
            &self.tcp_memory,
            &self.defrag_memory,
            &self.defrag_datagrams,
            &self.queue_batches,
        ] {
            v.reset();
        }
        self.busy_ratio.reset();
        for (i, s) in snaps.iter().enumerate() {
            let w = i.to_string();
            let w = [w.as_str()];
            let g = |v: &IntGaugeVec, n: u64| {
                v.with_label_values(&w)
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            };
            g(&self.flows_active, s.flows_active);
            g(&self.tcp_memory, s.reassembly_bytes);
            g(&self.defrag_memory, s.defrag_bytes);
            g(&self.defrag_datagrams, s.defrag_datagrams);
            g(&self.queue_batches, s.queue_batches);
            self.busy_ratio.with_label_values(&w).set(s.busy_ratio);
        }
        let alive = snaps.iter().filter(|s| s.alive()).count();
        self.workers_alive
            .set(i64::try_from(alive).unwrap_or(i64::MAX));
        for k in board.kernel_stats() {
            let w = k.worker.to_string();
            let w = [w.as_str()];
            raise(&self.kernel_packets.with_label_values(&w), k.packets);
            raise(&self.kernel_drops.with_label_values(&w), k.drops);
        }
        self.update_totals(&total);
        self.update_alerts(alerts);
        self.update_intel(intel);
    }

    fn update_totals(&self, t: &Stats) {
        for (reason, n) in &t.decode_errors {
            raise(&self.decoder_errors.with_label_values(&[*reason]), *n);
        }
        raise(&self.decoder_non_ip, t.non_ip);
        raise(&self.decoder_fragments, t.fragments);
        raise(&self.flows_created, t.flows);
        for (reason, n) in &t.flows_ended {
            raise(&self.flows_evicted.with_label_values(&[*reason]), *n);
        }
        raise(&self.tcp_gaps, t.tcp_gaps);
        raise(&self.tcp_ooo_dropped, t.tcp_ooo_dropped);
        raise(&self.tcp_depth_reached, t.tcp_depth_reached);
        raise(&self.defrag_reassembled, t.defrag_reassembled);
        for (reason, n) in [
            ("memcap", t.defrag_dropped_memcap),
            ("timeout", t.defrag_timeouts),
            ("invalid", t.defrag_bad_fragments),
        ] {
            raise(&self.defrag_dropped.with_label_values(&[reason]), n);
        }
        for (kind, n) in &t.events {
            // Flows and alerts have series of their own.
            if !matches!(*kind, "flow" | "alert") {
                raise(&self.app_events.with_label_values(&[*kind]), *n);
            }
        }
        for (proto, n) in &t.app_errors {
            raise(&self.app_errors.with_label_values(&[*proto]), *n);
        }
        raise(&self.pattern_bytes, t.pattern_bytes_scanned);
        raise(&self.intel_expired_hits, t.intel_expired_hits);
    }

    fn update_alerts(&self, a: &AlertCounts) {
        for (cat, n) in &a.by_category {
            raise(&self.alerts.with_label_values(&[cat.as_str()]), *n);
        }
        for ((cat, tech), n) in &a.by_technique {
            raise(
                &self
                    .alerts_by_technique
                    .with_label_values(&[cat.as_str(), tech.as_str()]),
                *n,
            );
        }
        for ((feed, ty), n) in &a.intel_hits {
            raise(&self.intel_hits.with_label_values(&[feed.as_str(), ty]), *n);
        }
    }

    fn update_intel(&self, v: &IntelView) {
        self.intel_indicators.reset();
        for ((feed, ty), n) in v.per_feed.iter() {
            self.intel_indicators
                .with_label_values(&[feed.as_str(), ty])
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
        raise(&self.intel_reloads, v.reloads);
        raise(&self.intel_reload_failures, v.reload_failures);
        if let Some(d) = v.last_duration {
            self.intel_load_seconds.set(d.as_secs_f64());
        }
        if let Some(t) = v.last_ok_unix {
            self.intel_last_load.set(t);
        }
    }
}
