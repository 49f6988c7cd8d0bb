//! Entry point for the `hunt_rules` fuzz target (tests/fuzz): hunt files are outside input.

use serde_json::json;

use crate::collect::{Collector, Limits};
use crate::parse::parse_str;
use crate::verdict::{evaluate, RunInfo};

/// Parses `data` as a hunt file; whatever parses is evaluated over a few events (one of them
/// the input itself when it is JSON), and the report is rendered. Panics only on a broken
/// invariant: an error without a place.
pub fn fuzz_rules(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (hunts, errors) = parse_str("fuzz.yaml", text);
    for e in &errors {
        assert!(e.line >= 1 && e.column >= 1, "error without a place: {e}");
    }
    if hunts.is_empty() {
        return;
    }
    let mut c = Collector::new(hunts, Limits::default());
    let events = [
        json!({"timestamp":"2026-01-15T09:00:05.180500+0000","flow_id":1,"event_type":"flow","src_ip":"10.0.0.5","src_port":40000,"dest_ip":"203.0.113.66","dest_port":443,"proto":"TCP","flow":{"start":"2026-01-15T09:00:05.000000+0000","end":"2026-01-15T09:00:06.000000+0000","bytes_toserver":100}}),
        json!({"timestamp":"2026-01-15T09:00:06.000000+0000","flow_id":1,"event_type":"tls","src_ip":"10.0.0.5","dest_ip":"203.0.113.66","tls":{"sni":"c2.example","ja4":"t13d040800_ddb3979a63c6_b7dbbb63159c"}}),
        json!({"timestamp":"2026-01-15T09:10:00.000000+0000","event_type":"alert","src_ip":"10.0.0.5","dest_ip":"203.0.113.66","alert":{"signature_id":1630001,"metadata":{"tapir_detector":["beacon"]},"context":{"detector":"beacon","score":0.9,"flow_ids":[1]}}}),
    ];
    for e in &events {
        c.line(e.to_string().as_bytes());
    }
    c.line(data);
    let (report, _) = evaluate(&c.into_collected(), &RunInfo::default());
    let _ = crate::html::render(&report, None);
}

#[cfg(test)]
mod tests {
    #[test]
    fn shipped_hunts_and_garbage_run_through() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/hunts");
        let mut n = 0;
        for e in std::fs::read_dir(dir).expect("rules/hunts").flatten() {
            let text = std::fs::read(e.path()).expect("read");
            super::fuzz_rules(&text);
            n += 1;
        }
        assert!(n >= 8);
        for junk in [
            &b"\xff\xfe"[..],
            b"- - - [",
            b"{id: [}",
            b"---\n...\n---\nid: 1\n",
            b"*a",
            b"&a [*a, *a]",
        ] {
            super::fuzz_rules(junk);
        }
    }
}
