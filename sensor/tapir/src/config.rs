//! The TOML configuration file, in two phases: `Raw*` types mirror the file (unknown keys
//! refused), then [`RawConfig::validate`] checks ranges and turns sizes and durations into
//! typed values, naming the key of every problem. Command-line flags override the result.
//! Every key is documented in `tapir.example.toml` at the top of the repository; a test parses
//! that file, so the example cannot drift from the code.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tapir_capture::ReaderKind;
use tapir_engine::{EngineConfig, PipelineConfig};

/// A size: bytes as an integer, or a string with a unit (`64KiB`, `1MiB`, `2GiB`, `1500`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Size {
    Bytes(u64),
    Text(String),
}

/// A duration: seconds as an integer, or a string with a unit (`500ms`, `30s`, `10m`, `1h`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Dur {
    Secs(u64),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub workers: Option<usize>,
    #[serde(default)]
    pub capture: RawCapture,
    /// This sensor's name in every record of the network outputs (`host`); default: the host
    /// name.
    pub sensor_name: Option<String>,
    /// `[[output]]` entries, or the older `[output]` table (see crate::outputs).
    #[serde(default)]
    pub output: crate::outputs::RawOutputs,
    #[serde(default)]
    pub intel: RawIntel,
    #[serde(default)]
    pub flow: RawFlow,
    #[serde(default)]
    pub stream: RawStream,
    #[serde(default)]
    pub defrag: RawDefrag,
    #[serde(default)]
    pub pipeline: RawPipeline,
    #[serde(default)]
    pub patterns: RawPatterns,
    #[serde(default)]
    pub metrics: RawMetrics,
    #[serde(default)]
    pub hunts: RawHunts,
    /// Behaviour detectors (`[detect]`, `[detect.beacon]`, ...): the detector crate's own
    /// settings, unknown keys refused there too.
    #[serde(default)]
    pub detect: tapir_engine::DetectConfig,
    /// Response (`[respond]`): block decisions pushed to firewalls; checked by tapir-respond.
    #[serde(default)]
    pub respond: tapir_respond::RawRespond,
}

