//! Per-flow app-layer state: protocol detection by content (never by port) and the
//! per-direction parsers of the detected protocol.
//!
//! TCP: the first in-order bytes of each direction are probed (TLS record header, HTTP request
//! line or status line, DNS-over-TCP length + header). A direction whose first bytes match
//! nothing is marked tried; when both are tried the flow is `failed` and no more bytes are fed.
//! UDP: each of the first few packets is probed as DNS; once a flow is DNS every datagram is
//! parsed.

use std::collections::VecDeque;

use tapir_proto::dns::{self, DnsMessage, DnsTcpStream};
use tapir_proto::http::{self, HttpMessage, HttpRequest, HttpStream};
use tapir_proto::quic::{self, QuicEvent, QuicState};
use tapir_proto::socks::{self, SocksDirection, SocksEvent, SocksStream};
use tapir_proto::ssh::{self, Hassh, SshBanner, SshEvent, SshRole, SshStream};
use tapir_proto::tls::{self, CertInfo, ClientHello, ServerHello, TlsMessage, TlsStream};

use crate::flow::Dir;

/// A parsed app-layer message and the direction it travelled.
pub enum AppMsg {
    Tls(Dir, TlsMessage),
    Dns(Dir, DnsMessage),
    Http(Dir, HttpMessage),
    /// HTTP over UDP (SSDP): one message per datagram, no transaction pairing.
    HttpDatagram(Dir, HttpMessage),
    Quic(Dir, QuicEvent),
    Ssh(Dir, SshEvent),
    Socks(Dir, SocksEvent),
}

/// What is known of an SSH session; logged once as the `ssh` event.
#[derive(Default)]
pub struct SshInfo {
    pub banner: [Option<SshBanner>; 2],
    pub hassh: [Option<Hassh>; 2],
    pub logged: bool,
}

pub struct SshState {
    pub parsers: [SshStream; 2],
    pub info: SshInfo,
}

/// What is known of a TLS session so far; logged once as the `tls` event.
#[derive(Default)]
pub struct TlsInfo {
    pub client_hello: Option<ClientHello>,
    pub server_hello: Option<ServerHello>,
    pub leaf: Option<CertInfo>,
    pub chain_len: usize,
    pub logged: bool,
}

pub struct TlsState {
    pub parsers: [TlsStream; 2],
    pub info: TlsInfo,
    /// Every certificate of the chain (leaf first), for intel on SAN names and fingerprints.
    pub chain: Vec<CertInfo>,
}

pub struct HttpState {
    pub parsers: [HttpStream; 2],
    /// Requests waiting for their response, in order (pipelining); bounded.
    pub pending: VecDeque<(HttpRequest, u64)>,
}

/// Most requests kept waiting for a response before the oldest is logged without one.
pub const MAX_PENDING_HTTP: usize = 32;

pub enum AppLayer {
    Undetected {
        tried: [bool; 2],
        udp_probes: u8,
    },
    Tls(Box<TlsState>),
    Http(Box<HttpState>),
    DnsTcp(Box<[DnsTcpStream; 2]>),
    DnsUdp,
    Ssh(Box<SshState>),
    Socks(Box<[SocksStream; 2]>),
    /// QUIC: client Initials decrypted and their ClientHello parsed.
    Quic(Box<QuicState>),
    HttpUdp,
    /// Data was seen and nothing we parse matched.
    Failed,
}

impl Default for AppLayer {
    fn default() -> Self {
        AppLayer::Undetected {
            tried: [false; 2],
            udp_probes: 0,
        }
    }
}

