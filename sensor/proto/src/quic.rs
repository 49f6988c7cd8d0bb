//! QUIC Initial packets: recognition, Initial packet protection removal, frame parsing and CRYPTO
//! stream reassembly up to the TLS ClientHello, fingerprinted with JA3 and JA4 ('q' prefix).
//!
//! Input is the payload of each UDP datagram sent by the client (the side that sent the first
//! Initial), fed in capture order to one [`QuicState`] per flow. Coalesced packets (several QUIC
//! packets in one datagram, RFC 9000 §12.2) are walked; Initial packets are decrypted, 0-RTT and
//! Handshake packets are skipped by their Length field, a short-header packet ends the datagram.
//!
//! Specs:
//! - Long header, Initial packet, variable-length integers, frames: RFC 9000 §16, §17.2, §17.2.2,
//!   §19 (<https://www.rfc-editor.org/rfc/rfc9000>); packet number decoding: RFC 9000 §A.3.
//! - Initial secrets, HKDF-Expand-Label, AEAD_AES_128_GCM, header protection: RFC 9001 §5.2,
//!   §5.3, §5.4 (<https://www.rfc-editor.org/rfc/rfc9001>); HKDF-Expand-Label: RFC 8446 §7.1.
//! - QUIC version 2 (version 0x6b3343cf, its salt, "quicv2 " labels, Initial type 0b01):
//!   RFC 9369 §3 (<https://www.rfc-editor.org/rfc/rfc9369>).
//! - Drafts 23-28 and 29-32 (0xff000017..=0xff000020): the salts of draft-ietf-quic-tls-23/-29,
//!   same labels and packet layout as version 1.
//! - Transport parameters (TLS extension 57, drafts 0xffa5): RFC 9000 §18; the user agent is
//!   Google's `google_user_agent_id` parameter 0x3129, as Suricata logs it in `quic.ua`.
//! - Version text: Suricata `rust/src/quic/parser.rs` (`From<QuicVersion> for String`).
//!
//! Limits (attacker-controlled input; nothing here panics on any byte sequence):
//! - CRYPTO data beyond offset [`MAX_CRYPTO_BYTES`] (64 KiB) is an error; the reassembly buffer
//!   never grows past it and keeps at most [`MAX_CRYPTO_RANGES`] disjoint ranges;
//! - at most [`MAX_PACKETS_PER_DATAGRAM`] coalesced packets per datagram and
//!   [`MAX_INITIAL_PACKETS`] Initial packets per flow are examined;
//! - connection IDs longer than [`MAX_CID_LEN`] (20, RFC 9000 §17.2) are rejected.
//!
//! Memory and cost: a [`QuicState`] holds the Initial keys (derived once per DCID), a scratch
//! buffer reused for every packet, and the CRYPTO buffer; all are freed when the ClientHello has
//! been parsed or the flow is given up (`is_done`). After that `on_datagram` returns at once.
//!
//! Not done here: the server side (ServerHello, JA4S), Retry integrity tags, gQUIC (Q0xx) crypto,
//! and keys other than Initial (Handshake and 1-RTT packets cannot be read by an observer).

use std::fmt;

use aes::cipher::BlockEncrypt;
use aes::Aes128;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::Aes128Gcm;
use hkdf::Hkdf;
use sha2::Sha256;

use crate::tls::{self, ClientHello};

/// Largest CRYPTO stream offset (exclusive) accepted in Initial packets: a ClientHello far
/// larger than any real one (post-quantum key shares make ~2 KiB hellos today).
pub const MAX_CRYPTO_BYTES: usize = 64 * 1024;
/// Cap on disjoint received ranges in the CRYPTO reassembly buffer (clients that scatter their
/// ClientHello over many small frames stay far below this).
pub const MAX_CRYPTO_RANGES: usize = 64;
/// Coalesced packets examined per datagram.
pub const MAX_PACKETS_PER_DATAGRAM: usize = 8;
/// Initial packets examined per flow before the flow is given up.
pub const MAX_INITIAL_PACKETS: u32 = 32;
/// Longest connection ID allowed in a version 1 long header (RFC 9000 §17.2).
pub const MAX_CID_LEN: usize = 20;

/// QUIC version 1 (RFC 9000).
pub const VERSION_1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369).
pub const VERSION_2: u32 = 0x6b33_43cf;
/// draft-ietf-quic-transport-29.
pub const VERSION_DRAFT_29: u32 = 0xff00_001d;

/// RFC 9001 §5.2.
const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
/// RFC 9369 §3.3.1.
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];
/// draft-ietf-quic-tls-29 §5.2 (used by drafts 29 to 32).
const SALT_DRAFT_29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];
/// draft-ietf-quic-tls-23 §5.2 (used by drafts 23 to 28).
const SALT_DRAFT_23: [u8; 20] = [
    0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65,
    0xbe, 0xf9, 0xf5, 0x02,
];

const AEAD_TAG_LEN: usize = 16;
const HP_SAMPLE_LEN: usize = 16;

