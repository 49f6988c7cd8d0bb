//! Beaconing: RITA's four sub-scores over the last `ring_size` connections of each
//! (client, server IP) and (client, SNI/Host) pair, plus sloth v2's jitter-tolerant test.
//!
//! Memory: two tables of at most `max_pairs` pairs each; a pair holds at most `ring_size`
//! (start time, bytes) samples and `max_flow_ids` flow ids, and a name key is cut at 253
//! bytes. Rings grow with use, so the many pairs seen once or twice stay small.
//!
//! Scores are computed every `score_every` connections once a pair has `min_connections`
//! (and for every pair with unscored connections at the end), on copies sorted in scratch
//! buffers the detector keeps, so an observation itself only appends to a ring.

use std::net::IpAddr;

use crate::config::BeaconConfig;
use crate::home::HomeNet;
use crate::kinds::{ctx, Kind, BEACON_IP, BEACON_NAME};
use crate::lru::{key_hash, Lru};
use crate::obs::{Finding, FlowSummary};
use crate::rita;
use crate::sketch::{cut, r3, FlowIds};

const MAX_NAME: usize = 253;

pub(crate) struct Beacon {
    by_ip: Lru<(IpAddr, IpAddr), Pair>,
    by_name: Lru<(IpAddr, Box<str>), Pair>,
    scratch: Scratch,
}

#[derive(Default)]
struct Scratch {
    times: Vec<f64>,
    gaps: Vec<f64>,
    bytes: Vec<f64>,
    tmp: Vec<f64>,
}

struct Pair {
    /// Ring of connection start times (µs) and bytes to the server; `next` is the slot the
    /// next connection overwrites once full.
    starts: Vec<u64>,
    bytes: Vec<u32>,
    next: u32,
    total: u64,
    first_us: u64,
    last_us: u64,
    /// Bit i: a connection started in hour (`last_hour` - i).
    hour_mask: u32,
    last_hour: u64,
    since_score: u32,
    /// Consecutive scorings at or above the threshold.
    hits: u8,
    /// Score last reported (None: never).
    reported: Option<f64>,
    server: IpAddr,
    /// Name pairs: the name was reached on more than one server address.
    many_servers: bool,
    server_port: u16,
    proto: u8,
    flow_ids: FlowIds,
}

/// Everything one scoring produced, for the decision and the finding's context.
struct Scores {
    n: usize,
    ts: f64,
    ts_skew: f64,
    ts_mad: f64,
    ds: f64,
    ds_skew: f64,
    ds_mad: f64,
    hist: f64,
    hist_cv: f64,
    hist_fit: f64,
    hist_bins: usize,
    dur: f64,
    coverage: f64,
    consistency: f64,
    hours_seen: u32,
    median_gap: f64,
    median_bytes: f64,
    sloth_fit: f64,
    sloth_pass: bool,
    score: f64,
}

impl Pair {
    fn new(f: &FlowSummary) -> Self {
        Pair {
            starts: Vec::new(),
            bytes: Vec::new(),
            next: 0,
            total: 0,
            first_us: f.start_us,
            last_us: f.start_us,
            hour_mask: 0,
            last_hour: f.start_us / 3_600_000_000,
            since_score: 0,
            hits: 0,
            reported: None,
            server: f.server,
            many_servers: false,
            server_port: f.server_port,
            proto: f.proto,
            flow_ids: FlowIds::default(),
        }
    }

    fn record(&mut self, f: &FlowSummary, ring: usize, max_ids: usize) {
        let b = u32::try_from(f.bytes_toserver).unwrap_or(u32::MAX);
        if self.starts.len() < ring {
            if self.starts.len() == self.starts.capacity() {
                let want = (self.starts.capacity() * 2).max(4).min(ring);
                self.starts.reserve_exact(want - self.starts.len());
                self.bytes.reserve_exact(want - self.bytes.len());
            }
            self.starts.push(f.start_us);
            self.bytes.push(b);
        } else {
            let i = self.next as usize % ring;
            if let (Some(s), Some(by)) = (self.starts.get_mut(i), self.bytes.get_mut(i)) {
                *s = f.start_us;
                *by = b;
            }
            self.next = ((i + 1) % ring) as u32;
        }
        self.total += 1;
        self.since_score += 1;
        self.first_us = self.first_us.min(f.start_us);
        self.last_us = self.last_us.max(f.start_us);
        if f.server != self.server {
            self.many_servers = true;
            self.server = f.server;
        }
        self.server_port = f.server_port;
        self.proto = f.proto;
        self.flow_ids.push(f.flow_id, max_ids);

        let hour = f.start_us / 3_600_000_000;
        if hour >= self.last_hour {
            let shift = hour - self.last_hour;
            self.hour_mask = if shift >= 32 {
                0
            } else {
                self.hour_mask << shift
            };
            self.last_hour = hour;
            self.hour_mask |= 1;
        } else if self.last_hour - hour < 24 {
            self.hour_mask |= 1 << (self.last_hour - hour);
        }
        self.hour_mask &= 0x00ff_ffff;
    }

