//! Fuzz entry for the configuration file: used by `tests/fuzz` (target `config`) and by the
//! unit tests below. Not part of the command's API.
//!
//! Input: the file's bytes; bytes that are not UTF-8 are replaced (`load` refuses such a file
//! before parsing, so only text reaches [`config::parse`]).
//!
//! Invariants (a broken one panics with what broke):
//! - [`config::parse`] never panics and answers the same twice;
//! - a refusal says where: a key under one of the [`TOP_KEYS`], or with a line `(top level)`
//!   or an unknown top-level key; a line it names is one of the file's lines; the message reads
//!   `FILE: KEY: MESSAGE`;
//! - an accepted file's values are within the bounds the loader enforces ([`check_bounds`]);
//! - an accepted file, read as a TOML table and written back with `toml`'s writer, is accepted
//!   again with the same result: the loader depends on values, not on how they are spelt;
//! - a line that `parse_size`, `parse_duration_us` or `parse_listen` accepts gives the same
//!   value again from the value's plain spelling.

use std::path::Path;

use crate::config::{self, parse_duration_us, parse_listen, parse_size, Config, ConfigError};

/// The keys of the top level of the file: every refusal's key starts with one of them.
pub const TOP_KEYS: [&str; 14] = [
    "workers",
    "capture",
    "sensor_name",
    "output",
    "intel",
    "flow",
    "stream",
    "defrag",
    "pipeline",
    "patterns",
    "metrics",
    "hunts",
    "detect",
    "respond",
];

/// The name errors give the fuzzed file.
const FILE: &str = "fuzz.toml";

/// Runs [`check`]; panics with the broken invariant.
pub fn fuzz_config(data: &[u8]) {
    if let Err(m) = check(data) {
        panic!("config invariant broken: {m}");
    }
}

/// Parses `data` as a config file and checks the invariants in the module doc.
///
/// # Errors
/// The first broken invariant.
pub fn check(data: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(data);
    let first = config::parse(&text, Path::new(FILE));
    let again = config::parse(&text, Path::new(FILE));
    if format!("{first:?}") != format!("{again:?}") {
        return Err(format!("two parses differ: {first:?} / {again:?}"));
    }
    match &first {
        Err(e) => check_error(&text, e)?,
        Ok(c) => {
            check_bounds(c)?;
            check_rewritten(&text, c)?;
        }
    }
    // Bounded work per input: values sit on short lines.
    for line in text.lines().take(64).filter(|l| l.len() <= 64) {
        check_values(line)?;
    }
    Ok(())
}

/// The line a message names (`... (line N)`), if any.
fn line_of(message: &str) -> Option<usize> {
    let (_, rest) = message.rsplit_once("(line ")?;
    rest.strip_suffix(')')?.parse().ok()
}

/// A refusal names where the problem is.
///
/// # Errors
/// What the refusal lacks.
pub fn check_error(text: &str, e: &ConfigError) -> Result<(), String> {
    let ConfigError::Invalid { path, key, message } = e else {
        return Err(format!("parsing text read a file: {e}"));
    };
    if path != Path::new(FILE) {
        return Err(format!(
            "error names {} instead of the file",
            path.display()
        ));
    }
    if message.trim().is_empty() {
        return Err(format!("empty message for {key}"));
    }
    let line = line_of(message);
    if let Some(n) = line {
        let lines = text.split('\n').count();
        if n == 0 || n > lines {
            return Err(format!("line {n} of a file of {lines} lines: {e}"));
        }
    }
    if key == "(top level)" {
        if line.is_none() {
            return Err(format!("a top-level error names no line: {e}"));
        }
    } else {
        let root = key.split(['.', '[', ' ']).next().unwrap_or_default();
        // A key unknown at the top level is its own path; the message says which and where.
        let unknown_here = message.starts_with("unknown field") && line.is_some();
        if !TOP_KEYS.contains(&root) && !unknown_here {
            return Err(format!("key {key:?} is not under a known key: {e}"));
        }
    }
    let shown = e.to_string();
    if !shown.starts_with(&format!("{FILE}: {key}: ")) {
        return Err(format!("message does not read FILE: KEY: ...: {shown}"));
    }
    Ok(())
}

fn within(key: &str, v: u64, min: u64, max: u64) -> Result<(), String> {
    if (min..=max).contains(&v) {
        Ok(())
    } else {
        Err(format!("accepted {key} = {v}, outside {min}..={max}"))
    }
}

fn truth(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("accepted, but {}", what()))
    }
}

