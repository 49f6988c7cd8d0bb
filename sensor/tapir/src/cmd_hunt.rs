//! `tapir hunt`: replays captures exactly as `tapir replay` does, evaluates hunt hypotheses
//! over the events the run produces (an event tap on the output), and writes the report (HTML
//! and/or JSON) and, when asked, one evidence pcap per validated finding.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use clap::Args;
use tapir_engine::tap::EventTap;
use tapir_hunt::{Collector, EvidenceLimits, Limits, RunInfo};

use crate::{config, outputs};

#[derive(Args)]
pub struct HuntArgs {
    /// Hunt file, or a directory of them (repeatable); see rules/README.md.
    #[arg(long = "rules", value_name = "PATH", required = true)]
    rules: Vec<PathBuf>,
    /// TOML configuration file, as for `tapir replay`.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Intel list file, or a directory of them (repeatable; replaces intel.paths).
    #[arg(long = "intel", value_name = "PATH")]
    intel: Vec<PathBuf>,
    /// Payload pattern file or directory (repeatable; replaces patterns.paths).
    #[arg(long = "patterns", value_name = "PATH")]
    patterns: Vec<PathBuf>,
    /// Also write the run's EVE events here (`-` is stdout); by default they are not kept.
    #[arg(long = "eve", value_name = "PATH")]
    eve: Option<String>,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// Offline reader: native or libpcap.
    #[arg(long, value_name = "KIND")]
    reader: Option<String>,
    /// Write the HTML report (one self-contained file).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Write the same report as JSON.
    #[arg(long = "report-json", value_name = "FILE")]
    report_json: Option<PathBuf>,
    /// Write one pcap per validated finding (the packets of its flows) into DIR.
    #[arg(long, value_name = "DIR")]
    evidence: Option<PathBuf>,
    /// Evidence: packets kept per flow in a finding's pcap.
    #[arg(long, value_name = "N", default_value_t = EvidenceLimits::default().max_packets_per_flow)]
    evidence_max_packets: u64,
    /// Evidence: bytes of packets over all pcaps (held in memory until written).
    #[arg(long, value_name = "BYTES", default_value_t = EvidenceLimits::default().max_total_bytes)]
    evidence_max_bytes: u64,
    /// Matching events stored per hunt (later ones are counted, not kept).
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_events_per_hunt)]
    max_events_per_hunt: usize,
    /// Flow records kept for evidence, plots and pcaps.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_flows)]
    max_flows: usize,
    /// Submit the block actions of validated hypotheses (`actions: block: src_ip|dest_ip`)
    /// through the responder's guards, journal and backends, as `tapir block add` does, with
    /// the `[respond]` settings of --config and its default TTL. Refused addresses are listed.
    #[arg(long)]
    block: bool,
    /// Capture files, replayed in order as one stream of packets.
    #[arg(value_name = "CAPTURE", required = true)]
    captures: Vec<PathBuf>,
}

/// Hands every EVE line to the collector (on the writer thread, off the packet path).
pub(crate) struct HuntTap(pub(crate) Arc<Mutex<Collector>>);

impl EventTap for HuntTap {
    fn alerts_only(&self) -> bool {
        false
    }

    fn event(&mut self, line: &[u8]) {
        // A poisoned lock means a panic elsewhere already; the run's error reports it.
        if let Ok(mut c) = self.0.lock() {
            c.line(line);
        }
    }
}

