//! `tapir`: the sensor's command line. Kept thin: parse flags and the config file, load intel,
//! hand off to the engine.

#![forbid(unsafe_code)]

mod cmd_block;
mod cmd_hunt;
mod cmd_rules;
mod cmd_run;
mod metrics;
mod pattern_reload;
mod progress;
mod run_hunts;
mod service;

// In the library (src/lib.rs) so that tests/fuzz can link the config loader.
use tapir::{config, outputs};

use pattern_reload::{load_patterns, PatternReload};

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tapir_engine::{replay_with, ReplayOptions, ReplayReport};
use tapir_intel::IntelDb;

#[derive(Parser)]
#[command(
    name = "tapir",
    version,
    about = "Network sensor for intelligence-driven threat hunting"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Replay pcap/pcapng files and write EVE JSON events.
    Replay {
        /// TOML configuration file (see tapir.example.toml); flags override it.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Intel list file, or a directory of them (repeatable; replaces intel.paths).
        #[arg(long = "intel", value_name = "PATH")]
        intel: Vec<PathBuf>,
        /// Payload pattern file (patterns*.txt, patterns*.rules) or directory (repeatable;
        /// replaces patterns.paths).
        #[arg(long = "patterns", value_name = "PATH")]
        patterns: Vec<PathBuf>,
        /// Where EVE JSON lines go; `-` is stdout (shorthand for --output file:PATH).
        #[arg(long = "eve", value_name = "PATH")]
        eve: Option<String>,
        /// An output (repeatable; replaces [[output]]): `-`, file:PATH,
        /// redis://HOST:PORT/STREAM or kafka://BROKER[,BROKER...]/TOPIC.
        #[arg(long = "output", value_name = "TARGET")]
        output: Vec<String>,
        /// Worker threads (default: one per core).
        #[arg(long, value_name = "N")]
        workers: Option<usize>,
        /// Offline reader: native or libpcap.
        #[arg(long, value_name = "KIND")]
        reader: Option<String>,
        /// Rebuild the intel set from its paths every MS milliseconds while replaying and swap
        /// it in (SIGHUP does the same at any time). Workers never wait for a reload.
        #[arg(long, value_name = "MS")]
        reload_intel_every: Option<u64>,
        /// Write what fired back for the intel platform: PREFIX.stix.json (STIX 2.1 sighting
        /// objects referencing the indicators) and PREFIX.misp.json (MISP sightings), and print
        /// the top hits and per-feed counts.
        #[arg(long, value_name = "PREFIX")]
        sightings: Option<PathBuf>,
        /// Serve Prometheus metrics on ADDR (IP:PORT; port 0 picks one) while replaying:
        /// /metrics and /healthz (turns on and overrides [metrics]).
        #[arg(long, value_name = "ADDR")]
        metrics: Option<String>,
        /// Keep the metrics endpoint up SECONDS after the replay ends, so that a scraper can
        /// read the final numbers.
        #[arg(long, value_name = "SECONDS")]
        metrics_linger: Option<u64>,
        /// Capture files, replayed in order as one stream of packets.
        #[arg(value_name = "CAPTURE", required = true)]
        captures: Vec<PathBuf>,
    },
    /// Capture live from network interfaces (AF_PACKET or libpcap) until SIGTERM/SIGINT and
    /// write EVE JSON events; SIGHUP reloads intel and patterns and reopens output files.
    Run(cmd_run::RunArgs),
    /// Operator block decisions: add, del, list, sync (same guards, journal and backends as
    /// the sensor's automatic ones).
    Block(cmd_block::BlockArgs),
    /// Replay captures and evaluate hunt hypotheses over the events: verdicts, an HTML/JSON
    /// report and evidence pcaps.
    Hunt(cmd_hunt::HuntArgs),
    /// Hunt rule files: check them before deploying.
    Rules {
        #[command(subcommand)]
        cmd: cmd_rules::RulesCmd,
    },
    /// Check a configuration file and print the effective settings.
    CheckConfig {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Intel feeds: check files before deploying them.
    Intel {
        #[command(subcommand)]
        cmd: IntelCmd,
    },
}

