//! Baseline for the replay throughput figures: reads a capture through the same libpcap path
//! as `tapir replay` and does nothing else, then prints a summary line in the same shape.
//! Usage: `pcap-read-baseline FILE...`

use std::time::Instant;

fn main() {
    let started = Instant::now();
    let (mut packets, mut bytes) = (0u64, 0u64);
    for path in std::env::args().skip(1) {
        let mut f = match tapir_capture::PcapFile::open(std::path::Path::new(&path)) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("pcap-read-baseline: {e}");
                std::process::exit(1);
            }
        };
        while let Ok(Some(p)) = f.next_packet() {
            packets += 1;
            bytes += u64::from(p.wire_len);
        }
    }
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "baseline: packets={packets} bytes={bytes} elapsed={secs:.3}s rate={:.3}Mpps {:.3}Gbit/s",
        packets as f64 / secs / 1e6,
        bytes as f64 * 8.0 / secs / 1e9
    );
}
