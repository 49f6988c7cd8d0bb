//! Loading and checking hunt files. Every problem is reported at its place (`file:line:column`)
//! and checking goes on after one, so a file's author sees all of them at once. Unknown keys
//! are refused, so a misspelt condition never silently matches everything.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use crate::rule::{Action, BlockTarget, Cond, Hunt, Key, Severity, EVENT_TYPES};

mod cond;

/// Hunt files larger than this are refused unread: a hunt is a page of text.
pub const MAX_FILE_BYTES: usize = 256 * 1024;
/// Deepest `[`/`{` nesting accepted, and deepest indentation of a node (columns). Together they
/// bound the depth of the YAML tree, whose drop, hashing and our own walk recurse.
const MAX_FLOW_DEPTH: usize = 64;
const MAX_NODE_COLUMN: usize = 256;
/// Deepest condition nesting (all/any/not/sequence).
const MAX_COND_DEPTH: usize = 16;
/// Most leaves in one hunt, and most values in one list.
const MAX_LEAVES: usize = 64;
const MAX_LIST: usize = 4096;

/// One problem in a hunt file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleError {
    pub file: String,
    /// 1-based line and column.
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// What [`load_paths`] found: the hunts that are valid, every error, and the files read.
#[derive(Debug, Default)]
pub struct Loaded {
    pub hunts: Vec<Hunt>,
    pub errors: Vec<RuleError>,
    pub files: Vec<PathBuf>,
}

/// Loads hunt files: each path is a `.yaml`/`.yml` file or a directory of them (not
/// recursive, in name order). Ids must be unique over everything loaded.
pub fn load_paths(paths: &[PathBuf]) -> Loaded {
    let mut out = Loaded::default();
    for p in paths {
        let name = p.display().to_string();
        match std::fs::metadata(p) {
            Err(e) => out
                .errors
                .push(err_at(&name, 1, 1, format!("cannot read: {e}"))),
            Ok(m) if m.is_dir() => match std::fs::read_dir(p) {
                Err(e) => out
                    .errors
                    .push(err_at(&name, 1, 1, format!("cannot read: {e}"))),
                Ok(rd) => {
                    let mut files: Vec<PathBuf> = rd
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|f| is_yaml(f) && f.is_file())
                        .collect();
                    files.sort();
                    if files.is_empty() {
                        out.errors.push(err_at(
                            &name,
                            1,
                            1,
                            "no hunt files (*.yaml, *.yml) in this directory".into(),
                        ));
                    }
                    out.files.extend(files);
                }
            },
            Ok(_) => out.files.push(p.clone()),
        }
    }
    let mut seen: HashMap<String, (String, usize)> = HashMap::new();
    for f in out.files.clone() {
        let name = f.display().to_string();
        let text = match read_limited(&f) {
            Ok(t) => t,
            Err(m) => {
                out.errors.push(err_at(&name, 1, 1, m));
                continue;
            }
        };
        let (hunts, errors) = parse_str(&name, &text);
        out.errors.extend(errors);
        for h in hunts {
            if let Some((file, line)) = seen.get(&h.id) {
                out.errors.push(err_at(
                    &h.file,
                    h.line,
                    1,
                    format!("id {:?} is already used at {file}:{line}", h.id),
                ));
                continue;
            }
            seen.insert(h.id.clone(), (h.file.clone(), h.line));
            out.hunts.push(h);
        }
    }
    out
}

fn is_yaml(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("yaml") | Some("yml")
    )
}

fn read_limited(p: &Path) -> Result<String, String> {
    let m = std::fs::metadata(p).map_err(|e| format!("cannot read: {e}"))?;
    if m.len() > MAX_FILE_BYTES as u64 {
        return Err(format!(
            "file is {} bytes, more than the {MAX_FILE_BYTES} a hunt file may have",
            m.len()
        ));
    }
    let bytes = std::fs::read(p).map_err(|e| format!("cannot read: {e}"))?;
    String::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))
}

