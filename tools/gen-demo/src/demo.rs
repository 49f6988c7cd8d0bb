//! The demo capture: a short, scripted morning on a small office network.
//!
//! Internal hosts are in 10.0.0.0/8 and fd00::/8. Every external address is a documentation
//! range (RFC 5737: 192.0.2.0/24 benign, 198.51.100.0/24 and 203.0.113.0/24 "bad";
//! RFC 3849: 2001:db8::/32) and every name is under example.com/.net/.org (RFC 2606) or the
//! reserved .test / .example TLDs, so nothing in it points at a real host.
//!
//! What is in it, in time order, is listed in [`crate::DEMO_CONTENTS`].

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::dns::{self, Rdata, Rr};
use crate::session::{Dir, TcpConn, Trace};
use crate::tls::{self, ClientHello};
use crate::wire::{Header, L2, L4};

const MAC_GATEWAY: [u8; 6] = [0x02, 0x00, 0x0a, 0x00, 0x00, 0x01];
const MAC_RESOLVER: [u8; 6] = [0x02, 0x00, 0x0a, 0x00, 0x00, 0x02];
const MAC_BROWSER: [u8; 6] = [0x02, 0x00, 0x0a, 0x00, 0x00, 0x0a];
const MAC_INFECTED: [u8; 6] = [0x02, 0x00, 0x0a, 0x00, 0x00, 0x17];
const MAC_VLAN_HOST: [u8; 6] = [0x02, 0x00, 0x0a, 0x00, 0x00, 0x1e];
/// 802.1Q VLAN of the tagged flow.
pub const DEMO_VLAN: u16 = 100;

const fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}
#[allow(clippy::too_many_arguments)]
const fn v6(a: u16, b: u16, c: u16, d: u16, e: u16, f: u16, g: u16, h: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h))
}

pub const BROWSER: IpAddr = v4(10, 0, 0, 10);
pub const BROWSER6: IpAddr = v6(0xfd00, 0, 0, 0, 0, 0, 0, 0x10);
pub const INFECTED: IpAddr = v4(10, 0, 0, 23);
pub const INFECTED6: IpAddr = v6(0xfd00, 0, 0, 0, 0, 0, 0, 0x23);
pub const VLAN_HOST: IpAddr = v4(10, 0, 0, 30);
pub const RESOLVER: IpAddr = v4(10, 0, 0, 2);
pub const RESOLVER6: IpAddr = v6(0xfd00, 0, 0, 0, 0, 0, 0, 0x2);
/// www.example.com (benign).
pub const WWW: IpAddr = v4(192, 0, 2, 80);
/// www.example.org over IPv6 (benign).
pub const WWW6: IpAddr = v6(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x443);
/// api.example.net (benign).
pub const API: IpAddr = v4(192, 0, 2, 81);
pub const NTP: IpAddr = v4(192, 0, 2, 123);
pub const PING: IpAddr = v4(192, 0, 2, 1);
/// c2.badcdn.example (bad, listed in rules/intel/ips.txt).
pub const C2: IpAddr = v4(203, 0, 113, 66);
/// c2.badcdn.example AAAA (bad, listed in rules/intel/ips.txt).
pub const C2_V6: IpAddr = v6(0x2001, 0xdb8, 0, 0, 0, 0, 0xbad, 0xc2);
/// update.evil-updates.test (bad via the 198.51.100.0/24 CIDR).
pub const UPDATE: IpAddr = v4(198, 51, 100, 23);

const LAN_BROWSER: L2 = L2 {
    src: MAC_BROWSER,
    dst: MAC_GATEWAY,
    vlan: None,
};
const LAN_INFECTED: L2 = L2 {
    src: MAC_INFECTED,
    dst: MAC_GATEWAY,
    vlan: None,
};

/// Gap between scripted exchanges.
const STEP_US: u64 = 150_000;
/// Round trip to the local resolver and to "the internet".
const LAN_RTT_US: u64 = 600;
const WAN_RTT_US: u64 = 24_000;

const UA_FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
/// An outdated IE6 string on a Windows 10 host: a classic beacon tell.
pub const UA_BEACON: &str = "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)";

