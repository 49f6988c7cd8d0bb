//! Offline replay: capture files through one engine, EVE lines to a writer.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tapir_capture::{CaptureError, PcapFile};
use tapir_intel::IntelDb;
use tapir_wire::LinkType;

use crate::{Engine, EngineConfig, Stats};

/// Output is written out whenever this much is buffered.
const DRAIN_BYTES: usize = 256 * 1024;

/// A replay that could not run or could not write its output.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error("{path}: unsupported link type {dlt}")]
    LinkType { path: PathBuf, dlt: i32 },
    #[error("writing EVE output: {0}")]
    Output(#[from] io::Error),
}

/// What a replay did.
#[derive(Debug, Default)]
pub struct ReplayReport {
    pub stats: Stats,
    /// Non-fatal problems, one line each (a capture cut short, ...).
    pub warnings: Vec<String>,
    pub elapsed: Duration,
}

/// Replays `paths` in order through one engine and writes EVE lines to `out`.
///
/// Every file is opened before any is read, so a missing or non-capture file fails the run
/// before output starts. A file cut short mid-record is processed up to the cut and reported
/// in [`ReplayReport::warnings`].
///
/// # Errors
/// A file that cannot be opened or has an unsupported link type; a failing writer.
pub fn replay(
    paths: &[PathBuf],
    intel: Arc<IntelDb>,
    cfg: EngineConfig,
    out: &mut dyn Write,
) -> Result<ReplayReport, ReplayError> {
    let started = Instant::now();
    let mut files = Vec::with_capacity(paths.len());
    for p in paths {
        let f = PcapFile::open(p)?;
        let link = link_of(p, f.datalink())?;
        files.push((f, link));
    }
    let mut engine = Engine::new(cfg, intel);
    let mut report = ReplayReport::default();
    let mut pcap_cnt = 0u64;
    for (mut file, link) in files {
        loop {
            match file.next_packet() {
                Ok(Some(pkt)) => {
                    pcap_cnt += 1;
                    engine.process(link, &pkt, pcap_cnt);
                    if engine.pending_output() >= DRAIN_BYTES {
                        engine.drain_to(out)?;
                    }
                }
                Ok(None) => break,
                Err(e @ (CaptureError::Truncated { .. } | CaptureError::Read { .. })) => {
                    report.warnings.push(e.to_string());
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    engine.finish();
    engine.drain_to(out)?;
    out.flush()?;
    report.stats = engine.stats().clone();
    report.elapsed = started.elapsed();
    Ok(report)
}

fn link_of(path: &Path, dlt: i32) -> Result<LinkType, ReplayError> {
    LinkType::from_dlt(dlt).ok_or_else(|| ReplayError::LinkType {
        path: path.to_path_buf(),
        dlt,
    })
}
