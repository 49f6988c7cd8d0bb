//! TLS record and handshake parser for passive monitoring: ClientHello (SNI, ALPN, JA3, JA4),
//! ServerHello (selected version, cipher, ALPN, JA3S) and the certificates of a TLS <= 1.2
//! Certificate message (Suricata-style subject, issuer, serial, SHA-1 and SHA-256 fingerprints,
//! validity, SANs; the leaf separately, and the whole chain).
//!
//! Input is the in-order, reassembled TCP payload of ONE direction, fed in arbitrary chunks to a
//! [`TlsStream`]; the output does not depend on the chunking (see [`fuzz_tls`]).
//!
//! Specs:
//! - Records, handshake framing, hellos: RFC 5246 §6.2, §7.4 (<https://www.rfc-editor.org/rfc/rfc5246>)
//!   and RFC 8446 §4, §5.1 (<https://www.rfc-editor.org/rfc/rfc8446>).
//! - Extensions: SNI RFC 6066 §3, ALPN RFC 7301 §3.1, supported_groups / ec_point_formats
//!   RFC 8422 §5.1, signature_algorithms RFC 8446 §4.2.3, supported_versions RFC 8446 §4.2.1.
//! - GREASE values: RFC 8701 §2 (<https://www.rfc-editor.org/rfc/rfc8701>).
//! - JA3 / JA3S: <https://github.com/salesforce/ja3> (decimal, '-' joined, GREASE removed, MD5).
//! - JA4 (BSD-3-Clause part of JA4+ only):
//!   <https://github.com/FoxIO-LLC/ja4/blob/main/technical_details/JA4.md>.
//! - Output strings follow Suricata's EVE `tls` record (`src/app-layer-ssl.c`,
//!   `rust/src/x509/mod.rs`).
//!
//! Limits (attacker-controlled input; nothing here panics on any byte sequence):
//! - a record longer than [`MAX_RECORD_LEN`] (2^14 + 2048, the TLSCiphertext bound) is an error;
//! - an interesting handshake message (ClientHello, ServerHello, Certificate) longer than
//!   [`MAX_HANDSHAKE_LEN`] is an error; other handshake messages are skipped without buffering;
//! - at most [`MAX_SAN_ENTRIES`] subjectAltName entries are kept per certificate, and at most
//!   [`MAX_CHAIN_CERTS`] certificates of a chain are decoded.
//!
//! Memory: a [`TlsStream`] owns a buffer only while a wanted handshake message spans chunks (or
//! records); it is freed when the message is complete. The stream stops (`is_done`) at the first
//! ChangeCipherSpec or ApplicationData record (everything after is encrypted), or on garbage
//! (then `error` is set). SSLv2 records are recognised by [`looks_like_tls`] but not parsed.
//! QUIC (JA4 'q'): [`parse_quic_client_hello`]; the CRYPTO-frame transport is in `crate::quic`.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Largest record payload accepted: TLSCiphertext.length may be up to 2^14 + 2048
/// (RFC 5246 §6.2.3); anything above is not TLS.
pub const MAX_RECORD_LEN: usize = (1 << 14) + 2048;
/// Largest ClientHello / ServerHello / Certificate message buffered (body length).
pub const MAX_HANDSHAKE_LEN: usize = 64 * 1024;
/// Cap on subjectAltName entries kept from a leaf certificate.
pub const MAX_SAN_ENTRIES: usize = 1024;
/// Cap on certificates decoded into [`Certificate::chain`] (real chains have 2-4; the rest of
/// a longer list is counted in `chain_len` but not decoded).
pub const MAX_CHAIN_CERTS: usize = 16;

const CT_CHANGE_CIPHER_SPEC: u8 = 20;
const CT_ALERT: u8 = 21;
const CT_HANDSHAKE: u8 = 22;
const CT_APPLICATION_DATA: u8 = 23;
const CT_HEARTBEAT: u8 = 24;

const HS_CLIENT_HELLO: u8 = 1;
const HS_SERVER_HELLO: u8 = 2;
const HS_CERTIFICATE: u8 = 11;

const EXT_SERVER_NAME: u16 = 0x0000;
const EXT_SUPPORTED_GROUPS: u16 = 0x000a;
const EXT_EC_POINT_FORMATS: u16 = 0x000b;
const EXT_SIGNATURE_ALGORITHMS: u16 = 0x000d;
const EXT_ALPN: u16 = 0x0010;
const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;

/// Why a stream or a message was rejected. Cheap to copy; carries no input bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsError {
    /// Record content type outside 20..=24.
    BadContentType(u8),
    /// Record version whose major byte is not 3 or minor byte above 4.
    BadRecordVersion(u16),
    /// Record length above [`MAX_RECORD_LEN`].
    RecordTooLong(usize),
    /// Wanted handshake message longer than [`MAX_HANDSHAKE_LEN`].
    HandshakeTooLong(usize),
    /// An SSLv2 record (high bit set in the first byte): not parsed.
    Sslv2,
    /// ClientHello body does not follow RFC 8446 §4.1.2 / RFC 5246 §7.4.1.2.
    MalformedClientHello,
    /// ServerHello body does not follow RFC 8446 §4.1.3 / RFC 5246 §7.4.1.3.
    MalformedServerHello,
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::BadContentType(t) => write!(f, "invalid tls record content type {t}"),
            TlsError::BadRecordVersion(v) => write!(f, "invalid tls record version 0x{v:04x}"),
            TlsError::RecordTooLong(n) => write!(f, "tls record too long: {n} bytes"),
            TlsError::HandshakeTooLong(n) => write!(f, "tls handshake message too long: {n} bytes"),
            TlsError::Sslv2 => f.write_str("sslv2 record (not parsed)"),
            TlsError::MalformedClientHello => f.write_str("malformed tls client hello"),
            TlsError::MalformedServerHello => f.write_str("malformed tls server hello"),
        }
    }
}

