//! SOCKS proxy handshakes: SOCKS4, SOCKS4a, SOCKS5 with the "no authentication" and
//! username/password methods. Extracts the requested target (IPv4, IPv6, domain name) and port,
//! the user name, whether the server granted the request, and the offset in each direction where
//! the tunnelled stream starts (so that TLS / HTTP detection can run again from there).
//!
//! Input is the in-order, reassembled TCP payload of ONE direction, fed in arbitrary chunks to a
//! [`SocksStream`] made for that direction; the output does not depend on the chunking (see
//! [`fuzz_socks`]).
//!
//! Specs:
//! - SOCKS5: RFC 1928 (<https://www.rfc-editor.org/rfc/rfc1928>) §3 method negotiation, §4
//!   requests, §5 addressing, §6 replies.
//! - Username/password sub-negotiation: RFC 1929 §2 (<https://www.rfc-editor.org/rfc/rfc1929>).
//! - SOCKS4: "SOCKS: A protocol for TCP proxy across firewalls" (Ying-Da Lee, NEC);
//!   SOCKS4a: "SOCKS 4A: A Simple Extension to SOCKS 4 Protocol" (same author): a destination
//!   of 0.0.0.x (x != 0) means a NUL-terminated host name follows the user id.
//!
//! Limits (attacker-controlled input; nothing here panics on any byte sequence): the handshake
//! of one direction is buffered up to [`MAX_HANDSHAKE_BYTES`]; a SOCKS4 user id or host name
//! longer than [`MAX_SOCKS4_FIELD`] is an error. Passwords are skipped, never stored.
//!
//! Not handled: GSS-API authentication (RFC 1961; the stream stops when it is selected), the
//! second reply of BIND, and UDP ASSOCIATE datagrams. The server side does not see the client's
//! command: the engine should follow `tunnel_offset` only for a CONNECT request.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Bytes of one direction's handshake kept while it is incomplete.
pub const MAX_HANDSHAKE_BYTES: usize = 2048;
/// Longest SOCKS4 user id or SOCKS4a host name (NUL excluded).
pub const MAX_SOCKS4_FIELD: usize = 255;

/// Which side of the connection a stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocksDirection {
    /// Client to proxy.
    ToServer,
    /// Proxy to client.
    ToClient,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocksVersion {
    V4,
    /// SOCKS4 with a host name instead of an address.
    V4a,
    V5,
}

/// RFC 1928 §4 CMD (SOCKS4 uses 1 and 2 the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocksCommand {
    Connect,
    Bind,
    UdpAssociate,
    Other(u8),
}

impl From<u8> for SocksCommand {
    fn from(b: u8) -> Self {
        match b {
            1 => SocksCommand::Connect,
            2 => SocksCommand::Bind,
            3 => SocksCommand::UdpAssociate,
            o => SocksCommand::Other(o),
        }
    }
}

/// A requested or bound address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocksTarget {
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
    /// Lossy UTF-8.
    Domain(String),
}

impl fmt::Display for SocksTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocksTarget::Ipv4(a) => a.fmt(f),
            SocksTarget::Ipv6(a) => a.fmt(f),
            SocksTarget::Domain(d) => f.write_str(d),
        }
    }
}

/// What a direction yielded, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocksEvent {
    /// SOCKS5 client greeting: the offered methods (RFC 1928 §3).
    Methods(Vec<u8>),
    /// RFC 1929 user name (the password is not kept).
    Auth { username: String },
    /// The client's request. The client's tunnelled bytes start at `tunnel_offset` (bytes from
    /// the start of this direction).
    Request {
        version: SocksVersion,
        command: SocksCommand,
        target: SocksTarget,
        port: u16,
        /// SOCKS4 user id (may be empty).
        user: Option<String>,
        tunnel_offset: u64,
    },
    /// SOCKS5 method chosen by the server (0xff: none acceptable, the request is refused).
    MethodSelected(u8),
    /// RFC 1929 status.
    AuthResult { success: bool },
    /// The server's reply. When `granted`, the server's tunnelled bytes start at `tunnel_offset`.
    Reply {
        version: SocksVersion,
        granted: bool,
        /// SOCKS5 REP or SOCKS4 CD byte.
        code: u8,
        bound: SocksTarget,
        port: u16,
        tunnel_offset: u64,
    },
}