fn err_at(file: &str, line: usize, column: usize, message: String) -> RuleError {
    RuleError {
        file: file.to_string(),
        line,
        column,
        message,
    }
}

/// Parses one file's text (one hunt per YAML document). Returns the valid hunts and every
/// error; a hunt with an error is left out.
pub fn parse_str(file: &str, text: &str) -> (Vec<Hunt>, Vec<RuleError>) {
    let mut cx = Cx {
        file: file.to_string(),
        errors: Vec::new(),
    };
    if text.len() > MAX_FILE_BYTES {
        cx.err_lc(1, 1, format!("more than {MAX_FILE_BYTES} bytes"));
        return (Vec::new(), cx.errors);
    }
    if let Some((line, col, why)) = too_deep(text) {
        cx.err_lc(line, col, why);
        return (Vec::new(), cx.errors);
    }
    let docs = match MarkedYaml::load_from_str(text) {
        Ok(d) => d,
        Err(e) => {
            let m = e.marker();
            cx.err_lc(m.line().max(1), m.col() + 1, format!("YAML: {}", e.info()));
            return (Vec::new(), cx.errors);
        }
    };
    let mut hunts = Vec::new();
    let non_empty: Vec<&MarkedYaml> = docs
        .iter()
        .filter(|d| !matches!(d.data, YamlData::Value(Scalar::Null)))
        .collect();
    if non_empty.is_empty() {
        cx.err_lc(1, 1, "no hunt in this file".into());
    }
    for doc in non_empty {
        let before = cx.errors.len();
        let hunt = cx.hunt(doc);
        if cx.errors.len() == before {
            hunts.extend(hunt);
        }
    }
    (hunts, cx.errors)
}

/// A cheap look at the raw text before the YAML loader builds a tree whose depth would follow
/// from it (see [`MAX_FLOW_DEPTH`]). Returns where and why it is refused.
fn too_deep(text: &str) -> Option<(usize, usize, String)> {
    let mut depth = 0usize;
    for (n, line) in text.lines().enumerate() {
        let mut lead = 0usize;
        let mut in_lead = true;
        let mut prev = ' ';
        for (col, c) in line.chars().enumerate() {
            if in_lead {
                // Block indicators ("- ", "? ", ": ") open a level on the same line.
                let indicator = matches!(c, '-' | '?' | ':') && matches!(prev, ' ' | '\t');
                if c == ' ' || c == '\t' || indicator || (col == 0 && matches!(c, '-' | '?')) {
                    lead = col + 1;
                } else {
                    in_lead = false;
                }
            }
            match c {
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Some((
                            n + 1,
                            col + 1,
                            format!("nesting deeper than {MAX_FLOW_DEPTH} levels"),
                        ));
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
            prev = c;
        }
        if lead > MAX_NODE_COLUMN {
            return Some((
                n + 1,
                lead,
                format!("indented past column {MAX_NODE_COLUMN}"),
            ));
        }
    }
    None
}

struct Cx {
    file: String,
    errors: Vec<RuleError>,
}

type Map<'a> = saphyr::AnnotatedMapping<'a, MarkedYaml<'a>>;

fn pos(n: &MarkedYaml) -> (usize, usize) {
    (n.span.start.line().max(1), n.span.start.col() + 1)
}

/// The node as text when it is a plain scalar (strings, and numbers/booleans written in it).
fn scalar_text(n: &MarkedYaml) -> Option<String> {
    match &n.data {
        YamlData::Value(Scalar::String(s)) => Some(s.to_string()),
        YamlData::Representation(s, _, _) => Some(s.to_string()),
        _ => None,
    }
}

fn describe(n: &MarkedYaml) -> &'static str {
    match &n.data {
        YamlData::Value(Scalar::Null) => "nothing",
        YamlData::Value(Scalar::Boolean(_)) => "a boolean",
        YamlData::Value(Scalar::Integer(_)) | YamlData::Value(Scalar::FloatingPoint(_)) => {
            "a number"
        }
        YamlData::Value(Scalar::String(_)) | YamlData::Representation(..) => "a string",
        YamlData::Sequence(_) => "a list",
        YamlData::Mapping(_) => "a mapping",
        YamlData::Tagged(..) => "a tagged node",
        YamlData::Alias(_) => "an alias",
        YamlData::BadValue => "an unreadable value",
    }
}