/// Widens a count; every count here fits in 64 bits.
fn n(v: usize) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// The bounds [`config::parse`] enforces, checked on its result: what the engine, capture,
/// outputs, detectors and responder size their memory and timers by.
///
/// # Errors
/// The first value outside its bounds.
pub fn check_bounds(c: &Config) -> Result<(), String> {
    let p = &c.pipeline;
    // Unset, the worker count is the machine's core count, which may pass 1024.
    if p.workers != tapir_engine::PipelineConfig::default().workers {
        within("workers", n(p.workers), 1, 1024)?;
    }
    within("pipeline.batch_packets", n(p.batch_packets), 1, 65_536)?;
    within("pipeline.batch_bytes", n(p.batch_bytes), 65_536, 1 << 30)?;
    within("pipeline.queue_batches", n(p.queue_batches), 1, 4096)?;
    let e = &c.engine;
    within("flow.max_flows", n(e.max_flows), 1, 1 << 26)?;
    for (key, us) in [
        ("flow.timeout_new", e.timeout_new_us),
        ("flow.timeout_tcp_established", e.timeout_tcp_established_us),
        ("flow.timeout_tcp_closed", e.timeout_tcp_closed_us),
        ("flow.timeout_udp", e.timeout_udp_us),
        ("defrag.timeout", e.defrag.timeout_us),
    ] {
        within(key, us, 1, u64::MAX)?;
    }
    within(
        "flow.udp_probe_packets",
        u64::from(e.udp_probe_packets),
        1,
        64,
    )?;
    within(
        "stream.max_ooo_bytes",
        u64::from(e.stream.max_ooo_bytes),
        0,
        1 << 30,
    )?;
    within("defrag.max_bytes", n(e.defrag.max_bytes), 0, 1 << 36)?;
    within(
        "defrag.max_datagrams",
        n(e.defrag.max_datagrams),
        0,
        1 << 24,
    )?;
    within("patterns.stream_depth", c.pattern_depth, 0, 1 << 40)?;
    let l = &c.live;
    within("capture.ring_size", l.ring_size, 8192, 1 << 40)?;
    within("capture.block_size", u64::from(l.block_size), 4096, 1 << 30)?;
    within("capture.frame_size", u64::from(l.frame_size), 128, 1 << 30)?;
    within(
        "capture.block_timeout",
        u64::from(l.block_timeout_ms),
        1,
        u64::MAX,
    )?;
    truth(l.validate().is_ok(), || format!("{l:?} does not validate"))?;
    for i in &l.interfaces {
        truth(
            !i.is_empty() && i.len() <= 15 && !i.contains(['/', ' ']),
            || format!("interface {i:?}"),
        )?;
    }
    check_outputs(&c.outputs)?;
    if let Some(s) = &c.sensor_name {
        truth(
            !s.is_empty() && s.len() <= 255 && !s.chars().any(char::is_control),
            || format!("sensor_name {s:?}"),
        )?;
    }
    for f in &c.feeds {
        truth(f.validate().is_ok(), || {
            format!("feed {f:?} does not validate")
        })?;
    }
    truth(
        c.feed_cache.is_some() || c.feeds.iter().all(|f| f.url.is_none()),
        || "a url feed without intel.cache_dir".into(),
    )?;
    truth(
        parse_listen(&c.metrics_listen.to_string()) == Ok(c.metrics_listen),
        || format!("metrics.listen {} does not read back", c.metrics_listen),
    )?;
    truth(c.detect.validate().is_ok(), || {
        format!("[detect] does not validate: {:?}", c.detect.validate())
    })?;
    check_respond(&c.respond)
}

fn check_outputs(outs: &[tapir_output::OutputSpec]) -> Result<(), String> {
    truth(!outs.is_empty(), || "no output".into())?;
    for (i, o) in outs.iter().enumerate() {
        let key = |k: &str| format!("output[{i}].{k}");
        truth(
            outs.get(..i)
                .is_some_and(|before| before.iter().all(|b| b.target != o.target)),
            || format!("{} listed twice", o.target),
        )?;
        within(&key("queue_size"), o.queue_bytes, 0, 1 << 36)?;
        within(&key("buffer_size"), o.buffer_max_bytes, 1 << 16, 1 << 44)?;
        within(&key("batch"), n(o.batch), 1, 65_536)?;
        truth(!o.flush_timeout.is_zero(), || {
            key("flush_timeout") + " is 0"
        })?;
        let kafka = matches!(o.target, tapir_output::Target::Kafka { .. });
        truth(kafka || o.kafka.is_empty(), || {
            key("kafka") + " on a non-kafka target"
        })?;
        truth(!o.kafka.contains_key("bootstrap.servers"), || {
            key("kafka") + " sets bootstrap.servers"
        })?;
    }
    Ok(())
}

