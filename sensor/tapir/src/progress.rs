//! A progress bar on stderr for long replays: files, bytes, packets, rate and ETA.
//!
//! Shown only when stderr is a terminal, and only once a replay has run for
//! [`SHOW_AFTER`]: short replays, pipes, files and tests see exactly the stderr they saw
//! before. It reads the reader's progress from the board (updated every 1024 packets), on a
//! thread of its own, and is cleared before the summary lines are printed.
//!
//! `indicatif` draws it: it keeps to the terminal's width, rate-limits redraws and smooths the
//! ETA, which a hand-written `\r` line would each have to redo.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tapir_engine::board::Board;

/// Replays shorter than this show no bar.
pub const SHOW_AFTER: Duration = Duration::from_secs(1);
const REFRESH: Duration = Duration::from_millis(200);

/// The running bar; dropping it clears it.
pub struct Progress {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts the bar for a replay of `captures` when stderr is a terminal.
pub fn start(board: &Arc<Board>, captures: &[PathBuf]) -> Option<Progress> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let total: u64 = captures
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let files = captures.len();
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (board, stop) = (Arc::clone(board), Arc::clone(&stop));
        std::thread::Builder::new()
            .name("tapir-progress".into())
            .spawn(move || draw(&board, &stop, total, files))
            .ok()?
    };
    Some(Progress {
        stop,
        thread: Some(thread),
    })
}

fn draw(board: &Board, stop: &AtomicBool, total: u64, files: usize) {
    let started = Instant::now();
    // Fed from the start but drawn only after SHOW_AFTER, so that its rate and ETA are
    // estimated over the whole replay rather than from a jump at the first draw.
    // Without sizes (pipes), no bar and no ETA: bytes, rate and packets only.
    let (len, template) = if total > 0 {
        (
            Some(total),
            "{elapsed_precise} [{wide_bar}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}",
        )
    } else {
        (
            None,
            "{elapsed_precise} {spinner} {bytes} {bytes_per_sec} {msg}",
        )
    };
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::hidden());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    let mut shown = false;
    while !stop.load(Ordering::Relaxed) {
        if !shown && started.elapsed() >= SHOW_AFTER {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            shown = true;
        }
        let r = board.reader();
        bar.set_position(r.bytes.load(Ordering::Relaxed));
        bar.set_message(message(
            r.files_done.load(Ordering::Relaxed),
            files,
            r.packets.load(Ordering::Relaxed),
            started.elapsed(),
        ));
        std::thread::sleep(if shown {
            REFRESH
        } else {
            Duration::from_millis(50)
        });
    }
    bar.finish_and_clear();
}

/// A count with a k/M/G suffix: `999`, `12.3k`, `4.56M`.
fn short(n: f64) -> String {
    match n {
        n if n >= 1e9 => format!("{:.2}G", n / 1e9),
        n if n >= 1e6 => format!("{:.2}M", n / 1e6),
        n if n >= 1e4 => format!("{:.1}k", n / 1e3),
        n => format!("{n:.0}"),
    }
}

/// `file 2/3 1.23M pkts 412.3k pkt/s`: the file being read, packets so far and their rate.
fn message(files_done: usize, files: usize, packets: u64, elapsed: Duration) -> String {
    let current = (files_done + 1).min(files);
    let secs = elapsed.as_secs_f64().max(1e-3);
    format!(
        "file {current}/{files} {} pkts {} pkt/s",
        short(packets as f64),
        short(packets as f64 / secs)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_the_file_packets_and_rate() {
        assert_eq!(
            message(0, 3, 5000, Duration::from_secs(2)),
            "file 1/3 5000 pkts 2500 pkt/s"
        );
        // After the last file ends the count stays at the last file.
        assert_eq!(
            message(3, 3, 9_000_000, Duration::from_secs(3)),
            "file 3/3 9.00M pkts 3.00M pkt/s"
        );
        assert_eq!(short(12_345.0), "12.3k");
        assert_eq!(short(2.5e9), "2.50G");
    }
}
