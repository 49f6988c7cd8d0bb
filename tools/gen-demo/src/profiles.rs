//! TLS client profiles for benchmark captures, and their JA3 / JA4 fingerprints computed
//! here from the profile fields (not by parsing the bytes, and not with tapir's parsers).
//!
//! The cipher, extension, group and signature-algorithm lists imitate what the named clients
//! sent in 2024-2025 (Chromium with GREASE per RFC 8701 and an ML-KEM hybrid key share,
//! Firefox, curl on OpenSSL 3, Go's crypto/tls) closely enough for a realistic size and mix;
//! they are not byte-exact copies. [`Profile::MALWARE`] is a minimal TLS 1.2-only client used
//! only for planted flows.
//!
//! Fingerprint definitions:
//! * JA3 (Salesforce, <https://github.com/salesforce/ja3>): `version,ciphers,extensions,
//!   groups,point_formats` in decimal, `-`-joined in wire order, GREASE values removed, then
//!   MD5 as 32 lower-case hex digits.
//! * JA4 (FoxIO, `technical_details/JA4.md`): `t` + version (highest non-GREASE
//!   supported_versions entry, else the legacy version) + `d`/`i` (SNI or not) + 2-digit
//!   cipher and extension counts (GREASE removed) + first and last character of the first ALPN
//!   value (`00` when none); then the first 12 hex digits of SHA-256 of the sorted 4-hex-digit
//!   ciphers, and of the sorted extensions without SNI and ALPN, `_`, and the signature
//!   algorithms in wire order (no `_` when there are none).

use md5::{Digest, Md5};
use sha2::Sha256;

use crate::tls::{self, ClientHello, Extension};

/// Extension types used below beyond those in [`tls`] (IANA "TLS ExtensionType Values").
const EXT_STATUS_REQUEST: u16 = 0x0005;
const EXT_SCT: u16 = 0x0012;
const EXT_PADDING: u16 = 0x0015;
const EXT_ENCRYPT_THEN_MAC: u16 = 0x0016;
const EXT_COMPRESS_CERTIFICATE: u16 = 0x001b;
const EXT_RECORD_SIZE_LIMIT: u16 = 0x001c;
const EXT_DELEGATED_CREDENTIALS: u16 = 0x0022;
const EXT_POST_HANDSHAKE_AUTH: u16 = 0x0031;
const EXT_APPLICATION_SETTINGS: u16 = 0x4469;
const EXT_ECH: u16 = 0xfe0d;
/// X25519MLKEM768 hybrid group (draft-kwiatkowski-tls-ecdhe-mlkem), 1216-byte client share.
const GROUP_X25519_MLKEM768: u16 = 0x11ec;
const MLKEM_SHARE_LEN: usize = 1216;
/// Placeholder in a profile's extension list for "a GREASE value here".
const GREASE: u16 = 0x0a0a;

/// The 16 GREASE values of RFC 8701 §2.
pub fn grease(i: usize) -> u16 {
    let b = 0x0a + 0x10 * (i % 16) as u16;
    (b << 8) | b
}

/// RFC 8701 GREASE test: both bytes equal and of the form 0x?a.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// One TLS client's ClientHello shape.
#[derive(Clone, Copy, Debug)]
pub struct Profile {
    pub name: &'static str,
    /// legacy_version of the ClientHello.
    pub version: u16,
    /// Cipher suites in wire order; [`GREASE`] entries are replaced per hello.
    pub ciphers: &'static [u16],
    /// Extension types in wire order; [`GREASE`] entries are replaced per hello.
    pub extensions: &'static [u16],
    pub groups: &'static [u16],
    pub point_formats: &'static [u8],
    pub sigalgs: &'static [u16],
    pub versions: &'static [u16],
    pub alpn: &'static [&'static str],
    /// Groups with a key share.
    pub key_shares: &'static [u16],
    /// HTTP User-Agent this client sends on plain HTTP.
    pub user_agent: &'static str,
}

