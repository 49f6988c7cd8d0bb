#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tapir_capture::native::fuzz_reader(data));
