//! Live per-worker numbers for whoever watches a running sensor (metrics endpoint, progress
//! bar, service watchdog).
//!
//! Workers count on plain integers in their own [`Stats`] (no atomics per packet). A worker
//! holding a [`WorkerMeter`] copies its counters into its slot of the [`Board`] at most every
//! [`PUBLISH_EVERY`] of wall time, between batches, and also while idle (the pipeline waits on
//! its queue with that timeout), so a reader of the board sees numbers at most that old and a
//! worker that stops publishing is stuck or gone. Readers sum the slots.
//!
//! Memory: one [`WorkerSnapshot`] per worker: the counters of [`Stats`] without the per
//! indicator sightings (those stay with the worker), a few hundred bytes.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::{Engine, Stats};

/// Longest wall time between two snapshots of a worker that is alive.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(250);

/// A worker that has not published for this long is not counted as alive (stuck in one batch,
/// or its thread died without unwinding).
pub const STALE_AFTER: Duration = Duration::from_secs(10);

/// Buffered TCP bytes are summed over the flow table (a walk of every flow), so less often.
const REASSEMBLY_WALK_EVERY: Duration = Duration::from_secs(1);

/// One worker's numbers as of its last publish.
#[derive(Debug, Clone, Default)]
pub struct WorkerSnapshot {
    /// The worker's counters; `sightings` is always empty here.
    pub stats: Stats,
    /// Flows held now.
    pub flows_active: u64,
    /// Out-of-order TCP bytes buffered now, over every flow of the worker (refreshed about once
    /// a second).
    pub reassembly_bytes: u64,
    /// Bytes of IP fragments buffered now.
    pub defrag_bytes: u64,
    /// Datagrams being reassembled now.
    pub defrag_datagrams: u64,
    /// Share of wall time spent processing batches over the last publish interval (0 to 1).
    pub busy_ratio: f64,
    /// Batches waiting in this worker's queue when it last published.
    pub queue_batches: u64,
    /// Registered and not finished, and its thread has not died.
    pub running: bool,
    /// When it last published.
    pub updated: Option<Instant>,
}

impl WorkerSnapshot {
    /// Running and published within [`STALE_AFTER`].
    pub fn alive(&self) -> bool {
        self.running && self.updated.is_some_and(|t| t.elapsed() < STALE_AFTER)
    }
}

/// Kernel-side counters of one capture socket (`PACKET_STATISTICS`, `pcap_stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// The worker the socket feeds.
    pub worker: usize,
    /// Packets the kernel passed to the socket, since the capture started.
    pub packets: u64,
    /// Packets the kernel dropped for want of ring space, since the capture started.
    pub drops: u64,
}

/// Where live capture reports kernel counters. Polled from the metrics thread at each scrape.
///
/// Totals are cumulative since the capture started. `PACKET_STATISTICS` resets the kernel's
/// counters on every read, so an AF_PACKET source must add each read to its own totals.
pub trait KernelStatsSource: Send + Sync {
    fn kernel_stats(&self) -> Vec<KernelStats>;
}

/// How far the reader of an offline replay got (for the progress bar): updated every
/// [`READER_UPDATE_PACKETS`] packets and at each file end.
#[derive(Debug, Default)]
pub struct ReaderProgress {
    /// Files read to their end.
    pub files_done: AtomicUsize,
    /// Capture bytes consumed: whole files done, plus records (header and captured bytes) of
    /// the current one. An estimate within a file (pcapng options are not counted).
    pub bytes: AtomicU64,
    pub packets: AtomicU64,
}

/// How many packets the replay reader reads between two updates of [`ReaderProgress`] (a
/// power of two: the reader tests it with a mask).
pub const READER_UPDATE_PACKETS: u64 = 1024;

impl ReaderProgress {
    /// The reader is `bytes` into the input, at packet `packets`.
    pub fn record(&self, bytes: u64, packets: u64) {
        self.bytes.store(bytes, Ordering::Relaxed);
        self.packets.store(packets, Ordering::Relaxed);
    }

    /// One more file was read to its end; `bytes` counts every file done, whole.
    pub fn file_done(&self, bytes: u64, packets: u64) {
        self.record(bytes, packets);
        self.files_done.fetch_add(1, Ordering::Relaxed);
    }
}

/// The shared board: one slot per worker.
#[derive(Default)]
pub struct Board {
    slots: Mutex<Vec<Arc<Mutex<WorkerSnapshot>>>>,
    kernel: Mutex<Option<Arc<dyn KernelStatsSource>>>,
    reader: ReaderProgress,
}

impl std::fmt::Debug for Board {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Board")
            .field("workers", &lock(&self.slots).len())
            .finish_non_exhaustive()
    }
}

