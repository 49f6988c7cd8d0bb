//! No allocation per packet on the hot path: once flows exist and their handshakes are
//! parsed, packets of those flows allocate nothing. A counting global allocator measures the
//! steady state of an engine fed a generated capture.

use std::alloc::System;
use std::sync::Arc;

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use tapir_capture::RawPacket;
use tapir_engine::{Engine, EngineConfig};
use tapir_gen_demo::bench::BenchConfig;
use tapir_intel::IntelDb;
use tapir_wire::LinkType;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn steady_state_packets_do_not_allocate() {
    // Few long flows: after the first part every flow exists and has been classified.
    let cfg = BenchConfig {
        packets: 60_000,
        flows: 16,
        seed: 5,
        flood: false,
        ..Default::default()
    };
    let pcap = tapir_gen_demo::bench_bytes(&cfg).expect("generate");
    let recs = tapir_benches::records(&pcap);
    let mut e = Engine::new(EngineConfig::default(), Arc::new(IntelDb::empty()));
    let mut out = Vec::with_capacity(1 << 22);
    let feed = |e: &mut Engine, out: &mut Vec<u8>, range: std::ops::Range<usize>| {
        for (i, r) in recs[range].iter().enumerate() {
            let pkt = RawPacket {
                ts_us: r.ts_us,
                wire_len: r.wire_len,
                data: &pcap[r.range.clone()],
            };
            e.process(LinkType::Ethernet, &pkt, i as u64 + 1);
            // Drain into a buffer that never grows, so output does not count as packet work.
            out.clear();
            let _ = e.drain_to(out);
        }
    };
    let half = recs.len() / 2;
    feed(&mut e, &mut out, 0..half);
    let flows_before = e.stats().flows;
    let events_before = e.stats().event_total();
    let region = Region::new(GLOBAL);
    feed(&mut e, &mut out, half..recs.len());
    let change = region.change();
    let packets = (recs.len() - half) as u64;
    let new_flows = e.stats().flows - flows_before;
    let new_events = e.stats().event_total() - events_before;
    println!(
        "{packets} packets, {new_flows} new flows, {new_events} events: {} allocations, {} reallocations",
        change.allocations, change.reallocations
    );
    // New flows and the events they log allocate (flow state, parsed messages, JSON); plain
    // packets must not. Budget: 24 allocations per new flow or event (about 17.5 measured), zero
    // per packet: one allocation per packet would blow it more than twice over.
    let budget = 24 * (new_flows + new_events);
    let allocs = (change.allocations + change.reallocations) as u64;
    assert!(
        allocs <= budget,
        "{allocs} allocations for {packets} packets ({new_flows} flows, {new_events} events)"
    );
    assert!(packets > 20_000);
}
