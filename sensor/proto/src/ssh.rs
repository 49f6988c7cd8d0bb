//! SSH transport layer, the clear-text part: the identification string ("banner"), the binary
//! packet framing before keys are in use, and SSH_MSG_KEXINIT with its HASSH / HASSHServer
//! fingerprints.
//!
//! Input is the in-order, reassembled TCP payload of ONE direction, fed in arbitrary chunks to an
//! [`SshStream`]; the output does not depend on the chunking (see [`fuzz_ssh`]).
//!
//! Specs:
//! - Identification string `SSH-protoversion-softwareversion SP comments CR LF`, lines a server
//!   may send before it, "1.99" compatibility: RFC 4253 §4.2, §5.1
//!   (<https://www.rfc-editor.org/rfc/rfc4253>).
//! - Binary packet protocol (`uint32 packet_length, byte padding_length, payload, padding`; no
//!   MAC before the first NEWKEYS): RFC 4253 §6; the 35000-byte packet bound: §6.1.
//! - SSH_MSG_KEXINIT (20): RFC 4253 §7.1; name-lists: RFC 4251 §5.
//! - HASSH = MD5("kex;enc_c2s;mac_c2s;comp_c2s"), HASSHServer = MD5("kex;enc_s2c;mac_s2c;
//!   comp_s2c"): <https://github.com/salesforce/hassh> (README).
//! - Output fields follow Suricata's EVE `ssh.client` / `ssh.server` objects
//!   (`proto_version`, `software_version`, `hassh.hash`, `hassh.string`).
//!
//! Limits (attacker-controlled input; nothing here panics on any byte sequence):
//! - an identification line (or a line before it) longer than [`MAX_LINE_LEN`] is an error; at
//!   most [`MAX_PRE_BANNER_LINES`] lines may precede the banner (server side only);
//! - a binary packet longer than [`MAX_PACKET_LEN`] is an error; at most
//!   [`MAX_PACKETS_BEFORE_KEXINIT`] packets are looked at before the stream gives up.
//!
//! Memory: the stream buffers a line or a packet only while it spans chunks, and frees it at the
//! end. It stops (`is_done`) after KEXINIT, NEWKEYS, an SSH-1 banner, or an error.

use std::fmt::{self, Write as _};

use md5::{Digest, Md5};

/// Longest identification line (or line before it) accepted, CR LF included. RFC 4253 §4.2
/// allows 255; some servers exceed it, so a little slack is given.
pub const MAX_LINE_LEN: usize = 1024;
/// Lines a server may send before its identification string that are tolerated.
pub const MAX_PRE_BANNER_LINES: u32 = 16;
/// Largest `packet_length` accepted (RFC 4253 §6.1: implementations must handle 35000 bytes).
pub const MAX_PACKET_LEN: usize = 35_000;
/// Binary packets looked at before giving up when no KEXINIT shows up.
pub const MAX_PACKETS_BEFORE_KEXINIT: u32 = 8;

const MSG_KEXINIT: u8 = 20;
const MSG_NEWKEYS: u8 = 21;

/// Which end of the connection a stream carries (decides HASSH vs HASSHServer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SshRole {
    Client,
    Server,
}

/// Why a stream was rejected. Cheap to copy; carries no input bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SshError {
    /// A line longer than [`MAX_LINE_LEN`].
    LineTooLong,
    /// The client's first line, or the server's first [`MAX_PRE_BANNER_LINES`] + 1 lines, do
    /// not start with "SSH-".
    NotSsh,
    /// "SSH-" line without the `protoversion-softwareversion` parts.
    MalformedBanner,
    /// `packet_length` above [`MAX_PACKET_LEN`] or too small for its own padding.
    BadPacketLength(usize),
    /// KEXINIT body does not follow RFC 4253 §7.1.
    MalformedKexinit,
    /// No KEXINIT in the first [`MAX_PACKETS_BEFORE_KEXINIT`] packets.
    NoKexinit,
}

impl fmt::Display for SshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SshError::LineTooLong => f.write_str("ssh identification line too long"),
            SshError::NotSsh => f.write_str("not an ssh identification string"),
            SshError::MalformedBanner => f.write_str("malformed ssh identification string"),
            SshError::BadPacketLength(n) => write!(f, "invalid ssh packet length {n}"),
            SshError::MalformedKexinit => f.write_str("malformed ssh kexinit"),
            SshError::NoKexinit => f.write_str("no ssh kexinit"),
        }
    }
}

