//! DNS messages (RFC 1035) over UDP and over TCP (RFC 7766 framing).
//!
//! What is parsed: the 12-byte header, the question section and the answer,
//! authority and additional sections. Names follow RFC 1035 §4.1.4 compression
//! pointers. Record data is rendered to text the way Suricata's EVE `dns` v3
//! records do (OISF/suricata `rust/src/dns/log.rs`):
//! - names: labels joined by `.`, no trailing dot, the root name is `""`;
//!   bytes outside printable ASCII are written as `\xNN` so that a label can
//!   never smuggle control characters into a log line;
//! - `A`/`AAAA`: the address (IPv6 in RFC 5952 compressed form);
//! - `CNAME`/`NS`/`PTR`/`DNAME`: the target name; `MX`: the exchange name;
//! - `TXT`/`SPF`: the character-strings concatenated without a separator
//!   (RFC 7208 §3.3 reads multi-string records that way); Suricata instead logs
//!   one entry per string;
//! - every other type: `rdata` is `None` (Suricata logs SOA/SRV/SSHFP as
//!   objects; this API keeps only the text form).
//!
//! Type and rcode mnemonics come from the IANA "DNS Parameters" registry
//! (<https://www.iana.org/assignments/dns-parameters>); unknown values are
//! rendered as their decimal number, as Suricata does. Suricata misspells a
//! few (`NSAPPT`, `CDSNKEY`, `ND`); the IANA spelling is used here.
//!
//! # Why a hand-written parser
//! `dns-parser` 0.8 is unmaintained and unfuzzed. `simple-dns` and
//! `hickory-proto` are sound but built for resolvers: they reject a whole
//! message when one record's data does not match its type, they decode every
//! record type into owned structures we would throw away, and their limits are
//! theirs, not named here. A sensor needs the opposite trade-off: lenient on
//! record data (a bad SOA must not hide the question), strict and cheap for
//! content detection on any port, and every bound visible. The wire format
//! needed for that is small (this file), with the loop guard and caps below.
//!
//! # Limits (hostile input)
//! - A name may follow at most [`MAX_POINTER_JUMPS`] compression pointers and
//!   spans at most [`MAX_NAME_WIRE_LEN`] bytes in wire form (RFC 1035 §2.3.4);
//!   this bounds the work per name and breaks pointer loops.
//! - Header counts must be plausible for the message length (each question
//!   takes at least 5 bytes, each record at least 11), so a 12-byte message
//!   cannot claim 65535 records; at most [`MAX_RECORDS_PER_SECTION`] records
//!   per section are kept, the rest are still validated but not stored.
//! - TCP framing buffers at most one message ([`MAX_TCP_MESSAGE`] bytes).
//!
//! No function here panics on any input.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

/// DNS header length (RFC 1035 §4.1.1).
pub const HEADER_LEN: usize = 12;
/// Longest name in wire form, length octets included (RFC 1035 §2.3.4).
pub const MAX_NAME_WIRE_LEN: usize = 255;
/// Compression pointers followed per name before it is rejected as a loop.
/// A legitimate name needs at most one pointer per label (127 labels), but
/// real compressors emit one pointer per name; 32 is far above any real use.
pub const MAX_POINTER_JUMPS: usize = 32;
/// Records stored per section; further records are checked and dropped.
pub const MAX_RECORDS_PER_SECTION: usize = 512;
/// Largest DNS message over TCP (the 2-byte length prefix, RFC 7766 §8).
pub const MAX_TCP_MESSAGE: usize = u16::MAX as usize;
/// Most questions [`looks_like_dns`] accepts; mDNS queries carry a dozen or so.
pub const MAX_DETECT_QUESTIONS: u16 = 64;

/// Smallest question: root name (1) + type (2) + class (2).
const MIN_QUESTION_LEN: usize = 5;
/// Smallest record: root name (1) + type, class (4) + TTL (4) + rdlength (2).
const MIN_RECORD_LEN: usize = 11;

