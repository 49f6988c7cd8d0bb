//! Synthetic observation streams for the detector tests and the `eval` example: attacks,
//! hard variants (jitter, low and slow) and benign look-alikes, each over a background of
//! ordinary traffic, all from a seeded PRNG so every run sees the same streams.
//!
//! Addresses: the host a scenario is about is 10.66.0.7 (its peer 10.66.0.9 when internal,
//! 203.0.113.x when external); background clients are 10.1.0.0/16 and their servers
//! 198.51.100.0/24.

// Each test binary uses part of this module; the constructors take a flow's fields in order.
#![allow(dead_code, clippy::too_many_arguments)]

use std::net::{IpAddr, Ipv4Addr};

use tapir_detect::obs::{CertFacts, DnsObs, FlowSummary, TlsObs};
use tapir_detect::{DetectConfig, Detectors, Finding, Observation};

/// splitmix64: tiny, seedable, good enough for traffic shapes.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5851_f42d_4c95_7f2d)
    }
    pub fn u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.u64() % (hi - lo).max(1)
    }
    pub fn exp(&mut self, mean: f64) -> f64 {
        -(1.0 - self.f64()).ln() * mean
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[(self.u64() % xs.len() as u64) as usize]
    }
    pub fn string(&mut self, alphabet: &[u8], len: usize) -> String {
        (0..len).map(|_| *self.pick(alphabet) as char).collect()
    }
}

pub const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
pub const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
pub const BASE32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
pub const HEX: &[u8] = b"0123456789abcdef";

/// Everyday English words for look-alike names (a list typed for these tests).
pub const WORDS: &[&str] = &[
    "blue", "garden", "shop", "coffee", "place", "green", "house", "market", "city", "news",
    "travel", "photo", "music", "cloud", "store", "home", "best", "online", "daily", "world",
    "smart", "family", "health", "sport", "river", "mountain", "school", "book", "pizza",
    "kitchen", "water", "light", "sun", "star", "paper", "money", "bank", "card", "game", "play",
    "fast", "good", "happy", "little", "big", "red", "black", "white", "open", "street", "park",
    "garage", "flower", "forest", "ocean", "island", "winter", "summer", "apple", "orange",
    "lemon", "bread", "cheese", "wine", "beer", "tea", "pet", "dog", "cat", "horse", "bird",
    "fish", "farm", "field", "stone", "metal", "wood", "glass",
];

/// Brand-like names of popular sites.
pub const POPULAR: &[&str] = &[
    "google.com",
    "youtube.com",
    "facebook.com",
    "wikipedia.org",
    "amazon.com",
    "twitter.com",
    "instagram.com",
    "linkedin.com",
    "microsoft.com",
    "apple.com",
    "netflix.com",
    "yahoo.com",
    "reddit.com",
    "bing.com",
    "office.com",
    "live.com",
    "stackoverflow.com",
    "github.com",
    "cloudflare.com",
    "adobe.com",
    "dropbox.com",
    "salesforce.com",
    "paypal.com",
    "ebay.com",
    "walmart.com",
    "bestbuy.com",
    "nytimes.com",
    "bbc.co.uk",
    "cnn.com",
    "espn.com",
    "weather.com",
    "zoom.us",
    "slack.com",
    "spotify.com",
    "pinterest.com",
    "wordpress.com",
    "mozilla.org",
    "debian.org",
    "python.org",
    "docker.com",
    "atlassian.net",
    "gitlab.com",
];

pub const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 66, 0, 7));
pub const PEER_INTERNAL: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 66, 0, 9));
pub const RESOLVER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 53));

pub fn ext(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(203, 0, 113, n))
}

pub fn bg_client(n: u16) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 1, (n >> 8) as u8, n as u8))
}

pub fn bg_server(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 51, 100, n))
}

pub const T0: u64 = 1_700_000_000_000_000;
pub const S: u64 = 1_000_000;

/// Builds observation streams; flow ids are unique per stream.
pub struct Stream {
    pub obs: Vec<(u64, Observation)>,
    next_id: u64,
}

impl Default for Stream {
    fn default() -> Self {
        Self::new()
    }
}