impl std::error::Error for SshError {}

/// The identification string, split as Suricata logs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshBanner {
    /// "2.0", "1.99", "1.5"...
    pub proto_version: String,
    pub software_version: String,
    /// Text after the first space, if any.
    pub comments: Option<String>,
}

/// A HASSH (client) or HASSHServer fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hassh {
    /// MD5 of `string`, lowercase hex.
    pub hash: String,
    /// The four name-lists joined by ';'.
    pub string: String,
}

/// SSH_MSG_KEXINIT name-lists (lossy UTF-8; the spec makes them US-ASCII).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kexinit {
    pub kex_algorithms: String,
    pub server_host_key_algorithms: String,
    pub encryption_client_to_server: String,
    pub encryption_server_to_client: String,
    pub mac_client_to_server: String,
    pub mac_server_to_client: String,
    pub compression_client_to_server: String,
    pub compression_server_to_client: String,
    pub languages_client_to_server: String,
    pub languages_server_to_client: String,
    pub first_kex_packet_follows: bool,
}

fn hassh_of(parts: [&str; 4]) -> Hassh {
    let string = parts.join(";");
    let mut hash = String::with_capacity(32);
    for b in Md5::digest(string.as_bytes()) {
        let _ = write!(hash, "{b:02x}");
    }
    Hassh { hash, string }
}

impl Kexinit {
    /// HASSH: the client-to-server lists (meaningful for a client's KEXINIT).
    pub fn hassh(&self) -> Hassh {
        hassh_of([
            &self.kex_algorithms,
            &self.encryption_client_to_server,
            &self.mac_client_to_server,
            &self.compression_client_to_server,
        ])
    }

    /// HASSHServer: the server-to-client lists (meaningful for a server's KEXINIT).
    pub fn hassh_server(&self) -> Hassh {
        hassh_of([
            &self.kex_algorithms,
            &self.encryption_server_to_client,
            &self.mac_server_to_client,
            &self.compression_server_to_client,
        ])
    }
}

/// What a direction yielded, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshEvent {
    Banner(SshBanner),
    /// The KEXINIT and the fingerprint for the stream's role (HASSH for a client stream,
    /// HASSHServer for a server stream).
    Kexinit {
        kexinit: Box<Kexinit>,
        hassh: Hassh,
    },
}

/// Content detection on the first bytes of a direction: "SSH-" (or a prefix of it when fewer
/// than 4 bytes are available, and at least one is).
pub fn looks_like_ssh(first: &[u8]) -> bool {
    let n = first.len().min(4);
    n > 0 && first.get(..n) == b"SSH-".get(..n)
}

/// Parses one identification line (without its line end; a trailing CR is ignored). `None`
/// when it does not start with "SSH-" or lacks the software version.
pub fn parse_banner(line: &[u8]) -> Option<SshBanner> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let rest = line.strip_prefix(b"SSH-")?;
    let dash = rest.iter().position(|b| *b == b'-')?;
    let (proto, rest) = rest.split_at(dash);
    let rest = rest.get(1..)?;
    let (soft, comments) = match rest.iter().position(|b| *b == b' ') {
        Some(sp) => (rest.get(..sp)?, Some(rest.get(sp + 1..)?)),
        None => (rest, None),
    };
    if proto.is_empty() || soft.is_empty() {
        return None;
    }
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Some(SshBanner {
        proto_version: text(proto),
        software_version: text(soft),
        comments: comments.map(text),
    })
}

