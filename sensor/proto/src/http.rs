//! HTTP/1.x message heads (RFC 9112) from reassembled, in-order TCP bytes.
//!
//! One [`HttpStream`] per direction. It finds each request or response head
//! (start line and header fields), reports it as an [`HttpMessage`], then
//! skips the body using the message framing rules of RFC 9112 §6.3:
//! - `Transfer-Encoding` whose final coding is `chunked` (chunk sizes,
//!   extensions and trailer fields, §7.1) wins over `Content-Length`;
//! - otherwise `Content-Length` (all copies must agree, §6.3 item 5);
//! - responses to `HEAD`, `1xx`, `204` and `304` have no body; a `1xx`
//!   (except `101`) is followed by the final response to the same request;
//! - a response with neither length runs until the connection closes;
//! - `2xx` to `CONNECT` and `101 Switching Protocols` end HTTP on the
//!   stream ([`HttpStream::is_done`]); the bytes that follow belong to the
//!   tunnelled protocol. The request side ends after a `CONNECT` as soon as
//!   the next bytes do not start a new request.
//!
//! Requests are paired with responses through
//! [`HttpStream::expect_response_to`], which the caller invokes on the
//! to-client parser once per request, in order (pipelining keeps order,
//! RFC 9112 §9.3.2).
//!
//! Field values are kept as sent (bytes that are not UTF-8 are replaced by
//! U+FFFD); `hostname` is normalised as Suricata's `http.hostname` (from
//! libhtp): taken from an absolute-form or authority-form target when
//! present, else from `Host`; userinfo and port removed, lower-cased,
//! trailing dots removed.
//!
//! # Limits (hostile input)
//! - A head (start line + fields) is buffered up to [`MAX_HEAD_LEN`]; a
//!   longer one is an error and the stream stops. Nothing else is buffered:
//!   bodies, chunk framing and trailers are scanned byte-wise without copies.
//! - A chunk-size line is at most [`MAX_CHUNK_LINE_LEN`] bytes, a trailer
//!   section at most [`MAX_TRAILER_LEN`]; sizes that overflow `u64` are errors.
//! - At most [`MAX_PENDING_REQUESTS`] request methods wait for responses.
//! - HTTP/0.9 simple requests (no version) are not supported: a start line
//!   without a version is an error.
//!
//! No function here panics on any input; output is identical however the
//! input is split into `feed` calls.

use std::collections::VecDeque;

/// Longest request/response head buffered (start line + fields + CRLF).
pub const MAX_HEAD_LEN: usize = 16 * 1024;
/// Longest chunk-size line including chunk extensions.
pub const MAX_CHUNK_LINE_LEN: usize = 1024;
/// Longest trailer section after the last chunk.
pub const MAX_TRAILER_LEN: usize = 16 * 1024;
/// Requests remembered for pairing with responses; beyond it the oldest
/// kinds are not tracked (responses are then framed as answers to GET).
pub const MAX_PENDING_REQUESTS: usize = 1024;
/// Longest method token accepted in a request line.
const MAX_METHOD_LEN: usize = 32;

/// Methods recognised by [`looks_like_http_request`]: RFC 9110 §9, PATCH
/// (RFC 5789), WebDAV (RFC 4918, 3253, 3648, 4791, 5323) and the SSDP
/// methods of UPnP (HTTP over UDP). The parser itself accepts any token.
const METHODS: &[&[u8]] = &[
    b"GET",
    b"POST",
    b"HEAD",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"CONNECT",
    b"TRACE",
    b"PATCH",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"SEARCH",
    b"REPORT",
    b"MKACTIVITY",
    b"CHECKOUT",
    b"MERGE",
    b"MKCALENDAR",
    b"ORDERPATCH",
    b"ACL",
    b"M-SEARCH",
    b"NOTIFY",
];

/// Which side of the connection the bytes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client to server: requests.
    ToServer,
    /// Server to client: responses.
    ToClient,
}

