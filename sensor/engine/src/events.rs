//! EVE event bodies (`dns`, `tls`, `http`, `flow`, `alert`) with Suricata's field names.

use std::borrow::Cow;

use serde::Serialize;
use tapir_intel::{Indicator, IndicatorKind};
use tapir_proto::dns::{self, DnsAnswer, DnsMessage};
use tapir_proto::http::{HttpRequest, HttpResponse};
use tapir_proto::tls;

use crate::app::TlsInfo;

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Serialize)]
pub struct DnsQueryOut<'a> {
    pub rrname: &'a str,
    pub rrtype: Cow<'static, str>,
}

#[derive(Serialize)]
pub struct DnsAnswerOut<'a> {
    pub rrname: &'a str,
    pub rrtype: Cow<'static, str>,
    pub ttl: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rdata: Option<&'a str>,
}

/// Suricata 8's `dns` v3 record: one per DNS message, `type` request or response.
#[derive(Serialize)]
pub struct DnsBody<'a> {
    pub version: u8,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: u16,
    pub flags: String,
    #[serde(skip_serializing_if = "is_false")]
    pub qr: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub aa: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tc: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub rd: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub ra: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub z: bool,
    pub opcode: u8,
    pub rcode: Cow<'static, str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<DnsQueryOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<DnsAnswerOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorities: Vec<DnsAnswerOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub additionals: Vec<DnsAnswerOut<'a>>,
}

fn answers(list: &[DnsAnswer]) -> Vec<DnsAnswerOut<'_>> {
    list.iter()
        .map(|a| DnsAnswerOut {
            rrname: &a.rrname,
            rrtype: dns::rrtype_name(a.rrtype),
            ttl: a.ttl,
            rdata: a.rdata.as_deref(),
        })
        .collect()
}

impl<'a> DnsBody<'a> {
    pub fn new(m: &'a DnsMessage) -> Self {
        DnsBody {
            version: 3,
            kind: if m.qr { "response" } else { "request" },
            id: m.id,
            flags: format!("{:x}", m.flags),
            qr: m.qr,
            aa: m.aa,
            tc: m.tc,
            rd: m.rd,
            ra: m.ra,
            z: m.z,
            opcode: m.opcode,
            rcode: dns::rcode_name(m.rcode),
            queries: m
                .queries
                .iter()
                .map(|q| DnsQueryOut {
                    rrname: &q.rrname,
                    rrtype: dns::rrtype_name(q.rrtype),
                })
                .collect(),
            answers: answers(&m.answers),
            authorities: answers(&m.authorities),
            additionals: answers(&m.additionals),
        }
    }
}

#[derive(Serialize)]
pub struct Ja3Out<'a> {
    pub hash: &'a str,
    pub string: &'a str,
}

/// Suricata's `tls` record.
#[derive(Serialize, Default)]
pub struct TlsBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuerdn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<&'a str>,
    pub version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notbefore: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notafter: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subjectaltname: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja3: Option<Ja3Out<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja3s: Option<Ja3Out<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja4: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_alpns: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_alpns: Option<[&'a str; 1]>,
    /// The server's certificate chain, leaf first, each certificate base64 DER (Suricata's
    /// `tls.chain`); decode with `base64 -d | openssl x509 -inform der -text`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<Vec<String>>,
}

