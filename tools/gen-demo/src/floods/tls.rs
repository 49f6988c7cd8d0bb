//! TLS ClientHellos with thousands of extensions or cipher suites, in valid record framing,
//! each split over about 120 TCP segments of 536 bytes (the IPv4 default MSS, RFC 9293 §3.7.1),
//! 32 connections at a time interleaved segment by segment, so a receiver holds 32 partial
//! hellos at once. Even connections use full 16 KiB records, odd ones 1 000-byte records.
//!
//! Variants ([`VARIANTS`], 40 x scale connections each; all TLS 1.3 with SNI):
//! * `many-ext`: 3 cipher suites, 16 000 empty extensions of private types besides the usual
//!   five (64 112-byte handshake body);
//! * `many-ciphers`: 30 000 cipher suites (60 110 bytes);
//! * `both`: 8 000 of each (48 102 bytes);
//! * `too-big`: 32 000 cipher suites and 8 000 extensions (96 105 bytes): framed correctly, but
//!   larger than a receiver that caps a hello at 64 KiB keeps.
//!
//! Cipher and extension values run through the GREASE values of RFC 8701, which fingerprints
//! leave out. [`HelloFacts::ja3`] and [`HelloFacts::ja4`] are computed here from the values
//! written, as the JA3 (salesforce/ja3) and JA4 (FoxIO JA4.md) definitions say.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr};

use md5::{Digest, Md5};

use super::{Conn, FloodConfig, Out, UP};
use crate::profiles;
use crate::tls::{self as t, CT_HANDSHAKE};

/// (name, cipher suites, filler extensions).
pub const VARIANTS: [(&str, u16, u16); 4] = [
    ("many-ext", 3, 16_000),
    ("many-ciphers", 30_000, 0),
    ("both", 8_000, 8_000),
    ("too-big", 32_000, 8_000),
];
/// Connections interleaved at a time.
pub const CONCURRENT: usize = 32;
/// TCP payload per segment.
pub const SEGMENT: usize = 536;
const SIG_ALGS: [u16; 2] = [0x0403, 0x0804];

/// One variant as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelloFacts {
    pub name: &'static str,
    pub sni: String,
    pub connections: u64,
    pub ciphers: usize,
    /// Extensions, the usual five included.
    pub extensions: usize,
    /// Handshake message body length (after the 4-byte handshake header).
    pub body_len: usize,
    pub ja3: String,
    pub ja4: String,
}

/// What [`write`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsFacts {
    pub hellos: Vec<HelloFacts>,
    /// Written to `ja3.txt` / `ja4.txt` of the intel directory: the JA3 of `many-ext` and the
    /// JA4 of `many-ciphers`.
    pub listed_ja3: String,
    pub listed_ja4: String,
}

struct Hello {
    ciphers: Vec<u16>,
    extensions: Vec<t::Extension>,
    sni: String,
}

const GROUPS: [u16; 1] = [t::GROUP_X25519];

fn hello(name: &str, n_ciphers: u16, n_ext: u16) -> Hello {
    let ciphers = if n_ciphers <= 3 {
        vec![0x1301, 0x1302, 0xc02b]
    } else {
        (1..=n_ciphers).collect()
    };
    let sni = format!("{name}.tapir-flood.test");
    let mut extensions = vec![
        (t::EXT_SERVER_NAME, t::ext_server_name(&sni)),
        (t::EXT_SUPPORTED_VERSIONS, t::ext_client_versions(&[0x0304])),
        (t::EXT_SUPPORTED_GROUPS, t::ext_u16_list(&GROUPS)),
        (t::EXT_SIGNATURE_ALGORITHMS, t::ext_u16_list(&SIG_ALGS)),
        (t::EXT_EC_POINT_FORMATS, t::ext_u8_list(&[0])),
    ];
    // Types 0x4000.. are unassigned; four of them are GREASE values.
    extensions.extend((0..n_ext).map(|i| (0x4000 + i, Vec::new())));
    Hello {
        ciphers,
        extensions,
        sni,
    }
}

impl Hello {
    fn body(&self) -> Vec<u8> {
        let ch = t::ClientHello {
            random: t::filler32(7),
            session_id: &[],
            cipher_suites: &self.ciphers,
            extensions: self.extensions.clone(),
        };
        ch.to_handshake()
    }

    fn ext_types(&self) -> Vec<u16> {
        self.extensions.iter().map(|e| e.0).collect()
    }

    fn ja3(&self) -> String {
        let s = profiles::ja3_string(0x0303, &self.ciphers, &self.ext_types(), &GROUPS, &[0]);
        profiles::hex(&Md5::digest(s.as_bytes()))
    }

