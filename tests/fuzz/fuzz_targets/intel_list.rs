#![no_main]
// First byte: the list kind (tapir_intel::IndicatorKind::ALL, modulo); the rest: the list file.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((&k, rest)) = data.split_first() {
        let kinds = tapir_intel::IndicatorKind::ALL;
        if let Some(&kind) = kinds.get(usize::from(k) % kinds.len()) {
            tapir_intel::fuzzing::fuzz_list(kind, rest);
        }
    }
});
