//! TLS record and handshake builders (RFC 8446 §4/§5, RFC 5246 §6.2/§7.4), enough to write
//! realistic cleartext handshakes: ClientHello, ServerHello, Certificate, ServerKeyExchange,
//! ServerHelloDone, ClientKeyExchange, ChangeCipherSpec and opaque (fake-encrypted) records.
//! Extension code points are from the IANA "TLS ExtensionType Values" registry; GREASE values
//! from RFC 8701. Nothing here is cryptographically meaningful: keys and ciphertexts are fixed
//! filler bytes.

/// Record content types (RFC 8446 §5.1).
pub const CT_CHANGE_CIPHER_SPEC: u8 = 20;
pub const CT_HANDSHAKE: u8 = 22;
pub const CT_APPLICATION_DATA: u8 = 23;

/// Handshake types (RFC 8446 §4, RFC 5246 §7.4).
pub const HS_CLIENT_HELLO: u8 = 1;
pub const HS_SERVER_HELLO: u8 = 2;
pub const HS_CERTIFICATE: u8 = 11;
pub const HS_SERVER_KEY_EXCHANGE: u8 = 12;
pub const HS_SERVER_HELLO_DONE: u8 = 14;
pub const HS_CLIENT_KEY_EXCHANGE: u8 = 16;

/// Extension types (IANA registry).
pub const EXT_SERVER_NAME: u16 = 0x0000;
pub const EXT_SUPPORTED_GROUPS: u16 = 0x000a;
pub const EXT_EC_POINT_FORMATS: u16 = 0x000b;
pub const EXT_SIGNATURE_ALGORITHMS: u16 = 0x000d;
pub const EXT_ALPN: u16 = 0x0010;
pub const EXT_EXTENDED_MASTER_SECRET: u16 = 0x0017;
pub const EXT_SESSION_TICKET: u16 = 0x0023;
pub const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;
pub const EXT_PSK_KEY_EXCHANGE_MODES: u16 = 0x002d;
pub const EXT_KEY_SHARE: u16 = 0x0033;
pub const EXT_RENEGOTIATION_INFO: u16 = 0xff01;

/// Named groups (RFC 8446 §4.2.7).
pub const GROUP_X25519: u16 = 0x001d;
pub const GROUP_SECP256R1: u16 = 0x0017;
pub const GROUP_SECP384R1: u16 = 0x0018;

/// Largest TLSPlaintext fragment (RFC 8446 §5.1: 2^14).
pub const MAX_FRAGMENT: usize = 16_384;

/// One extension: type and already-encoded body.
pub type Extension = (u16, Vec<u8>);

/// Appends a 24-bit big-endian length.
fn put_u24(out: &mut Vec<u8>, n: usize) {
    let n = n.min(0x00ff_ffff) as u32;
    out.extend_from_slice(&n.to_be_bytes()[1..]);
}

fn put_u16(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n.min(0xffff) as u16).to_be_bytes());
}

/// Wraps `body` in TLS records of `content_type`, splitting at [`MAX_FRAGMENT`].
/// `version` is the legacy record version (0x0301 for a first ClientHello, else 0x0303).
pub fn records(content_type: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 5 * (body.len() / MAX_FRAGMENT + 1));
    for chunk in body.chunks(MAX_FRAGMENT) {
        out.push(content_type);
        out.extend_from_slice(&version.to_be_bytes());
        put_u16(&mut out, chunk.len());
        out.extend_from_slice(chunk);
    }
    out
}

