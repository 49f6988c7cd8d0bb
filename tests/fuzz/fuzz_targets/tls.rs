#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tapir_proto::tls::fuzz_tls(data));
