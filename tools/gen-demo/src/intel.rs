//! Realistic-size intel lists for the throughput bench, in `rules/README.md`'s plain-list
//! format (one indicator a line, `#` comments, type from the file name): `domains.txt`,
//! `ips.txt` (single IPv4 and IPv6 addresses and CIDRs of the lengths feeds carry),
//! `ja3.txt`, `ja4.txt`, and when asked `patterns.txt` (one literal a line, never with the
//! `|hex|` escape character `|` or a leading `#`) and `patterns-regex.rules` (one
//! `id=N name="..." regex="/expr/flags"` entry a line; ids from [`REGEX_ID_BASE`]).
//!
//! Every list holds the planted values of a truth file ([`crate::truth`]) spread through it,
//! and otherwise random values that never match a benchmark capture:
//! * domains: random labels under common TLDs, each checked not to equal or be a parent of
//!   any name a capture can contain ([`crate::bench::name_pool`], CNAME targets, NXDOMAIN
//!   names, the planted names);
//! * IPv4: first octets outside [`crate::bench::BENIGN_V4_FIRST_OCTETS`], private,
//!   loopback, documentation and benchmarking space; IPv6: 2400::/6 to 2fff::/16, never
//!   2001:db8::/32 (all capture servers and planted addresses are there);
//! * JA3/JA4: random digests, checked against every profile's fingerprint;
//! * patterns and regexes: each contains a random 16-24 character alphanumeric run, which
//!   a capture contains by chance with probability below 2^-70.
//!
//! Memory: the dedup set of the largest list (about 40 bytes an entry); output is streamed.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use crate::bench::{name_pool, SplitMix64, ALNUM_LOWER, BENIGN_V4_FIRST_OCTETS};
use crate::profiles::Profile;

/// First id of the generated regex entries.
pub const REGEX_ID_BASE: u64 = 1_000_000;

/// Largest count accepted for any one list.
pub const MAX_ENTRIES: u64 = 50_000_000;

/// How many entries of each list to write (`None`: do not write that file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntelConfig {
    pub domains: u64,
    pub ips: u64,
    pub ja3: u64,
    pub ja4: u64,
    pub patterns: Option<u64>,
    pub regexes: Option<u64>,
    pub seed: u64,
}

impl Default for IntelConfig {
    /// The sizes of the throughput bench.
    fn default() -> Self {
        IntelConfig {
            domains: 100_000,
            ips: 1_000_000,
            ja3: 10_000,
            ja4: 10_000,
            patterns: None,
            regexes: None,
            seed: 1,
        }
    }
}

/// Entries written per file (planted included) and planted entries in all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IntelSummary {
    pub domains: u64,
    pub ips: u64,
    pub ja3: u64,
    pub ja4: u64,
    pub patterns: u64,
    pub regexes: u64,
    pub planted: u64,
}

const TLDS: [&str; 16] = [
    "com", "net", "org", "info", "biz", "ru", "top", "xyz", "online", "site", "club", "io", "cn",
    "su", "pw", "cc",
];
const ALNUM_MIXED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Every label suffix of every name a capture can contain, plus the planted domains'.
fn capture_suffixes(planted_domains: &[&str]) -> HashSet<String> {
    let mut names = name_pool();
    names.extend((0..60).map(|i| format!("edge{i}.cdn.example.net")));
    names.extend((0..8).map(|i| format!("nx-{i}.example.com")));
    names.extend(["c2.badcdn.example".to_string()]);
    for d in planted_domains {
        names.push(d.to_string());
        names.push(format!("www.{d}"));
    }
    let mut out = HashSet::new();
    for n in names {
        let n = n.to_ascii_lowercase();
        let mut rest = n.as_str();
        loop {
            out.insert(rest.to_string());
            match rest.split_once('.') {
                Some((_, r)) => rest = r,
                None => break,
            }
        }
    }
    out
}

/// IPv4 first octets random entries may use.
fn v4_first_octets() -> Vec<u8> {
    const RESERVED: [u8; 9] = [0, 10, 100, 127, 169, 172, 192, 198, 203];
    (1..=223u8)
        .filter(|o| !BENIGN_V4_FIRST_OCTETS.contains(o) && !RESERVED.contains(o))
        .collect()
}

/// Streams `total` lines: planted values at evenly spread positions, `random()` elsewhere.
fn write_list(
    path: &Path,
    header: &str,
    total: u64,
    planted: &[&str],
    mut random: impl FnMut() -> String,
) -> io::Result<u64> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    writeln!(w, "{header}")?;
    let total = total.max(planted.len() as u64);
    let p = planted.len() as u64;
    let mut next = 0usize;
    for i in 0..total {
        let at = (next as u64 + 1) * total / (p + 1);
        if (next as u64) < p && i >= at.min(total - (p - next as u64)) {
            writeln!(w, "{}", planted.get(next).copied().unwrap_or(""))?;
            next += 1;
        } else {
            writeln!(w, "{}", random())?;
        }
    }
    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(total)
}