fn check_respond(r: &tapir_respond::RespondConfig) -> Result<(), String> {
    truth(r.default_ttl <= r.max_ttl, || {
        "respond.default_ttl > max_ttl".into()
    })?;
    truth(r.retry_min <= r.retry_max, || {
        "respond.retry_min > retry_max".into()
    })?;
    truth(
        r.element_timeout_max >= r.reconcile_interval.saturating_mul(3),
        || "respond.element_timeout_max < 3 x reconcile_interval".into(),
    )?;
    let max = tapir_respond::config::MAX_DURATION;
    for (key, d) in [
        ("max_ttl", r.max_ttl),
        ("default_ttl", r.default_ttl),
        ("reconcile_interval", r.reconcile_interval),
        ("element_timeout_max", r.element_timeout_max),
        ("retry_min", r.retry_min),
        ("retry_max", r.retry_max),
        ("webhook.timeout", r.webhook.timeout),
    ] {
        truth(d <= max, || format!("respond.{key} {d:?} is over {max:?}"))?;
    }
    for rule in &r.rules {
        truth(rule.ttl <= r.max_ttl, || {
            format!("a respond rule's ttl {:?} is over max_ttl", rule.ttl)
        })?;
    }
    within("respond.max_decisions", n(r.max_decisions), 1, 1 << 24)?;
    within(
        "respond.max_new_per_minute",
        u64::from(r.max_new_per_minute),
        1,
        u64::MAX,
    )?;
    within("respond.audit_max_bytes", r.audit_max_bytes, 4096, u64::MAX)?;
    within(
        "respond.webhook.batch_max",
        n(r.webhook.batch_max),
        1,
        100_000,
    )?;
    for (i, b) in r.backends.iter().enumerate() {
        truth(
            tapir_respond::config::BACKENDS.contains(&b.as_str()),
            || format!("backend {b:?}"),
        )?;
        truth(
            r.backends
                .get(..i)
                .is_some_and(|before| !before.contains(b)),
            || format!("backend {b:?} twice"),
        )?;
    }
    Ok(())
}

/// Written back by `toml`, an accepted file reads the same.
fn check_rewritten(text: &str, c: &Config) -> Result<(), String> {
    let table: toml::Table =
        toml::from_str(text).map_err(|e| format!("accepted, but not a TOML table: {e}"))?;
    let written =
        toml::to_string(&table).map_err(|e| format!("toml cannot write the table back: {e}"))?;
    let again = config::parse(&written, Path::new(FILE))
        .map_err(|e| format!("refused once written back: {e}\n--- written:\n{written}"))?;
    if format!("{again:?}") != format!("{c:?}") {
        return Err(format!(
            "written back, reads differently:\n{c:?}\n{again:?}\n--- written:\n{written}"
        ));
    }
    Ok(())
}

