//! Operator commands (`tapir block add|del|list|sync`): one-shot changes to the journal,
//! under its lock, with the same guards as automatic decisions, pushed to the backends
//! directly. A running sensor notices the journal change and adopts it.

use std::time::Duration;

use crate::audit::Audit;
use crate::backend::{self, Backend, Desired, PushReport};
use crate::config::{RespondConfig, BACKENDS};
use crate::decision::{Decision, DecisionStore};
use crate::fields;
use crate::guard::{GuardHit, Guards};
use crate::journal::Journal;
use crate::net::Net;
use crate::responder::{decision_fields, desired_of};
use crate::time::now_ms;

/// Why an operator command failed.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("refused: {0}")]
    Guard(GuardHit),
    #[error("no decision for {0}")]
    NotFound(Net),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Io(String),
}

/// What one backend did with the change.
#[derive(Debug)]
pub struct PushOutcome {
    pub backend: &'static str,
    pub result: Result<PushReport, String>,
}

/// What `add` did.
#[derive(Debug)]
pub struct Added {
    pub decision: Decision,
    /// A decision for the network was live and was replaced (new TTL, reason).
    pub replaced: bool,
    pub pushes: Vec<PushOutcome>,
}

pub struct Operator {
    cfg: RespondConfig,
    guards: Guards,
    journal: Journal,
    audit: Audit,
    backends: Vec<Box<dyn Backend>>,
}

impl Operator {
    /// `backend`: only this one (by name) instead of the configured list.
    ///
    /// # Errors
    /// An unknown backend, unusable guard files, or a state directory that cannot be made.
    pub fn open(cfg: &RespondConfig, backend: Option<&str>) -> Result<Operator, OpError> {
        let names: Vec<String> = match backend {
            Some(b) if !BACKENDS.contains(&b) => {
                return Err(OpError::Invalid(format!(
                    "--backend: unknown backend {b:?} ({})",
                    BACKENDS.join(", ")
                )))
            }
            Some("webhook") if cfg.webhook.url.is_empty() => {
                return Err(OpError::Invalid(
                    "--backend webhook: respond.webhook.url is not set".into(),
                ))
            }
            Some(b) => vec![b.to_string()],
            None => cfg.backends.clone(),
        };
        let guards = Guards::build(cfg, Some(std::path::Path::new("/etc/resolv.conf")))
            .map_err(|e| OpError::Invalid(e.0))?;
        let journal = Journal::open(&cfg.journal_path()).map_err(|e| OpError::Io(e.to_string()))?;
        let audit = Audit::new(&cfg.audit_path(), cfg.audit_max_bytes);
        let backends = if cfg.dry_run {
            Vec::new()
        } else {
            backend::build(cfg, &names, false)
                .map_err(OpError::Invalid)?
                .0
        };
        Ok(Operator {
            cfg: cfg.clone(),
            guards,
            journal,
            audit,
            backends,
        })
    }

    /// The guards in use (warnings about never-block names that did not resolve).
    pub fn guard_warnings(&self) -> &[String] {
        &self.guards.warnings
    }

    /// Runs `f` on the journal's decisions under its lock and writes the result; returns the
    /// desired sets before and after, and what `f` returned.
    fn change<T>(
        &mut self,
        now: u64,
        f: impl FnOnce(&mut DecisionStore) -> Result<T, OpError>,
    ) -> Result<(Desired, Desired, T), OpError> {
        let io = |e: std::io::Error| OpError::Io(e.to_string());
        let _lock = self.journal.lock().map_err(io)?;
        let loaded = self.journal.read(now).map_err(io)?;
        let mut store = DecisionStore::new(self.cfg.max_decisions);
        for d in loaded.live {
            // As at a sensor's start: a decision a guard now refuses is withdrawn.
            match self.guards.check(&d.net) {
                Ok(()) => store.merge(d),
                Err(hit) => {
                    let mut f = decision_fields("withdrawn", &d, self.cfg.dry_run);
                    f.insert("guard".into(), hit.name().into());
                    f.insert("detail".into(), hit.to_string().into());
                    self.audit.record("decision", f);
                }
            }
        }
        for d in &loaded.expired {
            self.audit
                .record("decision", decision_fields("expired", d, self.cfg.dry_run));
        }
        let before = desired_of(store.iter(), now);
        let out = f(&mut store)?;
        self.journal.write(store.iter()).map_err(io)?;
        Ok((before, desired_of(store.iter(), now), out))
    }

    /// Blocks `net` for `ttl` (the configured default when `None`).
    ///
    /// # Errors
    /// A guard refuses it (the error names the guard), the TTL is past `max_ttl`, or the
    /// journal cannot be written.
    pub fn add(
        &mut self,
        net: Net,
        ttl: Option<Duration>,
        reason: Option<&str>,
    ) -> Result<Added, OpError> {
        self.add_from("operator", net, ttl, reason)
    }

