//! Offline replay: capture files through the pipeline, EVE lines to a writer.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use crossbeam_channel::bounded;
use tapir_capture::{CaptureError, CaptureFile, ReaderKind};
use tapir_intel::IntelDb;
use tapir_patterns::PatternSet;

use crate::pipeline::{run_worker, run_writer, Dispatcher, PipelineConfig};
use crate::{Engine, EngineConfig, Stats};

/// A replay that could not run or could not write its output.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error("writing EVE output: {0}")]
    Output(#[from] io::Error),
    #[error("a worker thread panicked")]
    Worker,
    #[error("payload patterns: {0}")]
    Patterns(String),
}

/// What a replay did.
#[derive(Debug, Default)]
pub struct ReplayReport {
    pub stats: Stats,
    /// Non-fatal problems, one line each (a capture cut short, ...).
    pub warnings: Vec<String>,
    pub elapsed: Duration,
    pub workers: usize,
}

/// Replay settings beyond the engine's.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    pub pipeline: PipelineConfig,
    pub reader: ReaderKind,
    /// Payload patterns, shared by every worker (each gets its own scanner).
    pub patterns: Option<PatternSet>,
    /// Bytes of each TCP direction scanned for patterns.
    pub pattern_depth: u64,
    /// When set, workers follow this indicator set (hot reload: whoever holds it stores a
    /// new set, workers switch between batches).
    pub intel_swap: Option<Arc<ArcSwap<IntelDb>>>,
}

/// Replays `paths` in order through one engine (a one-worker pipeline).
///
/// # Errors
/// As [`replay_with`].
pub fn replay(
    paths: &[PathBuf],
    intel: Arc<IntelDb>,
    cfg: EngineConfig,
    out: &mut (dyn Write + Send),
) -> Result<ReplayReport, ReplayError> {
    let opts = ReplayOptions {
        pipeline: PipelineConfig {
            workers: 1,
            ..PipelineConfig::default()
        },
        ..ReplayOptions::default()
    };
    replay_with(paths, intel, cfg, &opts, out)
}

/// Replays `paths` in order as one packet stream through `opts.pipeline.workers` engines and
/// writes EVE lines to `out`.
///
/// Every file is opened before any is read, so a missing or non-capture file fails the run
/// before output starts. A file cut short mid-record is processed up to the cut and reported
/// in [`ReplayReport::warnings`].
///
/// # Errors
/// A file that cannot be opened; a failing writer; a worker that panicked.
pub fn replay_with(
    paths: &[PathBuf],
    intel: Arc<IntelDb>,
    cfg: EngineConfig,
    opts: &ReplayOptions,
    out: &mut (dyn Write + Send),
) -> Result<ReplayReport, ReplayError> {
    let started = Instant::now();
    let mut files = Vec::with_capacity(paths.len());
    for p in paths {
        files.push(CaptureFile::open(p, opts.reader)?);
    }
    let workers = opts.pipeline.workers.max(1);
    let mut engines = Vec::with_capacity(workers);
    for _ in 0..workers {
        let mut e = Engine::new(cfg.clone(), intel.clone());
        if let Some(set) = &opts.patterns {
            e.set_patterns(set, opts.pattern_depth)
                .map_err(ReplayError::Patterns)?;
        }
        engines.push(e);
    }
    let (mut dispatcher, ends) = Dispatcher::new(PipelineConfig {
        workers,
        ..opts.pipeline.clone()
    });
    let (out_tx, out_rx) = bounded::<Vec<u8>>(workers * 4);
    let (pool_tx, pool_rx) = bounded::<Vec<u8>>(workers * 4 + 4);
    let mut report = ReplayReport {
        workers,
        ..ReplayReport::default()
    };
    let result = std::thread::scope(|s| {
        let writer = s.spawn(move || run_writer(out_rx, pool_tx, Box::new(out)));
        let handles: Vec<_> = ends
            .into_iter()
            .zip(engines)
            .enumerate()
            .map(|(i, (ends, engine))| {
                let (tx, pool) = (out_tx.clone(), pool_rx.clone());
                let swap = opts.intel_swap.clone();
                std::thread::Builder::new()
                    .name(format!("tapir-worker-{i}"))
                    .spawn_scoped(s, move || run_worker(engine, ends, tx, pool, swap))
            })
            .collect();
        drop(out_tx);
        let mut pcap_cnt = 0u64;
        for mut file in files {
            loop {
                match file.next_packet() {
                    Ok(Some(p)) => {
                        pcap_cnt += 1;
                        dispatcher.push(&p, pcap_cnt);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        report.warnings.push(e.to_string());
                        break;
                    }
                }
            }
        }
        dispatcher.finish();
        let mut stats = Stats::default();
        let mut panicked = false;
        for h in handles {
            match h.map(|h| h.join()) {
                Ok(Ok(st)) => stats.merge(&st),
                _ => panicked = true,
            }
        }
        let written = writer.join().map_err(|_| ReplayError::Worker)?;
        written?;
        if panicked {
            return Err(ReplayError::Worker);
        }
        Ok(stats)
    });
    report.stats = result?;
    report.elapsed = started.elapsed();
    Ok(report)
}
