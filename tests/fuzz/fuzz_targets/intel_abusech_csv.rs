#![no_main]
// The six abuse.ch CSV exports share one reader; the first byte picks the format, the rest is
// the file.
use tapir_intel::FeedFormat as F;
const FORMATS: [F; 6] = [
    F::Feodo,
    F::SslblJa3,
    F::SslblCert,
    F::SslblIp,
    F::Urlhaus,
    F::ThreatfoxCsv,
];
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((&k, rest)) = data.split_first() {
        if let Some(&f) = FORMATS.get(usize::from(k) % FORMATS.len()) {
            tapir_intel::fuzzing::fuzz_feed(f, rest);
        }
    }
});