const EXT_QUIC_TRANSPORT_PARAMETERS: u16 = 0x0039;
/// The extension code point drafts used before RFC 9001 assigned 57.
const EXT_QUIC_TRANSPORT_PARAMETERS_DRAFT: u16 = 0xffa5;
/// Chromium's `google_user_agent_id` transport parameter.
const TP_GOOGLE_USER_AGENT: u64 = 0x3129;

const HS_CLIENT_HELLO: u8 = 1;

/// Why a packet or a flow could not be read. Cheap to copy; carries no input bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QuicError {
    /// A header or frame field runs past the end of the packet.
    Truncated,
    /// A long header whose version has no known Initial salt.
    UnsupportedVersion,
    /// A connection ID longer than [`MAX_CID_LEN`].
    BadConnectionId,
    /// The packet is too short for the header protection sample and the AEAD tag.
    ShortPacket,
    /// AEAD authentication failed: wrong keys (not a client Initial of this flow) or damage.
    DecryptFailed,
    /// A frame type not allowed in Initial packets (RFC 9000 §12.4), or a malformed frame.
    BadFrame,
    /// CRYPTO data beyond [`MAX_CRYPTO_BYTES`].
    CryptoTooLarge,
    /// More than [`MAX_CRYPTO_RANGES`] disjoint CRYPTO ranges.
    CryptoTooFragmented,
    /// The first handshake message in the CRYPTO stream is not a ClientHello.
    NotClientHello,
    /// The ClientHello does not parse.
    BadClientHello,
    /// More than [`MAX_INITIAL_PACKETS`] Initial packets without a complete ClientHello.
    TooManyPackets,
}

impl QuicError {
    /// Every variant, in [`QuicError::index`] order.
    pub const ALL: [QuicError; 11] = [
        QuicError::Truncated,
        QuicError::UnsupportedVersion,
        QuicError::BadConnectionId,
        QuicError::ShortPacket,
        QuicError::DecryptFailed,
        QuicError::BadFrame,
        QuicError::CryptoTooLarge,
        QuicError::CryptoTooFragmented,
        QuicError::NotClientHello,
        QuicError::BadClientHello,
        QuicError::TooManyPackets,
    ];

    /// Stable snake_case name, for counters and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            QuicError::Truncated => "truncated",
            QuicError::UnsupportedVersion => "unsupported_version",
            QuicError::BadConnectionId => "bad_connection_id",
            QuicError::ShortPacket => "short_packet",
            QuicError::DecryptFailed => "decrypt_failed",
            QuicError::BadFrame => "bad_frame",
            QuicError::CryptoTooLarge => "crypto_too_large",
            QuicError::CryptoTooFragmented => "crypto_too_fragmented",
            QuicError::NotClientHello => "not_client_hello",
            QuicError::BadClientHello => "bad_client_hello",
            QuicError::TooManyPackets => "too_many_packets",
        }
    }

    /// Position in [`QuicError::ALL`].
    pub fn index(&self) -> usize {
        match self {
            QuicError::Truncated => 0,
            QuicError::UnsupportedVersion => 1,
            QuicError::BadConnectionId => 2,
            QuicError::ShortPacket => 3,
            QuicError::DecryptFailed => 4,
            QuicError::BadFrame => 5,
            QuicError::CryptoTooLarge => 6,
            QuicError::CryptoTooFragmented => 7,
            QuicError::NotClientHello => 8,
            QuicError::BadClientHello => 9,
            QuicError::TooManyPackets => 10,
        }
    }
}

impl fmt::Display for QuicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "quic: {}", self.reason())
    }
}

impl std::error::Error for QuicError {}

/// Per-reason error counters of one flow (sum them across flows for statistics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuicErrorCounts([u64; QuicError::ALL.len()]);

impl QuicErrorCounts {
    pub fn get(&self, e: QuicError) -> u64 {
        self.0.get(e.index()).copied().unwrap_or(0)
    }

    /// Sum over every reason.
    pub fn total(&self) -> u64 {
        self.0.iter().fold(0u64, |a, b| a.saturating_add(*b))
    }

    /// (error, count) for the reasons seen at least once.
    pub fn iter(&self) -> impl Iterator<Item = (QuicError, u64)> + '_ {
        QuicError::ALL
            .iter()
            .map(|e| (*e, self.get(*e)))
            .filter(|(_, n)| *n > 0)
    }

    fn bump(&mut self, e: QuicError) {
        if let Some(c) = self.0.get_mut(e.index()) {
            *c = c.saturating_add(1);
        }
    }
}

/// Suricata's `quic.version` text: "Q039", "Q043".."Q046" for gQUIC, otherwise the version in
/// lowercase hex without leading zeros ("1", "6b3343cf", "ff00001d").
pub fn version_string(v: u32) -> String {
    match v {
        0x5130_3339 => "Q039".to_owned(),
        0x5130_3433 => "Q043".to_owned(),
        0x5130_3434 => "Q044".to_owned(),
        0x5130_3435 => "Q045".to_owned(),
        0x5130_3436 => "Q046".to_owned(),
        _ => format!("{v:x}"),
    }
}

#[derive(Debug, Clone, Copy)]
struct VersionParams {
    salt: &'static [u8; 20],
    /// RFC 9369 labels and packet type numbering.
    v2: bool,
}