pub fn run(a: HuntArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        a.report.is_some() || a.report_json.is_some(),
        "--report or --report-json: say where the report goes"
    );
    anyhow::ensure!(
        a.max_events_per_hunt >= 1,
        "--max-events-per-hunt: must be at least 1"
    );
    let loaded = tapir_hunt::load_paths(&a.rules);
    for e in &loaded.errors {
        eprintln!("tapir: error: {e}");
    }
    anyhow::ensure!(
        loaded.errors.is_empty(),
        "{} errors in hunt files (see `tapir rules check`)",
        loaded.errors.len()
    );
    let mut cfg = match &a.config {
        Some(p) => config::load(p)?,
        None => config::Config::default(),
    };
    if !a.intel.is_empty() {
        cfg.intel = a.intel.clone();
    }
    if !a.patterns.is_empty() {
        cfg.patterns = a.patterns.clone();
    }
    // A hunt is an analysis run: the events feed the report and go nowhere else unless asked.
    outputs::apply_flags(&mut cfg, Some(a.eve.as_deref().unwrap_or("/dev/null")), &[])?;
    if let Some(w) = a.workers {
        anyhow::ensure!(w >= 1, "--workers: must be at least 1");
        cfg.pipeline.workers = w;
    }
    if let Some(r) = &a.reader {
        cfg.reader = config::parse_reader(r).map_err(|m| anyhow::anyhow!("--reader: {m}"))?;
    }
    // The run's own hunts are these, reported in full below, not the `[hunts]` defaults.
    cfg.hunts_enabled = false;
    let limits = Limits {
        max_events_per_hunt: a.max_events_per_hunt,
        max_flows: a.max_flows,
        ..Limits::default()
    };
    eprintln!(
        "tapir: hunt: {} hypotheses from {} files",
        loaded.hunts.len(),
        loaded.files.len()
    );
    let shared = Arc::new(Mutex::new(Collector::new(loaded.hunts, limits)));
    let tap: Box<dyn EventTap> = Box::new(HuntTap(Arc::clone(&shared)));
    crate::run_replay(
        &cfg,
        &a.captures,
        None,
        None,
        std::time::Duration::ZERO,
        vec![tap],
    )?;
    let collected = {
        let mut g = shared
            .lock()
            .map_err(|_| anyhow::anyhow!("hunt: the event collector failed"))?;
        std::mem::replace(&mut *g, Collector::new(Vec::new(), limits)).into_collected()
    };
    let info = RunInfo {
        captures: a.captures.iter().map(|p| p.display().to_string()).collect(),
        rules: a.rules.iter().map(|p| p.display().to_string()).collect(),
    };
    let (mut report, plans) = tapir_hunt::evaluate(&collected, &info);
    drop(collected);
    if let Some(dir) = &a.evidence {
        let lim = EvidenceLimits {
            max_packets_per_flow: a.evidence_max_packets,
            max_total_bytes: a.evidence_max_bytes,
        };
        let st = tapir_hunt::write_evidence(&a.captures, cfg.reader, &plans, &mut report, dir, lim)
            .map_err(|e| anyhow::anyhow!("evidence: {e}"))?;
        eprintln!(
            "tapir: hunt: evidence: {} pcaps, {} packets, {} bytes in {}",
            st.files,
            st.packets,
            st.bytes,
            dir.display()
        );
    }
    if let Some(p) = &a.report_json {
        write(p, report.to_json()?.as_bytes())?;
    }
    if let Some(p) = &a.report {
        let href = a.evidence.as_deref().map(|d| evidence_href(p, d));
        write(
            p,
            tapir_hunt::html::render(&report, href.as_deref()).as_bytes(),
        )?;
    }
    // One line per hypothesis on stdout, unless the events themselves go there.
    let to_stdout = a.eve.as_deref() != Some("-");
    for h in &report.hunts {
        let n = h.findings.len() as u64 + h.findings_not_shown;
        let line = format!(
            "{:<12} {:<40} {}",
            h.verdict.as_str(),
            h.id,
            if n > 0 {
                format!("{n} findings")
            } else {
                h.reason.clone()
            }
        );
        if to_stdout {
            println!("{line}");
        } else {
            eprintln!("tapir: hunt: {line}");
        }
    }
    let blocked = if a.block {
        Some(crate::cmd_block::submit_hunt_actions(
            &cfg.respond,
            &report,
        )?)
    } else {
        None
    };
    eprintln!(
        "tapir: hunt: {} validated, {} refuted, {} inconclusive{}{}",
        report.summary.validated,
        report.summary.refuted,
        report.summary.inconclusive,
        a.report
            .as_ref()
            .map_or(String::new(), |p| format!("; report {}", p.display())),
        a.report_json
            .as_ref()
            .map_or(String::new(), |p| format!("; json {}", p.display()))
    );
    match blocked {
        Some(b) => b.into_result(),
        None => Ok(()),
    }
}

fn write(p: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(p, bytes).map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", p.display()))
}

/// The evidence directory as a link from the report: relative when it lies under the
/// report's directory, else an absolute file URL.
fn evidence_href(report: &Path, dir: &Path) -> String {
    let base = report
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let (Ok(base), Ok(dir)) = (base.canonicalize(), dir.canonicalize()) else {
        return dir.display().to_string();
    };
    match dir.strip_prefix(&base) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".into(),
        Ok(rel) => rel.display().to_string(),
        Err(_) => format!("file://{}", dir.display()),
    }
}
