//! The multi-threaded data plane: one reader, N workers, one writer.
//!
//! ```text
//!  reader ──batches──▶ worker 0 ──EVE lines──▶ writer ──▶ file/stdout
//!    │   ──batches──▶ worker 1 ──EVE lines──▶   ▲
//!    ◀──── empty batches (recycled) ────────┘    │
//! ```
//!
//! - The reader copies each packet into a [`Batch`] of the worker that owns its flow. Workers are
//!   chosen by a symmetric hash of the flow's address pair (both directions, every IP fragment
//!   and ICMP errors quoting the flow land on the same worker), so each worker owns its flows
//!   outright and takes no lock per packet.
//! - Batches are allocated once ([`PipelineConfig::queue_batches`] + 2 per worker) and travel
//!   back to the reader when processed: no allocation per packet, and a slow worker makes the
//!   reader wait (backpressure) rather than growing a queue.
//! - Workers hand whole EVE lines to the writer, buffer by buffer, so output lines never mix.
//!
//! Memory of the pipeline itself: `workers x (queue_batches + 2) x batch_bytes` (defaults:
//! N x 18 x 1 MiB) plus each engine's bounds ([`crate::EngineConfig`]).

use std::io::Write;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crossbeam_channel::{bounded, Receiver, Sender};
use tapir_capture::LinkPacket;
use tapir_wire::{Decoded, LinkType, L4};

/// Pipeline shape and bounds.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Worker threads (at least 1).
    pub workers: usize,
    /// Packets per batch (default 256).
    pub batch_packets: usize,
    /// Bytes of packet data per batch (default 1 MiB; a bigger packet gets a batch of its own).
    pub batch_bytes: usize,
    /// Batches queued per worker before the reader waits (default 16).
    pub queue_batches: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            batch_packets: 256,
            batch_bytes: 1 << 20,
            queue_batches: 16,
        }
    }
}

/// Where one packet sits in its batch.
#[derive(Debug, Clone, Copy)]
pub struct BatchPkt {
    pub ts_us: u64,
    /// The reader's clock when it read this packet: the latest packet time so far.
    pub now_us: u64,
    pub pcap_cnt: u64,
    pub wire_len: u32,
    pub link: i32,
    start: u32,
    len: u32,
}

/// Packets for one worker, stored back to back in one buffer.
pub struct Batch {
    data: Vec<u8>,
    pkts: Vec<BatchPkt>,
}

impl Batch {
    pub(crate) fn new(cfg: &PipelineConfig) -> Self {
        Batch {
            data: Vec::with_capacity(cfg.batch_bytes),
            pkts: Vec::with_capacity(cfg.batch_packets),
        }
    }

    pub(crate) fn has_room(&self, cfg: &PipelineConfig, len: usize) -> bool {
        self.pkts.len() < cfg.batch_packets
            && (self.pkts.is_empty() || self.data.len() + len <= cfg.batch_bytes)
    }

    pub(crate) fn push(&mut self, p: &LinkPacket<'_>, pcap_cnt: u64, now_us: u64) {
        let start = self.data.len();
        self.data.extend_from_slice(p.packet.data);
        self.pkts.push(BatchPkt {
            ts_us: p.packet.ts_us,
            now_us,
            pcap_cnt,
            wire_len: p.packet.wire_len,
            link: p.link,
            start: u32::try_from(start).unwrap_or(u32::MAX),
            len: u32::try_from(p.packet.data.len()).unwrap_or(0),
        });
    }

    pub(crate) fn clear(&mut self) {
        self.data.clear();
        self.pkts.clear();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pkts.is_empty()
    }

    /// The packets, with their bytes.
    pub fn iter(&self) -> impl Iterator<Item = (&BatchPkt, &[u8])> {
        self.pkts.iter().map(|p| {
            let s = p.start as usize;
            (p, self.data.get(s..s + p.len as usize).unwrap_or(&[]))
        })
    }
}

/// What the reader sends a worker.
pub enum Msg {
    Batch(Batch),
    /// The reader's clock moved on while this worker had no packets buffered: it advances
    /// its own clock (idle flows end) and reports how far its observations are done.
    Tick {
        now_us: u64,
    },
    /// End of input; the time of the last packet of the whole input.
    Finish {
        end_us: u64,
    },
}