/// Parses an SSH_MSG_KEXINIT payload (starting with the message number 20).
pub fn parse_kexinit(payload: &[u8]) -> Result<Kexinit, SshError> {
    let bad = SshError::MalformedKexinit;
    let (&msg, rest) = payload.split_first().ok_or(bad)?;
    if msg != MSG_KEXINIT {
        return Err(bad);
    }
    let mut r = rest.get(16..).ok_or(bad)?; // cookie
    let mut list = || -> Result<String, SshError> {
        let (len, rest) = r.split_first_chunk::<4>().ok_or(bad)?;
        let len = usize::try_from(u32::from_be_bytes(*len)).map_err(|_| bad)?;
        let s = rest.get(..len).ok_or(bad)?;
        r = rest.get(len..).ok_or(bad)?;
        Ok(String::from_utf8_lossy(s).into_owned())
    };
    let mut k = Kexinit {
        kex_algorithms: list()?,
        server_host_key_algorithms: list()?,
        encryption_client_to_server: list()?,
        encryption_server_to_client: list()?,
        mac_client_to_server: list()?,
        mac_server_to_client: list()?,
        compression_client_to_server: list()?,
        compression_server_to_client: list()?,
        languages_client_to_server: list()?,
        languages_server_to_client: list()?,
        first_kex_packet_follows: false,
    };
    // boolean first_kex_packet_follows, uint32 reserved.
    let (&follows, rest) = r.split_first().ok_or(bad)?;
    if rest.len() < 4 {
        return Err(bad);
    }
    k.first_kex_packet_follows = follows != 0;
    Ok(k)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading lines until the identification string.
    Banner {
        lines: u32,
    },
    /// Reading the 4-byte packet_length.
    PacketHeader,
    /// Reading a packet body of `len` bytes (padding_length onwards).
    PacketBody {
        len: usize,
    },
    Done,
}

/// Per-direction SSH parser. Feed it the in-order reassembled bytes of one TCP direction.
#[derive(Debug, Clone)]
pub struct SshStream {
    role: SshRole,
    state: State,
    /// Partial line or packet spanning chunks; empty otherwise.
    buf: Vec<u8>,
    hdr: [u8; 4],
    hdr_len: usize,
    packets: u32,
    error: Option<SshError>,
}

impl SshStream {
    /// A parser at the start of a direction. Allocates nothing.
    pub fn new(role: SshRole) -> Self {
        SshStream {
            role,
            state: State::Banner { lines: 0 },
            buf: Vec::new(),
            hdr: [0; 4],
            hdr_len: 0,
            packets: 0,
            error: None,
        }
    }

    /// True once nothing more will be parsed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The error that stopped the stream, if any.
    pub fn error(&self) -> Option<SshError> {
        self.error
    }

    fn finish(&mut self) {
        self.state = State::Done;
        self.buf = Vec::new();
    }

    fn fail(&mut self, e: SshError) {
        self.error = Some(e);
        self.finish();
    }

    /// Consumes the next chunk; events are appended to `out`. Input after the stream is done is
    /// ignored.
    pub fn feed(&mut self, mut data: &[u8], out: &mut Vec<SshEvent>) {
        while !data.is_empty() {
            match self.state {
                State::Done => return,
                State::Banner { lines } => {
                    let nl = data.iter().position(|b| *b == b'\n');
                    let take = nl.map_or(data.len(), |i| i + 1);
                    let (part, rest) = data.split_at(take);
                    data = rest;
                    if self.buf.len() + part.len() > MAX_LINE_LEN {
                        return self.fail(SshError::LineTooLong);
                    }
                    if nl.is_none() {
                        self.buf.extend_from_slice(part);
                        continue;
                    }
                    let line_buf;
                    let line: &[u8] = if self.buf.is_empty() {
                        part
                    } else {
                        self.buf.extend_from_slice(part);
                        line_buf = std::mem::take(&mut self.buf);
                        &line_buf
                    };
                    let line = line.strip_suffix(b"\n").unwrap_or(line);
                    self.banner_line(line, lines, out);
                }
                State::PacketHeader => {
                    let free = self.hdr.get_mut(self.hdr_len..).unwrap_or_default();
                    let n = free.len().min(data.len());
                    let (part, rest) = data.split_at(n);
                    free.get_mut(..n).unwrap_or_default().copy_from_slice(part);
                    data = rest;
                    self.hdr_len += n;
                    if self.hdr_len < self.hdr.len() {
                        continue;
                    }
                    self.hdr_len = 0;
                    let len = u32::from_be_bytes(self.hdr);
                    let len = usize::try_from(len).unwrap_or(usize::MAX);
                    // padding_length byte + at least one payload byte (the message number).
                    if !(2..=MAX_PACKET_LEN).contains(&len) {
                        return self.fail(SshError::BadPacketLength(len));
                    }
                    self.state = State::PacketBody { len };
                }
                State::PacketBody { len } => {
                    let need = len.saturating_sub(self.buf.len());
                    if self.buf.is_empty() && data.len() >= need {
                        // Fast path: the whole packet is in this chunk; no copy.
                        let (pkt, rest) = data.split_at(need);
                        data = rest;
                        self.packet(pkt, out);
                    } else {
                        let n = need.min(data.len());
                        let (part, rest) = data.split_at(n);
                        data = rest;
                        self.buf.extend_from_slice(part);
                        if self.buf.len() == len {
                            let pkt = std::mem::take(&mut self.buf);
                            self.packet(&pkt, out);
                        }
                    }
                }
            }
        }
    }