#[derive(Subcommand)]
enum IntelCmd {
    /// Load feed files and print, per file, the detected format, indicators by type and the
    /// warnings with file:line (or object id). Exits non-zero on a file it cannot read at all.
    Check {
        /// One JSON object per file instead of text.
        #[arg(long)]
        json: bool,
        #[arg(value_name = "PATH", required = true)]
        paths: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Replay {
            config,
            intel,
            patterns,
            eve,
            output,
            workers,
            reader,
            reload_intel_every,
            sightings,
            metrics,
            metrics_linger,
            captures,
        } => (|| {
            let mut cfg = match &config {
                Some(p) => config::load(p)?,
                None => config::Config::default(),
            };
            if !intel.is_empty() {
                cfg.intel = intel;
            }
            if !patterns.is_empty() {
                cfg.patterns = patterns;
            }
            outputs::apply_flags(&mut cfg, eve.as_deref(), &output)?;
            if let Some(w) = workers {
                anyhow::ensure!(w >= 1, "--workers: must be at least 1");
                cfg.pipeline.workers = w;
            }
            if let Some(r) = reader {
                cfg.reader = config::parse_reader(&r).map_err(|m| anyhow::anyhow!("--reader: {m}"))?;
            }
            if let Some(a) = metrics {
                cfg.metrics_enabled = true;
                cfg.metrics_listen =
                    config::parse_listen(&a).map_err(|m| anyhow::anyhow!("--metrics: {m}"))?;
            }
            let linger = std::time::Duration::from_secs(metrics_linger.unwrap_or(0));
            run_replay(&cfg, &captures, reload_intel_every, sightings.as_deref(), linger, Vec::new())
        })(),
        Cmd::Run(args) => cmd_run::run(args),
        Cmd::Block(args) => cmd_block::run(args),
        Cmd::Hunt(args) => cmd_hunt::run(args),
        Cmd::Rules { cmd } => cmd_rules::run(cmd),
        Cmd::Intel {
            cmd: IntelCmd::Check { json, paths },
        } => intel_check(&paths, json),
        Cmd::CheckConfig { file } => config::load(&file).map_err(Into::into).map(|c| {
            println!("{}: ok", file.display());
            println!(
                "workers={} reader={:?} outputs={} intel={:?} max_flows={} stream.depth={} defrag.max_bytes={} queue_batches={} batch_bytes={}",
                c.pipeline.workers,
                c.reader,
                outputs::describe(&c.outputs),
                c.intel,
                c.engine.max_flows,
                c.engine.stream.depth,
                c.engine.defrag.max_bytes,
                c.pipeline.queue_batches,
                c.pipeline.batch_bytes
            );
            println!("{}", detect_summary(&c.detect));
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tapir: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `detect=on home_net=... detectors=beacon,dns_tunnel,...` for `check-config`.
fn detect_summary(d: &tapir_engine::DetectConfig) -> String {
    if !d.enabled {
        return "detect=off".into();
    }
    let on: Vec<&str> = [
        ("beacon", d.beacon.enabled),
        ("dns_tunnel", d.dns_tunnel.enabled),
        ("dga", d.dga.enabled),
        ("scan", d.scan.enabled),
        ("exfil", d.exfil.enabled),
        ("long_conn", d.long_conn.enabled),
        ("port_mismatch", d.port_mismatch.enabled),
        ("tls_anomaly", d.tls_anomaly.enabled),
    ]
    .iter()
    .filter(|(_, on)| *on)
    .map(|(n, _)| *n)
    .collect();
    let nets: Vec<String> = d
        .home_net
        .iter()
        .map(|(ip, l)| format!("{ip}/{l}"))
        .collect();
    format!(
        "detect=on home_net={} detectors={}",
        nets.join(","),
        on.join(",")
    )
}

fn intel_check(paths: &[PathBuf], json: bool) -> anyhow::Result<()> {
    let mut unreadable = 0;
    for r in tapir_intel::check_paths(paths) {
        match r {
            Ok(c) if json => println!("{}", serde_json::to_string(&c)?),
            Ok(c) => {
                let counts = serde_json::to_value(c.indicators)?;
                let by_type: Vec<String> = counts
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(_, n)| n.as_u64().is_some_and(|n| n > 0))
                    .map(|(k, n)| format!("{k}={n}"))
                    .collect();
                println!(
                    "{}: format={} {} warnings={}",
                    c.file,
                    serde_json::to_value(c.format)?.as_str().unwrap_or("?"),
                    by_type.join(" "),
                    c.warnings.len() + c.warnings_suppressed
                );
                for w in &c.warnings {
                    println!("  {w}");
                }
            }
            Err(e) => {
                unreadable += 1;
                eprintln!("tapir: error: {e}");
            }
        }
    }
    anyhow::ensure!(unreadable == 0, "{unreadable} file(s) could not be read");
    Ok(())
}

fn run_replay(
    cfg: &config::Config,
    captures: &[PathBuf],
    reload_every_ms: Option<u64>,
    sightings: Option<&std::path::Path>,
    metrics_linger: std::time::Duration,
    // Consumers of the run's events (`tapir hunt`), on the writer thread.
    mut taps: Vec<Box<dyn tapir_engine::tap::EventTap>>,
) -> anyhow::Result<()> {
    let hunts = match run_hunts::attach(cfg)? {
        Some((h, tap)) => {
            taps.push(tap);
            Some(h)
        }
        None => None,
    };
    let board = tapir_engine::board::Board::new();
    let endpoint = if cfg.metrics_enabled {
        Some(metrics::start(cfg.metrics_listen, &board)?)
    } else {
        None
    };
    let mut source = IntelSource::new(cfg)?;
    let intel = source.load_first()?;
    // Hot reload: a thread rebuilds the set off the packet path on SIGHUP or on a timer and
    // swaps it in; a set that fails to build is refused and the old one stays.
    let swap = Arc::new(arc_swap::ArcSwap::new(Arc::clone(&intel)));
    let hup = Arc::new(AtomicBool::new(false));
    let _ = signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hup));
    let done = Arc::new(AtomicBool::new(false));
    let patterns = load_patterns(cfg)?;
    let reloader = Reloader::start(
        cfg,
        source,
        patterns.as_ref(),
        &swap,
        &hup,
        &done,
        reload_every_ms,
    );
    let mut outs = outputs::open(cfg)?;
    let mut out = outputs::writer(&mut outs);
    if let Some(ep) = &endpoint {
        out = ep.tap_output(out);
    }
    if !taps.is_empty() {
        out = Box::new(tapir_engine::tap::TapWriter::new(out, taps));
    }
    let responder = cmd_block::attach(&cfg.respond, &mut out)?;
    let opts = ReplayOptions {
        pipeline: cfg.pipeline.clone(),
        reader: cfg.reader,
        patterns,
        pattern_depth: cfg.pattern_depth,
        intel_swap: reloader.intel_swap.clone(),
        pattern_swap: reloader.pattern_swap.clone(),
        board: Some(Arc::clone(&board)),
        detect: cfg.detect.clone(),
    };
    let bar = progress::start(&board, captures);
    let report = replay_with(captures, intel, cfg.engine.clone(), &opts, &mut *out);
    drop(bar);
    done.store(true, Ordering::Relaxed);
    reloader.finish();
    // Flushes the local outputs, then waits (bounded) for the brokers.
    drop(out);
    cmd_block::finish(responder);
    let out_stats = outs.close();
    let report = report?;
    if let Some(prefix) = sightings {
        write_sightings(prefix, &swap.load_full(), &report.stats)?;
    }
    for w in &report.warnings {
        eprintln!("tapir: warning: {w}");
    }
    let counters: Vec<String> = report
        .stats
        .counters()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    eprintln!("tapir: counters: {}", counters.join(" "));
    outputs::report(&out_stats);
    if let Some(h) = hunts {
        h.report(captures)?;
    }
    // The summary is the last line of every run.
    eprintln!("{}", summary_line(&report));
    if endpoint.is_some() {
        std::thread::sleep(metrics_linger);
    }
    Ok(())
}

/// Peak resident memory of this process in MiB (Linux `VmHWM`), if known.
fn max_rss_mib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// Writes the run's sightings against the indicator set in use at the end (hits are kept by
/// indicator value, so they survive reloads), and prints the top hits and per-feed counts.
fn write_sightings(
    prefix: &std::path::Path,
    db: &IntelDb,
    stats: &tapir_engine::Stats,
) -> anyhow::Result<()> {
    let s = tapir_intel::Sightings::new(db);
    for ((ty, value), sg) in &stats.sightings {
        if let Some(ind) = db.find(*ty, value) {
            s.record(ind.id, sg.first);
            for _ in 1..sg.hits {
                s.record(ind.id, sg.last);
            }
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let with_ext = |ext: &str| {
        let mut p = prefix.as_os_str().to_owned();
        p.push(ext);
        PathBuf::from(p)
    };
    let mut stix = Vec::new();
    let n = s.write_stix(db, &mut stix, now)?;
    let stix_path = with_ext(".stix.json");
    tapir_intel::write_atomic(&stix_path, &stix)
        .map_err(|e| anyhow::anyhow!("{}: {e}", stix_path.display()))?;
    let mut misp = Vec::new();
    s.write_misp(db, &mut misp, "tapir")?;
    let misp_path = with_ext(".misp.json");
    tapir_intel::write_atomic(&misp_path, &misp)
        .map_err(|e| anyhow::anyhow!("{}: {e}", misp_path.display()))?;
    eprintln!(
        "tapir: sightings: {n} indicators sighted, written to {} and {}",
        stix_path.display(),
        misp_path.display()
    );
    eprintln!(
        "tapir: intel stats: {}",
        serde_json::to_string(&db.stats(&s, now, 10))?
    );
    Ok(())
}

/// Where the indicator set comes from: list paths, or configured feeds (local and URL; URL
/// feeds are fetched into the cache directory with conditional requests before each build).
/// The loader keeps each source's table while its files are unchanged, so a reload re-parses
/// only what changed.
struct IntelSource {
    loader: Option<tapir_intel::IntelLoader>,
    feeds: Vec<tapir_intel::FeedConfig>,
    fetcher: Option<tapir_intel::Fetcher>,
    /// Tables parsed and reused over every build.
    tables: tapir_intel::ReloadStats,
}

impl IntelSource {
    fn new(cfg: &config::Config) -> anyhow::Result<Self> {
        let mut feeds = cfg.feeds.clone();
        if !feeds.is_empty() {
            // Plain list paths join the configured feeds as local feeds.
            for p in &cfg.intel {
                let name: String = p
                    .file_name()
                    .map(|n| {
                        n.to_string_lossy()
                            .chars()
                            .map(|c| {
                                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                                    c
                                } else {
                                    '_'
                                }
                            })
                            .take(64)
                            .collect()
                    })
                    .unwrap_or_else(|| "paths".into());
                feeds.push(tapir_intel::FeedConfig::local(
                    &name,
                    p,
                    tapir_intel::FeedFormat::Auto,
                ));
            }
        }
        let cache = cfg.feed_cache.clone().unwrap_or_else(std::env::temp_dir);
        let fetcher = if feeds.iter().any(|f| f.url.is_some()) {
            Some(
                tapir_intel::Fetcher::new(&cache)
                    .map_err(|e| anyhow::anyhow!("intel.cache_dir {}: {e}", cache.display()))?,
            )
        } else {
            None
        };
        let loader = if !feeds.is_empty() {
            Some(tapir_intel::IntelLoader::from_feeds(feeds.clone(), cache))
        } else if !cfg.intel.is_empty() {
            Some(tapir_intel::IntelLoader::from_paths(cfg.intel.clone()))
        } else {
            None
        };
        Ok(IntelSource {
            loader,
            feeds,
            fetcher,
            tables: tapir_intel::ReloadStats::default(),
        })
    }

    fn is_empty(&self) -> bool {
        self.loader.is_none()
    }

    /// The set a run starts with (empty when no intel is configured), counted in the metrics.
    fn load_first(&mut self) -> anyhow::Result<Arc<IntelDb>> {
        if self.loader.is_none() {
            return Ok(Arc::new(IntelDb::empty()));
        }
        let started = std::time::Instant::now();
        let db = Arc::new(self.build(true).map_err(|e| anyhow::anyhow!(e))?);
        eprintln!(
            "tapir: intel: {} indicators loaded in {:.2}s",
            db.len(),
            started.elapsed().as_secs_f64()
        );
        tapir_metrics::intel_loaded(&db, started.elapsed());
        Ok(db)
    }

    /// True when a local feed file (or a directory's entries) changed since the last build.
    /// Polled once a second by the reload loop: no watcher to leak or miss events on network
    /// filesystems.
    fn edited(&self) -> bool {
        self.loader.as_ref().is_some_and(|l| l.stale())
    }

    /// The shortest refresh interval of the URL feeds, in ms.
    fn refresh_ms(&self) -> Option<u64> {
        self.feeds
            .iter()
            .filter(|f| f.url.is_some())
            .filter_map(|f| f.refresh)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .min()
    }

    /// Builds a new set. `first`: report every warning, and accept feeds that failed (they are
    /// reported); on a reload a failed feed refuses the whole set, so the old one stays.
    fn build(&mut self, first: bool) -> Result<IntelDb, String> {
        let Some(loader) = self.loader.as_mut() else {
            return Ok(IntelDb::empty());
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        if let Some(f) = self.fetcher.as_mut() {
            for feed in self.feeds.iter().filter(|f| f.url.is_some()) {
                if let tapir_intel::FetchOutcome::Failed { .. } = f.fetch_if_due(feed, now) {
                    eprintln!("tapir: warning: intel: feed {}: fetch failed, using the last good copy if any", feed.name);
                }
            }
        }
        let (db, report, stats) = loader.load_with_stats().map_err(|e| e.to_string())?;
        self.tables.parsed += stats.parsed;
        self.tables.reused += stats.reused;
        if first {
            for w in &report.warnings {
                eprintln!("tapir: warning: intel: {w}");
            }
            if report.warnings_suppressed > 0 {
                eprintln!(
                    "tapir: warning: intel: {} more warnings not shown",
                    report.warnings_suppressed
                );
            }
        }
        for (name, why) in &report.failed_feeds {
            eprintln!("tapir: warning: intel: feed {name} not loaded: {why}");
        }
        if !first && !report.failed_feeds.is_empty() {
            return Err(format!("{} feed(s) failed", report.failed_feeds.len()));
        }
        Ok(db)
    }
}

/// A run's reload thread, and the sets its workers follow.
pub(crate) struct Reloader {
    handle: Option<std::thread::JoinHandle<ReloadSummary>>,
    /// Set when intel is configured.
    pub(crate) intel_swap: Option<Arc<arc_swap::ArcSwap<IntelDb>>>,
    /// Set when payload patterns are configured.
    pub(crate) pattern_swap: Option<Arc<arc_swap::ArcSwap<tapir_patterns::PatternSet>>>,
}

impl Reloader {
    /// Starts [`reload_loop`] when there is intel or a pattern path to reload; `swap` holds
    /// the first intel set, `patterns` the first pattern set.
    pub(crate) fn start(
        cfg: &config::Config,
        mut source: IntelSource,
        patterns: Option<&tapir_patterns::PatternSet>,
        swap: &Arc<arc_swap::ArcSwap<IntelDb>>,
        hup: &Arc<AtomicBool>,
        done: &Arc<AtomicBool>,
        reload_every_ms: Option<u64>,
    ) -> Reloader {
        let mut pattern_reload = PatternReload::new(cfg, patterns);
        let pattern_swap = pattern_reload.as_ref().map(PatternReload::swap);
        let intel_swap = (!source.is_empty()).then(|| Arc::clone(swap));
        let handle = (intel_swap.is_some() || pattern_reload.is_some()).then(|| {
            let (swap, hup, done) = (Arc::clone(swap), Arc::clone(hup), Arc::clone(done));
            let every = reload_every_ms.or(source.refresh_ms());
            std::thread::spawn(move || {
                reload_loop(
                    &mut source,
                    pattern_reload.as_mut(),
                    &swap,
                    &hup,
                    &done,
                    every,
                )
            })
        });
        Reloader {
            handle,
            intel_swap,
            pattern_swap,
        }
    }

    /// Waits for the thread (after `done` is set) and prints its closing lines.
    pub(crate) fn finish(self) {
        if let Some(r) = self.handle.and_then(|h| h.join().ok()) {
            r.print();
        }
    }
}

/// Until `done`: rebuilds the indicator set on SIGHUP, every `every_ms` and when its files
/// change; reloads the payload patterns on SIGHUP.
fn reload_loop(
    source: &mut IntelSource,
    mut patterns: Option<&mut PatternReload>,
    swap: &arc_swap::ArcSwap<IntelDb>,
    hup: &AtomicBool,
    done: &AtomicBool,
    every_ms: Option<u64>,
) -> ReloadSummary {
    yield_to_packet_path();
    let (mut ok, mut failed) = (0u64, 0u64);
    // The first load's tables are not reloads.
    let first = source.tables;
    let mut last = std::time::Instant::now();
    let mut last_poll = std::time::Instant::now();
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(5));
        let due = every_ms.is_some_and(|ms| last.elapsed().as_millis() >= u128::from(ms));
        let mut edited = false;
        if last_poll.elapsed() >= std::time::Duration::from_secs(1) {
            last_poll = std::time::Instant::now();
            edited = source.edited();
        }
        let hupped = hup.swap(false, Ordering::Relaxed);
        if hupped {
            if let Some(p) = patterns.as_deref_mut() {
                p.reload();
            }
        }
        if source.is_empty() || !(hupped || due || edited) {
            continue;
        }
        last = std::time::Instant::now();
        match source.build(false) {
            Ok(db) => {
                let db = Arc::new(db);
                tapir_metrics::intel_loaded(&db, last.elapsed());
                swap.store(db);
                ok += 1;
            }
            Err(e) => {
                tapir_metrics::intel_load_failed(last.elapsed());
                failed += 1;
                eprintln!("tapir: warning: intel reload refused, keeping the current set: {e}");
            }
        }
    }
    ReloadSummary {
        ok,
        failed,
        parsed: source.tables.parsed.saturating_sub(first.parsed),
        reused: source.tables.reused.saturating_sub(first.reused),
        patterns: patterns.and_then(|p| p.line()),
    }
}

/// Lowers the calling thread's scheduling priority by 10 nice steps (Linux nice values are per
/// thread, setpriority(2)): when the workers keep every core busy, the reload thread gets about
/// a tenth of a core and a reload takes longer, instead of taking CPU from the packet path;
/// with idle CPU it runs at full speed. Lowering one's own priority needs no privilege.
fn yield_to_packet_path() {
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        if let Ok(nice) = rustix::process::getpriority_process(Some(tid)) {
            let _ = rustix::process::setpriority_process(Some(tid), (nice + 10).min(19));
        }
    }
}

