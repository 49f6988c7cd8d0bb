//! Live capture through the pipeline: the same workers ([`run_worker`]), writer
//! ([`run_writer`]) and behaviour detectors as a replay, fed from network interfaces until a
//! stop flag is raised.
//!
//! ```text
//!  AF_PACKET (kernel fanout spreads flows)       libpcap
//!  ring 0 ─▶ reader 0 ─▶ worker 0 ─┐             iface(s) ─▶ reader ─▶ Dispatcher ─▶ workers ─┐
//!  ring 1 ─▶ reader 1 ─▶ worker 1 ─┴▶ writer                                                 └▶ writer
//! ```
//!
//! - AF_PACKET: each worker has one socket per interface, all in one fanout group per
//!   interface, so the kernel's symmetric flow hash picks the worker and no thread of ours
//!   looks at a packet to route it. Its reader copies whole ring blocks into the worker's
//!   batches and hands the blocks straight back to the kernel, so the ring only holds what
//!   has not been read yet; the batch queue behind it absorbs bursts. The same socket index
//!   on two interfaces gets the same hash, so a tap's two directions, on two ports, meet in
//!   one worker.
//! - libpcap: one reader over every interface, the [`Dispatcher`] spreads flows as in replay.
//!
//! Packet time is the kernel's receive time. While the link is quiet, readers move the
//! workers' clocks on with the wall clock (ticks), so idle flows still end on time.
//!
//! Stop: when `stop` is set, readers attach a reject-all filter to their sockets (the kernel
//! stops queueing and counting), read what the kernel already queued, and finish: every
//! worker ends its open flows and the writer flushes. So the kernel's count of packets
//! accepted equals the packets processed, and nothing counted is lost.
//!
//! A link that goes down and comes back is followed (the kernel keeps the sockets bound); an
//! interface that is deleted cannot be, and when every interface is gone the capture ends as
//! if stopped, with [`LiveReport::lost`] saying why.
//!
//! Memory: the rings (`workers x interfaces x capture.ring_size` for AF_PACKET, one kernel
//! buffer of `ring_size` per interface for libpcap) plus the pipeline's batches
//! ([`PipelineConfig`]: per worker, `queue_batches + 2` batches of `batch_bytes`).

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{bounded, Receiver, Sender};
use tapir_capture::live::{
    reinsert_vlan, wait_readable, AfPacketSocket, CaptureKind, LiveConfig, LiveError, LivePacket,
    PcapLive, SocketStats,
};
use tapir_capture::{LinkPacket, RawPacket};
use tapir_intel::IntelDb;

use crate::board::{KernelStats, KernelStatsSource, PUBLISH_EVERY};
use crate::pipeline::{
    run_writer, Batch, Dispatcher, Msg, Output, PipelineConfig, WorkerEnds, TICK_US,
};
use crate::{EngineConfig, ReplayOptions, Stats};

/// How long a reader waits for packets before looking at the stop flag and the clock.
const POLL_MS: i32 = 100;
/// Most warnings kept in the report (each is also printed when it happens).
const MAX_WARNINGS: usize = 100;

