//! Outputs in the config file (`[[output]]`, or the older `[output] eve = PATH`) and on the
//! command line (`--output TARGET`, repeatable; `--eve PATH` is `--output file:PATH`), and the
//! open/close steps every sensor command shares (`replay`, and `run` for live capture).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use tapir_output::{OutputSpec, OutputStats, Outputs, Target};

use crate::config::{dur, size, Config, Dur, Size};

/// `output` in the file: the `[output]` table of earlier versions, or the `[[output]]` list.
#[derive(Debug, Default)]
pub enum RawOutputs {
    #[default]
    Unset,
    Table(RawOutputTable),
    List(Vec<RawOutputEntry>),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutputTable {
    pub eve: Option<String>,
}

/// One `[[output]]` entry; every key but `target` is optional (see tapir.example.toml).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutputEntry {
    pub target: String,
    pub queue_size: Option<Size>,
    pub buffer_dir: Option<PathBuf>,
    pub buffer_size: Option<Size>,
    pub batch: Option<usize>,
    pub flush_timeout: Option<Dur>,
    pub redis_maxlen: Option<u64>,
    #[serde(default)]
    pub kafka: BTreeMap<String, String>,
}

impl<'de> Deserialize<'de> for RawOutputs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawOutputs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[[output]] entries (or an [output] table with eve)")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawOutputs, A::Error> {
                RawOutputTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawOutputs::Table)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawOutputs, A::Error> {
                let mut v = Vec::new();
                while let Some(e) = seq.next_element::<RawOutputEntry>()? {
                    v.push(e);
                }
                Ok(RawOutputs::List(v))
            }
        }
        d.deserialize_any(V)
    }
}

type Invalid = (String, String);

/// The configured outputs; an unset `output` is stdout alone.
///
/// # Errors
/// (key, message) of the first bad entry.
pub fn validate(raw: RawOutputs) -> Result<Vec<OutputSpec>, Invalid> {
    let entries = match raw {
        RawOutputs::Unset | RawOutputs::Table(RawOutputTable { eve: None }) => {
            return Ok(vec![OutputSpec::new(Target::Stdout)])
        }
        RawOutputs::Table(RawOutputTable { eve: Some(e) }) => {
            if e.is_empty() {
                return Err(("output.eve".into(), "must be a path or \"-\"".into()));
            }
            return Ok(vec![OutputSpec::new(eve_target(&e))]);
        }
        RawOutputs::List(v) => v,
    };
    let mut out: Vec<OutputSpec> = Vec::new();
    for (i, e) in entries.into_iter().enumerate() {
        let key = |k: &str| format!("output[{i}].{k}");
        let target = Target::parse(&e.target).map_err(|m| (key("target"), m))?;
        if out.iter().any(|o| o.target == target) {
            return Err((key("target"), format!("{} is listed twice", e.target)));
        }
        let mut s = OutputSpec::new(target);
        if let Some(v) = size(&key("queue_size"), &e.queue_size, 0, 1 << 36)? {
            s.queue_bytes = v;
        }
        if let Some(v) = size(&key("buffer_size"), &e.buffer_size, 1 << 16, 1 << 44)? {
            s.buffer_max_bytes = v;
        }
        if let Some(d) = e.buffer_dir {
            if d.as_os_str().is_empty() {
                return Err((key("buffer_dir"), "must be a directory path".into()));
            }
            s.buffer_dir = Some(d);
        }
        if let Some(b) = e.batch {
            if !(1..=65_536).contains(&b) {
                return Err((key("batch"), format!("{b} is outside 1..=65536")));
            }
            s.batch = b;
        }
        if let Some(us) = dur(&key("flush_timeout"), &e.flush_timeout)? {
            s.flush_timeout = std::time::Duration::from_micros(us);
        }
        if let Some(m) = e.redis_maxlen {
            s.redis_maxlen = m;
        }
        if !e.kafka.is_empty() && !matches!(s.target, Target::Kafka { .. }) {
            return Err((key("kafka"), "only for kafka:// targets".into()));
        }
        if e.kafka.contains_key("bootstrap.servers") {
            return Err((
                key("kafka"),
                "bootstrap.servers comes from the target (kafka://BROKER,.../TOPIC)".into(),
            ));
        }
        s.kafka = e.kafka;
        out.push(s);
    }
    if out.is_empty() {
        return Err(("output".into(), "at least one [[output]] is needed".into()));
    }
    Ok(out)
}

/// `--eve`'s and `[output] eve`'s value: `-` or a file path.
fn eve_target(v: &str) -> Target {
    if v == "-" {
        Target::Stdout
    } else {
        Target::File(PathBuf::from(v))
    }
}

/// `--eve` and `--output` replace the configured list; a flag naming a configured target keeps
/// that entry's settings, others get the defaults.
///
/// # Errors
/// A target that does not parse, or one given twice.
pub fn apply_flags(cfg: &mut Config, eve: Option<&str>, flags: &[String]) -> anyhow::Result<()> {
    if eve.is_none() && flags.is_empty() {
        return Ok(());
    }
    let mut targets = Vec::new();
    if let Some(e) = eve {
        anyhow::ensure!(!e.is_empty(), "--eve: must be a path or \"-\"");
        targets.push(eve_target(e));
    }
    for f in flags {
        targets.push(Target::parse(f).map_err(|m| anyhow::anyhow!("--output: {m}"))?);
    }
    let mut specs: Vec<OutputSpec> = Vec::new();
    for t in targets {
        anyhow::ensure!(
            !specs.iter().any(|s| s.target == t),
            "--output: {t} is given twice"
        );
        let spec = cfg
            .outputs
            .iter()
            .find(|s| s.target == t)
            .cloned()
            .unwrap_or_else(|| OutputSpec::new(t));
        specs.push(spec);
    }
    cfg.outputs = specs;
    Ok(())
}

/// Opens the configured outputs under this sensor's name (`sensor_name`, else the host name).
///
/// # Errors
/// As [`Outputs::open`].
pub fn open(cfg: &Config) -> anyhow::Result<Outputs> {
    let identity = Arc::new(tapir_output::Identity::new(cfg.sensor_name.as_deref()));
    Ok(Outputs::open(&cfg.outputs, identity)?)
}

/// Prints one line per network output (before the summary line).
pub fn report(stats: &[OutputStats]) {
    for s in stats {
        eprintln!("tapir: output {s}");
    }
}

/// The targets, for `check-config`.
pub fn describe(specs: &[OutputSpec]) -> String {
    specs
        .iter()
        .map(|s| s.target.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The writer the pipeline writes into: the local outputs, with the network outputs' tap on
/// it when there are any. Dropping it flushes the local outputs; then call
/// [`Outputs::close`].
pub fn writer(outs: &mut Outputs) -> Box<dyn std::io::Write + Send> {
    let local = outs.take_writer();
    match outs.take_tap() {
        Some(t) => Box::new(tapir_engine::tap::TapWriter::new(local, vec![t])),
        None => local,
    }
}