/// Symmetric hash of an address pair, used to pick a worker.
fn pair_hash(a: std::net::IpAddr, b: std::net::IpAddr) -> u64 {
    fn fold(ip: std::net::IpAddr) -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        let bytes: [u8; 16] = match ip {
            std::net::IpAddr::V4(v) => v.to_ipv6_mapped().octets(),
            std::net::IpAddr::V6(v) => v.octets(),
        };
        for b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        h
    }
    // Addition is symmetric; splitmix64's finaliser spreads the sum.
    let mut z = fold(a).wrapping_add(fold(b));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The worker that owns this packet's flow.
pub fn worker_of(dlt: i32, data: &[u8], workers: usize) -> usize {
    if workers <= 1 {
        return 0;
    }
    let Some(link) = LinkType::from_dlt(dlt) else {
        return 0;
    };
    let h = match tapir_wire::decode(link, data) {
        Ok(Decoded::Packet(p)) => match &p.l4 {
            L4::Icmp {
                quoted: Some(q), ..
            } => pair_hash(q.src, q.dst),
            _ => pair_hash(p.src, p.dst),
        },
        Ok(Decoded::Fragment(f)) => pair_hash(f.src, f.dst),
        // Not IP or undecodable: only counted, any worker will do.
        _ => return 0,
    };
    (h % workers as u64) as usize
}

/// The reader side: fills per-worker batches and sends them when full.
pub struct Dispatcher {
    cfg: PipelineConfig,
    to_worker: Vec<Sender<Msg>>,
    free: Vec<Receiver<Batch>>,
    current: Vec<Option<Batch>>,
    last_ts: u64,
    /// Reader time of the next round of ticks (see [`TICK_US`]).
    next_tick_us: u64,
}

/// Packet time between two rounds in which the reader flushes partly filled batches and
/// ticks workers that have nothing buffered. Without it a worker that gets few packets holds
/// them (and its clock) back, and the detectors' merge of every worker's observations, which
/// waits for the slowest worker, holds everything back with it.
pub const TICK_US: u64 = 1_000_000;

/// What a worker hands the writer: whole EVE lines and the observations for the detectors,
/// with how far those are complete (recycled through a pool, both buffers kept).
#[derive(Default)]
pub struct Output {
    pub worker: usize,
    pub eve: Vec<u8>,
    pub obs: Vec<crate::observe::Keyed>,
    /// The worker will send no observation with a key below this
    /// ([`crate::Engine::observed_until`]); `u64::MAX` once it has finished.
    pub done_us: u64,
}

/// The worker and writer ends a [`Dispatcher`] is connected to.
pub struct WorkerEnds {
    /// This worker's index (names its observations' source for the merge).
    pub worker: usize,
    pub rx: Receiver<Msg>,
    pub recycle: Sender<Batch>,
    /// Publishes this worker's live numbers (metrics, progress, watchdog) when set.
    pub meter: Option<crate::board::WorkerMeter>,
}

impl Dispatcher {
    /// Builds the reader side and the worker ends (one per worker).
    pub fn new(cfg: PipelineConfig) -> (Dispatcher, Vec<WorkerEnds>) {
        let workers = cfg.workers.max(1);
        let mut to_worker = Vec::with_capacity(workers);
        let mut free = Vec::with_capacity(workers);
        let mut ends = Vec::with_capacity(workers);
        for worker in 0..workers {
            let (tx, rx) = bounded(cfg.queue_batches.max(1));
            let pool = cfg.queue_batches.max(1) + 2;
            let (recycle_tx, recycle_rx) = bounded(pool);
            for _ in 0..pool - 1 {
                // The pool is created full, so this cannot block.
                let _ = recycle_tx.send(Batch::new(&cfg));
            }
            to_worker.push(tx);
            free.push(recycle_rx);
            ends.push(WorkerEnds {
                worker,
                rx,
                recycle: recycle_tx,
                meter: None,
            });
        }
        let current = (0..workers).map(|_| Some(Batch::new(&cfg))).collect();
        (
            Dispatcher {
                cfg,
                to_worker,
                free,
                current,
                last_ts: 0,
                next_tick_us: 0,
            },
            ends,
        )
    }