/// A live capture that could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum LiveRunError {
    #[error(transparent)]
    Capture(#[from] LiveError),
    #[error("capture: no interface given (-i IFACE or capture.interfaces)")]
    NoInterface,
    #[error("writing EVE output: {0}")]
    Output(#[from] io::Error),
    #[error("a capture or worker thread panicked")]
    Worker,
    #[error("payload patterns: {0}")]
    Patterns(String),
}

/// What a live capture did.
#[derive(Debug, Default)]
pub struct LiveReport {
    pub stats: Stats,
    /// Kernel counters per worker at the end (with libpcap, all under worker 0).
    pub kernel: Vec<KernelStats>,
    /// Problems met while running (read errors, an interface that went down), first ones.
    pub warnings: Vec<String>,
    pub elapsed: Duration,
    pub workers: usize,
    /// Capture ended on its own, before any stop: every interface failed (libpcap cannot
    /// reopen one that went away). What was captured was processed and written; a service
    /// should exit with an error so that it is restarted.
    pub lost: Option<String>,
}

impl LiveReport {
    /// The kernel counters of every socket added up.
    pub fn kernel_total(&self) -> KernelStats {
        self.kernel
            .iter()
            .fold(KernelStats::default(), |a, k| KernelStats {
                worker: 0,
                packets: a.packets + k.packets,
                drops: a.drops + k.drops,
            })
    }
}

/// Kernel counters of every capture socket, for the metrics endpoint (read at each scrape).
#[derive(Debug, Clone, Default)]
pub struct LiveKernelStats {
    sockets: Vec<(usize, Arc<SocketStats>)>,
}

impl KernelStatsSource for LiveKernelStats {
    /// One entry per worker (its sockets on every interface added up); with libpcap, the
    /// reader's sockets count as worker 0's.
    fn kernel_stats(&self) -> Vec<KernelStats> {
        let mut per_worker: Vec<KernelStats> = Vec::new();
        for (worker, s) in &self.sockets {
            let i = match per_worker.iter().position(|k| k.worker == *worker) {
                Some(i) => i,
                None => {
                    per_worker.push(KernelStats {
                        worker: *worker,
                        ..KernelStats::default()
                    });
                    per_worker.len() - 1
                }
            };
            if let Some(k) = per_worker.get_mut(i) {
                k.packets += s.packets();
                k.drops += s.drops();
            }
        }
        per_worker
    }
}

enum Sources {
    /// Per worker, one socket per interface.
    AfPacket(Vec<Vec<AfPacketSocket>>),
    Pcap(Vec<PcapLive>),
}

/// Opened capture sockets, ready to run. Opening is separate so that a bad interface or
/// filter fails before any output is written, and so that the caller can register the kernel
/// counters ([`LiveCapture::kernel_stats`]) before packets flow.
pub struct LiveCapture {
    sources: Sources,
    workers: usize,
    block_timeout: Duration,
    kernel: LiveKernelStats,
}

fn wall_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn warn(warnings: &mut Vec<String>, msg: String) {
    eprintln!("tapir: warning: {msg}");
    if warnings.len() < MAX_WARNINGS {
        warnings.push(msg);
    }
}

impl LiveCapture {
    /// Opens every socket: with AF_PACKET, `workers` per interface; with libpcap, one per
    /// interface.
    ///
    /// # Errors
    /// No interface, or the first interface that cannot be opened (see [`LiveError`]).
    pub fn open(capture: &LiveConfig, workers: usize) -> Result<Self, LiveRunError> {
        if capture.interfaces.is_empty() {
            return Err(LiveRunError::NoInterface);
        }
        let workers = workers.max(1);
        let mut kernel = LiveKernelStats::default();
        let sources = match capture.kind {
            CaptureKind::AfPacket => {
                let mut per_worker: Vec<Vec<AfPacketSocket>> =
                    (0..workers).map(|_| Vec::new()).collect();
                for (i, iface) in capture.interfaces.iter().enumerate() {
                    let group = capture.fanout_group_of(i);
                    for (w, socks) in per_worker.iter_mut().enumerate() {
                        let s = AfPacketSocket::open(iface, capture, group)?;
                        kernel.sockets.push((w, s.stats()));
                        socks.push(s);
                    }
                }
                Sources::AfPacket(per_worker)
            }
            CaptureKind::Pcap => {
                let mut caps = Vec::new();
                for iface in &capture.interfaces {
                    let c = PcapLive::open(iface, capture)?;
                    kernel.sockets.push((0, c.stats()));
                    caps.push(c);
                }
                Sources::Pcap(caps)
            }
        };
        Ok(LiveCapture {
            sources,
            workers,
            block_timeout: Duration::from_millis(u64::from(capture.block_timeout_ms)),
            kernel,
        })
    }

    /// The kernel counters of every socket, live (also registered on `opts.board` by
    /// [`Self::run`]).
    pub fn kernel_stats(&self) -> LiveKernelStats {
        self.kernel.clone()
    }

    /// Captures until `stop` is set, then drains and finishes (see the module comment).
    /// `opts` are replay's: pipeline shape, patterns, hot-reloaded intel, board, detectors
    /// (its `reader` is not used).
    ///
    /// # Errors
    /// A failing writer, a thread that panicked, patterns that cannot be loaded.
    pub fn run(
        self,
        intel: Arc<IntelDb>,
        cfg: EngineConfig,
        opts: &ReplayOptions,
        stop: &AtomicBool,
        out: &mut (dyn Write + Send),
    ) -> Result<LiveReport, LiveRunError> {
        let started = Instant::now();
        let workers = self.workers;
        let (engines, mut behaviour) = crate::replay::build_engines(cfg, &intel, opts, workers)
            .map_err(LiveRunError::Patterns)?;
        if let Some(b) = &opts.board {
            b.set_kernel_source(Arc::new(self.kernel.clone()));
        }
        let pcfg = PipelineConfig {
            workers,
            ..opts.pipeline.clone()
        };
        let (out_tx, out_rx) = bounded::<Output>(workers * 4);
        let (pool_tx, pool_rx) = bounded::<Output>(workers * 4 + 4);
        let kernel = self.kernel.clone();
        let block_timeout = self.block_timeout;
        let mut warnings = Vec::new();
        let result = std::thread::scope(|s| {
            let detect = behaviour.as_mut();
            let writer = s.spawn(move || run_writer(out_rx, pool_tx, Box::new(out), detect));
            let (feeders, dispatcher, ends) = match &self.sources {
                Sources::AfPacket(_) => {
                    let (f, e): (Vec<Feeder>, Vec<WorkerEnds>) =
                        (0..workers).map(|w| Feeder::new(&pcfg, w)).unzip();
                    (f, None, e)
                }
                Sources::Pcap(_) => {
                    let (d, e) = Dispatcher::new(pcfg.clone());
                    (Vec::new(), Some(d), e)
                }
            };
            let handles = crate::replay::spawn_workers(s, ends, engines, opts, &out_tx, &pool_rx);
            drop(out_tx);
            let mut reader_panicked = false;
            let mut lost = None;
            match (self.sources, dispatcher) {
                (Sources::AfPacket(per_worker), _) => {
                    let readers: Vec<_> = per_worker
                        .into_iter()
                        .zip(feeders)
                        .enumerate()
                        .map(|(i, (socks, feeder))| {
                            std::thread::Builder::new()
                                .name(format!("tapir-capture-{i}"))
                                .spawn_scoped(s, move || {
                                    let mut w = Vec::new();
                                    let ok = read_rings(socks, feeder, stop, block_timeout, &mut w);
                                    (w, ok)
                                })
                        })
                        .collect();
                    for r in readers {
                        match r.map(|r| r.join()) {
                            Ok(Ok((w, ok))) => {
                                warnings.extend(w);
                                if !ok {
                                    lost = Some("every interface was deleted".to_string());
                                }
                            }
                            _ => reader_panicked = true,
                        }
                    }
                }
                (Sources::Pcap(caps), Some(d)) => {
                    if !read_pcap(caps, d, stop, block_timeout, &mut warnings) {
                        lost = Some("every interface failed (see the warnings)".to_string());
                    }
                }
                (Sources::Pcap(_), None) => {}
            }
            let mut stats = Stats::default();
            let mut panicked = reader_panicked;
            for h in handles {
                match h.map(|h| h.join()) {
                    Ok(Ok(st)) => stats.merge(&st),
                    _ => panicked = true,
                }
            }
            let written = writer.join().map_err(|_| LiveRunError::Worker)?;
            written?;
            if panicked {
                return Err(LiveRunError::Worker);
            }
            Ok((stats, lost))
        });
        let (stats, lost) = result?;
        let mut report = LiveReport {
            stats,
            lost,
            kernel: kernel.kernel_stats(),
            warnings,
            elapsed: started.elapsed(),
            workers,
        };
        if let Some(b) = &behaviour {
            report.stats.merge(b.stats());
        }
        Ok(report)
    }
}

/// One worker's queue, filled by its own reader (no dispatcher: the kernel already chose the
/// worker). Batches are allocated once and recycled, as the dispatcher's are.
struct Feeder {
    cfg: PipelineConfig,
    tx: Sender<Msg>,
    free: Receiver<Batch>,
    current: Option<Batch>,
    /// The worker's clock: the latest kernel time seen, moved on by the wall clock when idle.
    clock_us: u64,
    pcap_cnt: u64,
    scratch: Vec<u8>,
}

impl Feeder {
    fn new(cfg: &PipelineConfig, worker: usize) -> (Feeder, WorkerEnds) {
        let (tx, rx) = bounded(cfg.queue_batches.max(1));
        let pool = cfg.queue_batches.max(1) + 2;
        let (recycle_tx, recycle_rx) = bounded(pool);
        for _ in 0..pool - 1 {
            // The pool is created with room for all of them.
            let _ = recycle_tx.send(Batch::new(cfg));
        }
        (
            Feeder {
                cfg: cfg.clone(),
                tx,
                free: recycle_rx,
                current: Some(Batch::new(cfg)),
                clock_us: 0,
                pcap_cnt: 0,
                scratch: Vec::new(),
            },
            WorkerEnds {
                worker,
                rx,
                recycle: recycle_tx,
                meter: None,
            },
        )
    }

    /// Queues one packet; blocks while the worker is behind (and the ring fills meanwhile:
    /// what the kernel then drops, it counts).
    fn push(&mut self, link: i32, p: &LivePacket<'_>) {
        self.clock_us = self.clock_us.max(p.ts_us);
        let (data, wire_len) = match p.vlan {
            Some(tag) if link == 1 => {
                reinsert_vlan(p.data, tag, &mut self.scratch);
                (&self.scratch[..], p.wire_len.saturating_add(4))
            }
            _ => (p.data, p.wire_len),
        };
        if self
            .current
            .as_ref()
            .is_some_and(|b| !b.has_room(&self.cfg, data.len()))
        {
            if let Some(b) = self.current.take() {
                let _ = self.tx.send(Msg::Batch(b));
            }
        }
        if self.current.is_none() {
            self.current = self.free.recv().ok().map(|mut b| {
                b.clear();
                b
            });
        }
        self.pcap_cnt += 1;
        let lp = LinkPacket {
            link,
            packet: RawPacket {
                ts_us: p.ts_us,
                wire_len,
                data,
            },
        };
        if let Some(b) = self.current.as_mut() {
            b.push(&lp, self.pcap_cnt, self.clock_us);
        }
    }

    /// Sends the partly filled batch, if any.
    fn flush(&mut self) {
        if self.current.as_ref().is_some_and(|b| !b.is_empty()) {
            if let Some(b) = self.current.take() {
                let _ = self.tx.send(Msg::Batch(b));
            }
        }
    }

    fn tick(&mut self) {
        self.clock_us = self.clock_us.max(wall_us());
        // A full queue means the worker has work and its clock moves anyway.
        let _ = self.tx.try_send(Msg::Tick {
            now_us: self.clock_us,
        });
    }

    fn finish(mut self) {
        self.flush();
        let _ = self.tx.send(Msg::Finish {
            end_us: self.clock_us.max(wall_us()),
        });
    }
}

/// One AF_PACKET reader: its worker's sockets (one per interface) into its worker's queue,
/// until `stop` and the drain are done. `false`: it ended early because every interface was
/// deleted.
fn read_rings(
    mut socks: Vec<AfPacketSocket>,
    mut feeder: Feeder,
    stop: &AtomicBool,
    block_timeout: Duration,
    warnings: &mut Vec<String>,
) -> bool {
    // After delivery stops, the kernel hands over its last partly filled block when the block
    // timeout expires: wait for two of them with nothing new before finishing.
    let drain_quiet = block_timeout * 2 + Duration::from_millis(50);
    let mut stopping = false;
    let mut last_data = Instant::now();
    let mut last_tick = Instant::now();
    let mut last_stats = Instant::now();
    let mut errors = Vec::new();
    let mut failures = 0u64;
    let mut gone = vec![false; socks.len()];
    loop {
        if !stopping && stop.load(Ordering::Relaxed) {
            stopping = true;
            last_data = Instant::now();
            for s in &socks {
                if let Err(e) = s.stop_delivery() {
                    warn(
                        warnings,
                        format!("{}: cannot stop delivery: {e}", s.iface()),
                    );
                }
            }
        }
        let mut got = false;
        for s in &mut socks {
            let link = s.link_type();
            // One block per socket per round: interfaces take turns.
            if s.read_block(|p| feeder.push(link, p)).is_some() {
                got = true;
            }
        }
        if last_stats.elapsed() >= PUBLISH_EVERY {
            last_stats = Instant::now();
            for s in &socks {
                s.update_stats();
            }
        }
        if got {
            last_data = Instant::now();
            continue;
        }
        // Nothing ready: what was read goes to the worker now rather than when a batch fills.
        feeder.flush();
        if (stopping && last_data.elapsed() >= drain_quiet) || gone.iter().all(|g| *g) {
            break;
        }
        let live: Vec<usize> = (0..socks.len()).filter(|i| !gone[*i]).collect();
        let fds: Vec<_> = live.iter().map(|i| socks[*i].fd()).collect();
        let timeout = if stopping { 10 } else { POLL_MS };
        if let Err(e) = wait_readable(&fds, timeout, &mut errors) {
            warn(warnings, format!("poll: {e}"));
            std::thread::sleep(Duration::from_millis(u64::from(POLL_MS.unsigned_abs())));
        }
        for (k, e) in errors.drain(..) {
            let Some(&i) = live.get(k) else { continue };
            if socks[i].interface_gone() {
                gone[i] = true;
                warn(
                    warnings,
                    format!(
                        "interface {} is gone; no longer capturing on it",
                        socks[i].iface()
                    ),
                );
                continue;
            }
            failures += 1;
            // A link that goes down reports an error; the socket receives again once it is
            // up. Say so now and then.
            if failures.is_power_of_two() {
                warn(
                    warnings,
                    format!(
                        "interface {}: capture socket error ({failures} so far): {e}",
                        socks[i].iface()
                    ),
                );
            }
            std::thread::sleep(Duration::from_millis(u64::from(POLL_MS.unsigned_abs())));
        }
        if Duration::from_micros(TICK_US) <= last_tick.elapsed() {
            last_tick = Instant::now();
            feeder.tick();
        }
    }
    for s in &socks {
        s.update_stats();
    }
    feeder.finish();
    stopping
}

/// The libpcap reader: every interface into the dispatcher, until `stop` and the drain are done.
/// `false`: it ended early because every interface failed.
fn read_pcap(
    mut caps: Vec<PcapLive>,
    mut dispatcher: Dispatcher,
    stop: &AtomicBool,
    block_timeout: Duration,
    warnings: &mut Vec<String>,
) -> bool {
    // libpcap hands a partly filled block over after the block timeout: a quarter second
    // (and two timeouts) with nothing new after delivery stopped means the buffers are empty.
    let drain_quiet = Duration::from_millis(250).max(block_timeout * 2 + Duration::from_millis(50));
    let mut stopping = false;
    let mut last_data = Instant::now();
    let mut last_stats = Instant::now();
    let mut dead = vec![false; caps.len()];
    let mut errors = Vec::new();
    let mut pcap_cnt = 0u64;
    loop {
        if !stopping && stop.load(Ordering::Relaxed) {
            stopping = true;
            last_data = Instant::now();
            for c in &caps {
                if let Err(e) = c.stop_delivery() {
                    warn(
                        warnings,
                        format!("{}: cannot stop delivery: {e}", c.iface()),
                    );
                }
            }
        }
        let mut got = false;
        for (c, dead) in caps.iter_mut().zip(dead.iter_mut()) {
            if *dead {
                continue;
            }
            let link = c.link_type();
            // A few hundred packets per interface per round: interfaces take turns.
            for _ in 0..256 {
                match c.next_packet() {
                    Ok(Some(p)) => {
                        pcap_cnt += 1;
                        dispatcher.push(&LinkPacket { link, packet: p }, pcap_cnt);
                        got = true;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        warn(warnings, format!("{e}; no longer reading it"));
                        *dead = true;
                        break;
                    }
                }
            }
        }
        if last_stats.elapsed() >= PUBLISH_EVERY {
            last_stats = Instant::now();
            for c in &mut caps {
                c.update_stats();
            }
        }
        if got {
            last_data = Instant::now();
            continue;
        }
        if dead.iter().all(|d| *d) || (stopping && last_data.elapsed() >= drain_quiet) {
            break;
        }
        // Quiet: the wall clock moves the workers' clocks and sends partly filled batches.
        dispatcher.idle(wall_us());
        let live: Vec<usize> = (0..caps.len()).filter(|i| !dead[*i]).collect();
        let fds: Vec<_> = live.iter().map(|i| caps[*i].fd()).collect();
        let timeout = if stopping { 10 } else { POLL_MS };
        if let Err(e) = wait_readable(&fds, timeout, &mut errors) {
            warn(warnings, format!("poll: {e}"));
            std::thread::sleep(Duration::from_millis(u64::from(POLL_MS.unsigned_abs())));
        }
        for (k, _) in errors.drain(..) {
            let Some(&i) = live.get(k) else { continue };
            if caps[i].interface_gone() {
                dead[i] = true;
                warn(
                    warnings,
                    format!(
                        "interface {} is gone; no longer capturing on it",
                        caps[i].iface()
                    ),
                );
            } else {
                // A link going down; libpcap reads again once it is up. Do not spin meanwhile.
                std::thread::sleep(Duration::from_millis(u64::from(POLL_MS.unsigned_abs())));
            }
        }
    }
    for c in &mut caps {
        c.update_stats();
    }
    dispatcher.finish();
    stopping
}