impl Profile {
    pub const CHROME: Profile = Profile {
        name: "chrome",
        version: 0x0303,
        ciphers: &[
            GREASE, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
            0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
        ],
        extensions: &[
            GREASE,
            0x0000,
            tls::EXT_EXTENDED_MASTER_SECRET,
            tls::EXT_RENEGOTIATION_INFO,
            tls::EXT_SUPPORTED_GROUPS,
            tls::EXT_EC_POINT_FORMATS,
            tls::EXT_SESSION_TICKET,
            tls::EXT_ALPN,
            EXT_STATUS_REQUEST,
            tls::EXT_SIGNATURE_ALGORITHMS,
            EXT_SCT,
            tls::EXT_KEY_SHARE,
            tls::EXT_PSK_KEY_EXCHANGE_MODES,
            tls::EXT_SUPPORTED_VERSIONS,
            EXT_COMPRESS_CERTIFICATE,
            EXT_APPLICATION_SETTINGS,
            EXT_ECH,
            GREASE,
        ],
        groups: &[GREASE, GROUP_X25519_MLKEM768, 0x001d, 0x0017, 0x0018],
        point_formats: &[0],
        sigalgs: &[
            0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
        ],
        versions: &[GREASE, 0x0304, 0x0303],
        alpn: &["h2", "http/1.1"],
        key_shares: &[GREASE, GROUP_X25519_MLKEM768, 0x001d],
        user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                     (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    };

    pub const FIREFOX: Profile = Profile {
        name: "firefox",
        version: 0x0303,
        ciphers: &[
            0x1301, 0x1303, 0x1302, 0xc02b, 0xc02f, 0xcca9, 0xcca8, 0xc02c, 0xc030, 0xc00a, 0xc009,
            0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
        ],
        extensions: &[
            0x0000,
            tls::EXT_EXTENDED_MASTER_SECRET,
            tls::EXT_RENEGOTIATION_INFO,
            tls::EXT_SUPPORTED_GROUPS,
            tls::EXT_EC_POINT_FORMATS,
            tls::EXT_SESSION_TICKET,
            tls::EXT_ALPN,
            EXT_STATUS_REQUEST,
            EXT_DELEGATED_CREDENTIALS,
            tls::EXT_KEY_SHARE,
            tls::EXT_SUPPORTED_VERSIONS,
            tls::EXT_SIGNATURE_ALGORITHMS,
            tls::EXT_PSK_KEY_EXCHANGE_MODES,
            EXT_RECORD_SIZE_LIMIT,
            EXT_ECH,
        ],
        groups: &[0x001d, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101],
        point_formats: &[0],
        sigalgs: &[
            0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0203, 0x0201,
        ],
        versions: &[0x0304, 0x0303],
        alpn: &["h2", "http/1.1"],
        key_shares: &[0x001d, 0x0017],
        user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    };

    pub const CURL: Profile = Profile {
        name: "curl-openssl",
        version: 0x0303,
        ciphers: &[
            0x1302, 0x1303, 0x1301, 0xc02c, 0xc030, 0x009f, 0xcca9, 0xcca8, 0xccaa, 0xc02b, 0xc02f,
            0x009e, 0xc024, 0xc028, 0x006b, 0xc023, 0xc027, 0x0067, 0xc00a, 0xc014, 0x0039, 0xc009,
            0xc013, 0x0033, 0x009d, 0x009c, 0x003d, 0x003c, 0x0035, 0x002f, 0x00ff,
        ],
        extensions: &[
            0x0000,
            tls::EXT_EC_POINT_FORMATS,
            tls::EXT_SUPPORTED_GROUPS,
            tls::EXT_SESSION_TICKET,
            tls::EXT_ALPN,
            EXT_ENCRYPT_THEN_MAC,
            tls::EXT_EXTENDED_MASTER_SECRET,
            tls::EXT_SIGNATURE_ALGORITHMS,
            tls::EXT_SUPPORTED_VERSIONS,
            tls::EXT_PSK_KEY_EXCHANGE_MODES,
            tls::EXT_KEY_SHARE,
            EXT_POST_HANDSHAKE_AUTH,
            EXT_PADDING,
        ],
        groups: &[0x001d, 0x0017, 0x001e, 0x0019, 0x0018],
        point_formats: &[0, 1, 2],
        sigalgs: &[
            0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0809, 0x080a, 0x080b, 0x0804, 0x0805, 0x0806,
            0x0401, 0x0501, 0x0601, 0x0303, 0x0301, 0x0302, 0x0402, 0x0502, 0x0602,
        ],
        versions: &[0x0304, 0x0303],
        alpn: &["h2", "http/1.1"],
        key_shares: &[0x001d],
        user_agent: "curl/8.11.1",
    };

    pub const GO: Profile = Profile {
        name: "go",
        version: 0x0303,
        ciphers: &[
            0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc009, 0xc013, 0xc00a, 0xc014, 0x009c,
            0x009d, 0x002f, 0x0035, 0xc012, 0x000a, 0x1301, 0x1302, 0x1303,
        ],
        extensions: &[
            0x0000,
            EXT_STATUS_REQUEST,
            tls::EXT_SUPPORTED_GROUPS,
            tls::EXT_EC_POINT_FORMATS,
            tls::EXT_SIGNATURE_ALGORITHMS,
            tls::EXT_RENEGOTIATION_INFO,
            EXT_SCT,
            tls::EXT_ALPN,
            tls::EXT_SUPPORTED_VERSIONS,
            tls::EXT_KEY_SHARE,
        ],
        groups: &[0x001d, 0x0017, 0x0018, 0x0019],
        point_formats: &[0],
        sigalgs: &[
            0x0804, 0x0403, 0x0807, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0503, 0x0603, 0x0201,
            0x0203,
        ],
        versions: &[0x0304, 0x0303],
        alpn: &["h2", "http/1.1"],
        key_shares: &[0x001d],
        user_agent: "Go-http-client/1.1",
    };

    /// Minimal TLS 1.2-only client: no GREASE, no ALPN, no TLS 1.3 extensions.
    pub const MALWARE: Profile = Profile {
        name: "malware-minimal",
        version: 0x0303,
        ciphers: &[
            0xc02f, 0xc030, 0xc013, 0xc014, 0x009c, 0x009d, 0x0035, 0x002f, 0x000a,
        ],
        extensions: &[
            0x0000,
            tls::EXT_SUPPORTED_GROUPS,
            tls::EXT_EC_POINT_FORMATS,
            tls::EXT_SIGNATURE_ALGORITHMS,
            tls::EXT_EXTENDED_MASTER_SECRET,
            tls::EXT_RENEGOTIATION_INFO,
        ],
        groups: &[0x001d, 0x0017, 0x0018],
        point_formats: &[0],
        sigalgs: &[0x0401, 0x0501, 0x0201, 0x0403, 0x0503],
        versions: &[],
        alpn: &[],
        key_shares: &[],
        user_agent: "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.1)",
    };

    /// The profiles of ordinary traffic (the malware-like one is only used when planting).
    pub const BENIGN: [Profile; 4] = [Self::CHROME, Self::FIREFOX, Self::CURL, Self::GO];

    /// `list` with each [`GREASE`] placeholder replaced by a GREASE value derived from
    /// `seed` (Chromium draws them per connection).
    fn degrease(list: &[u16], seed: usize) -> Vec<u16> {
        list.iter()
            .enumerate()
            .map(|(i, &v)| {
                if v == GREASE {
                    grease(seed.wrapping_add(i * 7))
                } else {
                    v
                }
            })
            .collect()
    }

    /// The ClientHello record for `sni` (no SNI extension when `sni` is empty). `seed`
    /// varies randoms, keys and GREASE values.
    pub fn client_hello(&self, sni: &str, seed: u8) -> Vec<u8> {
        let s = usize::from(seed);
        let ciphers = Self::degrease(self.ciphers, s);
        let groups = Self::degrease(self.groups, s + 1);
        let versions = Self::degrease(self.versions, s + 2);
        let shares = Self::degrease(self.key_shares, s + 1);
        let ext_types = Self::degrease(self.extensions, s + 3);
        let key32 = tls::filler32(seed.wrapping_add(2));
        let mut extensions: Vec<Extension> = Vec::with_capacity(ext_types.len());
        let last = ext_types.len().saturating_sub(1);
        for (i, &ty) in ext_types.iter().enumerate() {
            let body = match ty {
                0x0000 if sni.is_empty() => continue,
                0x0000 => tls::ext_server_name(sni),
                t if is_grease(t) => {
                    // Chromium: empty first GREASE extension, one zero byte in the last.
                    if i == last {
                        vec![0]
                    } else {
                        vec![]
                    }
                }
                tls::EXT_SUPPORTED_GROUPS => tls::ext_u16_list(&groups),
                tls::EXT_EC_POINT_FORMATS => tls::ext_u8_list(self.point_formats),
                tls::EXT_SIGNATURE_ALGORITHMS => tls::ext_u16_list(self.sigalgs),
                EXT_DELEGATED_CREDENTIALS => {
                    tls::ext_u16_list(&self.sigalgs[..4.min(self.sigalgs.len())])
                }
                tls::EXT_SUPPORTED_VERSIONS => tls::ext_client_versions(&versions),
                tls::EXT_ALPN => tls::ext_alpn(self.alpn),
                tls::EXT_PSK_KEY_EXCHANGE_MODES => tls::ext_u8_list(&[1]),
                tls::EXT_RENEGOTIATION_INFO => vec![0],
                EXT_STATUS_REQUEST => vec![1, 0, 0, 0, 0],
                EXT_COMPRESS_CERTIFICATE => vec![2, 0, 2],
                EXT_RECORD_SIZE_LIMIT => 0x4001u16.to_be_bytes().to_vec(),
                EXT_APPLICATION_SETTINGS => vec![0, 3, 2, b'h', b'2'],
                EXT_PADDING => vec![0; 64],
                EXT_ECH => {
                    // Outer ECH GREASE: type outer, HKDF-SHA256, AES-128-GCM, config id,
                    // 32-byte enc, 144-byte payload (draft-ietf-tls-esni §6.2).
                    let mut b = vec![0, 0, 1, 0, 1, seed, 0, 32];
                    b.extend_from_slice(&tls::filler32(seed.wrapping_add(5)));
                    b.extend_from_slice(&144u16.to_be_bytes());
                    b.extend(tls::filler(seed.wrapping_add(6), 144));
                    b
                }
                tls::EXT_KEY_SHARE => {
                    let mlkem = tls::filler(seed.wrapping_add(4), MLKEM_SHARE_LEN);
                    let p256 = {
                        let mut k = vec![4];
                        k.extend(tls::filler(seed.wrapping_add(7), 64));
                        k
                    };
                    let entries: Vec<(u16, &[u8])> = shares
                        .iter()
                        .map(|&g| {
                            let key: &[u8] = match g {
                                GROUP_X25519_MLKEM768 => &mlkem,
                                0x0017 => &p256,
                                g if is_grease(g) => &[0],
                                _ => &key32,
                            };
                            (g, key)
                        })
                        .collect();
                    tls::ext_client_key_share(&entries)
                }
                _ => vec![],
            };
            extensions.push((ty, body));
        }
        ClientHello {
            random: tls::filler32(seed),
            session_id: &tls::filler32(seed.wrapping_add(1)),
            cipher_suites: &ciphers,
            extensions,
        }
        .to_record()
    }

    /// The extension types a hello carries, GREASE placeholders dropped.
    fn ext_types(&self, sni: bool) -> impl Iterator<Item = u16> + '_ {
        self.extensions
            .iter()
            .copied()
            .filter(move |&t| t != GREASE && (sni || t != 0))
    }

