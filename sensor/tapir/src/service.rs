//! Running under systemd (`Type=notify`, see `systemd/tapir.service`): readiness, status and
//! watchdog pings over `$NOTIFY_SOCKET`. Every call is a no-op when tapir is not started by
//! systemd (no `$NOTIFY_SOCKET`), so `tapir run` behaves the same from a shell.
//!
//! `tapir run` calls [`ready`] once capture has started, [`watchdog_loop`] right after, and
//! [`stopping`] when a stop signal arrives. The watchdog pings only while every registered
//! worker is alive and reporting on the board: a worker stuck inside a batch, or whose thread
//! died, stops the pings and systemd restarts the service after `WatchdogSec`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;
use tapir_engine::board::Board;

/// Startup is complete: capture runs. systemd marks the unit active.
pub fn ready() {
    let _ = sd_notify::notify(false, &[NotifyState::Ready]);
}

/// A one-line status for `systemctl status`.
pub fn status(text: &str) {
    let _ = sd_notify::notify(false, &[NotifyState::Status(text)]);
}

/// Shutdown began (draining queues and flushing flows can take a moment).
pub fn stopping() {
    let _ = sd_notify::notify(false, &[NotifyState::Stopping]);
}

/// The watchdog timeout systemd asked for (`WatchdogSec=`), if any: `$WATCHDOG_USEC`, for
/// this process when `$WATCHDOG_PID` names it or is unset, as sd_watchdog_enabled(3) reads it
/// (the `sd-notify` crate insists on `$WATCHDOG_PID`).
pub fn watchdog_timeout() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
    if usec == 0 {
        return None;
    }
    if let Ok(pid) = std::env::var("WATCHDOG_PID") {
        if pid.trim().parse::<u32>().ok()? != std::process::id() {
            return None;
        }
    }
    Some(Duration::from_micros(usec))
}

/// Starts pinging the watchdog at half its timeout while the workers on `board` are alive,
/// until `stop` is set. `None` when systemd asked for no watchdog.
pub fn watchdog_loop(board: Arc<Board>, stop: Arc<AtomicBool>) -> Option<JoinHandle<()>> {
    let timeout = watchdog_timeout()?;
    std::thread::Builder::new()
        .name("tapir-watchdog".into())
        .spawn(move || {
            ping_while_alive(&board, &stop, timeout / 2, || {
                let _ = sd_notify::notify(false, &[NotifyState::Watchdog]);
            });
        })
        .ok()
}

/// Calls `ping` every `every` while the workers are healthy, until `stop`.
fn ping_while_alive(board: &Board, stop: &AtomicBool, every: Duration, mut ping: impl FnMut()) {
    // Short sleeps so that a stop is noticed promptly whatever the interval.
    let tick = every.min(Duration::from_millis(100));
    let mut last: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        let due = match last {
            Some(t) => t.elapsed() >= every,
            None => true,
        };
        if due && board.healthy() {
            ping();
            last = Some(Instant::now());
        }
        std::thread::sleep(tick);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn pings_only_while_every_worker_is_alive() {
        let board = Board::new();
        let stop = Arc::new(AtomicBool::new(false));
        let pings = Arc::new(AtomicUsize::new(0));
        let t = {
            let (board, stop, pings) = (Arc::clone(&board), Arc::clone(&stop), Arc::clone(&pings));
            std::thread::spawn(move || {
                ping_while_alive(&board, &stop, Duration::from_millis(20), || {
                    pings.fetch_add(1, Ordering::Relaxed);
                })
            })
        };
        std::thread::sleep(Duration::from_millis(150));
        assert_eq!(pings.load(Ordering::Relaxed), 0, "no worker yet");
        let m0 = board.meter(0);
        let m1 = board.meter(1);
        std::thread::sleep(Duration::from_millis(300));
        let alive = pings.load(Ordering::Relaxed);
        assert!(alive >= 2, "{alive}");
        drop(m1);
        std::thread::sleep(Duration::from_millis(150));
        let after = pings.load(Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            pings.load(Ordering::Relaxed),
            after,
            "one dead worker stops the pings"
        );
        drop(m0);
        stop.store(true, Ordering::Relaxed);
        t.join().expect("watchdog thread");
    }
}