    /// Queues one packet for the worker owning its flow. Blocks while that worker is behind.
    pub fn push(&mut self, p: &LinkPacket<'_>, pcap_cnt: u64) {
        let w = worker_of(p.link, p.packet.data, self.to_worker.len());
        self.last_ts = self.last_ts.max(p.packet.ts_us);
        if self.last_ts >= self.next_tick_us {
            self.tick();
        }
        let needs_flush = self.current[w]
            .as_ref()
            .is_some_and(|b| !b.has_room(&self.cfg, p.packet.data.len()));
        if needs_flush {
            self.flush(w);
        }
        if self.current[w].is_none() {
            // Waits for the worker to give a batch back: this is the backpressure.
            self.current[w] = self.free[w].recv().ok().map(|mut b| {
                b.clear();
                b
            });
        }
        if let Some(b) = self.current[w].as_mut() {
            b.push(p, pcap_cnt, self.last_ts);
        }
    }

    /// Every worker either gets its partly filled batch now or, with nothing buffered, the
    /// reader's clock (the packet being pushed is not in any batch yet, so no worker sees a
    /// clock ahead of a packet it has still to process).
    fn tick(&mut self) {
        // The first packet only sets the schedule.
        if self.next_tick_us != 0 {
            for w in 0..self.to_worker.len() {
                if self.current[w].as_ref().is_some_and(|b| !b.pkts.is_empty()) {
                    self.flush(w);
                } else {
                    // A full queue means the worker has work and its clock moves anyway.
                    let _ = self.to_worker[w].try_send(Msg::Tick {
                        now_us: self.last_ts,
                    });
                }
            }
        }
        self.next_tick_us = self.last_ts.saturating_add(TICK_US);
    }

    fn flush(&mut self, w: usize) {
        if let Some(b) = self.current[w].take() {
            if b.pkts.is_empty() {
                self.current[w] = Some(b);
                return;
            }
            // A worker that died has dropped its receiver; its packets are lost, and the
            // join reports the panic.
            let _ = self.to_worker[w].send(Msg::Batch(b));
        }
    }

    /// Live capture on a quiet link: the wall clock (`now_us`) moves the reader's clock on,
    /// and the tick round runs when due, so partly filled batches go out and idle flows end.
    pub fn idle(&mut self, now_us: u64) {
        self.last_ts = self.last_ts.max(now_us);
        if self.last_ts >= self.next_tick_us {
            self.tick();
        }
    }

    /// Sends what is buffered and tells every worker the input ended.
    pub fn finish(mut self) {
        for w in 0..self.to_worker.len() {
            self.flush(w);
            let _ = self.to_worker[w].send(Msg::Finish {
                end_us: self.last_ts,
            });
        }
    }
}

/// What a worker follows between batches (hot reload): whoever holds these stores a new set,
/// and workers switch to it before their next batch, never inside one; the reloader never
/// waits for them.
#[derive(Clone, Default)]
pub struct Follow {
    pub intel: Option<Arc<ArcSwap<tapir_intel::IntelDb>>>,
    pub patterns: Option<Arc<ArcSwap<tapir_patterns::PatternSet>>>,
    /// Bytes of each TCP direction scanned, for a worker that had no patterns before.
    pub pattern_depth: u64,
}

impl Follow {
    fn apply(
        &self,
        engine: &mut crate::Engine,
        seen: &mut Option<Arc<tapir_patterns::PatternSet>>,
    ) {
        if let Some(swap) = &self.intel {
            let cur = swap.load();
            if !Arc::ptr_eq(&cur, engine.intel()) {
                engine.set_intel(Arc::clone(&cur));
            }
        }
        if let Some(swap) = &self.patterns {
            let cur = swap.load();
            if seen.as_ref().is_some_and(|s| Arc::ptr_eq(s, &cur)) {
                return;
            }
            *seen = Some(Arc::clone(&cur));
            if engine.patterns().is_some_and(|p| p.same_as(&cur)) {
                return;
            }
            // Tried once per stored set: a failure (no memory for scratch) keeps the old one.
            if engine.switch_patterns(&cur, self.pattern_depth).is_err() {
                engine.sink.stats.pattern_reload_errors += 1;
            }
        }
    }
}

