//! The replay progress bar: drawn on a terminal once a replay has run a second (files,
//! packets, rate), cleared before the summary; never drawn when stderr is not a terminal.
//! The terminal is a pty from util-linux `script`; the replay reads a FIFO that the test
//! feeds slowly, so it lasts long enough in any build.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tapir-progress-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Replays a FIFO fed in two halves `pause` apart; `tty`: under a pty. Returns what the
/// terminal (or stderr) showed.
fn slow_replay(dir: &std::path::Path, tty: bool, pause: Duration) -> String {
    let fifo = dir.join("slow.pcap");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo")
        .success());
    let bytes = tapir_gen_demo::demo_bytes().expect("demo");
    let tapir = env!("CARGO_BIN_EXE_tapir");
    let replay = format!("{tapir} replay --eve /dev/null {}", fifo.display());
    let typescript = dir.join("typescript");
    let child = if tty {
        Command::new("script")
            .arg("-qec")
            // A pty starts with 0 rows and columns: give it a size, as a terminal has.
            .arg(format!("stty rows 40 cols 120; {replay}"))
            .arg(&typescript)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
    } else {
        Command::new(tapir)
            .args(["replay", "--eve", "/dev/null"])
            .arg(&fifo)
            .stderr(Stdio::piped())
            .spawn()
    }
    .expect("start replay");
    let mut w = std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .expect("open fifo");
    let half = bytes.len() / 2;
    w.write_all(&bytes[..half]).expect("write");
    std::thread::sleep(pause);
    w.write_all(&bytes[half..]).expect("write");
    drop(w);
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{out:?}");
    if tty {
        std::fs::read_to_string(&typescript).expect("typescript")
    } else {
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

#[test]
fn a_terminal_shows_the_bar_and_it_is_cleared_before_the_summary() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no `script` (util-linux) for a pty");
        return;
    }
    let dir = temp_dir("tty");
    let shown = slow_replay(&dir, true, Duration::from_millis(2500));
    let bar = shown
        .find("file 1/1")
        .unwrap_or_else(|| panic!("no bar in {shown:?}"));
    assert!(shown.contains("pkt/s"), "{shown:?}");
    let summary = shown
        .find("tapir: packets=")
        .unwrap_or_else(|| panic!("no summary in {shown:?}"));
    assert!(bar < summary, "the summary comes last: {shown:?}");
    let after = &shown[summary..];
    assert!(!after.contains("pkt/s"), "the bar is gone: {after:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn no_bar_when_stderr_is_not_a_terminal() {
    let dir = temp_dir("pipe");
    let err = slow_replay(&dir, false, Duration::from_millis(1500));
    assert!(err.contains("tapir: packets="), "{err}");
    assert!(!err.contains("pkt/s"), "{err}");
    assert!(!err.contains('\r') && !err.contains('\u{1b}'), "{err:?}");
    let _ = std::fs::remove_dir_all(dir);
}