/// A poisoned lock only means a worker panicked while copying numbers: the numbers are still
/// usable, and the board must keep serving.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Board {
    pub fn new() -> Arc<Board> {
        Arc::new(Board::default())
    }

    /// Registers worker `index` (slots are created up to it) and returns its meter. The worker
    /// counts as running until the meter is finished or dropped (also by a panic unwinding).
    pub fn meter(self: &Arc<Self>, index: usize) -> WorkerMeter {
        let slot = {
            let mut slots = lock(&self.slots);
            while slots.len() <= index {
                slots.push(Arc::new(Mutex::new(WorkerSnapshot::default())));
            }
            Arc::clone(&slots[index])
        };
        let now = Instant::now();
        {
            let mut s = lock(&slot);
            s.running = true;
            s.updated = Some(now);
        }
        WorkerMeter {
            slot,
            last_publish: now,
            last_walk: None,
            busy: Duration::ZERO,
            reassembly_bytes: 0,
        }
    }

    /// A copy of every worker's slot, in worker order.
    pub fn snapshots(&self) -> Vec<WorkerSnapshot> {
        let slots: Vec<_> = lock(&self.slots).iter().map(Arc::clone).collect();
        slots.iter().map(|s| lock(s).clone()).collect()
    }

    /// Workers registered so far.
    pub fn workers(&self) -> usize {
        lock(&self.slots).len()
    }

    /// Workers alive now (see [`WorkerSnapshot::alive`]).
    pub fn workers_alive(&self) -> usize {
        self.snapshots().iter().filter(|s| s.alive()).count()
    }

    /// At least one worker is registered and every registered one is alive: what `/healthz`
    /// and the service watchdog report.
    pub fn healthy(&self) -> bool {
        let s = self.snapshots();
        !s.is_empty() && s.iter().all(WorkerSnapshot::alive)
    }

    /// The counters of every worker added up.
    pub fn total(&self) -> Stats {
        let mut t = Stats::default();
        for s in self.snapshots() {
            t.merge(&s.stats);
        }
        t
    }

    /// Registers the live capture's kernel counters (replaces an earlier source).
    pub fn set_kernel_source(&self, src: Arc<dyn KernelStatsSource>) {
        *lock(&self.kernel) = Some(src);
    }

    /// Kernel counters per socket, empty without live capture.
    pub fn kernel_stats(&self) -> Vec<KernelStats> {
        let src = lock(&self.kernel).clone();
        src.map(|s| s.kernel_stats()).unwrap_or_default()
    }

    /// The replay reader's progress.
    pub fn reader(&self) -> &ReaderProgress {
        &self.reader
    }
}

/// A worker's handle on its slot: times batches and publishes snapshots.
///
/// A worker loop calls [`batch_done`](Self::batch_done) after each batch and
/// [`idle`](Self::idle) at least every [`PUBLISH_EVERY`] while it waits for packets, then
/// [`finish`](Self::finish) once its engine has finished.
pub struct WorkerMeter {
    slot: Arc<Mutex<WorkerSnapshot>>,
    last_publish: Instant,
    last_walk: Option<Instant>,
    busy: Duration,
    reassembly_bytes: u64,
}

impl WorkerMeter {
    /// One batch was processed, starting at `started`; `queued` batches wait behind it.
    pub fn batch_done(&mut self, started: Instant, engine: &mut Engine, queued: usize) {
        let now = Instant::now();
        self.busy += now.saturating_duration_since(started);
        if now.saturating_duration_since(self.last_publish) >= PUBLISH_EVERY {
            self.publish(now, engine, queued, true);
        }
    }

    /// The worker waited for packets; publishes when a snapshot is due.
    pub fn idle(&mut self, engine: &mut Engine, queued: usize) {
        let now = Instant::now();
        if now.saturating_duration_since(self.last_publish) >= PUBLISH_EVERY {
            self.publish(now, engine, queued, true);
        }
    }

    /// The engine finished (its flows are flushed): publishes the final numbers and marks the
    /// worker as no longer running.
    pub fn finish(mut self, engine: &mut Engine) {
        self.last_walk = None;
        self.publish(Instant::now(), engine, 0, false);
    }

    fn publish(&mut self, now: Instant, engine: &mut Engine, queued: usize, running: bool) {
        let wall = now.saturating_duration_since(self.last_publish);
        let busy_ratio = if wall.is_zero() {
            0.0
        } else {
            (self.busy.as_secs_f64() / wall.as_secs_f64()).min(1.0)
        };
        let walk_due = match self.last_walk {
            Some(t) => now.saturating_duration_since(t) >= REASSEMBLY_WALK_EVERY,
            None => true,
        };
        if walk_due {
            self.last_walk = Some(now);
            self.reassembly_bytes = engine
                .flows
                .map
                .values()
                .filter_map(|f| f.streams.as_ref())
                .flat_map(|s| s.iter())
                .map(|s| u64::from(s.buffered_bytes()))
                .sum();
        }
        let d = engine.defrag.stats();
        let scan = engine.scanner.as_ref().map(|s| s.stats());
        let flows_active = engine.flows.len() as u64;
        // The sightings map can hold tens of thousands of strings: it is moved aside, not
        // copied, while the rest of the counters are cloned.
        let sightings = std::mem::take(&mut engine.sink.stats.sightings);
        {
            let mut s = lock(&self.slot);
            s.stats.clone_from(&engine.sink.stats);
            let st = &mut s.stats;
            st.set_defrag(&d);
            if let Some(p) = scan {
                st.set_patterns(&p);
            }
            s.flows_active = flows_active;
            s.reassembly_bytes = self.reassembly_bytes;
            s.defrag_bytes = d.bytes_buffered;
            s.defrag_datagrams = d.in_progress;
            // A finished worker is not busy, whatever its last interval was.
            s.busy_ratio = if running { busy_ratio } else { 0.0 };
            s.queue_batches = queued as u64;
            s.running = running;
            s.updated = Some(now);
        }
        engine.sink.stats.sightings = sightings;
        self.busy = Duration::ZERO;
        self.last_publish = now;
    }
}

