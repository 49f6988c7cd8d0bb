//! Network namespaces for firewall tests: two namespaces joined by a veth pair, created with
//! unique names and removed on drop (also when a test fails). The firewall (nft, ipset) runs
//! in `fw`; clients connect from `peer`. Addresses exist only inside them:
//! fw 198.18.0.1/24; peer 198.18.0.2, .3, .6, .9 (/24) and 2001:db8:1::2 (fw has ::1).
//! Test threads enter a namespace with setns(2) to open sockets there.

#![allow(dead_code)]

use std::fs::File;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub const FW: &str = "198.18.0.1";
pub const PORT: u16 = 7411;

fn sh(args: &[&str]) -> Result<(), String> {
    let o = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args[0]))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr)
        ))
    }
}

/// Root and the tools are needed; otherwise the test says so in one line and passes.
pub fn can_run(tools: &[&str]) -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    let missing: Vec<&&str> = tools
        .iter()
        .filter(|t| {
            Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .output()
                .map_or(true, |o| !o.status.success())
        })
        .collect();
    if !root || !missing.is_empty() {
        eprintln!("skipped: needs root and {tools:?} (missing: {missing:?})");
        return false;
    }
    true
}

pub struct Pair {
    pub fw: String,
    pub peer: String,
    pub dir: PathBuf,
    stop: Arc<AtomicBool>,
    server: Option<std::thread::JoinHandle<()>>,
}