    fn heap_bytes(&self) -> usize {
        self.starts.capacity() * 8 + self.bytes.capacity() * 4 + self.flow_ids.heap_bytes()
    }
}

impl Beacon {
    pub(crate) fn new(cfg: &BeaconConfig) -> Self {
        Beacon {
            by_ip: Lru::new(cfg.max_pairs),
            by_name: Lru::new(cfg.max_pairs),
            scratch: Scratch::default(),
        }
    }

    pub(crate) fn flow_end(
        &mut self,
        f: &FlowSummary,
        cfg: &BeaconConfig,
        home: &HomeNet,
        t: Times,
        out: &mut Vec<Finding>,
    ) {
        if !cfg.scope.admits(home, f.client, f.server)
            || cfg.ignore_server_ports.contains(&f.server_port)
        {
            return;
        }
        let key = (f.client, f.server);
        let (pair, _) =
            self.by_ip
                .get_or_insert_with(key_hash(&key), |k| *k == key, || (key, Pair::new(f)));
        pair.record(f, cfg.ring_size, t.max_ids);
        if pair.total >= cfg.min_connections as u64 && pair.since_score as usize >= cfg.score_every
        {
            if let Some(found) = judge(
                &mut self.scratch,
                pair,
                cfg,
                t,
                f.client,
                &f.server,
                &BEACON_IP,
            ) {
                out.push(found);
            }
        }

        let Some(name) = f
            .server_name
            .as_deref()
            .filter(|n| cfg.by_server_name && !n.is_empty())
        else {
            return;
        };
        let name = cut(name, MAX_NAME);
        let h = key_hash(&(f.client, name));
        let eq = |k: &(IpAddr, Box<str>)| k.0 == f.client && &*k.1 == name;
        let (pair, _) = self
            .by_name
            .get_or_insert_with(h, eq, || ((f.client, name.into()), Pair::new(f)));
        pair.record(f, cfg.ring_size, t.max_ids);
        if pair.total >= cfg.min_connections as u64 && pair.since_score as usize >= cfg.score_every
        {
            let by_ip = &self.by_ip;
            if let Some(found) = judge_name(&mut self.scratch, by_ip, pair, cfg, t, f.client, name)
            {
                out.push(found);
            }
        }
    }

    /// Drops pairs idle for longer than the duration window (they can no longer cover it).
    pub(crate) fn sweep(&mut self, cfg: &BeaconConfig, now_us: u64) {
        let idle = cfg.duration_window_s.saturating_mul(1_000_000);
        self.by_ip
            .evict_oldest_while(|p| p.last_us.saturating_add(idle) < now_us);
        self.by_name
            .evict_oldest_while(|p| p.last_us.saturating_add(idle) < now_us);
    }

    /// Scores every pair with connections not yet scored.
    pub(crate) fn finish(&mut self, cfg: &BeaconConfig, t: Times, out: &mut Vec<Finding>) {
        let scratch = &mut self.scratch;
        let min = cfg.min_connections as u64;
        self.by_ip.for_each_oldest_first(|k, pair| {
            if pair.total >= min && pair.since_score > 0 {
                if let Some(f) = judge(scratch, pair, cfg, t, k.0, &k.1, &BEACON_IP) {
                    out.push(f);
                }
            }
        });
        let by_ip = &self.by_ip;
        self.by_name.for_each_oldest_first(|k, pair| {
            if pair.total >= min && pair.since_score > 0 {
                if let Some(f) = judge_name(scratch, by_ip, pair, cfg, t, k.0, &k.1) {
                    out.push(f);
                }
            }
        });
    }