/// Why a stream stopped without a complete handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SocksError {
    /// The bytes do not follow SOCKS4/4a/5 framing.
    NotSocks,
    /// The handshake exceeds [`MAX_HANDSHAKE_BYTES`] or a SOCKS4 field [`MAX_SOCKS4_FIELD`].
    TooLong,
    /// A method this parser cannot follow (GSS-API, private methods).
    UnsupportedMethod(u8),
}

impl fmt::Display for SocksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocksError::NotSocks => f.write_str("not a socks handshake"),
            SocksError::TooLong => f.write_str("socks handshake too long"),
            SocksError::UnsupportedMethod(m) => write!(f, "unsupported socks5 method 0x{m:02x}"),
        }
    }
}

impl std::error::Error for SocksError {}

/// Content detection on the first client bytes: a SOCKS4/4a request (version 4, CONNECT or
/// BIND, NUL-terminated user id when complete) or a SOCKS5 greeting (version 5, 1..=255 methods
/// from the IANA ranges, followed by nothing, an RFC 1929 request or a SOCKS5 request).
pub fn looks_like_socks_request(first: &[u8]) -> bool {
    match first {
        [4, 1 | 2, rest @ ..] => match rest.get(6..) {
            // port + address, then the user id up to a NUL.
            Some(user) if !user.is_empty() => {
                user.iter().take(MAX_SOCKS4_FIELD + 1).any(|b| *b == 0)
            }
            _ => true,
        },
        [5, n, rest @ ..] if *n > 0 => {
            let n = usize::from(*n);
            let Some(methods) = rest.get(..n) else {
                return rest.iter().all(|m| plausible_method(*m));
            };
            methods.iter().all(|m| plausible_method(*m))
                && matches!(rest.get(n), None | Some(1 | 5))
        }
        [5] | [4] => true,
        _ => false,
    }
}

/// RFC 1928 §3: 0x00-0x02 defined, 0x03-0x7f IANA assigned (0x03-0x09 in use), 0x80-0xfe
/// private.
fn plausible_method(m: u8) -> bool {
    m <= 0x09 || (0x80..=0xfe).contains(&m)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Start,
    // client
    V5AfterGreeting,
    V5Request,
    // server
    V5Method,
    V5AuthReply,
    V5Reply,
    Done,
}

enum Step {
    /// Need more bytes.
    More,
    /// A message of this many bytes was consumed.
    Took(usize),
    Fail(SocksError),
}

/// Per-direction SOCKS handshake parser.
#[derive(Debug, Clone)]
pub struct SocksStream {
    dir: SocksDirection,
    phase: Phase,
    /// The direction's bytes from its start while the handshake is incomplete.
    buf: Vec<u8>,
    /// Bytes of `buf` already parsed.
    parsed: usize,
    tunnel_offset: Option<u64>,
    error: Option<SocksError>,
}

impl SocksStream {
    /// A parser at the start of a direction. Allocates nothing.
    pub fn new(dir: SocksDirection) -> Self {
        SocksStream {
            dir,
            phase: Phase::Start,
            buf: Vec::new(),
            parsed: 0,
            tunnel_offset: None,
            error: None,
        }
    }

    /// True once nothing more will be parsed (handshake finished, refused or an error).
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    pub fn error(&self) -> Option<SocksError> {
        self.error
    }

    /// Where this direction's tunnelled stream starts (bytes from the start of the direction),
    /// once the request (client) or a granting reply (server) was parsed.
    pub fn tunnel_offset(&self) -> Option<u64> {
        self.tunnel_offset
    }

    fn finish(&mut self, tunnel: bool) {
        if tunnel {
            self.tunnel_offset = Some(self.parsed as u64);
        }
        self.phase = Phase::Done;
        self.buf = Vec::new();
    }

