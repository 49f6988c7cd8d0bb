//! The sender thread of one network output and the [`Sink`] it sends through.

use std::sync::Arc;
use std::time::Duration;

use crate::queue::Shared;

/// Why a send failed and which records did not get through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    /// Indices (ascending) of the records the broker did not take; all of them when unknown.
    pub undelivered: Vec<usize>,
    pub message: String,
}

impl SendError {
    /// Nothing is known to have arrived.
    pub fn all(n: usize, message: impl Into<String>) -> SendError {
        SendError {
            undelivered: (0..n).collect(),
            message: message.into(),
        }
    }
}

/// A broker connection. Runs on the output's own sender thread: it may block, within its own
/// timeouts (a send that hangs delays the shutdown of this output, never the sensor).
pub trait Sink: Send {
    /// Sends `records` (decorated EVE lines) in order. A record may arrive and still be
    /// reported undelivered (it is then sent again: delivery is at-least-once).
    ///
    /// # Errors
    /// The records that did not get through, and why.
    fn send(&mut self, records: &[Vec<u8>]) -> Result<(), SendError>;
}

/// First wait after a failed send; doubles up to [`BACKOFF_MAX`].
pub const BACKOFF_MIN: Duration = Duration::from_millis(100);
pub const BACKOFF_MAX: Duration = Duration::from_secs(2);

pub fn run(shared: Arc<Shared>, mut sink: Box<dyn Sink>, batch: usize) {
    let mut backoff = BACKOFF_MIN;
    while let Some(b) = shared.next_batch(batch) {
        match sink.send(&b.records) {
            Ok(()) => {
                shared.set_connected(true);
                shared.delivered(&[]);
                backoff = BACKOFF_MIN;
            }
            Err(e) => {
                let partial = e.undelivered.len() < b.records.len();
                shared.delivered(&e.undelivered);
                shared.failed(e.message);
                if !partial && !shared.backoff(backoff) {
                    break;
                }
                if !partial {
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }
    shared.sender_exited();
    // Let go of the queue (and its disk buffer lock) before the sink: closing a broker client
    // can take a while (librdkafka's destroy waits up to a second for its threads) and
    // nothing waits for it.
    drop(shared);
    drop(sink);
}
