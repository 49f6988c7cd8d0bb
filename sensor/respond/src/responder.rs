//! The running responder: a tap that turns alerts into decisions, a committer thread that
//! expires them, journals them and publishes the desired set, and one runner thread per
//! backend that pushes it (retrying with backoff while down, reconciling periodically), so a
//! slow or dead backend never holds up the others or the sensor's writer thread.
//!
//! Memory: decisions are capped by `max_decisions`; pending changes are keyed by network
//! (so at most one per decision); refused-address throttling keeps at most
//! [`REFUSED_MEMORY`] entries; each backend keeps one copy of the desired set.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tapir_engine::tap::EventTap;

use crate::audit::Audit;
use crate::backend::{self, list, Backend, Desired, Entry, PushReport};
use crate::config::RespondConfig;
use crate::decision::{Decision, DecisionStore, Upsert};
use crate::fields;
use crate::guard::{GuardHit, Guards, RateLimit};
use crate::journal::Journal;
use crate::metrics::MetricsSnapshot;
use crate::net::Net;
use crate::policy::{AlertFacts, Policy, Request, Verdict};
use crate::time::{now_ms, rfc3339_ms};
use crate::RespondError;

/// How often the committer expires, journals and publishes when nothing wakes it.
const TICK: Duration = Duration::from_millis(200);

/// Refused networks remembered so a repeating alert is audited once a minute, not each time.
pub const REFUSED_MEMORY: usize = 4096;

/// Entry point for the sensor (`tapir replay`, `tapir run`).
pub struct Responder;

impl Responder {
    /// Builds the guards, restores the journal (expired decisions dropped), starts the
    /// backends (and the list's HTTP server), and returns the tap to put in the sensor's
    /// [`tapir_engine::tap::TapWriter`] and the handle that owns the threads.
    ///
    /// # Errors
    /// The guards' files, the state directory or a backend could not be set up.
    pub fn from_config(cfg: &RespondConfig) -> Result<(RespondTap, ResponderHandle), RespondError> {
        Responder::start(cfg, Some(Path::new("/etc/resolv.conf")))
    }

