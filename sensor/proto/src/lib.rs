//! tapir-proto: app-layer parsers over reassembled bytes. No I/O, no state beyond
//! the per-direction parser structs each module exposes.
//!
//! - [`dns`]: DNS messages over UDP and TCP (length-prefixed framing).
//! - [`tls`]: TLS records and handshakes: ClientHello (SNI, JA3, JA4, ALPN),
//!   ServerHello (JA3S), Certificate (leaf fields).
//! - [`http`]: HTTP/1.x request and response heads.

pub mod dns;
pub mod http;
pub mod tls;