impl std::error::Error for TlsError {}

/// One parsed handshake message of interest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMessage {
    ClientHello(ClientHello),
    ServerHello(ServerHello),
    Certificate(Certificate),
}

/// ClientHello summary. List fields hold the on-wire values in wire order, GREASE included
/// (the fingerprints drop GREASE themselves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// `legacy_version` (the only version field before TLS 1.3).
    pub legacy_version: u16,
    /// supported_versions extension (0x002b) entries.
    pub supported_versions: Vec<u16>,
    /// First host_name entry of the server_name extension (lossy UTF-8).
    pub sni: Option<String>,
    /// ALPN protocol names (lossy UTF-8), in order.
    pub alpns: Vec<String>,
    pub ciphers: Vec<u16>,
    /// Extension types in wire order.
    pub extensions: Vec<u16>,
    /// signature_algorithms extension (0x000d) entries.
    pub sig_algs: Vec<u16>,
    /// supported_groups extension (0x000a) entries.
    pub groups: Vec<u16>,
    pub ec_point_formats: Vec<u8>,
    pub ja3_string: String,
    /// MD5 of `ja3_string`, lowercase hex.
    pub ja3_hash: String,
    pub ja4: String,
    /// JA4 with the sorted lists in clear instead of hashed ("JA4_r").
    pub ja4_r: String,
}

/// The first `max` bytes of `s` (fewer to end on a character boundary).
fn cut(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_string()
}

/// Longest JA3 string [`ClientHello::summary`] keeps (real ones are 50-400 bytes; the hash is
/// always over the whole string).
pub const MAX_KEPT_JA3_STRING: usize = 2048;
/// Most ALPN names and longest SNI [`ClientHello::summary`] keeps.
pub const MAX_KEPT_ALPNS: usize = 16;
pub const MAX_KEPT_NAME: usize = 255;

impl ClientHello {
    /// What a flow keeps until its `tls` event: the fingerprints, the versions and bounded
    /// names, not the lists the fingerprints were computed from. A 64 KiB hello with tens of
    /// thousands of ciphers or extensions expands to ~250 KiB of lists and fingerprint strings;
    /// the summary stays under ~6 KiB whatever the hello, so that the flow table's memory bound
    /// holds. The JA3 string is cut at [`MAX_KEPT_JA3_STRING`] bytes (its hash is not).
    pub fn summary(&self) -> ClientHello {
        ClientHello {
            legacy_version: self.legacy_version,
            supported_versions: self.supported_versions.clone(),
            sni: self.sni.as_deref().map(|n| cut(n, MAX_KEPT_NAME)),
            alpns: self
                .alpns
                .iter()
                .take(MAX_KEPT_ALPNS)
                .map(|a| cut(a, MAX_KEPT_NAME))
                .collect(),
            ciphers: Vec::new(),
            extensions: Vec::new(),
            sig_algs: Vec::new(),
            groups: Vec::new(),
            ec_point_formats: Vec::new(),
            ja3_string: cut(&self.ja3_string, MAX_KEPT_JA3_STRING),
            ja3_hash: self.ja3_hash.clone(),
            ja4: self.ja4.clone(),
            ja4_r: String::new(),
        }
    }

    /// Highest non-GREASE supported_versions entry, else `legacy_version`.
    pub fn version(&self) -> u16 {
        highest_version(&self.supported_versions).unwrap_or(self.legacy_version)
    }
}

/// ServerHello summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    pub legacy_version: u16,
    /// supported_versions extension (TLS 1.3 selected version), if present.
    pub selected_version: Option<u16>,
    pub cipher: u16,
    /// Extension types in wire order.
    pub extensions: Vec<u16>,
    /// The selected ALPN protocol (lossy UTF-8).
    pub alpn: Option<String>,
    pub ja3s_string: String,
    /// MD5 of `ja3s_string`, lowercase hex.
    pub ja3s_hash: String,
}

impl ServerHello {
    /// What a flow keeps until its `tls` event (see [`ClientHello::summary`]): no extension
    /// list, the JA3S string cut at [`MAX_KEPT_JA3_STRING`] bytes, the ALPN at
    /// [`MAX_KEPT_NAME`].
    pub fn summary(&self) -> ServerHello {
        ServerHello {
            legacy_version: self.legacy_version,
            selected_version: self.selected_version,
            cipher: self.cipher,
            extensions: Vec::new(),
            alpn: self.alpn.as_deref().map(|a| cut(a, MAX_KEPT_NAME)),
            ja3s_string: cut(&self.ja3s_string, MAX_KEPT_JA3_STRING),
            ja3s_hash: self.ja3s_hash.clone(),
        }
    }

    /// `selected_version` if present, else `legacy_version`.
    pub fn version(&self) -> u16 {
        self.selected_version.unwrap_or(self.legacy_version)
    }
}

