#![no_main]
// The decision journal as the responder finds it at start (format: tapir_respond::fuzzing).
libfuzzer_sys::fuzz_target!(|data: &[u8]| tapir_respond::fuzzing::fuzz_journal(data));