impl<'a> TlsBody<'a> {
    pub fn new(i: &'a TlsInfo, chain: &'a [tapir_proto::tls::CertInfo]) -> Self {
        let version = match (&i.server_hello, &i.client_hello) {
            (Some(sh), _) => tls::version_name(sh.version()),
            (None, Some(ch)) => tls::version_name(ch.version()),
            (None, None) => "UNDETERMINED",
        };
        let mut b = TlsBody {
            version,
            ..TlsBody::default()
        };
        if let Some(ch) = &i.client_hello {
            b.sni = ch.sni.as_deref();
            b.ja3 = Some(Ja3Out {
                hash: &ch.ja3_hash,
                string: &ch.ja3_string,
            });
            b.ja4 = Some(&ch.ja4);
            b.client_alpns = (!ch.alpns.is_empty()).then_some(ch.alpns.as_slice());
        }
        if let Some(sh) = &i.server_hello {
            b.ja3s = Some(Ja3Out {
                hash: &sh.ja3s_hash,
                string: &sh.ja3s_string,
            });
            b.server_alpns = sh.alpn.as_deref().map(|a| [a]);
        }
        if let Some(c) = &i.leaf {
            b.subject = Some(&c.subject);
            b.issuerdn = Some(&c.issuerdn);
            b.serial = Some(&c.serial);
            b.fingerprint = Some(&c.fingerprint);
            b.notbefore = Some(&c.notbefore);
            b.notafter = Some(&c.notafter);
            b.subjectaltname =
                (!c.subjectaltname.is_empty()).then_some(c.subjectaltname.as_slice());
        }
        if !chain.is_empty() {
            use base64::Engine as _;
            b.chain = Some(
                chain
                    .iter()
                    .map(|c| base64::engine::general_purpose::STANDARD.encode(&c.der))
                    .collect(),
            );
        }
        b
    }
}

/// Suricata's `http` record: one per transaction (request and, when seen, its response).
#[derive(Serialize, Default)]
pub struct HttpBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_user_agent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_content_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_refer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_method: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
}

impl<'a> HttpBody<'a> {
    pub fn new(req: Option<&'a HttpRequest>, resp: Option<&'a HttpResponse>) -> Self {
        let mut b = HttpBody::default();
        if let Some(r) = req {
            b.hostname = r.hostname.as_deref();
            b.http_port = r.port;
            b.url = Some(&r.uri);
            b.http_user_agent = r.user_agent.as_deref();
            b.http_refer = r.referer.as_deref();
            b.http_method = Some(&r.method);
            b.protocol = Some(&r.protocol);
        }
        if let Some(r) = resp {
            b.status = Some(r.status);
            b.redirect = r.location.as_deref();
            b.http_content_type = r.content_type.as_deref();
            b.length = r.content_length;
            if b.protocol.is_none() {
                b.protocol = Some(&r.protocol);
            }
        } else if let Some(r) = req {
            b.http_content_type = r.content_type.as_deref();
        }
        b
    }
}

/// Suricata's `flow` record.
#[derive(Serialize)]
pub struct FlowBody {
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    pub start: String,
    pub end: String,
    pub age: u64,
    pub state: &'static str,
    pub reason: &'static str,
    pub alerted: bool,
}

/// Suricata's `tcp` record on flow events.
#[derive(Serialize)]
pub struct TcpBody {
    pub tcp_flags: String,
    pub tcp_flags_ts: String,
    pub tcp_flags_tc: String,
    #[serde(skip_serializing_if = "is_false")]
    pub syn: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub fin: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub rst: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub psh: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub ack: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub urg: bool,
    pub state: &'static str,
}

/// Where an indicator matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchField {
    SrcIp,
    DestIp,
    DnsRrname,
    TlsSni,
    HttpHostname,
    TlsJa3,
    TlsJa4,
    TlsSan,
    TlsCertSha1,
    HttpUrl,
    DestIpPort,
    QuicSni,
    QuicJa4,
    QuicJa3,
    SshHassh,
    SshHasshServer,
    SocksTarget,
}