/// Record type codes used by the parser (IANA DNS Parameters).
pub mod rrtype {
    /// IPv4 address.
    pub const A: u16 = 1;
    /// Authoritative name server.
    pub const NS: u16 = 2;
    /// Canonical name.
    pub const CNAME: u16 = 5;
    /// Start of authority.
    pub const SOA: u16 = 6;
    /// Domain name pointer.
    pub const PTR: u16 = 12;
    /// Mail exchange.
    pub const MX: u16 = 15;
    /// Text strings.
    pub const TXT: u16 = 16;
    /// IPv6 address.
    pub const AAAA: u16 = 28;
    /// Service locator.
    pub const SRV: u16 = 33;
    /// Delegation name.
    pub const DNAME: u16 = 39;
    /// EDNS(0) pseudo-record (RFC 6891).
    pub const OPT: u16 = 41;
    /// Service binding.
    pub const SVCB: u16 = 64;
    /// HTTPS service binding.
    pub const HTTPS: u16 = 65;
    /// Sender policy framework (text, like TXT).
    pub const SPF: u16 = 99;
}

/// Why a message was rejected. Context is static; the error is `Copy`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsError {
    /// The message ends inside the named structure.
    Truncated(&'static str),
    /// A label length octet uses the reserved 0x40/0x80 prefixes.
    BadLabel,
    /// More than [`MAX_POINTER_JUMPS`] compression pointers in one name.
    PointerLoop,
    /// A name longer than [`MAX_NAME_WIRE_LEN`] in wire form.
    NameTooLong,
    /// Header counts cannot fit in the message length.
    ImplausibleCounts,
    /// A TCP length prefix below the header size.
    BadTcpLength,
    /// Strict mode (detection) only: a class outside IN/CH/HS/NONE/ANY.
    UnknownClass,
    /// Strict mode (detection) only: record data inconsistent with its type.
    BadRdata,
}

impl std::fmt::Display for DnsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DnsError::Truncated(what) => write!(f, "dns message truncated in {what}"),
            DnsError::BadLabel => f.write_str("dns name uses a reserved label type"),
            DnsError::PointerLoop => f.write_str("dns name compression pointers loop"),
            DnsError::NameTooLong => f.write_str("dns name longer than 255 bytes"),
            DnsError::ImplausibleCounts => f.write_str("dns section counts exceed message length"),
            DnsError::BadTcpLength => f.write_str("dns over tcp length prefix below header size"),
            DnsError::UnknownClass => f.write_str("dns class unknown"),
            DnsError::BadRdata => f.write_str("dns record data does not match its type"),
        }
    }
}

impl std::error::Error for DnsError {}

/// One parsed DNS message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnsMessage {
    /// Transaction id.
    pub id: u16,
    /// Raw header flags word (QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode).
    pub flags: u16,
    /// Response (true) or query.
    pub qr: bool,
    /// Opcode (0 query, 4 notify, 5 update ...).
    pub opcode: u8,
    /// Authoritative answer.
    pub aa: bool,
    /// Truncated (retry over TCP).
    pub tc: bool,
    /// Recursion desired.
    pub rd: bool,
    /// Recursion available.
    pub ra: bool,
    /// The reserved Z bit (0x0040).
    pub z: bool,
    /// Response code; with an EDNS OPT record the 12-bit extended rcode
    /// (RFC 6891 §6.1.3), else the 4 header bits.
    pub rcode: u16,
    /// Question section.
    pub queries: Vec<DnsQuery>,
    /// Answer section (first [`MAX_RECORDS_PER_SECTION`]).
    pub answers: Vec<DnsAnswer>,
    /// Authority section (first [`MAX_RECORDS_PER_SECTION`]).
    pub authorities: Vec<DnsAnswer>,
    /// Additional section including OPT (first [`MAX_RECORDS_PER_SECTION`]).
    pub additionals: Vec<DnsAnswer>,
}