/// A TLS <= 1.2 Certificate message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// Number of certificates in the message.
    pub chain_len: usize,
    /// Fields of the first certificate; `None` when its DER does not parse.
    pub leaf: Option<CertInfo>,
    /// Fields of every certificate whose DER parses, in message order (leaf first when it
    /// parses); at most [`MAX_CHAIN_CERTS`]. `chain_len` still counts them all.
    pub chain: Vec<CertInfo>,
}

/// Certificate fields, formatted as Suricata's EVE `tls` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// RFC 4514-like DN in certificate order, e.g. "C=US, ST=California, O=Google Inc, CN=www.google.com".
    pub subject: String,
    pub issuerdn: String,
    /// Raw serial bytes (sign byte included), uppercase hex joined by ':'.
    pub serial: String,
    /// SHA-1 of the DER, lowercase hex joined by ':'.
    pub fingerprint: String,
    /// SHA-256 of the DER, lowercase hex joined by ':'.
    pub fingerprint_sha256: String,
    /// "YYYY-MM-DDTHH:MM:SS", UTC.
    pub notbefore: String,
    pub notafter: String,
    /// dNSName, rfc822Name and URI entries as text, iPAddress entries as an address;
    /// other kinds skipped. At most [`MAX_SAN_ENTRIES`].
    pub subjectaltname: Vec<String>,
    /// The certificate as sent (DER), for EVE's `tls.chain` (base64, as Suricata logs it).
    pub der: Vec<u8>,
}

/// RFC 8701 §2: GREASE values are 0x?a?a with both bytes equal.
pub fn is_grease(v: u16) -> bool {
    (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff)
}

fn highest_version(versions: &[u16]) -> Option<u16> {
    versions.iter().copied().filter(|v| !is_grease(*v)).max()
}

/// Content detection on the first bytes of a direction: a handshake record (0x16) with version
/// 0x0300..=0x0304 and a plausible length, carrying a ClientHello or ServerHello when that byte
/// is present; or an SSLv2-compatible ClientHello (RFC 6101 appendix E.1 / RFC 5246 appendix E.2).
pub fn looks_like_tls(first: &[u8]) -> bool {
    looks_like_tls_record(first) || looks_like_sslv2_client_hello(first)
}

fn looks_like_tls_record(b: &[u8]) -> bool {
    let (Some(&ct), Some(&major), Some(&minor)) = (b.first(), b.get(1), b.get(2)) else {
        return false;
    };
    if ct != CT_HANDSHAKE || major != 3 || minor > 4 {
        return false;
    }
    if let (Some(&h), Some(&l)) = (b.get(3), b.get(4)) {
        let len = usize::from(u16::from_be_bytes([h, l]));
        // A hello needs at least its 4-byte header plus version and random.
        if !(4..=MAX_RECORD_LEN).contains(&len) {
            return false;
        }
    }
    match b.get(5) {
        Some(&t) => t == HS_CLIENT_HELLO || t == HS_SERVER_HELLO,
        None => true,
    }
}

fn looks_like_sslv2_client_hello(b: &[u8]) -> bool {
    // 2-byte header with the high bit set, msg_type 1, then version 0x0002 or 0x0300..=0x0303.
    let (Some(&h0), Some(&h1), Some(&t), Some(&v0), Some(&v1)) =
        (b.first(), b.get(1), b.get(2), b.get(3), b.get(4))
    else {
        return false;
    };
    let len = (usize::from(h0 & 0x7f) << 8) | usize::from(h1);
    h0 & 0x80 != 0
        && t == HS_CLIENT_HELLO
        && len >= 9
        && ((v0 == 0 && v1 == 2) || (v0 == 3 && v1 <= 3))
}

/// Suricata's `tls.version` string (`SSLVersionToString`). Values Suricata prints as
/// "0x%04x" give "UNDETERMINED" here; use [`version_string`] for the exact text.
pub fn version_name(v: u16) -> &'static str {
    match v {
        0x0200 => "SSLv2",
        0x0300 => "SSLv3",
        0x0301 => "TLSv1",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        0x7f1c => "TLS 1.3 draft-28",
        0x7f1b => "TLS 1.3 draft-27",
        0x7f1a => "TLS 1.3 draft-26",
        0x7f19 => "TLS 1.3 draft-25",
        0x7f18 => "TLS 1.3 draft-24",
        0x7f17 => "TLS 1.3 draft-23",
        0x7f16 => "TLS 1.3 draft-22",
        0x7f15 => "TLS 1.3 draft-21",
        0x7f14 => "TLS 1.3 draft-20",
        0x7f13 => "TLS 1.3 draft-19",
        0x7f12 => "TLS 1.3 draft-18",
        0x7f11 => "TLS 1.3 draft-17",
        0x7f10 => "TLS 1.3 draft-16",
        0x7f01 => "TLS 1.3 draft-<16",
        0xfb14 => "TLS 1.3 draft-20-fb",
        0xfb15 => "TLS 1.3 draft-21-fb",
        0xfb16 => "TLS 1.3 draft-22-fb",
        0xfb17 => "TLS 1.3 draft-23-fb",
        0xfb1a => "TLS 1.3 draft-26-fb",
        _ => "UNDETERMINED",
    }
}