impl AppLayer {
    /// EVE `app_proto`; `None` while nothing has been seen.
    pub fn name(&self) -> Option<&'static str> {
        match self {
            AppLayer::Undetected { tried, udp_probes } => {
                if tried[0] || tried[1] || *udp_probes > 0 {
                    Some("failed")
                } else {
                    None
                }
            }
            AppLayer::Tls(_) => Some("tls"),
            AppLayer::Http(_) => Some("http"),
            AppLayer::DnsTcp(_) | AppLayer::DnsUdp => Some("dns"),
            AppLayer::Ssh(_) => Some("ssh"),
            AppLayer::Socks(_) => Some("socks"),
            AppLayer::Quic(_) => Some("quic"),
            AppLayer::HttpUdp => Some("http"),
            AppLayer::Failed => Some("failed"),
        }
    }

    /// Whether bytes of this TCP direction are still of use (otherwise reassembly is skipped).
    pub fn wants_tcp(&self, dir: Dir) -> bool {
        let d = dir.idx();
        match self {
            AppLayer::Undetected { tried, .. } => !tried[d],
            AppLayer::Tls(s) => !s.parsers[d].is_done(),
            AppLayer::Http(s) => !s.parsers[d].is_done(),
            AppLayer::DnsTcp(s) => !s[d].is_done(),
            AppLayer::Ssh(s) => !s.parsers[d].is_done(),
            AppLayer::Socks(s) => !s[d].is_done(),
            AppLayer::DnsUdp | AppLayer::Quic(_) | AppLayer::HttpUdp | AppLayer::Failed => false,
        }
    }

    /// Feeds in-order stream bytes of one direction. Returns the protocol name when this
    /// direction's parser failed during this call (to be counted once).
    pub fn feed_tcp(
        &mut self,
        dir: Dir,
        data: &[u8],
        out: &mut Vec<AppMsg>,
    ) -> Option<&'static str> {
        if data.is_empty() {
            return None;
        }
        if let AppLayer::Undetected { tried, .. } = self {
            let d = dir.idx();
            if tried[d] {
                return None;
            }
            let detected = if tls::looks_like_tls(data) {
                Some(Kind::Tls)
            } else if ssh::looks_like_ssh(data) {
                Some(Kind::Ssh)
            } else if match dir {
                Dir::ToServer => http::looks_like_http_request(data),
                Dir::ToClient => http::looks_like_http_response(data),
            } {
                Some(Kind::Http)
            } else if dns::looks_like_dns_tcp(data) {
                Some(Kind::Dns)
            } else if dir == Dir::ToServer && socks::looks_like_socks_request(data) {
                Some(Kind::Socks)
            } else {
                None
            };
            match detected {
                None => {
                    tried[d] = true;
                    if tried[0] && tried[1] {
                        *self = AppLayer::Failed;
                    }
                    return None;
                }
                Some(Kind::Tls) => {
                    *self = AppLayer::Tls(Box::new(TlsState {
                        parsers: [TlsStream::new(), TlsStream::new()],
                        info: TlsInfo::default(),
                        chain: Vec::new(),
                    }))
                }
                Some(Kind::Http) => {
                    *self = AppLayer::Http(Box::new(HttpState {
                        parsers: [
                            HttpStream::new(http::Direction::ToServer),
                            HttpStream::new(http::Direction::ToClient),
                        ],
                        pending: VecDeque::new(),
                    }))
                }
                Some(Kind::Dns) => {
                    *self = AppLayer::DnsTcp(Box::new([DnsTcpStream::new(), DnsTcpStream::new()]))
                }
                Some(Kind::Ssh) => {
                    *self = AppLayer::Ssh(Box::new(SshState {
                        parsers: [
                            SshStream::new(SshRole::Client),
                            SshStream::new(SshRole::Server),
                        ],
                        info: SshInfo::default(),
                    }))
                }
                Some(Kind::Socks) => {
                    *self = AppLayer::Socks(Box::new([
                        SocksStream::new(SocksDirection::ToServer),
                        SocksStream::new(SocksDirection::ToClient),
                    ]))
                }
            }
        }
        let d = dir.idx();
        match self {
            AppLayer::Tls(s) => {
                let p = &mut s.parsers[d];
                let had_error = p.error().is_some();
                let mut msgs = Vec::new();
                p.feed(data, &mut msgs);
                out.extend(msgs.into_iter().map(|m| AppMsg::Tls(dir, m)));
                (!had_error && p.error().is_some()).then_some("tls")
            }
            AppLayer::Http(s) => {
                let had_error = s.parsers[d].error().is_some();
                let mut msgs = Vec::new();
                s.parsers[d].feed(data, &mut msgs);
                for m in msgs {
                    if let HttpMessage::Request(r) = &m {
                        s.parsers[1].expect_response_to(&r.method);
                    }
                    out.push(AppMsg::Http(dir, m));
                }
                (!had_error && s.parsers[d].error().is_some()).then_some("http")
            }
            AppLayer::DnsTcp(s) => {
                let had_error = s[d].error().is_some();
                let mut msgs = Vec::new();
                s[d].feed(data, &mut msgs);
                out.extend(msgs.into_iter().map(|m| AppMsg::Dns(dir, m)));
                (!had_error && s[d].error().is_some()).then_some("dns")
            }
            AppLayer::Ssh(s) => {
                let p = &mut s.parsers[d];
                let had_error = p.error().is_some();
                let mut msgs = Vec::new();
                p.feed(data, &mut msgs);
                out.extend(msgs.into_iter().map(|m| AppMsg::Ssh(dir, m)));
                (!had_error && p.error().is_some()).then_some("ssh")
            }
            AppLayer::Socks(s) => {
                let had_error = s[d].error().is_some();
                let mut msgs = Vec::new();
                s[d].feed(data, &mut msgs);
                out.extend(msgs.into_iter().map(|m| AppMsg::Socks(dir, m)));
                (!had_error && s[d].error().is_some()).then_some("socks")
            }
            _ => None,
        }
    }

    /// Feeds one UDP datagram. Returns `Some("dns")` when a datagram of a DNS flow failed to parse.
    pub fn feed_udp(
        &mut self,
        dir: Dir,
        payload: &[u8],
        max_probes: u8,
        out: &mut Vec<AppMsg>,
    ) -> Option<&'static str> {
        if payload.is_empty() {
            return None;
        }
        if let AppLayer::Undetected { udp_probes, .. } = self {
            if dns::looks_like_dns(payload) {
                *self = AppLayer::DnsUdp;
            } else if dir == Dir::ToServer && quic::looks_like_quic_initial(payload) {
                *self = AppLayer::Quic(Box::new(QuicState::new()));
            } else if http::parse_datagram(payload).is_some() {
                *self = AppLayer::HttpUdp;
            } else {
                *udp_probes = udp_probes.saturating_add(1);
                if *udp_probes >= max_probes {
                    *self = AppLayer::Failed;
                }
                return None;
            }
        }
        match self {
            AppLayer::DnsUdp => match dns::parse_message(payload) {
                Ok(m) => out.push(AppMsg::Dns(dir, m)),
                Err(_) => return Some("dns"),
            },
            // Only the client's Initials carry the ClientHello (the server's use other keys).
            AppLayer::Quic(q) if dir == Dir::ToServer && !q.is_done() => {
                let mut ev = Vec::new();
                q.on_datagram(payload, &mut ev);
                out.extend(ev.into_iter().map(|e| AppMsg::Quic(dir, e)));
            }
            AppLayer::HttpUdp => match http::parse_datagram(payload) {
                Some(m) => out.push(AppMsg::HttpDatagram(dir, m)),
                None => return Some("http"),
            },
            _ => {}
        }
        None
    }
}

enum Kind {
    Tls,
    Http,
    Dns,
    Ssh,
    Socks,
}