/// One question.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnsQuery {
    /// Queried name, rendered as described in the module docs.
    pub rrname: String,
    /// Query type code ([`rrtype_name`] gives the mnemonic).
    pub rrtype: u16,
}

/// One resource record of the answer, authority or additional section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DnsAnswer {
    /// Owner name.
    pub rrname: String,
    /// Type code.
    pub rrtype: u16,
    /// Time to live in seconds (for OPT: extended rcode, version and flags).
    pub ttl: u32,
    /// Text form of the record data for the types listed in the module docs.
    pub rdata: Option<String>,
}

/// Parses one complete DNS message (a UDP payload, or a TCP message without
/// its length prefix). Trailing bytes after the last record are ignored.
/// Record data that does not match its type (an `A` record of 3 bytes) gives
/// `rdata: None` rather than an error.
///
/// # Errors
/// [`DnsError`] when the header, a name or a record frame is malformed.
pub fn parse_message(buf: &[u8]) -> Result<DnsMessage, DnsError> {
    parse_inner(buf, false).map(|(m, _)| m)
}

/// Content detection for a UDP payload on any port: a sane header (opcode
/// 0..=6 except the unassigned 3, counts plausible for the length, at least
/// one question or, for responses, one answer, rcode 0 in queries) and a
/// message that parses strictly: known classes, record data consistent with
/// its type, and no trailing bytes.
///
/// NetBIOS Name Service (RFC 1002, UDP 137) reuses the DNS message format;
/// its messages are told apart by their first name, a 32-byte label in the
/// RFC 1001 §14.1 "first-level encoding" (letters `A`..=`P`), with type
/// NB (0x20) or NBSTAT (0x21), and are rejected.
pub fn looks_like_dns(udp_payload: &[u8]) -> bool {
    if !header_is_sane(udp_payload) {
        return false;
    }
    match parse_inner(udp_payload, true) {
        Ok((msg, end)) => end == udp_payload.len() && !is_netbios_ns(&msg),
        Err(_) => false,
    }
}

fn is_netbios_ns(msg: &DnsMessage) -> bool {
    let first = match (msg.queries.first(), msg.answers.first()) {
        (Some(q), _) => (q.rrname.as_str(), q.rrtype),
        (None, Some(a)) => (a.rrname.as_str(), a.rrtype),
        (None, None) => return false,
    };
    let label = first.0.split('.').next().unwrap_or_default();
    matches!(first.1, 0x20 | 0x21)
        && label.len() == 32
        && label.bytes().all(|b| (b'A'..=b'P').contains(&b))
}

/// Content detection for the first bytes of a TCP stream: a length prefix of
/// at least [`HEADER_LEN`], then either a whole message that passes
/// [`looks_like_dns`], or (when `first` stops short of the message) a sane
/// header for the announced length.
pub fn looks_like_dns_tcp(first: &[u8]) -> bool {
    let Some(len) = read_u16(first, 0) else {
        return false;
    };
    let len = usize::from(len);
    if len < HEADER_LEN {
        return false;
    }
    match first.get(2..2 + len) {
        Some(msg) => looks_like_dns(msg),
        None => {
            let Some(head) = first.get(2..2 + HEADER_LEN) else {
                return false;
            };
            header_fields_sane(head, len)
        }
    }
}

