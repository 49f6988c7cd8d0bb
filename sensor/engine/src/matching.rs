//! Intel and pattern hits become alerts: once per flow per indicator or pattern, and only while
//! the indicator is live at packet time.

use std::net::IpAddr;

use tapir_intel::{Indicator, IntelDb};
use tapir_patterns::Scanner;

use crate::emit::emit;
use crate::events::{AlertBody, MatchField};
use crate::flow::{Dir, Flow};
use crate::{PktCtx, Sink};

/// Pattern alerts share the per-flow "alerted" list with indicators; their keys live above
/// every indicator id.
const PATTERN_ALERT_KEY: u32 = 1 << 31;

/// Raises one alert per flow per pattern for `hits` (pattern index, end offset, direction).
pub(crate) fn pattern_alerts(
    sink: &mut Sink,
    sc: &Scanner,
    flow: &mut Flow,
    ctx: PktCtx,
    hits: &[(u32, u64, Dir)],
) {
    for &(idx, offset, dir) in hits {
        let key = PATTERN_ALERT_KEY | idx;
        if flow.alerted_on(key) {
            continue;
        }
        let Some(def) = sc.set().get(idx) else {
            continue;
        };
        flow.alerted.push(key);
        sink.stats.alerts += 1;
        let body = AlertBody::pattern(def, idx, offset, dir == Dir::ToServer);
        emit(sink, flow, dir, ctx, "alert", &body);
    }
}

/// Raises an intel alert unless this flow already alerted on this indicator.
#[allow(clippy::too_many_arguments)] // One call shape for every match site.
pub(crate) fn alert(
    sink: &mut Sink,
    intel: &IntelDb,
    flow: &mut Flow,
    dir: Dir,
    ctx: PktCtx,
    ind: &Indicator,
    field: MatchField,
    matched: &str,
) {
    if flow.alerted_on(ind.id) {
        return;
    }
    // Past its valid_until (or the feed's expire_after), on packet time: no longer matches.
    let now = i64::try_from(ctx.ts_us / 1_000_000).unwrap_or(i64::MAX);
    if !intel.is_live(ind, now) {
        sink.stats.intel_expired_hits += 1;
        return;
    }
    sink.stats.add_sighting(
        ind.ty,
        &ind.value,
        crate::stats::Sighting {
            hits: 1,
            first: now,
            last: now,
        },
    );
    flow.alerted.push(ind.id);
    sink.stats.alerts += 1;
    let body = AlertBody::intel(ind, field, matched);
    emit(sink, flow, dir, ctx, "alert", &body);
}

pub(crate) fn match_domain(
    sink: &mut Sink,
    intel: &IntelDb,
    flow: &mut Flow,
    dir: Dir,
    ctx: PktCtx,
    name: &str,
    field: MatchField,
) {
    if let Some(ind) = intel.match_domain(name) {
        alert(sink, intel, flow, dir, ctx, ind, field, name);
    }
}

pub(crate) fn socks_ip(
    sink: &mut Sink,
    intel: &IntelDb,
    flow: &mut Flow,
    dir: Dir,
    ctx: PktCtx,
    ip: IpAddr,
) {
    if let Some(ind) = intel.match_ip(ip) {
        let text = ip.to_string();
        alert(
            sink,
            intel,
            flow,
            dir,
            ctx,
            ind,
            MatchField::SocksTarget,
            &text,
        );
    }
}
