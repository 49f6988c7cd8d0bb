//! App-layer messages become EVE events (dns, tls, http, quic, ssh, socks) and are matched
//! against intel.

use std::net::IpAddr;

use tapir_intel::IntelDb;
use tapir_proto::dns::DnsMessage;
use tapir_proto::http::HttpMessage;
use tapir_proto::quic::QuicEvent;
use tapir_proto::socks::{SocksCommand, SocksEvent, SocksTarget, SocksVersion};
use tapir_proto::ssh::SshEvent;
use tapir_proto::tls::{ClientHello, TlsMessage};

use crate::app::{AppLayer, AppMsg, MAX_PENDING_HTTP};
use crate::emit::{emit, emit_as};
use crate::events::{DnsBody, HttpBody, Ja3Out, MatchField, QuicBody, SshBody, TlsBody};
use crate::flow::{Dir, Flow};
use crate::matching::{alert, match_domain, socks_ip};
use crate::observe;
use crate::{PktCtx, Sink};

/// Handles one app-layer message; returns true when it opened a CONNECT tunnel.
pub(crate) fn handle_msg(
    sink: &mut Sink,
    intel: &IntelDb,
    flow: &mut Flow,
    m: &AppMsg,
    ctx: PktCtx,
) -> bool {
    match m {
        AppMsg::Dns(dir, msg) => log_dns(sink, intel, flow, *dir, msg, ctx),
        AppMsg::Tls(dir, msg) => {
            match msg {
                TlsMessage::ClientHello(ch) => {
                    let fields = [MatchField::TlsSni, MatchField::TlsJa3, MatchField::TlsJa4];
                    match_client_hello(sink, intel, flow, *dir, ctx, ch, fields);
                }
                TlsMessage::ServerHello(_) | TlsMessage::Certificate(_) => {}
            }
            if let AppLayer::Tls(s) = &mut flow.app {
                match msg {
                    TlsMessage::ClientHello(ch) => {
                        if s.info.client_hello.is_none() {
                            s.info.client_hello = Some(ch.summary());
                        }
                    }
                    TlsMessage::ServerHello(sh) => {
                        if s.info.server_hello.is_none() {
                            s.info.server_hello = Some(sh.summary());
                        }
                    }
                    TlsMessage::Certificate(c) => {
                        if s.info.leaf.is_none() {
                            s.info.leaf = c.leaf.clone();
                            s.info.chain_len = c.chain_len;
                            s.chain = c.chain.clone();
                        }
                    }
                }
            }
            if let TlsMessage::Certificate(c) = msg {
                for cert in &c.chain {
                    if let Some(ind) = intel.match_cert_sha1(&cert.fingerprint) {
                        alert(
                            sink,
                            intel,
                            flow,
                            *dir,
                            ctx,
                            ind,
                            MatchField::TlsCertSha1,
                            &cert.fingerprint,
                        );
                    }
                }
                if let Some(leaf) = &c.leaf {
                    for name in &leaf.subjectaltname {
                        match_domain(sink, intel, flow, *dir, ctx, name, MatchField::TlsSan);
                    }
                }
            }
        }
        AppMsg::Http(dir, msg) => match msg {
            HttpMessage::Request(req) => {
                if let Some(host) = &req.hostname {
                    observe::on_http_host(&sink.obs, flow, host);
                    match_domain(sink, intel, flow, *dir, ctx, host, MatchField::HttpHostname);
                    if let Some(ind) = intel.match_url(host, &req.uri) {
                        alert(
                            sink,
                            intel,
                            flow,
                            *dir,
                            ctx,
                            ind,
                            MatchField::HttpUrl,
                            &req.uri,
                        );
                    }
                }
                let overflow = if let AppLayer::Http(s) = &mut flow.app {
                    s.pending.push_back((req.clone(), ctx.ts_us));
                    if s.pending.len() > MAX_PENDING_HTTP {
                        s.pending.pop_front()
                    } else {
                        None
                    }
                } else {
                    None
                };
                if let Some((old, ts)) = overflow {
                    let body = HttpBody::new(Some(&old), None);
                    emit(
                        sink,
                        flow,
                        Dir::ToServer,
                        PktCtx {
                            ts_us: ts,
                            pcap_cnt: ctx.pcap_cnt,
                        },
                        "http",
                        &body,
                    );
                }
            }
            HttpMessage::Response(resp) => {
                let req = if let AppLayer::Http(s) = &mut flow.app {
                    s.pending.pop_front()
                } else {
                    None
                };
                let body = HttpBody::new(req.as_ref().map(|r| &r.0), Some(resp));
                emit(sink, flow, Dir::ToServer, ctx, "http", &body);
                return (200..300).contains(&resp.status)
                    && req.is_some_and(|(r, _)| r.method.eq_ignore_ascii_case("CONNECT"));
            }
        },
        AppMsg::HttpDatagram(dir, msg) => {
            let body = match msg {
                HttpMessage::Request(req) => {
                    if let Some(host) = &req.hostname {
                        match_domain(sink, intel, flow, *dir, ctx, host, MatchField::HttpHostname);
                    }
                    HttpBody::new(Some(req), None)
                }
                HttpMessage::Response(resp) => HttpBody::new(None, Some(resp)),
            };
            emit(sink, flow, *dir, ctx, "http", &body);
        }
        AppMsg::Quic(dir, ev) => {
            if let QuicEvent::ClientHello { version, hello, ua } = ev {
                let body = QuicBody {
                    version: tapir_proto::quic::version_string(*version),
                    sni: hello.sni.as_deref(),
                    ja3: Ja3Out {
                        hash: &hello.ja3_hash,
                        string: &hello.ja3_string,
                    },
                    ja4: &hello.ja4,
                    ua: ua.as_deref(),
                };
                emit(sink, flow, *dir, ctx, "quic", &body);
                observe::on_quic_hello(&mut sink.obs, flow, hello, ctx.ts_us);
                let fields = [
                    MatchField::QuicSni,
                    MatchField::QuicJa3,
                    MatchField::QuicJa4,
                ];
                match_client_hello(sink, intel, flow, *dir, ctx, hello, fields);
            }
        }
        AppMsg::Ssh(dir, ev) => {
            let d = dir.idx();
            if let SshEvent::Kexinit { hassh, .. } = ev {
                let field = if *dir == Dir::ToServer {
                    MatchField::SshHassh
                } else {
                    MatchField::SshHasshServer
                };
                if let Some(ind) = intel.match_hassh(&hassh.hash) {
                    alert(sink, intel, flow, *dir, ctx, ind, field, &hassh.hash);
                }
            }
            if let AppLayer::Ssh(s) = &mut flow.app {
                match ev {
                    SshEvent::Banner(b) => s.info.banner[d] = Some(b.clone()),
                    SshEvent::Kexinit { hassh, .. } => s.info.hassh[d] = Some(hassh.clone()),
                }
            }
            let ready = matches!(&flow.app, AppLayer::Ssh(s) if !s.info.logged && s.info.hassh[0].is_some() && s.info.hassh[1].is_some());
            if ready {
                log_ssh(sink, flow, ctx);
            }
        }
        AppMsg::Socks(dir, ev) => match ev {
            SocksEvent::Request {
                version,
                command,
                target,
                port,
                ..
            } => {
                log_socks(sink, flow, *dir, ctx, *version, *command, target, *port);
                match target {
                    SocksTarget::Domain(name) => {
                        match_domain(sink, intel, flow, *dir, ctx, name, MatchField::SocksTarget);
                    }
                    SocksTarget::Ipv4(a) => socks_ip(sink, intel, flow, *dir, ctx, IpAddr::V4(*a)),
                    SocksTarget::Ipv6(a) => socks_ip(sink, intel, flow, *dir, ctx, IpAddr::V6(*a)),
                }
            }
            // Granted: what follows is the tunnelled protocol (TLS, HTTP...).
            SocksEvent::Reply { granted: true, .. } => return true,
            _ => {}
        },
    }
    false
}

