#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tapir_wire::fuzzing::decode_all_links(data));
