//! Runs the fuzz entry over real list bytes cut at every offset and over pseudo-random bytes.

use tapir_intel::fuzzing::fuzz_list;
use tapir_intel::IndicatorKind;

const SAMPLE: &[u8] = b"# list\r\n192.0.2.1\nexample.com  # c\n*.Example.ORG.\n10.9.8.7/8\n2001:db8::/32\n::ffff:198.51.100.0/120\n\
e7eca2baf4458d095b7f45da28c16c34\nt13d1516h2_8daaf6152771_e5627efa2ab1\nbad..name\n\xff\n0.0.0.0/0\n::/0\n";

#[test]
fn truncation_at_every_offset() {
    for kind in IndicatorKind::ALL {
        for end in 0..=SAMPLE.len() {
            fuzz_list(kind, &SAMPLE[..end]);
            fuzz_list(kind, &SAMPLE[end..]);
        }
    }
}

#[test]
fn pseudo_random_bytes() {
    // xorshift64: deterministic, no dependency. Alphabet biased towards list syntax.
    let alphabet = b"0123456789abcdefABCDEF.:/_-*# \t\r\n\xff\xc3tqdixyz";
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut buf = Vec::new();
    for round in 0..400 {
        buf.clear();
        for _ in 0..(round % 97) * 4 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            buf.push(alphabet[usize::try_from(s % alphabet.len() as u64).unwrap()]);
        }
        for kind in IndicatorKind::ALL {
            fuzz_list(kind, &buf);
        }
    }
}
