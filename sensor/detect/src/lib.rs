//! tapir-detect: streaming behaviour detectors driven by packet time.
//!
//! The engine's workers turn what they see into compact [`Observation`]s (a flow ended, a flow
//! has been open a long time, a DNS answer, a TLS handshake, an application protocol
//! identified); one [`Detectors`] instance, fed by every worker, turns them into [`Finding`]s.
//! Detectors never see packets, so their state is per host pair or per domain, bounded by the
//! configuration, and the same whether the observations came from a replay or a live link.
//!
//! Time is the observations' own (`ts_us`, microseconds since the epoch); observations from
//! several workers arrive slightly out of order, so windows use the largest time seen.
//!
//! | detector | input | finding ids |
//! |---|---|---|
//! | `beacon` | `FlowEnd` | 1630001 (by IP), 1630002 (by SNI/Host) |
//! | `dns_tunnel` | `Dns` | 1630010 (subdomains), 1630011 (TXT/NULL) |
//! | `dga` | `Dns` (NXDOMAIN) | 1630020 |
//! | `scan` | `FlowEnd` (failed) | 1630030 (vertical), 1630031 (horizontal) |
//! | `exfil` | `FlowEnd` | 1630040 |
//! | `long_conn` | `FlowOpen`, `FlowEnd` | 1630050 |
//! | `port_mismatch` | `FlowEnd` (app_proto) | 1630060 (off usual ports), 1630061 (wrong protocol on a fixed port) |
//! | `tls_anomaly` | `Tls` | 1630070 self-signed, 1630071 validity, 1630072 no SNI, 1630073 rare JA4/JA3 |

#![forbid(unsafe_code)]

mod beacon;
pub mod config;
mod dga;
mod dns_tunnel;
mod domain;
mod exfil;
mod home;
pub mod kinds;
mod lexical;
mod long_conn;
mod lru;
pub mod obs;
mod port_mismatch;
mod ports;
mod rita;
mod scan;
mod sketch;
mod tls_anomaly;
mod window;

pub use crate::config::{
    BeaconConfig, DetectConfig, DgaConfig, DnsTunnelConfig, ExfilConfig, LongConnConfig,
    PortMismatchConfig, ScanConfig, Scope, TlsAnomalyConfig,
};
pub use crate::obs::{CertFacts, DnsObs, Finding, FlowSummary, Observation, TlsObs};

use crate::beacon::{Beacon, Times};
use crate::dga::Dga;
use crate::dns_tunnel::DnsTunnel;
use crate::exfil::Exfil;
use crate::home::HomeNet;
use crate::long_conn::LongConn;
use crate::port_mismatch::PortMismatch;
use crate::scan::Scan;
use crate::tls_anomaly::TlsAnomaly;

/// Idle keys are swept at most this often (packet time): sweeping pops expired entries from
/// the least recent end of each table, so it costs only what it frees.
const SWEEP_EVERY_US: u64 = 10_000_000;

/// Every detector, fed in observation order. Memory is bounded by [`DetectConfig`]:
/// [`Detectors::state_bytes`] stays below [`DetectConfig::state_bound_bytes`].
pub struct Detectors {
    cfg: DetectConfig,
    home: HomeNet,
    now_us: u64,
    first_us: Option<u64>,
    next_sweep_us: u64,
    beacon: Beacon,
    dns_tunnel: DnsTunnel,
    dga: Dga,
    scan: Scan,
    exfil: Exfil,
    long_conn: LongConn,
    port_mismatch: PortMismatch,
    tls: TlsAnomaly,
}

impl Detectors {
    /// Builds every detector. Check the configuration with [`DetectConfig::validate`] first:
    /// values it refuses are not rejected here, only kept from causing harm.
    pub fn new(mut cfg: DetectConfig) -> Self {
        cfg.beacon.ring_size = cfg.beacon.ring_size.max(4);
        cfg.max_flow_ids = cfg.max_flow_ids.max(1);
        Detectors {
            home: HomeNet::new(&cfg.home_net),
            now_us: 0,
            first_us: None,
            next_sweep_us: 0,
            beacon: Beacon::new(&cfg.beacon),
            dns_tunnel: DnsTunnel::new(&cfg.dns_tunnel),
            dga: Dga::new(&cfg.dga),
            scan: Scan::new(&cfg.scan),
            exfil: Exfil::new(&cfg.exfil),
            long_conn: LongConn::new(&cfg.long_conn),
            port_mismatch: PortMismatch::new(&cfg.port_mismatch),
            tls: TlsAnomaly::new(&cfg.tls_anomaly),
            cfg,
        }
    }

    pub fn config(&self) -> &DetectConfig {
        &self.cfg
    }

    /// The largest packet time seen so far (µs).
    pub fn now_us(&self) -> u64 {
        self.now_us
    }

    fn advance(&mut self, t: u64) {
        self.now_us = self.now_us.max(t);
        self.first_us = Some(self.first_us.map_or(t, |f| f.min(t)));
    }

    fn times(&self) -> Times {
        Times {
            now_us: self.now_us,
            first_us: self.first_us.unwrap_or(self.now_us),
            max_ids: self.cfg.max_flow_ids,
        }
    }