/// Why a stream stopped. Context is static; the error is `Copy`.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpError {
    /// No end of head within [`MAX_HEAD_LEN`] bytes.
    HeadTooLarge,
    /// The start line is not an HTTP/1.x request (or response) line.
    BadStartLine,
    /// `Content-Length` not a number, too large, or copies disagree.
    BadContentLength,
    /// A request whose `Transfer-Encoding` does not end with `chunked`.
    BadTransferEncoding,
    /// Malformed chunk-size line or missing CRLF after chunk data.
    BadChunk,
    /// Trailer section longer than [`MAX_TRAILER_LEN`].
    TrailerTooLarge,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HttpError::HeadTooLarge => "http head exceeds the size limit",
            HttpError::BadStartLine => "http start line malformed",
            HttpError::BadContentLength => "http content-length invalid",
            HttpError::BadTransferEncoding => "http request transfer-encoding not chunked",
            HttpError::BadChunk => "http chunk framing malformed",
            HttpError::TrailerTooLarge => "http trailer section exceeds the size limit",
        })
    }
}

impl std::error::Error for HttpError {}

/// A request or response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpMessage {
    /// Request head.
    Request(HttpRequest),
    /// Response head.
    Response(HttpResponse),
}

/// Fields of a request head.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpRequest {
    /// Method token as sent.
    pub method: String,
    /// Request target as sent.
    pub uri: String,
    /// Version token, e.g. `HTTP/1.1`.
    pub protocol: String,
    /// Raw `Host` header value (first one).
    pub host: Option<String>,
    /// Host name without port, as Suricata's `http.hostname` (module docs).
    pub hostname: Option<String>,
    /// Port given explicitly in the target authority or `Host`.
    pub port: Option<u16>,
    /// `User-Agent` value.
    pub user_agent: Option<String>,
    /// `Content-Type` value.
    pub content_type: Option<String>,
    /// `Referer` value.
    pub referer: Option<String>,
    /// `Content-Length` value.
    pub content_length: Option<u64>,
}

/// Fields of a response head.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpResponse {
    /// Version token, e.g. `HTTP/1.1`.
    pub protocol: String,
    /// Status code.
    pub status: u16,
    /// `Content-Type` value.
    pub content_type: Option<String>,
    /// `Location` value.
    pub location: Option<String>,
    /// `Content-Length` value.
    pub content_length: Option<u64>,
}

/// True when `first` starts with a known method token and a space.
pub fn looks_like_http_request(first: &[u8]) -> bool {
    METHODS
        .iter()
        .any(|m| first.len() > m.len() && first.starts_with(m) && first.get(m.len()) == Some(&b' '))
}

/// True when `first` starts with `HTTP/1.`.
pub fn looks_like_http_response(first: &[u8]) -> bool {
    first.starts_with(b"HTTP/1.")
}

/// HTTP over UDP (SSDP `M-SEARCH` / `NOTIFY` requests and their `HTTP/1.1 200` responses,
/// UPnP Device Architecture §1; usually UDP port 1900): the message head at the start of one
/// datagram, parsed like a TCP head. A datagram whose fields end without the final empty line is
/// accepted when it ends with a complete field line. `None` when the payload does not start
/// with a request or status line, or the head is incomplete or malformed. A body, if any, is
/// ignored.
pub fn parse_datagram(payload: &[u8]) -> Option<HttpMessage> {
    let dir = if looks_like_http_response(payload) {
        Direction::ToClient
    } else if looks_like_http_request(payload) {
        Direction::ToServer
    } else {
        return None;
    };
    let mut s = HttpStream::new(dir);
    let mut out = Vec::new();
    s.feed(payload, &mut out);
    if out.is_empty() && s.error().is_none() && payload.ends_with(b"\n") {
        s.feed(b"\r\n", &mut out);
    }
    out.into_iter().next()
}

/// What a pending request means for its response's framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Other,
    Head,
    Connect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Body {
        remaining: u64,
    },
    ChunkSize {
        value: u64,
        digits: u32,
        ext: bool,
        line: usize,
    },
    ChunkData {
        remaining: u64,
    },
    ChunkEnd {
        seen_cr: bool,
    },
    Trailer {
        line: usize,
        cr: bool,
        total: usize,
    },
    UntilClose,
    Tunnel,
    Failed,
}

/// Incremental parser for one direction of an HTTP/1.x connection.
#[derive(Debug)]
pub struct HttpStream {
    dir: Direction,
    state: State,
    head: Vec<u8>,
    /// Bytes of the current head line received so far (without the LF).
    line_len: usize,
    /// Whether the start line has been checked already.
    start_checked: bool,
    /// Request side: last request was CONNECT.
    after_connect: bool,
    pending: VecDeque<Pending>,
    error: Option<HttpError>,
}

