//! Offline replay: capture files through the pipeline, EVE lines to a writer.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use crossbeam_channel::{bounded, Receiver, Sender};
use tapir_capture::{CaptureError, CaptureFile, ReaderKind};
use tapir_detect::DetectConfig;
use tapir_intel::IntelDb;
use tapir_patterns::PatternSet;

use crate::behaviour::{long_conn_thresholds_us, Behaviour};
use crate::pipeline::{
    run_worker, run_writer, Dispatcher, Follow, Output, PipelineConfig, WorkerEnds,
};
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
    /// When set, workers follow this pattern set the same way (it should start out holding
    /// `patterns`, or the empty set).
    pub pattern_swap: Option<Arc<ArcSwap<PatternSet>>>,
    /// When set, workers publish live numbers there and the reader its progress.
    pub board: Option<Arc<crate::board::Board>>,
    /// Behaviour detectors: they run when `detect.enabled` (the default).
    pub detect: DetectConfig,
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
    let (engines, mut behaviour) =
        build_engines(cfg, &intel, opts, workers).map_err(ReplayError::Patterns)?;
    let (mut dispatcher, ends) = Dispatcher::new(PipelineConfig {
        workers,
        ..opts.pipeline.clone()
    });
    let (out_tx, out_rx) = bounded::<Output>(workers * 4);
    let (pool_tx, pool_rx) = bounded::<Output>(workers * 4 + 4);
    let mut report = ReplayReport {
        workers,
        ..ReplayReport::default()
    };
    let result = std::thread::scope(|s| {
        let detect = behaviour.as_mut();
        let writer = std::thread::Builder::new()
            .name("tapir-writer".into())
            .spawn_scoped(s, move || {
                run_writer(out_rx, pool_tx, Box::new(out), detect)
            });
        let handles = spawn_workers(s, ends, engines, opts, &out_tx, &pool_rx);
        drop(out_tx);
        let mut pcap_cnt = 0u64;
        let progress = opts.board.as_ref().map(|b| b.reader());
        let mut bytes_done = 0u64;
        for (mut file, path) in files.into_iter().zip(paths) {
            // Progress counts a record header and its captured bytes: an estimate of the file
            // offset, corrected to the file's size at its end.
            let mut file_bytes = 0u64;
            loop {
                match file.next_packet() {
                    Ok(Some(p)) => {
                        pcap_cnt += 1;
                        file_bytes += 16 + p.packet.data.len() as u64;
                        dispatcher.push(&p, pcap_cnt);
                        if pcap_cnt & (crate::board::READER_UPDATE_PACKETS - 1) == 0 {
                            if let Some(r) = progress {
                                r.record(bytes_done + file_bytes, pcap_cnt);
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        report.warnings.push(e.to_string());
                        break;
                    }
                }
            }
            bytes_done += std::fs::metadata(path).map_or(file_bytes, |m| m.len());
            if let Some(r) = progress {
                r.file_done(bytes_done, pcap_cnt);
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
        // A writer that could not start drops its channel end: workers then discard their
        // output and the run still ends, with the error.
        let written = match writer {
            Ok(h) => h.join().map_err(|_| ReplayError::Worker)?,
            Err(e) => Err(e),
        };
        written?;
        if panicked {
            return Err(ReplayError::Worker);
        }
        Ok(stats)
    });
    report.stats = result?;
    if let Some(b) = &behaviour {
        report.stats.merge(b.stats());
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// One engine per worker, with the options' patterns loaded, and the behaviour stage when
/// detection is on (which also makes the engines produce observations). Shared by replay and
/// live capture so both run the same data plane.
///
/// # Errors
/// Hyperscan could not allocate scratch space for the pattern set.
pub(crate) fn build_engines(
    mut cfg: EngineConfig,
    intel: &Arc<IntelDb>,
    opts: &ReplayOptions,
    workers: usize,
) -> Result<(Vec<Engine>, Option<Behaviour>), String> {
    let behaviour = opts.detect.enabled.then(|| {
        cfg.observe = true;
        cfg.long_conn_us = long_conn_thresholds_us(&opts.detect);
        Behaviour::new(opts.detect.clone(), workers)
    });
    let mut engines = Vec::with_capacity(workers);
    for _ in 0..workers {
        let mut e = Engine::new(cfg.clone(), Arc::clone(intel));
        if let Some(set) = &opts.patterns {
            e.set_patterns(set, opts.pattern_depth)?;
        }
        engines.push(e);
    }
    Ok((engines, behaviour))
}

/// Starts one named worker thread per engine, each metered on the board when there is one and
/// following the options' intel swap. Shared by replay and live capture.
pub(crate) fn spawn_workers<'scope>(
    s: &'scope std::thread::Scope<'scope, '_>,
    ends: Vec<WorkerEnds>,
    engines: Vec<Engine>,
    opts: &ReplayOptions,
    out_tx: &Sender<Output>,
    pool_rx: &Receiver<Output>,
) -> Vec<io::Result<std::thread::ScopedJoinHandle<'scope, Stats>>> {
    ends.into_iter()
        .zip(engines)
        .enumerate()
        .map(|(i, (mut ends, engine))| {
            ends.meter = opts.board.as_ref().map(|b| b.meter(i));
            let (tx, pool) = (out_tx.clone(), pool_rx.clone());
            let follow = Follow {
                intel: opts.intel_swap.clone(),
                patterns: opts.pattern_swap.clone(),
                pattern_depth: opts.pattern_depth,
            };
            std::thread::Builder::new()
                .name(format!("tapir-worker-{i}"))
                .spawn_scoped(s, move || run_worker(engine, ends, tx, pool, follow))
        })
        .collect()
}