/// What the reload thread did over a run.
struct ReloadSummary {
    ok: u64,
    failed: u64,
    /// Feed tables parsed again and kept unchanged over all reloads.
    parsed: usize,
    reused: usize,
    /// The pattern reloads' closing line, if there were any.
    patterns: Option<String>,
}

impl ReloadSummary {
    /// Prints the closing lines about reloads, if there were any.
    fn print(&self) {
        for line in self.line().iter().chain(&self.patterns) {
            eprintln!("{line}");
        }
    }

    /// The run's closing line about reloads, if there were any.
    fn line(&self) -> Option<String> {
        (self.ok + self.failed > 0).then(|| {
            format!(
                "tapir: intel: {} reloads, {} refused (feed tables: {} parsed, {} unchanged and kept)",
                self.ok, self.failed, self.parsed, self.reused
            )
        })
    }
}

fn summary_line(r: &ReplayReport) -> String {
    let secs = r.elapsed.as_secs_f64().max(1e-9);
    let s = &r.stats;
    format!(
        "tapir: {} workers={} max_rss={}MiB elapsed={:.3}s rate={:.3}Mpps {:.3}Gbit/s",
        s,
        r.workers,
        max_rss_mib().map_or_else(|| "?".to_string(), |m| m.to_string()),
        secs,
        s.packets as f64 / secs / 1e6,
        s.bytes as f64 * 8.0 / secs / 1e9
    )
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    #[test]
    fn the_reload_thread_lowers_only_its_own_priority() {
        let me = rustix::process::getpriority_process(None).expect("own nice");
        let theirs = std::thread::spawn(|| {
            super::yield_to_packet_path();
            rustix::process::getpriority_process(Some(rustix::thread::gettid())).expect("nice")
        })
        .join()
        .expect("thread");
        assert_eq!(theirs, (me + 10).min(19));
        let after =
            rustix::process::getpriority_process(Some(rustix::thread::gettid())).expect("nice");
        assert_eq!(after, me, "the calling thread keeps its priority");
    }
}