/// The value parsers: what they accept reads back from its plain spelling.
fn check_values(line: &str) -> Result<(), String> {
    if let Ok(v) = parse_size(line) {
        truth(parse_size(&v.to_string()) == Ok(v), || {
            format!("size {line:?} = {v} does not read back")
        })?;
    }
    if let Ok(us) = parse_duration_us(line) {
        // Every unit is a whole number of milliseconds.
        truth(us % 1000 == 0, || format!("duration {line:?} = {us} µs"))?;
        let ms = format!("{}ms", us / 1000);
        truth(parse_duration_us(&ms) == Ok(us), || {
            format!("duration {line:?} = {us} µs does not read back as {ms}")
        })?;
    }
    if let Ok(a) = parse_listen(line) {
        truth(parse_listen(&a.to_string()) == Ok(a), || {
            format!("listen {line:?} = {a} does not read back")
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_file(rel: &str) -> Vec<u8> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(rel);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn shipped_configs_are_accepted_and_hold_every_invariant() {
        // The last two are hand-made fuzz seeds (every output kind, feeds, the responder).
        for rel in [
            "tapir.example.toml",
            "systemd/tapir.toml",
            "tests/fuzz/seeds/config/outputs-feeds.toml",
            "tests/fuzz/seeds/config/respond-detect.toml",
        ] {
            let data = repo_file(rel);
            let text = String::from_utf8(data.clone()).expect("UTF-8");
            // Accepted, so the bounds and the write-back check ran, not only the error path.
            config::parse(&text, Path::new(rel)).unwrap_or_else(|e| panic!("{e}"));
            check(&data).unwrap_or_else(|m| panic!("{rel}: {m}"));
        }
    }

    #[test]
    fn refusals_hold_the_invariants() {
        let refused = [
            "[flow\n",
            "workers = 1\nworkers = 2\n",
            "nosuch = 1\n",
            "[flow]\nmax_flow = 1\n",
            "[flow]\nmax_flows = 0\n",
            "[[output]]\ntarget = \"-\"\n[[output]]\ntarget = \"-\"\n",
            "[detect.beacon]\nmin_connections = 2\n",
            "[respond]\ndefault_ttl = \"40d\"\n",
            "[respond]\nretry_max = \"3651d\"\n",
            "[[intel.feeds]]\nname = \"x\"\n",
            "[capture]\nring_size = -1\n",
            "\u{0}",
        ];
        for text in refused {
            assert!(
                config::parse(text, Path::new(FILE)).is_err(),
                "{text:?} accepted"
            );
            check(text.as_bytes()).unwrap_or_else(|m| panic!("{text:?}: {m}"));
        }
        // Not UTF-8: replaced, then parsed like any text.
        check(b"sensor_name = \"\xff\"\n").expect("invariants");
    }

    /// Finding 4 (tests/fuzz/README.md): `reconcile_interval * 3` overflowed `Duration` in
    /// `RawRespond::validate`, so this file panicked `tapir check-config`.
    #[test]
    fn huge_reconcile_interval_is_refused_not_a_panic() {
        let data = repo_file("tests/fuzz/seeds/config/regress-reconcile-overflow.toml");
        let text = String::from_utf8(data.clone()).expect("UTF-8");
        let e = config::parse(&text, Path::new(FILE))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        // Refused by the ten-year bound on durations since; before it, by the 3x check.
        assert!(e.contains("respond.reconcile_interval"), "{e}");
        check(&data).expect("invariants");
    }

    #[test]
    fn top_keys_are_the_files_top_level() {
        let e = config::parse("nosuch = 1\n", Path::new(FILE))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        let (_, expected) = e.split_once("expected one of").expect("field list");
        let mut named: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let mut ours = TOP_KEYS.to_vec();
        named.sort_unstable();
        ours.sort_unstable();
        assert_eq!(named, ours);
    }

    #[test]
    fn error_checks_catch_a_refusal_that_says_nowhere() {
        let bad = |key: &str, message: &str| ConfigError::Invalid {
            path: FILE.into(),
            key: key.into(),
            message: message.into(),
        };
        assert!(check_error("x\n", &bad("(top level)", "broken")).is_err());
        assert!(check_error("x\n", &bad("(top level)", "broken (line 3)")).is_err());
        assert!(check_error("x\n", &bad("(top level)", "broken (line 2)")).is_ok());
        assert!(check_error("x\n", &bad("nosuch.key", "broken")).is_err());
        assert!(check_error("x\n", &bad("nosuch", "unknown field `nosuch`")).is_err());
        assert!(check_error("x\n", &bad("nosuch", "unknown field `nosuch` (line 1)")).is_ok());
        assert!(check_error("x\n", &bad("flow.max_flows", "")).is_err());
        assert!(check_error("x\n", &bad("output[0].batch", "too big")).is_ok());
    }

    #[test]
    fn bound_checks_catch_values_out_of_range() {
        assert_eq!(check_bounds(&Config::default()), Ok(()));
        let mut c = Config::default();
        c.engine.max_flows = 0;
        assert!(check_bounds(&c).is_err_and(|m| m.contains("flow.max_flows")));
        let mut c = Config::default();
        c.outputs.push(c.outputs[0].clone());
        assert!(check_bounds(&c).is_err_and(|m| m.contains("twice")));
        let mut c = Config::default();
        c.respond.retry_min = c.respond.retry_max * 2;
        assert!(check_bounds(&c).is_err_and(|m| m.contains("retry")));
        let mut c = Config::default();
        c.live.block_timeout_ms = 0;
        assert!(check_bounds(&c).is_err_and(|m| m.contains("capture.block_timeout")));
    }

    #[test]
    fn value_parsers_read_back() {
        for line in [
            "64KiB",
            "1500",
            " 16MB ",
            "10m",
            "500ms",
            "1h",
            "[::1]:9917",
            "x",
        ] {
            check_values(line).unwrap_or_else(|m| panic!("{m}"));
        }
    }
}
