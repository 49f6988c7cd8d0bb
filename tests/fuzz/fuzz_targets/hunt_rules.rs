#![no_main]
// A hunt file (rules/hunts/*.yaml): loading and checking never panic or recurse without bound;
// what parses is evaluated over a few events (and the input as an event) and rendered.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tapir_hunt::fuzzing::fuzz_rules(data);
});
