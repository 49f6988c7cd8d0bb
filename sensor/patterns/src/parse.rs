//! Pattern file parsers: the `key=value` entry format (`patterns*.rules`) and plain literal lists
//! (`patterns*.txt`). The format is documented in `rules/README.md`.

use std::sync::Arc;

use crate::{
    DirScope, LoadError, Matcher, PatternDef, PortSet, ProtoScope, Scope, DEFAULT_SEVERITY,
    MAX_CONTENT_BYTES, MAX_LINE_BYTES, MAX_MITRE_TAGS, MAX_PORT_RANGES, MAX_REGEX_BYTES,
};

/// Which parser a file name selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `patterns*.txt`: one literal a line.
    Plain,
    /// `patterns*.rules`: one `key=value` entry a line.
    Rules,
}

impl FileKind {
    /// Classifies a file by its name (not its path): `patterns*.txt` is [`FileKind::Plain`],
    /// `patterns*.rules` is [`FileKind::Rules`]; anything else is not a pattern file.
    pub fn from_file_name(name: &str) -> Option<FileKind> {
        let lower = name.to_ascii_lowercase();
        if !lower.starts_with("patterns") {
            return None;
        }
        if lower.ends_with(".txt") {
            Some(FileKind::Plain)
        } else if lower.ends_with(".rules") {
            Some(FileKind::Rules)
        } else {
            None
        }
    }
}

/// Parses one pattern file's text. `file` is only used to label entries and errors.
/// Every line that does not parse becomes a [`LoadError`]; the other lines are returned.
pub fn parse_text(kind: FileKind, file: &str, text: &str) -> (Vec<PatternDef>, Vec<LoadError>) {
    let file: Arc<str> = Arc::from(file);
    let mut defs = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = u32::try_from(i.saturating_add(1)).unwrap_or(u32::MAX);
        let err = |reason: String| LoadError {
            file: file.clone(),
            line: line_no,
            reason,
        };
        if raw.len() > MAX_LINE_BYTES {
            errors.push(err(format!("line longer than {MAX_LINE_BYTES} bytes")));
            continue;
        }
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parsed = match kind {
            FileKind::Plain => parse_plain_line(line),
            FileKind::Rules => parse_rule_line(line),
        };
        match parsed {
            Ok(mut def) => {
                def.file = file.clone();
                def.line = line_no;
                defs.push(def);
            }
            Err(reason) => errors.push(err(reason)),
        }
    }
    (defs, errors)
}

fn parse_plain_line(line: &str) -> Result<PatternDef, String> {
    let bytes = decode_content(line)?;
    Ok(PatternDef {
        id: 0,
        name: line.to_string(),
        matcher: Matcher::Literal {
            bytes,
            nocase: false,
        },
        scope: Scope::default(),
        severity: DEFAULT_SEVERITY,
        mitre: Vec::new(),
        reference: None,
        file: Arc::from(""),
        line: 0,
    })
}