/// `[hunts]`: hunt hypotheses evaluated over every run's events.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHunts {
    pub enabled: Option<bool>,
    pub paths: Option<Vec<PathBuf>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub enabled: Option<bool>,
    pub listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPatterns {
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    pub stream_depth: Option<Size>,
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCapture {
    pub reader: Option<String>,
    /// Live capture (`tapir run`): see [`live_capture`].
    pub kind: Option<String>,
    #[serde(default)]
    pub interfaces: Vec<String>,
    pub bpf: Option<String>,
    pub promisc: Option<bool>,
    pub ring_size: Option<Size>,
    pub block_size: Option<Size>,
    pub frame_size: Option<Size>,
    pub block_timeout: Option<Dur>,
    pub fanout_group: Option<u16>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIntel {
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    /// Configured feeds (`[[intel.feeds]]`): local files or URLs, with format, refresh,
    /// defaults and expiry (see tapir_intel::FeedConfig).
    #[serde(default)]
    pub feeds: Vec<tapir_intel::FeedConfig>,
    /// Where fetched copies of URL feeds are kept (last good copy, ETag).
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFlow {
    pub max_flows: Option<usize>,
    pub timeout_new: Option<Dur>,
    pub timeout_tcp_established: Option<Dur>,
    pub timeout_tcp_closed: Option<Dur>,
    pub timeout_udp: Option<Dur>,
    pub udp_probe_packets: Option<u8>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStream {
    pub depth: Option<Size>,
    pub max_ooo_bytes: Option<Size>,
    pub max_ooo_segments: Option<u16>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDefrag {
    pub max_bytes: Option<Size>,
    pub max_datagrams: Option<usize>,
    pub timeout: Option<Dur>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    pub batch_packets: Option<usize>,
    pub batch_bytes: Option<Size>,
    pub queue_batches: Option<usize>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub engine: EngineConfig,
    pub pipeline: PipelineConfig,
    pub reader: ReaderKind,
    /// Live capture settings for `tapir run` (`[capture]`).
    pub live: tapir_capture::live::LiveConfig,
    /// Where events go: stdout, files, Redis streams, Kafka topics.
    pub outputs: Vec<tapir_output::OutputSpec>,
    pub sensor_name: Option<String>,
    pub intel: Vec<PathBuf>,
    pub feeds: Vec<tapir_intel::FeedConfig>,
    pub feed_cache: Option<PathBuf>,
    pub patterns: Vec<PathBuf>,
    pub pattern_depth: u64,
    pub pattern_cache: Option<PathBuf>,
    /// Prometheus endpoint (`[metrics]`): served when enabled.
    pub metrics_enabled: bool,
    /// Hunt hypotheses (`[hunts]`) evaluated over the events of `replay` and `run`; their
    /// verdicts are printed at the end. Empty `hunt_paths`: the shipped hunts, found at
    /// `rules/hunts` (a source checkout) or `/usr/share/tapir/rules/hunts` (the package).
    pub hunts_enabled: bool,
    pub hunt_paths: Vec<PathBuf>,
    pub metrics_listen: std::net::SocketAddr,
    /// Behaviour detectors; on by default.
    pub detect: tapir_engine::DetectConfig,
    /// Response: policy, guards, backends (`[respond]`); off by default.
    pub respond: tapir_respond::RespondConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            engine: EngineConfig::default(),
            pipeline: PipelineConfig::default(),
            reader: ReaderKind::Native,
            live: tapir_capture::live::LiveConfig::default(),
            outputs: vec![tapir_output::OutputSpec::new(tapir_output::Target::Stdout)],
            sensor_name: None,
            intel: Vec::new(),
            feeds: Vec::new(),
            feed_cache: None,
            patterns: Vec::new(),
            pattern_depth: tapir_patterns::DEFAULT_STREAM_DEPTH,
            pattern_cache: None,
            metrics_enabled: false,
            hunts_enabled: true,
            hunt_paths: Vec::new(),
            metrics_listen: std::net::SocketAddr::from(([127, 0, 0, 1], 9917)),
            detect: tapir_engine::DetectConfig::default(),
            respond: tapir_respond::RespondConfig::default(),
        }
    }
}

/// A configuration problem; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {key}: {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
}

/// Reads and validates a config file.
///
/// # Errors
/// The file cannot be read, is not TOML, has an unknown key, or a value out of range.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Parses config text; `path` only names the file in errors.
///
/// # Errors
/// As [`load`].
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let de = toml::Deserializer::new(text);
    let raw: RawConfig = serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        // toml's message ends with the offending source line; keep the first line and the
        // position.
        let message = inner.message().to_string();
        let at = inner
            .span()
            .map(|s| {
                let line = text.get(..s.start).unwrap_or(text).matches('\n').count() + 1;
                format!(" (line {line})")
            })
            .unwrap_or_default();
        ConfigError::Invalid {
            path: path.to_path_buf(),
            key: if key == "." {
                "(top level)".into()
            } else {
                key
            },
            message: format!("{message}{at}"),
        }
    })?;
    raw.validate()
        .map_err(|(key, message)| ConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            message,
        })
}

