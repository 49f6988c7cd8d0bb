//! Ground truth of a benchmark capture with planted indicators: what was planted, in which
//! flow, in which frames and in which protocol field. Written as JSON beside the capture
//! (`<capture>.truth.json`); read back by `tapir-gen-demo intel --truth` so the generated
//! intel lists contain exactly the planted values.
//!
//! Format (`"format": "tapir-gen-demo-truth/1"`):
//!
//! ```text
//! { "format": "tapir-gen-demo-truth/1", "capture": "bench.pcap", "seed": 7,
//!   "packets": 123456, "bytes": 98765432, "plants": 4,
//!   "indicators": [
//!     { "plant": 0, "type": "domain", "value": "k3x9q2m1-0.badcdn.test",
//!       "field": "dns.query", "wire": "k3x9q2m1-0.badcdn.test",
//!       "flow": { "proto": "udp", "src": "10.1.2.3", "sport": 40001,
//!                 "dst": "34.5.6.7", "dport": 53 },
//!       "frames": [1201, 1388], "split": false }, ... ] }
//! ```
//!
//! * `type`: `domain`, `ip`, `ja3`, `ja4` or `pattern` (the intel list it belongs in).
//! * `field`: `dns.query` (query name; the response repeats it), `dns.answer` (A/AAAA
//!   rdata), `flow.dst` (the server address of the flow), `tls.sni`, `tls.ja3`, `tls.ja4`,
//!   `http.host`, `http.body`, `tcp.payload`.
//! * `wire`: the text as it appears on the wire when it differs from the list entry (an HTTP
//!   `Host` below a planted parent domain); else equal to `value`.
//! * `flow`: client to server, whatever the direction of the frames.
//! * `frames`: 1-based frame numbers (Wireshark `frame.number`, Suricata `pcap_cnt`). When
//!   `split` is false every listed frame carries the value; when true the value starts in
//!   the first listed frame and ends in the second (TCP segments in sequence order).

use std::net::IpAddr;

use serde_json::{json, Value};

/// Format tag written into every truth file.
pub const FORMAT: &str = "tapir-gen-demo-truth/1";

/// Client-to-server 5-tuple of a planted flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowTuple {
    /// `"tcp"` or `"udp"`.
    pub proto: &'static str,
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
}

/// One planted occurrence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planted {
    /// Index of the plant (0..`--plant`) this occurrence belongs to.
    pub plant: u32,
    /// `domain`, `ip`, `ja3`, `ja4` or `pattern`.
    pub kind: &'static str,
    pub value: String,
    pub field: &'static str,
    pub wire: String,
    pub flow: FlowTuple,
    /// 1-based frame numbers.
    pub frames: Vec<u64>,
    pub split: bool,
}

impl Planted {
    fn to_json(&self) -> Value {
        json!({
            "plant": self.plant,
            "type": self.kind,
            "value": self.value,
            "field": self.field,
            "wire": self.wire,
            "flow": {
                "proto": self.flow.proto,
                "src": self.flow.src.to_string(),
                "sport": self.flow.sport,
                "dst": self.flow.dst.to_string(),
                "dport": self.flow.dport,
            },
            "frames": self.frames,
            "split": self.split,
        })
    }
}

/// The whole truth document, pretty-printed with a trailing newline.
pub fn to_json(
    capture: &str,
    seed: u64,
    packets: u64,
    bytes: u64,
    plants: u32,
    planted: &[Planted],
) -> String {
    let doc = json!({
        "format": FORMAT,
        "capture": capture,
        "seed": seed,
        "packets": packets,
        "bytes": bytes,
        "plants": plants,
        "indicators": planted.iter().map(Planted::to_json).collect::<Vec<_>>(),
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// The distinct `(type, value)` pairs of a truth document, in first-seen order.
pub fn values(doc: &str) -> Result<Vec<(String, String)>, String> {
    let v: Value = serde_json::from_str(doc).map_err(|e| format!("truth file: {e}"))?;
    if v.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(format!("truth file: \"format\" is not {FORMAT:?}"));
    }
    let list = v
        .get("indicators")
        .and_then(Value::as_array)
        .ok_or("truth file: no \"indicators\" array")?;
    let mut out: Vec<(String, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, e) in list.iter().enumerate() {
        let field = |k: &str| {
            e.get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or(format!("truth file: indicators[{i}] has no string \"{k}\""))
        };
        let pair = (field("type")?, field("value")?);
        if seen.insert(pair.clone()) {
            out.push(pair);
        }
    }
    Ok(out)
}