/// Exactly Suricata's `tls.version` text: [`version_name`], or "0x%04x" for values it does not
/// name (0 stays "UNDETERMINED").
pub fn version_string(v: u16) -> Cow<'static, str> {
    match version_name(v) {
        "UNDETERMINED" if v != 0 => Cow::Owned(format!("0x{v:04x}")),
        s => Cow::Borrowed(s),
    }
}

// ---------------------------------------------------------------------------------------------
// Stream (record + handshake reassembly)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecState {
    Header,
    Body { ct: u8, left: usize },
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HsState {
    Header,
    Collect { ty: u8, len: usize },
    Skip { left: usize },
}

/// Per-direction TLS parser. Feed it the in-order reassembled bytes of one TCP direction.
#[derive(Debug, Clone)]
pub struct TlsStream {
    rec: RecState,
    rec_hdr: [u8; 5],
    rec_hdr_len: usize,
    hs: HsState,
    hs_hdr: [u8; 4],
    hs_hdr_len: usize,
    /// Body of a wanted handshake message spanning chunks or records; empty otherwise.
    hs_buf: Vec<u8>,
    records_seen: u64,
    error: Option<TlsError>,
}

impl Default for TlsStream {
    fn default() -> Self {
        Self::new()
    }
}

impl TlsStream {
    /// A parser at the start of a direction. Allocates nothing.
    pub fn new() -> Self {
        TlsStream {
            rec: RecState::Header,
            rec_hdr: [0; 5],
            rec_hdr_len: 0,
            hs: HsState::Header,
            hs_hdr: [0; 4],
            hs_hdr_len: 0,
            hs_buf: Vec::new(),
            records_seen: 0,
            error: None,
        }
    }

    /// True once nothing more will be parsed: after ChangeCipherSpec, ApplicationData or an error.
    pub fn is_done(&self) -> bool {
        self.rec == RecState::Done
    }

    /// The error that stopped the stream, if any.
    pub fn error(&self) -> Option<TlsError> {
        self.error
    }

    fn fail(&mut self, e: TlsError) {
        self.error = Some(e);
        self.finish();
    }

    fn finish(&mut self) {
        self.rec = RecState::Done;
        self.hs_buf = Vec::new();
    }

    /// Consumes the next chunk; complete messages are appended to `out`. Input after the stream
    /// is done is ignored.
    pub fn feed(&mut self, mut data: &[u8], out: &mut Vec<TlsMessage>) {
        while !data.is_empty() {
            match self.rec {
                RecState::Done => return,
                RecState::Header => {
                    let n = take_into(&mut self.rec_hdr, &mut self.rec_hdr_len, data);
                    data = data.get(n..).unwrap_or_default();
                    if self.rec_hdr_len == self.rec_hdr.len() {
                        self.rec_hdr_len = 0;
                        self.start_record();
                    }
                }
                RecState::Body { ct, left } => {
                    let n = left.min(data.len());
                    let (chunk, rest) = data.split_at(n);
                    data = rest;
                    let left = left - n;
                    self.rec = if left == 0 {
                        RecState::Header
                    } else {
                        RecState::Body { ct, left }
                    };
                    if ct == CT_HANDSHAKE {
                        if let Err(e) = self.handshake_bytes(chunk, out) {
                            self.fail(e);
                        }
                    }
                }
            }
        }
    }

    fn start_record(&mut self) {
        let [ct, major, minor, l0, l1] = self.rec_hdr;
        let first = self.records_seen == 0;
        self.records_seen = self.records_seen.saturating_add(1);
        if first && ct & 0x80 != 0 {
            return self.fail(TlsError::Sslv2);
        }
        if !(CT_CHANGE_CIPHER_SPEC..=CT_HEARTBEAT).contains(&ct) {
            return self.fail(TlsError::BadContentType(ct));
        }
        if major != 3 || minor > 4 {
            return self.fail(TlsError::BadRecordVersion(u16::from_be_bytes([
                major, minor,
            ])));
        }
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        if len > MAX_RECORD_LEN {
            return self.fail(TlsError::RecordTooLong(len));
        }
        match ct {
            // Everything after these is encrypted.
            CT_CHANGE_CIPHER_SPEC | CT_APPLICATION_DATA => self.finish(),
            CT_HANDSHAKE | CT_ALERT | CT_HEARTBEAT if len > 0 => {
                self.rec = RecState::Body { ct, left: len }
            }
            _ => self.rec = RecState::Header,
        }
    }

