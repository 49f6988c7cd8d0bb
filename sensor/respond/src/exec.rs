//! Running firewall tools: arguments as a vector and input on stdin, never through a shell;
//! a deadline so a wedged tool cannot stall a backend forever.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one tool call may take before it is killed.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(30);

/// Output kept from a tool (stdout of `nft -j list`, `ipset save` of a full set fits).
const OUTPUT_MAX: u64 = 64 << 20;

/// A tool call that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError {
    /// The tool ran (and failed or timed out), as opposed to not being found or startable.
    pub ran: bool,
    /// Its stderr, whole (bounded like stdout).
    pub stderr: String,
    pub message: String,
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Runs `prog args...` with `input` on stdin; `Ok(stdout)` on exit status 0, otherwise an
/// error with the tool's stderr (first lines).
///
/// # Errors
/// The tool is missing, failed, or ran past the deadline.
pub fn run(prog: &Path, args: &[&str], input: Option<&str>) -> Result<String, ToolError> {
    let what = prog.display().to_string();
    let not_run = |message: String| ToolError {
        ran: false,
        stderr: String::new(),
        message,
    };
    let mut child = Command::new(prog)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| not_run(format!("{what}: cannot run: {e}")))?;
    let out = child.stdout.take();
    let err = child.stderr.take();
    // Both pipes are drained on their own threads so a chatty tool cannot block on a full
    // pipe while we wait for it.
    let read_all = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(r) = r {
                let _ = r.take(OUTPUT_MAX).read_to_string(&mut s);
            }
            s
        })
    };
    let out_t = read_all(out.map(|o| Box::new(o) as Box<dyn Read + Send>));
    let err_t = read_all(err.map(|e| Box::new(e) as Box<dyn Read + Send>));
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        let _ = stdin.write_all(text.as_bytes());
    }
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Ok(s),
            Ok(None) if start.elapsed() > TOOL_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                break Err(format!("{what}: killed after {}s", TOOL_TIMEOUT.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => break Err(format!("{what}: {e}")),
        }
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    let status = status.map_err(|message| ToolError {
        ran: true,
        stderr: stderr.clone(),
        message,
    })?;
    if status.success() {
        Ok(stdout)
    } else {
        let msg: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(4)
            .collect();
        Err(ToolError {
            ran: true,
            message: format!("{what} {}: {status}: {}", args.join(" "), msg.join(" | ")),
            stderr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_status_and_missing_tool() {
        let out = run(Path::new("cat"), &[], Some("a b\n")).expect("cat");
        assert_eq!(out, "a b\n");
        let e = run(Path::new("sh"), &["-c", "echo oops >&2; exit 3"], None).expect_err("fails");
        assert!(
            e.ran && e.message.contains("oops") && e.message.contains('3'),
            "{e}"
        );
        let e = run(Path::new("/nonexistent/nft"), &["-f", "-"], Some("")).expect_err("missing");
        assert!(!e.ran && e.message.contains("/nonexistent/nft"), "{e}");
    }
}