/// Runs a worker: processes batches through `engine` and hands output to the writer.
pub fn run_worker(
    mut engine: crate::Engine,
    ends: WorkerEnds,
    out: Sender<Output>,
    pool: Receiver<Output>,
    follow: Follow,
) -> crate::Stats {
    let mut patterns_seen = None;
    let worker = ends.worker;
    let mut shipped_until = 0u64;
    // Ships lines and observations; with neither, still ships when the observation mark
    // moved, so the writer's merge does not wait on a worker with nothing to say.
    let mut ship = |engine: &mut crate::Engine, done: Option<u64>| {
        let done_us = done.unwrap_or_else(|| engine.observed_until());
        if engine.pending_output() > 0
            || engine.pending_observations() > 0
            || done_us > shipped_until
        {
            let mut o = pool.try_recv().unwrap_or_default();
            o.eve = engine.take_output(std::mem::take(&mut o.eve));
            o.obs = engine.take_observations(std::mem::take(&mut o.obs));
            o.worker = worker;
            o.done_us = done_us;
            shipped_until = done_us;
            let _ = out.send(o);
        }
    };
    let mut meter = ends.meter;
    while let Some(msg) = crate::board::recv(&ends.rx, meter.as_mut(), &mut engine) {
        match msg {
            Msg::Batch(b) => {
                let started = std::time::Instant::now();
                follow.apply(&mut engine, &mut patterns_seen);
                for (p, data) in b.iter() {
                    let raw = tapir_capture::RawPacket {
                        ts_us: p.ts_us,
                        wire_len: p.wire_len,
                        data,
                    };
                    engine.set_now(p.now_us);
                    engine.process_dlt(p.link, &raw, p.pcap_cnt);
                }
                let _ = ends.recycle.send(b);
                ship(&mut engine, None);
                if let Some(m) = meter.as_mut() {
                    m.batch_done(started, &mut engine, ends.rx.len());
                }
            }
            Msg::Tick { now_us } => {
                let started = std::time::Instant::now();
                engine.advance(now_us);
                ship(&mut engine, None);
                if let Some(m) = meter.as_mut() {
                    m.batch_done(started, &mut engine, ends.rx.len());
                }
            }
            Msg::Finish { end_us } => {
                engine.finish(end_us);
                ship(&mut engine, Some(u64::MAX));
                if let Some(m) = meter.take() {
                    m.finish(&mut engine);
                }
                break;
            }
        }
    }
    engine.stats().clone()
}

/// Runs the writer: writes buffers as they come and, with `detect`, feeds the observations
/// to the detectors and writes their alerts; keeps draining after a write error so that
/// workers never block on a dead output, and returns the first error.
pub fn run_writer(
    rx: Receiver<Output>,
    pool: Sender<Output>,
    mut w: Box<dyn Write + Send + '_>,
    mut detect: Option<&mut crate::behaviour::Behaviour>,
) -> std::io::Result<()> {
    let mut first_err = None;
    let mut alerts = Vec::new();
    let mut write = |w: &mut Box<dyn Write + Send + '_>, buf: &[u8]| {
        if first_err.is_none() && !buf.is_empty() {
            if let Err(e) = w.write_all(buf) {
                first_err = Some(e);
            }
        }
    };
    for mut o in rx {
        write(&mut w, &o.eve);
        if let Some(b) = detect.as_deref_mut() {
            b.accept(o.worker, &mut o.obs, o.done_us, &mut alerts);
            write(&mut w, &alerts);
            alerts.clear();
        }
        o.eve.clear();
        o.obs.clear();
        let _ = pool.try_send(o);
    }
    if let Some(b) = detect {
        b.finish(&mut alerts);
        write(&mut w, &alerts);
    }
    if first_err.is_none() {
        if let Err(e) = w.flush() {
            first_err = Some(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    #[test]
    fn pair_hash_is_symmetric_and_spreads() {
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.7".parse().expect("ip");
        assert_eq!(pair_hash(a, b), pair_hash(b, a));
        let mut counts = [0usize; 4];
        for i in 0..4000u32 {
            let x = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            counts[(pair_hash(x, b) % 4) as usize] += 1;
        }
        for c in counts {
            assert!((800..1200).contains(&c), "{counts:?}");
        }
    }
}
