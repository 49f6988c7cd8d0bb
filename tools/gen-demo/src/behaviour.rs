//! Behaviour scenarios: small captures, one per behaviour, each with the detector that must
//! fire (and on which hosts) or, for a benign look-alike, the detectors that must stay quiet.
//! `tapir-gen-demo behaviour --out DIR` writes every scenario as `DIR/<name>.pcap` with
//! `DIR/<name>.pcap.truth.json`.
//!
//! Internal hosts are in 10.1.0.0/16 (inside the default `home_net`); external servers in the
//! documentation ranges 198.51.100.0/24 and 203.0.113.0/24 (RFC 5737), so nothing points at
//! a real host. Time is packet time: a scenario that spans twelve hours costs a few hundred
//! packets. Bulk transfers are written as a capture with a short snap length and receive
//! offload shows them (64 000-byte segments whose payload is not captured; the record's
//! original length is the wire length), so a 300 MB upload takes a few thousand records.
//!
//! Truth format (`"format": "tapir-gen-demo-behaviour/1"`):
//!
//! ```text
//! { "format": "tapir-gen-demo-behaviour/1", "scenario": "beacon-jitter30",
//!   "about": "...", "packets": 1234, "bytes": 98765,
//!   "fires": [ { "detector": "beacon", "src": "10.1.0.5", "dest": "198.51.100.10" } ],
//!   "silent": [ "beacon" ] }
//! ```
//!
//! `fires`: an alert of that detector with that source (and destination, when given) must
//! be raised. `silent`: detectors that must raise nothing on this capture.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use serde_json::json;

use crate::bench::SplitMix64;
use crate::dns::{self, Rdata, Rr};
use crate::profiles::Profile;
use crate::session::{Dir, TcpConn, Trace};
use crate::tls;
use crate::wire::{self, Header, L2, L4};

/// Format tag of every truth file.
pub const FORMAT: &str = "tapir-gen-demo-behaviour/1";

/// The self-signed certificate of the demo (subject = issuer).
const SELF_SIGNED_DER: &[u8] = include_bytes!("../data/demo-cert.der");
/// A root CA and two leaves it issued (see data/README.md).
const TEST_CA_DER: &[u8] = include_bytes!("../data/test-ca.der");
const VALID_LEAF_DER: &[u8] = include_bytes!("../data/valid-leaf.der");
const EXPIRED_LEAF_DER: &[u8] = include_bytes!("../data/expired-leaf.der");

/// Payload bytes per uncaptured bulk segment (receive offload sizes).
const BULK_SEGMENT: usize = 64_000;

/// An alert that must be raised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expect {
    pub detector: &'static str,
    pub src: IpAddr,
    pub dest: Option<IpAddr>,
}

/// What a scenario holds and what it must trigger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioTruth {
    pub name: &'static str,
    pub about: &'static str,
    pub fires: Vec<Expect>,
    pub silent: Vec<&'static str>,
    pub packets: u64,
    pub bytes: u64,
}

impl ScenarioTruth {
    /// The truth document, pretty-printed with a trailing newline.
    pub fn to_json(&self) -> String {
        let fires: Vec<_> = self
            .fires
            .iter()
            .map(|e| {
                let mut o = json!({"detector": e.detector, "src": e.src.to_string()});
                if let Some(d) = e.dest {
                    o["dest"] = json!(d.to_string());
                }
                o
            })
            .collect();
        let doc = json!({
            "format": FORMAT,
            "scenario": self.name,
            "about": self.about,
            "packets": self.packets,
            "bytes": self.bytes,
            "fires": fires,
            "silent": self.silent,
        });
        let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
        s.push('\n');
        s
    }
}

type Build = fn(&mut Scene) -> io::Result<()>;

/// One scenario: name, description, what it must trigger, and how it is written.
pub struct Scenario {
    pub name: &'static str,
    pub about: &'static str,
    build: Build,
}