    /// As [`Responder::from_config`], with the resolver list read from `resolv_conf`
    /// (`None`: none).
    ///
    /// # Errors
    /// As [`Responder::from_config`].
    pub fn start(
        cfg: &RespondConfig,
        resolv_conf: Option<&Path>,
    ) -> Result<(RespondTap, ResponderHandle), RespondError> {
        let guards = Guards::build(cfg, resolv_conf).map_err(|e| RespondError::Config(e.0))?;
        let mut journal = Journal::open(&cfg.journal_path()).map_err(RespondError::io)?;
        let mut audit = Audit::new(&cfg.audit_path(), cfg.audit_max_bytes);
        let mut metrics = MetricsSnapshot {
            dry_run: cfg.dry_run,
            ..MetricsSnapshot::default()
        };
        for w in &guards.warnings {
            audit.record("warning", fields!("message" => w));
        }
        let now = now_ms();
        let mut store = DecisionStore::new(cfg.max_decisions);
        {
            let _lock = journal.lock().map_err(RespondError::io)?;
            let loaded = journal.read(now).map_err(RespondError::io)?;
            for w in &loaded.warnings {
                audit.record("warning", fields!("message" => w));
            }
            metrics.decisions_restored = loaded.live.len() as u64;
            metrics.decisions_expired += loaded.expired.len() as u64;
            for d in &loaded.expired {
                audit.record("decision", decision_fields("expired", d, cfg.dry_run));
            }
            audit.record(
                "restore",
                fields!("journal" => journal.path().display().to_string(),
                        "restored" => loaded.live.len(), "expired" => loaded.expired.len()),
            );
            // Guards may have changed since a decision was made (an address added to
            // never_block, a new home_net): such a decision is withdrawn, not restored.
            let mut withdrawn = 0;
            for d in loaded.live {
                match guards.check(&d.net) {
                    Ok(()) => store.merge(d),
                    Err(hit) => {
                        withdrawn += 1;
                        let mut f = decision_fields("withdrawn", &d, cfg.dry_run);
                        f.insert("guard".into(), hit.name().into());
                        f.insert("detail".into(), hit.to_string().into());
                        audit.record("decision", f);
                        metrics.decisions_deleted += 1;
                        metrics.decisions_restored -= 1;
                    }
                }
            }
            if !loaded.expired.is_empty() || withdrawn > 0 {
                journal.write(store.iter()).map_err(RespondError::io)?;
            }
        }
        audit.flush();
        let (backends, server) = if cfg.dry_run {
            (Vec::new(), None)
        } else {
            backend::build(cfg, &cfg.backends, true).map_err(RespondError::Config)?
        };
        let names: Vec<&'static str> = backends.iter().map(|b| b.name()).collect();
        for n in &names {
            metrics.pushes.entry((*n).to_string()).or_default();
        }
        let core = Core {
            policy: Policy::new(cfg.rules.clone(), cfg.home_net.clone()),
            guards,
            rate: RateLimit::new(cfg.max_new_per_minute),
            store,
            ops: BTreeMap::new(),
            refused: BTreeMap::new(),
            version: 1,
        };
        let shared = Arc::new(Shared {
            cfg: cfg.clone(),
            core: Mutex::new(core),
            wake: Condvar::new(),
            audit: Mutex::new(audit),
            metrics: Mutex::new(metrics),
            publish: Publish {
                state: Mutex::new(PubState {
                    gen: 0,
                    version: 0,
                    resync_gen: 0,
                    desired: Arc::new(Desired::new()),
                    stop: false,
                    runners: vec![RunnerState::default(); backends.len()],
                }),
                cv: Condvar::new(),
            },
            stop: AtomicBool::new(false),
        });
        let mut published = 0;
        publish_if_changed(&shared, &mut published, now, false);
        let committer = {
            let sh = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("tapir-respond".into())
                .spawn(move || committer(&sh, journal, published))
                .map_err(RespondError::io)?
        };
        let mut runners = Vec::new();
        for (i, b) in backends.into_iter().enumerate() {
            let sh = Arc::clone(&shared);
            runners.push(
                std::thread::Builder::new()
                    .name(format!("tapir-push-{}", b.name()))
                    .spawn(move || runner(&sh, i, b))
                    .map_err(RespondError::io)?,
            );
        }
        let tap = RespondTap {
            shared: Arc::clone(&shared),
        };
        Ok((
            tap,
            ResponderHandle {
                shared,
                committer: Some(committer),
                runners,
                server,
            },
        ))
    }
}

struct Shared {
    cfg: RespondConfig,
    core: Mutex<Core>,
    wake: Condvar,
    audit: Mutex<Audit>,
    metrics: Mutex<MetricsSnapshot>,
    publish: Publish,
    stop: AtomicBool,
}

struct Core {
    policy: Policy,
    guards: Guards,
    rate: RateLimit,
    store: DecisionStore,
    /// Changes since the last journal write, by network (the last one wins).
    ops: BTreeMap<Net, Op>,
    /// Refused networks and when they were last audited.
    refused: BTreeMap<Net, u64>,
    /// Bumped on every change of `store`.
    version: u64,
}

#[derive(Clone)]
enum Op {
    Put(Decision),
    Remove,
}

struct Publish {
    state: Mutex<PubState>,
    cv: Condvar,
}

struct PubState {
    gen: u64,
    /// The core's `version` this generation was built from.
    version: u64,
    /// Generations at or before this one must be applied by a full resync (the journal was
    /// changed by another process, e.g. `tapir block del`).
    resync_gen: u64,
    desired: Arc<Desired>,
    stop: bool,
    runners: Vec<RunnerState>,
}