/// The self-signed certificate served by c2.badcdn.example (see data/README.md).
pub const DEMO_CERT_DER: &[u8] = include_bytes!("../data/demo-cert.der");

/// Browser-like cipher suites: GREASE first, as Chromium does (RFC 8701).
pub const BROWSER_CIPHERS: [u16; 16] = [
    0x2a2a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014,
    0x009c, 0x009d, 0x002f, 0x0035,
];
/// Malware-like client: four suites, no GREASE, no ALPN. Its JA3/JA4 are in rules/intel/.
pub const MALWARE_CIPHERS: [u16; 4] = [0x1301, 0xc02b, 0xc02f, 0x0035];
const BROWSER_SIGALGS: [u16; 8] = [
    0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
];

fn browser_hello(sni: &str, seed: u8) -> Vec<u8> {
    let key = tls::filler32(seed.wrapping_add(2));
    ClientHello {
        random: tls::filler32(seed),
        session_id: &tls::filler32(seed.wrapping_add(1)),
        cipher_suites: &BROWSER_CIPHERS,
        extensions: vec![
            (0x0a0a, vec![]),
            (tls::EXT_SERVER_NAME, tls::ext_server_name(sni)),
            (tls::EXT_EXTENDED_MASTER_SECRET, vec![]),
            (tls::EXT_RENEGOTIATION_INFO, vec![0]),
            (
                tls::EXT_SUPPORTED_GROUPS,
                tls::ext_u16_list(&[
                    0x4a4a,
                    tls::GROUP_X25519,
                    tls::GROUP_SECP256R1,
                    tls::GROUP_SECP384R1,
                ]),
            ),
            (tls::EXT_EC_POINT_FORMATS, tls::ext_u8_list(&[0])),
            (tls::EXT_SESSION_TICKET, vec![]),
            (tls::EXT_ALPN, tls::ext_alpn(&["h2", "http/1.1"])),
            (
                tls::EXT_SIGNATURE_ALGORITHMS,
                tls::ext_u16_list(&BROWSER_SIGALGS),
            ),
            (
                tls::EXT_SUPPORTED_VERSIONS,
                tls::ext_client_versions(&[0x7a7a, 0x0304, 0x0303]),
            ),
            (
                tls::EXT_KEY_SHARE,
                tls::ext_client_key_share(&[(0x4a4a, &[0]), (tls::GROUP_X25519, &key)]),
            ),
            (tls::EXT_PSK_KEY_EXCHANGE_MODES, tls::ext_u8_list(&[1])),
            (0x3a3a, vec![0]),
        ],
    }
    .to_record()
}

/// The malware-like ClientHello (record included). Public so tests can fingerprint it.
pub fn malware_hello() -> Vec<u8> {
    let key = tls::filler32(0x92);
    ClientHello {
        random: tls::filler32(0x90),
        session_id: &[],
        cipher_suites: &MALWARE_CIPHERS,
        extensions: vec![
            (
                tls::EXT_SERVER_NAME,
                tls::ext_server_name("c2.badcdn.example"),
            ),
            (tls::EXT_EC_POINT_FORMATS, tls::ext_u8_list(&[0])),
            (
                tls::EXT_SUPPORTED_GROUPS,
                tls::ext_u16_list(&[tls::GROUP_X25519, tls::GROUP_SECP256R1]),
            ),
            (tls::EXT_EXTENDED_MASTER_SECRET, vec![]),
            (
                tls::EXT_SIGNATURE_ALGORITHMS,
                tls::ext_u16_list(&[0x0403, 0x0804, 0x0401]),
            ),
            (
                tls::EXT_SUPPORTED_VERSIONS,
                tls::ext_client_versions(&[0x0304, 0x0303]),
            ),
            (tls::EXT_PSK_KEY_EXCHANGE_MODES, tls::ext_u8_list(&[1])),
            (
                tls::EXT_KEY_SHARE,
                tls::ext_client_key_share(&[(tls::GROUP_X25519, &key)]),
            ),
        ],
    }
    .to_record()
}

