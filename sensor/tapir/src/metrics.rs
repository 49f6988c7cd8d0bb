//! The Prometheus endpoint as the commands start it (see the `tapir-metrics` crate for what
//! it serves): bound from `[metrics]` or `--metrics ADDR`, with a tap counting alerts on the
//! EVE output.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use tapir_engine::board::Board;
use tapir_engine::tap::TapWriter;
use tapir_metrics::{Metrics, MetricsServer};

/// A serving endpoint; it stops when dropped.
pub struct Endpoint {
    pub metrics: Arc<Metrics>,
    /// Held for its drop, which stops serving.
    _server: MetricsServer,
}

impl Endpoint {
    /// Wraps the EVE writer so that alerts are counted as they are written.
    pub fn tap_output<'a>(&self, out: Box<dyn Write + Send + 'a>) -> Box<dyn Write + Send + 'a> {
        Box::new(TapWriter::new(out, vec![self.metrics.alert_tap()]))
    }
}

/// Serves metrics over `board` on `listen` and says where on stderr
/// (`tapir: metrics: http://ADDR/metrics`).
///
/// # Errors
/// The address cannot be bound; the message names `metrics.listen`.
pub fn start(listen: SocketAddr, board: &Arc<Board>) -> anyhow::Result<Endpoint> {
    let metrics = Metrics::new(Arc::clone(board)).map_err(|e| anyhow::anyhow!("metrics: {e}"))?;
    let server = tapir_metrics::serve(listen, Arc::clone(&metrics))
        .map_err(|e| anyhow::anyhow!("metrics.listen {listen}: {e}"))?;
    eprintln!(
        "tapir: metrics: http://{}/metrics (health: /healthz)",
        server.local_addr()
    );
    Ok(Endpoint {
        metrics,
        _server: server,
    })
}