#[derive(Clone, Default)]
struct RunnerState {
    applied_gen: u64,
    up: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not stop the responder: the data is still consistent enough to
    // keep enforcing.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One audit record shape for a decision, whoever changed it (sensor or operator).
pub(crate) fn decision_fields(
    action: &str,
    d: &Decision,
    dry_run: bool,
) -> serde_json::Map<String, serde_json::Value> {
    let mut f = fields!(
        "action" => action,
        "net" => d.net.to_string(),
        "origin" => d.origin,
        "reason" => d.reason,
        "ttl_s" => d.ttl_ms / 1000,
        "expires" => rfc3339_ms(d.expires_ms),
        "hits" => d.hits,
    );
    if let Some(s) = d.sid {
        f.insert("sid".into(), s.into());
    }
    if let Some(i) = &d.indicator {
        f.insert("indicator".into(), i.clone().into());
    }
    if dry_run {
        f.insert("dry_run".into(), true.into());
    }
    f
}

impl Shared {
    /// Guards, rate limit, dedup; records the change for the committer.
    fn submit(&self, mut req: Request, now: u64) -> Result<Upsert, GuardHit> {
        let max_ttl = self.cfg.max_ttl;
        if req.ttl > max_ttl {
            req.ttl = max_ttl;
        }
        let mut core = lock(&self.core);
        let live = core.store.get(&req.net).is_some_and(|d| d.live(now));
        // A live decision already passed the guards; its repeats only extend it.
        let checked = if live {
            Ok(())
        } else {
            let c = &mut *core;
            c.guards.check(&req.net).and_then(|()| c.rate.allow(now))
        };
        let res = checked.and_then(|()| core.store.upsert(&req, now));
        match &res {
            Err(hit) => {
                *lock(&self.metrics)
                    .blocked_by_guard
                    .entry(hit.name().to_string())
                    .or_default() += 1;
                let last = core.refused.get(&req.net).copied();
                if !matches!(last, Some(t) if now.saturating_sub(t) < 60_000) {
                    if core.refused.len() >= REFUSED_MEMORY {
                        core.refused.retain(|_, t| now.saturating_sub(*t) < 60_000);
                        if core.refused.len() >= REFUSED_MEMORY {
                            core.refused.clear();
                        }
                    }
                    core.refused.insert(req.net, now);
                    let mut f = fields!(
                        "action" => "refused",
                        "net" => req.net.to_string(),
                        "origin" => req.origin,
                        "reason" => req.reason,
                        "guard" => hit.name(),
                        "detail" => hit.to_string(),
                    );
                    if let Some(i) = &req.indicator {
                        f.insert("indicator".into(), i.clone().into());
                    }
                    if self.cfg.dry_run {
                        f.insert("dry_run".into(), true.into());
                    }
                    lock(&self.audit).record("decision", f);
                }
            }
            Ok(Upsert::Unchanged) => {}
            Ok(u) => {
                let action = if matches!(u, Upsert::Created) {
                    "created"
                } else {
                    "extended"
                };
                if let Some(d) = core.store.get(&req.net).cloned() {
                    lock(&self.audit)
                        .record("decision", decision_fields(action, &d, self.cfg.dry_run));
                    core.ops.insert(d.net, Op::Put(d));
                }
                core.version += 1;
                let mut m = lock(&self.metrics);
                if matches!(u, Upsert::Created) {
                    m.decisions_created += 1;
                } else {
                    m.decisions_extended += 1;
                }
                drop(m);
                drop(core);
                self.wake.notify_one();
            }
        }
        res
    }

