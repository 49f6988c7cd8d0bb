//! Fuzz entry for the decision journal as a start finds it (torn, hand-edited or corrupted):
//! used by `tests/fuzz` (target `respond_journal`) and by the unit tests below. Not part of the
//! responder's API.
//!
//! Input: bytes 0-7 are the clock (`now`, Unix ms, big-endian); the rest is the journal file.
//!
//! Invariants: reading a readable file never fails (bad lines are warnings); live, expired and
//! skipped lines together never outnumber the lines; every decision has a canonical network
//! (host bits clear, prefix within the family's width, its text parses strictly to itself) and
//! falls on the right side of `now`; writing the decisions back and reading them again gives
//! the same decisions and no warning; replaying them into a store keeps one per network with
//! the latest expiry.

use std::collections::BTreeMap;
use std::fs;

use crate::decision::{Decision, DecisionStore};
use crate::journal::Journal;
use crate::net::Net;

/// Writes `data` (after the 8-byte clock) as the journal, reads it, checks the invariants in
/// the module doc. Panics on a broken one.
pub fn fuzz_journal(data: &[u8]) {
    let (clock, body) = data.split_at(data.len().min(8));
    let mut now = [0u8; 8];
    if let Some(dst) = now.get_mut(..clock.len()) {
        dst.copy_from_slice(clock);
    }
    let now_ms = u64::from_be_bytes(now);
    let path = tapir_capture::fuzz_scratch("journal").join("decisions.jsonl");
    let mut j = Journal::open(&path).expect("scratch dir");
    fs::write(&path, body).expect("write journal");
    let loaded = j.read(now_ms).expect("a readable journal always reads");
    let lines = body.split(|&b| b == b'\n').count();
    assert!(
        loaded.live.len() + loaded.expired.len() + loaded.warnings.len() <= lines,
        "more results than lines"
    );
    for d in &loaded.live {
        check_net(&d.net);
        assert!(d.live(now_ms), "a live decision that is expired: {d:?}");
    }
    for d in &loaded.expired {
        check_net(&d.net);
        assert!(!d.live(now_ms), "an expired decision still live: {d:?}");
    }
    j.write(loaded.live.iter().chain(&loaded.expired))
        .expect("write back");
    let again = j.read(now_ms).expect("read back");
    assert!(
        again.warnings.is_empty(),
        "own output skipped: {:?}",
        again.warnings
    );
    assert_eq!(again.live, loaded.live);
    assert_eq!(again.expired, loaded.expired);
    let mut latest: BTreeMap<Net, u64> = BTreeMap::new();
    let mut store = DecisionStore::new(usize::MAX);
    for d in loaded.live {
        let e = latest.entry(d.net).or_insert(0);
        *e = (*e).max(d.expires_ms);
        store.merge(d);
    }
    let restored: Vec<&Decision> = store.iter().collect();
    assert_eq!(restored.len(), latest.len(), "one decision per network");
    for d in restored {
        assert_eq!(
            latest.get(&d.net),
            Some(&d.expires_ms),
            "the latest expiry wins"
        );
    }
    if let Some(dir) = path.parent() {
        let _ = fs::remove_dir_all(dir);
    }
}

fn check_net(n: &Net) {
    let width = if n.is_ipv4() { 32 } else { 128 };
    assert!(n.prefix_len() <= width, "prefix {n:?}");
    assert_eq!(
        Net::new(n.addr(), n.prefix_len()),
        Some(*n),
        "not canonical: {n:?}"
    );
    assert_eq!(Net::parse_strict(&n.to_string()), Ok(*n), "text of {n:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_clock(now: u64, body: &[u8]) -> Vec<u8> {
        let mut d = now.to_be_bytes().to_vec();
        d.extend_from_slice(body);
        d
    }

    #[test]
    fn journals_good_bad_and_mixed_pass() {
        let good = concat!(
            "{\"tapir_journal\":1}\n",
            "{\"net\":\"10.1.2.3/8\",\"origin\":\"o\",\"reason\":\"r\",\"ttl_ms\":1,\"created_ms\":0,\"expires_ms\":50}\n",
            "{\"net\":\"::ffff:192.0.2.0/120\",\"origin\":\"o\",\"reason\":\"r\",\"ttl_ms\":1,\"created_ms\":0,\"expires_ms\":5}\n",
            "{\"net\":\"10.0.0.0/8\",\"origin\":\"o\",\"reason\":\"r\",\"ttl_ms\":1,\"created_ms\":0,\"expires_ms\":90}\n",
        );
        fuzz_journal(&with_clock(10, good.as_bytes()));
        fuzz_journal(&with_clock(10, b"{\"net\":\"1.2.3.4/33\"}\n{broken\n\n"));
        fuzz_journal(&[1, 2, 3]);
    }
}