impl Pair {
    /// Namespaces, veth, addresses, a TCP server on fw:PORT, and a scratch directory.
    pub fn new(tag: &str) -> Pair {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let base = format!("tpr{}{}{}", std::process::id(), tag, n);
        let dir = std::env::temp_dir().join(format!("tapir-respond-it-{base}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let mut p = Pair {
            fw: format!("{base}f"),
            peer: format!("{base}p"),
            dir,
            stop: Arc::new(AtomicBool::new(false)),
            server: None,
        };
        // From here on, Drop cleans up whatever was made.
        let (fw, peer) = (p.fw.clone(), p.peer.clone());
        let steps: Vec<Vec<&str>> = vec![
            vec!["ip", "netns", "add", &fw],
            vec!["ip", "netns", "add", &peer],
            vec![
                "ip", "-n", &fw, "link", "add", "v0", "type", "veth", "peer", "name", "v1",
                "netns", &peer,
            ],
            vec!["ip", "-n", &fw, "addr", "add", "198.18.0.1/24", "dev", "v0"],
            vec![
                "ip",
                "-n",
                &fw,
                "addr",
                "add",
                "2001:db8:1::1/64",
                "dev",
                "v0",
                "nodad",
            ],
            vec![
                "ip",
                "-n",
                &peer,
                "addr",
                "add",
                "198.18.0.2/24",
                "dev",
                "v1",
            ],
            vec![
                "ip",
                "-n",
                &peer,
                "addr",
                "add",
                "198.18.0.3/24",
                "dev",
                "v1",
            ],
            vec![
                "ip",
                "-n",
                &peer,
                "addr",
                "add",
                "198.18.0.6/24",
                "dev",
                "v1",
            ],
            vec![
                "ip",
                "-n",
                &peer,
                "addr",
                "add",
                "198.18.0.9/24",
                "dev",
                "v1",
            ],
            vec![
                "ip",
                "-n",
                &peer,
                "addr",
                "add",
                "2001:db8:1::2/64",
                "dev",
                "v1",
                "nodad",
            ],
            vec!["ip", "-n", &fw, "link", "set", "v0", "up"],
            vec!["ip", "-n", &peer, "link", "set", "v1", "up"],
            vec!["ip", "-n", &fw, "link", "set", "lo", "up"],
            vec!["ip", "-n", &peer, "link", "set", "lo", "up"],
        ];
        for s in steps {
            sh(&s).expect("namespace setup");
        }
        let stop = Arc::clone(&p.stop);
        let ns = p.fw.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        p.server = Some(std::thread::spawn(move || {
            enter(&ns);
            let l = TcpListener::bind(("::", PORT)).expect("bind server");
            l.set_nonblocking(true).expect("nonblocking");
            let _ = tx.send(());
            while !stop.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((s, _)) => drop(s),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        }));
        rx.recv_timeout(Duration::from_secs(5)).expect("server up");
        p
    }

    /// A script that runs `tool` inside the fw namespace, for a backend's `*_path`.
    pub fn wrapper(&self, tool: &str) -> PathBuf {
        let p = self.dir.join(format!("bin/{tool}"));
        self.write_wrapper(&p, tool);
        p
    }

    pub fn write_wrapper(&self, p: &Path, tool: &str) {
        std::fs::create_dir_all(p.parent().expect("parent")).expect("bin dir");
        let tmp = p.with_extension("tmp");
        std::fs::write(
            &tmp,
            format!("#!/bin/sh\nexec ip netns exec {} {tool} \"$@\"\n", self.fw),
        )
        .expect("wrapper");
        let _ = Command::new("chmod")
            .args(["755", tmp.to_str().expect("utf8")])
            .status();
        std::fs::rename(&tmp, p).expect("wrapper in place");
    }

    /// Runs a command in the fw namespace; stdout.
    pub fn fw_cmd(&self, args: &[&str]) -> Result<String, String> {
        let o = Command::new("ip")
            .args(["netns", "exec", &self.fw])
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if o.status.success() {
            Ok(String::from_utf8_lossy(&o.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&o.stderr).into_owned())
        }
    }

    /// Elements of one of tapir's nft sets, as nft prints them (`198.18.0.4/30`).
    pub fn nft_elements(&self, set: &str) -> Vec<String> {
        let Ok(json) = self.fw_cmd(&["nft", "-j", "list", "set", "inet", "tapir", set]) else {
            return Vec::new();
        };
        let v: serde_json::Value = serde_json::from_str(&json).expect("nft json");
        let mut out = Vec::new();
        for it in v["nftables"].as_array().into_iter().flatten() {
            for e in it["set"]["elem"].as_array().into_iter().flatten() {
                let val = if e.get("elem").is_some() {
                    &e["elem"]["val"]
                } else {
                    e
                };
                if let Some(s) = val.as_str() {
                    out.push(s.to_string());
                } else if let Some(p) = val.get("prefix") {
                    out.push(format!(
                        "{}/{}",
                        p["addr"].as_str().unwrap_or("?"),
                        p["len"]
                    ));
                }
            }
        }
        out.sort();
        out
    }

    /// A TCP connection from `src` (an address of peer) to fw:PORT within `wait`.
    pub fn connects(&self, src: &str, wait: Duration) -> bool {
        let ns = self.peer.clone();
        let src: IpAddr = src.parse().expect("src addr");
        let dst: IpAddr = if src.is_ipv4() {
            FW.parse().expect("fw")
        } else {
            "2001:db8:1::1".parse().expect("fw6")
        };
        std::thread::spawn(move || {
            enter(&ns);
            bind_connect(src, SocketAddr::new(dst, PORT), wait)
        })
        .join()
        .expect("client thread")
    }
}

/// A non-blocking connect from a socket bound to `src`: `true` once established within
/// `wait`; a dropped SYN leaves it pending, a reset or refusal shows as a socket error.
fn bind_connect(src: IpAddr, dst: SocketAddr, wait: Duration) -> bool {
    use rustix::net::{bind, connect, socket, AddressFamily, SocketType};
    let fam = if src.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    let Ok(fd) = socket(fam, SocketType::STREAM, None) else {
        return false;
    };
    if bind(&fd, &SocketAddr::new(src, 0)).is_err() {
        return false;
    }
    let stream = TcpStream::from(fd);
    stream.set_nonblocking(true).expect("nonblocking");
    let fd = stream.as_fd();
    match connect(fd, &dst) {
        Ok(()) => return true,
        Err(e) if e == rustix::io::Errno::INPROGRESS => {}
        Err(_) => return false,
    }
    let deadline = std::time::Instant::now() + wait;
    while std::time::Instant::now() < deadline {
        // Connected once the peer address is known; refused or reset shows in take_error.
        if let Ok(Some(_)) = stream.take_error() {
            return false;
        }
        if stream.peer_addr().is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Moves the calling thread into a named network namespace.
pub fn enter(ns: &str) {
    let f = File::open(format!("/run/netns/{ns}")).expect("netns file");
    rustix::thread::move_into_link_name_space(
        f.as_fd(),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )
    .expect("setns");
}

impl Drop for Pair {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(s) = self.server.take() {
            let _ = s.join();
        }
        let _ = sh(&["ip", "netns", "del", &self.fw]);
        let _ = sh(&["ip", "netns", "del", &self.peer]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
