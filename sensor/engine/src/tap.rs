//! Taps on the event stream: consumers that see every EVE line the sensor writes (responders,
//! hunts, metrics, network outputs) without a second parse of the packets.
//!
//! A [`TapWriter`] wraps the output writer; it runs on the writer thread, off the packet path.
//! Lines reach taps whole, in output order. Most taps only want alerts: for them a line is
//! passed on only when it is one (a substring test, no JSON parse).

use std::io::{self, Write};

/// A consumer of EVE lines.
pub trait EventTap: Send {
    /// `true` (the default) when only `alert` lines are wanted.
    fn alerts_only(&self) -> bool {
        true
    }
    /// One EVE line, without its newline.
    fn event(&mut self, line: &[u8]);
    /// The stream ended (capture finished or the sensor is stopping).
    fn finish(&mut self) {}
}

const ALERT_MARK: &[u8] = b"\"event_type\":\"alert\"";

/// Writes through to `inner` and hands each complete line to the taps.
pub struct TapWriter<W: Write> {
    inner: W,
    taps: Vec<Box<dyn EventTap>>,
    any_wants_all: bool,
    partial: Vec<u8>,
}

impl<W: Write> TapWriter<W> {
    pub fn new(inner: W, taps: Vec<Box<dyn EventTap>>) -> Self {
        let any_wants_all = taps.iter().any(|t| !t.alerts_only());
        TapWriter {
            inner,
            taps,
            any_wants_all,
            partial: Vec::new(),
        }
    }

    /// Ends the stream for every tap and returns the inner writer.
    pub fn finish(mut self) -> W {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.dispatch(&line);
        }
        for t in &mut self.taps {
            t.finish();
        }
        self.inner
    }

    fn dispatch(&mut self, line: &[u8]) {
        if line.is_empty() {
            return;
        }
        let is_alert = contains(line, ALERT_MARK);
        if !is_alert && !self.any_wants_all {
            return;
        }
        for t in &mut self.taps {
            if is_alert || !t.alerts_only() {
                t.event(line);
            }
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

impl<W: Write> Write for TapWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf)?;
        if self.taps.is_empty() {
            return Ok(());
        }
        let mut rest = buf;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            let (line, tail) = rest.split_at(nl);
            if self.partial.is_empty() {
                self.dispatch(line);
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                self.dispatch(&whole);
            }
            rest = &tail[1..];
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    struct Collect(Arc<Mutex<Vec<String>>>, bool);
    impl EventTap for Collect {
        fn alerts_only(&self) -> bool {
            self.1
        }
        fn event(&mut self, line: &[u8]) {
            self.0
                .lock()
                .expect("lock")
                .push(String::from_utf8_lossy(line).into_owned());
        }
    }

    #[test]
    fn lines_split_across_writes_reach_taps_whole() {
        let alerts = Arc::new(Mutex::new(Vec::new()));
        let all = Arc::new(Mutex::new(Vec::new()));
        let mut w = TapWriter::new(
            Vec::new(),
            vec![
                Box::new(Collect(alerts.clone(), true)),
                Box::new(Collect(all.clone(), false)),
            ],
        );
        let text = "{\"event_type\":\"flow\"}\n{\"event_type\":\"alert\",\"x\":1}\n{\"event_type\":\"dns\"}";
        let (a, b) = text.split_at(30);
        w.write_all(a.as_bytes()).expect("write");
        w.write_all(b.as_bytes()).expect("write");
        let out = w.finish();
        assert_eq!(out, text.as_bytes());
        assert_eq!(
            *alerts.lock().expect("lock"),
            vec!["{\"event_type\":\"alert\",\"x\":1}"]
        );
        assert_eq!(all.lock().expect("lock").len(), 3);
    }
}
