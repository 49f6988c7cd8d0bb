//! The audit log: one JSON line per decision event (created, extended, deleted, expired,
//! refused by a guard, restored) and per push (backend, result, counts, error). Lines are
//! buffered and appended with O_APPEND, so the sensor and `tapir block` can share the file.
//! Past `max_bytes` the file is renamed to `<name>.1` (one generation kept), which bounds the
//! disk used to twice `max_bytes`.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::time::{now_ms, rfc3339_ms};

/// Buffered in memory up to this before a write is forced.
const BUFFER_MAX: usize = 64 << 10;

#[derive(Debug)]
pub struct Audit {
    path: PathBuf,
    max_bytes: u64,
    buf: Vec<u8>,
    /// Write failures, counted (the log is best effort; decisions go on without it).
    pub errors: u64,
    pub last_error: Option<String>,
}

impl Audit {
    pub fn new(path: &Path, max_bytes: u64) -> Audit {
        Audit {
            path: path.to_path_buf(),
            max_bytes,
            buf: Vec::new(),
            errors: 0,
            last_error: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One record: `ts` and `event` first, then `fields`.
    pub fn record(&mut self, event: &str, fields: Map<String, Value>) {
        let mut m = Map::new();
        m.insert("ts".into(), Value::String(rfc3339_ms(now_ms())));
        m.insert("event".into(), Value::String(event.into()));
        m.extend(fields);
        if let Ok(s) = serde_json::to_string(&Value::Object(m)) {
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.push(b'\n');
        }
        if self.buf.len() >= BUFFER_MAX {
            self.flush();
        }
    }

    /// Appends what is buffered; rotates past the size bound.
    pub fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let res = (|| -> io::Result<()> {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                fs::create_dir_all(dir)?;
            }
            if fs::metadata(&self.path).is_ok_and(|m| m.len() >= self.max_bytes) {
                let mut old = self.path.as_os_str().to_owned();
                old.push(".1");
                fs::rename(&self.path, PathBuf::from(old))?;
            }
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            f.write_all(&self.buf)
        })();
        self.buf.clear();
        if let Err(e) = res {
            self.errors += 1;
            self.last_error = Some(format!("{}: {e}", self.path.display()));
        }
    }
}

impl Drop for Audit {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Builds the field map of a record.
#[macro_export]
#[doc(hidden)]
macro_rules! fields {
    ($($k:literal => $v:expr),* $(,)?) => {{
        let mut m = serde_json::Map::new();
        $( m.insert($k.to_string(), serde_json::json!($v)); )*
        m
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_lines_and_rotates() {
        let dir = std::env::temp_dir().join(format!("tapir-audit-{}", std::process::id()));
        let p = dir.join("audit.jsonl");
        let mut a = Audit::new(&p, 4096);
        for i in 0..100 {
            a.record("decision", crate::fields!("action" => "created", "n" => i));
        }
        a.flush();
        let text = fs::read_to_string(&p).expect("read");
        let first: Value = serde_json::from_str(text.lines().next().expect("line")).expect("json");
        assert_eq!(first["event"], "decision");
        assert_eq!(first["n"], 0);
        assert_eq!(text.lines().count(), 100);
        a.record("push", crate::fields!("backend" => "nftables"));
        a.flush();
        // The file was past 4096 bytes: it moved to .1 and the new record starts a new file.
        assert_eq!(fs::read_to_string(&p).expect("read").lines().count(), 1);
        assert!(dir.join("audit.jsonl.1").exists());
        let _ = fs::remove_dir_all(dir);
    }
}