impl HttpStream {
    /// A parser at the start of one direction.
    pub fn new(dir: Direction) -> Self {
        HttpStream {
            dir,
            state: State::Head,
            head: Vec::new(),
            line_len: 0,
            start_checked: false,
            after_connect: false,
            pending: VecDeque::new(),
            error: None,
        }
    }

    /// Tells the to-client parser that a request with `method` was sent; call
    /// once per request in order. Ignored on the to-server parser.
    pub fn expect_response_to(&mut self, method: &str) {
        if self.dir == Direction::ToClient && self.pending.len() < MAX_PENDING_REQUESTS {
            self.pending
                .push_back(if method.eq_ignore_ascii_case("HEAD") {
                    Pending::Head
                } else if method.eq_ignore_ascii_case("CONNECT") {
                    Pending::Connect
                } else {
                    Pending::Other
                });
        }
    }

    /// True when HTTP parsing has ended: an error, or the stream became a
    /// tunnel (CONNECT answered 2xx, 101 Switching Protocols).
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Tunnel | State::Failed)
    }

    /// The error that stopped the stream, if any.
    pub fn error(&self) -> Option<HttpError> {
        self.error
    }

    /// Feeds in-order stream bytes; completed heads are pushed to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<HttpMessage>) {
        let mut data = data;
        while !data.is_empty() {
            let used = match self.state {
                State::Tunnel | State::Failed => return,
                State::UntilClose => data.len(),
                State::Head => self.feed_head(data, out),
                State::Body { remaining } => {
                    let n = clamp(remaining, data.len());
                    let left = remaining - n as u64;
                    self.state = if left == 0 {
                        State::Head
                    } else {
                        State::Body { remaining: left }
                    };
                    n
                }
                State::ChunkData { remaining } => {
                    let n = clamp(remaining, data.len());
                    let left = remaining - n as u64;
                    self.state = if left == 0 {
                        State::ChunkEnd { seen_cr: false }
                    } else {
                        State::ChunkData { remaining: left }
                    };
                    n
                }
                State::ChunkSize { .. } | State::ChunkEnd { .. } | State::Trailer { .. } => {
                    self.feed_chunk_framing(data)
                }
            };
            data = data.get(used..).unwrap_or_default();
        }
    }

    fn fail(&mut self, e: HttpError) {
        self.error = Some(e);
        self.state = State::Failed;
        self.head = Vec::new();
    }

    /// Chunk-size lines, the CRLF after chunk data and the trailer section,
    /// byte by byte (they are short). Returns the bytes used.
    fn feed_chunk_framing(&mut self, data: &[u8]) -> usize {
        for (i, &b) in data.iter().enumerate() {
            match self.state {
                State::ChunkSize {
                    value,
                    digits,
                    ext,
                    line,
                } => {
                    if line >= MAX_CHUNK_LINE_LEN {
                        self.fail(HttpError::BadChunk);
                        return data.len();
                    }
                    if b == b'\n' {
                        self.state = match (digits, value) {
                            (0, _) => {
                                self.fail(HttpError::BadChunk);
                                return data.len();
                            }
                            (_, 0) => State::Trailer {
                                line: 0,
                                cr: false,
                                total: 0,
                            },
                            (_, v) => State::ChunkData { remaining: v },
                        };
                        return i + 1;
                    }
                    let hex = char::from(b).to_digit(16);
                    let (value, digits, ext) = match hex {
                        Some(d) if !ext => match value
                            .checked_mul(16)
                            .and_then(|v| v.checked_add(u64::from(d)))
                        {
                            Some(v) => (v, digits + 1, false),
                            None => {
                                self.fail(HttpError::BadChunk);
                                return data.len();
                            }
                        },
                        // The size must come first; then extensions, BWS, CR.
                        _ if digits == 0 => {
                            self.fail(HttpError::BadChunk);
                            return data.len();
                        }
                        _ => (value, digits, true),
                    };
                    self.state = State::ChunkSize {
                        value,
                        digits,
                        ext,
                        line: line + 1,
                    };
                }
                State::ChunkEnd { seen_cr } => match b {
                    b'\r' if !seen_cr => self.state = State::ChunkEnd { seen_cr: true },
                    b'\n' => {
                        self.state = State::ChunkSize {
                            value: 0,
                            digits: 0,
                            ext: false,
                            line: 0,
                        };
                        return i + 1;
                    }
                    _ => {
                        self.fail(HttpError::BadChunk);
                        return data.len();
                    }
                },
                State::Trailer { line, cr, total } => {
                    if total >= MAX_TRAILER_LEN {
                        self.fail(HttpError::TrailerTooLarge);
                        return data.len();
                    }
                    if b == b'\n' {
                        if line == 0 || (line == 1 && cr) {
                            self.state = State::Head;
                            return i + 1;
                        }
                        self.state = State::Trailer {
                            line: 0,
                            cr: false,
                            total: total + 1,
                        };
                    } else {
                        self.state = State::Trailer {
                            line: line + 1,
                            cr: b == b'\r',
                            total: total + 1,
                        };
                    }
                }
                _ => return i,
            }
        }
        data.len()
    }

    /// Accumulates a head; returns the bytes used.
    fn feed_head(&mut self, data: &[u8], out: &mut Vec<HttpMessage>) -> usize {
        let mut used = 0;
        if self.head.is_empty() {
            // RFC 9112 §2.2: ignore empty lines before the start line.
            used = data
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
            if self.after_connect && data.get(used).is_some_and(|b| !b.is_ascii_uppercase()) {
                // The bytes after CONNECT are not another request: tunnel.
                self.state = State::Tunnel;
                return data.len();
            }
        }
        while let Some(rest) = data.get(used..).filter(|r| !r.is_empty()) {
            let (seg_len, has_lf) = match rest.iter().position(|&b| b == b'\n') {
                Some(p) => (p + 1, true),
                None => (rest.len(), false),
            };
            if self.head.len() + seg_len > MAX_HEAD_LEN {
                self.fail(HttpError::HeadTooLarge);
                return data.len();
            }
            self.head
                .extend_from_slice(rest.get(..seg_len).unwrap_or_default());
            used += seg_len;
            if !has_lf {
                self.line_len += seg_len;
                break;
            }
            let content = self.line_len + seg_len - 1;
            self.line_len = 0;
            let before_lf = self
                .head
                .len()
                .checked_sub(2)
                .and_then(|i| self.head.get(i))
                .copied();
            let empty = content == 0 || (content == 1 && before_lf == Some(b'\r'));
            if !self.start_checked {
                self.start_checked = true;
                if !self.start_line_ok() {
                    if self.after_connect {
                        self.state = State::Tunnel;
                    } else {
                        self.fail(HttpError::BadStartLine);
                    }
                    return data.len();
                }
            } else if empty {
                self.finish_head(out);
                return used;
            }
        }
        used
    }

    fn start_line_ok(&self) -> bool {
        let line = first_line(&self.head);
        match self.dir {
            Direction::ToServer => split_request_line(line).is_some(),
            Direction::ToClient => split_status_line(line).is_some(),
        }
    }

    fn finish_head(&mut self, out: &mut Vec<HttpMessage>) {
        let head = std::mem::take(&mut self.head);
        self.start_checked = false;
        let result = match self.dir {
            Direction::ToServer => self.finish_request(&head, out),
            Direction::ToClient => self.finish_response(&head, out),
        };
        // Keep the allocation for the next head.
        self.head = head;
        self.head.clear();
        if let Err(e) = result {
            self.fail(e);
        }
    }

    fn finish_request(&mut self, head: &[u8], out: &mut Vec<HttpMessage>) -> Result<(), HttpError> {
        let (method, uri, protocol) =
            split_request_line(first_line(head)).ok_or(HttpError::BadStartLine)?;
        let f = Fields::parse(head)?;
        let authority = target_authority(method, uri);
        let (hostname, port) = match authority.or(f.host) {
            Some(a) => split_authority(a),
            None => (None, None),
        };
        let is_connect = method.eq_ignore_ascii_case(b"CONNECT");
        out.push(HttpMessage::Request(HttpRequest {
            method: text(method),
            uri: text(uri),
            protocol: text(protocol),
            host: f.host.map(text),
            hostname,
            port,
            user_agent: f.user_agent.map(text),
            content_type: f.content_type.map(text),
            referer: f.referer.map(text),
            content_length: f.content_length,
        }));
        self.after_connect = is_connect;
        self.state = match (f.chunked, f.transfer_encoding, f.content_length) {
            (true, _, _) => State::ChunkSize {
                value: 0,
                digits: 0,
                ext: false,
                line: 0,
            },
            // RFC 9112 §6.3 item 4: a request body length cannot be known.
            (false, true, _) => return Err(HttpError::BadTransferEncoding),
            (false, false, Some(n)) if n > 0 => State::Body { remaining: n },
            _ => State::Head,
        };
        Ok(())
    }

    fn finish_response(
        &mut self,
        head: &[u8],
        out: &mut Vec<HttpMessage>,
    ) -> Result<(), HttpError> {
        let (protocol, status) =
            split_status_line(first_line(head)).ok_or(HttpError::BadStartLine)?;
        let f = Fields::parse(head)?;
        out.push(HttpMessage::Response(HttpResponse {
            protocol: text(protocol),
            status,
            content_type: f.content_type.map(text),
            location: f.location.map(text),
            content_length: f.content_length,
        }));
        if (100..200).contains(&status) && status != 101 {
            // Interim response: the final one for the same request follows.
            self.state = State::Head;
            return Ok(());
        }
        let pending = self.pending.pop_front().unwrap_or(Pending::Other);
        self.state =
            if status == 101 || (pending == Pending::Connect && (200..300).contains(&status)) {
                State::Tunnel
            } else if pending == Pending::Head || status == 204 || status == 304 {
                State::Head
            } else if f.chunked {
                State::ChunkSize {
                    value: 0,
                    digits: 0,
                    ext: false,
                    line: 0,
                }
            } else if f.transfer_encoding {
                State::UntilClose
            } else {
                match f.content_length {
                    Some(0) => State::Head,
                    Some(n) => State::Body { remaining: n },
                    None => State::UntilClose,
                }
            };
        Ok(())
    }
}

