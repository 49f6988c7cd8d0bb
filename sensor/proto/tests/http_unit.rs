//! HTTP/1.x unit tests on hand-written messages. Expected values follow
//! RFC 9112 framing (§6.3 message body length, §7.1 chunked coding) and
//! the field values written in the bytes.

use tapir_proto::http::{
    self, Direction, HttpError, HttpMessage, HttpRequest, HttpResponse, HttpStream,
};

fn run(dir: Direction, pending: &[&str], chunks: &[&[u8]]) -> (Vec<HttpMessage>, HttpStream) {
    let mut s = HttpStream::new(dir);
    for m in pending {
        s.expect_response_to(m);
    }
    let mut out = Vec::new();
    for c in chunks {
        s.feed(c, &mut out);
    }
    (out, s)
}

fn requests(data: &[u8]) -> Vec<HttpRequest> {
    run(Direction::ToServer, &[], &[data])
        .0
        .into_iter()
        .map(|m| match m {
            HttpMessage::Request(r) => r,
            HttpMessage::Response(_) => panic!("response on the request side"),
        })
        .collect()
}

fn statuses(pending: &[&str], data: &[u8]) -> (Vec<u16>, HttpStream) {
    let (out, s) = run(Direction::ToClient, pending, &[data]);
    let st = out
        .into_iter()
        .map(|m| match m {
            HttpMessage::Response(HttpResponse { status, .. }) => status,
            HttpMessage::Request(_) => panic!("request on the response side"),
        })
        .collect();
    (st, s)
}

const PIPELINED_REQUESTS: &[u8] = b"GET /a?x=1 HTTP/1.1\r\nHost: Example.COM.:8080\r\nUser-Agent: curl/8.0\r\nReferer: http://r.test/\r\n\r\n\
POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world\
PUT /c HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nGET /\r\nA\r\n0123456789\r\n0\r\nX-Trailer: GET / HTTP/1.1\r\n\r\n\
HEAD /d HTTP/1.0\r\n\r\n";

const RESPONSES: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 17\r\n\r\nHTTP/1.1 999 no\r\n\
HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n4\r\nHTTP\r\n0\r\n\r\n\
HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n\
HTTP/1.1 204 No Content\r\n\r\n\
HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n\
HTTP/1.1 301 Moved\r\nLocation: https://example.com/\r\n\r\nbody until close HTTP/1.1 200 OK\r\n\r\n";
const RESPONSE_METHODS: &[&str] = &["POST", "GET", "HEAD", "GET", "GET", "GET"];

#[test]
fn pipelined_requests_and_bodies() {
    let r = requests(PIPELINED_REQUESTS);
    let got: Vec<_> = r
        .iter()
        .map(|r| (r.method.as_str(), r.uri.as_str(), r.protocol.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("GET", "/a?x=1", "HTTP/1.1"),
            ("POST", "/upload", "HTTP/1.1"),
            ("PUT", "/c", "HTTP/1.1"),
            ("HEAD", "/d", "HTTP/1.0")
        ]
    );
    assert_eq!(r[0].host.as_deref(), Some("Example.COM.:8080"));
    assert_eq!(r[0].hostname.as_deref(), Some("example.com"));
    assert_eq!(r[0].port, Some(8080));
    assert_eq!(r[0].user_agent.as_deref(), Some("curl/8.0"));
    assert_eq!(r[0].referer.as_deref(), Some("http://r.test/"));
    assert_eq!(r[1].content_type.as_deref(), Some("text/plain"));
    assert_eq!(r[1].content_length, Some(11));
    assert_eq!(r[1].port, None);
    assert_eq!(r[3].host, None);
    assert_eq!(r[3].hostname, None);
}

