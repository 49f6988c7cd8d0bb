//! `tapir-gen-demo`: writes the demo capture, a benchmark capture, or bench intel lists.
//!
//! ```text
//! tapir-gen-demo demo  --out PATH
//! tapir-gen-demo bench --out PATH (--size BYTES | --packets N) [--flows F] [--seed S]
//!                      [--mean-frame BYTES] [--plant N] [--flood]
//! tapir-gen-demo intel --out DIR [--domains N] [--ips N] [--ja3 N] [--ja4 N]
//!                      [--patterns N] [--regexes N] [--seed S] [--truth FILE]
//! tapir-gen-demo behaviour --out DIR [--scenario NAME]
//! tapir-gen-demo floods --kind KIND --out PATH [--scale N] [--seed S]
//! ```
//!
//! Numbers take K/M/G/T (powers of 1000) or KiB/MiB/GiB/TiB (powers of 1024) suffixes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use tapir_gen_demo::bench::{MAX_FLOWS, MAX_MEAN_FRAME, MAX_PLANT, MIN_MEAN_FRAME};
use tapir_gen_demo::floods::{self, MAX_SCALE};
use tapir_gen_demo::intel::{self, IntelConfig};
use tapir_gen_demo::{
    truth, truth_path, write_bench, write_demo, write_flood, BenchConfig, FloodConfig, FloodKind,
    DEMO_CONTENTS,
};

const USAGE: &str = "usage:
  tapir-gen-demo demo  --out PATH
  tapir-gen-demo bench --out PATH (--size BYTES | --packets N) [--flows F] [--seed S]
                       [--mean-frame BYTES] [--plant N] [--flood]
      --mean-frame defaults to 700 (0: uncontrolled mix); writes PATH, and PATH.truth.json when --plant N > 0
  tapir-gen-demo intel --out DIR [--domains N] [--ips N] [--ja3 N] [--ja4 N]
                       [--patterns N] [--regexes N] [--seed S] [--truth FILE]
      writes DIR/domains.txt ips.txt ja3.txt ja4.txt [patterns.txt] [patterns-regex.rules]
      defaults: 100K domains, 1M IPs/CIDRs, 10K JA3, 10K JA4; no patterns/regexes
  tapir-gen-demo behaviour --out DIR [--scenario NAME]
      writes DIR/NAME.pcap and DIR/NAME.pcap.truth.json for every behaviour scenario (or one)
  tapir-gen-demo floods --kind KIND --out PATH [--scale N] [--seed S]
      KIND: frag, tcp-overlap, dns, tls, deep-names; writes PATH and the intel directory
      PATH.intel/ (the marker domain looked up after the flood, and the kind's lists)
numbers take K/M/G/T (x1000) or KiB/MiB/GiB/TiB (x1024) suffixes, e.g. --size 1GiB";

enum Cmd {
    Demo(PathBuf),
    Bench(PathBuf, BenchConfig),
    Intel(PathBuf, IntelConfig, Option<PathBuf>),
    Behaviour(PathBuf, Option<String>),
    Floods(PathBuf, Option<FloodConfig>),
}

/// A count or size: digits, then an optional K/M/G/T or KiB/MiB/GiB/TiB suffix (any case).
fn quantity(s: &str) -> Result<u64, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, suffix) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a number"))?;
    let mult: u64 = match suffix.to_ascii_lowercase().as_str() {
        "" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        other => return Err(format!("{s:?}: unknown suffix {other:?}")),
    };
    n.checked_mul(mult).ok_or(format!("{s:?} is too large"))
}

