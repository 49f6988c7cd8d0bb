//! EVE outputs for a fleet of sensors: stdout and files written in line, Redis Streams and
//! Kafka behind a bounded queue with an on-disk buffer, off the packet path.
//!
//! Use: [`Outputs::open`] with the configured [`OutputSpec`]s; wrap
//! [`Outputs::take_writer`] in a [`tapir_engine::tap::TapWriter`] together with
//! [`Outputs::take_tap`] (plus any other taps) and hand it to the pipeline as its writer; at
//! the end call [`TapWriter::finish`](tapir_engine::tap::TapWriter::finish) and then
//! [`Outputs::close`], which waits up to each output's `flush_timeout` for the brokers.
//! `tapir replay` does exactly this (sensor/tapir/src/outputs.rs); `tapir run` can reuse it.
//!
//! Delivery is at-least-once: a record is removed from the disk buffer only after the broker
//! acknowledged it, so an outage or a restart can make it arrive twice, never zero times
//! (except when the disk buffer's bound is reached: then the oldest are dropped and counted).
//! Each record carries an event id (see [`record`]) for consumers to deduplicate.

#![forbid(unsafe_code)]

#[doc(hidden)]
pub mod fuzzing;
mod kafka_sink;
mod local;
mod queue;
pub mod record;
mod redis_sink;
mod sender;
mod spool;
mod target;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tapir_engine::tap::EventTap;

pub use record::Identity;
pub use sender::{SendError, Sink};
pub use target::Target;

/// Default bound of the memory queue of a network output, in bytes.
pub const DEFAULT_QUEUE_BYTES: u64 = 16 << 20;
/// Default bound of the disk buffer of a network output, in bytes.
pub const DEFAULT_BUFFER_MAX_BYTES: u64 = 1 << 30;
/// Default records per send (one Redis pipeline, one Kafka flush).
pub const DEFAULT_BATCH: usize = 1024;
/// Default wait for the brokers at the end of a run.
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `MAXLEN ~` of Redis streams.
pub const DEFAULT_REDIS_MAXLEN: u64 = 1_000_000;

/// One configured output.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputSpec {
    pub target: Target,
    /// Bound of the memory queue (network outputs): records past it go to the disk buffer.
    pub queue_bytes: u64,
    /// Parent directory of the disk buffers; `None`: `tapir-outbox` in the temp directory.
    /// Each network output uses a subdirectory named after its target.
    pub buffer_dir: Option<PathBuf>,
    /// Bound of this output's disk buffer; past it the oldest records are dropped (counted).
    pub buffer_max_bytes: u64,
    /// Records per send.
    pub batch: usize,
    /// How long the end of a run waits for this output; what is left is kept on disk.
    pub flush_timeout: Duration,
    /// `MAXLEN ~` of the Redis stream; 0: no cap.
    pub redis_maxlen: u64,
    /// librdkafka properties (security, compression, ...), over tapir's defaults.
    pub kafka: BTreeMap<String, String>,
}

impl OutputSpec {
    /// `target` with every setting at its default.
    pub fn new(target: Target) -> OutputSpec {
        OutputSpec {
            target,
            queue_bytes: DEFAULT_QUEUE_BYTES,
            buffer_dir: None,
            buffer_max_bytes: DEFAULT_BUFFER_MAX_BYTES,
            batch: DEFAULT_BATCH,
            flush_timeout: DEFAULT_FLUSH_TIMEOUT,
            redis_maxlen: DEFAULT_REDIS_MAXLEN,
            kafka: BTreeMap::new(),
        }
    }

    /// The disk buffer directory of this output.
    pub fn spool_dir(&self) -> PathBuf {
        self.buffer_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("tapir-outbox"))
            .join(self.target.spool_name())
    }
}