impl Cx {
    fn err_lc(&mut self, line: usize, column: usize, message: String) {
        // Bounded: a file full of mistakes still reports in reasonable space.
        if self.errors.len() < 1000 {
            self.errors.push(err_at(&self.file, line, column, message));
        }
    }

    fn err(&mut self, n: &MarkedYaml, message: String) {
        let (l, c) = pos(n);
        self.err_lc(l, c, message);
    }

    /// The mapping's entries with string keys; other keys are errors.
    fn entries<'a, 'b>(
        &mut self,
        m: &'b Map<'a>,
    ) -> Vec<(String, &'b MarkedYaml<'a>, &'b MarkedYaml<'a>)> {
        let mut out = Vec::new();
        for (k, v) in m.iter() {
            match scalar_text(k) {
                Some(s) => out.push((s, k, v)),
                None => self.err(k, format!("a key must be a string, not {}", describe(k))),
            }
        }
        out
    }

    fn mapping<'a, 'b>(&mut self, n: &'b MarkedYaml<'a>, what: &str) -> Option<&'b Map<'a>> {
        match &n.data {
            YamlData::Mapping(m) => Some(m),
            _ => {
                self.err(n, format!("{what} must be a mapping, not {}", describe(n)));
                None
            }
        }
    }

    fn string(&mut self, n: &MarkedYaml, what: &str) -> Option<String> {
        match scalar_text(n) {
            Some(s) if !s.trim().is_empty() => Some(s),
            Some(_) => {
                self.err(n, format!("{what} must not be empty"));
                None
            }
            None => {
                self.err(n, format!("{what} must be a string, not {}", describe(n)));
                None
            }
        }
    }

    /// A string or a list of strings.
    fn strings(&mut self, n: &MarkedYaml, what: &str) -> Vec<(String, (usize, usize))> {
        match &n.data {
            YamlData::Sequence(items) => {
                if items.is_empty() {
                    self.err(n, format!("{what} must not be an empty list"));
                }
                if items.len() > MAX_LIST {
                    self.err(n, format!("{what}: more than {MAX_LIST} values"));
                    return Vec::new();
                }
                items
                    .iter()
                    .filter_map(|i| self.string(i, what).map(|s| (s, pos(i))))
                    .collect()
            }
            _ => self
                .string(n, what)
                .map(|s| vec![(s, pos(n))])
                .unwrap_or_default(),
        }
    }

    fn number(&mut self, n: &MarkedYaml, what: &str) -> Option<f64> {
        match &n.data {
            YamlData::Value(Scalar::Integer(i)) => Some(*i as f64),
            YamlData::Value(Scalar::FloatingPoint(f)) if f.0.is_finite() => Some(f.0),
            _ => {
                self.err(n, format!("{what} must be a number, not {}", describe(n)));
                None
            }
        }
    }

    fn unsigned(&mut self, n: &MarkedYaml, what: &str) -> Option<u64> {
        match &n.data {
            YamlData::Value(Scalar::Integer(i)) if *i >= 0 => Some(*i as u64),
            _ => {
                self.err(
                    n,
                    format!("{what} must be a whole number >= 0, not {}", describe(n)),
                );
                None
            }
        }
    }

