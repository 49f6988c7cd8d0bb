#![no_main]
// The disk buffer of a network output as a restart finds it: segment files and the
// acknowledged-position cursor, torn or corrupted (format: tapir_output::fuzzing).
libfuzzer_sys::fuzz_target!(|data: &[u8]| tapir_output::fuzzing::fuzz_spool(data));
