//! tapir-respond: turns alerts into block decisions and pushes them to firewalls, safely.
//!
//! ```text
//! EVE alert line --(RespondTap: policy)--> Request --(guards, rate limit, cap)--> Decision
//!     --(committer: expire, journal, publish)--> desired set --(one runner per backend)-->
//!     nftables | ipset+iptables | list file + HTTP | webhook
//! ```
//!
//! - [`policy`]: which alerts block which address, for how long.
//! - [`guard`]: what is never blocked (home_net, never-block list, public and system
//!   resolvers, protected ranges, reserved ranges), the rate limit.
//! - [`decision`]: one decision per network; repeats extend it.
//! - [`journal`] and [`audit`]: decisions survive restarts; every decision and push is logged.
//! - [`backend`]: the enforcement points, each retried with backoff while down and reconciled
//!   against its actual state.
//! - [`Responder`] (the running sensor) and [`Operator`] (`tapir block` commands) put these
//!   together.

#![forbid(unsafe_code)]

pub mod audit;
pub mod backend;
pub mod config;
pub mod decision;
pub mod exec;
#[doc(hidden)]
pub mod fuzzing;
pub mod guard;
pub mod journal;
pub mod metrics;
pub mod net;
pub mod operator;
pub mod policy;
pub mod responder;
pub mod time;

pub use config::{RawRespond, RespondConfig};
pub use decision::{Decision, Upsert};
pub use guard::GuardHit;
pub use metrics::{MetricsSnapshot, PushCounts};
pub use net::Net;
pub use operator::{OpError, Operator};
pub use policy::Request;
pub use responder::{RespondTap, Responder, ResponderHandle};

/// The responder could not start.
#[derive(Debug, thiserror::Error)]
pub enum RespondError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Io(String),
}

impl RespondError {
    pub(crate) fn io(e: std::io::Error) -> RespondError {
        RespondError::Io(e.to_string())
    }
}
