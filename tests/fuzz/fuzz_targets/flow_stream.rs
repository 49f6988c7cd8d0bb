#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tapir_flow::fuzzing::fuzz_stream(data));
