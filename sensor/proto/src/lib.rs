//! tapir-proto: app-layer parsers over reassembled bytes. No I/O, no state beyond
//! the per-direction parser structs each module exposes.
//!
//! - [`dns`]: DNS messages over UDP and TCP (length-prefixed framing).
//! - [`tls`]: TLS records and handshakes: ClientHello (SNI, JA3, JA4, ALPN),
//!   ServerHello (JA3S), Certificate (leaf fields).
//! - [`http`]: HTTP/1.x request and response heads.
//! - [`quic`]: QUIC Initial packets (v1, v2, drafts): decryption, CRYPTO reassembly, ClientHello
//!   (SNI, ALPN, JA3, JA4 'q', user agent).
//! - [`ssh`]: SSH identification strings and KEXINIT (HASSH / HASSHServer).
//! - [`socks`]: SOCKS4/4a/5 handshakes (target, auth user, grant, tunnel start offsets).

mod chunks;
pub mod dns;
pub mod http;
pub mod quic;
mod reader;
pub mod socks;
pub mod ssh;
pub mod tls;
