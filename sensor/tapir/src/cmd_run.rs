//! `tapir run`: live capture as a service. Interfaces from `-i` or `capture.interfaces`;
//! outputs, intel, patterns and workers as `replay` takes them; works without a config file.
//!
//! Signals: SIGTERM and SIGINT stop capture, drain the queues, end every open flow, flush the
//! outputs and exit 0 (a second SIGINT exits at once). SIGHUP rebuilds the intel set and
//! reloads the payload patterns, swapping them in (as in replay), and reopens output files,
//! for logrotate.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tapir_capture::live::CaptureKind;
use tapir_engine::{LiveCapture, LiveReport, ReplayOptions, ReplayReport};
use tapir_output::Target;

use crate::{config, metrics, outputs, service};

/// Flags of `tapir run`; each overrides the configuration file.
#[derive(clap::Args)]
pub struct RunArgs {
    /// TOML configuration file (see tapir.example.toml); flags override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Interface to capture on (repeatable; replaces capture.interfaces).
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    interfaces: Vec<String>,
    /// Where EVE JSON lines go; `-` is stdout (shorthand for --output file:PATH). Files are
    /// appended to, and reopened on SIGHUP.
    #[arg(long = "eve", value_name = "PATH")]
    eve: Option<String>,
    /// An output (repeatable; replaces [[output]]): `-`, file:PATH,
    /// redis://HOST:PORT/STREAM or kafka://BROKER[,BROKER...]/TOPIC.
    #[arg(long = "output", value_name = "TARGET")]
    output: Vec<String>,
    /// Intel list file, or a directory of them (repeatable; replaces intel.paths).
    #[arg(long = "intel", value_name = "PATH")]
    intel: Vec<PathBuf>,
    /// Payload pattern file or directory (repeatable; replaces patterns.paths).
    #[arg(long = "patterns", value_name = "PATH")]
    patterns: Vec<PathBuf>,
    /// Worker threads (default: one per core). With afpacket, one ring per worker and
    /// interface.
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// Capture kind: afpacket or pcap (replaces capture.kind).
    #[arg(long = "capture", value_name = "KIND")]
    capture: Option<String>,
    /// BPF filter expression, tcpdump syntax (replaces capture.bpf).
    #[arg(long, value_name = "EXPR")]
    bpf: Option<String>,
    /// Also rebuild the intel set every MS milliseconds (SIGHUP does it at any time).
    #[arg(long, value_name = "MS")]
    reload_intel_every: Option<u64>,
    /// Serve Prometheus metrics on ADDR (IP:PORT): /metrics and /healthz (turns on and
    /// overrides [metrics]).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
}

/// Runs `tapir run` until SIGTERM or SIGINT.
///
/// # Errors
/// Bad flags or configuration, intel or patterns that cannot be loaded, an interface that
/// cannot be opened (each names what to fix), or an output that fails.
pub fn run(a: RunArgs) -> anyhow::Result<()> {
    let mut cfg = match &a.config {
        Some(p) => config::load(p)?,
        None => config::Config::default(),
    };
    if !a.intel.is_empty() {
        cfg.intel = a.intel;
    }
    if !a.patterns.is_empty() {
        cfg.patterns = a.patterns;
    }
    outputs::apply_flags(&mut cfg, a.eve.as_deref(), &a.output)?;
    if let Some(w) = a.workers {
        anyhow::ensure!(w >= 1, "--workers: must be at least 1");
        cfg.pipeline.workers = w;
    }
    if let Some(k) = &a.capture {
        cfg.live.kind = CaptureKind::parse(k).map_err(|m| anyhow::anyhow!("--capture: {m}"))?;
    }
    if let Some(b) = a.bpf {
        cfg.live.bpf = Some(b).filter(|b| !b.trim().is_empty());
    }
    if !a.interfaces.is_empty() {
        cfg.live.interfaces = a.interfaces;
    }
    if let Some(m) = &a.metrics {
        cfg.metrics_enabled = true;
        cfg.metrics_listen =
            config::parse_listen(m).map_err(|e| anyhow::anyhow!("--metrics: {e}"))?;
    }
    anyhow::ensure!(
        !cfg.live.interfaces.is_empty(),
        "no interface to capture on: give -i IFACE or capture.interfaces"
    );
    // Signals are caught from the start, so a stop during a long intel load is not lost.
    let signals = Signals::register()?;
    run_live(&cfg, &signals, a.reload_intel_every)
}

