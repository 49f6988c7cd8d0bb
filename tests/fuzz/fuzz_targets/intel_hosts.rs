#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tapir_intel::fuzzing::fuzz_feed(
    tapir_intel::FeedFormat::Hosts,
    data
));