/// Intel on a ClientHello, from TLS over TCP or from a QUIC Initial: the SNI against domains,
/// JA3 and JA4 against their lists; `fields` names where each matched (sni, ja3, ja4).
fn match_client_hello(
    sink: &mut Sink,
    intel: &IntelDb,
    flow: &mut Flow,
    dir: Dir,
    ctx: PktCtx,
    hello: &ClientHello,
    fields: [MatchField; 3],
) {
    if let Some(sni) = &hello.sni {
        match_domain(sink, intel, flow, dir, ctx, sni, fields[0]);
    }
    if let Some(ind) = intel.match_ja3(&hello.ja3_hash) {
        alert(sink, intel, flow, dir, ctx, ind, fields[1], &hello.ja3_hash);
    }
    if let Some(ind) = intel.match_ja4(&hello.ja4) {
        alert(sink, intel, flow, dir, ctx, ind, fields[2], &hello.ja4);
    }
}

/// The SOCKS request as a `socks` record. EVE has no `socks` object, so the fields travel as
/// Suricata's `metadata.flowvars` key/value pairs, which the schema and SIEM parsers accept.
#[allow(clippy::too_many_arguments)] // Fields of one request, passed as parsed.
pub(crate) fn log_socks(
    sink: &mut Sink,
    flow: &Flow,
    dir: Dir,
    ctx: PktCtx,
    version: SocksVersion,
    command: SocksCommand,
    target: &SocksTarget,
    port: u16,
) {
    #[derive(serde::Serialize)]
    struct Var {
        key: &'static str,
        value: String,
    }
    #[derive(serde::Serialize)]
    struct Meta {
        flowvars: [Var; 4],
    }
    let version = match version {
        SocksVersion::V4 => "4",
        SocksVersion::V4a => "4a",
        SocksVersion::V5 => "5",
    };
    let command = match command {
        SocksCommand::Connect => "connect".to_string(),
        SocksCommand::Bind => "bind".to_string(),
        SocksCommand::UdpAssociate => "udp_associate".to_string(),
        SocksCommand::Other(n) => n.to_string(),
    };
    let target = match target {
        SocksTarget::Domain(d) => d.clone(),
        SocksTarget::Ipv4(a) => a.to_string(),
        SocksTarget::Ipv6(a) => a.to_string(),
    };
    let meta = Meta {
        flowvars: [
            Var {
                key: "socks.version",
                value: version.to_string(),
            },
            Var {
                key: "socks.command",
                value: command,
            },
            Var {
                key: "socks.target",
                value: target,
            },
            Var {
                key: "socks.port",
                value: port.to_string(),
            },
        ],
    };
    emit_as(sink, flow, dir, ctx, "socks", "metadata", &meta);
}