    /// Consumes the next chunk; events are appended to `out`. Input after the stream is done
    /// (the tunnelled bytes) is ignored.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<SocksEvent>) {
        if self.is_done() || data.is_empty() {
            return;
        }
        let room = MAX_HANDSHAKE_BYTES.saturating_sub(self.buf.len());
        let take = data.len().min(room);
        self.buf
            .extend_from_slice(data.get(..take).unwrap_or_default());
        while !self.is_done() {
            let step = self.step(out);
            match step {
                Step::Took(n) => self.parsed += n,
                Step::More if self.buf.len() >= MAX_HANDSHAKE_BYTES => {
                    return self.fail(SocksError::TooLong)
                }
                Step::More => return,
                Step::Fail(e) => return self.fail(e),
            }
        }
    }

    fn fail(&mut self, e: SocksError) {
        self.error = Some(e);
        self.finish(false);
    }

    /// Parses the next message at `parsed`; may change the phase and emit events.
    fn step(&mut self, out: &mut Vec<SocksEvent>) -> Step {
        let b = self.buf.get(self.parsed..).unwrap_or_default();
        let offset_after = |n: usize| (self.parsed + n) as u64;
        let Some(&first) = b.first() else {
            return Step::More;
        };
        match (self.dir, self.phase) {
            (_, Phase::Done) => Step::More,
            (SocksDirection::ToServer, Phase::Start) => match first {
                4 => match parse_v4_request(b) {
                    Ok(Some((n, ev))) => {
                        out.push(ev(offset_after(n)));
                        self.parsed += n;
                        self.finish(true);
                        Step::Took(0)
                    }
                    Ok(None) => Step::More,
                    Err(e) => Step::Fail(e),
                },
                5 => {
                    let Some(&n) = b.get(1) else {
                        return Step::More;
                    };
                    if n == 0 {
                        return Step::Fail(SocksError::NotSocks);
                    }
                    let Some(methods) = b.get(2..2 + usize::from(n)) else {
                        return Step::More;
                    };
                    out.push(SocksEvent::Methods(methods.to_vec()));
                    self.phase = Phase::V5AfterGreeting;
                    Step::Took(2 + usize::from(n))
                }
                _ => Step::Fail(SocksError::NotSocks),
            },
            (SocksDirection::ToServer, Phase::V5AfterGreeting) => match first {
                // RFC 1929: VER=1 ULEN UNAME PLEN PASSWD.
                1 => {
                    let Some(&ulen) = b.get(1) else {
                        return Step::More;
                    };
                    let ulen = usize::from(ulen);
                    let Some(&plen) = b.get(2 + ulen) else {
                        return Step::More;
                    };
                    let total = 3 + ulen + usize::from(plen);
                    if b.len() < total {
                        return Step::More;
                    }
                    let user = b.get(2..2 + ulen).unwrap_or_default();
                    out.push(SocksEvent::Auth {
                        username: String::from_utf8_lossy(user).into_owned(),
                    });
                    self.phase = Phase::V5Request;
                    Step::Took(total)
                }
                5 => {
                    self.phase = Phase::V5Request;
                    Step::Took(0)
                }
                _ => Step::Fail(SocksError::NotSocks),
            },
            (SocksDirection::ToServer, Phase::V5Request) => match parse_v5_addr_msg(b) {
                Ok(Some((n, cmd, target, port))) => {
                    out.push(SocksEvent::Request {
                        version: SocksVersion::V5,
                        command: SocksCommand::from(cmd),
                        target,
                        port,
                        user: None,
                        tunnel_offset: offset_after(n),
                    });
                    self.parsed += n;
                    self.finish(true);
                    Step::Took(0)
                }
                Ok(None) => Step::More,
                Err(e) => Step::Fail(e),
            },
            (SocksDirection::ToClient, Phase::Start) => match first {
                5 => {
                    self.phase = Phase::V5Method;
                    Step::Took(0)
                }
                // SOCKS4 reply: VN=0 CD DSTPORT DSTIP.
                0 => {
                    let Some(r) = b.get(..8) else {
                        return Step::More;
                    };
                    let code = r.get(1).copied().unwrap_or(0);
                    if !(0x5a..=0x5d).contains(&code) {
                        return Step::Fail(SocksError::NotSocks);
                    }
                    let granted = code == 0x5a;
                    out.push(SocksEvent::Reply {
                        version: SocksVersion::V4,
                        granted,
                        code,
                        bound: SocksTarget::Ipv4(ipv4(r.get(4..8))),
                        port: u16::from_be_bytes([
                            r.get(2).copied().unwrap_or(0),
                            r.get(3).copied().unwrap_or(0),
                        ]),
                        tunnel_offset: offset_after(8),
                    });
                    self.parsed += 8;
                    self.finish(granted);
                    Step::Took(0)
                }
                _ => Step::Fail(SocksError::NotSocks),
            },
            (SocksDirection::ToClient, Phase::V5Method) => {
                let Some(&m) = b.get(1) else {
                    return Step::More;
                };
                out.push(SocksEvent::MethodSelected(m));
                self.parsed += 2;
                match m {
                    0x00 => self.phase = Phase::V5Reply,
                    0x02 => self.phase = Phase::V5AuthReply,
                    0xff => self.finish(false),
                    other => return Step::Fail(SocksError::UnsupportedMethod(other)),
                }
                Step::Took(0)
            }
            (SocksDirection::ToClient, Phase::V5AuthReply) => {
                let Some(&status) = b.get(1) else {
                    return Step::More;
                };
                if first != 1 {
                    return Step::Fail(SocksError::NotSocks);
                }
                out.push(SocksEvent::AuthResult {
                    success: status == 0,
                });
                self.parsed += 2;
                if status == 0 {
                    self.phase = Phase::V5Reply;
                } else {
                    self.finish(false);
                }
                Step::Took(0)
            }
            (SocksDirection::ToClient, Phase::V5Reply) => match parse_v5_addr_msg(b) {
                Ok(Some((n, rep, bound, port))) => {
                    let granted = rep == 0;
                    out.push(SocksEvent::Reply {
                        version: SocksVersion::V5,
                        granted,
                        code: rep,
                        bound,
                        port,
                        tunnel_offset: offset_after(n),
                    });
                    self.parsed += n;
                    self.finish(granted);
                    Step::Took(0)
                }
                Ok(None) => Step::More,
                Err(e) => Step::Fail(e),
            },
            // Client phases seen from the server side and vice versa cannot happen.
            _ => Step::Fail(SocksError::NotSocks),
        }
    }
}

