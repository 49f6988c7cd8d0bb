//! What a network output sends: the EVE line of the file output plus the sensor's name in
//! `host` (Suricata's field) and an event id for deduplication.
//!
//! Suricata's EVE schema refuses unknown top-level keys, so the id goes where the schema allows
//! free-form keys: `metadata.pktvars`, as `{"tapir_event_id":"<32 hex digits>"}` (Suricata logs
//! packet variables there in the same shape). The id is 128 bits: 64 random bits drawn at sensor
//! start, then a 64-bit sequence number, so ids from many sensors and restarts do not collide.
//!
//! Lines are edited as bytes, with a small scanner for the top-level keys; no JSON parse and no
//! re-serialisation, so the fields keep their order and formatting.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

/// The sensor's name and the source of event ids. One per process, shared by its outputs.
#[derive(Debug)]
pub struct Identity {
    name: String,
    host_field: Vec<u8>,
    run_id: u64,
    seq: AtomicU64,
}

impl Identity {
    /// `name`: the sensor name (`sensor_name`); `None` uses the host name.
    pub fn new(name: Option<&str>) -> Identity {
        let name = name.map_or_else(hostname, str::to_string);
        let host_field = format!(
            "\"host\":{}",
            serde_json::to_string(&name).unwrap_or_else(|_| "\"tapir\"".into())
        )
        .into_bytes();
        Identity {
            name,
            host_field,
            run_id: random_u64(),
            seq: AtomicU64::new(0),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 64 random bits of this run (the first half of every event id).
    pub fn run_id(&self) -> u64 {
        self.run_id
    }

    /// The next event id: run id then sequence, 32 lower-case hex digits.
    pub fn next_id(&self) -> String {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        format!("{:016x}{n:016x}", self.run_id)
    }

    /// The line with `host` (unless it has one) and a new event id.
    pub fn decorate(&self, line: &[u8]) -> Vec<u8> {
        decorate(line, &self.host_field, &self.next_id())
    }
}

/// The machine's host name (Linux: the kernel's), or `tapir` when it cannot be read.
pub fn hostname() -> String {
    for p in ["/proc/sys/kernel/hostname", "/etc/hostname"] {
        if let Ok(s) = std::fs::read_to_string(p) {
            let t = s.trim();
            if !t.is_empty() {
                return t.to_string();
            }
        }
    }
    "tapir".into()
}

/// 64 bits the OS seeded (std's `RandomState` keys), mixed with the clock and the process id.
fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    h.finish()
}

fn decorate(line: &[u8], host_field: &[u8], id: &str) -> Vec<u8> {
    let trimmed = trim(line);
    let inner = match trimmed
        .strip_prefix(b"{")
        .and_then(|r| r.strip_suffix(b"}"))
    {
        Some(i) => i,
        None => return line.to_vec(),
    };
    let pktvar = format!("{{\"tapir_event_id\":\"{id}\"}}");
    let mut out = Vec::with_capacity(line.len() + host_field.len() + pktvar.len() + 32);
    out.push(b'{');
    let mut parts = 0;
    if top_level_value(trimmed, b"host").is_none() {
        out.extend_from_slice(host_field);
        parts += 1;
    }
    let meta = top_level_value(trimmed, b"metadata");
    match meta {
        Some(m) if trimmed.get(m.start) == Some(&b'{') => {
            // Insert into the existing metadata object; `trimmed` offsets are one past `inner`'s.
            let at = insertion_point(trimmed, m, &pktvar);
            if !trim(inner).is_empty() {
                if parts > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(trimmed.get(1..at.0).unwrap_or_default());
                out.extend_from_slice(at.1.as_bytes());
                out.extend_from_slice(trimmed.get(at.0..trimmed.len() - 1).unwrap_or_default());
            }
        }
        _ => {
            if !trim(inner).is_empty() {
                if parts > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(inner);
                parts += 1;
            }
            if meta.is_none() {
                if parts > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"\"metadata\":{\"pktvars\":[");
                out.extend_from_slice(pktvar.as_bytes());
                out.extend_from_slice(b"]}");
            }
        }
    }
    out.push(b'}');
    out
}

/// Where to put the id inside the metadata object at `m` (offsets in `line`): into an existing
/// `pktvars` array, or as a new `pktvars` key. Returns the offset and the text to insert there.
fn insertion_point(line: &[u8], m: Range<usize>, pktvar: &str) -> (usize, String) {
    let obj = line.get(m.clone()).unwrap_or_default();
    let empty = |r: &[u8]| trim(r.get(1..r.len().saturating_sub(1)).unwrap_or_default()).is_empty();
    if let Some(arr) = top_level_value(obj, b"pktvars") {
        if obj.get(arr.start) == Some(&b'[') {
            let a = obj.get(arr.clone()).unwrap_or_default();
            let sep = if empty(a) { "" } else { "," };
            return (m.start + arr.start + 1, format!("{pktvar}{sep}"));
        }
    }
    let sep = if empty(obj) { "" } else { "," };
    (m.start + 1, format!("\"pktvars\":[{pktvar}]{sep}"))
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |e| e + 1);
    b.get(s..e).unwrap_or_default()
}