/// Parses one entry line: `key=value` tokens (values may be `"quoted"`) and bare flags.
pub fn parse_rule_line(line: &str) -> Result<PatternDef, String> {
    let mut id: Option<u32> = None;
    let mut name: Option<String> = None;
    let mut content: Option<Vec<u8>> = None;
    let mut content_text: Option<String> = None;
    let mut regex: Option<(String, bool, bool, bool)> = None;
    let mut nocase = false;
    let mut scope = Scope::default();
    let mut severity: Option<u8> = None;
    let mut mitre: Option<Vec<String>> = None;
    let mut reference: Option<String> = None;
    let mut seen: Vec<&str> = Vec::new();

    let mut rest = line;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() || rest.starts_with('#') {
            break;
        }
        let (key, value, after) = next_token(rest)?;
        rest = after;
        if seen.contains(&key) {
            return Err(format!("key `{key}` given twice"));
        }
        seen.push(key);
        let need =
            |v: Option<String>| v.ok_or_else(|| format!("`{key}` needs a value (`{key}=...`)"));
        match key {
            "id" => {
                let v = need(value)?;
                let n: u32 = v
                    .parse()
                    .map_err(|_| format!("id `{v}` is not a number 1..=4294967295"))?;
                if n == 0 {
                    return Err("id 0 is reserved for plain lists".into());
                }
                id = Some(n);
            }
            "name" => {
                let v = need(value)?;
                if v.is_empty() {
                    return Err("empty name".into());
                }
                name = Some(v);
            }
            "content" => {
                let v = need(value)?;
                content = Some(decode_content(&v)?);
                content_text = Some(v);
            }
            "regex" | "pcre" => regex = Some(parse_regex(&need(value)?)?),
            "nocase" => {
                if value.is_some() {
                    return Err("`nocase` takes no value".into());
                }
                nocase = true;
            }
            "proto" => {
                scope.proto = match need(value)?.as_str() {
                    "tcp" => ProtoScope::Tcp,
                    "udp" => ProtoScope::Udp,
                    "any" => ProtoScope::Any,
                    other => return Err(format!("proto `{other}`: expected tcp, udp or any")),
                }
            }
            "dir" => {
                scope.dir = match need(value)?.as_str() {
                    "to-server" | "to_server" => DirScope::ToServer,
                    "to-client" | "to_client" => DirScope::ToClient,
                    "both" | "any" => DirScope::Both,
                    other => {
                        return Err(format!(
                            "dir `{other}`: expected to-server, to-client or both"
                        ))
                    }
                }
            }
            "ports" => scope.ports = parse_ports(&need(value)?)?,
            "sport" => scope.sport = parse_ports(&need(value)?)?,
            "dport" => scope.dport = parse_ports(&need(value)?)?,
            "depth" => {
                let v = need(value)?;
                let n: u64 = v
                    .parse()
                    .map_err(|_| format!("depth `{v}` is not a number"))?;
                if n == 0 {
                    return Err("depth must be at least 1".into());
                }
                scope.depth = Some(n);
            }
            "severity" => {
                let v = need(value)?;
                let n: u8 = v
                    .parse()
                    .map_err(|_| format!("severity `{v}`: expected 1..=255"))?;
                if n == 0 {
                    return Err("severity `0`: expected 1..=255".into());
                }
                severity = Some(n);
            }
            "mitre" => {
                let v = need(value)?;
                let tags: Vec<String> = v.split(',').map(|t| t.trim().to_string()).collect();
                if tags.len() > MAX_MITRE_TAGS {
                    return Err(format!("more than {MAX_MITRE_TAGS} mitre tags"));
                }
                for t in &tags {
                    if !is_attack_id(t) {
                        return Err(format!(
                            "mitre `{t}`: expected an ATT&CK technique id like T1071 or T1071.001"
                        ));
                    }
                }
                mitre = Some(tags);
            }
            "ref" | "reference" => {
                let v = need(value)?;
                if v.is_empty() {
                    return Err("empty ref".into());
                }
                reference = Some(v);
            }
            other => return Err(format!("unknown key `{other}`")),
        }
    }

    let id = id.ok_or("missing `id=`")?;
    let matcher = match (content, regex) {
        (Some(_), Some(_)) => return Err("give either `content=` or `regex=`, not both".into()),
        (None, None) => return Err("missing `content=` or `regex=`".into()),
        (Some(bytes), None) => Matcher::Literal { bytes, nocase },
        (None, Some((expr, caseless, dotall, multiline))) => {
            if nocase {
                return Err("`nocase` applies to `content=`; use the regex flag `i`".into());
            }
            Matcher::Regex {
                expr,
                caseless,
                dotall,
                multiline,
            }
        }
    };
    let name = match name {
        Some(n) => n,
        None => match &matcher {
            Matcher::Literal { .. } => content_text.unwrap_or_default(),
            Matcher::Regex { expr, .. } => expr.clone(),
        },
    };
    Ok(PatternDef {
        id,
        name,
        matcher,
        scope,
        severity: severity.unwrap_or(DEFAULT_SEVERITY),
        mitre: mitre.unwrap_or_default(),
        reference,
        file: Arc::from(""),
        line: 0,
    })
}