    /// Feeds one observation; findings it completes are appended to `out`.
    pub fn observe(&mut self, obs: &Observation, out: &mut Vec<Finding>) {
        if !self.cfg.enabled {
            return;
        }
        let t = match obs {
            Observation::FlowEnd(f) | Observation::FlowOpen(f) => f.last_us.max(f.start_us),
            Observation::Dns(d) => d.ts_us,
            Observation::Tls(t) => t.ts_us,
        };
        self.advance(t);
        let now = self.now_us;
        let ids = self.cfg.max_flow_ids;
        let c = &self.cfg;
        let home = &self.home;
        match obs {
            Observation::FlowEnd(f) => {
                if c.beacon.enabled {
                    let times = Times {
                        now_us: now,
                        first_us: self.first_us.unwrap_or(now),
                        max_ids: ids,
                    };
                    self.beacon.flow_end(f, &c.beacon, home, times, out);
                }
                if c.scan.enabled {
                    self.scan.flow_end(f, &c.scan, home, now, ids, out);
                }
                if c.exfil.enabled {
                    self.exfil.flow_end(f, &c.exfil, home, now, ids, out);
                }
                if c.long_conn.enabled {
                    self.long_conn.flow(f, false, &c.long_conn, home, now, out);
                }
                if c.port_mismatch.enabled {
                    self.port_mismatch
                        .flow_end(f, &c.port_mismatch, home, now, out);
                }
            }
            Observation::FlowOpen(f) => {
                if c.long_conn.enabled {
                    self.long_conn.flow(f, true, &c.long_conn, home, now, out);
                }
            }
            Observation::Dns(d) => {
                if c.dns_tunnel.enabled {
                    self.dns_tunnel.dns(d, &c.dns_tunnel, home, now, ids, out);
                }
                if c.dga.enabled {
                    self.dga.dns(d, &c.dga, home, now, ids, out);
                }
            }
            Observation::Tls(t) => {
                if c.tls_anomaly.enabled {
                    self.tls.tls(t, &c.tls_anomaly, home, now, out);
                }
            }
        }
        self.maybe_sweep();
    }

    /// Advances packet time without an observation (windows close, idle keys are freed).
    pub fn tick(&mut self, now_us: u64, _out: &mut Vec<Finding>) {
        if !self.cfg.enabled {
            return;
        }
        self.now_us = self.now_us.max(now_us);
        self.maybe_sweep();
    }

    fn maybe_sweep(&mut self) {
        if self.now_us < self.next_sweep_us {
            return;
        }
        self.next_sweep_us = self.now_us.saturating_add(SWEEP_EVERY_US);
        let (c, now) = (&self.cfg, self.now_us);
        self.beacon.sweep(&c.beacon, now);
        self.dns_tunnel.sweep(&c.dns_tunnel, now);
        self.dga.sweep(&c.dga, now);
        self.scan.sweep(&c.scan, now);
        self.exfil.sweep(&c.exfil, now);
    }

    /// The input ended: final scores (beacons over the whole capture) are reported.
    pub fn finish(&mut self, out: &mut Vec<Finding>) {
        if !self.cfg.enabled {
            return;
        }
        let times = self.times();
        if self.cfg.beacon.enabled {
            self.beacon.finish(&self.cfg.beacon, times, out);
        }
        if self.cfg.dns_tunnel.enabled {
            self.dns_tunnel
                .finish(&self.cfg.dns_tunnel, self.now_us, out);
        }
    }

    /// Keys tracked now, all tables together (pairs, domains, clients, flows, fingerprints).
    pub fn tracked_keys(&self) -> usize {
        self.beacon.len()
            + self.dns_tunnel.len()
            + self.dga.len()
            + self.scan.len()
            + self.exfil.len()
            + self.long_conn.len()
            + self.port_mismatch.len()
            + self.tls.len()
    }

    /// Approximate bytes of state held now (tables, rings, sketches, key text).
    pub fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.cfg.home_net.len() * 32
            + self.beacon.state_bytes()
            + self.dns_tunnel.state_bytes()
            + self.dga.state_bytes()
            + self.scan.state_bytes()
            + self.exfil.state_bytes()
            + self.long_conn.state_bytes()
            + self.port_mismatch.state_bytes()
            + self.tls.state_bytes()
    }
}

/// [`DetectConfig::state_bound_bytes`].
pub(crate) fn bound_bytes(c: &DetectConfig) -> usize {
    let ids = c.max_flow_ids.max(1);
    std::mem::size_of::<Detectors>()
        + c.home_net.len() * 32
        + Beacon::bound_bytes(&c.beacon, ids)
        + DnsTunnel::bound_bytes(&c.dns_tunnel, ids)
        + Dga::bound_bytes(&c.dga, ids)
        + Scan::bound_bytes(&c.scan, ids)
        + Exfil::bound_bytes(&c.exfil, ids)
        + LongConn::bound_bytes(&c.long_conn)
        + PortMismatch::bound_bytes(&c.port_mismatch)
        + TlsAnomaly::bound_bytes(&c.tls_anomaly)
        // Beacon's scratch buffers: four rings' worth of f64.
        + 4 * c.beacon.ring_size.max(4) * 8
}
