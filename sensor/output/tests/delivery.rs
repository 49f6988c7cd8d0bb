//! Delivery through the queue and the disk buffer, against a broker that the test switches on
//! and off: order, the counters, the disk bound, restarts, partial failures.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tapir_engine::tap::TapWriter;
use tapir_output::{Identity, OutputSpec, OutputStats, Outputs, SendError, Sink, Target};

/// A broker the test controls: up or down; when `flaky`, every other record of a batch is
/// refused once (a partial failure).
#[derive(Clone, Default)]
struct Broker {
    up: Arc<AtomicBool>,
    flaky: Arc<AtomicBool>,
    got: Arc<Mutex<Vec<Vec<u8>>>>,
    attempts: Arc<AtomicUsize>,
}

impl Broker {
    fn up() -> Broker {
        let b = Broker::default();
        b.up.store(true, Ordering::SeqCst);
        b
    }
    fn received(&self) -> Vec<u64> {
        self.got
            .lock()
            .expect("lock")
            .iter()
            .map(|l| seq(l))
            .collect()
    }
}

impl Sink for Broker {
    fn send(&mut self, records: &[Vec<u8>]) -> Result<(), SendError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if !self.up.load(Ordering::SeqCst) {
            return Err(SendError::all(records.len(), "down"));
        }
        if records.len() > 1 && self.flaky.swap(false, Ordering::SeqCst) {
            let mut got = self.got.lock().expect("lock");
            let mut undelivered = Vec::new();
            for (i, r) in records.iter().enumerate() {
                if i % 2 == 0 {
                    got.push(r.clone());
                } else {
                    undelivered.push(i);
                }
            }
            return Err(SendError {
                undelivered,
                message: "partial".into(),
            });
        }
        self.got
            .lock()
            .expect("lock")
            .extend(records.iter().cloned());
        Ok(())
    }
}

fn temp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("tapir-output-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    p
}

/// Removes the test's directory even when an assertion fails.
struct Cleanup(PathBuf);
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn spec(dir: &std::path::Path) -> OutputSpec {
    let mut s = OutputSpec::new(Target::parse("redis://test:1/s").expect("target"));
    s.buffer_dir = Some(dir.to_path_buf());
    s.queue_bytes = 8 << 10;
    s.batch = 100;
    s.flush_timeout = Duration::from_secs(20);
    s
}

fn open(s: &OutputSpec, broker: &Broker) -> Outputs {
    Outputs::with_sinks(
        Box::new(std::io::sink()),
        vec![(s.clone(), Box::new(broker.clone()) as Box<dyn Sink>)],
        Arc::new(Identity::new(Some("test-sensor"))),
    )
    .expect("open outputs")
}

/// EVE-like lines numbered from `from`, written through the writer the pipeline would use.
fn write_lines(outs: &mut Outputs, from: u64, n: u64) {
    let tap = outs.take_tap().expect("network tap");
    let mut w = TapWriter::new(outs.take_writer(), vec![tap]);
    for i in from..from + n {
        writeln!(
            w,
            "{{\"timestamp\":\"2024-01-01T00:00:00.000000+0000\",\"flow_id\":{},\"event_type\":\"flow\",\"seq\":{i},\"pad\":\"{}\"}}",
            i % 7,
            "x".repeat(60)
        )
        .expect("write");
    }
    w.flush().expect("flush");
    drop(w.finish());
}

fn seq(line: &[u8]) -> u64 {
    let v: serde_json::Value = serde_json::from_slice(line).expect("json record");
    assert_eq!(v["host"], "test-sensor");
    assert!(v["metadata"]["pktvars"][0]["tapir_event_id"].is_string());
    v["seq"].as_u64().expect("seq")
}

