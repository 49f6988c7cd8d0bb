//! A 100 000-entry domain list of long, deep names, and DNS lookups of deep names against it.
//!
//! The list ([`write_list`], into `domains.txt` of the intel directory) holds [`ENTRIES`]
//! names, each 213 to 248 bytes long: even entries have 114 labels (`e<i>.a.a. ... .a.deep.
//! tapir-flood.test`), odd entries three 63-byte labels (`e<i>-aaa...`) under
//! `long.tapir-flood.test`; plus [`INVALID_LINES`] lines a loader must refuse (254-byte names,
//! 64-byte labels, empty labels), spread through the file.
//!
//! The capture (2 000 x scale lookups, each its own UDP flow, answered): half look up
//! `q.<entry j>` for a random j, a subdomain of a listed name, so the parent-domain match has
//! to walk the labels to find it; the other half look up names no entry covers, with the same
//! 114-label shape, or 127 one-byte labels (a 253-byte name, the deepest there is), so every
//! suffix is probed in vain.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr};

use super::{FloodConfig, Out};

/// Entries of the list.
pub const ENTRIES: u64 = 100_000;
/// Lines of the list that are not valid names.
pub const INVALID_LINES: u64 = 1_500;

/// What [`write`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamesFacts {
    pub entries: u64,
    pub invalid_lines: u64,
    /// Lookups of a subdomain of a listed name (one flow each).
    pub listed_lookups: u64,
    /// Lookups no entry covers.
    pub unlisted_lookups: u64,
    /// Longest name looked up, in bytes.
    pub longest_lookup: usize,
    /// Most labels in a name looked up.
    pub deepest_lookup: usize,
}

/// List entry `i`.
pub fn entry(i: u64) -> String {
    if i.is_multiple_of(2) {
        format!("e{i}.{}deep.tapir-flood.test", "a.".repeat(110))
    } else {
        let mut first = format!("e{i}-");
        while first.len() < 63 {
            first.push('a');
        }
        let l = "b".repeat(63);
        format!("{first}.{l}.{l}.long.tapir-flood.test")
    }
}

/// Invalid line `k`: too long, a label too long, or an empty label.
fn invalid(k: u64) -> String {
    match k % 3 {
        0 => format!("x{k:05}{}.test", ".a".repeat(124)),
        1 => format!("{}.x{k}.long.test", "c".repeat(64)),
        _ => format!("x{k}..empty.test"),
    }
}

/// Writes the list (after the marker line [`super::write_flood`] writes).
pub(crate) fn write_list(w: &mut impl Write, f: &NamesFacts) -> io::Result<()> {
    let every = f.entries / f.invalid_lines.max(1);
    let mut bad = 0;
    for i in 0..f.entries {
        writeln!(w, "{}", entry(i))?;
        if bad < f.invalid_lines && i % every.max(1) == every.max(1) - 1 {
            writeln!(w, "{}", invalid(bad))?;
            bad += 1;
        }
    }
    while bad < f.invalid_lines {
        writeln!(w, "{}", invalid(bad))?;
        bad += 1;
    }
    Ok(())
}

pub(crate) fn write<W: Write>(out: &mut Out<W>, cfg: &FloodConfig) -> io::Result<NamesFacts> {
    let mut rng = super::rng(cfg, 0x4e4d);
    let mut f = NamesFacts {
        entries: ENTRIES,
        invalid_lines: INVALID_LINES,
        ..NamesFacts::default()
    };
    let resolver = IpAddr::V4(Ipv4Addr::new(10, 53, 1, 53));
    let lookups = 2_000 * u64::from(cfg.scale);
    for k in 0..lookups {
        let r = rng.next_u64();
        let name = match k % 4 {
            0 | 2 => {
                f.listed_lookups += 1;
                format!("q.{}", entry(r % ENTRIES))
            }
            1 => {
                f.unlisted_lookups += 1;
                format!("q.x{k}.{}deep.tapir-flood.test", "a.".repeat(110))
            }
            _ => {
                f.unlisted_lookups += 1;
                // 127 labels: the deepest a 255-octet wire name can be.
                format!("{}{}", "a.".repeat(126), char::from(b'a' + (k % 26) as u8))
            }
        };
        f.longest_lookup = f.longest_lookup.max(name.len());
        f.deepest_lookup = f.deepest_lookup.max(name.split('.').count());
        let client = IpAddr::V4(Ipv4Addr::new(10, 55, (r >> 32) as u8, (r >> 40) as u8 | 1));
        let port = 10_000 + (k % 50_000) as u16;
        let id = k as u16;
        let q = crate::dns::query(id, &name, crate::dns::TYPE_A);
        let answer = [crate::dns::Rr {
            name: &name,
            ttl: 30,
            data: crate::dns::Rdata::A([192, 0, 2, 55]),
        }];
        let resp = crate::dns::response(id, &name, crate::dns::TYPE_A, 0, &answer, &[]);
        out.udp((client, port), (resolver, 53), &q)?;
        out.tick(300);
        out.udp((resolver, 53), (client, port), &resp)?;
        out.tick(700);
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_valid_long_deep_names_and_lookups_fit() {
        for i in [0, 1, 99_998, 99_999] {
            let e = entry(i);
            assert!(e.len() <= 249, "{} bytes", e.len());
            assert!(e.split('.').all(|l| !l.is_empty() && l.len() <= 63));
        }
        assert_eq!(entry(0).split('.').count(), 114);
        assert_eq!(entry(1).split('.').next().map(str::len), Some(63));
        let deepest = format!("{}a", "a.".repeat(126));
        assert_eq!((deepest.len(), deepest.split('.').count()), (253, 127));
    }

    #[test]
    fn invalid_lines_break_one_rule_each() {
        assert!(invalid(0).len() > 253);
        assert!(invalid(1).split('.').any(|l| l.len() == 64));
        assert!(invalid(2).contains(".."));
    }

    #[test]
    fn list_has_every_entry_and_invalid_line() {
        let f = NamesFacts {
            entries: 1_000,
            invalid_lines: 15,
            ..NamesFacts::default()
        };
        let mut v = Vec::new();
        write_list(&mut v, &f).expect("write");
        let text = String::from_utf8(v).expect("utf8");
        assert_eq!(text.lines().count(), 1_015);
        assert_eq!(text.lines().filter(|l| !l.starts_with('e')).count(), 15);
    }
}