    fn banner_line(&mut self, line: &[u8], lines: u32, out: &mut Vec<SshEvent>) {
        if !line.starts_with(b"SSH-") {
            // RFC 4253 §4.2: only the server may send other lines first.
            if self.role == SshRole::Server && lines < MAX_PRE_BANNER_LINES {
                self.state = State::Banner { lines: lines + 1 };
            } else {
                self.fail(SshError::NotSsh);
            }
            return;
        }
        let Some(b) = parse_banner(line) else {
            return self.fail(SshError::MalformedBanner);
        };
        // SSH-1 (other than the 1.99 compatibility version) uses another packet format.
        let ssh1 = b.proto_version.starts_with("1.") && b.proto_version != "1.99";
        out.push(SshEvent::Banner(b));
        if ssh1 {
            self.finish();
        } else {
            self.state = State::PacketHeader;
        }
    }

    /// One binary packet, from padding_length on (`packet_length` bytes).
    fn packet(&mut self, pkt: &[u8], out: &mut Vec<SshEvent>) {
        self.state = State::PacketHeader;
        self.packets = self.packets.saturating_add(1);
        let Some((&pad, rest)) = pkt.split_first() else {
            return self.fail(SshError::BadPacketLength(pkt.len()));
        };
        let Some(payload) = rest
            .len()
            .checked_sub(usize::from(pad))
            .and_then(|n| rest.get(..n))
            .filter(|p| !p.is_empty())
        else {
            return self.fail(SshError::BadPacketLength(pkt.len()));
        };
        match payload.first() {
            Some(&MSG_KEXINIT) => {
                match parse_kexinit(payload) {
                    Ok(k) => {
                        let hassh = match self.role {
                            SshRole::Client => k.hassh(),
                            SshRole::Server => k.hassh_server(),
                        };
                        out.push(SshEvent::Kexinit {
                            kexinit: Box::new(k),
                            hassh,
                        });
                        // Everything useful is out; the rest is key exchange, then ciphertext.
                        self.finish();
                    }
                    Err(e) => self.fail(e),
                }
            }
            Some(&MSG_NEWKEYS) => self.finish(),
            _ if self.packets >= MAX_PACKETS_BEFORE_KEXINIT => self.fail(SshError::NoKexinit),
            _ => {}
        }
    }
}

/// Fuzz entry: feeds `data` whole and in several chunkings to client and server streams, and
/// checks that every run yields the same events, done state and error.
///
/// # Panics
/// When two chunkings disagree (that is the bug the fuzzer looks for).
pub fn fuzz_ssh(data: &[u8]) {
    type Run = (Vec<SshEvent>, bool, Option<SshError>);
    fn run(role: SshRole, data: &[u8], sizes: &[usize]) -> Run {
        let mut s = SshStream::new(role);
        let mut out = Vec::new();
        crate::chunks::feed_in_chunks(data, sizes, |c| s.feed(c, &mut out));
        assert!(s.buf.len() <= MAX_LINE_LEN.max(MAX_PACKET_LEN));
        (out, s.is_done(), s.error())
    }
    let _ = looks_like_ssh(data);
    let _ = parse_banner(data);
    let _ = parse_kexinit(data);
    let half = data.len() / 2 + 1;
    for role in [SshRole::Client, SshRole::Server] {
        let whole = run(role, data, &[usize::MAX]);
        for sizes in [&[1usize][..], &[2, 3, 5], &[7, 1, 64], &[1500], &[half]] {
            assert_eq!(
                whole,
                run(role, data, sizes),
                "chunking {sizes:?} changed the result"
            );
        }
    }
}