/// Mnemonic of a record type (IANA), or the decimal number when unknown.
pub fn rrtype_name(t: u16) -> Cow<'static, str> {
    let name = match t {
        1 => "A",
        2 => "NS",
        3 => "MD",
        4 => "MF",
        5 => "CNAME",
        6 => "SOA",
        7 => "MB",
        8 => "MG",
        9 => "MR",
        10 => "NULL",
        11 => "WKS",
        12 => "PTR",
        13 => "HINFO",
        14 => "MINFO",
        15 => "MX",
        16 => "TXT",
        17 => "RP",
        18 => "AFSDB",
        19 => "X25",
        20 => "ISDN",
        21 => "RT",
        22 => "NSAP",
        23 => "NSAP-PTR",
        24 => "SIG",
        25 => "KEY",
        26 => "PX",
        27 => "GPOS",
        28 => "AAAA",
        29 => "LOC",
        30 => "NXT",
        33 => "SRV",
        34 => "ATMA",
        35 => "NAPTR",
        36 => "KX",
        37 => "CERT",
        38 => "A6",
        39 => "DNAME",
        41 => "OPT",
        42 => "APL",
        43 => "DS",
        44 => "SSHFP",
        45 => "IPSECKEY",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        49 => "DHCID",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        52 => "TLSA",
        53 => "SMIMEA",
        55 => "HIP",
        59 => "CDS",
        60 => "CDNSKEY",
        61 => "OPENPGPKEY",
        62 => "CSYNC",
        63 => "ZONEMD",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        249 => "TKEY",
        250 => "TSIG",
        251 => "IXFR",
        252 => "AXFR",
        253 => "MAILB",
        254 => "MAILA",
        255 => "ANY",
        256 => "URI",
        257 => "CAA",
        _ => return Cow::Owned(t.to_string()),
    };
    Cow::Borrowed(name)
}

/// Mnemonic of a response code (RFC 1035, 2136, 2845, 6891, 7873), or the
/// decimal number when unknown. 16 is `BADVERS/BADSIG` as in Suricata, since
/// RFC 6891 and RFC 8945 both assigned it.
pub fn rcode_name(r: u16) -> Cow<'static, str> {
    let name = match r {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        11 => "DSOTYPENI",
        16 => "BADVERS/BADSIG",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        _ => return Cow::Owned(r.to_string()),
    };
    Cow::Borrowed(name)
}

/// Per-direction DNS-over-TCP deframer (RFC 7766 §8): each message is
/// preceded by a 2-byte big-endian length; one segment may carry several
/// messages and one message may span segments. Only a partial message is
/// buffered, so the buffer never exceeds `2 + MAX_TCP_MESSAGE` bytes. After a
/// malformed message the stream is abandoned ([`DnsTcpStream::is_done`]).
#[derive(Debug, Default)]
pub struct DnsTcpStream {
    buf: Vec<u8>,
    error: Option<DnsError>,
}

impl DnsTcpStream {
    /// A deframer at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds in-order stream bytes; completed messages are pushed to `out`.
    pub fn feed(&mut self, mut data: &[u8], out: &mut Vec<DnsMessage>) {
        while self.error.is_none() && !data.is_empty() {
            if self.buf.is_empty() {
                // Fast path: whole messages straight from `data`, no copy.
                if let Some(len) = read_u16(data, 0) {
                    let end = 2 + usize::from(len);
                    if let Some(msg) = data.get(2..end) {
                        self.deliver(msg, out);
                        data = data.get(end..).unwrap_or_default();
                        continue;
                    }
                }
                self.buf.extend_from_slice(data);
                self.check_prefix();
                return;
            }
            let need = match read_u16(&self.buf, 0) {
                Some(len) => 2 + usize::from(len),
                None => 2,
            };
            let take = need.saturating_sub(self.buf.len()).min(data.len());
            let (head, rest) = data.split_at(take);
            self.buf.extend_from_slice(head);
            data = rest;
            self.check_prefix();
            if let Some(len) = read_u16(&self.buf, 0) {
                if self.buf.len() == 2 + usize::from(len) {
                    let frame = std::mem::take(&mut self.buf);
                    self.deliver(frame.get(2..).unwrap_or_default(), out);
                    // Keep the allocation for the next partial message.
                    self.buf = frame;
                    self.buf.clear();
                }
            }
        }
    }

    /// True once the stream was abandoned after a malformed message.
    pub fn is_done(&self) -> bool {
        self.error.is_some()
    }

    /// The error that stopped the stream, if any.
    pub fn error(&self) -> Option<DnsError> {
        self.error
    }