impl MatchField {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchField::SrcIp => "src_ip",
            MatchField::DestIp => "dest_ip",
            MatchField::DnsRrname => "dns.rrname",
            MatchField::TlsSni => "tls.sni",
            MatchField::HttpHostname => "http.hostname",
            MatchField::TlsJa3 => "tls.ja3.hash",
            MatchField::TlsJa4 => "tls.ja4",
            MatchField::TlsSan => "tls.subjectaltname",
            MatchField::TlsCertSha1 => "tls.fingerprint",
            MatchField::HttpUrl => "http.url",
            MatchField::DestIpPort => "dest_ip:dest_port",
            MatchField::QuicSni => "quic.sni",
            MatchField::QuicJa4 => "quic.ja4",
            MatchField::QuicJa3 => "quic.ja3.hash",
            MatchField::SshHassh => "ssh.client.hassh.hash",
            MatchField::SshHasshServer => "ssh.server.hassh.hash",
            MatchField::SocksTarget => "socks.target",
        }
    }

    /// Signature ids in a range of our own (Suricata leaves 1000000-1999999 to local rules).
    pub fn signature_id(self) -> u64 {
        match self {
            MatchField::SrcIp | MatchField::DestIp => 1_610_001,
            MatchField::DnsRrname => 1_610_002,
            MatchField::TlsSni => 1_610_003,
            MatchField::HttpHostname => 1_610_004,
            MatchField::TlsJa3 => 1_610_005,
            MatchField::TlsJa4 => 1_610_006,
            MatchField::TlsSan => 1_610_007,
            MatchField::TlsCertSha1 => 1_610_008,
            MatchField::HttpUrl => 1_610_009,
            MatchField::DestIpPort => 1_610_010,
            MatchField::QuicSni => 1_610_011,
            MatchField::QuicJa4 => 1_610_012,
            MatchField::QuicJa3 => 1_610_013,
            MatchField::SshHassh | MatchField::SshHasshServer => 1_610_014,
            MatchField::SocksTarget => 1_610_015,
        }
    }
}

#[derive(Serialize)]
pub struct IndicatorOut<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: &'a str,
    pub source: &'a str,
    pub line: u32,
    pub matched_field: &'static str,
    pub matched_value: &'a str,
}

#[derive(Serialize)]
pub struct PatternOut<'a> {
    pub id: u32,
    pub name: &'a str,
    pub source: &'a str,
    pub line: u32,
    /// Offset just past the match, from the start of the stream direction (or datagram).
    pub offset: u64,
    pub direction: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(untagged)]
pub enum AlertContext<'a> {
    Indicator { indicator: IndicatorOut<'a> },
    Pattern { pattern: PatternOut<'a> },
}

#[derive(Serialize, Default)]
pub struct AlertMetadata<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indicator_type: Option<[&'static str; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_field: Option<[&'static str; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mitre_technique_id: Option<&'a [String]>,
}

/// Suricata's `alert` record for an intel match or a payload pattern.
#[derive(Serialize)]
pub struct AlertBody<'a> {
    pub action: &'static str,
    pub gid: u32,
    pub signature_id: u64,
    pub rev: u32,
    pub signature: String,
    pub category: &'static str,
    pub severity: u8,
    pub metadata: AlertMetadata<'a>,
    pub context: AlertContext<'a>,
}

/// Signature ids of patterns without an `id=` of their own: 1 620 000 + their index.
const PATTERN_SID_BASE: u64 = 1_620_000;

impl<'a> AlertBody<'a> {
    /// An alert for a payload pattern hit.
    pub fn pattern(
        def: &'a tapir_patterns::PatternDef,
        index: u32,
        offset: u64,
        toserver: bool,
    ) -> Self {
        AlertBody {
            action: "allowed",
            gid: 1,
            signature_id: if def.id != 0 {
                u64::from(def.id)
            } else {
                PATTERN_SID_BASE + u64::from(index)
            },
            rev: 1,
            signature: format!("TAPIR PATTERN {}", def.name),
            category: "Payload Pattern Match",
            severity: def.severity,
            metadata: AlertMetadata {
                mitre_technique_id: (!def.mitre.is_empty()).then_some(def.mitre.as_slice()),
                ..AlertMetadata::default()
            },
            context: AlertContext::Pattern {
                pattern: PatternOut {
                    id: def.id,
                    name: &def.name,
                    source: &def.file,
                    line: def.line,
                    offset,
                    direction: if toserver { "to_server" } else { "to_client" },
                    reference: def.reference.as_deref(),
                },
            },
        }
    }

