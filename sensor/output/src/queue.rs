//! The delivery queue of one network output: records wait in memory up to a byte bound, then in
//! the disk buffer ([`crate::spool`]); the sender thread takes them in order, one batch at a
//! time, and acknowledges what the broker accepted.
//!
//! Order: memory holds the oldest records and the disk buffer the newer ones; while the disk
//! buffer has unsent records every new record goes there too, so taking from memory first and
//! then from disk keeps the order in which lines were written.
//!
//! Memory bound: `queue_bytes` of records (each counted as its length plus 32 bytes of
//! bookkeeping) plus the batch in flight (at most `batch` records).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::spool::{Pos, Spool};
use crate::OutputStats;

const RECORD_OVERHEAD: u64 = 32;

/// A batch handed to the sender. Records taken from disk stay in the disk buffer until the
/// broker acknowledges them (`from_disk` is where the cursor moves then).
#[derive(Clone)]
pub struct Batch {
    pub records: Arc<Vec<Vec<u8>>>,
    pub from_disk: Option<Pos>,
}

struct State {
    mem: VecDeque<Vec<u8>>,
    mem_bytes: u64,
    mem_max: u64,
    spool: Spool,
    inflight: Option<Batch>,
    stats: OutputStats,
    closing: bool,
    /// The closer gave up waiting and wrote what was left to disk; nothing more is sent.
    abandoned: bool,
    sender_waiting: bool,
    sender_done: bool,
}

pub struct Shared {
    state: Mutex<State>,
    /// Wakes the sender (new records, closing).
    work: Condvar,
    /// Wakes the closer (a batch acknowledged, the sender stopped).
    progress: Condvar,
}

