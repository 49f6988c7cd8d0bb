#![no_main]
// Pattern files (rules/README.md): first byte's low bit picks the parser (0: `patterns*.txt`
// literal list, 1: `patterns*.rules` key=value entries), the rest is the file text. The crate
// has no fuzz module, so the invariants live here: one result per non-blank, non-comment line
// at most, every accepted entry within the documented caps, and the line parser agreeing with
// the file parser on single `.rules` lines.
use tapir_patterns::{parse_rule_line, parse_text, FileKind, Matcher};
use tapir_patterns::{MAX_CONTENT_BYTES, MAX_LINE_BYTES, MAX_MITRE_TAGS, MAX_REGEX_BYTES};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let kind = if sel & 1 == 0 {
        FileKind::Plain
    } else {
        FileKind::Rules
    };
    let (defs, errors) = parse_text(kind, "fuzz", text);
    assert!(defs.len() + errors.len() <= text.lines().count());
    for d in &defs {
        match &d.matcher {
            Matcher::Literal { bytes, .. } => {
                assert!(!bytes.is_empty() && bytes.len() <= MAX_CONTENT_BYTES)
            }
            Matcher::Regex { expr, .. } => assert!(expr.len() <= MAX_REGEX_BYTES),
        }
        assert!(d.mitre.len() <= MAX_MITRE_TAGS);
        assert!(d.line >= 1 && (d.line as usize) <= text.lines().count());
    }
    if kind == FileKind::Rules && !text.contains(['\n', '\r']) && text.len() <= MAX_LINE_BYTES {
        let line = text.trim();
        if !line.is_empty() && !line.starts_with('#') {
            assert_eq!(parse_rule_line(line).is_ok(), defs.len() == 1);
        }
    }
    let _ = tapir_patterns::decode_content(text);
});