    /// The JA3 string (before hashing) of this profile's hello, with or without SNI.
    pub fn ja3_string(&self, sni: bool) -> String {
        let exts: Vec<u16> = self.ext_types(sni).collect();
        ja3_string(
            self.version,
            self.ciphers,
            &exts,
            self.groups,
            self.point_formats,
        )
    }

    /// JA3: MD5 of [`Profile::ja3_string`], lower-case hex.
    pub fn ja3(&self, sni: bool) -> String {
        hex(&Md5::digest(self.ja3_string(sni).as_bytes()))
    }

    /// JA4 (TCP) of this profile's hello.
    pub fn ja4(&self, sni: bool) -> String {
        let exts: Vec<u16> = self.ext_types(sni).collect();
        let version = self
            .versions
            .iter()
            .copied()
            .filter(|&v| !is_grease(v))
            .max()
            .unwrap_or(self.version);
        ja4(
            version,
            sni,
            self.alpn.first().copied(),
            self.ciphers,
            &exts,
            self.sigalgs,
        )
    }
}

/// The JA3 string (salesforce/ja3) of a hello's fields, GREASE values dropped.
pub fn ja3_string(
    version: u16,
    ciphers: &[u16],
    exts: &[u16],
    groups: &[u16],
    point_formats: &[u8],
) -> String {
    let dec = |v: &mut dyn Iterator<Item = u16>| {
        v.filter(|&x| !is_grease(x))
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join("-")
    };
    format!(
        "{version},{},{},{},{}",
        dec(&mut ciphers.iter().copied()),
        dec(&mut exts.iter().copied()),
        dec(&mut groups.iter().copied()),
        dec(&mut point_formats.iter().map(|&p| u16::from(p)))
    )
}