fn ipv4(b: Option<&[u8]>) -> Ipv4Addr {
    b.and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(Ipv4Addr::UNSPECIFIED, Ipv4Addr::from)
}

/// RFC 1928 §4 request / §6 reply: VER=5, CMD|REP, RSV, ATYP, address, port. Returns (length,
/// CMD|REP, address, port), `None` when incomplete.
#[allow(clippy::type_complexity)]
fn parse_v5_addr_msg(b: &[u8]) -> Result<Option<(usize, u8, SocksTarget, u16)>, SocksError> {
    let (Some(&ver), Some(&code), Some(&rsv), Some(&atyp)) =
        (b.first(), b.get(1), b.get(2), b.get(3))
    else {
        return Ok(None);
    };
    if ver != 5 || rsv != 0 {
        return Err(SocksError::NotSocks);
    }
    let (addr_len, skip) = match atyp {
        1 => (4, 0),
        4 => (16, 0),
        3 => match b.get(4) {
            Some(&n) => (usize::from(n), 1),
            None => return Ok(None),
        },
        _ => return Err(SocksError::NotSocks),
    };
    let start = 4 + skip;
    let total = start + addr_len + 2;
    let Some(msg) = b.get(..total) else {
        return Ok(None);
    };
    let addr = msg.get(start..start + addr_len).unwrap_or_default();
    let target = match atyp {
        1 => SocksTarget::Ipv4(ipv4(Some(addr))),
        4 => SocksTarget::Ipv6(
            <[u8; 16]>::try_from(addr).map_or(Ipv6Addr::UNSPECIFIED, Ipv6Addr::from),
        ),
        _ => SocksTarget::Domain(String::from_utf8_lossy(addr).into_owned()),
    };
    let port = u16::from_be_bytes([
        msg.get(total - 2).copied().unwrap_or(0),
        msg.get(total - 1).copied().unwrap_or(0),
    ]);
    Ok(Some((total, code, target, port)))
}

