//! `tapir-gen-demo`: writes the demo capture or a benchmark capture.
//!
//! ```text
//! tapir-gen-demo demo  --out PATH
//! tapir-gen-demo bench --out PATH --packets N [--flows F] [--seed S] [--flood]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use tapir_gen_demo::{write_bench, write_demo, BenchConfig, DEMO_CONTENTS};

const USAGE: &str = "usage:
  tapir-gen-demo demo  --out PATH
  tapir-gen-demo bench --out PATH --packets N [--flows F] [--seed S] [--flood]";

enum Cmd {
    Demo(PathBuf),
    Bench(PathBuf, BenchConfig),
}

fn parse(args: &[String]) -> Result<Cmd, String> {
    let (sub, rest) = args.split_first().ok_or("missing subcommand")?;
    let mut out = None;
    let mut cfg = BenchConfig::default();
    let mut packets = None;
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: &String| v.parse::<u64>().map_err(|e| format!("{flag} {v}: {e}"));
        match (sub.as_str(), flag.as_str()) {
            (_, "--out") => out = Some(PathBuf::from(value()?)),
            ("bench", "--packets") => packets = Some(num(value()?)?),
            ("bench", "--flows") => {
                let v = value()?;
                cfg.flows = usize::try_from(num(v)?).map_err(|e| e.to_string())?;
                if cfg.flows == 0 || cfg.flows > tapir_gen_demo::bench::MAX_FLOWS {
                    return Err(format!(
                        "--flows must be 1..={}",
                        tapir_gen_demo::bench::MAX_FLOWS
                    ));
                }
            }
            ("bench", "--seed") => cfg.seed = num(value()?)?,
            ("bench", "--flood") => cfg.flood = true,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    let out = out.ok_or("--out PATH is required")?;
    match sub.as_str() {
        "demo" => Ok(Cmd::Demo(out)),
        "bench" => {
            cfg.packets = packets.ok_or("--packets N is required")?;
            Ok(Cmd::Bench(out, cfg))
        }
        other => Err(format!("unknown subcommand {other}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = match parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tapir-gen-demo: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let t0 = Instant::now();
    let out = match &cmd {
        Cmd::Demo(p) | Cmd::Bench(p, _) => p.clone(),
    };
    let res = match cmd {
        Cmd::Demo(path) => write_demo(&path).map(|s| {
            eprintln!(
                "wrote {}: {} packets, {} bytes, {:.3} s of traffic",
                path.display(),
                s.packets,
                s.bytes,
                (s.last_us - s.first_us) as f64 / 1e6
            );
            for line in DEMO_CONTENTS {
                eprintln!("  - {line}");
            }
        }),
        Cmd::Bench(path, cfg) => write_bench(&path, &cfg).map(|s| {
            let secs = t0.elapsed().as_secs_f64();
            eprintln!(
                "wrote {}: {} packets, {} bytes, {} flows started, {:.3} s of traffic \
                 (seed {}, {} concurrent{}); generated in {:.2} s",
                path.display(),
                s.packets,
                s.bytes,
                s.flows_started,
                s.duration_us as f64 / 1e6,
                cfg.seed,
                cfg.flows,
                if cfg.flood { ", SYN flood" } else { "" },
                secs
            );
        }),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tapir-gen-demo: {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}