/// Splits the next `key[=value]` token off `s` (which starts at the token). A value is either
/// `"quoted"` (inside, only `\"` is an escape, so regex backslashes are kept as written) or
/// runs to the next whitespace.
fn next_token(s: &str) -> Result<(&str, Option<String>, &str), String> {
    let key_end = s
        .find(|c: char| c == '=' || c.is_whitespace())
        .unwrap_or(s.len());
    let key = s.get(..key_end).unwrap_or("");
    if key.is_empty() {
        return Err("expected `key=value`, found `=`".into());
    }
    if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format!("bad key `{key}`"));
    }
    let after_key = s.get(key_end..).unwrap_or("");
    let Some(v) = after_key.strip_prefix('=') else {
        return Ok((key, None, after_key));
    };
    if let Some(q) = v.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = q.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    let rest = q.get(i.saturating_add(1)..).unwrap_or("");
                    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
                        return Err(format!("`{key}`: text right after the closing quote"));
                    }
                    return Ok((key, Some(out), rest));
                }
                '\\' => match chars.clone().next() {
                    Some((_, '"')) => {
                        out.push('"');
                        chars.next();
                    }
                    _ => out.push('\\'),
                },
                c => out.push(c),
            }
        }
        Err(format!("`{key}`: unterminated quoted value"))
    } else {
        let end = v.find(char::is_whitespace).unwrap_or(v.len());
        let value = v.get(..end).unwrap_or("");
        if value.is_empty() {
            return Err(format!("`{key}=` has no value"));
        }
        Ok((key, Some(value.to_string()), v.get(end..).unwrap_or("")))
    }
}

/// Decodes Suricata-style content: printable text with `|41 42 0d 0a|` hex sections.
pub fn decode_content(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len());
    let mut in_hex = false;
    let mut nibble: Option<u8> = None;
    for c in s.chars() {
        if c == '|' {
            if in_hex && nibble.is_some() {
                return Err("odd number of hex digits between `|`".into());
            }
            in_hex = !in_hex;
            continue;
        }
        if in_hex {
            if c == ' ' {
                if nibble.is_some() {
                    return Err("a hex byte split by a space".into());
                }
                continue;
            }
            let d = c
                .to_digit(16)
                .ok_or_else(|| format!("`{c}` is not a hex digit (inside `|...|`)"))?;
            let d = u8::try_from(d).unwrap_or(0);
            match nibble.take() {
                None => nibble = Some(d),
                Some(hi) => out.push((hi << 4) | d),
            }
        } else {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
        if out.len() > MAX_CONTENT_BYTES {
            return Err(format!("content longer than {MAX_CONTENT_BYTES} bytes"));
        }
    }
    if in_hex {
        return Err("unterminated `|` hex section".into());
    }
    if out.is_empty() {
        return Err("empty content".into());
    }
    Ok(out)
}

/// Parses `/expr/flags` (flags among `i`, `s`, `m`) into (expr, caseless, dotall, multiline).
fn parse_regex(v: &str) -> Result<(String, bool, bool, bool), String> {
    let body = v
        .strip_prefix('/')
        .ok_or("regex must be written `/expression/flags`")?;
    let end = body
        .rfind('/')
        .ok_or("regex must be written `/expression/flags` (no closing `/`)")?;
    let expr = body.get(..end).unwrap_or("");
    let flags = body.get(end.saturating_add(1)..).unwrap_or("");
    if expr.is_empty() {
        return Err("empty regex".into());
    }
    if expr.len() > MAX_REGEX_BYTES {
        return Err(format!("regex longer than {MAX_REGEX_BYTES} bytes"));
    }
    if expr.contains('\0') {
        return Err("regex contains a NUL character (write \\x00)".into());
    }
    let (mut i, mut s, mut m) = (false, false, false);
    for f in flags.chars() {
        match f {
            'i' => i = true,
            's' => s = true,
            'm' => m = true,
            other => return Err(format!("regex flag `{other}`: supported flags are i, s, m")),
        }
    }
    Ok((expr.to_string(), i, s, m))
}