/// Counters of one network output: a plain snapshot, cheap to take at any time.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutputStats {
    /// The target, with any password masked.
    pub target: String,
    /// Records the broker acknowledged.
    pub sent: u64,
    /// Send attempts that failed and were retried.
    pub retried: u64,
    /// Records written to the disk buffer (memory queue full, broker slow or down, or left at
    /// the end of a run).
    pub buffered: u64,
    /// Records lost: the disk buffer was full (oldest dropped) or could not be written.
    pub dropped: u64,
    /// Records found in the disk buffer at start (left by an earlier run), sent first.
    pub recovered: u64,
    /// Records waiting now, in memory and on disk.
    pub queued_memory: u64,
    pub queued_disk: u64,
    /// The last send succeeded.
    pub connected: bool,
    pub last_error: Option<String>,
}

impl std::fmt::Display for OutputStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: sent={} retried={} buffered={} dropped={} recovered={} queued_memory={} queued_disk={}",
            self.target,
            self.sent,
            self.retried,
            self.buffered,
            self.dropped,
            self.recovered,
            self.queued_memory,
            self.queued_disk
        )?;
        if let Some(e) = &self.last_error {
            write!(f, " last_error={e:?}")?;
        }
        Ok(())
    }
}

/// Why an output could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("output {target}: {message}")]
pub struct OpenError {
    pub target: String,
    pub message: String,
}

struct NetOutput {
    shared: Arc<queue::Shared>,
    thread: Option<JoinHandle<()>>,
    flush_timeout: Duration,
}

/// Cloneable view of the counters of every network output, for a metrics endpoint.
#[derive(Clone)]
pub struct Metrics(Arc<Vec<Arc<queue::Shared>>>);

impl Metrics {
    pub fn snapshot(&self) -> Vec<OutputStats> {
        self.0.iter().map(|s| s.snapshot()).collect()
    }
}

/// The open outputs of one sensor run.
pub struct Outputs {
    writer: Option<Box<dyn Write + Send>>,
    tap: Option<Box<dyn EventTap>>,
    net: Vec<NetOutput>,
}

/// How long a sender thread that is stuck in a broker call is waited for after its output was
/// given up on; its records are on disk by then (and it sends nothing more).
const JOIN_GRACE: Duration = Duration::from_secs(3);

impl Outputs {
    /// Opens every output: local files are created, disk buffers opened (and locked), broker
    /// clients built. Brokers are not contacted here: one that is down is retried by its
    /// sender thread while records queue up.
    ///
    /// # Errors
    /// A file or buffer directory that cannot be created, a buffer held by another running
    /// process, or broker settings the client refuses.
    pub fn open(specs: &[OutputSpec], identity: Arc<Identity>) -> Result<Outputs, OpenError> {
        let mut sinks: Vec<(OutputSpec, Box<dyn Sink>)> = Vec::new();
        for spec in specs.iter().filter(|s| s.target.is_network()) {
            let err = |message: String| OpenError {
                target: spec.target.to_string(),
                message,
            };
            let sink: Box<dyn Sink> = match &spec.target {
                Target::Redis {
                    auth,
                    host,
                    port,
                    stream,
                } => Box::new(
                    redis_sink::RedisSink::new(auth, host, *port, stream, spec.redis_maxlen)
                        .map_err(err)?,
                ),
                Target::Kafka { brokers, topic } => Box::new(
                    kafka_sink::KafkaSink::new(
                        brokers,
                        topic,
                        &format!("tapir-{}", identity.name()),
                        &spec.kafka,
                    )
                    .map_err(err)?,
                ),
                Target::Stdout | Target::File(_) => continue,
            };
            sinks.push((spec.clone(), sink));
        }
        let locals: Vec<&OutputSpec> = specs.iter().filter(|s| !s.target.is_network()).collect();
        let writer =
            local::open(&locals).map_err(|(target, message)| OpenError { target, message })?;
        Self::with_sinks(writer, sinks, identity)
    }

