//! A plain list, one address or CIDR a line (IPv4 first, then IPv6), written atomically to a
//! file and served over HTTP: the format firewalls pull as external dynamic lists (Palo Alto
//! EDL, FortiGate external threat feeds, OPNsense URL tables). Served paths:
//! `/blocklist.txt` (everything), `/blocklist-v4.txt`, `/blocklist-v6.txt`, and
//! `/blocklist/<origin>.txt` per rule (or `operator`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use super::{Backend, Desired, PushReport};
use crate::config::RespondConfig;
use crate::journal::write_atomic;

/// The rendered lists, shared with the HTTP thread.
#[derive(Debug, Default)]
pub struct Rendered {
    pub all: String,
    pub v4: String,
    pub v6: String,
    pub by_origin: BTreeMap<String, String>,
}

/// Renders the lists of a desired set.
pub fn render(next: &Desired) -> Rendered {
    let mut r = Rendered::default();
    for (net, e) in next {
        let line = format!("{net}\n");
        r.all.push_str(&line);
        if net.is_ipv4() {
            r.v4.push_str(&line);
        } else {
            r.v6.push_str(&line);
        }
        r.by_origin
            .entry(e.origin.clone())
            .or_default()
            .push_str(&line);
    }
    r
}

pub struct List {
    path: PathBuf,
    shared: Arc<RwLock<Rendered>>,
}

/// The HTTP server thread of the list; stopped and joined on drop.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Where it listens (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl List {
    /// The list backend; with `serve` and a `listen` address, its HTTP server too.
    ///
    /// # Errors
    /// The listen address cannot be bound.
    pub fn new(cfg: &RespondConfig, serve: bool) -> Result<(List, Option<Server>), String> {
        let shared = Arc::new(RwLock::new(Rendered::default()));
        let list = List {
            path: cfg.list_path(),
            shared: Arc::clone(&shared),
        };
        if !serve || cfg.list.listen.is_empty() {
            return Ok((list, None));
        }
        let http = tiny_http::Server::http(cfg.list.listen.as_str())
            .map_err(|e| format!("respond.list.listen {}: {e}", cfg.list.listen))?;
        let addr = http
            .server_addr()
            .to_ip()
            .ok_or_else(|| format!("respond.list.listen {}: not an IP address", cfg.list.listen))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("tapir-blocklist-http".into())
            .spawn(move || serve_loop(&http, &shared, &stop2))
            .map_err(|e| format!("blocklist HTTP thread: {e}"))?;
        Ok((
            list,
            Some(Server {
                addr,
                stop,
                thread: Some(thread),
            }),
        ))
    }

    fn write(&mut self, next: &Desired) -> Result<(), String> {
        let r = render(next);
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("list: {}: {e}", dir.display()))?;
        }
        write_atomic(&self.path, r.all.as_bytes()).map_err(|e| format!("list: {e}"))?;
        if let Ok(mut w) = self.shared.write() {
            *w = r;
        }
        Ok(())
    }
}

fn serve_loop(http: &tiny_http::Server, shared: &RwLock<Rendered>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let req = match http.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let get = matches!(
            req.method(),
            tiny_http::Method::Get | tiny_http::Method::Head
        );
        let url = req.url().split('?').next().unwrap_or("").to_string();
        let body = shared.read().ok().and_then(|r| match url.as_str() {
            "/blocklist.txt" => Some(r.all.clone()),
            "/blocklist-v4.txt" => Some(r.v4.clone()),
            "/blocklist-v6.txt" => Some(r.v6.clone()),
            u => u
                .strip_prefix("/blocklist/")
                .and_then(|o| o.strip_suffix(".txt"))
                .map(|o| r.by_origin.get(o).cloned().unwrap_or_default()),
        });
        let resp = match (get, body) {
            (true, Some(b)) => {
                let r = tiny_http::Response::from_string(b);
                match tiny_http::Header::from_bytes(
                    &b"Content-Type"[..],
                    &b"text/plain; charset=utf-8"[..],
                ) {
                    Ok(h) => r.with_header(h),
                    Err(()) => r,
                }
            }
            (false, _) => {
                tiny_http::Response::from_string("method not allowed\n").with_status_code(405)
            }
            (true, None) => tiny_http::Response::from_string("not found\n").with_status_code(404),
        };
        let _ = req.respond(resp);
    }
}

impl Backend for List {
    fn name(&self) -> &'static str {
        "list"
    }

    fn apply(&mut self, prev: &Desired, next: &Desired, now_ms: u64) -> Result<PushReport, String> {
        let (added, removed) = super::diff(prev, next, now_ms);
        // Expired entries leave the list too, though the diff does not count them as removed.
        if added.is_empty() && removed.is_empty() && prev.len() == next.len() {
            return Ok(PushReport::default());
        }
        self.write(next)?;
        Ok(PushReport {
            added: added.len(),
            removed: removed.len(),
            drift: 0,
        })
    }

    fn resync(&mut self, next: &Desired, _now_ms: u64) -> Result<PushReport, String> {
        let want = render(next).all;
        let have = std::fs::read_to_string(&self.path).ok();
        let drift = usize::from(have.as_deref() != Some(want.as_str()));
        if drift > 0 {
            self.write(next)?;
        } else if let Ok(mut w) = self.shared.write() {
            *w = render(next);
        }
        Ok(PushReport {
            added: 0,
            removed: 0,
            drift,
        })
    }
}