impl Shared {
    pub fn new(target: String, mem_max: u64, spool: Spool) -> Shared {
        let recovered = spool.unread();
        Shared {
            state: Mutex::new(State {
                mem: VecDeque::new(),
                mem_bytes: 0,
                mem_max,
                spool,
                inflight: None,
                stats: OutputStats {
                    target,
                    recovered,
                    ..OutputStats::default()
                },
                closing: false,
                abandoned: false,
                sender_waiting: false,
                sender_done: false,
            }),
            work: Condvar::new(),
            progress: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep going with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues one record; never blocks on the broker.
    pub fn push(&self, rec: Vec<u8>) {
        let mut st = self.lock();
        if st.abandoned {
            st.stats.dropped += 1;
            return;
        }
        let cost = rec.len() as u64 + RECORD_OVERHEAD;
        if st.spool.unread() == 0 && st.mem_bytes + cost <= st.mem_max {
            st.mem_bytes += cost;
            st.mem.push_back(rec);
        } else {
            match st.spool.append(&rec) {
                Ok(a) => {
                    st.stats.buffered += 1;
                    st.stats.dropped += a.dropped;
                }
                Err(e) => {
                    st.stats.dropped += 1;
                    st.stats.last_error = Some(format!("disk buffer: {e}"));
                }
            }
        }
        if st.sender_waiting {
            self.work.notify_one();
        }
    }

    /// The next batch to send (the one in flight again after a failure), waiting for records.
    /// `None`: stop (closing with nothing left, or abandoned).
    pub fn next_batch(&self, max: usize) -> Option<Batch> {
        let mut st = self.lock();
        loop {
            if st.abandoned {
                return None;
            }
            if let Some(b) = &st.inflight {
                return Some(b.clone());
            }
            if !st.mem.is_empty() {
                let n = st.mem.len().min(max);
                let records: Vec<Vec<u8>> = st.mem.drain(..n).collect();
                let bytes: u64 = records
                    .iter()
                    .map(|r| r.len() as u64 + RECORD_OVERHEAD)
                    .sum();
                st.mem_bytes = st.mem_bytes.saturating_sub(bytes);
                return Some(st.set_inflight(records, None));
            }
            if st.spool.unread() > 0 {
                let read = st.spool.read(max);
                st.stats.dropped += st.spool.take_lost();
                match read {
                    Ok((records, end)) if !records.is_empty() => {
                        return Some(st.set_inflight(records, Some(end)));
                    }
                    Ok(_) => {}
                    Err(e) => st.stats.last_error = Some(format!("disk buffer: {e}")),
                }
            }
            if st.closing {
                return None;
            }
            if let Err(e) = st.spool.flush() {
                st.stats.last_error = Some(format!("disk buffer: {e}"));
            }
            st.sender_waiting = true;
            st = self
                .work
                .wait_timeout(st, Duration::from_millis(200))
                .map_or_else(|p| p.into_inner().0, |(g, _)| g);
            st.sender_waiting = false;
        }
    }

    /// The broker accepted the batch in flight except the records at `undelivered` (ascending
    /// indices into it), which stay in flight for the next attempt.
    pub fn delivered(&self, undelivered: &[usize]) {
        let mut st = self.lock();
        if st.abandoned {
            return;
        }
        let Some(b) = st.inflight.take() else { return };
        let total = b.records.len() as u64;
        st.stats.sent += total - undelivered.len() as u64;
        if undelivered.is_empty() {
            if let Some(end) = b.from_disk {
                if let Err(e) = st.spool.ack(end) {
                    st.stats.last_error = Some(format!("disk buffer cursor: {e}"));
                }
            }
        } else {
            let rest: Vec<Vec<u8>> = undelivered
                .iter()
                .filter_map(|&i| b.records.get(i).cloned())
                .collect();
            st.inflight = Some(Batch {
                records: Arc::new(rest),
                from_disk: b.from_disk,
            });
        }
        self.progress.notify_all();
    }

    /// A send attempt failed; the batch stays in flight.
    pub fn failed(&self, why: String) {
        let mut st = self.lock();
        st.stats.retried += 1;
        st.stats.connected = false;
        st.stats.last_error = Some(why);
    }

    pub fn set_connected(&self, up: bool) {
        self.lock().stats.connected = up;
    }

    /// Sleeps `d` unless the output is abandoned meanwhile; `false` when it was.
    pub fn backoff(&self, d: Duration) -> bool {
        let st = self.lock();
        if st.abandoned {
            return false;
        }
        let (st, _) = self
            .work
            .wait_timeout_while(st, d, |s| !s.abandoned)
            .unwrap_or_else(|p| p.into_inner());
        !st.abandoned
    }

    pub fn sender_exited(&self) {
        let mut st = self.lock();
        st.sender_done = true;
        self.progress.notify_all();
    }

    /// Stops taking new work once everything is sent, and waits until `deadline` for that.
    /// On time-out, writes what is still in memory or in flight to the disk buffer (in order)
    /// for the next start. Returns `true` when everything was delivered.
    pub fn drain(&self, deadline: Instant) -> bool {
        let mut st = self.lock();
        st.closing = true;
        self.work.notify_all();
        loop {
            let empty = st.mem.is_empty() && st.inflight.is_none() && st.spool.unread() == 0;
            if empty || st.sender_done {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = self
                .progress
                .wait_timeout(st, (deadline - now).min(Duration::from_millis(100)))
                .map_or_else(|p| p.into_inner().0, |(g, _)| g);
        }
        let clean = st.mem.is_empty() && st.inflight.is_none() && st.spool.unread() == 0;
        if !clean {
            st.persist();
        }
        st.abandoned = true;
        self.work.notify_all();
        clean
    }

    /// Waits until the sender thread has stopped sending (or `until`); `true` if it did.
    pub fn wait_sender(&self, until: Instant) -> bool {
        let mut st = self.lock();
        while !st.sender_done {
            let now = Instant::now();
            if now >= until {
                return false;
            }
            st = self
                .progress
                .wait_timeout(st, until - now)
                .map_or_else(|p| p.into_inner().0, |(g, _)| g);
        }
        true
    }

    pub fn snapshot(&self) -> OutputStats {
        let st = self.lock();
        let mut s = st.stats.clone();
        s.queued_memory = st.mem.len() as u64;
        s.queued_disk = st.spool.unread();
        s
    }
}

impl State {
    fn set_inflight(&mut self, records: Vec<Vec<u8>>, from_disk: Option<Pos>) -> Batch {
        let b = Batch {
            records: Arc::new(records),
            from_disk,
        };
        self.inflight = Some(b.clone());
        b
    }

    /// Memory and the batch in flight go to disk so that a restart sends them, in order.
    fn persist(&mut self) {
        let mem: Vec<Vec<u8>> = self.mem.drain(..).collect();
        self.mem_bytes = 0;
        let in_memory = mem.len() as u64
            + self
                .inflight
                .as_ref()
                .filter(|b| b.from_disk.is_none())
                .map_or(0, |b| b.records.len() as u64);
        let res = match self.inflight.take() {
            Some(Batch {
                records,
                from_disk: None,
            }) => {
                // Older than everything on disk: it goes in front, then memory.
                let mut front: Vec<Vec<u8>> = records.iter().cloned().collect();
                front.extend(mem);
                let n = front.len() as u64;
                self.spool.prepend(&front).map(|()| n)
            }
            _ => {
                // In flight from disk: still there, from the cursor on. Memory is newer.
                self.spool.rewind();
                let n = mem.len() as u64;
                let mut r = Ok(n);
                for rec in &mem {
                    match self.spool.append(rec) {
                        Ok(a) => self.stats.dropped += a.dropped,
                        Err(e) => {
                            r = Err(e);
                            break;
                        }
                    }
                }
                r
            }
        };
        match res.and_then(|n| self.spool.sync().map(|()| n)) {
            Ok(n) => self.stats.buffered += n,
            Err(e) => {
                // What did not reach the disk is lost; say so in the counters.
                self.stats.dropped += in_memory;
                self.stats.last_error = Some(format!("disk buffer at shutdown: {e}"));
            }
        }
    }
}