/// Parses `80,443,8000-8100` (or `any`) into a port set; `any` gives `None`.
fn parse_ports(v: &str) -> Result<Option<PortSet>, String> {
    if v == "any" {
        return Ok(None);
    }
    let mut ranges = Vec::new();
    for part in v.split(',') {
        let part = part.trim();
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let lo: u16 = lo
            .parse()
            .map_err(|_| format!("port `{part}` is not 0..=65535"))?;
        let hi: u16 = hi
            .parse()
            .map_err(|_| format!("port `{part}` is not 0..=65535"))?;
        if lo > hi {
            return Err(format!("port range `{part}` is reversed"));
        }
        if ranges.len() >= MAX_PORT_RANGES {
            return Err(format!("more than {MAX_PORT_RANGES} port ranges"));
        }
        ranges.push((lo, hi));
    }
    Ok(Some(PortSet::new(ranges)))
}

/// `T` + 4 digits, optionally `.` + 3 digits (ATT&CK technique / sub-technique ids).
fn is_attack_id(t: &str) -> bool {
    let b = t.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    match b {
        [b'T', rest @ ..] if rest.len() == 4 => digits(rest),
        [b'T', rest @ ..] if rest.len() == 8 => {
            let (main, sub) = rest.split_at(4);
            digits(main) && sub.first() == Some(&b'.') && digits(sub.get(1..).unwrap_or(&[]))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"id=1001 name="Cobalt Strike beacon UA" content="Mozilla/5.0 (compatible; MSIE 9.0|3b| Windows NT 6.1" nocase proto=tcp dir=to-server ports=80,8000-8100 sport=1024-65535 dport=80 depth=4096 severity=1 mitre=T1071.001,T1573 ref=https://attack.mitre.org/software/S0154/ # trailing comment"#;

    #[test]
    fn full_entry() {
        let d = parse_rule_line(FULL).expect("test data is valid");
        assert_eq!(d.id, 1001);
        assert_eq!(d.name, "Cobalt Strike beacon UA");
        assert_eq!(
            d.matcher,
            Matcher::Literal {
                bytes: b"Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1".to_vec(),
                nocase: true
            }
        );
        assert_eq!(d.scope.proto, ProtoScope::Tcp);
        assert_eq!(d.scope.dir, DirScope::ToServer);
        assert_eq!(d.scope.depth, Some(4096));
        let ports = d.scope.ports.as_ref().expect("test data is valid");
        assert!(ports.contains(80) && ports.contains(8000) && ports.contains(8100));
        assert!(!ports.contains(81) && !ports.contains(8101) && !ports.contains(7999));
        assert!(d
            .scope
            .sport
            .as_ref()
            .expect("test data is valid")
            .contains(1024));
        assert!(!d
            .scope
            .sport
            .as_ref()
            .expect("test data is valid")
            .contains(1023));
        assert_eq!(d.severity, 1);
        assert_eq!(d.mitre, vec!["T1071.001", "T1573"]);
        assert_eq!(
            d.reference.as_deref(),
            Some("https://attack.mitre.org/software/S0154/")
        );
    }

    #[test]
    fn regex_entry_and_flags() {
        let d = parse_rule_line(r#"id=2 regex="/a\"b\d{2}\/c/ism""#).expect("test data is valid");
        assert_eq!(
            d.matcher,
            Matcher::Regex {
                expr: r#"a"b\d{2}\/c"#.into(),
                caseless: true,
                dotall: true,
                multiline: true
            }
        );
        // Without name=, the name is the pattern text.
        assert_eq!(d.name, r#"a"b\d{2}\/c"#);
        assert_eq!(d.severity, DEFAULT_SEVERITY);
        assert_eq!(d.scope, Scope::default());
    }

    #[test]
    fn hex_content() {
        assert_eq!(
            decode_content("|41 42 0d 0a|").expect("test data is valid"),
            b"AB\r\n"
        );
        assert_eq!(
            decode_content("a|00|b|ff|").expect("test data is valid"),
            b"a\x00b\xff"
        );
        assert_eq!(
            decode_content("|4142|C").expect("test data is valid"),
            b"ABC"
        );
        for bad in ["|4|", "|41 4|", "|4 1|", "|zz|", "|41", "", "||"] {
            assert!(decode_content(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_lines_are_rejected_with_a_reason() {
        for (line, needle) in [
            ("content=\"x\"", "missing `id=`"),
            ("id=1", "missing `content=`"),
            ("id=0 content=\"x\"", "reserved"),
            ("id=x content=\"x\"", "not a number"),
            ("id=1 content=\"x\" regex=\"/x/\"", "not both"),
            ("id=1 content=\"x\" content=\"y\"", "twice"),
            ("id=1 content=\"x", "unterminated"),
            ("id=1 content=\"x\"y", "after the closing quote"),
            ("id=1 regex=\"x\"", "/expression/flags"),
            ("id=1 regex=\"/x/g\"", "flag `g`"),
            ("id=1 regex=\"//\"", "empty regex"),
            ("id=1 regex=\"/x/\" nocase", "flag `i`"),
            ("id=1 content=\"x\" proto=icmp", "proto"),
            ("id=1 content=\"x\" dir=up", "dir"),
            ("id=1 content=\"x\" ports=70000", "port"),
            ("id=1 content=\"x\" ports=90-80", "reversed"),
            ("id=1 content=\"x\" depth=0", "depth"),
            ("id=1 content=\"x\" severity=0", "severity"),
            ("id=1 content=\"x\" severity=256", "severity"),
            ("id=1 content=\"x\" mitre=T10", "mitre"),
            ("id=1 content=\"x\" mitre=T1071.1", "mitre"),
            ("id=1 content=\"x\" colour=red", "unknown key"),
            ("id=1 content=\"x\" nocase=yes", "no value"),
            ("id=1 content= x", "no value"),
            ("=1", "key=value"),
        ] {
            let err = parse_rule_line(line).unwrap_err();
            assert!(err.contains(needle), "{line}: {err}");
        }
    }

    #[test]
    fn errors_name_the_line_and_the_rest_load() {
        let text =
            "# header\nid=1 content=\"a\"\nid=2 content=\"|zz|\"\n\n  id=3 content=\"c\"  \n";
        let (defs, errs) = parse_text(FileKind::Rules, "f.rules", text);
        assert_eq!(
            defs.iter().map(|d| (d.id, d.line)).collect::<Vec<_>>(),
            vec![(1, 2), (3, 5)]
        );
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, 3);
        assert_eq!(errs[0].to_string().split(": ").next(), Some("f.rules:3"));
        let long = format!("id=1 content=\"{}\"", "a".repeat(MAX_LINE_BYTES));
        let (defs, errs) = parse_text(FileKind::Rules, "f.rules", &long);
        assert!(defs.is_empty() && errs.len() == 1);
    }

    #[test]
    fn file_kinds() {
        assert_eq!(
            FileKind::from_file_name("patterns.txt"),
            Some(FileKind::Plain)
        );
        assert_eq!(
            FileKind::from_file_name("patterns-web.TXT"),
            Some(FileKind::Plain)
        );
        assert_eq!(
            FileKind::from_file_name("patterns-c2.rules"),
            Some(FileKind::Rules)
        );
        assert_eq!(FileKind::from_file_name("domains.txt"), None);
        assert_eq!(FileKind::from_file_name("patterns.json"), None);
    }

    #[test]
    fn truncation_at_every_offset_does_not_panic() {
        for end in 0..=FULL.len() {
            if let Some(prefix) = FULL.get(..end) {
                let _ = parse_rule_line(prefix);
                let _ = parse_text(FileKind::Rules, "t", prefix);
                let _ = parse_text(FileKind::Plain, "t", prefix);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_do_not_panic() {
        // xorshift: deterministic pseudo-random lines over an alphabet rich in syntax bytes.
        let alphabet = b"id=contentregxpo\"|/\\ 0123456789abcdefT.,-#\t\xc3\xa9";
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut line = Vec::new();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 64) as usize;
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                line.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            let s = String::from_utf8_lossy(&line);
            let _ = parse_rule_line(&s);
            let _ = decode_content(&s);
        }
    }
}