fn parse(args: &[String]) -> Result<Cmd, String> {
    let (sub, rest) = args.split_first().ok_or("missing subcommand")?;
    let mut out = None;
    let mut cfg = BenchConfig::default();
    let mut icfg = IntelConfig::default();
    let mut truth_file = None;
    let mut scenario = None;
    let mut flood: Option<FloodConfig> = None;
    let (mut flood_scale, mut flood_seed) = (1u32, 1u64);
    let (mut packets, mut size) = (None, None);
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: &String| quantity(v).map_err(|e| format!("{flag}: {e}"));
        match (sub.as_str(), flag.as_str()) {
            (_, "--out") => out = Some(PathBuf::from(value()?)),
            ("bench" | "intel", "--seed") => {
                let s = num(value()?)?;
                cfg.seed = s;
                icfg.seed = s;
            }
            ("bench", "--packets") => packets = Some(num(value()?)?),
            ("bench", "--size") => size = Some(num(value()?)?),
            ("bench", "--flows") => {
                let v = num(value()?)?;
                cfg.flows = usize::try_from(v).map_err(|e| e.to_string())?;
                if cfg.flows == 0 || cfg.flows > MAX_FLOWS {
                    return Err(format!("--flows must be 1..={MAX_FLOWS}"));
                }
            }
            ("bench", "--mean-frame") => {
                let v = num(value()?)?;
                if v != 0 && !(u64::from(MIN_MEAN_FRAME)..=u64::from(MAX_MEAN_FRAME)).contains(&v) {
                    return Err(format!(
                        "--mean-frame must be {MIN_MEAN_FRAME}..={MAX_MEAN_FRAME} \
                         (or 0: the uncontrolled mix)"
                    ));
                }
                cfg.mean_frame = v as u32;
            }
            ("bench", "--plant") => {
                let v = num(value()?)?;
                if v > u64::from(MAX_PLANT) {
                    return Err(format!("--plant must be 0..={MAX_PLANT}"));
                }
                cfg.plant = v as u32;
            }
            ("bench", "--flood") => cfg.flood = true,
            ("intel", "--domains") => icfg.domains = num(value()?)?,
            ("intel", "--ips") => icfg.ips = num(value()?)?,
            ("intel", "--ja3") => icfg.ja3 = num(value()?)?,
            ("intel", "--ja4") => icfg.ja4 = num(value()?)?,
            ("intel", "--patterns") => icfg.patterns = Some(num(value()?)?),
            ("intel", "--regexes") => icfg.regexes = Some(num(value()?)?),
            ("intel", "--truth") => truth_file = Some(PathBuf::from(value()?)),
            ("behaviour", "--scenario") => {
                let name = value()?;
                if tapir_gen_demo::behaviour::scenario(name).is_none() {
                    let names: Vec<&str> = tapir_gen_demo::behaviour::SCENARIOS
                        .iter()
                        .map(|s| s.name)
                        .collect();
                    return Err(format!("unknown scenario {name} ({})", names.join(", ")));
                }
                scenario = Some(name.clone());
            }
            ("floods", "--kind") => {
                let name = value()?;
                let kind = FloodKind::from_name(name).ok_or_else(|| {
                    let names: Vec<&str> = FloodKind::ALL.iter().map(|k| k.name()).collect();
                    format!("unknown kind {name} ({})", names.join(", "))
                })?;
                flood = Some(FloodConfig::new(kind));
            }
            ("floods", "--scale") => {
                let v = num(value()?)?;
                if v == 0 || v > u64::from(MAX_SCALE) {
                    return Err(format!("--scale must be 1..={MAX_SCALE}"));
                }
                flood_scale = v as u32;
            }
            ("floods", "--seed") => flood_seed = num(value()?)?,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    let out = out.ok_or("--out is required")?;
    match sub.as_str() {
        "demo" => Ok(Cmd::Demo(out)),
        "bench" => {
            if packets.is_none() && size.is_none() {
                return Err("bench needs --size BYTES or --packets N".into());
            }
            cfg.packets = packets.unwrap_or(u64::MAX);
            cfg.max_bytes = size.unwrap_or(0);
            Ok(Cmd::Bench(out, cfg))
        }
        "intel" => Ok(Cmd::Intel(out, icfg, truth_file)),
        "behaviour" => Ok(Cmd::Behaviour(out, scenario)),
        "floods" => Ok(Cmd::Floods(
            out,
            flood.map(|f| FloodConfig {
                scale: flood_scale,
                seed: flood_seed,
                ..f
            }),
        )),
        other => Err(format!("unknown subcommand {other}")),
    }
}

fn run(cmd: Cmd) -> Result<(), String> {
    let t0 = Instant::now();
    match cmd {
        Cmd::Demo(path) => {
            let s = write_demo(&path).map_err(|e| format!("{}: {e}", path.display()))?;
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
        }
        Cmd::Bench(path, cfg) => {
            let s = write_bench(&path, &cfg).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!(
                "wrote {}: {} packets, {} bytes, mean frame {:.1} bytes, {} flows started, \
                 {:.3} s of traffic (seed {}, {} concurrent{}); generated in {:.2} s",
                path.display(),
                s.packets,
                s.bytes,
                s.frame_bytes as f64 / s.packets.max(1) as f64,
                s.flows_started,
                s.duration_us as f64 / 1e6,
                cfg.seed,
                cfg.flows,
                if cfg.flood { ", SYN flood" } else { "" },
                t0.elapsed().as_secs_f64()
            );
            if cfg.plant > 0 {
                eprintln!(
                    "wrote {}: {} plants, {} planted occurrences",
                    truth_path(&path).display(),
                    cfg.plant,
                    s.planted.len()
                );
            }
        }
        Cmd::Behaviour(dir, only) => {
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            for sc in tapir_gen_demo::behaviour::SCENARIOS {
                if only.as_deref().is_some_and(|n| n != sc.name) {
                    continue;
                }
                let path = dir.join(format!("{}.pcap", sc.name));
                let t = tapir_gen_demo::behaviour::write_scenario(sc, &path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                eprintln!(
                    "wrote {}: {} packets ({}): fires {:?}, silent {:?}",
                    path.display(),
                    t.packets,
                    t.about,
                    t.fires.iter().map(|f| f.detector).collect::<Vec<_>>(),
                    t.silent
                );
            }
        }
        Cmd::Floods(path, cfg) => {
            let cfg = cfg.ok_or("floods needs --kind")?;
            let s = write_flood(&path, &cfg).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!(
                "wrote {}: {} flood, {} packets, {} bytes, marker lookup of {} at frame {}; \
                 intel in {}; generated in {:.2} s",
                path.display(),
                cfg.kind.name(),
                s.packets,
                s.bytes,
                floods::MARKER_DOMAIN,
                s.marker_frame,
                floods::intel_dir(&path).display(),
                t0.elapsed().as_secs_f64()
            );
        }
        Cmd::Intel(dir, cfg, truth_file) => {
            let planted = match &truth_file {
                Some(p) => {
                    let doc =
                        std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                    truth::values(&doc).map_err(|e| format!("{}: {e}", p.display()))?
                }
                None => Vec::new(),
            };
            let s = intel::write_intel(&dir, &cfg, &planted)
                .map_err(|e| format!("{}: {e}", dir.display()))?;
            eprintln!(
                "wrote {}: {} domains, {} IPs/CIDRs, {} JA3, {} JA4, {} patterns, {} regexes \
                 ({} planted values); generated in {:.2} s",
                dir.display(),
                s.domains,
                s.ips,
                s.ja3,
                s.ja4,
                s.patterns,
                s.regexes,
                s.planted,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
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
    match run(cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tapir-gen-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::quantity;

    #[test]
    fn quantities_take_decimal_and_binary_suffixes() {
        assert_eq!(quantity("1500"), Ok(1500));
        assert_eq!(quantity("2K"), Ok(2_000));
        assert_eq!(quantity("3M"), Ok(3_000_000));
        assert_eq!(quantity("1G"), Ok(1_000_000_000));
        assert_eq!(quantity("4KiB"), Ok(4_096));
        assert_eq!(quantity("1MiB"), Ok(1_048_576));
        assert_eq!(quantity("1GiB"), Ok(1_073_741_824));
        assert_eq!(quantity("2gib"), Ok(2_147_483_648));
        assert!(quantity("1.5G").is_err());
        assert!(quantity("G").is_err());
        assert!(quantity("10X").is_err());
        assert!(quantity("20000000TiB").is_err());
    }
}
