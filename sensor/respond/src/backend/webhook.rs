//! A webhook: one JSON POST per batch of changes (`"kind": "delta"`), and after a failure the
//! whole current set (`"kind": "snapshot"`), so a receiver that missed deltas is brought back
//! in step without an unbounded queue. Retries and backoff are the runner's.
//!
//! Body: `{"sensor":"tapir","kind":"delta","sent":"<RFC 3339>","part":1,"parts":1,
//! "decisions":[{"action":"add","value":"203.0.113.66","type":"ip","expires":"...",
//! "ttl_seconds":3600,"origin":"intel-c2","reason":"..."},{"action":"delete",...}]}`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use super::{diff, Backend, Desired, Entry, PushReport};
use crate::config::RespondConfig;
use crate::time::{now_ms, rfc3339_ms};

pub struct Webhook {
    url: String,
    timeout: Duration,
    headers: BTreeMap<String, String>,
    batch_max: usize,
}

impl Webhook {
    pub fn new(cfg: &RespondConfig) -> Webhook {
        Webhook {
            url: cfg.webhook.url.clone(),
            timeout: cfg.webhook.timeout,
            headers: cfg.webhook.headers.clone(),
            batch_max: cfg.webhook.batch_max,
        }
    }

    fn post(&self, body: &Value) -> Result<(), String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .http_status_as_error(false)
            .user_agent(concat!("tapir/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let mut req = agent
            .post(&self.url)
            .header("Content-Type", "application/json");
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let text = serde_json::to_string(body).map_err(|e| e.to_string())?;
        let resp = req
            .send(text.as_bytes())
            .map_err(|e| format!("webhook {}: {e}", self.url))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(format!("webhook {}: HTTP status {status}", self.url))
        }
    }

    fn send(&self, kind: &str, items: Vec<Value>) -> Result<(), String> {
        let parts = items.len().div_ceil(self.batch_max).max(1);
        let sent = rfc3339_ms(now_ms());
        let mut chunks: Vec<Vec<Value>> = items
            .chunks(self.batch_max)
            .map(<[Value]>::to_vec)
            .collect();
        if chunks.is_empty() {
            // An empty snapshot still says "nothing is blocked".
            chunks.push(Vec::new());
        }
        for (i, c) in chunks.into_iter().enumerate() {
            self.post(&json!({
                "sensor": "tapir",
                "kind": kind,
                "sent": sent,
                "part": i + 1,
                "parts": parts,
                "decisions": c,
            }))?;
        }
        Ok(())
    }
}

/// One decision of a body.
pub fn item(action: &str, e: &Entry, now_ms: u64) -> Value {
    json!({
        "action": action,
        "value": e.net.to_string(),
        "type": if e.net.is_host() { "ip" } else { "cidr" },
        "expires": rfc3339_ms(e.expires_ms),
        "ttl_seconds": e.expires_ms.saturating_sub(now_ms).div_ceil(1000),
        "origin": e.origin,
        "reason": e.reason,
    })
}

impl Backend for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn apply(&mut self, prev: &Desired, next: &Desired, now_ms: u64) -> Result<PushReport, String> {
        let (added, removed) = diff(prev, next, now_ms);
        if added.is_empty() && removed.is_empty() {
            return Ok(PushReport::default());
        }
        let mut items: Vec<Value> = removed.iter().map(|e| item("delete", e, now_ms)).collect();
        items.extend(added.iter().map(|e| item("add", e, now_ms)));
        self.send("delta", items)?;
        Ok(PushReport {
            added: added.len(),
            removed: removed.len(),
            drift: 0,
        })
    }

    fn resync(&mut self, next: &Desired, now_ms: u64) -> Result<PushReport, String> {
        let items = next.values().map(|e| item("add", e, now_ms)).collect();
        self.send("snapshot", items)?;
        Ok(PushReport {
            added: next.len(),
            removed: 0,
            drift: 0,
        })
    }

    fn reconciles(&self) -> bool {
        false
    }
}