/// A handshake message: type, 24-bit length, body.
pub fn handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 4);
    out.push(msg_type);
    put_u24(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

/// server_name body: one host_name entry (RFC 6066 §3).
pub fn ext_server_name(host: &str) -> Vec<u8> {
    let mut out = Vec::new();
    put_u16(&mut out, host.len() + 3);
    out.push(0); // name_type host_name
    put_u16(&mut out, host.len());
    out.extend_from_slice(host.as_bytes());
    out
}

/// A body that is a u16-length-prefixed list of u16 (supported_groups, signature_algorithms).
pub fn ext_u16_list(values: &[u16]) -> Vec<u8> {
    let mut out = Vec::new();
    put_u16(&mut out, values.len() * 2);
    for v in values {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out
}

/// A body that is a u8-length-prefixed list of u8 (ec_point_formats, psk_key_exchange_modes).
pub fn ext_u8_list(values: &[u8]) -> Vec<u8> {
    let mut out = vec![values.len().min(255) as u8];
    out.extend_from_slice(values);
    out
}

/// ClientHello supported_versions: u8-length-prefixed list of u16 (RFC 8446 §4.2.1).
pub fn ext_client_versions(values: &[u16]) -> Vec<u8> {
    let mut out = vec![(values.len() * 2).min(254) as u8];
    for v in values {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out
}

/// ALPN protocol_name_list (RFC 7301 §3.1).
pub fn ext_alpn(protocols: &[&str]) -> Vec<u8> {
    let mut list = Vec::new();
    for p in protocols {
        list.push(p.len().min(255) as u8);
        list.extend_from_slice(p.as_bytes());
    }
    let mut out = Vec::new();
    put_u16(&mut out, list.len());
    out.extend_from_slice(&list);
    out
}

/// ClientHello key_share: list of (group, key_exchange) entries (RFC 8446 §4.2.8).
pub fn ext_client_key_share(shares: &[(u16, &[u8])]) -> Vec<u8> {
    let mut list = Vec::new();
    for (group, key) in shares {
        list.extend_from_slice(&group.to_be_bytes());
        put_u16(&mut list, key.len());
        list.extend_from_slice(key);
    }
    let mut out = Vec::new();
    put_u16(&mut out, list.len());
    out.extend_from_slice(&list);
    out
}

/// ServerHello key_share: a single entry, no list length.
pub fn ext_server_key_share(group: u16, key: &[u8]) -> Vec<u8> {
    let mut out = group.to_be_bytes().to_vec();
    put_u16(&mut out, key.len());
    out.extend_from_slice(key);
    out
}

fn put_extensions(out: &mut Vec<u8>, extensions: &[Extension]) {
    let total: usize = extensions.iter().map(|(_, b)| b.len() + 4).sum();
    put_u16(out, total);
    for (ty, body) in extensions {
        out.extend_from_slice(&ty.to_be_bytes());
        put_u16(out, body.len());
        out.extend_from_slice(body);
    }
}

/// Fields of a ClientHello (RFC 8446 §4.1.2).
pub struct ClientHello<'a> {
    pub random: [u8; 32],
    pub session_id: &'a [u8],
    pub cipher_suites: &'a [u16],
    pub extensions: Vec<Extension>,
}

impl ClientHello<'_> {
    /// The handshake message (without record header).
    pub fn to_handshake(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(512);
        b.extend_from_slice(&0x0303u16.to_be_bytes()); // legacy_version
        b.extend_from_slice(&self.random);
        b.push(self.session_id.len().min(32) as u8);
        b.extend_from_slice(self.session_id.get(..32).unwrap_or(self.session_id));
        put_u16(&mut b, self.cipher_suites.len() * 2);
        for c in self.cipher_suites {
            b.extend_from_slice(&c.to_be_bytes());
        }
        b.extend_from_slice(&[1, 0]); // compression: null only
        put_extensions(&mut b, &self.extensions);
        handshake(HS_CLIENT_HELLO, &b)
    }

    /// The full record, with the TLS 1.0 record version clients use for the first flight.
    pub fn to_record(&self) -> Vec<u8> {
        records(CT_HANDSHAKE, 0x0301, &self.to_handshake())
    }
}

/// ServerHello handshake message (RFC 8446 §4.1.3).
pub fn server_hello(
    random: &[u8; 32],
    session_id: &[u8],
    cipher: u16,
    extensions: &[Extension],
) -> Vec<u8> {
    let mut b = Vec::with_capacity(128);
    b.extend_from_slice(&0x0303u16.to_be_bytes());
    b.extend_from_slice(random);
    b.push(session_id.len().min(32) as u8);
    b.extend_from_slice(session_id.get(..32).unwrap_or(session_id));
    b.extend_from_slice(&cipher.to_be_bytes());
    b.push(0);
    put_extensions(&mut b, extensions);
    handshake(HS_SERVER_HELLO, &b)
}

/// TLS 1.2 Certificate message: a chain of DER certificates (RFC 5246 §7.4.2).
pub fn certificate_tls12(chain: &[&[u8]]) -> Vec<u8> {
    let mut list = Vec::new();
    for der in chain {
        put_u24(&mut list, der.len());
        list.extend_from_slice(der);
    }
    let mut b = Vec::with_capacity(list.len() + 3);
    put_u24(&mut b, list.len());
    b.extend_from_slice(&list);
    handshake(HS_CERTIFICATE, &b)
}

/// TLS 1.2 ECDHE ServerKeyExchange (RFC 8422 §5.4): named_curve, public point, then a
/// `SignatureAndHashAlgorithm` and a signature. The signature is a syntactically valid
/// DER ECDSA-Sig-Value with filler integers; it does not verify.
pub fn server_key_exchange_ecdhe(group: u16, public: &[u8], sig_alg: u16) -> Vec<u8> {
    let mut b = vec![3]; // curve_type named_curve
    b.extend_from_slice(&group.to_be_bytes());
    b.push(public.len().min(255) as u8);
    b.extend_from_slice(public);
    b.extend_from_slice(&sig_alg.to_be_bytes());
    // SEQUENCE { INTEGER r (32 bytes), INTEGER s (32 bytes) }
    let mut sig = vec![0x30, 68];
    for seed in [0x51, 0x53] {
        let mut int = filler32(seed);
        // Positive and minimal: top bit clear, first byte non-zero.
        int[0] = (int[0] & 0x3f) | 0x40;
        sig.extend_from_slice(&[0x02, 32]);
        sig.extend_from_slice(&int);
    }
    put_u16(&mut b, sig.len());
    b.extend_from_slice(&sig);
    handshake(HS_SERVER_KEY_EXCHANGE, &b)
}

/// ServerHelloDone: empty body.
pub fn server_hello_done() -> Vec<u8> {
    handshake(HS_SERVER_HELLO_DONE, &[])
}

/// ECDHE ClientKeyExchange: u8-length-prefixed public point (RFC 8422 §5.7).
pub fn client_key_exchange_ecdhe(public: &[u8]) -> Vec<u8> {
    let mut b = vec![public.len().min(255) as u8];
    b.extend_from_slice(public);
    handshake(HS_CLIENT_KEY_EXCHANGE, &b)
}

/// The one-byte ChangeCipherSpec record (also sent for middlebox compatibility in TLS 1.3,
/// RFC 8446 §D.4).
pub fn change_cipher_spec() -> Vec<u8> {
    records(CT_CHANGE_CIPHER_SPEC, 0x0303, &[1])
}

/// Opaque records of `content_type` with `len` bytes of deterministic filler in total,
/// standing in for ciphertext.
pub fn opaque_records(content_type: u8, len: usize, seed: u8) -> Vec<u8> {
    records(content_type, 0x0303, &filler(seed, len))
}

/// Deterministic filler bytes (a small LCG) for randoms, keys and ciphertexts.
pub fn filler(seed: u8, len: usize) -> Vec<u8> {
    let mut x = u32::from(seed).wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect()
}

/// Fixed-size filler, for randoms and keys.
pub fn filler32(seed: u8) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&filler(seed, 32));
    out
}
