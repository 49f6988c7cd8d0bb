#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tapir_proto::quic::fuzz_quic(data));