/// Every scenario, positives first, then their benign look-alikes.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "beacon-exact",
        about: "TLS check-in every 60 s exactly, same sizes, 100 times",
        build: |s| beacon(s, 60, 0.0, 100, "beacon-exact"),
    },
    Scenario {
        name: "beacon-jitter30",
        about: "TLS check-in every 60 s with +-30% uniform jitter, 100 times",
        build: |s| beacon(s, 60, 0.3, 100, "beacon-jitter30"),
    },
    Scenario {
        name: "beacon-jitter50",
        about: "TLS check-in every 60 s with +-50% uniform jitter, 100 times",
        build: |s| beacon(s, 60, 0.5, 100, "beacon-jitter50"),
    },
    Scenario {
        name: "beacon-slow",
        about: "HTTP check-in every 10 min for 12 hours (72 times)",
        build: beacon_slow,
    },
    Scenario {
        name: "dns-tunnel",
        about: "400 TXT queries of high-entropy subdomains of one domain, answered with TXT",
        build: dns_tunnel,
    },
    Scenario {
        name: "dns-tunnel-a",
        about: "150 A queries of hex subdomains of one domain over 50 minutes (no TXT)",
        build: dns_tunnel_a,
    },
    Scenario {
        name: "dga",
        about: "60 NXDOMAIN answers for random names within two minutes",
        build: dga,
    },
    Scenario {
        name: "dga-slow",
        about: "15 NXDOMAIN answers for random names spread over 50 minutes",
        build: dga_slow,
    },
    Scenario {
        name: "scan-vertical",
        about: "SYN to ports 1-200 of one internal host: RST from closed ports, 3 open",
        build: scan_vertical,
    },
    Scenario {
        name: "scan-horizontal",
        about: "SYN to port 445 on 60 internal hosts, unanswered (one retransmission each)",
        build: scan_horizontal,
    },
    Scenario {
        name: "scan-slow",
        about: "SYN to 30 ports of one host, one every 90 s (45 minutes), all unanswered",
        build: scan_slow,
    },
    Scenario {
        name: "exfil",
        about: "300 MB uploaded over TLS to one external host in 10 minutes",
        build: |s| bulk(s, Dir::Up),
    },
    Scenario {
        name: "exfil-chunked",
        about: "150 MB uploaded in 30 separate 5 MB connections to one host over 40 minutes",
        build: exfil_chunked,
    },
    Scenario {
        name: "long-conn",
        about: "TLS connection to an external host held open 2 h 10 min with keepalives",
        build: long_conn,
    },
    Scenario {
        name: "port-mismatch",
        about: "TLS on port 8080, HTTP on port 53, SSH on port 443 (external servers)",
        build: port_mismatch,
    },
    Scenario {
        name: "tls-anomalies",
        about: "self-signed certificate, expired certificate, TLS to a bare IP without SNI, \
                a client fingerprint only one of 25 hosts uses",
        build: tls_anomalies,
    },
    Scenario {
        name: "benign-browsing",
        about: "one host browsing one site: page loads of 3-12 parallel fetches, idle gaps \
                of 20 s to 20 min, varied sizes",
        build: benign_browsing,
    },
    Scenario {
        name: "benign-resolver",
        about: "busy internal resolver: 30 clients, 60 names, forwarded misses, search-domain \
                NXDOMAINs",
        build: benign_resolver,
    },
    Scenario {
        name: "benign-cdn",
        about: "300 distinct CDN subdomains (short, low-entropy labels), A answers",
        build: benign_cdn,
    },
    Scenario {
        name: "benign-many-connections",
        about: "60 answered HTTP connections to an intranet server and 20 to external sites",
        build: benign_many_connections,
    },
    Scenario {
        name: "benign-download",
        about: "300 MB downloaded over TLS from one external host in 10 minutes",
        build: |s| bulk(s, Dir::Down),
    },
    Scenario {
        name: "benign-long-ssh",
        about: "internal SSH session held open 3 hours with keepalives",
        build: benign_long_ssh,
    },
    Scenario {
        name: "benign-standard-ports",
        about: "TLS on 443, HTTP on 80, SSH on 22, DNS on 53",
        build: benign_standard_ports,
    },
    Scenario {
        name: "benign-tls",
        about: "CA-issued valid certificate with SNI, TLS 1.3 with SNI, 24 hosts with common \
                fingerprints",
        build: benign_tls,
    },
];

/// The scenario called `name`.
pub fn scenario(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}

/// Writes scenario `sc` to `path` and its truth to `<path>.truth.json`.
pub fn write_scenario(sc: &Scenario, path: &Path) -> io::Result<ScenarioTruth> {
    let (bytes, truth) = scenario_bytes(sc)?;
    std::fs::write(path, bytes)?;
    std::fs::write(crate::truth_path(path), truth.to_json())?;
    Ok(truth)
}

/// Scenario `sc` as pcap bytes, with its truth.
pub fn scenario_bytes(sc: &Scenario) -> io::Result<(Vec<u8>, ScenarioTruth)> {
    let mut scene = Scene {
        tr: Trace::new(Vec::new(), crate::START_US)?,
        rng: SplitMix64::new(0x7a91_0000 + sc.name.len() as u64),
        truth: ScenarioTruth {
            name: sc.name,
            about: sc.about,
            fires: Vec::new(),
            silent: Vec::new(),
            packets: 0,
            bytes: 0,
        },
        isn: 0x3c00_0000,
    };
    (sc.build)(&mut scene)?;
    let Scene { tr, mut truth, .. } = scene;
    truth.packets = tr.packets();
    truth.bytes = tr.bytes();
    Ok((tr.finish()?, truth))
}

/// A scenario being written (in memory: the largest is a few hundred kilobytes).
pub struct Scene {
    tr: Trace<Vec<u8>>,
    rng: SplitMix64,
    truth: ScenarioTruth,
    isn: u32,
}

const fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

const RESOLVER: IpAddr = v4(10, 1, 0, 2);
const WAN_RTT_US: u64 = 30_000;
const LAN_RTT_US: u64 = 500;

fn mac(ip: IpAddr) -> [u8; 6] {
    let o = match ip {
        IpAddr::V4(a) => a.octets(),
        IpAddr::V6(a) => {
            let o = a.octets();
            [o[12], o[13], o[14], o[15]]
        }
    };
    [0x02, 0x00, o[0], o[1], o[2], o[3]]
}

fn l2(client: IpAddr, server: IpAddr) -> L2 {
    L2 {
        src: mac(client),
        dst: mac(server),
        vlan: None,
    }
}

fn is_internal(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V4(a) if a.octets()[0] == 10)
}

impl Scene {
    fn fires(&mut self, detector: &'static str, src: IpAddr, dest: Option<IpAddr>) {
        self.truth.fires.push(Expect {
            detector,
            src,
            dest,
        });
    }

