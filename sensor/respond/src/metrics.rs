//! Counters of the responder, as a plain snapshot struct (serialisable) for whoever exports
//! them (the Prometheus endpoint, `tapir block list --json`, the end-of-run line).

use std::collections::BTreeMap;

use serde::Serialize;

/// Pushes of one backend.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PushCounts {
    /// Successful calls that changed something (adds, deletes, renewals, repairs).
    pub ok: u64,
    /// Failed calls (each is retried with backoff).
    pub error: u64,
    /// Elements added or renewed, and removed, over all successful calls.
    pub elements_added: u64,
    pub elements_removed: u64,
    /// Differences a reconcile found between the backend's actual set and the desired one.
    pub drift_repaired: u64,
    /// Up (last call succeeded) or down (being retried).
    pub up: bool,
    pub last_error: Option<String>,
}

/// Everything counted since start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MetricsSnapshot {
    pub dry_run: bool,
    /// Alert lines the tap read, those a rule matched, and matched ones without an address
    /// of the kind the rule blocks.
    pub alerts_seen: u64,
    pub alerts_matched: u64,
    pub alerts_no_target: u64,
    pub decisions_active: u64,
    pub decisions_created: u64,
    pub decisions_extended: u64,
    pub decisions_expired: u64,
    pub decisions_deleted: u64,
    /// Loaded from the journal at start.
    pub decisions_restored: u64,
    /// Requests a guard refused, by guard name (`home_net`, `resolver`, `never_block`,
    /// `protected_ranges`, `reserved`, `rate_limit`, `max_decisions`).
    pub blocked_by_guard: BTreeMap<String, u64>,
    /// By backend name.
    pub pushes: BTreeMap<String, PushCounts>,
    pub journal_errors: u64,
    pub audit_errors: u64,
}