    pub(crate) fn len(&self) -> usize {
        self.by_ip.len() + self.by_name.len()
    }

    pub(crate) fn state_bytes(&self) -> usize {
        self.by_ip.table_bytes()
            + self
                .by_ip
                .iter()
                .map(|(_, p)| p.heap_bytes())
                .sum::<usize>()
            + self.by_name.table_bytes()
            + self
                .by_name
                .iter()
                .map(|(k, p)| k.1.len() + p.heap_bytes())
                .sum::<usize>()
    }

    pub(crate) fn bound_bytes(cfg: &BeaconConfig, max_ids: usize) -> usize {
        let pair_heap = cfg.ring_size * 12 + max_ids * 8;
        Lru::<(IpAddr, IpAddr), Pair>::bound_table_bytes(cfg.max_pairs)
            + Lru::<(IpAddr, Box<str>), Pair>::bound_table_bytes(cfg.max_pairs)
            + cfg.max_pairs * (2 * pair_heap + MAX_NAME)
    }
}

/// Packet-time facts every decision needs.
#[derive(Clone, Copy)]
pub(crate) struct Times {
    pub now_us: u64,
    pub first_us: u64,
    pub max_ids: usize,
}

fn judge_name(
    scratch: &mut Scratch,
    by_ip: &Lru<(IpAddr, IpAddr), Pair>,
    pair: &mut Pair,
    cfg: &BeaconConfig,
    t: Times,
    client: IpAddr,
    name: &str,
) -> Option<Finding> {
    let mut found = judge(scratch, pair, cfg, t, client, &name, &BEACON_NAME)?;
    // A name served by one address that already has its own beacon finding adds nothing.
    if !pair.many_servers {
        let key = (client, pair.server);
        if by_ip
            .peek(key_hash(&key), |k| *k == key)
            .is_some_and(|p| p.reported.is_some())
        {
            return None;
        }
    }
    ctx(&mut found, "server_name", name);
    ctx(&mut found, "many_servers", pair.many_servers);
    Some(found)
}

fn judge(
    s: &mut Scratch,
    pair: &mut Pair,
    cfg: &BeaconConfig,
    t: Times,
    client: IpAddr,
    server: &dyn std::fmt::Display,
    kind: &Kind,
) -> Option<Finding> {
    pair.since_score = 0;
    let sc = score(s, pair, cfg, t)?;
    if sc.median_gap < cfg.min_median_gap_s {
        pair.hits = 0;
        return None;
    }
    let threshold = if sc.sloth_pass {
        cfg.sloth_score_threshold
    } else {
        cfg.score_threshold
    };
    if sc.score < threshold {
        pair.hits = 0;
        return None;
    }
    pair.hits = pair.hits.saturating_add(1);
    if u32::from(pair.hits) < cfg.confirmations {
        return None;
    }
    if let Some(prev) = pair.reported {
        if sc.score < prev + cfg.rereport_step.max(1e-9) {
            return None;
        }
    }
    pair.reported = Some(sc.score);

    let severity = if sc.score >= 0.95 {
        1
    } else if sc.score >= 0.85 {
        2
    } else {
        3
    };
    let mut f = kind.finding(
        t.now_us,
        &format!("{client} -> {server}"),
        severity,
        client,
        pair.server,
    );
    f.score = Some(sc.score);
    f.dest_port = Some(pair.server_port);
    f.proto = Some(pair.proto);
    f.flow_ids = pair.flow_ids.to_vec();
    f.flow_id = pair.flow_ids.last();
    ctx(&mut f, "connections", pair.total);
    ctx(&mut f, "samples", sc.n as u64);
    ctx(&mut f, "first_seen_us", pair.first_us);
    ctx(&mut f, "last_seen_us", pair.last_us);
    ctx(
        &mut f,
        "span_s",
        r3((pair.last_us - pair.first_us) as f64 / 1e6),
    );
    ctx(&mut f, "median_gap_s", r3(sc.median_gap));
    ctx(&mut f, "median_bytes", r3(sc.median_bytes));
    ctx(&mut f, "ts_score", r3(sc.ts));
    ctx(&mut f, "ts_skew", r3(sc.ts_skew));
    ctx(&mut f, "ts_mad_s", r3(sc.ts_mad));
    ctx(&mut f, "ds_score", r3(sc.ds));
    ctx(&mut f, "ds_skew", r3(sc.ds_skew));
    ctx(&mut f, "ds_mad_bytes", r3(sc.ds_mad));
    ctx(&mut f, "hist_score", r3(sc.hist));
    ctx(&mut f, "hist_cv_score", r3(sc.hist_cv));
    ctx(&mut f, "hist_bimodal_fit", r3(sc.hist_fit));
    ctx(&mut f, "hist_bins", sc.hist_bins as u64);
    ctx(&mut f, "dur_score", r3(sc.dur));
    ctx(&mut f, "dur_coverage", r3(sc.coverage));
    ctx(&mut f, "dur_consistency", r3(sc.consistency));
    ctx(&mut f, "hours_seen", sc.hours_seen);
    ctx(&mut f, "sloth_fit", r3(sc.sloth_fit));
    ctx(&mut f, "sloth_pass", sc.sloth_pass);
    ctx(&mut f, "threshold", threshold);
    Some(f)
}

