//! Fuzz entry points (for `cargo fuzz` targets and the in-crate smoke tests).

use std::sync::Arc;

use crate::parse::{self, Parsed};
use crate::{IndicatorKind, LoadReport};

/// Parses arbitrary bytes as a list file of `kind` through the same line parser used for files
/// (no disk), then checks invariants on the result: each accepted indicator matches itself, its
/// normalised value re-parses to itself, and IP lookups return a prefix at least as specific.
///
/// # Panics
/// On an invariant violation (that is the point of a fuzz target); never on any input otherwise.
pub fn fuzz_list(kind: IndicatorKind, data: &[u8]) {
    let source: Arc<str> = Arc::from("fuzz");
    let mut b = crate::IntelDb::builder();
    let mut report = LoadReport::default();
    // The in-memory reader cannot fail and `data` cannot reach MAX_INDICATORS lines... unless it
    // is enormous, which is still not an invariant violation.
    let _ = b.load_reader(kind, data, &source, &mut report);
    assert_eq!(b.len(), report.loaded.total());
    let db = b.build();
    assert_eq!(db.len(), report.loaded.total());
    for ind in db.iter() {
        assert_eq!(db.get(ind.id), Some(ind));
        match ind.kind {
            IndicatorKind::Domain => {
                assert_eq!(
                    parse::parse_domain(&ind.value).as_deref(),
                    Ok(ind.value.as_str())
                );
                assert_eq!(db.match_domain(&ind.value).map(|i| i.id), Some(ind.id));
                assert_eq!(
                    db.match_domain(&ind.value.to_ascii_uppercase())
                        .map(|i| i.id),
                    Some(ind.id)
                );
                if ind.value.len() < parse::MAX_DOMAIN_LEN.saturating_sub(2) {
                    let sub = format!("x.{}.", ind.value);
                    assert!(
                        db.match_domain(&sub).is_some(),
                        "subdomain of {} missed",
                        ind.value
                    );
                }
            }
            IndicatorKind::Ip => {
                let Ok(Parsed::Ip { net, host_bits }) = parse::parse_ip(&ind.value) else {
                    panic!("normalised ip {:?} does not re-parse", ind.value);
                };
                assert!(!host_bits);
                assert_eq!(net.to_value(), ind.value);
                let hit = db.match_ip(net.addr()).expect("network address must match");
                let Ok(Parsed::Ip { net: hit_net, .. }) = parse::parse_ip(&hit.value) else {
                    panic!("matched value {:?} does not parse", hit.value);
                };
                assert!(hit_net.prefix_len() >= net.prefix_len());
            }
            IndicatorKind::Ja3 => {
                assert_eq!(db.match_ja3(&ind.value).map(|i| i.id), Some(ind.id));
                assert_eq!(
                    db.match_ja3(&ind.value.to_ascii_uppercase()).map(|i| i.id),
                    Some(ind.id)
                );
            }
            IndicatorKind::Ja4 => {
                assert_eq!(db.match_ja4(&ind.value).map(|i| i.id), Some(ind.id));
                assert_eq!(
                    db.match_ja4(&ind.value.to_ascii_uppercase()).map(|i| i.id),
                    Some(ind.id)
                );
            }
        }
    }
}