/// SOCKS4 / 4a request: VN=4 CD DSTPORT DSTIP USERID NUL [HOST NUL when DSTIP is 0.0.0.x].
/// Returns the length and an event builder taking the tunnel offset; `None` when incomplete.
#[allow(clippy::type_complexity)]
fn parse_v4_request(
    b: &[u8],
) -> Result<Option<(usize, Box<dyn FnOnce(u64) -> SocksEvent>)>, SocksError> {
    let Some(head) = b.get(..8) else {
        return Ok(None);
    };
    let cmd = head.get(1).copied().unwrap_or(0);
    if !matches!(cmd, 1 | 2) {
        return Err(SocksError::NotSocks);
    }
    let port = u16::from_be_bytes([
        head.get(2).copied().unwrap_or(0),
        head.get(3).copied().unwrap_or(0),
    ]);
    let ip = ipv4(head.get(4..8));
    let nul_field = |from: usize| -> Result<Option<(String, usize)>, SocksError> {
        let rest = b.get(from..).unwrap_or_default();
        match rest.iter().position(|c| *c == 0) {
            Some(i) if i > MAX_SOCKS4_FIELD => Err(SocksError::TooLong),
            Some(i) => Ok(Some((
                String::from_utf8_lossy(rest.get(..i).unwrap_or_default()).into_owned(),
                from + i + 1,
            ))),
            None if rest.len() > MAX_SOCKS4_FIELD => Err(SocksError::TooLong),
            None => Ok(None),
        }
    };
    let Some((user, end)) = nul_field(8)? else {
        return Ok(None);
    };
    let o = ip.octets();
    let (version, target, end) = if o[0] == 0 && o[1] == 0 && o[2] == 0 && o[3] != 0 {
        let Some((host, end)) = nul_field(end)? else {
            return Ok(None);
        };
        (SocksVersion::V4a, SocksTarget::Domain(host), end)
    } else {
        (SocksVersion::V4, SocksTarget::Ipv4(ip), end)
    };
    Ok(Some((
        end,
        Box::new(move |tunnel_offset| SocksEvent::Request {
            version,
            command: SocksCommand::from(cmd),
            target,
            port,
            user: Some(user),
            tunnel_offset,
        }),
    )))
}

/// Fuzz entry: feeds `data` whole and in several chunkings to both directions, and checks that
/// every run yields the same events, offsets and errors, and that a tunnel offset never points
/// past the input.
///
/// # Panics
/// When an invariant does not hold (that is the bug the fuzzer looks for).
pub fn fuzz_socks(data: &[u8]) {
    type Run = (Vec<SocksEvent>, bool, Option<u64>, Option<SocksError>);
    fn run(dir: SocksDirection, data: &[u8], sizes: &[usize]) -> Run {
        let mut s = SocksStream::new(dir);
        let mut out = Vec::new();
        crate::chunks::feed_in_chunks(data, sizes, |c| s.feed(c, &mut out));
        assert!(s.buf.len() <= MAX_HANDSHAKE_BYTES);
        if let Some(o) = s.tunnel_offset() {
            assert!(o <= data.len() as u64);
        }
        (out, s.is_done(), s.tunnel_offset(), s.error())
    }
    let _ = looks_like_socks_request(data);
    let half = data.len() / 2 + 1;
    for dir in [SocksDirection::ToServer, SocksDirection::ToClient] {
        let whole = run(dir, data, &[usize::MAX]);
        for sizes in [&[1usize][..], &[2, 3, 5], &[7, 1, 64], &[half]] {
            assert_eq!(
                whole,
                run(dir, data, sizes),
                "chunking {sizes:?} changed the result"
            );
        }
    }
}
