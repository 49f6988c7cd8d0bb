//! Runs the `fuzz_stream` invariant checker (every delivered byte equals the reference at its
//! sequence number, no byte twice, depth and buffer caps hold) over pseudo-random inputs, so
//! the fuzz body is exercised on every `cargo test` and not only under cargo-fuzz.

use tapir_flow::fuzzing::fuzz_stream;

/// xorshift64* (Vigna 2016): deterministic, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn byte(&mut self) -> u8 {
        (self.next() >> 56) as u8
    }
}

#[test]
fn short_and_empty_inputs() {
    for len in 0..=13 {
        fuzz_stream(&vec![0u8; len]);
        fuzz_stream(&vec![0xffu8; len]);
    }
}

/// Rounds per test; raise with `TAPIR_FUZZ_ROUNDS=1000000` for a longer (release) run.
fn rounds(default: u64) -> u64 {
    std::env::var("TAPIR_FUZZ_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn random_inputs_hold_invariants() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..rounds(4000) {
        let mut data = Vec::new();
        // ISN: half the time close to 2^32 so the stream wraps.
        let isn = if round % 2 == 0 {
            u32::MAX - (rng.next() % 300) as u32
        } else {
            rng.next() as u32
        };
        data.extend_from_slice(&isn.to_be_bytes());
        // depth, max_ooo_bytes, max_ooo_segments: mostly small so the limits are hit.
        data.extend_from_slice(&((rng.next() % 2000) as u16).to_be_bytes());
        data.extend_from_slice(&((rng.next() % 1500) as u16).to_be_bytes());
        data.push((rng.next() % 12) as u8);
        let records = 1 + rng.next() % 60;
        // Segments mostly near the start, in a random order, sometimes overlapping.
        for _ in 0..records {
            let r = rng.next();
            let flags = match r % 16 {
                0 => 0x80,       // flush
                1 => 0x02,       // SYN
                2 => 0x04,       // RST
                3 => 0x01,       // FIN
                4 => rng.byte(), // anything
                _ => 0,
            };
            // One in 23 lands anywhere in the 16-bit offset space.
            let off: i16 = match (r >> 8) % 23 {
                0 => rng.next() as i16,
                _ => ((rng.next() % 900) as i16) - 20,
            };
            data.push(flags);
            data.extend_from_slice(&off.to_be_bytes());
            data.push(match (r >> 16) % 7 {
                0 => 0, // zero-length segment
                _ => rng.byte() % 120,
            });
        }
        fuzz_stream(&data);
    }
}

#[test]
fn fully_random_bytes() {
    let mut rng = Rng(42);
    for _ in 0..rounds(3000) {
        let len = (rng.next() % 300) as usize;
        let data: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
        fuzz_stream(&data);
    }
}
