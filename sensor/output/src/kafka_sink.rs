//! Kafka through librdkafka's `BaseProducer` (no async runtime): a batch is produced, then the
//! producer is flushed until every record has its delivery report. Records are keyed by the
//! event's `flow_id`, so librdkafka's default partitioner (a hash of the key) puts a flow's
//! events in one partition, in order.
//!
//! librdkafka retries on its own inside `message.timeout.ms` (10 s here unless the config says
//! otherwise); what it gives up on is reported undelivered and sent again by the sender thread,
//! which holds at most one batch in librdkafka at a time (the memory bound stays ours).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{
    BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig,
};
use rdkafka::ClientContext;

use crate::record::flow_id;
use crate::sender::{SendError, Sink};

const DEFAULT_MESSAGE_TIMEOUT_MS: u64 = 10_000;

/// Collects delivery reports of the batch being sent. A record counts as delivered only on a
/// successful report: one without any report (purged, lost) is sent again.
#[derive(Default)]
struct Reports {
    delivered: Mutex<Vec<usize>>,
    last_error: Mutex<Option<String>>,
}

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, index: usize) {
        match result {
            Ok(_) => self
                .delivered
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(index),
            Err((e, _)) => {
                *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
            }
        }
    }
}

pub struct KafkaSink {
    producer: BaseProducer<Reports>,
    topic: String,
    /// How long one batch may wait for its delivery reports before what is left is purged.
    wait: Duration,
    /// The topic's metadata is known: records are assigned partitions at once instead of
    /// waiting for librdkafka's once-a-second scan of unknown topics.
    ready: bool,
}

/// How long the metadata request of the first send (and of a send after a failure) may take.
const METADATA_TIMEOUT: Duration = Duration::from_secs(2);

impl KafkaSink {
    /// `properties`: librdkafka settings from the config (`[output.kafka]`), applied over
    /// tapir's defaults; `bootstrap.servers` comes from the target.
    ///
    /// # Errors
    /// librdkafka refuses a property (the message names it).
    pub fn new(
        brokers: &[String],
        topic: &str,
        client_id: &str,
        properties: &BTreeMap<String, String>,
    ) -> Result<KafkaSink, String> {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", brokers.join(","))
            .set("client.id", client_id)
            .set("message.timeout.ms", DEFAULT_MESSAGE_TIMEOUT_MS.to_string())
            // Each batch waits for its acknowledgements: Nagle's delay would add tens of
            // milliseconds to every one of them.
            .set("socket.nagle.disable", "true");
        for (k, v) in properties {
            cfg.set(k, v);
        }
        let timeout_ms: u64 = cfg
            .get("message.timeout.ms")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_MESSAGE_TIMEOUT_MS);
        let producer: BaseProducer<Reports> = cfg
            .create_with_context(Reports::default())
            .map_err(|e| e.to_string())?;
        Ok(KafkaSink {
            producer,
            topic: topic.to_string(),
            wait: Duration::from_millis(timeout_ms) + Duration::from_secs(5),
            ready: false,
        })
    }
}

impl Sink for KafkaSink {
    fn send(&mut self, records: &[Vec<u8>]) -> Result<(), SendError> {
        if !self.ready {
            // Also a quick check that a broker answers at all.
            self.producer
                .client()
                .fetch_metadata(Some(&self.topic), METADATA_TIMEOUT)
                .map_err(|e| SendError::all(records.len(), format!("kafka: metadata: {e}")))?;
            self.ready = true;
        }
        let reports = self.producer.context();
        reports
            .delivered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        let mut refused: Option<String> = None;
        let deadline = Instant::now() + self.wait;
        for (i, r) in records.iter().enumerate() {
            let key = flow_id(r);
            let mut rec = BaseRecord::with_opaque_to(&self.topic, i).payload(r.as_slice());
            if let Some(k) = key {
                rec = rec.key(k);
            }
            loop {
                match self.producer.send(rec) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                        if Instant::now() < deadline =>
                    {
                        rec = back;
                        self.producer.poll(Duration::from_millis(10));
                    }
                    Err((e, _)) => {
                        refused = Some(e.to_string());
                        break;
                    }
                }
            }
        }
        while self.producer.in_flight_count() > 0 && Instant::now() < deadline {
            let _ = self.producer.flush(Duration::from_millis(200));
        }
        if self.producer.in_flight_count() > 0 {
            // Take back what librdkafka still holds: their reports come back as purged, and
            // the records are sent again with the next attempt.
            self.producer
                .purge(PurgeConfig::default().queue().inflight());
            let _ = self.producer.flush(Duration::from_secs(1));
        }
        let mut ok = vec![false; records.len()];
        for &i in reports
            .delivered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            if let Some(slot) = ok.get_mut(i) {
                *slot = true;
            }
        }
        let undelivered: Vec<usize> = (0..records.len()).filter(|&i| !ok[i]).collect();
        if undelivered.is_empty() {
            return Ok(());
        }
        self.ready = false;
        let why = refused
            .or_else(|| {
                reports
                    .last_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
            })
            .unwrap_or_else(|| "no delivery report".into());
        Err(SendError {
            message: format!(
                "kafka: {} of {} records not delivered: {why}",
                undelivered.len(),
                records.len()
            ),
            undelivered,
        })
    }
}