    fn hunt(&mut self, doc: &MarkedYaml) -> Option<Hunt> {
        let m = self.mapping(doc, "a hunt")?;
        let (line, _) = pos(doc);
        let mut id = None;
        let mut title = None;
        let mut hypothesis = None;
        let mut techniques = Vec::new();
        let mut needs = Vec::new();
        let mut needs_node = None;
        let mut severity = None;
        let mut same = None;
        let mut window_us = None;
        let mut actions = Vec::new();
        let mut when = None;
        let mut leaves = Vec::new();
        for (k, kn, v) in self.entries(m) {
            match k.as_str() {
                "id" => {
                    if let Some(s) = self.string(v, "id") {
                        if valid_id(&s) {
                            id = Some(s);
                        } else {
                            self.err(v, format!("id {s:?}: use 1-64 of a-z 0-9 . _ -, starting with a letter or digit (it names evidence files)"));
                        }
                    }
                }
                "title" => title = self.string(v, "title"),
                "hypothesis" => hypothesis = self.string(v, "hypothesis"),
                "techniques" => {
                    for (t, (l, c)) in self.strings(v, "techniques") {
                        if valid_technique(&t) {
                            techniques.push(t);
                        } else {
                            self.err_lc(l, c, format!("technique {t:?} is not an ATT&CK technique id (T1234 or T1234.001)"));
                        }
                    }
                }
                "needs" => {
                    needs_node = Some(v);
                    needs = self.needs(v);
                }
                "severity" => {
                    if let Some(s) = self.string(v, "severity") {
                        severity = Severity::parse(&s);
                        if severity.is_none() {
                            self.err(v, format!("severity {s:?}: one of {}", Severity::NAMES.join(", ")));
                        }
                    }
                }
                "same" => {
                    if let Some(s) = self.string(v, "same") {
                        same = Key::parse(&s);
                        if same.is_none() {
                            self.err(v, format!("same {s:?}: one of {}", Key::NAMES.join(", ")));
                        }
                    }
                }
                "window" => {
                    if let Some(s) = self.string(v, "window") {
                        window_us = parse_duration_us(&s);
                        if window_us.is_none() {
                            self.err(v, format!("window {s:?}: a positive duration such as 90s, 10m, 2h, 1d"));
                        }
                    }
                }
                "actions" => actions = self.actions(v),
                "when" => when = Some(self.cond(v, &mut leaves, 0)),
                _ => self.err(kn, format!("unknown key {k:?} (known: id, title, hypothesis, techniques, needs, severity, same, window, actions, when)")),
            }
        }
        let missing: Vec<&str> = [
            ("id", id.is_none()),
            ("title", title.is_none()),
            ("hypothesis", hypothesis.is_none()),
            ("techniques", techniques.is_empty()),
            ("needs", needs.is_empty()),
            ("severity", severity.is_none()),
            ("when", when.is_none()),
        ]
        .iter()
        .filter(|(_, m)| *m)
        .map(|(k, _)| *k)
        .collect();
        // A key that was present but wrong has its own error already.
        let absent: Vec<&str> = missing
            .into_iter()
            .filter(|k| {
                !m.iter()
                    .any(|(kn, _)| scalar_text(kn).as_deref() == Some(*k))
            })
            .collect();
        if !absent.is_empty() {
            self.err(
                doc,
                format!("missing required key(s): {}", absent.join(", ")),
            );
        }
        if leaves.len() > MAX_LEAVES {
            self.err(doc, format!("more than {MAX_LEAVES} conditions"));
        }
        // Every event type a condition reads must be named in `needs`, or a missing data source
        // would pass for "nothing matched".
        if let Some(nn) = needs_node {
            for leaf in &leaves {
                for t in &leaf.event_types {
                    if t != "alert" && !needs.iter().flatten().any(|n| n == t) {
                        let (l, c) = (leaf.line, leaf.col);
                        self.err_lc(
                            l,
                            c,
                            format!(
                                "this condition reads {t} events: list {t} in needs (line {})",
                                pos(nn).0
                            ),
                        );
                    }
                }
            }
        }
        if let Some(w) = &when {
            self.check_not_placement(w, same.is_some(), doc);
        }
        Some(Hunt {
            id: id?,
            title: title?,
            hypothesis: hypothesis?,
            techniques,
            needs,
            severity: severity?,
            same,
            window_us,
            actions,
            when: when?,
            leaves,
            file: self.file.clone(),
            line,
        })
    }