fn version_params(v: u32) -> Option<VersionParams> {
    match v {
        VERSION_1 => Some(VersionParams {
            salt: &SALT_V1,
            v2: false,
        }),
        VERSION_2 => Some(VersionParams {
            salt: &SALT_V2,
            v2: true,
        }),
        0xff00_001d..=0xff00_0020 => Some(VersionParams {
            salt: &SALT_DRAFT_29,
            v2: false,
        }),
        0xff00_0017..=0xff00_001c => Some(VersionParams {
            salt: &SALT_DRAFT_23,
            v2: false,
        }),
        _ => None,
    }
}

/// True for the versions whose Initial packets this module can decrypt: 1, 2, drafts 23-32.
pub fn is_supported_version(v: u32) -> bool {
    version_params(v).is_some()
}

// ---------------------------------------------------------------------------------------------
// Keys (RFC 9001 §5.1, §5.2)
// ---------------------------------------------------------------------------------------------

/// AEAD_AES_128_GCM packet protection key, IV and header protection key of one direction.
#[derive(Clone, PartialEq, Eq)]
pub struct InitialKeys {
    pub key: [u8; 16],
    pub iv: [u8; 12],
    pub hp: [u8; 16],
}

impl fmt::Debug for InitialKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Initial keys are public knowledge (derived from the DCID), but keep logs short.
        f.write_str("InitialKeys { .. }")
    }
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context, into `out`.
fn expand_label(secret: &[u8], label: &str, out: &mut [u8]) -> Option<()> {
    const PREFIX: &[u8] = b"tls13 ";
    let len = u16::try_from(out.len()).ok()?;
    let label_len = u8::try_from(PREFIX.len().checked_add(label.len())?).ok()?;
    let mut info = [0u8; 2 + 1 + 255 + 1];
    let mut n = 0usize;
    for b in len
        .to_be_bytes()
        .iter()
        .chain(std::iter::once(&label_len))
        .chain(PREFIX)
        .chain(label.as_bytes())
        .chain(std::iter::once(&0u8))
    {
        *info.get_mut(n)? = *b;
        n += 1;
    }
    let hk = Hkdf::<Sha256>::from_prk(secret).ok()?;
    hk.expand(info.get(..n)?, out).ok()
}

/// Initial keys for `version` derived from `dcid`, the Destination Connection ID of the client's
/// first Initial packet (or of the Retry-provided one). `client` selects "client in" (the keys
/// protecting client packets) or "server in". `None` for a version without a known salt.
pub fn initial_keys(version: u32, dcid: &[u8], client: bool) -> Option<InitialKeys> {
    let p = version_params(version)?;
    let (initial_secret, _) = Hkdf::<Sha256>::extract(Some(p.salt), dcid);
    let mut secret = [0u8; 32];
    expand_label(
        &initial_secret,
        if client { "client in" } else { "server in" },
        &mut secret,
    )?;
    let (lk, li, lh) = if p.v2 {
        ("quicv2 key", "quicv2 iv", "quicv2 hp")
    } else {
        ("quic key", "quic iv", "quic hp")
    };
    let mut k = InitialKeys {
        key: [0; 16],
        iv: [0; 12],
        hp: [0; 16],
    };
    expand_label(&secret, lk, &mut k.key)?;
    expand_label(&secret, li, &mut k.iv)?;
    expand_label(&secret, lh, &mut k.hp)?;
    Some(k)
}

// ---------------------------------------------------------------------------------------------
// Long header (RFC 9000 §17.2)
// ---------------------------------------------------------------------------------------------

/// Bounds-checked reader.
use crate::reader::Reader as Rd;

/// QUIC's variable-length integers on top of the shared cursor.
impl Rd<'_> {
    /// RFC 9000 §16 variable-length integer.
    fn varint(&mut self) -> Option<u64> {
        let first = self.u8()?;
        let extra = (1usize << (first >> 6)) - 1;
        let mut v = u64::from(first & 0x3f);
        for b in self.take(extra)? {
            v = (v << 8) | u64::from(*b);
        }
        Some(v)
    }
    fn varint_usize(&mut self) -> Option<usize> {
        usize::try_from(self.varint()?).ok()
    }
}

/// Long-header packet type (RFC 9000 §17.2, RFC 9369 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongType {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
    /// Version 0: a Version Negotiation packet (no type bits).
    VersionNegotiation,
    /// A version this module does not know: only the invariant fields were read.
    Unknown,
}

/// The fields of a long header, with offsets into the packet it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongHeader<'a> {
    /// First byte, still header-protected.
    pub first: u8,
    pub version: u32,
    pub ty: LongType,
    pub dcid: &'a [u8],
    pub scid: &'a [u8],
    /// Initial packets only (empty otherwise).
    pub token: &'a [u8],
    /// Offset of the (protected) packet number; for types without a Length field, the offset
    /// where the type-specific part starts.
    pub pn_offset: usize,
    /// Bytes this packet occupies in the datagram (the rest of the datagram when the type has
    /// no Length field).
    pub packet_len: usize,
}