fn score(s: &mut Scratch, pair: &Pair, cfg: &BeaconConfig, t: Times) -> Option<Scores> {
    let n = pair.starts.len();
    let base = pair.starts.iter().copied().min()?;
    s.times.clear();
    s.times
        .extend(pair.starts.iter().map(|&v| (v - base) as f64 / 1e6));
    s.times.sort_unstable_by(f64::total_cmp);
    s.gaps.clear();
    s.gaps
        .extend(s.times.windows(2).map(|w| w[1] - w[0]).filter(|g| *g > 0.0));
    // RITA: at least 4 timestamps and 3 non-zero intervals.
    if n < 4 || s.gaps.len() < 3 {
        return None;
    }
    s.gaps.sort_unstable_by(f64::total_cmp);
    let (ts, ts_skew, ts_mad) = rita::dispersion(&s.gaps, &mut s.tmp, 1.0);
    s.bytes.clear();
    s.bytes.extend(pair.bytes.iter().map(|&b| f64::from(b)));
    s.bytes.sort_unstable_by(f64::total_cmp);
    let (ds, ds_skew, ds_mad) = rita::dispersion(&s.bytes, &mut s.tmp, 0.0);
    let (hist, hist_cv, hist_fit, hist_bins) = rita::histogram(&s.times);

    // dur: RITA compares the pair's span with the dataset's; a stream's "dataset" is what
    // has been seen so far, capped at the configured window.
    let observed = t.now_us.saturating_sub(t.first_us);
    let reference = observed
        .max(cfg.duration_min_s.saturating_mul(1_000_000))
        .min(cfg.duration_window_s.saturating_mul(1_000_000));
    let coverage = if reference == 0 {
        0.0
    } else {
        ((pair.last_us - pair.first_us) as f64 / reference as f64).min(1.0)
    };
    let hours_seen = pair.hour_mask.count_ones();
    let consistency = if hours_seen >= 6 {
        (f64::from(rita::longest_run(pair.hour_mask)) / 12.0).min(1.0)
    } else {
        0.0
    };
    let dur = coverage.max(consistency).min(1.0);

    let [w_ts, w_ds, w_hist, w_dur] = cfg.weights;
    let score = r3(w_ts * ts + w_ds * ds + w_hist * hist + w_dur * dur).clamp(0.0, 1.0);
    let (median_gap, sloth_fit) = rita::sloth(&s.gaps, cfg.sloth_tolerance);
    let sloth_pass = n >= cfg.sloth_min_samples
        && median_gap >= cfg.sloth_min_median_gap_s
        && sloth_fit >= cfg.sloth_min_fit;
    Some(Scores {
        n,
        ts,
        ts_skew,
        ts_mad,
        ds,
        ds_skew,
        ds_mad,
        hist,
        hist_cv,
        hist_fit,
        hist_bins,
        dur,
        coverage,
        consistency,
        hours_seen,
        median_gap,
        median_bytes: rita::quantile(&s.bytes, 0.5),
        sloth_fit,
        sloth_pass,
        score,
    })
}