impl Stream {
    pub fn new() -> Self {
        Stream {
            obs: Vec::new(),
            next_id: 1,
        }
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn summary(
        &mut self,
        client: IpAddr,
        server: IpAddr,
        port: u16,
        proto: u8,
        start_us: u64,
        dur_us: u64,
        out: u64,
        inb: u64,
    ) -> FlowSummary {
        let id = self.id();
        FlowSummary {
            flow_id: id,
            community_id: None,
            proto,
            client,
            client_port: 40_000 + (id % 20_000) as u16,
            server,
            server_port: port,
            start_us,
            last_us: start_us + dur_us,
            pkts_toserver: 1 + out / 1000,
            pkts_toclient: if inb > 0 { 1 + inb / 1000 } else { 0 },
            bytes_toserver: out,
            bytes_toclient: inb,
            answered: inb > 0,
            established: inb > 0,
            rejected: false,
            app_proto: None,
            server_name: None,
            ja3: None,
            ja4: None,
        }
    }

    pub fn end(&mut self, f: FlowSummary) {
        self.obs.push((f.last_us, Observation::FlowEnd(f)));
    }

    /// An ordinary answered TCP flow.
    pub fn flow(
        &mut self,
        client: IpAddr,
        server: IpAddr,
        port: u16,
        start_us: u64,
        dur_us: u64,
        out: u64,
        inb: u64,
        name: Option<&str>,
    ) {
        let mut f = self.summary(client, server, port, 6, start_us, dur_us, out, inb);
        f.server_name = name.map(str::to_string);
        self.end(f);
    }

    /// A failed TCP attempt: RST (`rejected`) or no answer.
    pub fn probe(&mut self, client: IpAddr, server: IpAddr, port: u16, at_us: u64, rejected: bool) {
        let mut f = self.summary(
            client,
            server,
            port,
            6,
            at_us,
            if rejected { 300 } else { 3 * S },
            0,
            0,
        );
        f.pkts_toserver = if rejected { 1 } else { 2 };
        f.bytes_toserver = 60 * f.pkts_toserver;
        if rejected {
            f.rejected = true;
            f.answered = true;
            f.pkts_toclient = 1;
            f.bytes_toclient = 54;
        }
        self.end(f);
    }

    pub fn dns(
        &mut self,
        client: IpAddr,
        server: IpAddr,
        at_us: u64,
        qname: &str,
        qtype: u16,
        rcode: u8,
        answer_bytes: u32,
    ) {
        let id = self.id();
        let d = DnsObs {
            ts_us: at_us,
            flow_id: id,
            client,
            server,
            client_port: 50_000 + (id % 10_000) as u16,
            server_port: 53,
            proto: 17,
            qname: qname.to_string(),
            qtype,
            rcode: Some(rcode),
            answers: u16::from(rcode == 0),
            answer_bytes,
        };
        self.obs.push((at_us, Observation::Dns(d)));
    }

    pub fn tls(
        &mut self,
        client: IpAddr,
        server: IpAddr,
        port: u16,
        at_us: u64,
        sni: Option<&str>,
        ja4: &str,
        cert: Option<CertFacts>,
    ) {
        let id = self.id();
        let t = TlsObs {
            ts_us: at_us,
            flow_id: id,
            community_id: None,
            proto: 6,
            client,
            client_port: 45_000 + (id % 10_000) as u16,
            server,
            server_port: port,
            sni: sni.map(str::to_string),
            ja3: Some(format!("ja3-of-{ja4}")),
            ja4: Some(ja4.to_string()),
            cert,
        };
        self.obs.push((at_us, Observation::Tls(t)));
    }

    /// Observations in packet-time order (stable for equal times).
    pub fn finish(mut self) -> Vec<Observation> {
        self.obs.sort_by_key(|(t, _)| *t);
        self.obs.into_iter().map(|(_, o)| o).collect()
    }
}

pub fn cert(subject: &str, issuer: &str, not_before: i64, not_after: i64) -> CertFacts {
    CertFacts {
        subject: subject.into(),
        issuer: issuer.into(),
        not_before,
        not_after,
        self_signed: subject == issuer,
        sha1: "00".repeat(20),
    }
}

pub const COMMON_JA4: &[&str] = &[
    "t13d1516h2_8daaf6152771_e5627efa2ab1",
    "t13d1517h2_8daaf6152771_b1ff8ab2d16f",
    "t13d1715h2_5b57614c22b0_3d5424432f57",
];

/// Ordinary traffic of `hosts` background clients over `hours`: bursty browsing to external
/// servers with names, DNS lookups of popular names, TLS with common fingerprints and valid
/// certificates.
pub fn background(s: &mut Stream, rng: &mut Rng, hosts: u16, hours: u64) {
    let end = T0 + hours * 3600 * S;
    for h in 0..hosts {
        let client = bg_client(h + 1);
        let ja4 = *rng.pick(COMMON_JA4);
        let mut t = T0 + rng.range(0, 600 * S);
        while t < end {
            // A browsing session: a burst of connections to a few sites, then a pause.
            let burst = rng.range(3, 25);
            for _ in 0..burst {
                let site = rng.range(1, 60) as u8;
                let name = POPULAR[site as usize % POPULAR.len()];
                let host = format!("www.{name}");
                t += (rng.exp(4.0) * S as f64) as u64 + 1;
                s.dns(client, RESOLVER, t, &host, 1, 0, 16);
                let dur = (rng.exp(20.0) * S as f64) as u64 + 1000;
                let inb = (rng.exp(200_000.0)) as u64 + 2000;
                let out = (rng.exp(3000.0)) as u64 + 500;
                s.flow(
                    client,
                    bg_server(site),
                    443,
                    t + 1000,
                    dur,
                    out,
                    inb,
                    Some(&host),
                );
                if rng.f64() < 0.3 {
                    let c = cert(
                        &format!("CN={host}"),
                        "CN=Public CA R3",
                        1_690_000_000,
                        1_720_000_000,
                    );
                    s.tls(
                        client,
                        bg_server(site),
                        443,
                        t + 2000,
                        Some(&host),
                        ja4,
                        Some(c),
                    );
                }
            }
            t += (rng.exp(1500.0) * S as f64) as u64;
        }
    }
}

/// Runs a stream through fresh detectors and returns every finding (finish included).
pub fn run(cfg: &DetectConfig, obs: &[Observation]) -> Vec<Finding> {
    let mut d = Detectors::new(cfg.clone());
    let mut out = Vec::new();
    for o in obs {
        d.observe(o, &mut out);
    }
    d.finish(&mut out);
    out
}

/// One evaluation case: what it is, which detector it is for, whether it should fire.
pub struct Scenario {
    pub name: &'static str,
    pub detector: &'static str,
    pub attack: bool,
    /// Outside what the detector is designed to catch (or a benign pattern it cannot tell
    /// from an attack): the outcome is measured and documented, not asserted.
    pub limit: bool,
    pub build: fn(&mut Stream, &mut Rng),
}

/// Whether the scenario's detector reported the scenario's host.
pub fn fired(findings: &[Finding], detector: &str) -> bool {
    findings
        .iter()
        .any(|f| f.detector == detector && f.src == ATTACKER)
}

/// Findings on background hosts (every one is a false positive).
pub fn background_findings(findings: &[Finding]) -> Vec<&Finding> {
    findings
        .iter()
        .filter(|f| matches!(f.src, IpAddr::V4(a) if a.octets()[..2] == [10, 1]))
        .collect()
}

/// Builds a scenario's stream (with background) for one seed.
pub fn stream(sc: &Scenario, seed: u64) -> Vec<Observation> {
    let mut rng = Rng::new(seed.wrapping_mul(1000) + sc.name.len() as u64);
    let mut s = Stream::new();
    background(&mut s, &mut rng, 25, 2);
    (sc.build)(&mut s, &mut rng);
    s.finish()
}

// ---- beacon ----

/// Connections every `period_s`, each gap `period * (1 + jitter * u)`, u uniform in [-1, 1]
/// (`symmetric`) or `period * (1 - jitter * u)`, u in [0, 1] (Cobalt Strike's sleep jitter).
fn beacon(s: &mut Stream, rng: &mut Rng, period_s: f64, jitter: f64, symmetric: bool, hours: f64) {
    let end = T0 as f64 + hours * 3600.0 * S as f64;
    let mut t = T0 as f64 + rng.range(0, 60) as f64 * S as f64;
    let server = ext(10);
    while t < end {
        let size = 380 + rng.range(0, 40);
        s.flow(
            ATTACKER,
            server,
            443,
            t as u64,
            300_000,
            size,
            900 + rng.range(0, 200),
            Some("cdn.update-check.example"),
        );
        let u = rng.f64();
        let factor = if symmetric {
            1.0 + jitter * (2.0 * u - 1.0)
        } else {
            1.0 - jitter * u
        };
        t += period_s * factor * S as f64;
    }
}

pub fn beacon_60s(s: &mut Stream, r: &mut Rng) {
    beacon(s, r, 60.0, 0.0, true, 2.0)
}
pub fn beacon_jitter30(s: &mut Stream, r: &mut Rng) {
    beacon(s, r, 300.0, 0.3, true, 6.0)
}
pub fn beacon_jitter50(s: &mut Stream, r: &mut Rng) {
    beacon(s, r, 120.0, 0.5, true, 4.0)
}
pub fn beacon_cs_jitter50(s: &mut Stream, r: &mut Rng) {
    beacon(s, r, 120.0, 0.5, false, 4.0)
}
pub fn beacon_slow(s: &mut Stream, r: &mut Rng) {
    beacon(s, r, 600.0, 0.1, true, 8.0)
}

pub fn beacon_jitter80(s: &mut Stream, r: &mut Rng) {
    beacon(s, r, 120.0, 0.8, true, 4.0)
}

pub fn beacon_few(s: &mut Stream, r: &mut Rng) {
    beacon(s, r, 600.0, 0.1, true, 10.0 * 600.0 / 3600.0 - 0.01)
}

/// A software update check every hour on the hour (plus a few seconds), for a day: a
/// benign timer, which timing alone cannot tell from a beacon.
pub fn update_check(s: &mut Stream, rng: &mut Rng) {
    for i in 0..24 {
        let at = T0 + i * 3600 * S + rng.range(0, 5 * S);
        s.flow(
            ATTACKER,
            ext(25),
            443,
            at,
            S,
            700,
            3000,
            Some("update.vendor.example"),
        );
    }
}

/// A person using one external site: sessions of bursts, long random pauses.
pub fn browsing_one_site(s: &mut Stream, rng: &mut Rng) {
    let mut t = T0;
    let end = T0 + 6 * 3600 * S;
    while t < end {
        for _ in 0..rng.range(2, 15) {
            t += (rng.exp(8.0) * S as f64) as u64 + S / 10;
            let inb = rng.exp(300_000.0) as u64 + 1000;
            s.flow(
                ATTACKER,
                ext(20),
                443,
                t,
                2 * S,
                500 + rng.range(0, 5000),
                inb,
                Some("news.example"),
            );
        }
        t += (rng.exp(1200.0) * S as f64) as u64;
    }
}

/// Internal periodic traffic (monitoring poll, NTP to an internal server).
pub fn periodic_internal(s: &mut Stream, rng: &mut Rng) {
    let mut t = T0;
    while t < T0 + 4 * 3600 * S {
        s.flow(ATTACKER, PEER_INTERNAL, 8080, t, 100_000, 300, 2000, None);
        t += 60 * S + rng.range(0, S / 10);
    }
}

/// NTP polls to an external server every 64 s (UDP 123, excluded by default).
pub fn ntp_external(s: &mut Stream, _rng: &mut Rng) {
    let mut t = T0;
    while t < T0 + 4 * 3600 * S {
        let f = s.summary(ATTACKER, ext(30), 123, 17, t, 50_000, 90, 90);
        s.end(f);
        t += 64 * S;
    }
}

// ---- dns tunnel ----

fn tunnel(
    s: &mut Stream,
    rng: &mut Rng,
    every_ms: u64,
    label_len: (u64, u64),
    labels: u64,
    alphabet: &[u8],
    qtype: u16,
    minutes: u64,
) {
    let mut t = T0 + rng.range(0, 60) * S;
    let end = t + minutes * 60 * S;
    while t < end {
        let mut name = String::new();
        for _ in 0..labels {
            let len = rng.range(label_len.0, label_len.1 + 1) as usize;
            name.push_str(&rng.string(alphabet, len));
            name.push('.');
        }
        name.push_str("t.badtunnel.example.net");
        let ans = if qtype == 16 { 180 } else { 64 };
        s.dns(ATTACKER, RESOLVER, t, &name, qtype, 0, ans);
        t += every_ms * 1000 + rng.range(0, every_ms * 200);
    }
}

pub fn tunnel_one_per_min(s: &mut Stream, r: &mut Rng) {
    tunnel(s, r, 60_000, (30, 40), 1, BASE32, 1, 120)
}

pub fn iodine_like(s: &mut Stream, r: &mut Rng) {
    tunnel(s, r, 2000, (50, 63), 3, BASE32, 10, 30)
}
pub fn dnscat_like(s: &mut Stream, r: &mut Rng) {
    tunnel(s, r, 1000, (30, 60), 2, HEX, 5, 20)
}
pub fn tunnel_low_slow(s: &mut Stream, r: &mut Rng) {
    tunnel(s, r, 20_000, (24, 32), 1, BASE32, 1, 60)
}
pub fn txt_tunnel_short(s: &mut Stream, r: &mut Rng) {
    tunnel(s, r, 5000, (8, 8), 1, HEX, 16, 20)
}

/// An internal resolver forwarding everyone's lookups: many names, all ordinary.
pub fn busy_resolver(s: &mut Stream, rng: &mut Rng) {
    let prefixes = [
        "www", "mail", "api", "cdn", "static", "img", "login", "m", "app", "docs",
    ];
    let mut t = T0;
    for i in 0..6000u64 {
        t += rng.range(100_000, 600_000);
        let dom = rng.pick(POPULAR);
        let name = match i % 3 {
            0 => format!("{}.{dom}", rng.pick(&prefixes)),
            1 => format!("{}{}.{dom}", rng.pick(&prefixes), rng.range(1, 40)),
            _ => format!("{}.{}.{dom}", rng.pick(WORDS), rng.pick(&prefixes)),
        };
        s.dns(
            ATTACKER,
            ext(53),
            t,
            &name,
            if i % 2 == 0 { 1 } else { 28 },
            0,
            16,
        );
    }
}

/// CDN edge names: thousands of distinct, short, structured subdomains.
pub fn cdn_subdomains(s: &mut Stream, rng: &mut Rng) {
    let mut t = T0;
    for i in 0..3000u64 {
        t += rng.range(200_000, 1_000_000);
        let name = match i % 3 {
            0 => format!("e{}.a.akamaiedge.net", rng.range(1000, 99_999)),
            1 => format!(
                "rr{}---sn-{}.googlevideo.com",
                rng.range(1, 9),
                rng.string(ALNUM, 8)
            ),
            _ => format!("d{}.cloudfront.net", rng.string(ALNUM, 13)),
        };
        s.dns(ATTACKER, RESOLVER, t, &name, 1, 0, 16);
    }
}

/// Reverse lookups of many IPv6 addresses (32 nibble labels each).
pub fn reverse_lookups(s: &mut Stream, rng: &mut Rng) {
    let mut t = T0;
    for _ in 0..800u64 {
        t += rng.range(200_000, 2_000_000);
        let nibbles: Vec<String> = (0..32).map(|_| rng.string(HEX, 1)).collect();
        s.dns(
            ATTACKER,
            RESOLVER,
            t,
            &format!("{}.ip6.arpa", nibbles.join(".")),
            12,
            3,
            0,
        );
    }
}

// ---- dga ----

fn dga_names(s: &mut Stream, rng: &mut Rng, n: u64, gap_s: u64, alphabet: &[u8], len: (u64, u64)) {
    let tlds = ["com", "net", "org", "info", "biz"];
    let mut t = T0 + rng.range(0, 600) * S;
    for _ in 0..n {
        let n = rng.range(len.0, len.1 + 1) as usize;
        let label = rng.string(alphabet, n);
        let name = format!("{label}.{}", rng.pick(&tlds));
        s.dns(ATTACKER, RESOLVER, t, &name, 1, 3, 0);
        t += rng.range(gap_s * S / 2, gap_s * S * 3 / 2 + 1);
    }
}

pub fn dga_letters(s: &mut Stream, r: &mut Rng) {
    dga_names(s, r, 60, 5, LOWER, (10, 16))
}
pub fn dga_alnum(s: &mut Stream, r: &mut Rng) {
    dga_names(s, r, 40, 8, ALNUM, (8, 14))
}
pub fn dga_slow(s: &mut Stream, r: &mut Rng) {
    dga_names(s, r, 14, 240, LOWER, (9, 14))
}

pub fn dga_short(s: &mut Stream, r: &mut Rng) {
    dga_names(s, r, 40, 8, LOWER, (6, 8))
}

/// Suppobox/Matsnu-style: two dictionary words per name.
pub fn dga_dictionary(s: &mut Stream, rng: &mut Rng) {
    let mut t = T0;
    for _ in 0..40 {
        let name = format!("{}{}.net", rng.pick(WORDS), rng.pick(WORDS));
        s.dns(ATTACKER, RESOLVER, t, &name, 1, 3, 0);
        t += rng.range(3 * S, 10 * S);
    }
}

/// Mistyped or expired word-like names, NXDOMAIN, many of them.
pub fn nx_words(s: &mut Stream, rng: &mut Rng) {
    let tlds = ["com", "net", "org", "co.uk"];
    let mut t = T0;
    for _ in 0..40 {
        let name = format!(
            "{}{}{}.{}",
            rng.pick(WORDS),
            rng.pick(WORDS),
            if rng.f64() < 0.3 { "s" } else { "" },
            rng.pick(&tlds)
        );
        s.dns(ATTACKER, RESOLVER, t, &name, 1, 3, 0);
        t += rng.range(5 * S, 60 * S);
    }
}

/// Popular names misspelled or under a search domain, NXDOMAIN.
pub fn nx_popular_and_search_domain(s: &mut Stream, rng: &mut Rng) {
    let mut t = T0;
    for i in 0..40 {
        let name = if i % 2 == 0 {
            format!("{}.corp.example.com", rng.pick(POPULAR).replace('.', "-"))
        } else {
            format!("wpad.{}", rng.pick(POPULAR))
        };
        s.dns(ATTACKER, RESOLVER, t, &name, 1, 3, 0);
        t += rng.range(5 * S, 60 * S);
    }
}

/// Chrome's intranet-redirect probes: random single-label names, on every network change.
pub fn chrome_probes(s: &mut Stream, rng: &mut Rng) {
    let mut t = T0;
    for _ in 0..8 {
        for _ in 0..3 {
            let len = rng.range(7, 16) as usize;
            let name = rng.string(LOWER, len);
            s.dns(ATTACKER, RESOLVER, t, &name, 1, 3, 0);
            t += S / 10;
        }
        t += 300 * S;
    }
}

// ---- scan ----

pub fn scan_vertical_fast(s: &mut Stream, rng: &mut Rng) {
    let mut t = T0 + 600 * S;
    for port in 1..=1000u16 {
        s.probe(ATTACKER, PEER_INTERNAL, port, t, rng.f64() < 0.9);
        t += 10_000;
    }
}

pub fn scan_horizontal(s: &mut Stream, rng: &mut Rng) {
    let mut t = T0 + 600 * S;
    for host in 1..=254u8 {
        let target = IpAddr::V4(Ipv4Addr::new(10, 66, 1, host));
        s.probe(ATTACKER, target, 445, t, rng.f64() < 0.2);
        t += 50_000;
    }
}

pub fn scan_vertical_slow(s: &mut Stream, rng: &mut Rng) {
    let mut t = T0;
    for i in 0..48u16 {
        s.probe(ATTACKER, PEER_INTERNAL, 1000 + i * 7, t, rng.f64() < 0.5);
        t += 600 * S + rng.range(0, 60 * S);
    }
}

pub fn scan_horizontal_slow(s: &mut Stream, rng: &mut Rng) {
    let mut t = T0;
    for host in 1..=40u8 {
        let target = IpAddr::V4(Ipv4Addr::new(10, 66, 2, host));
        s.probe(ATTACKER, target, 22, t, false);
        t += 480 * S + rng.range(0, 60 * S);
    }
}

/// A busy client: hundreds of answered connections, a few failures on different ports.
pub fn busy_client(s: &mut Stream, rng: &mut Rng) {
    let mut t = T0;
    for i in 0..400u32 {
        t += rng.range(S, 20 * S);
        s.flow(
            ATTACKER,
            ext((i % 200) as u8 + 1),
            443,
            t,
            2 * S,
            900,
            40_000,
            None,
        );
        if i % 100 == 0 {
            s.probe(ATTACKER, ext((i % 200) as u8 + 1), 443, t + S, false);
        }
    }
    s.probe(ATTACKER, ext(7), 993, t + 10 * S, true);
}

/// A web filter resetting connections to eight different sites within an hour.
pub fn blocked_sites(s: &mut Stream, rng: &mut Rng) {
    let mut t = T0;
    for i in 0..8u8 {
        s.probe(ATTACKER, ext(100 + i), 443, t, true);
        t += rng.range(60 * S, 400 * S);
    }
}

/// Peer-to-peer: unanswered UDP to many peers, each on its own random port.
pub fn p2p_udp(s: &mut Stream, rng: &mut Rng) {
    let mut t = T0;
    for i in 0..300u32 {
        t += rng.range(S / 2, 5 * S);
        let peer = IpAddr::V4(Ipv4Addr::new(
            203,
            0,
            (i / 250) as u8 + 113,
            (i % 250) as u8 + 1,
        ));
        let port = rng.range(10_000, 60_000) as u16;
        let f = s.summary(
            ATTACKER,
            peer,
            port,
            17,
            t,
            S,
            120,
            if i % 3 == 0 { 120 } else { 0 },
        );
        s.end(f);
    }
}

// ---- exfil ----

pub fn exfil_fast(s: &mut Stream, rng: &mut Rng) {
    let mut t = T0 + 300 * S;
    for _ in 0..10 {
        s.flow(
            ATTACKER,
            ext(40),
            443,
            t,
            120 * S,
            20_000_000 + rng.range(0, 1_000_000),
            400_000,
            Some("upload.example"),
        );
        t += 150 * S;
    }
}

pub fn exfil_slow(s: &mut Stream, rng: &mut Rng) {
    let mut t = T0;
    for _ in 0..120 {
        s.flow(
            ATTACKER,
            ext(41),
            443,
            t,
            10 * S,
            1_000_000 + rng.range(0, 50_000),
            20_000,
            None,
        );
        t += 25 * S;
    }
}

pub fn exfil_small(s: &mut Stream, rng: &mut Rng) {
    let mut t = T0;
    for _ in 0..6 {
        s.flow(
            ATTACKER,
            ext(44),
            443,
            t,
            60 * S,
            10_000_000 + rng.range(0, 100_000),
            200_000,
            None,
        );
        t += 300 * S;
    }
}

pub fn big_download(s: &mut Stream, rng: &mut Rng) {
    let mut t = T0;
    for _ in 0..5 {
        s.flow(
            ATTACKER,
            ext(42),
            443,
            t,
            300 * S,
            2_000_000 + rng.range(0, 100_000),
            100_000_000,
            Some("downloads.example"),
        );
        t += 400 * S;
    }
}

pub fn video_call(s: &mut Stream, rng: &mut Rng) {
    let f = s.summary(
        ATTACKER,
        ext(43),
        3478,
        17,
        T0,
        3000 * S,
        160_000_000 + rng.range(0, 1000),
        170_000_000,
    );
    s.end(f);
}

// ---- long connections ----

fn open_at(s: &mut Stream, f: &FlowSummary, after_s: u64) {
    let mut o = f.clone();
    o.last_us = o.start_us + after_s * S;
    s.obs.push((o.last_us, Observation::FlowOpen(o)));
}

pub fn long_open(s: &mut Stream, _rng: &mut Rng) {
    let mut f = s.summary(
        ATTACKER,
        ext(50),
        8443,
        6,
        T0,
        5 * 3600 * S,
        3_000_000,
        2_000_000,
    );
    f.app_proto = Some("tls");
    open_at(s, &f, 3600);
    open_at(s, &f, 14_400);
    s.end(f);
}

pub fn long_ended(s: &mut Stream, _rng: &mut Rng) {
    let f = s.summary(
        ATTACKER,
        ext(51),
        443,
        6,
        T0,
        9 * 3600 * S,
        3_000_000,
        2_000_000,
    );
    s.end(f);
}

pub fn ssh_internal(s: &mut Stream, _rng: &mut Rng) {
    let mut f = s.summary(
        ATTACKER,
        PEER_INTERNAL,
        22,
        6,
        T0,
        10 * 3600 * S,
        5_000_000,
        9_000_000,
    );
    f.app_proto = Some("ssh");
    open_at(s, &f, 3600);
    open_at(s, &f, 14_400);
    open_at(s, &f, 28_800);
    s.end(f);
}

pub fn short_flows(s: &mut Stream, rng: &mut Rng) {
    for i in 0..50 {
        s.flow(
            ATTACKER,
            ext(52),
            443,
            T0 + i * 60 * S,
            rng.range(S, 1800 * S),
            1000,
            50_000,
            None,
        );
    }
}

// ---- port mismatch ----

fn app(s: &mut Stream, server: IpAddr, port: u16, proto: u8, app_proto: &'static str, at: u64) {
    let mut f = s.summary(ATTACKER, server, port, proto, at, 5 * S, 3000, 4000);
    f.app_proto = Some(app_proto);
    s.end(f);
}

pub fn ssh_on_443(s: &mut Stream, _r: &mut Rng) {
    app(s, ext(60), 443, 6, "ssh", T0 + 100 * S)
}
pub fn http_on_53(s: &mut Stream, _r: &mut Rng) {
    app(s, ext(61), 53, 6, "http", T0 + 100 * S)
}
pub fn tls_on_4444(s: &mut Stream, _r: &mut Rng) {
    app(s, ext(62), 4444, 6, "tls", T0 + 100 * S)
}

pub fn usual_ports(s: &mut Stream, _r: &mut Rng) {
    let cases: [(u16, u8, &'static str); 7] = [
        (443, 6, "tls"),
        (8080, 6, "http"),
        (80, 6, "http"),
        (53, 17, "dns"),
        (443, 17, "quic"),
        (993, 6, "tls"),
        (22, 6, "ssh"),
    ];
    for (i, (port, proto, a)) in cases.iter().enumerate() {
        app(
            s,
            ext(70 + i as u8),
            *port,
            *proto,
            a,
            T0 + (i as u64 + 1) * 10 * S,
        );
    }
}

// ---- tls anomalies ----

const VALID: (i64, i64) = (1_690_000_000, 1_720_000_000);

pub fn tls_self_signed(s: &mut Stream, _r: &mut Rng) {
    let c = cert("CN=localhost", "CN=localhost", VALID.0, VALID.1);
    s.tls(
        ATTACKER,
        ext(80),
        443,
        T0 + 900 * S,
        Some("c2.example"),
        COMMON_JA4[0],
        Some(c),
    );
}

pub fn tls_expired(s: &mut Stream, _r: &mut Rng) {
    let c = cert(
        "CN=old.example",
        "CN=Public CA R3",
        1_600_000_000,
        1_650_000_000,
    );
    s.tls(
        ATTACKER,
        ext(81),
        443,
        T0 + 900 * S,
        Some("old.example"),
        COMMON_JA4[1],
        Some(c),
    );
}

pub fn tls_no_sni(s: &mut Stream, _r: &mut Rng) {
    s.tls(
        ATTACKER,
        ext(82),
        443,
        T0 + 900 * S,
        None,
        COMMON_JA4[0],
        None,
    );
}

pub fn tls_rare_ja4(s: &mut Stream, _r: &mut Rng) {
    for i in 0..5 {
        let at = T0 + (3600 + i * 600) * S;
        s.tls(
            ATTACKER,
            ext(83),
            443,
            at,
            Some("cdn.example"),
            "t12d190800_d83cc789557e_7af1ed941c26",
            None,
        );
    }
}

pub fn tls_rare_twice(s: &mut Stream, _r: &mut Rng) {
    for i in 0..2 {
        let at = T0 + (3600 + i * 600) * S;
        s.tls(
            ATTACKER,
            ext(85),
            443,
            at,
            Some("cdn.example"),
            "t12d190800_d83cc789557e_7af1ed941c26",
            None,
        );
    }
}

/// Ordinary TLS from the look-alike host, and an internal appliance's self-signed cert.
pub fn tls_ordinary(s: &mut Stream, _r: &mut Rng) {
    for i in 0..10 {
        let c = cert("CN=www.example", "CN=Public CA R3", VALID.0, VALID.1);
        s.tls(
            ATTACKER,
            ext(84),
            443,
            T0 + (600 + i * 300) * S,
            Some("www.example"),
            COMMON_JA4[i as usize % 3],
            Some(c),
        );
    }
    let printer = cert("CN=printer", "CN=printer", VALID.0, VALID.1);
    s.tls(
        ATTACKER,
        PEER_INTERNAL,
        443,
        T0 + 700 * S,
        None,
        "t12d0000_printerclient_000000000000",
        Some(printer),
    );
}

pub fn scenarios() -> Vec<Scenario> {
    macro_rules! sc {
        ($name:literal, $det:literal, $attack:expr, $f:path) => {
            Scenario {
                name: $name,
                detector: $det,
                attack: $attack,
                limit: false,
                build: $f,
            }
        };
        ($name:literal, $det:literal, $attack:expr, $f:path, limit) => {
            Scenario {
                name: $name,
                detector: $det,
                attack: $attack,
                limit: true,
                build: $f,
            }
        };
    }
    vec![
        sc!("beacon 60 s, no jitter", "beacon", true, beacon_60s),
        sc!("beacon 5 min, 30% jitter", "beacon", true, beacon_jitter30),
        sc!("beacon 2 min, 50% jitter", "beacon", true, beacon_jitter50),
        sc!(
            "beacon 2 min, Cobalt Strike 50% jitter",
            "beacon",
            true,
            beacon_cs_jitter50
        ),
        sc!("beacon 10 min over 8 h", "beacon", true, beacon_slow),
        sc!("browsing one site", "beacon", false, browsing_one_site),
        sc!("periodic internal poll", "beacon", false, periodic_internal),
        sc!("NTP to external server", "beacon", false, ntp_external),
        sc!("iodine-like NULL tunnel", "dns_tunnel", true, iodine_like),
        sc!(
            "dnscat-like hex CNAME tunnel",
            "dns_tunnel",
            true,
            dnscat_like
        ),
        sc!(
            "low-and-slow tunnel 1 q/20 s",
            "dns_tunnel",
            true,
            tunnel_low_slow
        ),
        sc!(
            "TXT tunnel, short labels",
            "dns_tunnel",
            true,
            txt_tunnel_short
        ),
        sc!("busy resolver", "dns_tunnel", false, busy_resolver),
        sc!("CDN subdomains", "dns_tunnel", false, cdn_subdomains),
        sc!("IPv6 reverse lookups", "dns_tunnel", false, reverse_lookups),
        sc!("DGA random letters", "dga", true, dga_letters),
        sc!("DGA alphanumeric", "dga", true, dga_alnum),
        sc!("DGA slow (14 in 1 h)", "dga", true, dga_slow),
        sc!("NXDOMAIN word-like names", "dga", false, nx_words),
        sc!(
            "NXDOMAIN popular/search domain",
            "dga",
            false,
            nx_popular_and_search_domain
        ),
        sc!("Chrome random probes", "dga", false, chrome_probes),
        sc!("vertical scan 1000 ports", "scan", true, scan_vertical_fast),
        sc!("horizontal scan /24 on 445", "scan", true, scan_horizontal),
        sc!(
            "vertical scan 1 port/10 min",
            "scan",
            true,
            scan_vertical_slow
        ),
        sc!(
            "horizontal scan 1 host/8 min",
            "scan",
            true,
            scan_horizontal_slow
        ),
        sc!("busy client, a few failures", "scan", false, busy_client),
        sc!("P2P unanswered UDP", "scan", false, p2p_udp),
        sc!("upload 200 MB in 25 min", "exfil", true, exfil_fast),
        sc!("upload 120 MB in 1 MB pieces", "exfil", true, exfil_slow),
        sc!("download 500 MB", "exfil", false, big_download),
        sc!("video call 160 MB each way", "exfil", false, video_call),
        sc!("open 5 h to external", "long_conn", true, long_open),
        sc!("ended after 9 h", "long_conn", true, long_ended),
        sc!("internal SSH 10 h", "long_conn", false, ssh_internal),
        sc!("short flows", "long_conn", false, short_flows),
        sc!("SSH on 443", "port_mismatch", true, ssh_on_443),
        sc!("HTTP on 53", "port_mismatch", true, http_on_53),
        sc!("TLS on 4444", "port_mismatch", true, tls_on_4444),
        sc!("usual ports", "port_mismatch", false, usual_ports),
        sc!("self-signed external", "tls_anomaly", true, tls_self_signed),
        sc!("expired certificate", "tls_anomaly", true, tls_expired),
        sc!("no SNI to external IP", "tls_anomaly", true, tls_no_sni),
        sc!("rare JA4 from one host", "tls_anomaly", true, tls_rare_ja4),
        sc!(
            "ordinary TLS, internal printer",
            "tls_anomaly",
            false,
            tls_ordinary
        ),
        // Documented limits: measured, not asserted.
        sc!(
            "beacon 2 min, 80% jitter",
            "beacon",
            true,
            beacon_jitter80,
            limit
        ),
        sc!(
            "beacon, 10 connections only",
            "beacon",
            true,
            beacon_few,
            limit
        ),
        sc!(
            "hourly update check (benign timer)",
            "beacon",
            false,
            update_check,
            limit
        ),
        sc!(
            "tunnel 1 query/min",
            "dns_tunnel",
            true,
            tunnel_one_per_min,
            limit
        ),
        sc!("DGA short labels (6-8)", "dga", true, dga_short, limit),
        sc!(
            "dictionary DGA (word pairs)",
            "dga",
            true,
            dga_dictionary,
            limit
        ),
        sc!(
            "8 blocked HTTPS sites in 1 h",
            "scan",
            false,
            blocked_sites,
            limit
        ),
        sc!("upload 60 MB", "exfil", true, exfil_small, limit),
        sc!(
            "rare JA4, 2 sightings",
            "tls_anomaly",
            true,
            tls_rare_twice,
            limit
        ),
    ]
}