#[test]
fn response_framing() {
    let (st, s) = statuses(RESPONSE_METHODS, RESPONSES);
    // 100 is interim; the 999 line is body (Content-Length 17); the chunk
    // "HTTP" is body; the HEAD answer's Content-Length 1000 has no body; 204
    // and 304 have no body; the 301 has no length, so the rest is body.
    assert_eq!(st, [100, 200, 200, 200, 204, 304, 301]);
    assert!(!s.is_done());
    assert_eq!(s.error(), None);
    let (out, _) = run(Direction::ToClient, RESPONSE_METHODS, &[RESPONSES]);
    match &out[6] {
        HttpMessage::Response(r) => assert_eq!(r.location.as_deref(), Some("https://example.com/")),
        other => panic!("{other:?}"),
    }
    match &out[1] {
        HttpMessage::Response(r) => {
            assert_eq!(
                (
                    r.protocol.as_str(),
                    r.content_type.as_deref(),
                    r.content_length
                ),
                ("HTTP/1.1", Some("text/html"), Some(17))
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn split_feeding_equals_whole_feeding() {
    for (dir, pending, data) in [
        (Direction::ToServer, &[][..], PIPELINED_REQUESTS),
        (Direction::ToClient, RESPONSE_METHODS, RESPONSES),
    ] {
        let (whole, ws) = run(dir, pending, &[data]);
        assert!(!whole.is_empty());
        for cut in 0..=data.len() {
            let (split, ss) = run(dir, pending, &[&data[..cut], &data[cut..]]);
            assert_eq!(split, whole, "split at {cut}");
            assert_eq!((ss.is_done(), ss.error()), (ws.is_done(), ws.error()));
        }
        let bytes: Vec<&[u8]> = data.chunks(1).collect();
        assert_eq!(run(dir, pending, &bytes).0, whole, "1-byte feeding");
        let sevens: Vec<&[u8]> = data.chunks(7).collect();
        assert_eq!(run(dir, pending, &sevens).0, whole, "7-byte feeding");
        http::fuzz_http(data);
    }
}

#[test]
fn truncation_at_every_offset() {
    for (dir, pending, data) in [
        (Direction::ToServer, &[][..], PIPELINED_REQUESTS),
        (Direction::ToClient, RESPONSE_METHODS, RESPONSES),
    ] {
        let (whole, _) = run(dir, pending, &[data]);
        for cut in 0..data.len() {
            let (part, s) = run(dir, pending, &[&data[..cut]]);
            // A prefix yields a prefix of the messages, never a wrong one.
            assert!(whole.starts_with(&part), "cut {cut}");
            assert_eq!(s.error(), None, "cut {cut}");
            http::fuzz_http(&data[..cut]);
        }
    }
}

#[test]
fn oversize_head_is_an_error() {
    let mut req = b"GET / HTTP/1.1\r\n".to_vec();
    while req.len() <= http::MAX_HEAD_LEN {
        req.extend_from_slice(b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    req.extend_from_slice(b"\r\nGET /next HTTP/1.1\r\n\r\n");
    let (out, s) = run(Direction::ToServer, &[], &[&req]);
    assert!(out.is_empty());
    assert_eq!(s.error(), Some(HttpError::HeadTooLarge));
    assert!(s.is_done());
    // Same with 1-byte feeding: the buffer never grows past the cap.
    let bytes: Vec<&[u8]> = req.chunks(1).collect();
    let (out, s) = run(Direction::ToServer, &[], &bytes);
    assert!(out.is_empty());
    assert_eq!(s.error(), Some(HttpError::HeadTooLarge));
    // A head just under the cap is fine.
    let mut ok = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
    ok.resize(http::MAX_HEAD_LEN - 4, b'a');
    ok.extend_from_slice(b"\r\n\r\n");
    assert_eq!(requests(&ok).len(), 1);
}

#[test]
fn connect_tunnel() {
    let req = b"CONNECT www.example.com:443 HTTP/1.1\r\nHost: www.example.com:443\r\n\r\n\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
    let (out, s) = run(Direction::ToServer, &[], &[req]);
    assert_eq!(out.len(), 1);
    match &out[0] {
        HttpMessage::Request(r) => {
            assert_eq!(
                (r.method.as_str(), r.uri.as_str()),
                ("CONNECT", "www.example.com:443")
            );
            assert_eq!(
                (r.hostname.as_deref(), r.port),
                (Some("www.example.com"), Some(443))
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        s.is_done(),
        "TLS after CONNECT ends HTTP on the request side"
    );
    assert_eq!(s.error(), None);
    let resp = b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03\x00\x5a\x02";
    let (st, s) = statuses(&["CONNECT"], resp);
    assert_eq!(st, [200]);
    assert!(s.is_done());
    assert_eq!(s.error(), None);
    // A refused CONNECT keeps the connection in HTTP.
    let resp = b"HTTP/1.1 407 Proxy Auth\r\nContent-Length: 2\r\n\r\nnoHTTP/1.1 200 OK\r\n\r\n";
    let (st, s) = statuses(&["CONNECT", "CONNECT"], resp);
    assert_eq!(st, [407, 200]);
    assert!(s.is_done());
    let req = b"CONNECT a:1 HTTP/1.1\r\n\r\nCONNECT a:1 HTTP/1.1\r\nProxy-Authorization: x\r\n\r\n";
    assert_eq!(requests(req).len(), 2);
}

#[test]
fn switching_protocols_ends_http() {
    let (st, s) = statuses(
        &["GET"],
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello",
    );
    assert_eq!(st, [101]);
    assert!(s.is_done());
}

#[test]
fn hostname_forms() {
    let cases: &[(&[u8], Option<&str>, Option<u16>)] = &[
        (
            b"GET http://User@WWW.Example.org:8000/x HTTP/1.1\r\nHost: other\r\n\r\n",
            Some("www.example.org"),
            Some(8000),
        ),
        (
            b"GET / HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\n",
            Some("[2001:db8::1]"),
            Some(8443),
        ),
        (
            b"GET / HTTP/1.1\r\nHost: 192.0.2.1\r\n\r\n",
            Some("192.0.2.1"),
            None,
        ),
        (b"GET / HTTP/1.1\r\nHost: h:99999\r\n\r\n", Some("h"), None),
        (
            b"GET / HTTP/1.1\r\nhOsT:   spaced.test  \r\n\r\n",
            Some("spaced.test"),
            None,
        ),
    ];
    for (req, host, port) in cases {
        let r = requests(req);
        assert_eq!(
            (r[0].hostname.as_deref(), r[0].port),
            (*host, *port),
            "{}",
            String::from_utf8_lossy(req)
        );
    }
}

#[test]
fn lf_only_lines_and_leading_crlf() {
    let r = requests(b"\r\n\r\nGET /x HTTP/1.1\nHost: a\n\nGET /y HTTP/1.1\nHost: b\n\n");
    assert_eq!(
        r.iter().map(|r| r.uri.as_str()).collect::<Vec<_>>(),
        ["/x", "/y"]
    );
}

#[test]
fn framing_errors() {
    let bad: &[(&[u8], HttpError)] = &[
        (
            b"GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            HttpError::BadContentLength,
        ),
        (
            b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            HttpError::BadContentLength,
        ),
        (
            b"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            HttpError::BadContentLength,
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            HttpError::BadTransferEncoding,
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            HttpError::BadChunk,
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffffff\r\n",
            HttpError::BadChunk,
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXX",
            HttpError::BadChunk,
        ),
        (
            b"\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03\n",
            HttpError::BadStartLine,
        ),
        (b"GET /\r\n\r\n", HttpError::BadStartLine),
    ];
    for (data, err) in bad {
        let (_, s) = run(Direction::ToServer, &[], &[data]);
        assert_eq!(s.error(), Some(*err), "{}", String::from_utf8_lossy(data));
        assert!(s.is_done());
    }
    // "5, 5" is one value (RFC 9112 §6.3 item 5).
    let r = requests(b"POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n");
    assert_eq!((r.len(), r[0].content_length), (2, Some(5)));
    // Responses: a non-chunked transfer coding reads until close.
    let (st, s) = statuses(
        &["GET"],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
    );
    assert_eq!(st, [200]);
    assert_eq!(s.error(), None);
    let (_, s) = run(Direction::ToClient, &[], &[b"SSH-2.0-OpenSSH_9.0\r\n"]);
    assert_eq!(s.error(), Some(HttpError::BadStartLine));
}

#[test]
fn chunked_trailer_limit() {
    let mut data = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n".to_vec();
    while data.len() < 2 * http::MAX_TRAILER_LEN {
        data.extend_from_slice(b"X-T: 1\r\n");
    }
    let (out, s) = run(Direction::ToServer, &[], &[&data]);
    assert_eq!(out.len(), 1);
    assert_eq!(s.error(), Some(HttpError::TrailerTooLarge));
}

#[test]
fn detection() {
    for ok in [
        &b"GET / HTTP/1.1\r\n"[..],
        b"POST /x",
        b"PROPFIND /d HTTP/1.1",
        b"OPTIONS * HTTP/1.1",
        b"M-SEARCH * HTTP/1.1",
    ] {
        assert!(
            http::looks_like_http_request(ok),
            "{}",
            String::from_utf8_lossy(ok)
        );
    }
    for bad in [
        &b"GET"[..],
        b"GETX / HTTP/1.1",
        b"get / HTTP/1.1",
        b"\x16\x03\x01",
        b"HTTP/1.1 200 OK",
        b"",
        b"SSH-2.0-x",
    ] {
        assert!(
            !http::looks_like_http_request(bad),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    assert!(http::looks_like_http_response(b"HTTP/1.1 200 OK\r\n"));
    assert!(http::looks_like_http_response(b"HTTP/1.0 404"));
    assert!(!http::looks_like_http_response(b"HTTP/2 200"));
    assert!(!http::looks_like_http_response(b"GET / HTTP/1.1"));
}

#[test]
fn random_input_invariants() {
    let mut x: u64 = 0x243f_6a88_85a3_08d3;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let alphabet = b"GET POST HTTP/1.1 200\r\n: Content-Length Transfer-Encoding chunked 0123456789abcdef;\r\n\r\n";
    for _ in 0..1500 {
        let len = (next() % 300) as usize;
        let data: Vec<u8> = (0..len)
            .map(|_| {
                let r = next();
                if r % 4 == 0 {
                    r as u8
                } else {
                    alphabet[(r >> 8) as usize % alphabet.len()]
                }
            })
            .collect();
        http::fuzz_http(&data);
        let mut prefixed = b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        prefixed.extend_from_slice(&data);
        http::fuzz_http(&prefixed);
    }
}
