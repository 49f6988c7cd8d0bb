//! The `[respond]` section of tapir.example.toml states the defaults (the tapir binary's own
//! config test checks the whole file; this one fails first and names the section).

use tapir_respond::{RawRespond, RespondConfig};

#[test]
fn example_respond_section_is_the_default() {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tapir.example.toml");
    let text = std::fs::read_to_string(&p).expect("example file");
    let all: toml::Table = toml::from_str(&text).expect("toml");
    let section = all.get("respond").expect("[respond] section").clone();
    let raw: RawRespond = section.try_into().expect("respond keys");
    assert_eq!(raw.validate().expect("valid"), RespondConfig::default());
}