/// Fuzz entry: no input panics; output and final state do not depend on how
/// the input is split, in either direction.
pub fn fuzz_http(data: &[u8]) {
    let _ = parse_datagram(data);
    for dir in [Direction::ToServer, Direction::ToClient] {
        let run = |chunks: &mut dyn Iterator<Item = &[u8]>| {
            let mut s = HttpStream::new(dir);
            s.expect_response_to("GET");
            s.expect_response_to("HEAD");
            s.expect_response_to("CONNECT");
            let mut out = Vec::new();
            for c in chunks {
                s.feed(c, &mut out);
            }
            (out, s.is_done(), s.error())
        };
        let whole = run(&mut std::iter::once(data));
        let bytes = run(&mut data.chunks(1));
        let mid = data.len() / 2;
        let halves = run(&mut [
            data.get(..mid).unwrap_or_default(),
            data.get(mid..).unwrap_or_default(),
        ]
        .into_iter());
        assert_eq!(whole, bytes, "1-byte feeding differs from whole feeding");
        assert_eq!(whole, halves, "split feeding differs from whole feeding");
    }
}

fn clamp(remaining: u64, avail: usize) -> usize {
    usize::try_from(remaining).map_or(avail, |r| r.min(avail))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn trim(mut b: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r'] = b {
        b = rest;
    }
    b
}