    /// Handshake-layer reassembly over the payload of consecutive handshake records.
    fn handshake_bytes(
        &mut self,
        mut data: &[u8],
        out: &mut Vec<TlsMessage>,
    ) -> Result<(), TlsError> {
        while !data.is_empty() {
            match self.hs {
                HsState::Header => {
                    let n = take_into(&mut self.hs_hdr, &mut self.hs_hdr_len, data);
                    data = data.get(n..).unwrap_or_default();
                    if self.hs_hdr_len < self.hs_hdr.len() {
                        continue;
                    }
                    self.hs_hdr_len = 0;
                    let [ty, a, b, c] = self.hs_hdr;
                    let len = (usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c);
                    let wanted = matches!(ty, HS_CLIENT_HELLO | HS_SERVER_HELLO | HS_CERTIFICATE);
                    if !wanted {
                        self.hs = if len == 0 {
                            HsState::Header
                        } else {
                            HsState::Skip { left: len }
                        };
                    } else if len > MAX_HANDSHAKE_LEN {
                        return Err(TlsError::HandshakeTooLong(len));
                    } else if len == 0 {
                        process_handshake(ty, &[], out)?;
                    } else {
                        self.hs = HsState::Collect { ty, len };
                    }
                }
                HsState::Skip { left } => {
                    let n = left.min(data.len());
                    data = data.get(n..).unwrap_or_default();
                    self.hs = if left == n {
                        HsState::Header
                    } else {
                        HsState::Skip { left: left - n }
                    };
                }
                HsState::Collect { ty, len } => {
                    let have = self.hs_buf.len();
                    let need = len.saturating_sub(have);
                    if have == 0 && data.len() >= need {
                        // Fast path: the whole body is in this chunk; no copy.
                        let (body, rest) = data.split_at(need);
                        data = rest;
                        self.hs = HsState::Header;
                        process_handshake(ty, body, out)?;
                    } else {
                        let n = need.min(data.len());
                        let (part, rest) = data.split_at(n);
                        data = rest;
                        self.hs_buf.extend_from_slice(part);
                        if self.hs_buf.len() == len {
                            self.hs = HsState::Header;
                            let body = std::mem::take(&mut self.hs_buf);
                            process_handshake(ty, &body, out)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Copies up to the free space of `buf` from `data`; returns the number of bytes taken.
fn take_into<const N: usize>(buf: &mut [u8; N], filled: &mut usize, data: &[u8]) -> usize {
    let free = buf.get_mut(*filled..).unwrap_or_default();
    let n = free.len().min(data.len());
    for (d, s) in free.iter_mut().zip(data) {
        *d = *s;
    }
    *filled += n;
    n
}

fn process_handshake(ty: u8, body: &[u8], out: &mut Vec<TlsMessage>) -> Result<(), TlsError> {
    match ty {
        HS_CLIENT_HELLO => out.push(TlsMessage::ClientHello(client_hello(body, false)?)),
        HS_SERVER_HELLO => out.push(TlsMessage::ServerHello(parse_server_hello(body)?)),
        HS_CERTIFICATE => {
            // A malformed Certificate only loses this message; the stream goes on.
            if let Some(c) = parse_certificate(body) {
                out.push(TlsMessage::Certificate(c));
            }
        }
        _ => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Hellos
// ---------------------------------------------------------------------------------------------

use crate::reader::Reader;

fn u16_list(b: &[u8]) -> Vec<u16> {
    b.chunks_exact(2)
        .filter_map(|c| match c {
            [x, y] => Some(u16::from_be_bytes([*x, *y])),
            _ => None,
        })
        .collect()
}

/// Walks an extensions block: (type u16, length u16, data) entries filling it exactly.
fn for_each_extension<'a>(block: &'a [u8], mut f: impl FnMut(u16, &'a [u8])) -> Option<()> {
    let mut r = Reader(block);
    while !r.is_empty() {
        let ty = r.u16()?;
        let data = r.vec16()?;
        f(ty, data);
    }
    Some(())
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// server_name extension (RFC 6066 §3): first host_name (type 0) entry.
fn parse_sni(data: &[u8]) -> Option<String> {
    let mut r = Reader(Reader(data).vec16()?);
    while !r.is_empty() {
        let ty = r.u8()?;
        let name = r.vec16()?;
        if ty == 0 {
            return Some(lossy(name));
        }
    }
    None
}

/// ALPN extension (RFC 7301 §3.1): protocol names, raw. Stops at the first bad entry.
fn alpn_list(data: &[u8]) -> Vec<&[u8]> {
    let mut v = Vec::new();
    if let Some(list) = Reader(data).vec16() {
        let mut r = Reader(list);
        while let Some(p) = r.vec8() {
            v.push(p);
        }
    }
    v
}

/// Parses a ClientHello handshake body (after the 4-byte handshake header) into a summary with
/// its JA3 and JA4 ('t', TLS over TCP) fingerprints.
pub fn parse_client_hello(handshake_body: &[u8]) -> Result<ClientHello, TlsError> {
    client_hello(handshake_body, false)
}

/// Same as [`parse_client_hello`] for a ClientHello carried in QUIC CRYPTO frames: JA4 and JA4_r
/// get the 'q' prefix (JA4.md "QUIC"); JA3 is computed the same way as over TCP.
pub fn parse_quic_client_hello(handshake_body: &[u8]) -> Result<ClientHello, TlsError> {
    client_hello(handshake_body, true)
}

fn client_hello(body: &[u8], quic: bool) -> Result<ClientHello, TlsError> {
    // tls-parser reads the fixed part (version, random, session id <= 32, ciphers, compression);
    // extensions are walked here on raw bytes so that one odd extension body does not reject
    // the whole hello, and so that fingerprints see every type in wire order.
    let (rest, ch) = tls_parser::parse_tls_handshake_client_hello(body)
        .map_err(|_| TlsError::MalformedClientHello)?;
    if ch.ext.is_none() && !rest.is_empty() {
        // An extensions block whose length runs past the message.
        return Err(TlsError::MalformedClientHello);
    }
    let mut h = ClientHello {
        legacy_version: ch.version.0,
        supported_versions: Vec::new(),
        sni: None,
        alpns: Vec::new(),
        ciphers: ch.ciphers.iter().map(|c| c.0).collect(),
        extensions: Vec::new(),
        sig_algs: Vec::new(),
        groups: Vec::new(),
        ec_point_formats: Vec::new(),
        ja3_string: String::new(),
        ja3_hash: String::new(),
        ja4: String::new(),
        ja4_r: String::new(),
    };
    let mut first_alpn: Option<&[u8]> = None;
    if let Some(block) = ch.ext {
        let mut seen = [false; 6];
        for_each_extension(block, |ty, data| {
            h.extensions.push(ty);
            // Only the first occurrence of each extension counts.
            let slot = match ty {
                EXT_SERVER_NAME => 0,
                EXT_SUPPORTED_GROUPS => 1,
                EXT_EC_POINT_FORMATS => 2,
                EXT_SIGNATURE_ALGORITHMS => 3,
                EXT_ALPN => 4,
                EXT_SUPPORTED_VERSIONS => 5,
                _ => return,
            };
            if std::mem::replace(&mut seen[slot], true) {
                return;
            }
            match ty {
                EXT_SERVER_NAME => h.sni = parse_sni(data),
                EXT_SUPPORTED_GROUPS => {
                    h.groups = Reader(data).vec16().map(u16_list).unwrap_or_default()
                }
                EXT_EC_POINT_FORMATS => {
                    h.ec_point_formats = Reader(data).vec8().map(<[u8]>::to_vec).unwrap_or_default()
                }
                EXT_SIGNATURE_ALGORITHMS => {
                    h.sig_algs = Reader(data).vec16().map(u16_list).unwrap_or_default()
                }
                EXT_ALPN => {
                    let list = alpn_list(data);
                    first_alpn = list.first().copied();
                    h.alpns = list.into_iter().map(lossy).collect();
                }
                _ => h.supported_versions = Reader(data).vec8().map(u16_list).unwrap_or_default(),
            }
        })
        .ok_or(TlsError::MalformedClientHello)?;
    }
    h.ja3_string = ja3_string(&h);
    h.ja3_hash = md5_hex(&h.ja3_string);
    let (ja4, ja4_r) = ja4(&h, first_alpn, quic);
    h.ja4 = ja4;
    h.ja4_r = ja4_r;
    Ok(h)
}

/// Parses a ServerHello handshake body (after the 4-byte handshake header), computing JA3S.
/// Handles TLS 1.3 draft ServerHellos (0x7fXX / 0xfbXX legacy version, no session id or
/// compression) as well.
pub fn parse_server_hello(handshake_body: &[u8]) -> Result<ServerHello, TlsError> {
    let bad = TlsError::MalformedServerHello;
    let mut r = Reader(handshake_body);
    let version = r.u16().ok_or(bad)?;
    r.take(32).ok_or(bad)?;
    let draft = matches!(version >> 8, 0x7f | 0xfb);
    let (cipher, ext) = if draft {
        // draft-ietf-tls-tls13 <= 21: version, random, cipher_suite, extensions.
        let cipher = r.u16().ok_or(bad)?;
        (
            cipher,
            if r.is_empty() {
                None
            } else {
                Some(r.vec16().ok_or(bad)?)
            },
        )
    } else {
        let sid = r.vec8().ok_or(bad)?;
        if sid.len() > 32 {
            return Err(bad);
        }
        let cipher = r.u16().ok_or(bad)?;
        r.u8().ok_or(bad)?; // compression method
        (
            cipher,
            if r.is_empty() {
                None
            } else {
                Some(r.vec16().ok_or(bad)?)
            },
        )
    };
    let mut s = ServerHello {
        legacy_version: version,
        selected_version: None,
        cipher,
        extensions: Vec::new(),
        alpn: None,
        ja3s_string: String::new(),
        ja3s_hash: String::new(),
    };
    if let Some(block) = ext {
        let mut seen_sv = false;
        let mut seen_alpn = false;
        for_each_extension(block, |ty, data| {
            s.extensions.push(ty);
            if ty == EXT_SUPPORTED_VERSIONS && !std::mem::replace(&mut seen_sv, true) {
                s.selected_version = Reader(data).u16();
            } else if ty == EXT_ALPN && !std::mem::replace(&mut seen_alpn, true) {
                s.alpn = alpn_list(data).first().map(|p| lossy(p));
            }
        })
        .ok_or(bad)?;
    }
    s.ja3s_string = ja3s_string(&s);
    s.ja3s_hash = md5_hex(&s.ja3s_string);
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// Fingerprints
// ---------------------------------------------------------------------------------------------

fn push_dec_list<T: Copy + Into<u32>>(s: &mut String, vals: impl Iterator<Item = T>) {
    for (i, v) in vals.enumerate() {
        if i > 0 {
            s.push('-');
        }
        let _ = write!(s, "{}", v.into());
    }
}

/// "SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats".
fn ja3_string(h: &ClientHello) -> String {
    let mut s = String::with_capacity(256);
    let _ = write!(s, "{},", h.legacy_version);
    push_dec_list(&mut s, h.ciphers.iter().copied().filter(|v| !is_grease(*v)));
    s.push(',');
    push_dec_list(
        &mut s,
        h.extensions.iter().copied().filter(|v| !is_grease(*v)),
    );
    s.push(',');
    push_dec_list(&mut s, h.groups.iter().copied().filter(|v| !is_grease(*v)));
    s.push(',');
    push_dec_list(&mut s, h.ec_point_formats.iter().copied());
    s
}

/// "SSLVersion,Cipher,Extensions".
fn ja3s_string(s: &ServerHello) -> String {
    let mut o = String::with_capacity(64);
    let _ = write!(o, "{},{},", s.legacy_version, s.cipher);
    push_dec_list(
        &mut o,
        s.extensions.iter().copied().filter(|v| !is_grease(*v)),
    );
    o
}

fn hex_lower(bytes: &[u8], sep: Option<char>) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            if let Some(c) = sep {
                s.push(c);
            }
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn md5_hex(s: &str) -> String {
    hex_lower(&Md5::digest(s.as_bytes()), None)
}

/// First 12 hex chars of SHA-256, or "000000000000" for an empty list (JA4 spec).
fn sha256_12(s: &str) -> String {
    if s.is_empty() {
        return "000000000000".to_owned();
    }
    let d = Sha256::digest(s.as_bytes());
    hex_lower(d.get(..6).unwrap_or_default(), None)
}

fn ja4_version(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// JA4 ALPN part: first and last character of the first ALPN value; when either is not ASCII
/// alphanumeric, first and last character of its lowercase hex form; "00" if absent or empty.
fn ja4_alpn(first: Option<&[u8]>) -> [char; 2] {
    let Some(v) = first else { return ['0', '0'] };
    let (Some(&a), Some(&z)) = (v.first(), v.last()) else {
        return ['0', '0'];
    };
    if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() {
        [char::from(a), char::from(z)]
    } else {
        let hex = |n: u8| char::from_digit(u32::from(n), 16).unwrap_or('0');
        [hex(a >> 4), hex(z & 0x0f)]
    }
}

fn push_hex4_list(s: &mut String, vals: &[u16]) {
    for (i, v) in vals.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{v:04x}");
    }
}

/// Returns (JA4, JA4_r).
fn ja4(h: &ClientHello, first_alpn: Option<&[u8]>, quic: bool) -> (String, String) {
    let mut ciphers: Vec<u16> = h
        .ciphers
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    let exts_all: Vec<u16> = h
        .extensions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();
    let sni = if exts_all.contains(&EXT_SERVER_NAME) {
        'd'
    } else {
        'i'
    };
    let alpn = ja4_alpn(first_alpn);
    let a = format!(
        "{}{}{}{:02}{:02}{}{}",
        if quic { 'q' } else { 't' },
        ja4_version(h.version()),
        sni,
        ciphers.len().min(99),
        exts_all.len().min(99),
        alpn[0],
        alpn[1],
    );
    ciphers.sort_unstable();
    let mut exts: Vec<u16> = exts_all
        .into_iter()
        .filter(|v| *v != EXT_SERVER_NAME && *v != EXT_ALPN)
        .collect();
    exts.sort_unstable();
    let sigs: Vec<u16> = h
        .sig_algs
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .collect();

    let mut b = String::with_capacity(ciphers.len() * 5);
    push_hex4_list(&mut b, &ciphers);
    let mut c = String::with_capacity((exts.len() + sigs.len()) * 5 + 1);
    push_hex4_list(&mut c, &exts);
    if !sigs.is_empty() {
        c.push('_');
        push_hex4_list(&mut c, &sigs);
    }
    let c_hash = if exts.is_empty() {
        "000000000000".to_owned()
    } else {
        sha256_12(&c)
    };
    let ja4 = format!("{a}_{}_{c_hash}", sha256_12(&b));
    let ja4_r = format!("{a}_{b}_{c}");
    (ja4, ja4_r)
}

// ---------------------------------------------------------------------------------------------
// Certificate
// ---------------------------------------------------------------------------------------------

fn u24(r: &mut Reader<'_>) -> Option<usize> {
    let b = r.take(3)?;
    Some(
        (usize::from(*b.first()?) << 16) | (usize::from(*b.get(1)?) << 8) | usize::from(*b.get(2)?),
    )
}

/// TLS <= 1.2 Certificate body (RFC 5246 §7.4.2): u24 list length, then u24-prefixed DER
/// certificates. `None` when the framing is inconsistent.
fn parse_certificate(body: &[u8]) -> Option<Certificate> {
    let mut r = Reader(body);
    let list_len = u24(&mut r)?;
    let mut list = Reader(r.take(list_len)?);
    let mut chain_len = 0usize;
    let mut leaf = None;
    let mut chain = Vec::new();
    while !list.is_empty() {
        let n = u24(&mut list)?;
        let der = list.take(n)?;
        if chain_len < MAX_CHAIN_CERTS {
            let info = cert_info(der);
            if chain_len == 0 {
                leaf.clone_from(&info);
            }
            chain.extend(info);
        }
        chain_len += 1;
    }
    Some(Certificate {
        chain_len,
        leaf,
        chain,
    })
}

/// Fields of one DER certificate; `None` when x509-parser rejects it.
pub fn cert_info(der: &[u8]) -> Option<CertInfo> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for gn in ext.value.general_names.iter().take(MAX_SAN_ENTRIES) {
            match gn {
                GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => {
                    sans.push((*s).to_owned())
                }
                GeneralName::IPAddress(b) => {
                    if let Ok(a) = <[u8; 4]>::try_from(*b) {
                        sans.push(std::net::Ipv4Addr::from(a).to_string());
                    } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                        sans.push(std::net::Ipv6Addr::from(a).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let serial = {
        let raw = cert.raw_serial();
        let mut s = String::with_capacity(raw.len() * 3);
        for (i, b) in raw.iter().enumerate() {
            if i > 0 {
                s.push(':');
            }
            let _ = write!(s, "{b:02X}");
        }
        s
    };
    Some(CertInfo {
        subject: cert.subject().to_string(),
        issuerdn: cert.issuer().to_string(),
        serial,
        fingerprint: hex_lower(&Sha1::digest(der), Some(':')),
        fingerprint_sha256: hex_lower(&Sha256::digest(der), Some(':')),
        notbefore: format_utc(cert.validity().not_before.timestamp()),
        notafter: format_utc(cert.validity().not_after.timestamp()),
        subjectaltname: sans,
        der: der.to_vec(),
    })
}

/// "YYYY-MM-DDTHH:MM:SS" for a Unix timestamp (proleptic Gregorian, UTC).
fn format_utc(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    // Days-to-civil conversion (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
    let z = days.saturating_add(719_468);
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe.saturating_add(era.saturating_mul(400)) + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

// ---------------------------------------------------------------------------------------------
// Fuzz entry
// ---------------------------------------------------------------------------------------------

/// Fuzz entry: feeds `data` whole, one byte at a time and in several other chunkings, and checks
/// that every run yields the same messages, done state and error.
///
/// # Panics
/// When two chunkings disagree (that is the bug the fuzzer looks for).
pub fn fuzz_tls(data: &[u8]) {
    fn run(data: &[u8], sizes: &[usize]) -> (Vec<TlsMessage>, bool, Option<TlsError>) {
        let mut s = TlsStream::new();
        let mut out = Vec::new();
        crate::chunks::feed_in_chunks(data, sizes, |c| s.feed(c, &mut out));
        let _ = looks_like_tls(data);
        (out, s.is_done(), s.error())
    }
    let whole = run(data, &[usize::MAX]);
    let half = data.len() / 2 + 1;
    for sizes in [&[1usize][..], &[2, 3, 5], &[7, 1, 64], &[1500], &[half]] {
        let other = run(data, sizes);
        assert_eq!(whole, other, "chunking {sizes:?} changed the result");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grease_values_are_rfc8701() {
        // RFC 8701 §2 lists exactly these 16 values for cipher suites, extensions, groups, versions.
        let listed = [
            0x0a0a, 0x1a1a, 0x2a2a, 0x3a3a, 0x4a4a, 0x5a5a, 0x6a6a, 0x7a7a, 0x8a8a, 0x9a9a, 0xaaaa,
            0xbaba, 0xcaca, 0xdada, 0xeaea, 0xfafa,
        ];
        let all: Vec<u16> = (0..=u16::MAX).filter(|v| is_grease(*v)).collect();
        assert_eq!(all, listed);
    }

    #[test]
    fn ja4_alpn_spec_examples() {
        // technical_details/JA4.md, "ALPN Extension Value".
        assert_eq!(ja4_alpn(Some(b"h2")), ['h', '2']);
        assert_eq!(ja4_alpn(Some(b"http/1.1")), ['h', '1']);
        assert_eq!(ja4_alpn(Some(&[0xab])), ['a', 'b']);
        assert_eq!(ja4_alpn(Some(&[0xab, 0xcd])), ['a', 'd']);
        assert_eq!(ja4_alpn(Some(&[0x30, 0xab])), ['3', 'b']);
        assert_eq!(ja4_alpn(Some(&[0x30, 0x31, 0xab, 0xcd])), ['3', 'd']);
        assert_eq!(ja4_alpn(Some(&[0x30, 0xab, 0xcd, 0x31])), ['0', '1']);
        assert_eq!(ja4_alpn(Some(b"a")), ['a', 'a']);
        assert_eq!(ja4_alpn(Some(b"")), ['0', '0']);
        assert_eq!(ja4_alpn(None), ['0', '0']);
    }

    #[test]
    fn sha256_12_spec_example() {
        // JA4.md "Cipher hash" and "Extension hash" examples.
        assert_eq!(
            sha256_12("002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9"),
            "8daaf6152771"
        );
        assert_eq!(
            sha256_12("0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01"),
            "6d807ffa2a79"
        );
        assert_eq!(sha256_12(""), "000000000000");
    }

    #[test]
    fn utc_format() {
        // Values from `date -u -d @N +%Y-%m-%dT%H:%M:%S` (GNU coreutils).
        assert_eq!(format_utc(0), "1970-01-01T00:00:00");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(format_utc(1_423_764_447), "2015-02-12T18:07:27");
        assert_eq!(format_utc(-1), "1969-12-31T23:59:59");
        assert_eq!(format_utc(253_402_300_799), "9999-12-31T23:59:59");
    }

    #[test]
    fn version_names_follow_suricata() {
        assert_eq!(version_name(0x0303), "TLS 1.2");
        assert_eq!(version_name(0x0301), "TLSv1");
        assert_eq!(version_name(0x7f1c), "TLS 1.3 draft-28");
        assert_eq!(version_name(0), "UNDETERMINED");
        assert_eq!(version_string(0x1234), "0x1234");
        assert_eq!(version_string(0), "UNDETERMINED");
    }
}
