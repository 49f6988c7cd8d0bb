//! Per-key tumbling windows on packet time.
//!
//! A key's window opens at its first observation and closes `window` later; the next
//! observation after that opens a new one. Closing is judged against the largest packet time
//! seen (not the observation's own), so observations that several workers deliver slightly
//! out of order cannot reopen or split a window.

/// Whether a window opened at `start_us` has closed by `now_us`.
pub(crate) fn expired(start_us: u64, window_s: u64, now_us: u64) -> bool {
    now_us >= start_us.saturating_add(window_s.saturating_mul(1_000_000))
}

/// The next report level after `level` on a doubling scale (log-scale re-reporting).
pub(crate) fn next_level(level: u64) -> u64 {
    level.saturating_mul(2).max(level.saturating_add(1))
}