    fn remove(&self, net: &Net, why: &str) -> Option<Decision> {
        let mut core = lock(&self.core);
        let d = core.store.remove(net)?;
        core.ops.insert(*net, Op::Remove);
        core.version += 1;
        drop(core);
        let mut f = decision_fields("deleted", &d, self.cfg.dry_run);
        f.insert("by".into(), why.into());
        lock(&self.audit).record("decision", f);
        lock(&self.metrics).decisions_deleted += 1;
        self.wake.notify_one();
        Some(d)
    }
}

/// The [`EventTap`]: alert lines in, decisions out. Runs on the sensor's writer thread; the
/// work per alert is a JSON parse and a short lock, never I/O.
pub struct RespondTap {
    shared: Arc<Shared>,
}

impl RespondTap {
    /// Applies the policy to one EVE line.
    pub fn alert(&self, line: &[u8]) -> Option<Result<Upsert, GuardHit>> {
        let facts = AlertFacts::parse(line)?;
        let verdict = {
            let core = lock(&self.shared.core);
            core.policy.evaluate(&facts)
        };
        let mut m = lock(&self.shared.metrics);
        m.alerts_seen += 1;
        match verdict {
            Verdict::NoRule => None,
            Verdict::NoTarget { .. } => {
                m.alerts_matched += 1;
                m.alerts_no_target += 1;
                None
            }
            Verdict::Block(req) => {
                m.alerts_matched += 1;
                drop(m);
                Some(self.shared.submit(req, now_ms()))
            }
        }
    }
}

impl EventTap for RespondTap {
    fn event(&mut self, line: &[u8]) {
        let _ = self.alert(line);
    }

    fn finish(&mut self) {
        self.shared.wake.notify_one();
    }
}

/// Owns the responder's threads. Dropping it without [`ResponderHandle::shutdown`] stops
/// them too.
pub struct ResponderHandle {
    shared: Arc<Shared>,
    committer: Option<JoinHandle<()>>,
    runners: Vec<JoinHandle<()>>,
    server: Option<list::Server>,
}

impl ResponderHandle {
    /// A decision from elsewhere (a hunt, an in-process operator): same guards, journal and
    /// backends as the tap's.
    ///
    /// # Errors
    /// The guard that refused it.
    pub fn submit(&self, req: Request) -> Result<Upsert, GuardHit> {
        self.shared.submit(req, now_ms())
    }

    /// Ends a decision now.
    pub fn remove(&self, net: &Net) -> Option<Decision> {
        self.shared.remove(net, "api")
    }

    /// The live decisions.
    pub fn decisions(&self) -> Vec<Decision> {
        let now = now_ms();
        lock(&self.shared.core)
            .store
            .iter()
            .filter(|d| d.live(now))
            .cloned()
            .collect()
    }

    /// The counters now.
    pub fn metrics(&self) -> MetricsSnapshot {
        let active = {
            let now = now_ms();
            lock(&self.shared.core).store.live_count(now) as u64
        };
        let mut m = lock(&self.shared.metrics).clone();
        m.decisions_active = active;
        m.audit_errors = lock(&self.shared.audit).errors;
        m
    }

    /// Where the list is served, when it is.
    pub fn list_addr(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(list::Server::addr)
    }

