//! Baseline for the replay throughput figures: reads a capture through the same libpcap path
//! as `tapir replay` and does nothing else, then prints a summary line in the same shape.
//! Usage: `pcap-read-baseline [--native] FILE...` (`--native`: tapir's own reader instead).

use std::time::Instant;

fn main() {
    let started = Instant::now();
    let (mut packets, mut bytes) = (0u64, 0u64);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let native = args.iter().any(|a| a == "--native");
    let kind = if native {
        tapir_capture::ReaderKind::Native
    } else {
        tapir_capture::ReaderKind::Libpcap
    };
    for path in args.iter().filter(|a| *a != "--native") {
        let mut f = match tapir_capture::CaptureFile::open(std::path::Path::new(path), kind) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("pcap-read-baseline: {e}");
                std::process::exit(1);
            }
        };
        while let Ok(Some(p)) = f.next_packet() {
            packets += 1;
            bytes += u64::from(p.packet.wire_len);
        }
    }
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "baseline{}: packets={packets} bytes={bytes} elapsed={secs:.3}s rate={:.3}Mpps {:.3}Gbit/s",
        if native { "-native" } else { "-libpcap" },
        packets as f64 / secs / 1e6,
        bytes as f64 * 8.0 / secs / 1e9
    );
}