/// JA4 (FoxIO JA4.md, TCP) of a hello's fields, GREASE values dropped: `version` is the
/// highest offered, `sni` whether a server_name extension is sent, `alpn` the first protocol.
pub fn ja4(
    version: u16,
    sni: bool,
    alpn: Option<&str>,
    ciphers: &[u16],
    exts: &[u16],
    sigalgs: &[u16],
) -> String {
    let ciphers: Vec<u16> = ciphers.iter().copied().filter(|&c| !is_grease(c)).collect();
    let exts: Vec<u16> = exts.iter().copied().filter(|&e| !is_grease(e)).collect();
    let v = match version {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        _ => "00",
    };
    let alpn = match alpn.map(str::as_bytes) {
        Some([first, .., last]) => format!("{}{}", *first as char, *last as char),
        Some([only]) => format!("{}{}", *only as char, *only as char),
        _ => "00".to_string(),
    };
    let list = |v: &[u16]| {
        v.iter()
            .map(|x| format!("{x:04x}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut sc = ciphers.clone();
    sc.sort_unstable();
    let mut se: Vec<u16> = exts
        .iter()
        .copied()
        .filter(|&e| e != 0 && e != tls::EXT_ALPN)
        .collect();
    se.sort_unstable();
    let c_input = if sigalgs.is_empty() {
        list(&se)
    } else {
        format!("{}_{}", list(&se), list(sigalgs))
    };
    let sha12 = |s: &str| {
        if s.is_empty() {
            "000000000000".to_string()
        } else {
            hex(&Sha256::digest(s.as_bytes()))
                .chars()
                .take(12)
                .collect()
        }
    };
    format!(
        "t{v}{}{:02}{:02}{alpn}_{}_{}",
        if sni { 'd' } else { 'i' },
        ciphers.len().min(99),
        exts.len().min(99),
        sha12(&list(&sc)),
        sha12(&c_input)
    )
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grease_values_are_the_rfc_8701_ones() {
        // RFC 8701 §2 lists 0x0A0A, 0x1A1A, ..., 0xFAFA.
        assert_eq!(grease(0), 0x0a0a);
        assert_eq!(grease(15), 0xfafa);
        assert!((0..16).all(|i| is_grease(grease(i))));
        assert!(!is_grease(0x0a1a) && !is_grease(0x1301));
    }

    /// Shapes per the definitions; the hashes are checked against an independent parser in
    /// tests/. Chromium's cipher list hashes to `8daaf6152771`, the JA4_b that FoxIO's JA4
    /// README shows for Chrome (`t13d1516h2_8daaf6152771_...`).
    #[test]
    fn fingerprints_have_the_defined_shape() {
        for p in Profile::BENIGN.iter().chain([&Profile::MALWARE]) {
            let ja3 = p.ja3(true);
            assert_eq!(ja3.len(), 32);
            let ja4 = p.ja4(true);
            let parts: Vec<&str> = ja4.split('_').collect();
            assert_eq!(parts.len(), 3, "{ja4}");
            assert_eq!(parts[0].len(), 10, "{ja4}");
            assert!(parts[1].len() == 12 && parts[2].len() == 12);
        }
        assert!(Profile::MALWARE.ja4(true).starts_with("t12d090600_"));
        assert!(Profile::CHROME
            .ja4(true)
            .starts_with("t13d1516h2_8daaf6152771_"));
    }
}