    fn check_prefix(&mut self) {
        if let Some(len) = read_u16(&self.buf, 0) {
            if usize::from(len) < HEADER_LEN {
                self.error = Some(DnsError::BadTcpLength);
            }
        }
    }

    fn deliver(&mut self, msg: &[u8], out: &mut Vec<DnsMessage>) {
        if msg.len() < HEADER_LEN {
            self.error = Some(DnsError::BadTcpLength);
            return;
        }
        match parse_message(msg) {
            Ok(m) => out.push(m),
            Err(e) => self.error = Some(e),
        }
    }
}

/// Fuzz entry: checks that no input panics and that the invariants hold:
/// detection implies parsing, TCP deframing is independent of segmentation.
pub fn fuzz_dns(data: &[u8]) {
    let parsed = parse_message(data);
    if looks_like_dns(data) {
        assert!(
            parsed.is_ok(),
            "looks_like_dns accepted what parse_message rejects"
        );
    }
    if let Ok(m) = &parsed {
        for q in &m.queries {
            assert!(
                q.rrname.len() <= MAX_NAME_WIRE_LEN * 4,
                "rendered name exceeds bound"
            );
        }
    }
    let _ = looks_like_dns_tcp(data);
    let mut whole = DnsTcpStream::new();
    let mut out_whole = Vec::new();
    whole.feed(data, &mut out_whole);
    let mut bytes = DnsTcpStream::new();
    let mut out_bytes = Vec::new();
    for b in data.chunks(1) {
        bytes.feed(b, &mut out_bytes);
    }
    assert_eq!(
        out_whole, out_bytes,
        "tcp deframing depends on segmentation"
    );
    assert_eq!(whole.error(), bytes.error());
}

fn read_u16(buf: &[u8], at: usize) -> Option<u16> {
    let b = buf.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}

fn read_u32(buf: &[u8], at: usize) -> Option<u32> {
    let b = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([
        *b.first()?,
        *b.get(1)?,
        *b.get(2)?,
        *b.get(3)?,
    ]))
}

/// Header checks for detection, on the whole payload.
fn header_is_sane(buf: &[u8]) -> bool {
    match buf.get(..HEADER_LEN) {
        Some(head) => header_fields_sane(head, buf.len()),
        None => false,
    }
}

/// Header checks for detection; `msg_len` is the announced message length.
fn header_fields_sane(head: &[u8], msg_len: usize) -> bool {
    let (Some(flags), Some(qd), Some(an), Some(ns), Some(ar)) = (
        read_u16(head, 2),
        read_u16(head, 4),
        read_u16(head, 6),
        read_u16(head, 8),
        read_u16(head, 10),
    ) else {
        return false;
    };
    let qr = flags & 0x8000 != 0;
    let opcode = (flags >> 11) & 0xf;
    if opcode > 6 || opcode == 3 {
        return false;
    }
    if !qr && flags & 0x000f != 0 {
        return false;
    }
    if qd > MAX_DETECT_QUESTIONS {
        return false;
    }
    if qd == 0 && !(qr && an > 0) {
        return false;
    }
    counts_fit(msg_len, qd, an, ns, ar)
}

fn counts_fit(msg_len: usize, qd: u16, an: u16, ns: u16, ar: u16) -> bool {
    let records = usize::from(an) + usize::from(ns) + usize::from(ar);
    let need = HEADER_LEN + usize::from(qd) * MIN_QUESTION_LEN + records * MIN_RECORD_LEN;
    need <= msg_len
}

/// Classes accepted in strict mode: IN, CH, HS, NONE, ANY; the top bit is the
/// mDNS unicast-response / cache-flush flag (RFC 6762 §5.4, §10.2).
fn class_is_known(class: u16) -> bool {
    matches!(class & 0x7fff, 1 | 3 | 4 | 254 | 255)
}