/// Waits for the next message of a worker's queue. With a meter, waits at most
/// [`PUBLISH_EVERY`] at a time and publishes in between, so an idle worker still reports (and
/// is seen alive). `None`: the queue is closed.
pub fn recv<T>(
    rx: &crossbeam_channel::Receiver<T>,
    meter: Option<&mut WorkerMeter>,
    engine: &mut Engine,
) -> Option<T> {
    let Some(m) = meter else {
        return rx.recv().ok();
    };
    loop {
        match rx.recv_timeout(PUBLISH_EVERY) {
            Ok(v) => return Some(v),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => m.idle(engine, rx.len()),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return None,
        }
    }
}

impl Drop for WorkerMeter {
    fn drop(&mut self) {
        // Also reached when the worker's thread unwinds from a panic.
        lock(&self.slot).running = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc as StdArc;
    use tapir_capture::RawPacket;
    use tapir_intel::IntelDb;

    fn udp_frame() -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        // IPv4, 20-byte header, UDP, 10.0.0.1 -> 10.0.0.2, 8-byte UDP header + 4 bytes.
        let total: u16 = 20 + 8 + 4;
        f.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 1, 0, 0, 64, 17]);
        f.extend_from_slice(&[0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        f.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 12, 0, 0, 1, 2, 3, 4]);
        f
    }

    #[test]
    fn snapshots_follow_the_engine_and_a_dropped_meter_is_not_alive() {
        let board = Board::new();
        let mut engine = Engine::new(
            crate::EngineConfig::default(),
            StdArc::new(IntelDb::empty()),
        );
        let mut meter = board.meter(1);
        assert_eq!(board.workers(), 2, "slots are created up to the index");
        assert_eq!(board.workers_alive(), 1);
        let frame = udp_frame();
        let started = Instant::now();
        for i in 0..10u64 {
            let raw = RawPacket {
                ts_us: 1_000_000 + i,
                wire_len: frame.len() as u32,
                data: &frame,
            };
            engine.process_dlt(1, &raw, i + 1);
        }
        meter.batch_done(started, &mut engine, 3);
        // Not due yet: nothing published.
        assert_eq!(board.total().packets, 0);
        std::thread::sleep(PUBLISH_EVERY);
        meter.idle(&mut engine, 3);
        let snaps = board.snapshots();
        assert_eq!(snaps[1].stats.packets, 10);
        assert_eq!(snaps[1].stats.bytes, 10 * frame.len() as u64);
        assert_eq!(snaps[1].flows_active, 1);
        assert_eq!(snaps[1].queue_batches, 3);
        assert!((0.0..=1.0).contains(&snaps[1].busy_ratio));
        assert!(snaps[1].alive());
        engine.finish(2_000_000);
        meter.finish(&mut engine);
        let t = board.total();
        assert_eq!(t.packets, 10);
        assert_eq!(t.flows, 1);
        assert_eq!(board.workers_alive(), 0);

        let m = board.meter(0);
        assert_eq!(board.workers_alive(), 1);
        drop(m);
        assert_eq!(
            board.workers_alive(),
            0,
            "a dropped meter (panic) is not alive"
        );
    }

    #[test]
    fn busy_ratio_is_busy_time_over_wall_time() {
        let board = Board::new();
        let mut engine = Engine::new(
            crate::EngineConfig::default(),
            StdArc::new(IntelDb::empty()),
        );
        let mut meter = board.meter(0);
        // Busy for about the whole interval.
        let started = Instant::now();
        std::thread::sleep(PUBLISH_EVERY + Duration::from_millis(20));
        meter.batch_done(started, &mut engine, 0);
        let busy = board.snapshots()[0].busy_ratio;
        assert!(busy > 0.8, "{busy}");
        // Idle for a whole interval.
        std::thread::sleep(PUBLISH_EVERY + Duration::from_millis(20));
        meter.idle(&mut engine, 0);
        let idle = board.snapshots()[0].busy_ratio;
        assert!(idle < 0.2, "{idle}");
    }
}