/// The flags the signal handlers raise.
struct Signals {
    stop: Arc<AtomicBool>,
    hup_intel: Arc<AtomicBool>,
    hup_reopen: Arc<AtomicBool>,
}

impl Signals {
    fn register() -> anyhow::Result<Signals> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let s = Signals {
            stop: Arc::new(AtomicBool::new(false)),
            hup_intel: Arc::new(AtomicBool::new(false)),
            hup_reopen: Arc::new(AtomicBool::new(false)),
        };
        for sig in [SIGTERM, SIGINT] {
            // A second one while stopping exits at once (exit status 1).
            signal_hook::flag::register_conditional_shutdown(sig, 1, Arc::clone(&s.stop))?;
            signal_hook::flag::register(sig, Arc::clone(&s.stop))?;
        }
        signal_hook::flag::register(SIGHUP, Arc::clone(&s.hup_intel))?;
        signal_hook::flag::register(SIGHUP, Arc::clone(&s.hup_reopen))?;
        Ok(s)
    }
}

fn run_live(
    cfg: &config::Config,
    signals: &Signals,
    reload_every_ms: Option<u64>,
) -> anyhow::Result<()> {
    let board = tapir_engine::board::Board::new();
    let endpoint = if cfg.metrics_enabled {
        Some(metrics::start(cfg.metrics_listen, &board)?)
    } else {
        None
    };
    let mut source = crate::IntelSource::new(cfg)?;
    let intel = source.load_first()?;
    let swap = Arc::new(arc_swap::ArcSwap::new(Arc::clone(&intel)));
    let done = Arc::new(AtomicBool::new(false));
    let patterns = crate::load_patterns(cfg)?;
    let reloader = crate::Reloader::start(
        cfg,
        source,
        patterns.as_ref(),
        &swap,
        &signals.hup_intel,
        &done,
        reload_every_ms,
    );
    // Sockets before outputs: a wrong interface or filter fails before any file is touched.
    let capture = LiveCapture::open(&cfg.live, cfg.pipeline.workers)?;
    let mut out_cfg = cfg.clone();
    out_cfg.outputs.retain(|s| !is_local(&s.target));
    let mut outs = outputs::open(&out_cfg)?;
    let local = LocalOutputs::open(cfg, Arc::clone(&signals.hup_reopen))?;
    let mut out: Box<dyn Write + Send> = match outs.take_tap() {
        Some(t) => Box::new(tapir_engine::tap::TapWriter::new(local, vec![t])),
        None => Box::new(local),
    };
    if let Some(ep) = &endpoint {
        out = ep.tap_output(out);
    }
    let hunts = match crate::run_hunts::attach(cfg)? {
        Some((h, tap)) => {
            out = Box::new(tapir_engine::tap::TapWriter::new(out, vec![tap]));
            Some(h)
        }
        None => None,
    };
    let responder = crate::cmd_block::attach(&cfg.respond, &mut out)?;
    let opts = ReplayOptions {
        pipeline: cfg.pipeline.clone(),
        patterns,
        pattern_depth: cfg.pattern_depth,
        intel_swap: reloader.intel_swap.clone(),
        pattern_swap: reloader.pattern_swap.clone(),
        board: Some(Arc::clone(&board)),
        detect: cfg.detect.clone(),
        ..ReplayOptions::default()
    };
    let what = format!(
        "capturing on {} ({}, {} workers)",
        cfg.live.interfaces.join(","),
        cfg.live.kind.name(),
        cfg.pipeline.workers.max(1)
    );
    eprintln!("tapir: {what}");
    service::status(&what);
    service::ready();
    let watchdog_stop = Arc::new(AtomicBool::new(false));
    let watchdog = service::watchdog_loop(Arc::clone(&board), Arc::clone(&watchdog_stop));
    let announcer = announce_stop(Arc::clone(&signals.stop), Arc::clone(&done));
    let report = capture.run(intel, cfg.engine.clone(), &opts, &signals.stop, &mut *out);
    done.store(true, Ordering::Relaxed);
    watchdog_stop.store(true, Ordering::Relaxed);
    let _ = announcer.join();
    if let Some(h) = watchdog {
        let _ = h.join();
    }
    reloader.finish();
    drop(out);
    crate::cmd_block::finish(responder);
    let out_stats = outs.close();
    let report = report?;
    let counters: Vec<String> = report
        .stats
        .counters()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    eprintln!("tapir: counters: {}", counters.join(" "));
    outputs::report(&out_stats);
    if let Some(h) = hunts {
        h.report(
            &cfg.live
                .interfaces
                .iter()
                .map(PathBuf::from)
                .collect::<Vec<_>>(),
        )?;
    }
    let lost = report.lost.clone();
    // The summary is the last line of every run.
    eprintln!("{}", summary_line(report));
    match lost {
        Some(why) => Err(anyhow::anyhow!("capture stopped: {why}")),
        None => Ok(()),
    }
}