/// The top-level `flow_id` of an EVE line, as its decimal text (the Kafka message key).
pub fn flow_id(line: &[u8]) -> Option<&[u8]> {
    let r = top_level_value(line, b"flow_id")?;
    let v = line.get(r)?;
    (!v.is_empty() && v.iter().all(u8::is_ascii_digit)).then_some(v)
}

/// The byte range of the value of top-level `key` in the JSON object `line`, if present.
/// Malformed input gives `None`, never a panic.
pub fn top_level_value(line: &[u8], key: &[u8]) -> Option<Range<usize>> {
    let mut i = skip_ws(line, 0);
    if line.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(line, i + 1);
    if line.get(i) == Some(&b'}') {
        return None;
    }
    loop {
        if line.get(i) != Some(&b'"') {
            return None;
        }
        let kend = string_end(line, i)?;
        let k = line.get(i + 1..kend)?;
        i = skip_ws(line, kend + 1);
        if line.get(i) != Some(&b':') {
            return None;
        }
        let vstart = skip_ws(line, i + 1);
        let vend = value_end(line, vstart)?;
        if k == key {
            return Some(vstart..vend);
        }
        i = skip_ws(line, vend);
        match line.get(i) {
            Some(b',') => i = skip_ws(line, i + 1),
            _ => return None,
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// Index of the closing quote of the string opening at `start`.
fn string_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    loop {
        match b.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
}

/// One past the end of the value starting at `start`.
fn value_end(b: &[u8], start: usize) -> Option<usize> {
    match b.get(start)? {
        b'"' => string_end(b, start).map(|e| e + 1),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = start;
            loop {
                match b.get(i)? {
                    b'"' => i = string_end(b, i)?,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let mut i = start;
            while b
                .get(i)
                .is_some_and(|c| !matches!(c, b',' | b'}' | b']') && !c.is_ascii_whitespace())
            {
                i += 1;
            }
            (i > start).then_some(i)
        }
    }
}

/// The event id of a decorated line, if it has one.
pub fn event_id(line: &[u8]) -> Option<&str> {
    let mark = b"\"tapir_event_id\":\"";
    let at = line.windows(mark.len()).position(|w| w == mark)? + mark.len();
    let id = line.get(at..at + 32)?;
    std::str::from_utf8(id).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn dec(line: &str) -> Value {
        let out = decorate(
            line.as_bytes(),
            b"\"host\":\"s1\"",
            "00000000000000010000000000000002",
        );
        serde_json::from_slice(&out)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out)))
    }

    #[test]
    fn host_and_id_are_added_and_the_rest_is_kept() {
        let v =
            dec(r#"{"timestamp":"t","flow_id":12,"event_type":"dns","dns":{"rrname":"a}b\"c"}}"#);
        assert_eq!(v["host"], "s1");
        assert_eq!(v["flow_id"], 12);
        assert_eq!(v["dns"]["rrname"], "a}b\"c");
        assert_eq!(
            v["metadata"],
            json!({"pktvars":[{"tapir_event_id":"00000000000000010000000000000002"}]})
        );
    }

    #[test]
    fn existing_metadata_and_pktvars_are_extended() {
        let v = dec(r#"{"event_type":"socks","metadata":{"flowvars":[{"key":"k","value":"v"}]}}"#);
        assert_eq!(v["metadata"]["flowvars"][0]["key"], "k");
        assert_eq!(
            v["metadata"]["pktvars"][0]["tapir_event_id"],
            "00000000000000010000000000000002"
        );
        let v = dec(r#"{"metadata":{"pktvars":[{"uid":"7"}]},"event_type":"x"}"#);
        assert_eq!(v["metadata"]["pktvars"].as_array().map(Vec::len), Some(2));
        let v = dec(r#"{"metadata":{},"host":"given"}"#);
        assert_eq!(v["host"], "given");
        assert_eq!(v["metadata"]["pktvars"].as_array().map(Vec::len), Some(1));
        let v = dec("{}");
        assert_eq!(v["host"], "s1");
    }

    #[test]
    fn flow_id_and_event_id_are_found_at_top_level_only() {
        let l = br#"{"alert":{"flow_id":1},"flow_id":98765,"x":[1,{"flow_id":2}]}"#;
        assert_eq!(flow_id(l), Some(&b"98765"[..]));
        assert_eq!(flow_id(br#"{"event_type":"stats"}"#), None);
        let d = decorate(l, b"\"host\":\"h\"", "0123456789abcdef0123456789abcdef");
        assert_eq!(event_id(&d), Some("0123456789abcdef0123456789abcdef"));
    }

    #[test]
    fn malformed_lines_pass_through_without_panic() {
        for l in [
            &b""[..],
            b"not json",
            b"{\"a\":",
            b"{\"a\":\"unterminated}",
            b"{\"a\" 1}",
            b"[1,2]",
            b"{\"a\":{\"b\":[}}",
            b"{\"metadata\":{\"pktvars\":",
        ] {
            let _ = decorate(l, b"\"host\":\"h\"", "x");
            let _ = flow_id(l);
            let _ = event_id(l);
        }
    }

    #[test]
    fn ids_are_unique_and_share_the_run_prefix() {
        let id = Identity::new(Some("edge-1"));
        let a = id.next_id();
        let b = id.next_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert_eq!(a[..16], b[..16]);
        assert_ne!(Identity::new(None).run_id(), id.run_id());
        assert!(!Identity::new(None).name().is_empty());
    }
}