/// Parses the long header at the start of `pkt` (the first byte must have its high bit set).
pub fn parse_long_header(pkt: &[u8]) -> Result<LongHeader<'_>, QuicError> {
    let t = QuicError::Truncated;
    let mut r = Rd(pkt);
    let first = r.u8().ok_or(t)?;
    if first & 0x80 == 0 {
        return Err(QuicError::BadFrame);
    }
    let version = r.u32().ok_or(t)?;
    let dcid = r.vec8().ok_or(t)?;
    let scid = r.vec8().ok_or(t)?;
    let params = version_params(version);
    let ty = match (version, params) {
        (0, _) => LongType::VersionNegotiation,
        (_, None) => LongType::Unknown,
        (_, Some(p)) => {
            let bits = (first >> 4) & 0x03;
            let bits = if p.v2 {
                bits.wrapping_sub(1) & 0x03
            } else {
                bits
            };
            match bits {
                0 => LongType::Initial,
                1 => LongType::ZeroRtt,
                2 => LongType::Handshake,
                _ => LongType::Retry,
            }
        }
    };
    // RFC 9000 §17.2: 20 bytes at most in version 1 (and the versions derived from it); other
    // versions may use up to 255 (RFC 8999 §5.1), which vec8 already bounds.
    if params.is_some() && (dcid.len() > MAX_CID_LEN || scid.len() > MAX_CID_LEN) {
        return Err(QuicError::BadConnectionId);
    }
    let mut token: &[u8] = &[];
    if ty == LongType::Initial {
        let n = r.varint_usize().ok_or(t)?;
        token = r.take(n).ok_or(t)?;
    }
    let (pn_offset, packet_len) = match ty {
        LongType::Initial | LongType::ZeroRtt | LongType::Handshake => {
            let len = r.varint_usize().ok_or(t)?;
            let pn_offset = pkt.len() - r.len();
            if len > r.len() {
                return Err(t);
            }
            (pn_offset, pn_offset + len)
        }
        _ => (pkt.len() - r.len(), pkt.len()),
    };
    Ok(LongHeader {
        first,
        version,
        ty,
        dcid,
        scid,
        token,
        pn_offset,
        packet_len,
    })
}