pub(crate) fn log_ssh(sink: &mut Sink, flow: &mut Flow, ctx: PktCtx) {
    let AppLayer::Ssh(s) = &flow.app else {
        return;
    };
    if s.info.logged || (s.info.banner[0].is_none() && s.info.banner[1].is_none()) {
        return;
    }
    let body = SshBody::new(&s.info);
    emit(sink, flow, Dir::ToServer, ctx, "ssh", &body);
    if let AppLayer::Ssh(s) = &mut flow.app {
        s.info.logged = true;
    }
}

pub(crate) fn log_dns(
    sink: &mut Sink,
    intel: &IntelDb,
    flow: &mut Flow,
    dir: Dir,
    msg: &DnsMessage,
    ctx: PktCtx,
) {
    let body = DnsBody::new(msg);
    emit(sink, flow, dir, ctx, "dns", &body);
    observe::on_dns(&mut sink.obs, flow, dir, msg, ctx.ts_us);
    for q in &msg.queries {
        match_domain(
            sink,
            intel,
            flow,
            dir,
            ctx,
            &q.rrname,
            MatchField::DnsRrname,
        );
    }
    for a in &msg.answers {
        match_domain(
            sink,
            intel,
            flow,
            dir,
            ctx,
            &a.rrname,
            MatchField::DnsRrname,
        );
    }
}

/// Logs the `tls` event once the server side of the handshake is over (or the flow ends).
pub(crate) fn maybe_log_tls(sink: &mut Sink, flow: &mut Flow, ctx: PktCtx) {
    let ready = match &flow.app {
        AppLayer::Tls(s) => {
            !s.info.logged
                && (s.info.client_hello.is_some() || s.info.server_hello.is_some())
                && s.parsers[Dir::ToClient.idx()].is_done()
        }
        _ => false,
    };
    if ready {
        log_tls(sink, flow, ctx);
    }
}

pub(crate) fn log_tls(sink: &mut Sink, flow: &mut Flow, ctx: PktCtx) {
    let AppLayer::Tls(s) = &flow.app else {
        return;
    };
    if s.info.logged || (s.info.client_hello.is_none() && s.info.server_hello.is_none()) {
        return;
    }
    let body = TlsBody::new(&s.info, &s.chain);
    emit(sink, flow, Dir::ToServer, ctx, "tls", &body);
    observe::on_tls_logged(&mut sink.obs, flow, ctx.ts_us);
    if let AppLayer::Tls(s) = &mut flow.app {
        s.info.logged = true;
    }
}
