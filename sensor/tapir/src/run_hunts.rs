//! The hunts that run with every `tapir replay` and `tapir run` (`[hunts]`): the same
//! collector as `tapir hunt`, on the writer thread, with the verdicts printed at the end. The
//! full report and evidence pcaps stay with `tapir hunt`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tapir_engine::tap::EventTap;
use tapir_hunt::{Collector, Limits, RunInfo};

use crate::cmd_hunt::HuntTap;
use crate::config::Config;

/// Where the shipped hunts live: a source checkout, then the Debian package.
const SHIPPED: [&str; 2] = ["rules/hunts", "/usr/share/tapir/rules/hunts"];

pub(crate) struct RunHunts {
    shared: Arc<Mutex<Collector>>,
    rules: Vec<PathBuf>,
}

/// The tap that collects events for the configured hunts, or `None` when hunts are off or
/// none are found. Hunt files that do not load refuse the run (a hunter would otherwise read
/// "refuted" for a hypothesis that never ran).
pub(crate) fn attach(cfg: &Config) -> anyhow::Result<Option<(RunHunts, Box<dyn EventTap>)>> {
    if !cfg.hunts_enabled {
        return Ok(None);
    }
    let rules: Vec<PathBuf> = if cfg.hunt_paths.is_empty() {
        match SHIPPED.iter().map(Path::new).find(|p| p.is_dir()) {
            Some(p) => vec![p.to_path_buf()],
            None => return Ok(None),
        }
    } else {
        cfg.hunt_paths.clone()
    };
    let loaded = tapir_hunt::load_paths(&rules);
    for e in &loaded.errors {
        eprintln!("tapir: error: hunts: {e}");
    }
    anyhow::ensure!(
        loaded.errors.is_empty(),
        "hunts.paths: {} errors in hunt files (see `tapir rules check`)",
        loaded.errors.len()
    );
    if loaded.hunts.is_empty() {
        return Ok(None);
    }
    let shared = Arc::new(Mutex::new(Collector::new(loaded.hunts, Limits::default())));
    let tap: Box<dyn EventTap> = Box::new(HuntTap(Arc::clone(&shared)));
    Ok(Some((RunHunts { shared, rules }, tap)))
}

impl RunHunts {
    /// Evaluates the hypotheses over what was collected and prints one line per validated
    /// hypothesis and a summary (stderr: stdout may carry the events).
    pub(crate) fn report(self, captures: &[PathBuf]) -> anyhow::Result<()> {
        let collected = {
            let mut g = self
                .shared
                .lock()
                .map_err(|_| anyhow::anyhow!("hunts: the event collector failed"))?;
            std::mem::replace(&mut *g, Collector::new(Vec::new(), Limits::default()))
                .into_collected()
        };
        let info = RunInfo {
            captures: captures.iter().map(|p| p.display().to_string()).collect(),
            rules: self.rules.iter().map(|p| p.display().to_string()).collect(),
        };
        let (report, _plans) = tapir_hunt::evaluate(&collected, &info);
        for h in &report.hunts {
            let n = h.findings.len() as u64 + h.findings_not_shown;
            if n > 0 {
                eprintln!(
                    "tapir: hunt: {} {} ({n} findings)",
                    h.verdict.as_str(),
                    h.id
                );
            }
        }
        eprintln!(
            "tapir: hunts: {} validated, {} refuted, {} inconclusive (`tapir hunt --report` for the evidence)",
            report.summary.validated, report.summary.refuted, report.summary.inconclusive
        );
        Ok(())
    }
}