/// One UDP request and its reply.
#[allow(clippy::too_many_arguments)]
fn udp_exchange<W: Write>(
    tr: &mut Trace<W>,
    l2: L2,
    client: (IpAddr, u16),
    server: (IpAddr, u16),
    rtt_us: u64,
    request: &[u8],
    reply: &[u8],
) -> io::Result<()> {
    let up = Header {
        l2,
        src: client.0,
        dst: server.0,
        ttl: 64,
        ip_id: 0,
        l4: L4::Udp {
            sport: client.1,
            dport: server.1,
        },
    };
    tr.emit(&up, request)?;
    tr.tick(rtt_us);
    let down = Header {
        l2: l2.reversed(),
        src: server.0,
        dst: client.0,
        ttl: 64,
        ip_id: 0,
        l4: L4::Udp {
            sport: server.1,
            dport: client.1,
        },
    };
    tr.emit(&down, reply)?;
    tr.tick(STEP_US);
    Ok(())
}

/// A DNS lookup from `client` to the LAN resolver (IPv4 or IPv6 by `client`'s family).
#[allow(clippy::too_many_arguments)]
fn dns_udp<W: Write>(
    tr: &mut Trace<W>,
    client_l2_src: [u8; 6],
    client: (IpAddr, u16),
    id: u16,
    qname: &str,
    qtype: u16,
    rcode: u8,
    answers: &[Rr<'_>],
    authority: &[Rr<'_>],
) -> io::Result<()> {
    let resolver = if client.0.is_ipv6() {
        RESOLVER6
    } else {
        RESOLVER
    };
    let l2 = L2 {
        src: client_l2_src,
        dst: MAC_RESOLVER,
        vlan: None,
    };
    let q = dns::query(id, qname, qtype);
    let r = dns::response(id, qname, qtype, rcode, answers, authority);
    udp_exchange(tr, l2, client, (resolver, 53), LAN_RTT_US, &q, &r)
}

fn octets4(ip: IpAddr) -> [u8; 4] {
    match ip {
        IpAddr::V4(a) => a.octets(),
        IpAddr::V6(_) => [0; 4],
    }
}
fn octets16(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// HTML filler of exactly `len` bytes.
fn html_body(title: &str, len: usize) -> Vec<u8> {
    let mut b =
        format!("<!doctype html>\n<html><head><title>{title}</title></head><body>\n").into_bytes();
    let para = b"<p>Tapir demo page. This text only pads the body to a realistic size.</p>\n";
    while b.len() + para.len() + 15 < len {
        b.extend_from_slice(para);
    }
    b.extend_from_slice(b"</body></html>\n");
    b.resize(len.max(b.len()), b' ');
    b
}

fn http_response(status: &str, ctype: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nDate: Thu, 15 Jan 2026 09:00:01 GMT\r\nServer: nginx\r\n\
         Content-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// The TLS 1.3 flight of a browser session: split ClientHello, ServerHello + CCS + the
/// encrypted rest of the server flight, client CCS + Finished, then one request/response.
fn tls13_session<W: Write>(
    tr: &mut Trace<W>,
    conn: &mut TcpConn,
    sni: &str,
    seed: u8,
    split_hello: bool,
) -> io::Result<()> {
    conn.handshake(tr)?;
    let hello = browser_hello(sni, seed);
    if split_hello {
        // Cut inside the extensions block so that neither segment holds a whole
        // ClientHello: a parser must reassemble the record.
        let (a, b) = hello.split_at(hello.len().min(180));
        conn.send(tr, Dir::Up, a)?;
        conn.send(tr, Dir::Up, b)?;
        conn.ack(tr, Dir::Down)?;
    } else {
        conn.send_acked(tr, Dir::Up, &hello)?;
    }
    let sh = tls::server_hello(
        &tls::filler32(seed.wrapping_add(10)),
        &tls::filler32(seed.wrapping_add(1)),
        0x1301,
        &[
            (
                tls::EXT_SUPPORTED_VERSIONS,
                0x0304u16.to_be_bytes().to_vec(),
            ),
            (
                tls::EXT_KEY_SHARE,
                tls::ext_server_key_share(tls::GROUP_X25519, &tls::filler32(seed.wrapping_add(11))),
            ),
        ],
    );
    let mut flight = tls::records(tls::CT_HANDSHAKE, 0x0303, &sh);
    flight.extend(tls::change_cipher_spec());
    // EncryptedExtensions, Certificate, CertificateVerify, Finished: opaque in TLS 1.3.
    flight.extend(tls::opaque_records(
        tls::CT_APPLICATION_DATA,
        2_870,
        seed.wrapping_add(12),
    ));
    conn.send(tr, Dir::Down, &flight)?;
    let mut fin = tls::change_cipher_spec();
    fin.extend(tls::opaque_records(
        tls::CT_APPLICATION_DATA,
        53,
        seed.wrapping_add(13),
    ));
    fin.extend(tls::opaque_records(
        tls::CT_APPLICATION_DATA,
        412,
        seed.wrapping_add(14),
    ));
    conn.send(tr, Dir::Up, &fin)?;
    let resp = tls::opaque_records(tls::CT_APPLICATION_DATA, 5_210, seed.wrapping_add(15));
    conn.send_acked(tr, Dir::Down, &resp)?;
    tr.tick(STEP_US);
    conn.close(tr)
}

/// The TLS 1.2 session to c2.badcdn.example with the real certificate in the clear.
fn tls12_c2_session<W: Write>(tr: &mut Trace<W>, conn: &mut TcpConn) -> io::Result<()> {
    conn.handshake(tr)?;
    conn.send_acked(tr, Dir::Up, &malware_hello())?;
    let sh = tls::server_hello(
        &tls::filler32(0xa0),
        &tls::filler32(0xa1),
        0xc02b,
        &[
            (tls::EXT_RENEGOTIATION_INFO, vec![0]),
            (tls::EXT_EC_POINT_FORMATS, tls::ext_u8_list(&[0])),
            (tls::EXT_EXTENDED_MASTER_SECRET, vec![]),
        ],
    );
    let mut flight = tls::records(tls::CT_HANDSHAKE, 0x0303, &sh);
    // Certificate, ServerKeyExchange and ServerHelloDone share one record, as OpenSSL sends.
    let mut rest = tls::certificate_tls12(&[DEMO_CERT_DER]);
    rest.extend(tls::server_key_exchange_ecdhe(
        tls::GROUP_X25519,
        &tls::filler32(0xa2),
        0x0403,
    ));
    rest.extend(tls::server_hello_done());
    flight.extend(tls::records(tls::CT_HANDSHAKE, 0x0303, &rest));
    conn.send(tr, Dir::Down, &flight)?;
    let mut cfin = tls::records(
        tls::CT_HANDSHAKE,
        0x0303,
        &tls::client_key_exchange_ecdhe(&tls::filler32(0xa3)),
    );
    cfin.extend(tls::change_cipher_spec());
    // Finished is encrypted from here on: a handshake record with opaque content.
    cfin.extend(tls::opaque_records(tls::CT_HANDSHAKE, 40, 0xa4));
    conn.send(tr, Dir::Up, &cfin)?;
    let mut sfin = tls::change_cipher_spec();
    sfin.extend(tls::opaque_records(tls::CT_HANDSHAKE, 40, 0xa5));
    conn.send(tr, Dir::Down, &sfin)?;
    conn.send(
        tr,
        Dir::Up,
        &tls::opaque_records(tls::CT_APPLICATION_DATA, 184, 0xa6),
    )?;
    conn.send_acked(
        tr,
        Dir::Down,
        &tls::opaque_records(tls::CT_APPLICATION_DATA, 932, 0xa7),
    )?;
    tr.tick(STEP_US);
    conn.send(
        tr,
        Dir::Up,
        &tls::opaque_records(tls::CT_APPLICATION_DATA, 184, 0xa8),
    )?;
    conn.send_acked(
        tr,
        Dir::Down,
        &tls::opaque_records(tls::CT_APPLICATION_DATA, 61, 0xa9),
    )?;
    conn.close(tr)
}

/// POST with a chunked reply whose segments arrive out of order and one retransmitted.
fn http_post_chunked<W: Write>(tr: &mut Trace<W>, conn: &mut TcpConn) -> io::Result<()> {
    conn.handshake(tr)?;
    let body =
        br#"{"device":"ws-0010","events":[{"kind":"login","ok":true},{"kind":"sync","files":12}]}"#;
    let mut req = format!(
        "POST /v1/telemetry HTTP/1.1\r\nHost: api.example.net\r\nUser-Agent: {UA_FIREFOX}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    conn.send_acked(tr, Dir::Up, &req)?;

    let mut resp = b"HTTP/1.1 200 OK\r\nDate: Thu, 15 Jan 2026 09:00:02 GMT\r\n\
Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        .to_vec();
    let record = br#"{"id":1234,"status":"accepted","note":"chunked demo"},"#;
    for chunk_records in [24usize, 20, 16] {
        let mut data = b"[".to_vec();
        for _ in 0..chunk_records {
            data.extend_from_slice(record);
        }
        data.extend_from_slice(b"{}]\n");
        resp.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
        resp.extend_from_slice(&data);
        resp.extend_from_slice(b"\r\n");
    }
    resp.extend_from_slice(b"0\r\n\r\n");

    // Three segments: #2 arrives just before #1 (reordered on the path), then #3 is sent
    // twice (retransmission).
    let mss = conn.mss;
    let (s1, rest) = resp.split_at(mss.min(resp.len()));
    let (s2, s3) = rest.split_at(mss.min(rest.len()));
    let base = conn.nxt[1];
    let cack = conn.nxt[0];
    let flags = crate::wire::ACK;
    let psh = crate::wire::ACK | crate::wire::PSH;
    let off2 = base.wrapping_add(s1.len() as u32);
    let off3 = off2.wrapping_add(s2.len() as u32);
    conn.raw(tr, Dir::Down, off2, cack, flags, &[], s2)?;
    conn.raw(tr, Dir::Down, base, cack, flags, &[], s1)?;
    conn.raw(tr, Dir::Up, cack, off3, flags, &[], &[])?;
    conn.raw(tr, Dir::Down, off3, cack, psh, &[], s3)?;
    // The ACK for #3 is "lost": the server retransmits it after its RTO.
    tr.tick(200_000);
    conn.raw(tr, Dir::Down, off3, cack, psh, &[], s3)?;
    conn.advance(Dir::Down, resp.len());
    conn.ack(tr, Dir::Up)?;
    conn.close(tr)
}

/// Writes the whole demo scenario to `out`. Returns the finished trace's counters.
pub fn write<W: Write>(out: W, start_us: u64) -> io::Result<(W, u64, u64, u64)> {
    let mut tr = Trace::new(out, start_us)?;

    // Background: ping the gateway-side host and an NTP (RFC 5905) client/server pair.
    for seq in 1..=2u16 {
        let l4 = |reply| L4::Echo {
            reply,
            ident: 0x4d2,
            seq,
        };
        let payload = tls::filler(0x30 + seq as u8, 48);
        let up = Header {
            l2: LAN_BROWSER,
            src: BROWSER,
            dst: PING,
            ttl: 64,
            ip_id: 0,
            l4: l4(false),
        };
        tr.emit(&up, &payload)?;
        tr.tick(8_000);
        let down = Header {
            l2: LAN_BROWSER.reversed(),
            src: PING,
            dst: BROWSER,
            ttl: 58,
            ip_id: 0,
            l4: l4(true),
        };
        tr.emit(&down, &payload)?;
        tr.tick(1_000_000 - 8_000);
    }
    // NTP timestamps are seconds since 1900 (RFC 5905 §6): unix + 2_208_988_800. The client
    // sends at T0 + 2 s; the server receives at +12 ms and answers 100 us later.
    let mut ntp_req = [0u8; 48];
    ntp_req[0] = 0x23; // LI 0, version 4, mode 3 (client)
    ntp_req[40..48].copy_from_slice(&[0xed, 0x13, 0x2b, 0x12, 0, 0, 0, 0]);
    let mut ntp_resp = [0u8; 48];
    ntp_resp[0] = 0x24; // mode 4 (server)
    ntp_resp[1] = 2; // stratum
    ntp_resp[2] = 6; // poll
    ntp_resp[3] = 0xe9; // precision -23
    ntp_resp[12..16].copy_from_slice(&[192, 0, 2, 1]); // reference id: its upstream
    ntp_resp[16..24].copy_from_slice(&[0xed, 0x13, 0x2a, 0xd0, 0, 0, 0, 0]); // T0 - 64 s
    ntp_resp[24..32].copy_from_slice(&ntp_req[40..48]); // origin = client's transmit
    ntp_resp[32..40].copy_from_slice(&[0xed, 0x13, 0x2b, 0x12, 0x03, 0x12, 0x6e, 0x97]);
    ntp_resp[40..48].copy_from_slice(&[0xed, 0x13, 0x2b, 0x12, 0x03, 0x18, 0xfc, 0x50]);
    udp_exchange(
        &mut tr,
        LAN_BROWSER,
        (BROWSER, 123),
        (NTP, 123),
        WAN_RTT_US,
        &ntp_req,
        &ntp_resp,
    )?;

    // Browser resolves www.example.com through a CNAME chain, then fetches two pipelined
    // resources over HTTP/1.1.
    dns_udp(
        &mut tr,
        MAC_BROWSER,
        (BROWSER, 41_001),
        0x1a01,
        "www.example.com",
        dns::TYPE_A,
        0,
        &[
            Rr {
                name: "www.example.com",
                ttl: 300,
                data: Rdata::Cname("www.example.com.cdn.example.net"),
            },
            Rr {
                name: "www.example.com.cdn.example.net",
                ttl: 60,
                data: Rdata::Cname("edge-7.cdn.example.net"),
            },
            Rr {
                name: "edge-7.cdn.example.net",
                ttl: 20,
                data: Rdata::A(octets4(WWW)),
            },
        ],
        &[],
    )?;
    let mut conn = TcpConn::new(
        LAN_BROWSER,
        (BROWSER, 50_112),
        (WWW, 80),
        [0x1b2c_3d4e, 0x9a00_0001],
        WAN_RTT_US,
    );
    conn.handshake(&mut tr)?;
    let reqs = format!(
        "GET / HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: {UA_FIREFOX}\r\n\
         Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
         Accept-Language: en-US,en;q=0.5\r\nConnection: keep-alive\r\n\r\n\
         GET /favicon.ico HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: {UA_FIREFOX}\r\n\
         Accept: image/avif,image/webp,*/*\r\nConnection: keep-alive\r\n\r\n"
    );
    conn.send_acked(&mut tr, Dir::Up, reqs.as_bytes())?;
    let mut resps = http_response(
        "200 OK",
        "text/html; charset=UTF-8",
        &html_body("Example Domain", 3_100),
    );
    resps.extend(http_response(
        "404 Not Found",
        "text/html",
        &html_body("404 Not Found", 162),
    ));
    conn.send_acked(&mut tr, Dir::Down, &resps)?;
    tr.tick(STEP_US);
    conn.close(&mut tr)?;
    tr.tick(STEP_US);

    // Then the same site over TLS 1.3, the ClientHello split across two segments.
    let mut conn = TcpConn::new(
        LAN_BROWSER,
        (BROWSER, 50_114),
        (WWW, 443),
        [0x2b3c_4d5e, 0x9b00_0001],
        WAN_RTT_US,
    );
    tls13_session(&mut tr, &mut conn, "www.example.com", 0x10, true)?;
    tr.tick(STEP_US);

    // Mail-related lookups: MX, TXT (SPF), NS.
    let mx = [
        Rr {
            name: "example.com",
            ttl: 3600,
            data: Rdata::Mx(10, "mail.example.com"),
        },
        Rr {
            name: "example.com",
            ttl: 3600,
            data: Rdata::Mx(20, "mail2.example.com"),
        },
    ];
    dns_udp(
        &mut tr,
        MAC_BROWSER,
        (BROWSER, 41_002),
        0x1a02,
        "example.com",
        dns::TYPE_MX,
        0,
        &mx,
        &[],
    )?;
    let txt = [Rr {
        name: "example.com",
        ttl: 3600,
        data: Rdata::Txt("v=spf1 ip4:192.0.2.0/24 -all"),
    }];
    dns_udp(
        &mut tr,
        MAC_BROWSER,
        (BROWSER, 41_003),
        0x1a03,
        "example.com",
        dns::TYPE_TXT,
        0,
        &txt,
        &[],
    )?;
    let ns = [
        Rr {
            name: "example.com",
            ttl: 86_400,
            data: Rdata::Ns("ns1.example.com"),
        },
        Rr {
            name: "example.com",
            ttl: 86_400,
            data: Rdata::Ns("ns2.example.net"),
        },
    ];
    dns_udp(
        &mut tr,
        MAC_BROWSER,
        (BROWSER, 41_004),
        0x1a04,
        "example.com",
        dns::TYPE_NS,
        0,
        &ns,
        &[],
    )?;

    // IPv6: AAAA over IPv6 to the resolver, then a TLS 1.3 session to an IPv6 server.
    dns_udp(
        &mut tr,
        MAC_BROWSER,
        (BROWSER6, 41_005),
        0x1a05,
        "www.example.org",
        dns::TYPE_AAAA,
        0,
        &[Rr {
            name: "www.example.org",
            ttl: 300,
            data: Rdata::Aaaa(octets16(WWW6)),
        }],
        &[],
    )?;
    let mut conn = TcpConn::new(
        LAN_BROWSER,
        (BROWSER6, 50_116),
        (WWW6, 443),
        [0x3c4d_5e6f, 0x9c00_0001],
        WAN_RTT_US,
    );
    tls13_session(&mut tr, &mut conn, "www.example.org", 0x40, false)?;
    tr.tick(STEP_US);

    // An API call: POST, chunked reply with reordering and a retransmission.
    dns_udp(
        &mut tr,
        MAC_BROWSER,
        (BROWSER, 41_006),
        0x1a06,
        "api.example.net",
        dns::TYPE_A,
        0,
        &[Rr {
            name: "api.example.net",
            ttl: 60,
            data: Rdata::A(octets4(API)),
        }],
        &[],
    )?;
    let mut conn = TcpConn::new(
        LAN_BROWSER,
        (BROWSER, 50_118),
        (API, 80),
        [0x4d5e_6f70, 0x9d00_0001],
        WAN_RTT_US,
    );
    http_post_chunked(&mut tr, &mut conn)?;
    tr.tick(STEP_US);

    // A typo: NXDOMAIN with the zone's SOA in the authority section (RFC 2308).
    dns_udp(
        &mut tr,
        MAC_BROWSER,
        (BROWSER, 41_007),
        0x1a07,
        "wwww.example.com",
        dns::TYPE_A,
        dns::RCODE_NXDOMAIN,
        &[],
        &[Rr {
            name: "example.com",
            ttl: 3600,
            data: Rdata::Soa("ns1.example.com", "hostmaster.example.com", 2_026_011_501),
        }],
    )?;

    // A host on VLAN 100 fetches robots.txt; every frame carries an 802.1Q tag.
    let vlan_l2 = L2 {
        src: MAC_VLAN_HOST,
        dst: MAC_GATEWAY,
        vlan: Some(DEMO_VLAN),
    };
    let mut conn = TcpConn::new(
        vlan_l2,
        (VLAN_HOST, 50_120),
        (WWW, 80),
        [0x5e6f_7081, 0x9e00_0001],
        WAN_RTT_US,
    );
    conn.handshake(&mut tr)?;
    conn.send_acked(
        &mut tr,
        Dir::Up,
        b"GET /robots.txt HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
    )?;
    conn.send_acked(
        &mut tr,
        Dir::Down,
        &http_response("200 OK", "text/plain", b"User-agent: *\nDisallow:\n"),
    )?;
    conn.close(&mut tr)?;
    tr.tick(STEP_US);

    // The infected host: resolve the C2, talk TLS 1.2 to it with a telling ClientHello.
    dns_udp(
        &mut tr,
        MAC_INFECTED,
        (INFECTED, 52_001),
        0x2b01,
        "c2.badcdn.example",
        dns::TYPE_A,
        0,
        &[Rr {
            name: "c2.badcdn.example",
            ttl: 30,
            data: Rdata::A(octets4(C2)),
        }],
        &[],
    )?;
    let mut conn = TcpConn::new(
        LAN_INFECTED,
        (INFECTED, 49_730),
        (C2, 443),
        [0x6f70_8192, 0x9f00_0001],
        WAN_RTT_US,
    );
    tls12_c2_session(&mut tr, &mut conn)?;
    tr.tick(STEP_US);

    // DNS over TCP (RFC 7766): AAAA for the C2, 2-byte length prefix on each message.
    let q = dns::query(0x2b02, "c2.badcdn.example", dns::TYPE_AAAA);
    let r = dns::response(
        0x2b02,
        "c2.badcdn.example",
        dns::TYPE_AAAA,
        0,
        &[Rr {
            name: "c2.badcdn.example",
            ttl: 30,
            data: Rdata::Aaaa(octets16(C2_V6)),
        }],
        &[],
    );
    let framed = |m: &[u8]| {
        let mut v = (m.len().min(0xffff) as u16).to_be_bytes().to_vec();
        v.extend_from_slice(m);
        v
    };
    let mut conn = TcpConn::new(
        L2 {
            src: MAC_INFECTED,
            dst: MAC_RESOLVER,
            vlan: None,
        },
        (INFECTED, 52_002),
        (RESOLVER, 53),
        [0x7081_92a3, 0xa000_0001],
        LAN_RTT_US,
    );
    conn.handshake(&mut tr)?;
    conn.send_acked(&mut tr, Dir::Up, &framed(&q))?;
    conn.send_acked(&mut tr, Dir::Down, &framed(&r))?;
    conn.close(&mut tr)?;
    tr.tick(STEP_US);

    // It tries the IPv6 C2 on 443: SYN, retransmitted SYN after 1 s, then RST.
    let mut conn = TcpConn::new(
        LAN_INFECTED,
        (INFECTED6, 49_731),
        (C2_V6, 443),
        [0x8192_a3b4, 0],
        WAN_RTT_US,
    );
    let isn = conn.nxt[0];
    let syn = crate::wire::SYN;
    conn.raw(
        &mut tr,
        Dir::Up,
        isn,
        0,
        syn,
        &crate::wire::SYN_OPTIONS_V6,
        &[],
    )?;
    tr.tick(1_000_000);
    conn.raw(
        &mut tr,
        Dir::Up,
        isn,
        0,
        syn,
        &crate::wire::SYN_OPTIONS_V6,
        &[],
    )?;
    let rst = crate::wire::RST | crate::wire::ACK;
    conn.raw(&mut tr, Dir::Down, 0, isn.wrapping_add(1), rst, &[], &[])?;
    tr.tick(STEP_US);

    // And beacons over plain HTTP to its update host (listed via the parent domain).
    dns_udp(
        &mut tr,
        MAC_INFECTED,
        (INFECTED, 52_003),
        0x2b03,
        "update.evil-updates.test",
        dns::TYPE_A,
        0,
        &[Rr {
            name: "update.evil-updates.test",
            ttl: 30,
            data: Rdata::A(octets4(UPDATE)),
        }],
        &[],
    )?;
    let mut conn = TcpConn::new(
        LAN_INFECTED,
        (INFECTED, 49_732),
        (UPDATE, 80),
        [0x92a3_b4c5, 0xa100_0001],
        WAN_RTT_US,
    );
    conn.handshake(&mut tr)?;
    let beacon = format!(
        "GET /gate.php?id=4f3c2a1b&os=win10&v=2.1 HTTP/1.1\r\nHost: update.evil-updates.test\r\n\
         User-Agent: {UA_BEACON}\r\nAccept: */*\r\nCache-Control: no-cache\r\n\r\n"
    );
    conn.send_acked(&mut tr, Dir::Up, beacon.as_bytes())?;
    conn.send_acked(
        &mut tr,
        Dir::Down,
        &http_response(
            "200 OK",
            "application/octet-stream",
            b"cmd=sleep&interval=300\n",
        ),
    )?;
    conn.close(&mut tr)?;

    let (packets, bytes, end) = (tr.packets(), tr.bytes(), tr.now_us);
    Ok((tr.finish()?, packets, bytes, end))
}