    fn ja4(&self) -> String {
        profiles::ja4(
            0x0304,
            true,
            None,
            &self.ciphers,
            &self.ext_types(),
            &SIG_ALGS,
        )
    }
}

/// TLS records of at most `record` bytes around the handshake message.
fn records(handshake: &[u8], record: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(handshake.len() + 5 * (handshake.len() / record + 1));
    for chunk in handshake.chunks(record) {
        out.extend_from_slice(&t::records(CT_HANDSHAKE, 0x0301, chunk));
    }
    out
}

pub(crate) fn write<W: Write>(out: &mut Out<W>, cfg: &FloodConfig) -> io::Result<TlsFacts> {
    let mut rng = super::rng(cfg, 0x715);
    let per_variant = 40 * u64::from(cfg.scale);
    let server = IpAddr::V4(Ipv4Addr::new(10, 44, 3, 43));
    let mut facts = TlsFacts::default();
    let mut streams = Vec::with_capacity(VARIANTS.len() * 2);
    for (name, n_ciphers, n_ext) in VARIANTS {
        let h = hello(name, n_ciphers, n_ext);
        let hs = h.body();
        facts.hellos.push(HelloFacts {
            name,
            sni: h.sni.clone(),
            connections: per_variant,
            ciphers: h.ciphers.len(),
            extensions: h.extensions.len(),
            body_len: hs.len() - 4,
            ja3: h.ja3(),
            ja4: h.ja4(),
        });
        streams.push([records(&hs, t::MAX_FRAGMENT), records(&hs, 1_000)]);
    }
    facts.listed_ja3 = facts
        .hellos
        .first()
        .map(|h| h.ja3.clone())
        .unwrap_or_default();
    facts.listed_ja4 = facts
        .hellos
        .get(1)
        .map(|h| h.ja4.clone())
        .unwrap_or_default();
    let total = per_variant * VARIANTS.len() as u64;
    let mut next = 0u64;
    while next < total {
        let group: Vec<u64> = (next..total).take(CONCURRENT).collect();
        next += group.len() as u64;
        let mut conns = Vec::with_capacity(group.len());
        for &i in &group {
            let r = rng.next_u64();
            let client = IpAddr::V4(Ipv4Addr::new(10, 45, (r >> 8) as u8, r as u8 | 1));
            let isn = [(r >> 16) as u32, (r >> 40) as u32];
            let mut c = Conn::new((client, 30_000 + (i % 30_000) as u16), (server, 443), isn);
            c.handshake(out)?;
            let variant = (i % VARIANTS.len() as u64) as usize;
            let stream = streams
                .get(variant)
                .and_then(|s| s.get((i / VARIANTS.len() as u64 % 2) as usize));
            conns.push((c, stream.map(Vec::as_slice).unwrap_or_default(), 0usize));
        }
        loop {
            let mut sent = false;
            for (c, data, at) in conns.iter_mut() {
                let chunk = data.get(*at..).unwrap_or_default();
                let chunk = chunk.get(..SEGMENT.min(chunk.len())).unwrap_or_default();
                if chunk.is_empty() {
                    continue;
                }
                c.send(out, UP, chunk, SEGMENT)?;
                *at += chunk.len();
                sent = true;
            }
            if !sent {
                break;
            }
        }
        for (c, _, _) in conns.iter_mut() {
            c.close(out)?;
        }
        out.tick(1_000);
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_lengths_are_as_documented() {
        let lens: Vec<usize> = VARIANTS
            .iter()
            .map(|&(n, c, e)| hello(n, c, e).body().len() - 4)
            .collect();
        assert_eq!(lens, [64_112, 60_110, 48_102, 96_105]);
        // Only too-big is over the 64 KiB a handshake message may take in tapir.
        assert!(lens.iter().take(3).all(|&l| l <= 65_536));
    }

    #[test]
    fn fingerprints_skip_grease_and_cap_counts_at_99() {
        let h = hello("many-ext", 3, 16_000);
        // 16 000 fillers include 0x4a4a, 0x5a5a, 0x6a6a and 0x7a7a.
        assert!(h.ja4().starts_with("t13d039900_"), "{}", h.ja4());
        let c = hello("many-ciphers", 30_000, 0);
        assert!(c.ja4().starts_with("t13d990500_"), "{}", c.ja4());
        assert_ne!(h.ja3(), c.ja3());
        assert_eq!(h.ja3().len(), 32);
    }

    #[test]
    fn records_wrap_at_the_given_size() {
        let r = records(&[1u8; 2_500], 1_000);
        assert_eq!(r.len(), 2_500 + 3 * 5);
        assert_eq!(&r[..5], &[22, 3, 1, 0x03, 0xe8]);
    }
}