fn first_line(head: &[u8]) -> &[u8] {
    let end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    trim(head.get(..end).unwrap_or_default())
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `method SP target SP HTTP/x.y`; a target containing spaces (broken
/// clients) is kept whole: the version is the last token.
fn split_request_line(line: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let sp = line.iter().position(|&b| b == b' ')?;
    let method = line.get(..sp)?;
    if method.is_empty() || method.len() > MAX_METHOD_LEN || !method.iter().all(|&b| is_tchar(b)) {
        return None;
    }
    let rest = trim(line.get(sp + 1..)?);
    let last_sp = rest.iter().rposition(|&b| b == b' ')?;
    let uri = trim(rest.get(..last_sp)?);
    let protocol = rest.get(last_sp + 1..)?;
    if uri.is_empty() || !protocol.starts_with(b"HTTP/") {
        return None;
    }
    Some((method, uri, protocol))
}

/// `HTTP/x.y SP 3DIGIT [SP reason]`.
fn split_status_line(line: &[u8]) -> Option<(&[u8], u16)> {
    if !line.starts_with(b"HTTP/") {
        return None;
    }
    let sp = line.iter().position(|&b| b == b' ')?;
    let protocol = line.get(..sp)?;
    let rest = trim(line.get(sp + 1..)?);
    let code = rest.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) || rest.get(3).is_some_and(|&b| b != b' ') {
        return None;
    }
    let status = code
        .iter()
        .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
    Some((protocol, status))
}

/// The header fields this parser reports or needs for framing.
#[derive(Default)]
struct Fields<'a> {
    host: Option<&'a [u8]>,
    user_agent: Option<&'a [u8]>,
    content_type: Option<&'a [u8]>,
    referer: Option<&'a [u8]>,
    location: Option<&'a [u8]>,
    content_length: Option<u64>,
    transfer_encoding: bool,
    chunked: bool,
}

