//! EVE JSON output: one JSON object per line with Suricata 7/8 field names, so that tools that
//! already read Suricata's `eve.json` (Filebeat's Suricata module, Splunk TA, jq scripts) read
//! tapir's too. Every record validates against Suricata's published EVE schema (tested).
//!
//! Records are built as a common header (time, flow, endpoints) followed by one event object.
//! The header is serialised first and its closing brace replaced by the event object, which keeps
//! each record a flat Suricata-shaped object without `serde(flatten)`'s buffering.

use std::fmt::Write as _;
use std::net::IpAddr;

use serde::Serialize;

/// Formats packet time (µs since the epoch) as EVE does: `2026-11-27T19:27:53.123456+0000`.
pub fn format_timestamp(ts_us: u64, out: &mut String) {
    let secs = ts_us / 1_000_000;
    let micros = ts_us % 1_000_000;
    let (y, mo, d, h, mi, s) = civil(secs);
    let _ = write!(
        out,
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{micros:06}+0000"
    );
}

/// Formats a time as the flow event's `start`/`end` (same shape as `timestamp`).
pub fn timestamp_string(ts_us: u64) -> String {
    let mut s = String::with_capacity(32);
    format_timestamp(ts_us, &mut s);
    s
}

/// Days-to-civil conversion (Howard Hinnant's algorithm), UTC.
fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (h, mi, s) = (
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        (rem % 60) as u32,
    );
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d, h, mi, s)
}

/// IANA protocol number to the name Suricata logs in `proto`.
pub fn proto_name(p: u8) -> std::borrow::Cow<'static, str> {
    match p {
        6 => "TCP".into(),
        17 => "UDP".into(),
        1 => "ICMP".into(),
        58 => "IPv6-ICMP".into(),
        47 => "GRE".into(),
        50 => "ESP".into(),
        51 => "AH".into(),
        132 => "SCTP".into(),
        other => other.to_string().into(),
    }
}

/// The outermost tunnel layer of a packet, logged as EVE's `tunnel` object.
#[derive(Debug, Clone, Serialize)]
pub struct TunnelInfo {
    pub src_ip: IpAddr,
    pub dest_ip: IpAddr,
    pub proto: &'static str,
    pub depth: u32,
}

/// The part every record shares.
#[derive(Serialize)]
pub struct Header<'a> {
    pub timestamp: &'a str,
    pub flow_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pcap_cnt: Option<u64>,
    pub event_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<&'a [u16]>,
    pub src_ip: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    pub dest_ip: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_port: Option<u16>,
    pub proto: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_proto: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<&'a TunnelInfo>,
    pub community_id: &'a str,
}

/// Appends one record: `header` with `"<key>": body` added, and a newline.
///
/// Serialising our own plain structs into a `Vec` cannot fail (no maps with non-string keys, no
/// I/O); should it ever, the record is dropped whole rather than leaving half a line.
pub fn write_record<B: Serialize>(out: &mut Vec<u8>, header: &Header<'_>, key: &str, body: &B) {
    let start = out.len();
    if serde_json::to_writer(&mut *out, header).is_err() {
        out.truncate(start);
        return;
    }
    // The header always ends in '}': reopen it.
    out.pop();
    out.push(b',');
    if serde_json::to_writer(&mut *out, key).is_err() {
        out.truncate(start);
        return;
    }
    out.push(b':');
    if serde_json::to_writer(&mut *out, body).is_err() {
        out.truncate(start);
        return;
    }
    out.extend_from_slice(b"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_match_known_dates() {
        // 2026-11-27T19:27:53Z = 1795807673 (date -u -d @1795807673).
        assert_eq!(
            timestamp_string(1_795_807_673_123_456),
            "2026-11-27T19:27:53.123456+0000"
        );
        assert_eq!(timestamp_string(0), "1970-01-01T00:00:00.000000+0000");
        // A leap day: 2024-02-29T12:00:00Z = 1709208000.
        assert_eq!(
            timestamp_string(1_709_208_000_000_001),
            "2024-02-29T12:00:00.000001+0000"
        );
    }

    #[test]
    fn record_is_one_flat_line() {
        let h = Header {
            timestamp: "2026-01-15T09:00:00.000000+0000",
            flow_id: 7,
            pcap_cnt: Some(3),
            event_type: "dns",
            vlan: None,
            src_ip: "10.0.0.1".parse().expect("ip"),
            src_port: Some(5353),
            dest_ip: "10.0.0.2".parse().expect("ip"),
            dest_port: Some(53),
            proto: "UDP",
            icmp_type: None,
            icmp_code: None,
            app_proto: None,
            tunnel: None,
            community_id: "1:abc",
        };
        let mut out = Vec::new();
        write_record(&mut out, &h, "dns", &serde_json::json!({"version": 3}));
        let line = std::str::from_utf8(&out).expect("utf8");
        assert!(line.ends_with("}\n"));
        let v: serde_json::Value = serde_json::from_str(line.trim_end()).expect("json");
        assert_eq!(v["dns"]["version"], 3);
        assert_eq!(v["pcap_cnt"], 3);
        assert_eq!(v["src_port"], 5353);
    }
}
