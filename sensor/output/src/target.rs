//! Output targets as written on the command line and in `[[output]]`: `-`, `file:PATH`,
//! `redis://[USER:PASS@]HOST[:PORT]/STREAM`, `kafka://BROKER[,BROKER...]/TOPIC`.

use std::fmt;
use std::path::PathBuf;

/// Where one output sends events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Standard output.
    Stdout,
    /// A file, created (truncated) at start.
    File(PathBuf),
    /// A Redis stream, written with `XADD`.
    Redis {
        /// `USER:PASS@` or `:PASS@` as given, empty when none.
        auth: String,
        host: String,
        port: u16,
        stream: String,
    },
    /// A Kafka topic.
    Kafka { brokers: Vec<String>, topic: String },
}

impl Target {
    /// Parses a target; the error says what was expected.
    ///
    /// # Errors
    /// Unknown scheme, empty path, stream or topic, bad port.
    pub fn parse(s: &str) -> Result<Target, String> {
        if s == "-" {
            return Ok(Target::Stdout);
        }
        if let Some(p) = s.strip_prefix("file:") {
            if p.is_empty() {
                return Err("file: needs a path (file:PATH)".into());
            }
            return Ok(Target::File(PathBuf::from(p)));
        }
        if let Some(rest) = s.strip_prefix("redis://") {
            return parse_redis(rest);
        }
        if let Some(rest) = s.strip_prefix("kafka://") {
            return parse_kafka(rest);
        }
        Err(format!(
            "{s:?} is not an output target (-, file:PATH, redis://HOST:PORT/STREAM, \
             kafka://BROKER[,BROKER...]/TOPIC)"
        ))
    }

    /// Network targets go through the queue and the disk buffer; local ones are written in line.
    pub fn is_network(&self) -> bool {
        matches!(self, Target::Redis { .. } | Target::Kafka { .. })
    }

    /// A file-name-safe name, stable across restarts: the disk buffer directory of this output.
    pub fn spool_name(&self) -> String {
        let raw = match self {
            Target::Stdout => "stdout".to_string(),
            Target::File(p) => format!("file_{}", p.display()),
            Target::Redis {
                host, port, stream, ..
            } => format!("redis_{host}_{port}_{stream}"),
            Target::Kafka { brokers, topic } => format!("kafka_{}_{topic}", brokers.join("_")),
        };
        raw.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .take(120)
            .collect()
    }
}

/// The target as the user wrote it, with any Redis password masked (for logs and metrics).
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Stdout => write!(f, "-"),
            Target::File(p) => write!(f, "file:{}", p.display()),
            Target::Redis {
                auth,
                host,
                port,
                stream,
            } => {
                let auth = match auth.split_once(':') {
                    Some((user, _)) => format!("{user}:***@"),
                    None if auth.is_empty() => String::new(),
                    None => "***@".into(),
                };
                write!(f, "redis://{auth}{}:{port}/{stream}", bracket(host))
            }
            Target::Kafka { brokers, topic } => write!(f, "kafka://{}/{topic}", brokers.join(",")),
        }
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

fn parse_redis(rest: &str) -> Result<Target, String> {
    let (authority, stream) = rest
        .split_once('/')
        .ok_or("redis:// needs a stream name: redis://HOST:PORT/STREAM")?;
    if stream.is_empty() || stream.contains('/') {
        return Err(format!(
            "redis://: {stream:?} is not a stream name (redis://HOST:PORT/STREAM)"
        ));
    }
    let (auth, hostport) = match authority.rsplit_once('@') {
        Some((a, h)) => (format!("{a}@"), h),
        None => (String::new(), authority),
    };
    let (host, port) = split_host_port(hostport, 6379)?;
    Ok(Target::Redis {
        auth: auth.trim_end_matches('@').to_string(),
        host,
        port,
        stream: stream.to_string(),
    })
}

fn parse_kafka(rest: &str) -> Result<Target, String> {
    let (brokers, topic) = rest
        .split_once('/')
        .ok_or("kafka:// needs a topic: kafka://BROKER[,BROKER...]/TOPIC")?;
    let valid_topic = !topic.is_empty()
        && topic.len() <= 249
        && topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if !valid_topic {
        return Err(format!(
            "kafka://: {topic:?} is not a topic name (letters, digits, '.', '_', '-')"
        ));
    }
    let mut list = Vec::new();
    for b in brokers.split(',') {
        let (host, port) = split_host_port(b, 9092)?;
        list.push(format!("{}:{port}", bracket(&host)));
    }
    Ok(Target::Kafka {
        brokers: list,
        topic: topic.to_string(),
    })
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_host_port(s: &str, default_port: u16) -> Result<(String, u16), String> {
    let (host, port) = if let Some(r) = s.strip_prefix('[') {
        let (h, tail) = r
            .split_once(']')
            .ok_or_else(|| format!("{s:?}: unclosed '['"))?;
        (h, tail.strip_prefix(':'))
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{s:?}: empty host"));
    }
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| format!("{s:?}: {p:?} is not a port"))?,
    };
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print_back() {
        assert_eq!(Target::parse("-"), Ok(Target::Stdout));
        assert_eq!(
            Target::parse("file:/tmp/eve.json"),
            Ok(Target::File("/tmp/eve.json".into()))
        );
        let r = Target::parse("redis://127.0.0.1:6380/tapir").expect("redis");
        assert_eq!(r.to_string(), "redis://127.0.0.1:6380/tapir");
        let r = Target::parse("redis://u:secret@cache/ev").expect("redis auth");
        assert_eq!(r.to_string(), "redis://u:***@cache:6379/ev");
        let k = Target::parse("kafka://k1:9092,k2,[::1]:9093/eve").expect("kafka");
        assert_eq!(k.to_string(), "kafka://k1:9092,k2:9092,[::1]:9093/eve");
        assert!(k.is_network() && !Target::Stdout.is_network());
        assert_eq!(k.spool_name(), "kafka_k1_9092_k2_9092____1__9093_eve");
    }

    #[test]
    fn bad_targets_say_what_is_wrong() {
        for (t, want) in [
            ("file:", "path"),
            ("redis://host:6379", "stream"),
            ("redis://host:0/s", "port"),
            ("redis://host:99999/s", "port"),
            ("kafka://b1/", "topic"),
            ("kafka://b1/a/b", "topic"),
            ("kafka:///t", "empty host"),
            ("http://x/y", "not an output target"),
        ] {
            let e = Target::parse(t).expect_err(t);
            assert!(e.contains(want), "{t}: {e}");
        }
    }
}