    /// Waits until every change so far is journaled and every backend has applied it (or
    /// `timeout` passes); `true` when in step.
    pub fn wait_pushed(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let (pending, version) = {
                let c = lock(&self.shared.core);
                (!c.ops.is_empty(), c.version)
            };
            self.shared.wake.notify_one();
            let st = lock(&self.shared.publish.state);
            let in_step = !pending
                && st.version == version
                && st.runners.iter().all(|r| r.up && r.applied_gen == st.gen);
            drop(st);
            if in_step {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Final commit and push (one attempt per backend), then stops every thread.
    pub fn shutdown(mut self) -> MetricsSnapshot {
        self.stop();
        self.metrics()
    }

    fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.wake.notify_all();
        if let Some(c) = self.committer.take() {
            let _ = c.join();
        }
        for r in self.runners.drain(..) {
            let _ = r.join();
        }
        self.server = None;
        lock(&self.shared.audit).flush();
    }
}

impl Drop for ResponderHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The desired set of the live decisions.
pub(crate) fn desired_of<'a>(decisions: impl Iterator<Item = &'a Decision>, now: u64) -> Desired {
    decisions
        .filter(|d| d.live(now))
        .map(|d| {
            (
                d.net,
                Entry {
                    net: d.net,
                    expires_ms: d.expires_ms,
                    origin: d.origin.clone(),
                    reason: d.reason.clone(),
                },
            )
        })
        .collect()
}

/// Publishes the desired set when the store changed since `published` (a core version).
fn publish_if_changed(shared: &Shared, published: &mut u64, now: u64, resync: bool) {
    let (version, desired) = {
        let core = lock(&shared.core);
        if core.version == *published && !resync {
            return;
        }
        (core.version, desired_of(core.store.iter(), now))
    };
    *published = version;
    let mut st = lock(&shared.publish.state);
    st.gen += 1;
    st.version = version;
    if resync {
        st.resync_gen = st.gen;
    }
    st.desired = Arc::new(desired);
    drop(st);
    shared.publish.cv.notify_all();
}

/// Expires, journals (merging another process's changes) and publishes, every tick or when
/// woken, until stopped; the last round runs after the stop flag is seen.
fn committer(shared: &Shared, mut journal: Journal, mut published: u64) {
    loop {
        let stopping = shared.stop.load(Ordering::Relaxed);
        let now = now_ms();
        let external = commit(shared, &mut journal, now);
        publish_if_changed(shared, &mut published, now, external);
        lock(&shared.audit).flush();
        if stopping {
            let mut st = lock(&shared.publish.state);
            st.stop = true;
            drop(st);
            shared.publish.cv.notify_all();
            return;
        }
        let core = lock(&shared.core);
        if core.ops.is_empty() && !shared.stop.load(Ordering::Relaxed) {
            let _ = shared.wake.wait_timeout(core, TICK);
        }
    }
}

/// One journal round; `true` when another process had changed the journal.
fn commit(shared: &Shared, journal: &mut Journal, now: u64) -> bool {
    let dry = shared.cfg.dry_run;
    let (ops, snapshot) = {
        let mut core = lock(&shared.core);
        let expired = core.store.expire(now);
        if !expired.is_empty() {
            core.version += 1;
            let mut a = lock(&shared.audit);
            for d in &expired {
                a.record("decision", decision_fields("expired", d, dry));
            }
            drop(a);
            lock(&shared.metrics).decisions_expired += expired.len() as u64;
        }
        if core.ops.is_empty() && expired.is_empty() && !journal.changed() {
            return false;
        }
        let ops = std::mem::take(&mut core.ops);
        let snapshot: Vec<Decision> = core.store.iter().cloned().collect();
        (ops, snapshot)
    };
    let res = (|| -> std::io::Result<Option<DecisionStore>> {
        let _lock = journal.lock()?;
        let merged = if journal.changed() {
            let loaded = journal.read(now)?;
            let mut s = DecisionStore::new(shared.cfg.max_decisions);
            for d in loaded.live {
                s.merge(d);
            }
            for (net, op) in &ops {
                match op {
                    Op::Put(d) => s.merge(d.clone()),
                    Op::Remove => {
                        s.remove(net);
                    }
                }
            }
            journal.write(s.iter())?;
            Some(s)
        } else {
            journal.write(snapshot.iter())?;
            None
        };
        Ok(merged)
    })();
    match res {
        Ok(None) => false,
        Ok(Some(merged)) => {
            let mut core = lock(&shared.core);
            let newer: Vec<(Net, Op)> = core.ops.iter().map(|(n, o)| (*n, o.clone())).collect();
            core.store = merged;
            for (net, op) in newer {
                match op {
                    Op::Put(d) => core.store.merge(d),
                    Op::Remove => {
                        core.store.remove(&net);
                    }
                }
            }
            core.version += 1;
            true
        }
        Err(e) => {
            // The changes stay in memory and are enforced; the journal is retried next round.
            let mut core = lock(&shared.core);
            for (n, o) in ops {
                core.ops.entry(n).or_insert(o);
            }
            drop(core);
            lock(&shared.metrics).journal_errors += 1;
            lock(&shared.audit).record(
                "journal",
                fields!("result" => "error", "error" => e.to_string()),
            );
            false
        }
    }
}

/// Pushes the published set to one backend: a delta when in step, a resync at start, after a
/// failure (with exponential backoff from `retry_min` to `retry_max`) and every
/// `reconcile_interval`.
fn runner(shared: &Shared, idx: usize, mut b: Box<dyn Backend>) {
    let name = b.name();
    let cfg = &shared.cfg;
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let (retry_min, retry_max, interval) = (
        ms(cfg.retry_min),
        ms(cfg.retry_max),
        ms(cfg.reconcile_interval),
    );
    let mut last = Desired::new();
    let (mut applied_gen, mut seen_resync) = (0u64, 0u64);
    let mut down = true;
    let mut failures = 0u64;
    let mut retry_at = 0u64;
    let mut backoff = retry_min;
    let mut next_reconcile = now_ms().saturating_add(interval);
    loop {
        let (gen, resync_gen, desired, stop) = {
            let mut st = lock(&shared.publish.state);
            loop {
                let now = now_ms();
                let wake_at = if down {
                    retry_at
                } else if b.reconciles() {
                    next_reconcile
                } else {
                    u64::MAX
                };
                if st.stop
                    || (!down && (st.gen != applied_gen || st.resync_gen > seen_resync))
                    || now >= wake_at
                {
                    break;
                }
                let wait = Duration::from_millis(wake_at.saturating_sub(now).min(1000));
                st = shared
                    .publish
                    .cv
                    .wait_timeout(st, wait)
                    .map_or_else(|e| e.into_inner().0, |r| r.0);
            }
            (st.gen, st.resync_gen, Arc::clone(&st.desired), st.stop)
        };
        let now = now_ms();
        let (kind, result) = if down || resync_gen > seen_resync {
            ("resync", b.resync(&desired, now))
        } else if gen != applied_gen {
            ("apply", b.apply(&last, &desired, now))
        } else if now >= next_reconcile && b.reconciles() {
            ("reconcile", b.resync(&desired, now))
        } else if stop {
            ("none", Ok(PushReport::default()))
        } else {
            continue;
        };
        if kind == "reconcile" || kind == "resync" {
            next_reconcile = now.saturating_add(interval);
        }
        let was_down = down && failures > 0;
        match result {
            Ok(rep) => {
                last = (*desired).clone();
                applied_gen = gen;
                seen_resync = resync_gen;
                down = false;
                failures = 0;
                backoff = retry_min;
                let mut m = lock(&shared.metrics);
                let p = m.pushes.entry(name.to_string()).or_default();
                p.up = true;
                p.last_error = None;
                if !rep.is_empty() || was_down {
                    p.ok += 1;
                    p.elements_added += rep.added as u64;
                    p.elements_removed += rep.removed as u64;
                    p.drift_repaired += rep.drift as u64;
                    drop(m);
                    lock(&shared.audit).record(
                        "push",
                        fields!("backend" => name, "kind" => kind, "result" => "ok",
                                "added" => rep.added, "removed" => rep.removed,
                                "drift" => rep.drift, "recovered" => was_down,
                                "elements" => desired.len()),
                    );
                }
            }
            Err(e) => {
                down = true;
                failures += 1;
                retry_at = now.saturating_add(backoff);
                let mut m = lock(&shared.metrics);
                let p = m.pushes.entry(name.to_string()).or_default();
                p.error += 1;
                p.up = false;
                p.last_error = Some(e.clone());
                drop(m);
                lock(&shared.audit).record(
                    "push",
                    fields!("backend" => name, "kind" => kind, "result" => "error",
                            "error" => e, "attempt" => failures, "retry_in_ms" => backoff),
                );
                backoff = backoff.saturating_mul(2).min(retry_max);
            }
        }
        {
            let mut st = lock(&shared.publish.state);
            if let Some(r) = st.runners.get_mut(idx) {
                r.applied_gen = applied_gen;
                r.up = !down;
            }
        }
        if stop {
            return;
        }
    }
}
