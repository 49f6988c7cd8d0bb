//! Local outputs, written in line by the writer thread: stdout and files (today's `--eve`).

use std::fs::File;
use std::io::{self, BufWriter, Write};

use crate::{OutputSpec, Target};

/// One writer for all local outputs: the output itself when there is one, a fan-out otherwise.
/// The error is (target, message).
pub fn open(specs: &[&OutputSpec]) -> Result<Box<dyn Write + Send>, (String, String)> {
    let mut ws: Vec<Box<dyn Write + Send>> = Vec::new();
    for s in specs {
        match &s.target {
            Target::Stdout => ws.push(Box::new(BufWriter::with_capacity(1 << 16, io::stdout()))),
            Target::File(p) => {
                let f = File::create(p).map_err(|e| {
                    (
                        s.target.to_string(),
                        format!("{}: cannot create EVE output: {e}", p.display()),
                    )
                })?;
                ws.push(Box::new(BufWriter::with_capacity(1 << 16, f)));
            }
            Target::Redis { .. } | Target::Kafka { .. } => {}
        }
    }
    Ok(match ws.len() {
        0 => Box::new(io::sink()),
        1 => ws.pop().unwrap_or_else(|| Box::new(io::sink())),
        _ => Box::new(Fanout(ws)),
    })
}

/// Writes everything to every writer; the first error stops the run like a single file would.
struct Fanout(Vec<Box<dyn Write + Send>>);

impl Write for Fanout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        for w in &mut self.0 {
            w.write_all(buf)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        for w in &mut self.0 {
            w.flush()?;
        }
        Ok(())
    }
}
