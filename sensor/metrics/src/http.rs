//! The HTTP endpoint: `GET /metrics`, `GET /healthz`, nothing else.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use tiny_http::{Header, Method, Response, Server};

use crate::Metrics;

/// Where the endpoint listens unless configured: loopback only, on the port
/// suricata_exporter made the usual one for sensor metrics.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9917";

/// Prometheus text exposition format 0.0.4.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A running endpoint; stops when dropped.
pub struct MetricsServer {
    server: Arc<Server>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// The address bound (the port chosen when `:0` was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Binds `addr` and serves `metrics` from a thread of its own until the returned server is
/// dropped.
///
/// # Errors
/// The address cannot be bound (in use, not local, no permission).
pub fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> io::Result<MetricsServer> {
    let server = Server::http(addr).map_err(|e| io::Error::other(format!("{addr}: {e}")))?;
    let bound = server.server_addr().to_ip().unwrap_or(addr);
    let server = Arc::new(server);
    let s = Arc::clone(&server);
    let thread = std::thread::Builder::new()
        .name("tapir-metrics".into())
        .spawn(move || {
            for req in s.incoming_requests() {
                let resp = respond(&metrics, req.method(), req.url());
                // A scraper that hung up is its own problem.
                let _ = req.respond(resp);
            }
        })?;
    Ok(MetricsServer {
        server,
        addr: bound,
        thread: Some(thread),
    })
}

fn header(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn text(status: u16, body: &str) -> Response<io::Cursor<Vec<u8>>> {
    let r = Response::from_data(body.as_bytes().to_vec()).with_status_code(status);
    match header("Content-Type", "text/plain; charset=utf-8") {
        Some(h) => r.with_header(h),
        None => r,
    }
}

fn respond(m: &Metrics, method: &Method, url: &str) -> Response<io::Cursor<Vec<u8>>> {
    if !matches!(method, Method::Get | Method::Head) {
        return text(405, "only GET\n");
    }
    let path = url.split('?').next().unwrap_or(url);
    match path {
        "/metrics" => {
            let r = Response::from_data(m.render());
            match header("Content-Type", CONTENT_TYPE) {
                Some(h) => r.with_header(h),
                None => r,
            }
        }
        "/healthz" if m.healthy() => text(200, "ok\n"),
        "/healthz" => text(503, "no worker is running\n"),
        "/" => text(200, "tapir: see /metrics and /healthz\n"),
        _ => text(404, "not found\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use tapir_engine::board::Board;

    fn get(addr: SocketAddr, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(addr).expect("connect");
        write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").expect("send");
        let mut body = String::new();
        s.read_to_string(&mut body).expect("read");
        let status = body
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (status, body)
    }

    #[test]
    fn healthz_follows_the_workers_and_metrics_are_served() {
        let board = Board::new();
        let m = Metrics::new(Arc::clone(&board)).expect("metrics");
        let srv = serve("127.0.0.1:0".parse().expect("addr"), m).expect("serve");
        let addr = srv.local_addr();
        assert_ne!(addr.port(), 0);
        let (code, _) = get(addr, "/healthz");
        assert_eq!(code, 503, "no worker yet");
        let meter = board.meter(0);
        let (code, body) = get(addr, "/healthz");
        assert_eq!(code, 200);
        assert!(body.ends_with("ok\n"), "{body}");
        let (code, body) = get(addr, "/metrics");
        assert_eq!(code, 200);
        assert!(body.contains("text/plain; version=0.0.4"), "{body}");
        assert!(body.contains("tapir_workers_alive 1"), "{body}");
        assert!(
            body.contains("tapir_capture_packets_total{worker=\"0\"} 0"),
            "{body}"
        );
        drop(meter);
        let (code, _) = get(addr, "/healthz");
        assert_eq!(code, 503, "the worker is gone");
        assert_eq!(get(addr, "/nope").0, 404);
        // Stopping joins the serving thread.
        drop(srv);
    }
}