    fn needs(&mut self, v: &MarkedYaml) -> Vec<Vec<String>> {
        let YamlData::Sequence(items) = &v.data else {
            self.err(
                v,
                format!("needs must be a list of event types, not {}", describe(v)),
            );
            return Vec::new();
        };
        if items.is_empty() {
            self.err(v, "needs must name at least one event type".into());
        }
        let mut out = Vec::new();
        for i in items.iter().take(MAX_LIST) {
            // An entry is one type, or a list of alternatives (`[tls, quic]`: either will do).
            let alts = self.strings(i, "needs entry");
            let mut ok = Vec::new();
            for (t, (l, c)) in alts {
                if EVENT_TYPES.contains(&t.as_str()) {
                    ok.push(t);
                } else {
                    self.err_lc(
                        l,
                        c,
                        format!(
                            "unknown event type {t:?} (known: {})",
                            EVENT_TYPES.join(", ")
                        ),
                    );
                }
            }
            if !ok.is_empty() {
                out.push(ok);
            }
        }
        out
    }

    fn actions(&mut self, v: &MarkedYaml) -> Vec<Action> {
        let Some(m) = self.mapping(v, "actions") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, kn, val) in self.entries(m) {
            match k.as_str() {
                "block" => {
                    if let Some(s) = self.string(val, "block") {
                        match s.as_str() {
                            "src_ip" => out.push(Action::Block(BlockTarget::SrcIp)),
                            "dest_ip" => out.push(Action::Block(BlockTarget::DestIp)),
                            _ => self.err(val, format!("block {s:?}: src_ip or dest_ip")),
                        }
                    }
                }
                _ => self.err(kn, format!("unknown action {k:?} (known: block)")),
            }
        }
        out
    }
    /// `not` needs something positive beside it: with a key, "no match" has to be about the
    /// keys that something else found.
    fn check_not_placement(&mut self, c: &Cond, keyed: bool, doc: &MarkedYaml) {
        if !keyed {
            return;
        }
        if !has_positive(c) {
            self.err(doc, "with `same`, the conditions need something that must match, not only `not` (no key to correlate on otherwise)".into());
        }
    }
}

/// Whether a condition can hold only with some matching event (so keys come from it).
fn has_positive(c: &Cond) -> bool {
    match c {
        Cond::Leaf(_) | Cond::Sequence(_) => true,
        Cond::Not(_) => false,
        Cond::All(v) => v.iter().any(has_positive),
        Cond::Any(v) => !v.is_empty() && v.iter().all(has_positive),
    }
}

fn valid_id(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b.first()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(c))
}

fn valid_technique(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('T') else {
        return false;
    };
    let (main, sub) = match rest.split_once('.') {
        Some((m, s)) => (m, Some(s)),
        None => (rest, None),
    };
    let digits = |x: &str, n: usize| x.len() == n && x.bytes().all(|c| c.is_ascii_digit());
    digits(main, 4)
        && match sub {
            None => true,
            Some(s) => digits(s, 3),
        }
}

/// A duration as the rules write it: the largest whole unit.
pub fn format_duration_us(us: u64) -> String {
    for (unit, n) in [
        ("d", 86_400_000_000u64),
        ("h", 3_600_000_000),
        ("m", 60_000_000),
        ("s", 1_000_000),
    ] {
        // Not `is_multiple_of`: newer than the workspace's rust-version (1.80).
        if us / n * n == us {
            return format!("{}{unit}", us / n);
        }
    }
    format!("{}ms", us / 1000)
}

/// `90s`, `10m`, `2h`, `1d` (also `500ms`) as microseconds; `None` if zero or malformed.
pub fn parse_duration_us(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mul: u64 = match unit {
        "ms" => 1_000,
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        _ => return None,
    };
    n.checked_mul(mul).filter(|&v| v > 0)
}

#[cfg(test)]
mod tests;
