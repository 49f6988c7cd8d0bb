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

#![forbid(unsafe_code)]

pub mod config;
pub mod obs;

pub use crate::config::DetectConfig;
pub use crate::obs::{Finding, Observation};