fn one(stats: Vec<OutputStats>) -> OutputStats {
    assert_eq!(stats.len(), 1);
    stats.into_iter().next().expect("one output")
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn broker_down_then_up_delivers_everything_once_in_order() {
    let dir = temp("down-up");
    let _c = Cleanup(dir.clone());
    let broker = Broker::default();
    let s = spec(&dir);
    let mut outs = open(&s, &broker);
    let metrics = outs.metrics();
    write_lines(&mut outs, 0, 5000);
    wait_until("a failed attempt", || {
        broker.attempts.load(Ordering::SeqCst) >= 2
    });
    let mid = one(metrics.snapshot());
    assert_eq!(mid.sent, 0);
    assert!(mid.retried >= 1, "{mid}");
    // 8 KiB of memory holds about 50 of these; the rest went to disk.
    assert!(mid.buffered > 4000, "{mid}");
    // All but the batch in flight (at most 100) wait in memory or on disk.
    assert!(mid.queued_memory + mid.queued_disk >= 4900, "{mid}");
    assert!(!mid.connected);
    broker.up.store(true, Ordering::SeqCst);
    let end = one(outs.close());
    assert_eq!(broker.received(), (0..5000).collect::<Vec<_>>());
    assert_eq!(
        (end.sent, end.dropped, end.queued_disk),
        (5000, 0, 0),
        "{end}"
    );
    assert!(end.connected);
    // Everything was delivered: the buffer is empty and holds no segment.
    let left: Vec<_> = std::fs::read_dir(s.spool_dir())
        .expect("spool dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("seg-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_full_disk_buffer_drops_the_oldest_and_counts_them() {
    let dir = temp("full");
    let _c = Cleanup(dir.clone());
    let broker = Broker::default();
    let mut s = spec(&dir);
    s.buffer_max_bytes = 64 << 10;
    let mut outs = open(&s, &broker);
    let total = 20_000u64;
    write_lines(&mut outs, 0, total);
    broker.up.store(true, Ordering::SeqCst);
    let end = one(outs.close());
    let got = broker.received();
    assert!(end.dropped > 10_000, "{end}");
    assert_eq!(got.len() as u64 + end.dropped, total, "{end}");
    assert_eq!(end.sent, got.len() as u64);
    assert!(got.windows(2).all(|w| w[0] < w[1]), "out of order");
    // The newest survive: the last line written was delivered, the drop left a gap before it.
    assert_eq!(got.last(), Some(&(total - 1)));
    assert!(got.windows(2).any(|w| w[1] - w[0] > 1000));
}

#[test]
fn a_restart_sends_what_the_disk_buffer_holds_first() {
    let dir = temp("restart");
    let _c = Cleanup(dir.clone());
    let down = Broker::default();
    let mut s = spec(&dir);
    s.flush_timeout = Duration::from_millis(300);
    let mut outs = open(&s, &down);
    write_lines(&mut outs, 0, 3000);
    let first = one(outs.close());
    assert_eq!(first.sent, 0);
    // Memory and the batch in flight went to disk at the end: everything waits there.
    assert_eq!(first.queued_disk, 3000, "{first}");
    assert_eq!(first.queued_memory, 0);
    assert_eq!(first.buffered, 3000, "{first}");

    let up = Broker::up();
    let mut outs = open(&s, &up);
    assert_eq!(one(outs.metrics().snapshot()).recovered, 3000);
    write_lines(&mut outs, 3000, 10);
    let second = one(outs.close());
    assert_eq!(up.received(), (0..3010).collect::<Vec<_>>());
    assert_eq!(
        (second.sent, second.recovered, second.dropped),
        (3010, 3000, 0)
    );
}

#[test]
fn a_partial_failure_resends_only_what_did_not_arrive() {
    let dir = temp("partial");
    let _c = Cleanup(dir.clone());
    let broker = Broker::up();
    broker.flaky.store(true, Ordering::SeqCst);
    let s = spec(&dir);
    let mut outs = open(&s, &broker);
    write_lines(&mut outs, 0, 1000);
    let end = one(outs.close());
    let mut got = broker.received();
    got.sort_unstable();
    assert_eq!(got, (0..1000).collect::<Vec<_>>(), "lost or duplicated");
    assert_eq!(end.sent, 1000);
    assert_eq!(end.retried, 1);
}

#[test]
fn one_buffer_directory_serves_one_output() {
    let dir = temp("lock");
    let _c = Cleanup(dir.clone());
    let s = spec(&dir);
    let outs = open(&s, &Broker::up());
    let again = Outputs::with_sinks(
        Box::new(std::io::sink()),
        vec![(s.clone(), Box::new(Broker::up()) as Box<dyn Sink>)],
        Arc::new(Identity::new(None)),
    );
    let e = again.err().expect("second open of a held buffer refused");
    assert!(e.to_string().contains("held"), "{e}");
    drop(outs.close());
    // Released at close.
    let outs = open(&s, &Broker::up());
    drop(outs.close());
}

#[test]
fn local_outputs_get_the_lines_unchanged() {
    let dir = temp("local");
    let _c = Cleanup(dir.clone());
    std::fs::create_dir_all(&dir).expect("mkdir");
    let a = dir.join("a.json");
    let b = dir.join("b.json");
    let specs: Vec<OutputSpec> = [
        format!("file:{}", a.display()),
        format!("file:{}", b.display()),
    ]
    .iter()
    .map(|t| OutputSpec::new(Target::parse(t).expect("target")))
    .collect();
    let mut outs = Outputs::open(&specs, Arc::new(Identity::new(None))).expect("open");
    assert!(outs.take_tap().is_none());
    let mut w = outs.take_writer();
    w.write_all(b"{\"event_type\":\"flow\"}\n").expect("write");
    drop(w);
    assert!(outs.close().is_empty());
    for p in [a, b] {
        assert_eq!(
            std::fs::read_to_string(&p).expect("read"),
            "{\"event_type\":\"flow\"}\n"
        );
    }
    let bad = [OutputSpec::new(Target::File(
        dir.join("no/such/dir/x.json"),
    ))];
    let e = Outputs::open(&bad, Arc::new(Identity::new(None)))
        .err()
        .expect("refused");
    assert!(e.to_string().contains("cannot create EVE output"), "{e}");
}