    fn silent(&mut self, detectors: &[&'static str]) {
        self.truth.silent.extend_from_slice(detectors);
    }

    fn conn(&mut self, client: (IpAddr, u16), server: (IpAddr, u16)) -> TcpConn {
        self.isn = self.isn.wrapping_add(0x0101_0101);
        let rtt = if is_internal(server.0) {
            LAN_RTT_US
        } else {
            WAN_RTT_US
        };
        TcpConn::new(
            l2(client.0, server.0),
            client,
            server,
            [self.isn, self.isn ^ 0x5a5a_0000],
            rtt,
        )
    }

    /// A source port from the ephemeral range, different each call.
    fn port(&mut self) -> u16 {
        32_768 + self.rng.below(28_000) as u16
    }

    fn udp(&mut self, src: (IpAddr, u16), dst: (IpAddr, u16), payload: &[u8]) -> io::Result<()> {
        let h = Header {
            l2: l2(src.0, dst.0),
            src: src.0,
            dst: dst.0,
            ttl: 64,
            ip_id: 0,
            l4: L4::Udp {
                sport: src.1,
                dport: dst.1,
            },
        };
        self.tr.emit(&h, payload)
    }

    /// One DNS lookup over UDP from a fresh source port; `answer` None means NXDOMAIN.
    fn lookup(
        &mut self,
        client: IpAddr,
        resolver: IpAddr,
        qname: &str,
        qtype: u16,
        answer: Option<Rdata<'_>>,
    ) -> io::Result<()> {
        let port = self.port();
        let id = self.rng.below(65_536) as u16;
        self.udp(
            (client, port),
            (resolver, 53),
            &dns::query(id, qname, qtype),
        )?;
        self.tr.tick(if is_internal(resolver) {
            LAN_RTT_US
        } else {
            WAN_RTT_US
        });
        let resp = match answer {
            Some(data) => dns::response(
                id,
                qname,
                qtype,
                0,
                &[Rr {
                    name: qname,
                    ttl: 300,
                    data,
                }],
                &[],
            ),
            None => {
                let zone = qname.rsplit('.').next().unwrap_or(qname);
                dns::response(
                    id,
                    qname,
                    qtype,
                    dns::RCODE_NXDOMAIN,
                    &[],
                    &[Rr {
                        name: zone,
                        ttl: 900,
                        data: Rdata::Soa(
                            "a.root-servers.net",
                            "nstld.verisign-grs.com",
                            2026011500,
                        ),
                    }],
                )
            }
        };
        self.udp((resolver, 53), (client, port), &resp)
    }

    /// SYN to `server`; `reply`: None (unanswered, one retransmission after 1 s), Some(false)
    /// RST+ACK (closed), Some(true) SYN+ACK then the prober's RST (open).
    fn probe(
        &mut self,
        client: (IpAddr, u16),
        server: (IpAddr, u16),
        reply: Option<bool>,
    ) -> io::Result<()> {
        let mut c = self.conn(client, server);
        let [seq, sseq] = c.nxt;
        c.raw(
            &mut self.tr,
            Dir::Up,
            seq,
            0,
            wire::SYN,
            &wire::SYN_OPTIONS_V4,
            &[],
        )?;
        match reply {
            None => {
                self.tr.tick(1_000_000);
                c.raw(
                    &mut self.tr,
                    Dir::Up,
                    seq,
                    0,
                    wire::SYN,
                    &wire::SYN_OPTIONS_V4,
                    &[],
                )?;
            }
            Some(false) => {
                let ack = seq.wrapping_add(1);
                c.raw(
                    &mut self.tr,
                    Dir::Down,
                    0,
                    ack,
                    wire::RST | wire::ACK,
                    &[],
                    &[],
                )?;
            }
            Some(true) => {
                let ack = seq.wrapping_add(1);
                c.raw(
                    &mut self.tr,
                    Dir::Down,
                    sseq,
                    ack,
                    wire::SYN | wire::ACK,
                    &wire::SYN_OPTIONS_V4,
                    &[],
                )?;
                c.raw(&mut self.tr, Dir::Up, ack, 0, wire::RST, &[], &[])?;
            }
        }
        Ok(())
    }

    /// A TLS 1.3 session: ClientHello from `profile` (no SNI when `sni` is empty), server
    /// flight, `up`/`down` application bytes, close.
    fn tls13(
        &mut self,
        client: (IpAddr, u16),
        server: (IpAddr, u16),
        profile: &Profile,
        sni: &str,
        up: usize,
        down: usize,
    ) -> io::Result<()> {
        let mut c = self.conn(client, server);
        let seed = self.rng.below(256) as u8;
        c.handshake(&mut self.tr)?;
        c.send_acked(&mut self.tr, Dir::Up, &profile.client_hello(sni, seed))?;
        self.server_flight13(&mut c, seed)?;
        self.app_data(&mut c, up, down, seed)?;
        c.close(&mut self.tr)
    }

    fn server_flight13(&mut self, c: &mut TcpConn, seed: u8) -> io::Result<()> {
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
                    tls::ext_server_key_share(tls::GROUP_X25519, &tls::filler32(seed)),
                ),
            ],
        );
        let mut flight = tls::records(tls::CT_HANDSHAKE, 0x0303, &sh);
        flight.extend(tls::change_cipher_spec());
        flight.extend(tls::opaque_records(tls::CT_APPLICATION_DATA, 2_400, seed));
        c.send(&mut self.tr, Dir::Down, &flight)?;
        let mut fin = tls::change_cipher_spec();
        fin.extend(tls::opaque_records(tls::CT_APPLICATION_DATA, 53, seed));
        c.send(&mut self.tr, Dir::Up, &fin)
    }

    fn app_data(&mut self, c: &mut TcpConn, up: usize, down: usize, seed: u8) -> io::Result<()> {
        if up > 0 {
            let d = tls::opaque_records(tls::CT_APPLICATION_DATA, up, seed);
            c.send_acked(&mut self.tr, Dir::Up, &d)?;
        }
        if down > 0 {
            let d = tls::opaque_records(tls::CT_APPLICATION_DATA, down, seed.wrapping_add(1));
            c.send_acked(&mut self.tr, Dir::Down, &d)?;
        }
        Ok(())
    }

    /// A TLS 1.2 session whose server sends `chain` (leaf first) in the clear.
    fn tls12(
        &mut self,
        client: (IpAddr, u16),
        server: (IpAddr, u16),
        profile: &Profile,
        sni: &str,
        chain: &[&[u8]],
    ) -> io::Result<()> {
        let mut c = self.conn(client, server);
        let seed = self.rng.below(256) as u8;
        c.handshake(&mut self.tr)?;
        c.send_acked(&mut self.tr, Dir::Up, &profile.client_hello(sni, seed))?;
        let sh = tls::server_hello(
            &tls::filler32(seed.wrapping_add(3)),
            &tls::filler32(seed.wrapping_add(4)),
            0xc02b,
            &[(tls::EXT_RENEGOTIATION_INFO, vec![0])],
        );
        let mut flight = tls::records(tls::CT_HANDSHAKE, 0x0303, &sh);
        let mut rest = tls::certificate_tls12(chain);
        rest.extend(tls::server_key_exchange_ecdhe(
            tls::GROUP_X25519,
            &tls::filler32(seed.wrapping_add(5)),
            0x0403,
        ));
        rest.extend(tls::server_hello_done());
        flight.extend(tls::records(tls::CT_HANDSHAKE, 0x0303, &rest));
        c.send(&mut self.tr, Dir::Down, &flight)?;
        let mut cfin = tls::records(
            tls::CT_HANDSHAKE,
            0x0303,
            &tls::client_key_exchange_ecdhe(&tls::filler32(seed.wrapping_add(6))),
        );
        cfin.extend(tls::change_cipher_spec());
        cfin.extend(tls::opaque_records(tls::CT_HANDSHAKE, 40, seed));
        c.send(&mut self.tr, Dir::Up, &cfin)?;
        let mut sfin = tls::change_cipher_spec();
        sfin.extend(tls::opaque_records(
            tls::CT_HANDSHAKE,
            40,
            seed.wrapping_add(7),
        ));
        c.send(&mut self.tr, Dir::Down, &sfin)?;
        self.app_data(&mut c, 420, 1_800, seed)?;
        c.close(&mut self.tr)
    }

    /// One HTTP/1.1 GET and its response with a `body`-byte body.
    fn http(
        &mut self,
        client: (IpAddr, u16),
        server: (IpAddr, u16),
        host: &str,
        path: &str,
        body: usize,
    ) -> io::Result<()> {
        let mut c = self.conn(client, server);
        c.handshake(&mut self.tr)?;
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; \
             rv:128.0) Gecko/20100101 Firefox/128.0\r\nAccept: */*\r\n\r\n"
        );
        c.send_acked(&mut self.tr, Dir::Up, req.as_bytes())?;
        let mut resp = format!(
            "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/octet-stream\r\n\
             Content-Length: {body}\r\n\r\n"
        )
        .into_bytes();
        resp.extend(tls::filler(body as u8, body));
        c.send_acked(&mut self.tr, Dir::Down, &resp)?;
        c.close(&mut self.tr)
    }

    /// SSH banners both ways, then `rounds` keepalive exchanges `gap_s` apart, then close.
    fn ssh(
        &mut self,
        client: (IpAddr, u16),
        server: (IpAddr, u16),
        rounds: u32,
        gap_s: u64,
    ) -> io::Result<()> {
        let mut c = self.conn(client, server);
        c.handshake(&mut self.tr)?;
        c.send_acked(
            &mut self.tr,
            Dir::Down,
            b"SSH-2.0-OpenSSH_9.6p1 Debian-4\r\n",
        )?;
        c.send_acked(
            &mut self.tr,
            Dir::Up,
            b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
        )?;
        for i in 0..rounds {
            self.tr.tick(gap_s * 1_000_000);
            let seed = i as u8;
            c.send(&mut self.tr, Dir::Up, &tls::filler(seed, 52))?;
            c.send_acked(
                &mut self.tr,
                Dir::Down,
                &tls::filler(seed.wrapping_add(1), 52),
            )?;
        }
        c.close(&mut self.tr)
    }
}

/// Uniform in `[1 - j, 1 + j]` times `period_s`, in µs.
fn jittered(rng: &mut SplitMix64, period_s: u64, jitter: f64) -> u64 {
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let f = 1.0 + jitter * (2.0 * u - 1.0);
    (period_s as f64 * 1e6 * f) as u64
}

fn beacon(s: &mut Scene, period_s: u64, jitter: f64, n: u32, tag: &str) -> io::Result<()> {
    let host = v4(10, 1, 0, 5);
    let c2 = v4(198, 51, 100, 10);
    let sni = format!("{tag}.sync-cdn.example");
    s.fires("beacon", host, Some(c2));
    for _ in 0..n {
        let start = s.tr.now_us;
        let port = s.port();
        s.tls13((host, port), (c2, 443), &Profile::CURL, &sni, 310, 1_250)?;
        let gap = jittered(&mut s.rng, period_s, jitter);
        s.tr.now_us = start + gap;
    }
    Ok(())
}

fn beacon_slow(s: &mut Scene) -> io::Result<()> {
    let host = v4(10, 1, 0, 6);
    let c2 = v4(203, 0, 113, 20);
    s.fires("beacon", host, Some(c2));
    for _ in 0..72 {
        let start = s.tr.now_us;
        let port = s.port();
        s.http(
            (host, port),
            (c2, 80),
            "updates.slow-poll.example",
            "/v2/check",
            120,
        )?;
        s.tr.now_us = start + 600_000_000;
    }
    Ok(())
}

/// Base32 (RFC 4648 alphabet, lower case), as iodine/dnscat-style tunnels encode data.
const BASE32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

fn dns_tunnel(s: &mut Scene) -> io::Result<()> {
    let host = v4(10, 1, 0, 7);
    s.fires("dns_tunnel", host, None);
    for i in 0..400u32 {
        let a = s.rng.word(BASE32, 52);
        let b = s.rng.word(BASE32, 20);
        let qname = format!("{a}.{b}.t.tunnel-relay.example");
        let txt = s.rng.word(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
            180,
        );
        s.lookup(
            host,
            RESOLVER,
            &qname,
            dns::TYPE_TXT,
            Some(Rdata::Txt(&txt)),
        )?;
        s.tr.tick(1_000_000 + u64::from(i % 7) * 100_000);
    }
    Ok(())
}

fn dns_tunnel_a(s: &mut Scene) -> io::Result<()> {
    let host = v4(10, 1, 0, 8);
    s.fires("dns_tunnel", host, None);
    for i in 0..150u32 {
        let a = s.rng.word(b"0123456789abcdef", 60);
        let qname = format!("{a}.{:04x}.data.sync-relay.example", i);
        let ip = [198, 51, 100, (i % 250) as u8];
        s.lookup(host, RESOLVER, &qname, dns::TYPE_A, Some(Rdata::A(ip)))?;
        s.tr.tick(20_000_000);
    }
    Ok(())
}

fn dga_slow(s: &mut Scene) -> io::Result<()> {
    let host = v4(10, 1, 0, 10);
    s.fires("dga", host, None);
    for _ in 0..15 {
        let len = 12 + s.rng.below(6) as usize;
        let label = s.rng.word(b"abcdefghijklmnopqrstuvwxyz", len);
        s.lookup(host, RESOLVER, &format!("{label}.net"), dns::TYPE_A, None)?;
        s.tr.tick(200_000_000);
    }
    Ok(())
}

fn scan_slow(s: &mut Scene) -> io::Result<()> {
    let scanner = v4(10, 1, 0, 68);
    let target = v4(10, 1, 0, 21);
    s.fires("scan", scanner, Some(target));
    const PORTS: [u16; 30] = [
        21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 389, 443, 445, 465, 587, 636, 993, 995,
        1433, 1521, 2049, 3306, 3389, 5432, 5900, 6379, 8080, 8443, 9200,
    ];
    for port in PORTS {
        let p = s.port();
        s.probe((scanner, p), (target, port), None)?;
        s.tr.tick(89_000_000);
    }
    Ok(())
}

fn exfil_chunked(s: &mut Scene) -> io::Result<()> {
    let host = v4(10, 1, 0, 19);
    let server = v4(203, 0, 113, 51);
    s.fires("exfil", host, Some(server));
    for i in 0..30u8 {
        let port = s.port();
        let mut c = s.conn((host, port), (server, 443));
        c.handshake(&mut s.tr)?;
        let hello = Profile::GO.client_hello("backup.storage-sync.example", i);
        c.send_acked(&mut s.tr, Dir::Up, &hello)?;
        s.server_flight13(&mut c, i)?;
        // 5 MB: 78 uncaptured segments and one short one.
        let mut left = 5_000_000usize;
        while left > 0 {
            let n = left.min(BULK_SEGMENT);
            let (seq, ack) = (c.nxt[0], c.nxt[1]);
            s.tr.emit_cut(&tcp_header(&c, Dir::Up, seq, ack, wire::ACK), n)?;
            c.advance(Dir::Up, n);
            left -= n;
            s.tr.tick(40_000);
        }
        c.ack(&mut s.tr, Dir::Down)?;
        c.close(&mut s.tr)?;
        s.tr.tick(80_000_000);
    }
    Ok(())
}

fn dga(s: &mut Scene) -> io::Result<()> {
    let host = v4(10, 1, 0, 9);
    s.fires("dga", host, None);
    const TLDS: [&str; 4] = ["com", "net", "org", "info"];
    for i in 0..60u64 {
        let len = 12 + s.rng.below(6) as usize;
        let label = s.rng.word(b"abcdefghijklmnopqrstuvwxyz", len);
        let qname = format!("{label}.{}", TLDS[(i % 4) as usize]);
        s.lookup(host, RESOLVER, &qname, dns::TYPE_A, None)?;
        s.tr.tick(2_000_000);
    }
    Ok(())
}

fn scan_vertical(s: &mut Scene) -> io::Result<()> {
    let scanner = v4(10, 1, 0, 66);
    let target = v4(10, 1, 0, 20);
    s.fires("scan", scanner, Some(target));
    let sport = 40_000;
    for port in 1..=200u16 {
        let open = matches!(port, 22 | 80 | 143);
        s.probe((scanner, sport), (target, port), Some(open))?;
        s.tr.tick(20_000);
    }
    Ok(())
}

fn scan_horizontal(s: &mut Scene) -> io::Result<()> {
    let scanner = v4(10, 1, 0, 67);
    s.fires("scan", scanner, None);
    for h in 1..=60u8 {
        let port = s.port();
        s.probe((scanner, port), (v4(10, 1, 2, h), 445), None)?;
        s.tr.tick(50_000);
    }
    Ok(())
}

/// 300 MB one way over TLS in 10 minutes (`Up`: exfiltration; `Down`: a download).
fn bulk(s: &mut Scene, dir: Dir) -> io::Result<()> {
    let (host, server) = match dir {
        Dir::Up => (v4(10, 1, 0, 12), v4(203, 0, 113, 50)),
        Dir::Down => (v4(10, 1, 0, 13), v4(198, 51, 100, 80)),
    };
    if dir == Dir::Up {
        s.fires("exfil", host, Some(server));
    } else {
        s.silent(&["exfil"]);
    }
    let port = s.port();
    let mut c = s.conn((host, port), (server, 443));
    c.handshake(&mut s.tr)?;
    c.send_acked(
        &mut s.tr,
        Dir::Up,
        &Profile::FIREFOX.client_hello("files.transfer.example", 7),
    )?;
    s.server_flight13(&mut c, 7)?;
    let total = 300_000_000usize;
    let segments = total / BULK_SEGMENT;
    // 10 minutes for the whole transfer.
    let gap = 600_000_000 / segments as u64;
    for i in 0..segments {
        let (seq, ack) = (c.nxt[dir_idx(dir)], c.nxt[1 - dir_idx(dir)]);
        let hdr = tcp_header(&c, dir, seq, ack, wire::ACK);
        s.tr.emit_cut(&hdr, BULK_SEGMENT)?;
        c.advance(dir, BULK_SEGMENT);
        s.tr.tick(gap / 2);
        if i % 2 == 1 {
            let (seq, ack) = (c.nxt[1 - dir_idx(dir)], c.nxt[dir_idx(dir)]);
            let hdr = tcp_header(&c, dir.other(), seq, ack, wire::ACK);
            s.tr.emit(&hdr, &[])?;
        }
        s.tr.tick(gap / 2);
    }
    c.close(&mut s.tr)
}

fn dir_idx(d: Dir) -> usize {
    match d {
        Dir::Up => 0,
        Dir::Down => 1,
    }
}

/// The header of a segment of `c` travelling `dir` (for segments written by hand).
fn tcp_header(c: &TcpConn, dir: Dir, seq: u32, ack: u32, flags: u8) -> Header<'static> {
    let (s, d) = (dir_idx(dir), 1 - dir_idx(dir));
    Header {
        l2: if dir == Dir::Up {
            c.l2
        } else {
            c.l2.reversed()
        },
        src: c.ip[s],
        dst: c.ip[d],
        ttl: c.ttl[s],
        ip_id: 0,
        l4: L4::Tcp {
            sport: c.port[s],
            dport: c.port[d],
            seq,
            ack,
            flags,
            window: 502,
            options: &[],
        },
    }
}

fn long_conn(s: &mut Scene) -> io::Result<()> {
    let host = v4(10, 1, 0, 14);
    let server = v4(203, 0, 113, 77);
    s.fires("long_conn", host, Some(server));
    let port = s.port();
    let mut c = s.conn((host, port), (server, 443));
    c.handshake(&mut s.tr)?;
    c.send_acked(
        &mut s.tr,
        Dir::Up,
        &Profile::GO.client_hello("push.notify-hub.example", 9),
    )?;
    s.server_flight13(&mut c, 9)?;
    // 130 keepalive rounds a minute apart: 2 h 10 min.
    for i in 0..130u32 {
        s.tr.tick(60_000_000);
        s.app_data(&mut c, 31, 31, i as u8)?;
    }
    c.close(&mut s.tr)
}

fn port_mismatch(s: &mut Scene) -> io::Result<()> {
    let host = v4(10, 1, 0, 16);
    let (tls_srv, http_srv, ssh_srv) = (
        v4(203, 0, 113, 90),
        v4(203, 0, 113, 91),
        v4(203, 0, 113, 92),
    );
    s.fires("port_mismatch", host, Some(tls_srv));
    s.fires("port_mismatch", host, Some(http_srv));
    s.fires("port_mismatch", host, Some(ssh_srv));
    let p = s.port();
    s.tls13(
        (host, p),
        (tls_srv, 8080),
        &Profile::CURL,
        "api.alt-port.example",
        400,
        900,
    )?;
    s.tr.tick(2_000_000);
    let p = s.port();
    s.http(
        (host, p),
        (http_srv, 53),
        "cmd.odd-port.example",
        "/task",
        200,
    )?;
    s.tr.tick(2_000_000);
    let p = s.port();
    s.ssh((host, p), (ssh_srv, 443), 3, 5)
}

fn tls_anomalies(s: &mut Scene) -> io::Result<()> {
    let victim = v4(10, 1, 0, 17);
    let (self_signed, expired, bare) = (
        v4(203, 0, 113, 100),
        v4(203, 0, 113, 102),
        v4(203, 0, 113, 101),
    );
    s.fires("tls_anomaly", victim, Some(self_signed));
    s.fires("tls_anomaly", victim, Some(expired));
    s.fires("tls_anomaly", victim, Some(bare));
    // A population of ordinary clients first, so a fingerprint seen from one host is rare.
    common_tls_population(s)?;
    let p = s.port();
    s.tls12(
        (victim, p),
        (self_signed, 443),
        &Profile::FIREFOX,
        "selfsigned.portal.example",
        &[SELF_SIGNED_DER],
    )?;
    s.tr.tick(3_000_000);
    let p = s.port();
    s.tls12(
        (victim, p),
        (expired, 443),
        &Profile::FIREFOX,
        "old.shop.example",
        &[EXPIRED_LEAF_DER, TEST_CA_DER],
    )?;
    s.tr.tick(3_000_000);
    let p = s.port();
    s.tls13((victim, p), (bare, 443), &Profile::FIREFOX, "", 300, 800)?;
    // One host alone uses the minimal client, three times.
    let odd = v4(10, 1, 0, 18);
    let odd_srv = v4(203, 0, 113, 103);
    s.fires("tls_anomaly", odd, None);
    for _ in 0..3 {
        s.tr.tick(20_000_000);
        let p = s.port();
        s.tls13(
            (odd, p),
            (odd_srv, 443),
            &Profile::MALWARE,
            "telemetry.odd-client.example",
            200,
            300,
        )?;
    }
    Ok(())
}

/// 24 internal hosts, each fingerprint (Chrome, Firefox, curl, Go) used by six of them.
fn common_tls_population(s: &mut Scene) -> io::Result<()> {
    let sites = [
        "www.example.com",
        "mail.example.net",
        "static.example.org",
        "news.example",
    ];
    for h in 0..24u8 {
        let host = v4(10, 1, 3, 10 + h);
        let profile = Profile::BENIGN[usize::from(h % 4)];
        let site = sites[usize::from(h / 4 % 4)];
        let p = s.port();
        s.tls13(
            (host, p),
            (v4(198, 51, 100, 200 + h % 4), 443),
            &profile,
            site,
            500,
            4_000,
        )?;
        s.tr.tick(1_500_000);
    }
    Ok(())
}

fn benign_browsing(s: &mut Scene) -> io::Result<()> {
    let host = v4(10, 1, 0, 30);
    let site = v4(198, 51, 100, 30);
    s.silent(&["beacon"]);
    // A person reading: each page load opens a few connections at once, then the page is
    // read for a while (log-uniform 20 s to 20 min), over about four hours.
    for _ in 0..30 {
        let fetches = 3 + s.rng.below(10);
        for _ in 0..fetches {
            let up = s.rng.log_uniform(300, 4_000) as usize;
            let down = s.rng.log_uniform(800, 60_000) as usize;
            let p = s.port();
            s.tls13(
                (host, p),
                (site, 443),
                &Profile::CHROME,
                "www.news.example",
                up,
                down,
            )?;
            s.tr.tick(50_000 + s.rng.below(350_000));
        }
        s.tr.tick(u64::from(s.rng.log_uniform(20, 1_200)) * 1_000_000);
    }
    Ok(())
}

fn benign_resolver(s: &mut Scene) -> io::Result<()> {
    s.silent(&["dns_tunnel", "dga"]);
    let upstream = v4(198, 51, 100, 53);
    let names = crate::bench::name_pool();
    let mut cached = std::collections::BTreeSet::new();
    for i in 0..900u32 {
        let client = v4(10, 1, 4, 10 + (i % 30) as u8);
        let name = names[s.rng.below(names.len() as u64) as usize].clone();
        let qtype = if i % 3 == 0 {
            dns::TYPE_AAAA
        } else {
            dns::TYPE_A
        };
        let ip = [198, 51, 100, (i % 200) as u8];
        if cached.insert((name.clone(), qtype)) {
            // A cache miss: the resolver asks upstream first.
            if qtype == dns::TYPE_A {
                s.lookup(RESOLVER, upstream, &name, qtype, Some(Rdata::A(ip)))?;
            } else {
                s.lookup(RESOLVER, upstream, &name, qtype, Some(Rdata::Aaaa(aaaa(i))))?;
            }
        }
        if qtype == dns::TYPE_A {
            s.lookup(client, RESOLVER, &name, qtype, Some(Rdata::A(ip)))?;
        } else {
            s.lookup(client, RESOLVER, &name, qtype, Some(Rdata::Aaaa(aaaa(i))))?;
        }
        // Search-domain suffixes and WPAD: the everyday NXDOMAINs of an office.
        if i % 45 == 0 {
            let q = format!("{name}.corp.example");
            s.lookup(client, RESOLVER, &q, dns::TYPE_A, None)?;
            s.lookup(client, RESOLVER, "wpad.corp.example", dns::TYPE_A, None)?;
        }
        s.tr.tick(400_000 + s.rng.below(600_000));
    }
    Ok(())
}

fn aaaa(i: u32) -> [u8; 16] {
    let mut o = [0u8; 16];
    o[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    o[14..].copy_from_slice(&((i % 60_000) as u16).to_be_bytes());
    o
}

fn benign_cdn(s: &mut Scene) -> io::Result<()> {
    s.silent(&["dns_tunnel", "dga"]);
    for i in 0..300u32 {
        let client = v4(10, 1, 5, 10 + (i % 12) as u8);
        let qname = match i % 3 {
            0 => format!("e{}.a.cdnedge.example", 1000 + i * 7),
            1 => format!("img-{}.static.cdnedge.example", i),
            _ => format!(
                "r{}---sn-{}.video.cdnedge.example",
                i % 9,
                s.rng.word(b"abcdefghijklmnopqrstuvwxyz0123456789", 8)
            ),
        };
        s.lookup(
            client,
            RESOLVER,
            &qname,
            dns::TYPE_A,
            Some(Rdata::A([198, 51, 100, (i % 50) as u8])),
        )?;
        s.tr.tick(300_000 + s.rng.below(500_000));
    }
    Ok(())
}

fn benign_many_connections(s: &mut Scene) -> io::Result<()> {
    s.silent(&["scan"]);
    let host = v4(10, 1, 0, 40);
    let intranet = v4(10, 1, 0, 80);
    for i in 0..60u32 {
        let p = s.port();
        s.http(
            (host, p),
            (intranet, 80),
            "intranet.corp.example",
            &format!("/page/{i}"),
            2_000,
        )?;
        s.tr.tick(500_000);
    }
    for h in 0..20u8 {
        let p = s.port();
        s.tls13(
            (host, p),
            (v4(198, 51, 100, 100 + h), 443),
            &Profile::CHROME,
            "www.example.com",
            600,
            9_000,
        )?;
        s.tr.tick(700_000);
    }
    Ok(())
}

fn benign_long_ssh(s: &mut Scene) -> io::Result<()> {
    s.silent(&["long_conn"]);
    let p = s.port();
    // 180 rounds a minute apart: 3 hours, both ends internal.
    s.ssh((v4(10, 1, 0, 15), p), (v4(10, 1, 0, 22), 22), 180, 60)
}

fn benign_standard_ports(s: &mut Scene) -> io::Result<()> {
    s.silent(&["port_mismatch"]);
    let host = v4(10, 1, 0, 41);
    let p = s.port();
    s.tls13(
        (host, p),
        (v4(198, 51, 100, 41), 443),
        &Profile::FIREFOX,
        "www.example.org",
        500,
        3_000,
    )?;
    s.tr.tick(1_000_000);
    let p = s.port();
    s.http(
        (host, p),
        (v4(198, 51, 100, 42), 80),
        "www.example.org",
        "/",
        1_500,
    )?;
    s.tr.tick(1_000_000);
    let p = s.port();
    s.ssh((host, p), (v4(198, 51, 100, 43), 22), 3, 5)?;
    s.tr.tick(1_000_000);
    s.lookup(
        host,
        v4(198, 51, 100, 53),
        "www.example.org",
        dns::TYPE_A,
        Some(Rdata::A([198, 51, 100, 41])),
    )
}

fn benign_tls(s: &mut Scene) -> io::Result<()> {
    s.silent(&["tls_anomaly"]);
    common_tls_population(s)?;
    let host = v4(10, 1, 0, 42);
    let p = s.port();
    s.tls12(
        (host, p),
        (v4(198, 51, 100, 103), 443),
        &Profile::FIREFOX,
        "www.shop.example",
        &[VALID_LEAF_DER, TEST_CA_DER],
    )?;
    s.tr.tick(2_000_000);
    let p = s.port();
    s.tls13(
        (host, p),
        (v4(198, 51, 100, 104), 443),
        &Profile::FIREFOX,
        "www.example.com",
        600,
        5_000,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_is_deterministic_and_has_an_expectation() {
        for sc in SCENARIOS {
            let (a, ta) = scenario_bytes(sc).expect("write");
            let (b, _) = scenario_bytes(sc).expect("write");
            assert_eq!(a, b, "{}: not byte-identical", sc.name);
            assert!(
                !ta.fires.is_empty() || !ta.silent.is_empty(),
                "{}: says nothing",
                sc.name
            );
            assert_eq!(
                sc.name.starts_with("benign-"),
                ta.fires.is_empty(),
                "{}",
                sc.name
            );
            assert!(ta.packets > 10, "{}", sc.name);
        }
    }

    #[test]
    fn slow_beacon_spans_twelve_hours_of_packet_time() {
        let sc = scenario("beacon-slow").expect("exists");
        let (pcap, _) = scenario_bytes(sc).expect("write");
        let ts = |rec: &[u8]| u64::from(u32::from_le_bytes([rec[0], rec[1], rec[2], rec[3]]));
        let first = ts(&pcap[24..]);
        // Walk the records to the last one.
        let (mut off, mut last) = (24usize, first);
        while off + 16 <= pcap.len() {
            last = ts(&pcap[off..]);
            let caplen =
                u32::from_le_bytes([pcap[off + 8], pcap[off + 9], pcap[off + 10], pcap[off + 11]]);
            off += 16 + caplen as usize;
        }
        assert!(last - first >= 71 * 600, "{} s", last - first);
    }

    #[test]
    fn bulk_segments_keep_their_wire_length() {
        let sc = scenario("exfil").expect("exists");
        let (pcap, _) = scenario_bytes(sc).expect("write");
        let (mut off, mut wire, mut cap) = (24usize, 0u64, 0u64);
        while off + 16 <= pcap.len() {
            let r = &pcap[off..];
            let caplen = u32::from_le_bytes([r[8], r[9], r[10], r[11]]);
            let orig = u32::from_le_bytes([r[12], r[13], r[14], r[15]]);
            wire += u64::from(orig);
            cap += u64::from(caplen);
            off += 16 + caplen as usize;
        }
        assert!(wire > 300_000_000, "{wire}");
        assert!(cap < 2_000_000, "{cap}");
    }
}
