#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tapir_proto::dns::fuzz_dns(data));