/// Writes the lists into `dir` (created if missing). `planted` holds `(type, value)` pairs
/// as [`crate::truth::values`] returns them.
pub fn write_intel(
    dir: &Path,
    cfg: &IntelConfig,
    planted: &[(String, String)],
) -> io::Result<IntelSummary> {
    let too_many = [cfg.domains, cfg.ips, cfg.ja3, cfg.ja4]
        .into_iter()
        .chain(cfg.patterns)
        .chain(cfg.regexes)
        .any(|n| n > MAX_ENTRIES);
    if too_many {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("at most {MAX_ENTRIES} entries a list"),
        ));
    }
    std::fs::create_dir_all(dir)?;
    let of = |kind: &str| -> Vec<&str> {
        planted
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let header = |what: &str, n: u64, p: usize| {
        format!(
            "# {what}: {n} entries ({p} planted), generated by `tapir-gen-demo intel --seed {}`.\n\
             # Synthetic: only the planted entries occur in tapir-gen-demo bench captures.",
            cfg.seed
        )
    };
    let mut rng = SplitMix64::new(cfg.seed ^ 0x001a_7e11_u64);
    let mut s = IntelSummary {
        planted: planted.len() as u64,
        ..Default::default()
    };

    // Domains.
    let pd = of("domain");
    let taken = capture_suffixes(&pd);
    let mut seen: HashSet<String> = pd.iter().map(|d| d.to_string()).collect();
    let n = cfg.domains.max(pd.len() as u64);
    s.domains = write_list(
        &dir.join("domains.txt"),
        &header("domains", n, pd.len()),
        n,
        &pd,
        || loop {
            let tld = TLDS
                .get(rng.below(TLDS.len() as u64) as usize)
                .copied()
                .unwrap_or("com");
            let len = 6 + rng.below(9) as usize;
            let d = if rng.below(4) == 0 {
                let sub = 3 + rng.below(6) as usize;
                format!(
                    "{}.{}.{tld}",
                    rng.word(ALNUM_LOWER, sub),
                    rng.word(ALNUM_LOWER, len)
                )
            } else {
                format!("{}.{tld}", rng.word(ALNUM_LOWER, len))
            };
            if !taken.contains(&d) && seen.insert(d.clone()) {
                return d;
            }
        },
    )?;
    drop(seen);

    // IPs: 65 % single IPv4, 15 % IPv4 CIDRs, 13 % single IPv6, 7 % IPv6 CIDRs.
    let pi = of("ip");
    let firsts = v4_first_octets();
    const V4_LENS: [u8; 16] = [
        16, 18, 19, 20, 21, 22, 22, 23, 24, 24, 24, 24, 24, 25, 27, 29,
    ];
    const V6_LENS: [u8; 10] = [29, 32, 32, 36, 40, 44, 48, 48, 48, 64];
    let mut seen: HashSet<(u128, u8)> = HashSet::with_capacity(cfg.ips.min(1 << 24) as usize);
    let n = cfg.ips.max(pi.len() as u64);
    s.ips = write_list(
        &dir.join("ips.txt"),
        &header("IPv4/IPv6 addresses and CIDRs", n, pi.len()),
        n,
        &pi,
        || loop {
            let r = rng.next_u64();
            let kind = rng.below(100);
            if kind < 80 {
                let first = firsts
                    .get(rng.below(firsts.len() as u64) as usize)
                    .copied()
                    .unwrap_or(45);
                let b = (r as u32).to_be_bytes();
                let a = u32::from_be_bytes([first, b[1], b[2], b[3]]);
                let len = if kind < 65 {
                    32
                } else {
                    V4_LENS
                        .get(rng.below(V4_LENS.len() as u64) as usize)
                        .copied()
                        .unwrap_or(24)
                };
                let a = a & (u32::MAX << (32 - u32::from(len)));
                if len == 32 && a & 0xff == 0 {
                    continue;
                }
                if seen.insert((u128::from(a), len)) {
                    let ip = Ipv4Addr::from(a);
                    return if len == 32 {
                        ip.to_string()
                    } else {
                        format!("{ip}/{len}")
                    };
                }
            } else {
                let top = 0x2400 + rng.below(0x0c00) as u16;
                let a = (u128::from(top) << 112)
                    | (u128::from(r & 0x0000_ffff_ffff_ffff) << 64)
                    | u128::from(rng.next_u64());
                let len = if kind < 93 {
                    128
                } else {
                    V6_LENS
                        .get(rng.below(V6_LENS.len() as u64) as usize)
                        .copied()
                        .unwrap_or(48)
                };
                let a = a & (u128::MAX << (128 - u32::from(len)));
                if seen.insert((a, len | 0x80)) {
                    let ip = Ipv6Addr::from(a);
                    return if len == 128 {
                        ip.to_string()
                    } else {
                        format!("{ip}/{len}")
                    };
                }
            }
        },
    )?;
    drop(seen);

    // JA3 and JA4.
    let mut profile_fps: HashSet<String> = HashSet::new();
    for p in Profile::BENIGN.iter().chain([&Profile::MALWARE]) {
        for sni in [true, false] {
            profile_fps.insert(p.ja3(sni));
            profile_fps.insert(p.ja4(sni));
        }
    }
    let pj = of("ja3");
    let mut seen: HashSet<String> = pj.iter().map(|v| v.to_string()).collect();
    let n = cfg.ja3.max(pj.len() as u64);
    s.ja3 = write_list(
        &dir.join("ja3.txt"),
        &header("JA3 (MD5)", n, pj.len()),
        n,
        &pj,
        || loop {
            let v = format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64());
            if !profile_fps.contains(&v) && seen.insert(v.clone()) {
                return v;
            }
        },
    )?;
    let pj = of("ja4");
    let mut seen: HashSet<String> = pj.iter().map(|v| v.to_string()).collect();
    let n = cfg.ja4.max(pj.len() as u64);
    s.ja4 = write_list(
        &dir.join("ja4.txt"),
        &header("JA4", n, pj.len()),
        n,
        &pj,
        || loop {
            const ALPN: [&str; 5] = ["h2", "h1", "00", "h3", "dt"];
            let v = format!(
                "t{}{}{:02}{:02}{}_{:012x}_{:012x}",
                if rng.below(3) == 0 { "12" } else { "13" },
                if rng.below(8) == 0 { 'i' } else { 'd' },
                2 + rng.below(30),
                2 + rng.below(20),
                ALPN.get(rng.below(5) as usize).copied().unwrap_or("00"),
                rng.next_u64() >> 16,
                rng.next_u64() >> 16
            );
            if !profile_fps.contains(&v) && seen.insert(v.clone()) {
                return v;
            }
        },
    )?;

    // Payload literals and regexes.
    if let Some(count) = cfg.patterns {
        const PREFIXES: [&str; 8] = [
            "",
            "cmd.exe /c ",
            "User-Agent: ",
            "/wp-content/plugins/",
            "eval(base64_decode(",
            "POST /api/",
            "X-Session-Token: ",
            "\\x4d\\x5a",
        ];
        let pp = of("pattern");
        let mut seen: HashSet<String> = pp.iter().map(|v| v.to_string()).collect();
        let n = count.max(pp.len() as u64);
        s.patterns = write_list(
            &dir.join("patterns.txt"),
            &header("payload literals", n, pp.len()),
            n,
            &pp,
            || loop {
                let pre = PREFIXES
                    .get(rng.below(PREFIXES.len() as u64) as usize)
                    .copied()
                    .unwrap_or("");
                let len = 16 + rng.below(9) as usize;
                let v = format!("{pre}{}", rng.word(ALNUM_MIXED, len));
                if seen.insert(v.clone()) {
                    return v;
                }
            },
        )?;
    }
    if let Some(count) = cfg.regexes {
        let mut seen: HashSet<String> = HashSet::new();
        let mut id = REGEX_ID_BASE;
        s.regexes = write_list(
            &dir.join("patterns-regex.rules"),
            &header("payload regexes", count, 0),
            count,
            &[],
            || loop {
                let len = 16 + rng.below(9) as usize;
                let anchor = rng.word(ALNUM_MIXED, len);
                let v = match rng.below(4) {
                    0 => format!("/\\/{anchor}\\.php\\?id=[0-9a-f]{{8,32}}/"),
                    1 => format!("/{anchor}[A-Za-z0-9+\\/]{{20,}}={{0,2}}/"),
                    2 => format!("/user-agent: {anchor}\\/[0-9]+\\.[0-9]+/i"),
                    _ => format!("/{anchor}\\x00[\\x01-\\x08]{{4}}/s"),
                };
                if seen.insert(v.clone()) {
                    id += 1;
                    return format!("id={id} name=\"generated regex {id}\" regex=\"{v}\"");
                }
            },
        )?;
    }
    Ok(s)
}
