//! The hunt report: one structure, written as JSON ([`Report::to_json`]) and rendered as HTML
//! ([`crate::html`]) with the same content.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::collect::Limits;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub version: &'static str,
    pub captures: Vec<String>,
    pub rules: Vec<String>,
    pub data: DataSummary,
    pub summary: VerdictCounts,
    pub hunts: Vec<HuntResult>,
    /// Directory the evidence pcaps were written to, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_dir: Option<String>,
    pub limits: Limits,
    /// Bounds that were reached and other things a reader should know.
    pub notes: Vec<String>,
}

/// How much data the run examined.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DataSummary {
    pub events_total: u64,
    pub events_by_type: BTreeMap<String, u64>,
    pub unparsed_lines: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<String>,
    pub flows_indexed: u64,
    pub flows_not_indexed: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct VerdictCounts {
    pub validated: u64,
    pub refuted: u64,
    pub inconclusive: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Validated,
    Refuted,
    Inconclusive,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Validated => "validated",
            Verdict::Refuted => "refuted",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HuntResult {
    pub id: String,
    pub title: String,
    pub hypothesis: String,
    pub techniques: Vec<String>,
    pub severity: &'static str,
    /// Each entry: the event types any one of which will do (`tls|quic`).
    pub needs: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// `file:line` of the definition.
    pub source: String,
    pub verdict: Verdict,
    /// One sentence: why this verdict.
    pub reason: String,
    /// Needed event types that were absent (inconclusive).
    pub missing: Vec<String>,
    /// Events of each needed type (and alerts) examined.
    pub examined: BTreeMap<String, u64>,
    /// Each condition and how many events matched it (over all keys).
    pub conditions: Vec<ConditionStat>,
    pub findings: Vec<Finding>,
    /// Findings beyond the report's cap, counted.
    pub findings_not_shown: u64,
    pub actions: Vec<ActionOut>,
    /// Bounds reached while collecting for this hunt.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConditionStat {
    pub condition: String,
    /// `file:line:column` of the condition.
    pub at: String,
    pub matches: u64,
}

/// A proposed response and the values it would act on.
#[derive(Debug, Clone, Serialize)]
pub struct ActionOut {
    pub action: &'static str,
    pub field: &'static str,
    pub targets: Vec<String>,
}

/// One key for which the hypothesis held.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The correlation key's value (empty when the hunt has no `same`).
    pub key: String,
    pub first_seen: String,
    pub last_seen: String,
    /// Addresses in the evidence.
    pub hosts: Vec<String>,
    pub flows: Vec<FlowOut>,
    pub scores: Vec<ScoreOut>,
    pub alerts: Vec<AlertOut>,
    /// The matching events, as the sensor wrote them (up to the report's cap).
    pub events: Vec<Value>,
    pub events_not_shown: u64,
    /// Seconds between successive connection starts of the correlated flows (beacon plots).
    pub intervals_s: Vec<f64>,
    /// Evidence pcap, relative to the evidence directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_packets: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlowOut {
    pub flow_id: u64,
    /// False when the flow's record was not kept (flow index full, or never logged).
    pub indexed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proto: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_proto: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_us: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_us: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_toserver: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_toclient: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScoreOut {
    pub detector: String,
    pub score: f64,
    pub timestamp: String,
}

/// An alert in the evidence, with the pcap that holds its packets.
#[derive(Debug, Clone, Serialize)]
pub struct AlertOut {
    pub timestamp: String,
    pub signature_id: u64,
    pub signature: String,
    pub category: String,
    pub severity: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detector: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    pub src_ip: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u64>,
    pub dest_ip: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_port: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
}

impl Report {
    /// The report as pretty JSON.
    ///
    /// # Errors
    /// Only if serialisation fails (it does not for these types).
    pub fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string_pretty(self)
    }
}