fn parse_inner(buf: &[u8], strict: bool) -> Result<(DnsMessage, usize), DnsError> {
    let head = buf.get(..HEADER_LEN).ok_or(DnsError::Truncated("header"))?;
    let field = |at| read_u16(head, at).ok_or(DnsError::Truncated("header"));
    let id = field(0)?;
    let flags = field(2)?;
    let qd = field(4)?;
    let an = field(6)?;
    let ns = field(8)?;
    let ar = field(10)?;
    if !counts_fit(buf.len(), qd, an, ns, ar) {
        return Err(DnsError::ImplausibleCounts);
    }
    let mut msg = DnsMessage {
        id,
        flags,
        qr: flags & 0x8000 != 0,
        opcode: ((flags >> 11) & 0xf) as u8,
        aa: flags & 0x0400 != 0,
        tc: flags & 0x0200 != 0,
        rd: flags & 0x0100 != 0,
        ra: flags & 0x0080 != 0,
        z: flags & 0x0040 != 0,
        rcode: flags & 0x000f,
        ..DnsMessage::default()
    };
    let mut pos = HEADER_LEN;
    for i in 0..usize::from(qd) {
        let keep = i < MAX_RECORDS_PER_SECTION;
        let mut rrname = String::new();
        pos = read_name(buf, pos, keep.then_some(&mut rrname))?;
        let rrtype = read_u16(buf, pos).ok_or(DnsError::Truncated("question"))?;
        let class = read_u16(buf, pos + 2).ok_or(DnsError::Truncated("question"))?;
        pos += 4;
        if strict && !class_is_known(class) {
            return Err(DnsError::UnknownClass);
        }
        if keep {
            msg.queries.push(DnsQuery { rrname, rrtype });
        }
    }
    let mut ext_rcode = None;
    for (count, section) in [(an, 0u8), (ns, 1), (ar, 2)] {
        for i in 0..usize::from(count) {
            let keep = i < MAX_RECORDS_PER_SECTION;
            let (rec, next, ext) = read_record(buf, pos, keep, strict)?;
            pos = next;
            if ext.is_some() {
                ext_rcode = ext;
            }
            if let Some(rec) = rec {
                match section {
                    0 => msg.answers.push(rec),
                    1 => msg.authorities.push(rec),
                    _ => msg.additionals.push(rec),
                }
            }
        }
    }
    if let Some(ext) = ext_rcode {
        msg.rcode |= u16::from(ext) << 4;
    }
    Ok((msg, pos))
}

/// Reads one record at `pos`; returns it (when `keep`), the position after
/// it, and the extended-rcode octet when it is an OPT record.
fn read_record(
    buf: &[u8],
    pos: usize,
    keep: bool,
    strict: bool,
) -> Result<(Option<DnsAnswer>, usize, Option<u8>), DnsError> {
    let mut rrname = String::new();
    let pos = read_name(buf, pos, keep.then_some(&mut rrname))?;
    let rrtype = read_u16(buf, pos).ok_or(DnsError::Truncated("record"))?;
    let class = read_u16(buf, pos + 2).ok_or(DnsError::Truncated("record"))?;
    let ttl = read_u32(buf, pos + 4).ok_or(DnsError::Truncated("record"))?;
    let rdlen = usize::from(read_u16(buf, pos + 8).ok_or(DnsError::Truncated("record"))?);
    let start = pos + 10;
    let end = start + rdlen;
    if end > buf.len() {
        return Err(DnsError::Truncated("rdata"));
    }
    let is_opt = rrtype == rrtype::OPT;
    if strict && !is_opt && !class_is_known(class) {
        return Err(DnsError::UnknownClass);
    }
    let rdata = if keep || strict {
        render_rdata(buf, rrtype, start, end)
    } else {
        RData::Opaque
    };
    if strict && rdata == RData::Invalid {
        return Err(DnsError::BadRdata);
    }
    // RFC 6891 §6.1.3: the OPT TTL's high octet extends the rcode.
    let ext = is_opt.then_some((ttl >> 24) as u8);
    let rec = keep.then_some(DnsAnswer {
        rrname,
        rrtype,
        ttl,
        rdata: match rdata {
            RData::Text(s) => Some(s),
            RData::Opaque | RData::Invalid => None,
        },
    });
    Ok((rec, end, ext))
}