/// Content detection on one UDP payload: a long-header Initial packet (fixed bit set) of a
/// supported version whose Destination Connection ID has at least 8 bytes (RFC 9000 §7.2: the
/// client's first DCID), and which is long enough to carry a header protection sample and a tag.
/// Port-independent.
pub fn looks_like_quic_initial(udp_payload: &[u8]) -> bool {
    let Some(&first) = udp_payload.first() else {
        return false;
    };
    if first & 0xc0 != 0xc0 {
        return false;
    }
    match parse_long_header(udp_payload) {
        Ok(h) => {
            h.ty == LongType::Initial
                && h.dcid.len() >= 8
                && h.packet_len >= h.pn_offset + 4 + HP_SAMPLE_LEN
        }
        Err(_) => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Packet protection (RFC 9001 §5.3, §5.4)
// ---------------------------------------------------------------------------------------------

/// Result of [`decrypt_initial`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenedInitial {
    pub version: u32,
    pub packet_number: u64,
    /// Length of the unprotected header at the start of the output buffer.
    pub header_len: usize,
    /// Bytes the packet occupied in the datagram (next coalesced packet starts there).
    pub packet_len: usize,
}

/// RFC 9000 §A.3.
fn decode_packet_number(largest: Option<u64>, truncated: u64, pn_len: usize) -> u64 {
    let expected = largest.map_or(0, |l| l.saturating_add(1));
    let bits = pn_len.clamp(1, 4) * 8;
    let win = 1u64 << bits;
    let hwin = win / 2;
    let mask = win - 1;
    let candidate = (expected & !mask) | truncated;
    if candidate.saturating_add(hwin) <= expected && candidate < (1u64 << 62).saturating_sub(win) {
        candidate + win
    } else if candidate > expected.saturating_add(hwin) && candidate >= win {
        candidate - win
    } else {
        candidate
    }
}

/// Removes header protection from and decrypts the Initial packet at the start of `pkt` (which
/// may be followed by coalesced packets). On success `out` holds the unprotected header
/// (`header_len` bytes) followed by the plaintext frames (AEAD tag removed). `largest_pn` is the
/// largest packet number already decrypted in this direction, if any (packet number recovery).
pub fn decrypt_initial(
    pkt: &[u8],
    keys: &InitialKeys,
    largest_pn: Option<u64>,
    out: &mut Vec<u8>,
) -> Result<OpenedInitial, QuicError> {
    let h = parse_long_header(pkt)?;
    if h.ty != LongType::Initial {
        return Err(QuicError::UnsupportedVersion);
    }
    open_packet(pkt, &h, keys, largest_pn, out)
}

fn open_packet(
    pkt: &[u8],
    h: &LongHeader<'_>,
    keys: &InitialKeys,
    largest_pn: Option<u64>,
    out: &mut Vec<u8>,
) -> Result<OpenedInitial, QuicError> {
    let short = QuicError::ShortPacket;
    let packet = pkt.get(..h.packet_len).ok_or(QuicError::Truncated)?;
    // RFC 9001 §5.4.2: the sample starts 4 bytes after the packet number offset.
    let sample_at = h.pn_offset.checked_add(4).ok_or(short)?;
    let sample: [u8; HP_SAMPLE_LEN] = packet
        .get(sample_at..sample_at + HP_SAMPLE_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or(short)?;
    let mut mask = sample.into();
    Aes128::new(&keys.hp.into()).encrypt_block(&mut mask);
    let mask: [u8; 16] = mask.into();
    let first = h.first ^ (mask[0] & 0x0f);
    let pn_len = usize::from(first & 0x03) + 1;
    let header_len = h.pn_offset + pn_len;
    let payload = packet.get(header_len..).ok_or(short)?;
    let ct_len = payload.len().checked_sub(AEAD_TAG_LEN).ok_or(short)?;
    let (ct, tag) = payload.split_at(ct_len);
    let tag: [u8; AEAD_TAG_LEN] = tag.try_into().map_err(|_| short)?;

    out.clear();
    out.extend_from_slice(packet.get(..header_len).ok_or(short)?);
    if let Some(b) = out.first_mut() {
        *b = first;
    }
    let mut truncated = 0u64;
    for i in 0..pn_len {
        let m = mask.get(1 + i).copied().unwrap_or(0);
        if let Some(b) = out.get_mut(h.pn_offset + i) {
            *b ^= m;
            truncated = (truncated << 8) | u64::from(*b);
        }
    }
    let pn = decode_packet_number(largest_pn, truncated, pn_len);
    // RFC 9001 §5.3: nonce = iv XOR packet number, left-padded to the IV length.
    let mut nonce = keys.iv;
    for (n, p) in nonce.iter_mut().skip(4).zip(pn.to_be_bytes()) {
        *n ^= p;
    }
    out.extend_from_slice(ct);
    let (aad, body) = out.split_at_mut(header_len);
    Aes128Gcm::new(&keys.key.into())
        .decrypt_in_place_detached(&nonce.into(), aad, body, &tag.into())
        .map_err(|_| QuicError::DecryptFailed)?;
    Ok(OpenedInitial {
        version: h.version,
        packet_number: pn,
        header_len,
        packet_len: h.packet_len,
    })
}

// ---------------------------------------------------------------------------------------------
// Frames (RFC 9000 §19)
// ---------------------------------------------------------------------------------------------

/// A frame allowed in Initial packets (RFC 9000 §12.4, table 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A run of PADDING frames (0x00), with its length in bytes.
    Padding(usize),
    Ping,
    /// ACK (0x02) or ACK with ECN counts (0x03).
    Ack {
        largest: u64,
    },
    Crypto {
        offset: u64,
        data: &'a [u8],
    },
    /// CONNECTION_CLOSE carrying a transport error (0x1c).
    ConnectionClose {
        error_code: u64,
        frame_type: u64,
        reason: &'a [u8],
    },
}

/// Calls `f` for each frame of a decrypted Initial payload, in order. Stops with
/// [`QuicError::BadFrame`] at a frame type not allowed in Initial packets and with
/// [`QuicError::Truncated`] when a frame runs past the payload (frames before it were reported).
pub fn for_each_frame<'a>(
    payload: &'a [u8],
    mut f: impl FnMut(Frame<'a>),
) -> Result<(), QuicError> {
    let t = QuicError::Truncated;
    let mut r = Rd(payload);
    while let Some(ty) = r.varint() {
        match ty {
            0x00 => {
                let zeros = r.0.iter().take_while(|b| **b == 0).count();
                r.take(zeros).ok_or(t)?;
                f(Frame::Padding(zeros + 1));
            }
            0x01 => f(Frame::Ping),
            0x02 | 0x03 => {
                let largest = r.varint().ok_or(t)?;
                r.varint().ok_or(t)?; // ack delay
                let ranges = r.varint().ok_or(t)?;
                r.varint().ok_or(t)?; // first ack range
                                      // Each further range is two varints (>= 2 bytes): a bogus count ends on
                                      // Truncated after at most payload.len() / 2 iterations.
                for _ in 0..ranges {
                    r.varint().ok_or(t)?;
                    r.varint().ok_or(t)?;
                }
                if ty == 0x03 {
                    for _ in 0..3 {
                        r.varint().ok_or(t)?;
                    }
                }
                f(Frame::Ack { largest });
            }
            0x06 => {
                let offset = r.varint().ok_or(t)?;
                let len = r.varint_usize().ok_or(t)?;
                let data = r.take(len).ok_or(t)?;
                f(Frame::Crypto { offset, data });
            }
            0x1c => {
                let error_code = r.varint().ok_or(t)?;
                let frame_type = r.varint().ok_or(t)?;
                let n = r.varint_usize().ok_or(t)?;
                let reason = r.take(n).ok_or(t)?;
                f(Frame::ConnectionClose {
                    error_code,
                    frame_type,
                    reason,
                });
            }
            _ => return Err(QuicError::BadFrame),
        }
    }
    if r.is_empty() {
        Ok(())
    } else {
        Err(t)
    }
}

// ---------------------------------------------------------------------------------------------
// CRYPTO stream reassembly
// ---------------------------------------------------------------------------------------------

/// Out-of-order CRYPTO data of one encryption level, by offset.
#[derive(Debug, Clone, Default)]
struct CryptoBuffer {
    data: Vec<u8>,
    /// Sorted, disjoint, non-adjacent half-open ranges received.
    ranges: Vec<(usize, usize)>,
}

impl CryptoBuffer {
    fn insert(&mut self, offset: u64, bytes: &[u8]) -> Result<(), QuicError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let start = usize::try_from(offset).map_err(|_| QuicError::CryptoTooLarge)?;
        let end = start
            .checked_add(bytes.len())
            .filter(|e| *e <= MAX_CRYPTO_BYTES)
            .ok_or(QuicError::CryptoTooLarge)?;
        if self.data.len() < end {
            self.data.resize(end, 0);
        }
        // Retransmitted bytes simply overwrite (RFC 9000 §19.6 says they must be identical).
        self.data
            .get_mut(start..end)
            .ok_or(QuicError::CryptoTooLarge)?
            .copy_from_slice(bytes);
        let mut merged = (start, end);
        self.ranges.retain(|&(s, e)| {
            if s <= merged.1 && merged.0 <= e {
                merged = (merged.0.min(s), merged.1.max(e));
                false
            } else {
                true
            }
        });
        let at = self.ranges.partition_point(|r| r.0 < merged.0);
        self.ranges.insert(at, merged);
        if self.ranges.len() > MAX_CRYPTO_RANGES {
            return Err(QuicError::CryptoTooFragmented);
        }
        Ok(())
    }

    /// The bytes received contiguously from offset 0.
    fn contiguous(&self) -> &[u8] {
        match self.ranges.first() {
            Some(&(0, e)) => self.data.get(..e).unwrap_or_default(),
            _ => &[],
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ClientHello extras
// ---------------------------------------------------------------------------------------------

/// The `google_user_agent_id` transport parameter of a ClientHello body, if present.
fn client_hello_user_agent(body: &[u8]) -> Option<String> {
    let mut r = Rd(body);
    r.take(2 + 32)?; // legacy_version, random
    r.vec8()?; // session id
    r.vec16()?; // cipher suites
    r.vec8()?; // compression methods
    let mut exts = Rd(r.vec16()?);
    while !exts.is_empty() {
        let ty = exts.u16()?;
        let data = exts.vec16()?;
        if ty != EXT_QUIC_TRANSPORT_PARAMETERS && ty != EXT_QUIC_TRANSPORT_PARAMETERS_DRAFT {
            continue;
        }
        let mut tp = Rd(data);
        // Drafts before 27 wrapped the list in a u16 length; RFC 9000 §18 does not.
        while !tp.is_empty() {
            let id = tp.varint()?;
            let n = tp.varint_usize()?;
            let v = tp.take(n)?;
            if id == TP_GOOGLE_USER_AGENT {
                return Some(String::from_utf8_lossy(v).into_owned());
            }
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Per-flow state
// ---------------------------------------------------------------------------------------------

/// What a flow yielded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuicEvent {
    /// The first Initial packet of the flow was seen (emitted once, before any decryption).
    Initial {
        version: u32,
        dcid: Vec<u8>,
        scid: Vec<u8>,
    },
    /// The client's TLS ClientHello, reassembled from CRYPTO frames. `hello.ja4`/`ja4_r` carry
    /// the 'q' prefix; `hello.sni`, `alpns`, `ja3_hash` as for TLS over TCP.
    ClientHello {
        version: u32,
        hello: Box<ClientHello>,
        /// Google user agent transport parameter (0x3129), lossy UTF-8.
        ua: Option<String>,
    },
    /// A CONNECTION_CLOSE frame in an Initial packet.
    ConnectionClose { version: u32, error_code: u64 },
}

#[derive(Debug, Clone)]
struct FlowKeys {
    version: u32,
    dcid: Vec<u8>,
    keys: InitialKeys,
}

/// Client-direction state of one QUIC flow. Feed it every UDP payload the client sends.
#[derive(Debug, Clone, Default)]
pub struct QuicState {
    keys: Option<FlowKeys>,
    version: Option<u32>,
    largest_pn: Option<u64>,
    crypto: CryptoBuffer,
    /// Reused decryption buffer (one packet).
    scratch: Vec<u8>,
    initial_packets: u32,
    done: bool,
    client_hello_seen: bool,
    errors: QuicErrorCounts,
}

impl QuicState {
    /// A state before the first datagram. Allocates nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// True once nothing more will be parsed: the ClientHello was emitted, or the flow was
    /// given up (see [`QuicState::errors`]).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// True once a ClientHello event was emitted.
    pub fn client_hello_seen(&self) -> bool {
        self.client_hello_seen
    }

    /// Version of the first long-header packet of a supported version, if any.
    pub fn version(&self) -> Option<u32> {
        self.version
    }

    /// Errors met so far, by reason.
    pub fn errors(&self) -> &QuicErrorCounts {
        &self.errors
    }

    fn finish(&mut self) {
        self.done = true;
        self.crypto = CryptoBuffer::default();
        self.scratch = Vec::new();
        self.keys = None;
    }

    fn fail(&mut self, e: QuicError) {
        self.errors.bump(e);
        self.finish();
    }

    /// Consumes one UDP payload sent by the client; events are appended to `out`.
    pub fn on_datagram(&mut self, payload: &[u8], out: &mut Vec<QuicEvent>) {
        let mut rest = payload;
        for _ in 0..MAX_PACKETS_PER_DATAGRAM {
            if self.done {
                return;
            }
            match rest.first() {
                // A short header runs to the end of the datagram; zero bytes are padding
                // after the last packet. Either way nothing more to read.
                Some(b) if b & 0x80 != 0 => {}
                _ => return,
            }
            let h = match parse_long_header(rest) {
                Ok(h) => h,
                Err(e) => return self.errors.bump(e),
            };
            match h.ty {
                LongType::Initial => self.initial(rest, &h, out),
                LongType::ZeroRtt | LongType::Handshake => {}
                LongType::Unknown => return self.errors.bump(QuicError::UnsupportedVersion),
                LongType::Retry | LongType::VersionNegotiation => return,
            }
            rest = rest.get(h.packet_len..).unwrap_or_default();
        }
    }

    fn initial(&mut self, pkt: &[u8], h: &LongHeader<'_>, out: &mut Vec<QuicEvent>) {
        if self.initial_packets >= MAX_INITIAL_PACKETS {
            return self.fail(QuicError::TooManyPackets);
        }
        self.initial_packets += 1;
        if self.version.is_none() {
            self.version = Some(h.version);
            out.push(QuicEvent::Initial {
                version: h.version,
                dcid: h.dcid.to_vec(),
                scid: h.scid.to_vec(),
            });
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let opened = self.open(pkt, h, &mut scratch);
        match opened {
            Ok(o) => {
                self.largest_pn = Some(
                    self.largest_pn
                        .map_or(o.packet_number, |l| l.max(o.packet_number)),
                );
                let frames = scratch.get(o.header_len..).unwrap_or_default();
                self.frames(h.version, frames, out);
            }
            Err(e) => self.errors.bump(e),
        }
        if !self.done {
            self.scratch = scratch;
        }
    }

    /// Decrypts with the flow's keys; when they fail (or there are none yet), with keys derived
    /// from this packet's DCID (first packet, a new connection on the same tuple, or the DCID a
    /// Retry imposed, RFC 9001 §5.2), which then become the flow's keys.
    fn open(
        &mut self,
        pkt: &[u8],
        h: &LongHeader<'_>,
        buf: &mut Vec<u8>,
    ) -> Result<OpenedInitial, QuicError> {
        let mut first_err = None;
        if let Some(k) = &self.keys {
            if k.version == h.version {
                match open_packet(pkt, h, &k.keys, self.largest_pn, buf) {
                    Ok(o) => return Ok(o),
                    Err(e) => first_err = Some(e),
                }
            }
            if k.version == h.version && k.dcid == h.dcid {
                return Err(first_err.unwrap_or(QuicError::DecryptFailed));
            }
        }
        let keys = initial_keys(h.version, h.dcid, true).ok_or(QuicError::UnsupportedVersion)?;
        let largest = if self.keys.is_some() {
            None
        } else {
            self.largest_pn
        };
        match open_packet(pkt, h, &keys, largest, buf) {
            Ok(o) => {
                if self.keys.is_some() {
                    // New keys: a different handshake (Retry or a new connection).
                    self.crypto = CryptoBuffer::default();
                    self.largest_pn = None;
                }
                self.keys = Some(FlowKeys {
                    version: h.version,
                    dcid: h.dcid.to_vec(),
                    keys,
                });
                Ok(o)
            }
            Err(e) => Err(first_err.unwrap_or(e)),
        }
    }

    fn frames(&mut self, version: u32, payload: &[u8], out: &mut Vec<QuicEvent>) {
        let mut crypto_err = None;
        let crypto = &mut self.crypto;
        let res = for_each_frame(payload, |f| match f {
            Frame::Crypto { offset, data } if crypto_err.is_none() => {
                crypto_err = crypto.insert(offset, data).err();
            }
            Frame::ConnectionClose { error_code, .. } => out.push(QuicEvent::ConnectionClose {
                version,
                error_code,
            }),
            _ => {}
        });
        if let Err(e) = res {
            // Frames before the bad one were kept (they were authenticated).
            self.errors.bump(e);
        }
        if let Some(e) = crypto_err {
            return self.fail(e);
        }
        self.try_client_hello(version, out);
    }

    fn try_client_hello(&mut self, version: u32, out: &mut Vec<QuicEvent>) {
        let stream = self.crypto.contiguous();
        let (Some(&ty), Some(&a), Some(&b), Some(&c)) =
            (stream.first(), stream.get(1), stream.get(2), stream.get(3))
        else {
            return;
        };
        if ty != HS_CLIENT_HELLO {
            return self.fail(QuicError::NotClientHello);
        }
        let len = (usize::from(a) << 16) | (usize::from(b) << 8) | usize::from(c);
        if len + 4 > MAX_CRYPTO_BYTES {
            return self.fail(QuicError::CryptoTooLarge);
        }
        let Some(body) = stream.get(4..4 + len) else {
            return; // not complete yet
        };
        match tls::parse_quic_client_hello(body) {
            Ok(hello) => {
                let ua = client_hello_user_agent(body);
                out.push(QuicEvent::ClientHello {
                    version,
                    hello: Box::new(hello),
                    ua,
                });
                self.client_hello_seen = true;
                self.finish();
            }
            Err(_) => self.fail(QuicError::BadClientHello),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fuzz entry
// ---------------------------------------------------------------------------------------------

/// Fuzz entry: feeds `data` as one datagram, then split in two datagrams, to fresh states, and
/// runs the header, frame and detection functions on it; checks that every event is consistent
/// with the state and that the buffers stay within their caps.
///
/// # Panics
/// When an invariant does not hold (that is the bug the fuzzer looks for).
pub fn fuzz_quic(data: &[u8]) {
    let _ = looks_like_quic_initial(data);
    let _ = for_each_frame(data, |_| {});
    if let Ok(h) = parse_long_header(data) {
        assert!(h.pn_offset <= h.packet_len && h.packet_len <= data.len());
        if let Some(k) = initial_keys(h.version, h.dcid, true) {
            let mut buf = Vec::new();
            if let Ok(o) = decrypt_initial(data, &k, None, &mut buf) {
                assert!(o.header_len <= buf.len() && o.packet_len <= data.len());
            }
        }
    }
    let half = data.len() / 2;
    for parts in [
        vec![data],
        vec![
            data.get(..half).unwrap_or_default(),
            data.get(half..).unwrap_or_default(),
        ],
    ] {
        let mut s = QuicState::new();
        let mut out = Vec::new();
        for p in parts {
            s.on_datagram(p, &mut out);
            assert!(s.crypto.data.len() <= MAX_CRYPTO_BYTES);
            assert!(s.crypto.ranges.len() <= MAX_CRYPTO_RANGES);
        }
        let hellos = out
            .iter()
            .filter(|e| matches!(e, QuicEvent::ClientHello { .. }))
            .count();
        assert!(hellos <= 1);
        assert_eq!(hellos == 1, s.client_hello_seen());
        if hellos == 1 {
            assert!(s.is_done());
        }
        assert!(
            out.iter()
                .filter(|e| matches!(e, QuicEvent::Initial { .. }))
                .count()
                <= 1
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_rfc9000_a1_examples() {
        // RFC 9000 §A.1 sample decodings.
        let cases: [(&[u8], u64); 4] = [
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
            (&[0x7b, 0xbd], 15_293),
            (&[0x25], 37),
        ];
        for (b, v) in cases {
            let mut r = Rd(b);
            assert_eq!(r.varint(), Some(v));
            assert!(r.is_empty());
        }
        // Two-byte encoding of 37 (§A.1: "0x4025 also decodes to 37").
        assert_eq!(Rd(&[0x40, 0x25]).varint(), Some(37));
        assert_eq!(Rd(&[0x40]).varint(), None);
    }

    #[test]
    fn packet_number_rfc9000_a3_example() {
        // RFC 9000 §A.3: largest 0xa82f30ea, truncated 0x9b32 (16 bits) -> 0xa82f9b32.
        assert_eq!(
            decode_packet_number(Some(0xa82f_30ea), 0x9b32, 2),
            0xa82f_9b32
        );
        assert_eq!(decode_packet_number(None, 2, 4), 2);
    }

    #[test]
    fn crypto_buffer_merges_out_of_order() {
        let mut c = CryptoBuffer::default();
        c.insert(3, b"def").expect("test data is valid");
        assert_eq!(c.contiguous(), b"");
        c.insert(0, b"abc").expect("test data is valid");
        assert_eq!(c.contiguous(), b"abcdef");
        c.insert(10, b"x").expect("test data is valid");
        assert_eq!(c.ranges.len(), 2);
        assert_eq!(
            c.insert(MAX_CRYPTO_BYTES as u64, b"y"),
            Err(QuicError::CryptoTooLarge)
        );
        let mut c = CryptoBuffer::default();
        let mut res = Ok(());
        for i in 0..=MAX_CRYPTO_RANGES as u64 {
            res = c.insert(i * 2 + 1, b"z");
        }
        assert_eq!(res, Err(QuicError::CryptoTooFragmented));
    }

    #[test]
    fn version_text_follows_suricata() {
        assert_eq!(version_string(1), "1");
        assert_eq!(version_string(VERSION_2), "6b3343cf");
        assert_eq!(version_string(VERSION_DRAFT_29), "ff00001d");
        assert_eq!(version_string(0x5130_3433), "Q043");
    }

    #[test]
    fn error_reasons_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for (i, e) in QuicError::ALL.iter().enumerate() {
            assert_eq!(e.index(), i);
            assert!(seen.insert(e.reason()));
        }
    }
}
