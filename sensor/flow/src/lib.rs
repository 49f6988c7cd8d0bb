//! Flow-level state of the sensor: everything that needs more than one packet.
//!
//! - [`stream`]: TCP stream reassembly, one [`stream::Stream`] per direction of a connection.
//!   Bounded per direction by [`stream::StreamConfig`] (delivery depth, out-of-order bytes
//!   and segments); in-order data is handed to the app-layer parser by reference, without a copy.
//! - [`community_id`]: the Community ID v1 flow hash
//!   (<https://github.com/corelight/community-id-spec>), as logged by Suricata, Zeek and Arkime.
//!
//! Nothing here parses packets: callers hand in already-decoded sequence numbers, flags,
//! addresses and payload slices. Nothing here panics on any input, and every buffer has a
//! named, configurable cap.

#![forbid(unsafe_code)]

pub mod community_id;
pub mod stream;

/// Fuzz entry points. Each fuzz target is one line that calls a function here, so the logic
/// is compiled and tested with the crate (the rustls `internal::fuzzing` pattern).
pub mod fuzzing {
    /// Feeds segments decoded from `data` into a [`crate::stream::Stream`] and asserts its
    /// invariants: every delivered byte equals a fixed reference stream at its sequence
    /// number, nothing is delivered twice or out of order, total delivered <= depth, buffered
    /// bytes and pieces stay within their caps. Panics (a fuzz finding) if one breaks.
    pub fn fuzz_stream(data: &[u8]) {
        crate::stream::fuzz_run(data);
    }
}
