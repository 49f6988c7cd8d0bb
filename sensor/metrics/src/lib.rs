//! tapir-metrics: what a running sensor counts, for Prometheus.
//!
//! [`serve`] starts an HTTP endpoint (one thread, blocking I/O) with `/metrics` (Prometheus text
//! format) and `/healthz` (`200 ok` while every worker is alive, `503` otherwise). The
//! numbers come from three places, read at each scrape:
//! - the engine's [`Board`], where each worker publishes its counters every quarter second
//!   (packets, bytes, decode errors, flows, reassembly and defrag memory and drops, app-layer
//!   events, queue depth, busy ratio) and live capture registers its kernel counters;
//! - the EVE alert lines, through the tap from [`Metrics::alert_tap`] (alerts by category and
//!   ATT&CK technique, intel hits by feed and type);
//! - intel loads and reloads, recorded by [`intel_loaded`] and [`intel_load_failed`].
//!
//! No label value comes from traffic: labels carry worker indices, reasons and protocols named
//! in code, feed names from the configuration, and alert categories and technique ids from
//! rules, each checked and capped (see [`labels`]).

#![forbid(unsafe_code)]

pub mod alerts;
mod families;
mod http;
pub mod intel;
pub mod labels;

use std::sync::{Arc, Mutex};

use tapir_engine::board::Board;
use tapir_engine::tap::EventTap;

pub use crate::http::{serve, MetricsServer, DEFAULT_LISTEN};
pub use crate::intel::{intel_load_failed, intel_loaded};

use crate::alerts::{AlertCounts, AlertTap};
use crate::families::Families;

/// Everything a scrape reads.
pub struct Metrics {
    board: Arc<Board>,
    alerts: Arc<Mutex<AlertCounts>>,
    families: Mutex<Families>,
}

impl Metrics {
    /// Metrics over `board`.
    ///
    /// # Errors
    /// Only on a programming error in the metric definitions (a duplicate or invalid name).
    pub fn new(board: Arc<Board>) -> prometheus::Result<Arc<Metrics>> {
        Ok(Arc::new(Metrics {
            board,
            alerts: Arc::new(Mutex::new(AlertCounts::default())),
            families: Mutex::new(Families::new()?),
        }))
    }

    /// A tap for the output writer (`tapir_engine::tap::TapWriter`) that counts alerts.
    pub fn alert_tap(&self) -> Box<dyn EventTap> {
        Box::new(AlertTap {
            counts: Arc::clone(&self.alerts),
        })
    }

    /// The board the workers publish to.
    pub fn board(&self) -> &Arc<Board> {
        &self.board
    }

    /// Every worker is running and reporting (see `Board::healthy`).
    pub fn healthy(&self) -> bool {
        self.board.healthy()
    }

    /// The current numbers in Prometheus text format.
    pub fn render(&self) -> Vec<u8> {
        use prometheus::Encoder;
        let view = intel::view();
        let fam = self
            .families
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        {
            let a = alerts::lock(&self.alerts);
            fam.update(&self.board, &a, &view);
        }
        let mut out = Vec::with_capacity(16 << 10);
        // Encoding to a Vec cannot fail on I/O; a failure would be an invalid metric family,
        // and a partial page is still better than none.
        let _ = prometheus::TextEncoder::new().encode(&fam.registry.gather(), &mut out);
        out
    }
}