/// Says on stderr (and to systemd) when a stop was asked for: draining can take a moment.
fn announce_stop(stop: Arc<AtomicBool>, done: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !done.load(Ordering::Relaxed) {
            if stop.load(Ordering::Relaxed) {
                eprintln!("tapir: stopping: draining capture, ending flows, flushing outputs");
                service::stopping();
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })
}

/// Replay's summary line plus the kernel's counters: `kernel_packets` (what the kernel passed
/// to tapir's sockets, drops included) and `kernel_drops` (lost because a ring was full).
fn summary_line(r: LiveReport) -> String {
    let k = r.kernel_total();
    let line = crate::summary_line(&ReplayReport {
        stats: r.stats,
        warnings: r.warnings,
        elapsed: r.elapsed,
        workers: r.workers,
    });
    format!(
        "{line} kernel_packets={} kernel_drops={}",
        k.packets, k.drops
    )
}

/// Loads the payload patterns, reporting errors as warnings (as replay does).
fn is_local(t: &Target) -> bool {
    matches!(t, Target::Stdout | Target::File(_))
}

/// Stdout and files for a long-running capture: files are appended to (a restart does not
/// wipe the day's events) and reopened after SIGHUP (logrotate moves them away first);
/// nothing is held in a buffer, so every line written is in the file at once. Each write is
/// one worker's batch of whole lines, so this costs one system call per batch, not per line.
struct LocalOutputs {
    targets: Vec<Local>,
    reopen: Arc<AtomicBool>,
}

enum Local {
    Stdout(io::Stdout),
    File { path: PathBuf, file: File },
}

fn open_append(path: &std::path::Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl LocalOutputs {
    fn open(cfg: &config::Config, reopen: Arc<AtomicBool>) -> anyhow::Result<Self> {
        let mut targets = Vec::new();
        for s in &cfg.outputs {
            match &s.target {
                Target::Stdout => targets.push(Local::Stdout(io::stdout())),
                Target::File(p) => {
                    let file = open_append(p).map_err(|e| {
                        anyhow::anyhow!("{}: cannot open EVE output: {e}", p.display())
                    })?;
                    targets.push(Local::File {
                        path: p.clone(),
                        file,
                    });
                }
                _ => {}
            }
        }
        Ok(LocalOutputs { targets, reopen })
    }

    fn reopen_files(&mut self) {
        for t in &mut self.targets {
            if let Local::File { path, file } = t {
                match open_append(path) {
                    Ok(f) => *file = f,
                    // Keep writing to the old file rather than lose events.
                    Err(e) => eprintln!(
                        "tapir: warning: {}: cannot reopen, still writing to the old file: {e}",
                        path.display()
                    ),
                }
            }
        }
    }
}

impl Write for LocalOutputs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.reopen.swap(false, Ordering::Relaxed) {
            self.reopen_files();
        }
        for t in &mut self.targets {
            match t {
                Local::Stdout(s) => {
                    let mut l = s.lock();
                    l.write_all(buf)?;
                    l.flush()?;
                }
                Local::File { file, .. } => file.write_all(buf)?,
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        for t in &mut self.targets {
            match t {
                Local::Stdout(s) => s.flush()?,
                Local::File { file, .. } => file.flush()?,
            }
        }
        Ok(())
    }
}