/// Parses `64KiB`, `1MiB`, `2GiB`, `16MB`, `1500`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 65536, \"64KiB\", \"1MiB\")"))?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        u => {
            return Err(format!(
                "unknown size unit {u:?} in {s:?} (B, KiB, MiB, GiB, KB, MB, GB)"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// Parses `500ms`, `30s`, `10m`, `1h` into microseconds.
pub fn parse_duration_us(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| {
        format!("{s:?} is not a duration (e.g. 30, \"500ms\", \"30s\", \"10m\", \"1h\")")
    })?;
    let mult: u64 = match unit.trim() {
        "ms" => 1_000,
        "" | "s" => 1_000_000,
        "m" | "min" => 60_000_000,
        "h" => 3_600_000_000,
        u => {
            return Err(format!(
                "unknown duration unit {u:?} in {s:?} (ms, s, m, h)"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

type Invalid = (String, String);

pub(crate) fn size(
    key: &str,
    v: &Option<Size>,
    min: u64,
    max: u64,
) -> Result<Option<u64>, Invalid> {
    let Some(v) = v else { return Ok(None) };
    let n = match v {
        Size::Bytes(n) => *n,
        Size::Text(s) => parse_size(s).map_err(|m| (key.to_string(), m))?,
    };
    if n < min || n > max {
        return Err((key.into(), format!("{n} bytes is outside {min}..={max}")));
    }
    Ok(Some(n))
}

pub(crate) fn dur(key: &str, v: &Option<Dur>) -> Result<Option<u64>, Invalid> {
    let Some(v) = v else { return Ok(None) };
    let us = match v {
        Dur::Secs(n) => n
            .checked_mul(1_000_000)
            .ok_or((key.to_string(), "too large".to_string()))?,
        Dur::Text(s) => parse_duration_us(s).map_err(|m| (key.to_string(), m))?,
    };
    if us == 0 {
        return Err((key.into(), "must be greater than zero".into()));
    }
    Ok(Some(us))
}

fn range<T: PartialOrd + std::fmt::Display + Copy>(
    key: &str,
    v: Option<T>,
    min: T,
    max: T,
) -> Result<Option<T>, Invalid> {
    match v {
        Some(n) if n < min || n > max => Err((key.into(), format!("{n} is outside {min}..={max}"))),
        other => Ok(other),
    }
}

impl RawConfig {
    /// Range and cross-field checks; no I/O. The error is (key, message).
    ///
    /// # Errors
    /// The first key whose value is out of range or malformed.
    pub fn validate(self) -> Result<Config, (String, String)> {
        let mut c = Config::default();
        if let Some(w) = range("workers", self.workers, 0, 1024)? {
            if w > 0 {
                c.pipeline.workers = w;
            }
        }
        if let Some(r) = &self.capture.reader {
            c.reader = parse_reader(r).map_err(|m| ("capture.reader".to_string(), m))?;
        }
        c.live = live_capture(&self.capture)?;
        c.outputs = crate::outputs::validate(self.output)?;
        if let Some(n) = self.sensor_name {
            if n.is_empty() || n.len() > 255 || n.chars().any(char::is_control) {
                return Err((
                    "sensor_name".into(),
                    "must be 1 to 255 characters, no control characters".into(),
                ));
            }
            c.sensor_name = Some(n);
        }
        c.intel = self.intel.paths;
        for (i, f) in self.intel.feeds.iter().enumerate() {
            f.validate()
                .map_err(|e| (format!("intel.feeds[{i}] ({})", f.name), e.to_string()))?;
        }
        if self.intel.feeds.iter().any(|f| f.url.is_some()) && self.intel.cache_dir.is_none() {
            return Err((
                "intel.cache_dir".into(),
                "required when a feed has a url (fetched copies are kept there)".into(),
            ));
        }
        c.feeds = self.intel.feeds;
        c.feed_cache = self.intel.cache_dir;
        c.patterns = self.patterns.paths;
        c.pattern_cache = self.patterns.cache_dir;
        if let Some(v) = size(
            "patterns.stream_depth",
            &self.patterns.stream_depth,
            0,
            1 << 40,
        )? {
            c.pattern_depth = v;
        }
        let e = &mut c.engine;
        let f = &self.flow;
        if let Some(n) = range("flow.max_flows", f.max_flows, 1, 1 << 26)? {
            e.max_flows = n;
        }
        if let Some(v) = dur("flow.timeout_new", &f.timeout_new)? {
            e.timeout_new_us = v;
        }
        if let Some(v) = dur("flow.timeout_tcp_established", &f.timeout_tcp_established)? {
            e.timeout_tcp_established_us = v;
        }
        if let Some(v) = dur("flow.timeout_tcp_closed", &f.timeout_tcp_closed)? {
            e.timeout_tcp_closed_us = v;
        }
        if let Some(v) = dur("flow.timeout_udp", &f.timeout_udp)? {
            e.timeout_udp_us = v;
        }
        if let Some(v) = range("flow.udp_probe_packets", f.udp_probe_packets, 1, 64)? {
            e.udp_probe_packets = v;
        }
        let s = &self.stream;
        if let Some(v) = size("stream.depth", &s.depth, 0, u64::from(u32::MAX))? {
            e.stream.depth = u32::try_from(v).unwrap_or(u32::MAX);
        }
        if let Some(v) = size("stream.max_ooo_bytes", &s.max_ooo_bytes, 0, 1 << 30)? {
            e.stream.max_ooo_bytes = u32::try_from(v).unwrap_or(u32::MAX);
        }
        if let Some(v) = range("stream.max_ooo_segments", s.max_ooo_segments, 0, u16::MAX)? {
            e.stream.max_ooo_segments = v;
        }
        let d = &self.defrag;
        if let Some(v) = size("defrag.max_bytes", &d.max_bytes, 0, 1 << 36)? {
            e.defrag.max_bytes = usize::try_from(v).unwrap_or(usize::MAX);
        }
        if let Some(v) = range("defrag.max_datagrams", d.max_datagrams, 0, 1 << 24)? {
            e.defrag.max_datagrams = v;
        }
        if let Some(v) = dur("defrag.timeout", &d.timeout)? {
            e.defrag.timeout_us = v;
        }
        let p = &self.pipeline;
        if let Some(v) = range("pipeline.batch_packets", p.batch_packets, 1, 65_536)? {
            c.pipeline.batch_packets = v;
        }
        if let Some(v) = size("pipeline.batch_bytes", &p.batch_bytes, 65_536, 1 << 30)? {
            c.pipeline.batch_bytes = usize::try_from(v).unwrap_or(usize::MAX);
        }
        if let Some(v) = range("pipeline.queue_batches", p.queue_batches, 1, 4096)? {
            c.pipeline.queue_batches = v;
        }
        if let Some(v) = self.hunts.enabled {
            c.hunts_enabled = v;
        }
        if let Some(p) = &self.hunts.paths {
            c.hunt_paths.clone_from(p);
        }
        if let Some(v) = self.metrics.enabled {
            c.metrics_enabled = v;
        }
        if let Some(l) = &self.metrics.listen {
            c.metrics_listen = parse_listen(l).map_err(|m| ("metrics.listen".to_string(), m))?;
        }
        self.detect.validate().map_err(|m| detect_error(&m))?;
        c.detect = self.detect;
        c.respond = self.respond.validate()?;
        Ok(c)
    }
}

/// The detector crate's message starts with the key (`detect.beacon.min_connections must
/// be >= 4`, `detect.home_net: ...`): split it off so the error reads like every other.
fn detect_error(m: &str) -> Invalid {
    match m.split_once(' ') {
        Some((key, rest)) if key.starts_with("detect") => {
            (key.trim_end_matches(':').to_string(), rest.to_string())
        }
        _ => ("detect".to_string(), m.to_string()),
    }
}

/// An `IP:PORT` to listen on (no host names: nothing is resolved at startup).
pub fn parse_listen(s: &str) -> Result<std::net::SocketAddr, String> {
    s.trim().parse().map_err(|_| {
        format!("{s:?} is not an address and port (e.g. \"127.0.0.1:9917\", \"[::1]:9917\")")
    })
}

/// The live capture keys of `[capture]`, checked; errors name the key.
fn live_capture(raw: &RawCapture) -> Result<tapir_capture::live::LiveConfig, Invalid> {
    use tapir_capture::live::{CaptureKind, LiveConfig};
    let mut l = LiveConfig::default();
    if let Some(k) = &raw.kind {
        l.kind = CaptureKind::parse(k).map_err(|m| ("capture.kind".to_string(), m))?;
    }
    for i in &raw.interfaces {
        if i.is_empty() || i.len() > 15 || i.contains(['/', ' ']) {
            return Err((
                "capture.interfaces".into(),
                format!("{i:?} is not an interface name"),
            ));
        }
    }
    l.interfaces.clone_from(&raw.interfaces);
    l.bpf = raw.bpf.clone().filter(|b| !b.trim().is_empty());
    if let Some(p) = raw.promisc {
        l.promisc = p;
    }
    if let Some(v) = size("capture.ring_size", &raw.ring_size, 8192, 1 << 40)? {
        l.ring_size = v;
    }
    if let Some(v) = size("capture.block_size", &raw.block_size, 4096, 1 << 30)? {
        l.block_size = u32::try_from(v).unwrap_or(u32::MAX);
    }
    if let Some(v) = size("capture.frame_size", &raw.frame_size, 128, 1 << 30)? {
        l.frame_size = u32::try_from(v).unwrap_or(u32::MAX);
    }
    if let Some(us) = dur("capture.block_timeout", &raw.block_timeout)? {
        l.block_timeout_ms = u32::try_from(us / 1000).unwrap_or(u32::MAX);
    }
    if let Some(g) = raw.fanout_group {
        l.fanout_group = g;
    }
    l.validate().map_err(|(k, m)| (k.to_string(), m))?;
    Ok(l)
}

/// `native` or `libpcap`.
pub fn parse_reader(s: &str) -> Result<ReaderKind, String> {
    match s {
        "native" => Ok(ReaderKind::Native),
        "libpcap" => Ok(ReaderKind::Libpcap),
        other => Err(format!("unknown reader {other:?} (native, libpcap)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text, Path::new("t.toml"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn example_file_parses_and_matches_the_defaults() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tapir.example.toml");
        let c = load(&p).unwrap_or_else(|e| panic!("{e}"));
        let d = Config::default();
        // The example documents the defaults: every value in it is the default value.
        assert_eq!(c.engine.max_flows, d.engine.max_flows);
        assert_eq!(
            c.engine.timeout_tcp_established_us,
            d.engine.timeout_tcp_established_us
        );
        assert_eq!(c.engine.timeout_new_us, d.engine.timeout_new_us);
        assert_eq!(
            c.engine.timeout_tcp_closed_us,
            d.engine.timeout_tcp_closed_us
        );
        assert_eq!(c.engine.timeout_udp_us, d.engine.timeout_udp_us);
        assert_eq!(c.engine.stream, d.engine.stream);
        assert_eq!(c.engine.defrag.max_bytes, d.engine.defrag.max_bytes);
        assert_eq!(c.engine.defrag.max_datagrams, d.engine.defrag.max_datagrams);
        assert_eq!(c.engine.defrag.timeout_us, d.engine.defrag.timeout_us);
        assert_eq!(c.pipeline.batch_packets, d.pipeline.batch_packets);
        assert_eq!(c.pipeline.batch_bytes, d.pipeline.batch_bytes);
        assert_eq!(c.pipeline.queue_batches, d.pipeline.queue_batches);
        assert_eq!(c.pattern_depth, d.pattern_depth);
        assert_eq!(c.live, d.live);
        assert_eq!(c.outputs, d.outputs);
        assert_eq!(c.sensor_name, d.sensor_name);
        assert_eq!(c.metrics_enabled, d.metrics_enabled);
        assert_eq!(c.hunts_enabled, d.hunts_enabled);
        assert_eq!(c.hunt_paths, d.hunt_paths);
        assert_eq!(c.metrics_listen, d.metrics_listen);
        assert_eq!(c.detect, d.detect);
        assert_eq!(c.respond, d.respond);
    }

    #[test]
    fn unknown_key_is_refused_by_name() {
        let e = err("[flow]\nmax_flow = 10\n");
        assert!(e.contains("max_flow") && e.contains("unknown field"), "{e}");
        let e = err("[flows]\n");
        assert!(e.contains("flows"), "{e}");
    }

    #[test]
    fn detect_settings_are_checked_by_name() {
        let e = err("[detect.beacon]\nmin_connections = 2\n");
        assert!(
            e.contains("t.toml: detect.beacon.min_connections: must be"),
            "{e}"
        );
        let e = err("[detect.beacon]\nmin_conections = 20\n");
        assert!(
            e.contains("detect.beacon") && e.contains("min_conections"),
            "{e}"
        );
        let e = err("[detect]\nhome_net = [\"10.0.0.0/40\"]\n");
        assert!(e.contains("detect.home_net"), "{e}");
        let c = parse(
            "[detect]\nhome_net = [\"192.0.2.0/24\"]\n[detect.scan]\nenabled = false\n",
            Path::new("t.toml"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.detect.enabled && !c.detect.scan.enabled);
        assert_eq!(c.detect.home_net.len(), 1);
        let c = parse("[detect]\nenabled = false\n", Path::new("t.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!c.detect.enabled);
    }

    #[test]
    fn bad_type_and_bad_value_name_the_key() {
        let e = err("[flow]\nmax_flows = \"many\"\n");
        assert!(e.contains("flow.max_flows"), "{e}");
        let e = err("[flow]\nmax_flows = 0\n");
        assert!(e.contains("flow.max_flows") && e.contains("outside"), "{e}");
        let e = err("[stream]\ndepth = \"1 parsec\"\n");
        assert!(e.contains("stream.depth") && e.contains("unit"), "{e}");
        let e = err("[flow]\ntimeout_udp = \"0s\"\n");
        assert!(e.contains("flow.timeout_udp"), "{e}");
        let e = err("[capture]\nreader = \"pfring\"\n");
        assert!(e.contains("capture.reader"), "{e}");
        let e = err("workers = -1\n");
        assert!(e.contains("workers"), "{e}");
        let e = err("[metrics]\nlisten = \"localhost:9917\"\n");
        assert!(e.contains("metrics.listen"), "{e}");
        let e = err("[metrics]\nenabled = \"yes\"\n");
        assert!(e.contains("metrics.enabled"), "{e}");
    }

    #[test]
    fn live_capture_keys_are_checked_by_name() {
        let c = parse(
            "[capture]\nkind = \"pcap\"\ninterfaces = [\"eth1\", \"eth2\"]\nbpf = \"not port 22\"\nring_size = \"64MiB\"\nblock_timeout = \"50ms\"\n",
            Path::new("t.toml"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.live.kind, tapir_capture::live::CaptureKind::Pcap);
        assert_eq!(c.live.interfaces, ["eth1", "eth2"]);
        assert_eq!(c.live.bpf.as_deref(), Some("not port 22"));
        assert_eq!(c.live.ring_size, 64 << 20);
        assert_eq!(c.live.block_timeout_ms, 50);
        for (text, key) in [
            ("kind = \"pfring\"", "capture.kind"),
            ("block_size = \"5000\"", "capture.block_size"),
            ("frame_size = 100", "capture.frame_size"),
            ("ring_size = \"1MiB\"", "capture.ring_size"),
            ("interfaces = [\"a/b\"]", "capture.interfaces"),
            ("fanout_group = 70000", "capture.fanout_group"),
        ] {
            let e = err(&format!("[capture]\n{text}\n"));
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("64KiB"), Ok(65_536));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("16MB"), Ok(16_000_000));
        assert_eq!(parse_size("1500"), Ok(1500));
        assert!(parse_size("KiB").is_err());
        assert_eq!(parse_duration_us("500ms"), Ok(500_000));
        assert_eq!(parse_duration_us("10m"), Ok(600_000_000));
        assert_eq!(parse_duration_us("30"), Ok(30_000_000));
        assert!(parse_duration_us("3 fortnights").is_err());
    }
}
