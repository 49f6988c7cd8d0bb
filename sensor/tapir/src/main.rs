//! `tapir`: the sensor's command line. Kept thin: parse flags, load intel, hand off to the engine.

#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tapir_engine::{replay, EngineConfig, ReplayReport};
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
        /// Intel list file, or a directory of them (repeatable).
        #[arg(long = "intel", value_name = "PATH")]
        intel: Vec<PathBuf>,
        /// Where EVE JSON lines go; `-` is stdout.
        #[arg(long = "eve", value_name = "PATH", default_value = "-")]
        eve: String,
        /// Capture files, replayed in order as one stream of packets.
        #[arg(value_name = "CAPTURE", required = true)]
        captures: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Replay {
            intel,
            eve,
            captures,
        } => match run_replay(&intel, &eve, &captures) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tapir: error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn run_replay(intel_paths: &[PathBuf], eve: &str, captures: &[PathBuf]) -> anyhow::Result<()> {
    let intel = if intel_paths.is_empty() {
        IntelDb::empty()
    } else {
        let (db, report) = IntelDb::load_paths(intel_paths)?;
        for w in &report.warnings {
            eprintln!("tapir: warning: intel: {w}");
        }
        eprintln!("tapir: intel: {} indicators loaded", db.len());
        db
    };
    let mut out: Box<dyn Write> = if eve == "-" {
        Box::new(BufWriter::new(io::stdout().lock()))
    } else {
        let f = File::create(eve)
            .map_err(|e| anyhow::anyhow!("{eve}: cannot create EVE output: {e}"))?;
        Box::new(BufWriter::new(f))
    };
    let report = replay(captures, Arc::new(intel), EngineConfig::default(), &mut out)?;
    drop(out);
    for w in &report.warnings {
        eprintln!("tapir: warning: {w}");
    }
    eprintln!("{}", summary_line(&report));
    Ok(())
}

fn summary_line(r: &ReplayReport) -> String {
    let secs = r.elapsed.as_secs_f64().max(1e-9);
    let s = &r.stats;
    format!(
        "tapir: {} elapsed={:.3}s rate={:.3}Mpps {:.3}Gbit/s",
        s,
        secs,
        s.packets as f64 / secs / 1e6,
        s.bytes as f64 * 8.0 / secs / 1e9
    )
}