#[derive(Debug, PartialEq, Eq)]
enum RData {
    Text(String),
    /// A type rendered as `None`.
    Opaque,
    /// Data inconsistent with its type.
    Invalid,
}

fn render_rdata(buf: &[u8], rrtype: u16, start: usize, end: usize) -> RData {
    let Some(data) = buf.get(start..end) else {
        return RData::Invalid;
    };
    match rrtype {
        rrtype::A => match <[u8; 4]>::try_from(data) {
            Ok(a) => RData::Text(Ipv4Addr::from(a).to_string()),
            Err(_) => RData::Invalid,
        },
        rrtype::AAAA => match <[u8; 16]>::try_from(data) {
            Ok(a) => RData::Text(Ipv6Addr::from(a).to_string()),
            Err(_) => RData::Invalid,
        },
        rrtype::CNAME | rrtype::NS | rrtype::PTR | rrtype::DNAME => name_in_rdata(buf, start, end),
        rrtype::MX => name_in_rdata(buf, start + 2, end),
        rrtype::TXT | rrtype::SPF => {
            let mut out = String::new();
            let mut rest = data;
            while let Some((&len, tail)) = rest.split_first() {
                let Some(s) = tail.get(..usize::from(len)) else {
                    return RData::Invalid;
                };
                push_escaped(&mut out, s);
                rest = tail.get(usize::from(len)..).unwrap_or_default();
            }
            RData::Text(out)
        }
        _ => RData::Opaque,
    }
}

/// A name that must end exactly at `end` (the end of the record data).
fn name_in_rdata(buf: &[u8], start: usize, end: usize) -> RData {
    if start >= end {
        return RData::Invalid;
    }
    // Bound the name to the record so it cannot run into the next record.
    let Some(bounded) = buf.get(..end) else {
        return RData::Invalid;
    };
    let mut name = String::new();
    match read_name(bounded, start, Some(&mut name)) {
        Ok(next) if next == end => RData::Text(name),
        _ => RData::Invalid,
    }
}

/// Reads the name at `pos`, appending its text to `out` when given; returns
/// the position after the name where it starts (after the first pointer).
fn read_name(buf: &[u8], pos: usize, mut out: Option<&mut String>) -> Result<usize, DnsError> {
    let mut at = pos;
    let mut after: Option<usize> = None;
    let mut jumps = 0usize;
    let mut wire_len = 1usize; // the terminating root label
    loop {
        let len = *buf.get(at).ok_or(DnsError::Truncated("name"))?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                return Ok(after.unwrap_or(at + 1));
            }
            0x00 => {
                let label_len = usize::from(len);
                wire_len += 1 + label_len;
                if wire_len > MAX_NAME_WIRE_LEN {
                    return Err(DnsError::NameTooLong);
                }
                let label = buf
                    .get(at + 1..at + 1 + label_len)
                    .ok_or(DnsError::Truncated("name"))?;
                if let Some(s) = out.as_deref_mut() {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    push_escaped(s, label);
                }
                at += 1 + label_len;
            }
            0xc0 => {
                let ptr = read_u16(buf, at).ok_or(DnsError::Truncated("name"))?;
                jumps += 1;
                if jumps > MAX_POINTER_JUMPS {
                    return Err(DnsError::PointerLoop);
                }
                if after.is_none() {
                    after = Some(at + 2);
                }
                at = usize::from(ptr & 0x3fff);
            }
            _ => return Err(DnsError::BadLabel),
        }
    }
}

/// Appends bytes as text: printable ASCII as is, anything else as `\xNN`.
fn push_escaped(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        if (0x20..0x7f).contains(&b) {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\x{b:02x}");
        }
    }
}