impl<'a> Fields<'a> {
    fn parse(head: &'a [u8]) -> Result<Self, HttpError> {
        let mut f = Fields::default();
        // Skip the start line; obs-fold continuation lines (RFC 9112 §5.2)
        // are ignored, which keeps the first line of a folded value.
        for line in head.split(|&b| b == b'\n').skip(1) {
            if matches!(line.first(), Some(b' ' | b'\t')) {
                continue;
            }
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let name = trim(line.get(..colon).unwrap_or_default());
            let value = trim(line.get(colon + 1..).unwrap_or_default());
            let slot = match name {
                n if n.eq_ignore_ascii_case(b"host") => &mut f.host,
                n if n.eq_ignore_ascii_case(b"user-agent") => &mut f.user_agent,
                n if n.eq_ignore_ascii_case(b"content-type") => &mut f.content_type,
                n if n.eq_ignore_ascii_case(b"referer") => &mut f.referer,
                n if n.eq_ignore_ascii_case(b"location") => &mut f.location,
                n if n.eq_ignore_ascii_case(b"content-length") => {
                    // "5, 5" is accepted; differing values are an error
                    // (request smuggling, RFC 9112 §6.3 item 5).
                    for part in value.split(|&b| b == b',').map(trim) {
                        let n = parse_decimal(part).ok_or(HttpError::BadContentLength)?;
                        if f.content_length.is_some_and(|old| old != n) {
                            return Err(HttpError::BadContentLength);
                        }
                        f.content_length = Some(n);
                    }
                    continue;
                }
                n if n.eq_ignore_ascii_case(b"transfer-encoding") => {
                    f.transfer_encoding = true;
                    // Only the final coding counts; a later field line
                    // overrides an earlier one.
                    let last = value
                        .rsplit(|&b| b == b',')
                        .next()
                        .map(trim)
                        .unwrap_or_default();
                    f.chunked = last.eq_ignore_ascii_case(b"chunked");
                    continue;
                }
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(value);
            }
        }
        Ok(f)
    }
}

fn parse_decimal(b: &[u8]) -> Option<u64> {
    if b.is_empty() {
        return None;
    }
    b.iter().try_fold(0u64, |acc, &d| {
        if d.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        } else {
            None
        }
    })
}

/// Authority of an absolute-form target (`http://host:port/path`) or the
/// authority-form target of CONNECT (RFC 9112 §3.2.2, §3.2.3).
fn target_authority<'a>(method: &[u8], uri: &'a [u8]) -> Option<&'a [u8]> {
    if method.eq_ignore_ascii_case(b"CONNECT") {
        return Some(uri);
    }
    let sep = uri.windows(3).position(|w| w == b"://")?;
    let scheme = uri.get(..sep)?;
    if scheme.is_empty()
        || !scheme
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b))
    {
        return None;
    }
    let rest = uri.get(sep + 3..)?;
    let end = rest
        .iter()
        .position(|b| b"/?#".contains(b))
        .unwrap_or(rest.len());
    rest.get(..end)
}

/// Splits `[userinfo@]host[:port]` into a normalised host name and port.
fn split_authority(a: &[u8]) -> (Option<String>, Option<u16>) {
    let a = trim(a);
    let a = match a.iter().rposition(|&b| b == b'@') {
        Some(at) => a.get(at + 1..).unwrap_or_default(),
        None => a,
    };
    // An IPv6 literal keeps its brackets; the port follows the ']'.
    let host_end = if a.first() == Some(&b'[') {
        a.iter().position(|&b| b == b']').map_or(a.len(), |p| p + 1)
    } else {
        a.iter().position(|&b| b == b':').unwrap_or(a.len())
    };
    let host = a.get(..host_end).unwrap_or_default();
    let port = a
        .get(host_end..)
        .and_then(|p| p.strip_prefix(b":"))
        .and_then(parse_decimal)
        .and_then(|p| u16::try_from(p).ok());
    let mut host = text(host).to_ascii_lowercase();
    while host.ends_with('.') {
        host.pop();
    }
    ((!host.is_empty()).then_some(host), port)
}