    pub fn intel(ind: &'a Indicator, field: MatchField, matched: &'a str) -> Self {
        let kind = ind.type_name();
        let what = match ind.kind {
            IndicatorKind::Ip => "IP",
            IndicatorKind::Domain => "domain",
            IndicatorKind::Ja3 => "JA3",
            IndicatorKind::Ja4 => "JA4",
        };
        let what = match kind {
            "url" => "URL",
            "cert_sha1" => "certificate",
            "ip_port" => "IP:port",
            "hassh" => "HASSH",
            "cidr" => "CIDR",
            _ => what,
        };
        AlertBody {
            action: "allowed",
            gid: 1,
            signature_id: field.signature_id(),
            rev: 1,
            signature: format!(
                "TAPIR INTEL {what} {} in {} ({}:{})",
                ind.value,
                field.as_str(),
                ind.source,
                ind.line
            ),
            category: "Threat Intelligence Indicator Match",
            severity: 2,
            metadata: AlertMetadata {
                indicator_type: Some([kind]),
                matched_field: Some([field.as_str()]),
                mitre_technique_id: None,
            },
            context: AlertContext::Indicator {
                indicator: IndicatorOut {
                    kind,
                    value: &ind.value,
                    source: &ind.source,
                    line: ind.line,
                    matched_field: field.as_str(),
                    matched_value: matched,
                },
            },
        }
    }
}

/// Suricata's `quic` record (the client's Initial ClientHello).
#[derive(Serialize)]
pub struct QuicBody<'a> {
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<&'a str>,
    pub ja3: Ja3Out<'a>,
    pub ja4: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ua: Option<&'a str>,
}

#[derive(Serialize)]
pub struct HasshOut<'a> {
    pub hash: &'a str,
    pub string: &'a str,
}

#[derive(Serialize, Default)]
pub struct SshSide<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proto_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hassh: Option<HasshOut<'a>>,
}

/// Suricata's `ssh` record.
#[derive(Serialize)]
pub struct SshBody<'a> {
    pub client: SshSide<'a>,
    pub server: SshSide<'a>,
}

impl<'a> SshBody<'a> {
    pub fn new(i: &'a crate::app::SshInfo) -> Self {
        let side = |d: usize| SshSide {
            proto_version: i.banner[d].as_ref().map(|b| b.proto_version.as_str()),
            software_version: i.banner[d].as_ref().map(|b| b.software_version.as_str()),
            hassh: i.hassh[d].as_ref().map(|h| HasshOut {
                hash: &h.hash,
                string: &h.string,
            }),
        };
        SshBody {
            client: side(0),
            server: side(1),
        }
    }
}

/// `alert.metadata` of a behaviour alert: the detector and its ATT&CK tags, as lists like
/// Suricata's rule metadata.
#[derive(Serialize)]
pub struct BehaviourMetadata<'a> {
    pub tapir_detector: [&'static str; 1],
    pub mitre_technique_id: &'a [&'static str],
    pub mitre_tactic_id: &'a [&'static str],
}

/// Suricata's `alert` record for a behaviour detector's finding. `context` holds `detector`,
/// `score` (when the detector has one), `flow_ids` and the finding's own numbers.
#[derive(Serialize)]
pub struct BehaviourAlertBody<'a> {
    pub action: &'static str,
    pub gid: u32,
    pub signature_id: u64,
    pub rev: u32,
    pub signature: &'a str,
    pub category: &'static str,
    pub severity: u8,
    pub metadata: BehaviourMetadata<'a>,
    pub context: serde_json::Map<String, serde_json::Value>,
}

impl<'a> BehaviourAlertBody<'a> {
    pub fn new(f: &'a tapir_detect::Finding) -> Self {
        let mut context = serde_json::Map::new();
        // The finding's own numbers first, so the three keys consumers rely on always carry
        // their meaning even if a detector used one of their names.
        for (k, v) in &f.context {
            context.insert(k.clone(), v.clone());
        }
        context.insert("detector".into(), f.detector.into());
        match f.score.and_then(serde_json::Number::from_f64) {
            Some(s) => context.insert("score".into(), serde_json::Value::Number(s)),
            None => context.remove("score"),
        };
        context.insert("flow_ids".into(), f.flow_ids.clone().into());
        BehaviourAlertBody {
            action: "allowed",
            gid: 1,
            signature_id: f.signature_id,
            rev: 1,
            signature: &f.signature,
            category: f.category,
            severity: f.severity,
            metadata: BehaviourMetadata {
                tapir_detector: [f.detector],
                mitre_technique_id: &f.mitre_technique_id,
                mitre_tactic_id: &f.mitre_tactic_id,
            },
            context,
        }
    }
}
