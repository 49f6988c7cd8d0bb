#![no_main]
// The TOML configuration file as `tapir --config` reads it (invariants: tapir::fuzzing).
libfuzzer_sys::fuzz_target!(|data: &[u8]| tapir::fuzzing::fuzz_config(data));