    /// [`Self::add`] on behalf of `origin` (`operator`, `hunt:<id>`): the journal, the audit
    /// log and `tapir block list` name it, as they name the policy rule of an automatic one.
    ///
    /// # Errors
    /// As [`Self::add`].
    pub fn add_from(
        &mut self,
        origin: &str,
        net: Net,
        ttl: Option<Duration>,
        reason: Option<&str>,
    ) -> Result<Added, OpError> {
        let ttl = ttl.unwrap_or(self.cfg.default_ttl);
        if ttl > self.cfg.max_ttl {
            return Err(OpError::Invalid(format!(
                "--ttl: longer than respond.max_ttl ({}s)",
                self.cfg.max_ttl.as_secs()
            )));
        }
        if ttl.is_zero() {
            return Err(OpError::Invalid("--ttl: must be greater than zero".into()));
        }
        let reason = reason.unwrap_or(origin).to_string();
        if let Err(hit) = self.guards.check(&net) {
            let mut f = fields!("action" => "refused", "net" => net.to_string(),
                                "origin" => origin, "reason" => reason,
                                "guard" => hit.name(), "detail" => hit.to_string());
            if self.cfg.dry_run {
                f.insert("dry_run".into(), true.into());
            }
            self.audit.record("decision", f);
            self.audit.flush();
            return Err(OpError::Guard(hit));
        }
        let now = now_ms();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        let (before, after, (decision, replaced)) = self.change(now, |store| {
            let prior = store.get(&net).filter(|d| d.live(now)).cloned();
            if prior.is_none() && store.live_count(now) >= store.max() {
                return Err(OpError::Guard(GuardHit::MaxDecisions { max: store.max() }));
            }
            let d = Decision {
                net,
                origin: origin.into(),
                reason: reason.clone(),
                sid: None,
                indicator: None,
                ttl_ms,
                created_ms: prior.as_ref().map_or(now, |p| p.created_ms),
                expires_ms: now.saturating_add(ttl_ms),
                hits: prior.as_ref().map_or(1, |p| p.hits + 1),
            };
            store.put(d.clone());
            Ok((d, prior.is_some()))
        })?;
        let action = if replaced { "replaced" } else { "created" };
        self.audit.record(
            "decision",
            decision_fields(action, &decision, self.cfg.dry_run),
        );
        let pushes = self.push(&before, &after, now);
        Ok(Added {
            decision,
            replaced,
            pushes,
        })
    }

    /// Ends the decision for `net` now.
    ///
    /// # Errors
    /// There is none, or the journal cannot be written.
    pub fn del(&mut self, net: Net) -> Result<(Decision, Vec<PushOutcome>), OpError> {
        let now = now_ms();
        let (before, after, d) = self.change(now, |store| {
            store
                .remove(&net)
                .filter(|d| d.live(now))
                .ok_or(OpError::NotFound(net))
        })?;
        self.audit
            .record("decision", decision_fields("deleted", &d, self.cfg.dry_run));
        let pushes = self.push(&before, &after, now);
        Ok((d, pushes))
    }

    /// The live decisions.
    ///
    /// # Errors
    /// The journal cannot be read.
    pub fn list(&mut self) -> Result<Vec<Decision>, OpError> {
        let now = now_ms();
        let loaded = self
            .journal
            .read(now)
            .map_err(|e| OpError::Io(e.to_string()))?;
        let mut v = loaded.live;
        v.sort_by_key(|d| d.net);
        Ok(v)
    }

    /// Brings every backend to the journal's set, repairing drift (at boot, or after a
    /// backend was down while no sensor ran).
    ///
    /// # Errors
    /// The journal cannot be read.
    pub fn sync(&mut self) -> Result<Vec<PushOutcome>, OpError> {
        let now = now_ms();
        let (_, after, ()) = self.change(now, |_| Ok(()))?;
        let mut out = Vec::new();
        for b in &mut self.backends {
            let result = b.resync(&after, now);
            out.push(PushOutcome {
                backend: b.name(),
                result,
            });
        }
        self.audit_pushes(&out, "resync", after.len());
        Ok(out)
    }

    fn push(&mut self, before: &Desired, after: &Desired, now: u64) -> Vec<PushOutcome> {
        let mut out = Vec::new();
        for b in &mut self.backends {
            // Firewalls and the list are first brought to the journal's state as it was
            // (repairing drift, e.g. after a reboot without `sync`), then given the change, so
            // the report tells the two apart. A webhook only hears of the change.
            let repaired = if b.reconciles() {
                b.resync(before, now)
            } else {
                Ok(PushReport::default())
            };
            let result = repaired.and_then(|r| {
                b.apply(before, after, now).map(|mut a| {
                    a.drift += r.drift;
                    a
                })
            });
            out.push(PushOutcome {
                backend: b.name(),
                result,
            });
        }
        self.audit_pushes(&out, "apply", after.len());
        out
    }

    fn audit_pushes(&mut self, out: &[PushOutcome], kind: &str, elements: usize) {
        for p in out {
            let f = match &p.result {
                Ok(r) => fields!("backend" => p.backend, "kind" => kind, "result" => "ok",
                                 "added" => r.added, "removed" => r.removed, "drift" => r.drift,
                                 "elements" => elements, "by" => "operator"),
                Err(e) => fields!("backend" => p.backend, "kind" => kind, "result" => "error",
                                  "error" => e, "by" => "operator"),
            };
            self.audit.record("push", f);
        }
        if self.cfg.dry_run {
            self.audit.record(
                "push",
                fields!("dry_run" => true, "kind" => kind, "elements" => elements, "by" => "operator"),
            );
        }
        self.audit.flush();
    }
}