    /// Network outputs over the given sinks (tests, or brokers tapir does not know), with
    /// `writer` as the local output.
    ///
    /// # Errors
    /// A disk buffer that cannot be opened.
    pub fn with_sinks(
        writer: Box<dyn Write + Send>,
        sinks: Vec<(OutputSpec, Box<dyn Sink>)>,
        identity: Arc<Identity>,
    ) -> Result<Outputs, OpenError> {
        let mut net = Vec::new();
        for (spec, sink) in sinks {
            let dir = spec.spool_dir();
            let spool = spool::Spool::open(&dir, spec.buffer_max_bytes).map_err(|e| OpenError {
                target: spec.target.to_string(),
                message: format!("disk buffer {}: {e}", dir.display()),
            })?;
            let shared = Arc::new(queue::Shared::new(
                spec.target.to_string(),
                spec.queue_bytes,
                spool,
            ));
            let s = Arc::clone(&shared);
            let batch = spec.batch.max(1);
            let thread = std::thread::Builder::new()
                .name(format!("out-{}", spec.target.spool_name()))
                .spawn(move || sender::run(s, sink, batch))
                .map_err(|e| OpenError {
                    target: spec.target.to_string(),
                    message: format!("sender thread: {e}"),
                })?;
            net.push(NetOutput {
                shared,
                thread: Some(thread),
                flush_timeout: spec.flush_timeout,
            });
        }
        let tap: Option<Box<dyn EventTap>> = (!net.is_empty()).then(|| {
            Box::new(NetTap {
                identity,
                queues: net.iter().map(|n| Arc::clone(&n.shared)).collect(),
            }) as Box<dyn EventTap>
        });
        Ok(Outputs {
            writer: Some(writer),
            tap,
            net,
        })
    }

    /// The local outputs (stdout, files) as one writer; a sink when there are none.
    pub fn take_writer(&mut self) -> Box<dyn Write + Send> {
        self.writer
            .take()
            .unwrap_or_else(|| Box::new(std::io::sink()))
    }

    /// The tap that feeds the network outputs (`None` without any). It wants every line.
    pub fn take_tap(&mut self) -> Option<Box<dyn EventTap>> {
        self.tap.take()
    }

    pub fn metrics(&self) -> Metrics {
        Metrics(Arc::new(
            self.net.iter().map(|n| Arc::clone(&n.shared)).collect(),
        ))
    }

    /// Waits for every network output to deliver what it holds, each up to its
    /// `flush_timeout` (all at once); what is left goes to its disk buffer for the next start.
    /// Returns the final counters.
    pub fn close(mut self) -> Vec<OutputStats> {
        let start = Instant::now();
        let waits: Vec<_> = self
            .net
            .iter()
            .map(|n| {
                let shared = Arc::clone(&n.shared);
                let deadline = start + n.flush_timeout;
                std::thread::spawn(move || shared.drain(deadline))
            })
            .collect();
        for w in waits {
            let _ = w.join();
        }
        for n in &mut self.net {
            // Once the sender has stopped sending, its records are delivered or on disk; the
            // broker client's own shutdown is left to finish (or be cut by the exit).
            n.shared.wait_sender(Instant::now() + JOIN_GRACE);
            if let Some(t) = n.thread.take() {
                if t.is_finished() {
                    let _ = t.join();
                }
            }
        }
        self.net.iter().map(|n| n.shared.snapshot()).collect()
    }
}

/// Decorates each line once (host, event id) and queues it for every network output, so the
/// same event has the same id everywhere.
struct NetTap {
    identity: Arc<Identity>,
    queues: Vec<Arc<queue::Shared>>,
}

impl EventTap for NetTap {
    fn alerts_only(&self) -> bool {
        false
    }

    fn event(&mut self, line: &[u8]) {
        let rec = self.identity.decorate(line);
        if let Some((last, rest)) = self.queues.split_last() {
            for q in rest {
                q.push(rec.clone());
            }
            last.push(rec);
        }
    }
}
