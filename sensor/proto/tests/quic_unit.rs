//! QUIC Initial unit tests on published vectors:
//! - RFC 9001 Appendix A (version 1): keys (A.1), the client Initial (A.2): header protection
//!   removal, decrypted payload;
//! - RFC 9369 Appendix A (version 2): keys (A.1), the same client Initial under v2 (A.2);
//! - draft-ietf-quic-tls-29 Appendix A.1: client key and IV;
//!
//! plus hand-built packets (sealed with a test-local sealer that is itself checked to reproduce
//! RFC 9001 A.2 byte for byte): a ClientHello split over two Initial packets, out of order,
//! coalesced, with a DCID change; malformed and truncated packets.

use aes::cipher::BlockEncrypt;
use aes::Aes128;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::Aes128Gcm;
use tapir_proto::quic::{
    self, decrypt_initial, initial_keys, looks_like_quic_initial, Frame, InitialKeys, QuicError,
    QuicEvent, QuicState,
};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const DCID: &str = "8394c8f03e515708";

/// RFC 9001 §A.2 (identical in RFC 9369 §A.2): the client's CRYPTO frame.
const CLIENT_CRYPTO_FRAME: &str = "
   060040f1010000ed0303ebf8fa56f129 39b9584a3896472ec40bb863cfd3e868
   04fe3a47f06a2b69484c000004130113 02010000c000000010000e00000b6578
   616d706c652e636f6dff01000100000a 00080006001d00170018001000070005
   04616c706e0005000501000000000033 00260024001d00209370b2c9caa47fba
   baf4559fedba753de171fa71f50f1ce1 5d43e994ec74d748002b000302030400
   0d0010000e0403050306030203080408 050806002d00020101001c0002400100
   3900320408ffffffffffffffff050480 00ffff07048000ffff08011001048000
   75300901100f088394c8f03e51570806 048000ffff";

/// RFC 9001 §A.2: the protected client Initial.
const V1_PACKET: &str = "
   c000000001088394c8f03e5157080000 449e7b9aec34d1b1c98dd7689fb8ec11
   d242b123dc9bd8bab936b47d92ec356c 0bab7df5976d27cd449f63300099f399
   1c260ec4c60d17b31f8429157bb35a12 82a643a8d2262cad67500cadb8e7378c
   8eb7539ec4d4905fed1bee1fc8aafba1 7c750e2c7ace01e6005f80fcb7df6212
   30c83711b39343fa028cea7f7fb5ff89 eac2308249a02252155e2347b63d58c5
   457afd84d05dfffdb20392844ae81215 4682e9cf012f9021a6f0be17ddd0c208
   4dce25ff9b06cde535d0f920a2db1bf3 62c23e596d11a4f5a6cf3948838a3aec
   4e15daf8500a6ef69ec4e3feb6b1d98e 610ac8b7ec3faf6ad760b7bad1db4ba3
   485e8a94dc250ae3fdb41ed15fb6a8e5 eba0fc3dd60bc8e30c5c4287e53805db
   059ae0648db2f64264ed5e39be2e20d8 2df566da8dd5998ccabdae053060ae6c
   7b4378e846d29f37ed7b4ea9ec5d82e7 961b7f25a9323851f681d582363aa5f8
   9937f5a67258bf63ad6f1a0b1d96dbd4 faddfcefc5266ba6611722395c906556
   be52afe3f565636ad1b17d508b73d874 3eeb524be22b3dcbc2c7468d54119c74
   68449a13d8e3b95811a198f3491de3e7 fe942b330407abf82a4ed7c1b311663a
   c69890f4157015853d91e923037c227a 33cdd5ec281ca3f79c44546b9d90ca00
   f064c99e3dd97911d39fe9c5d0b23a22 9a234cb36186c4819e8b9c5927726632
   291d6a418211cc2962e20fe47feb3edf 330f2c603a9d48c0fcb5699dbfe58964
   25c5bac4aee82e57a85aaf4e2513e4f0 5796b07ba2ee47d80506f8d2c25e50fd
   14de71e6c418559302f939b0e1abd576 f279c4b2e0feb85c1f28ff18f58891ff
   ef132eef2fa09346aee33c28eb130ff2 8f5b766953334113211996d20011a198
   e3fc433f9f2541010ae17c1bf202580f 6047472fb36857fe843b19f5984009dd
   c324044e847a4f4a0ab34f719595de37 252d6235365e9b84392b061085349d73
   203a4a13e96f5432ec0fd4a1ee65accd d5e3904df54c1da510b0ff20dcc0c77f
   cb2c0e0eb605cb0504db87632cf3d8b4 dae6e705769d1de354270123cb11450e
   fc60ac47683d7b8d0f811365565fd98c 4c8eb936bcab8d069fc33bd801b03ade
   a2e1fbc5aa463d08ca19896d2bf59a07 1b851e6c239052172f296bfb5e724047
   90a2181014f3b94a4e97d117b4381303 68cc39dbb2d198065ae3986547926cd2
   162f40a29f0c3c8745c0f50fba3852e5 66d44575c29d39a03f0cda721984b6f4
   40591f355e12d439ff150aab7613499d bd49adabc8676eef023b15b65bfc5ca0
   6948109f23f350db82123535eb8a7433 bdabcb909271a6ecbcb58b936a88cd4e
   8f2e6ff5800175f113253d8fa9ca8885 c2f552e657dc603f252e1a8e308f76f0
   be79e2fb8f5d5fbbe2e30ecadd220723 c8c0aea8078cdfcb3868263ff8f09400
   54da48781893a7e49ad5aff4af300cd8 04a6b6279ab3ff3afb64491c85194aab
   760d58a606654f9f4400e8b38591356f bf6425aca26dc85244259ff2b19c41b9
   f96f3ca9ec1dde434da7d2d392b905dd f3d1f9af93d1af5950bd493f5aa731b4
   056df31bd267b6b90a079831aaf579be 0a39013137aac6d404f518cfd4684064
   7e78bfe706ca4cf5e9c5453e9f7cfd2b 8b4c8d169a44e55c88d4a9a7f9474241
   e221af44860018ab0856972e194cd934";

/// RFC 9369 §A.2: the protected client Initial (version 2).
const V2_PACKET: &str = "
   d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485
   dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04
   9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d
   250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a
   12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500
   cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68
   18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33
   12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3
   d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd
   6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520
   bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045
   636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f
   ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12
   16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5
   4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4
   fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b
   8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7
   14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9
   9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91
   abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd
   80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db
   848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18
   d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15
   c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc
   7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61
   f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710
   10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b
   3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e
   06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce
   8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1
   34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1
   e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd
   5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3
   8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89
   d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53
   6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19
   9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b
   a18b2faa745b6fe189cf772a9f84cbfc";

/// The unprotected payload: the CRYPTO frame plus PADDING to 1162 bytes (RFC 9001 §A.2).
fn client_plaintext() -> Vec<u8> {
    let mut p = hex(CLIENT_CRYPTO_FRAME);
    assert_eq!(p.len(), 245);
    p.resize(1162, 0);
    p
}

/// The ClientHello handshake message inside the CRYPTO frame (after type, offset, length).
fn client_hello_message() -> Vec<u8> {
    hex(CLIENT_CRYPTO_FRAME)[4..].to_vec()
}

fn v1_keys() -> InitialKeys {
    initial_keys(quic::VERSION_1, &hex(DCID), true).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Test-local sealer (the inverse of the code under test, written from RFC 9001 §5.3, §5.4)
// ---------------------------------------------------------------------------------------------

/// Seals `plaintext` behind `header` (unprotected; the packet number is its last `pn_len`
/// bytes) and applies header protection.
fn seal(keys: &InitialKeys, header: &[u8], pn_len: usize, pn: u64, plaintext: &[u8]) -> Vec<u8> {
    let mut nonce = keys.iv;
    for (n, p) in nonce.iter_mut().skip(4).zip(pn.to_be_bytes()) {
        *n ^= p;
    }
    let mut body = plaintext.to_vec();
    let tag = Aes128Gcm::new(&keys.key.into())
        .encrypt_in_place_detached(&nonce.into(), header, &mut body)
        .unwrap();
    let mut pkt = header.to_vec();
    pkt.extend_from_slice(&body);
    pkt.extend_from_slice(&tag);
    let pn_offset = header.len() - pn_len;
    let sample: [u8; 16] = pkt[pn_offset + 4..pn_offset + 20].try_into().unwrap();
    let mut mask = sample.into();
    Aes128::new(&keys.hp.into()).encrypt_block(&mut mask);
    pkt[0] ^= mask[0] & 0x0f;
    for i in 0..pn_len {
        pkt[pn_offset + i] ^= mask[1 + i];
    }
    pkt
}

/// A protected Initial packet: 4-byte packet number, no token, 2-byte Length.
fn initial_packet(
    version: u32,
    keys: &InitialKeys,
    dcid: &[u8],
    pn: u32,
    plaintext: &[u8],
) -> Vec<u8> {
    let first = if version == quic::VERSION_2 {
        0xd3
    } else {
        0xc3
    };
    let mut h = vec![first];
    h.extend_from_slice(&version.to_be_bytes());
    h.push(dcid.len() as u8);
    h.extend_from_slice(dcid);
    h.push(0); // empty SCID
    h.push(0); // token length
    let len = 4 + plaintext.len() + 16;
    assert!(len < 0x4000);
    h.extend_from_slice(&(0x4000u16 | len as u16).to_be_bytes());
    h.extend_from_slice(&pn.to_be_bytes());
    seal(keys, &h, 4, u64::from(pn), plaintext)
}

fn crypto_frame(offset: u16, data: &[u8]) -> Vec<u8> {
    assert!(offset < 0x4000 && data.len() < 0x4000);
    let mut f = vec![0x06];
    f.extend_from_slice(&(0x4000 | offset).to_be_bytes());
    f.extend_from_slice(&(0x4000 | data.len() as u16).to_be_bytes());
    f.extend_from_slice(data);
    f
}

fn padded(mut p: Vec<u8>, to: usize) -> Vec<u8> {
    p.resize(p.len().max(to), 0);
    p
}

fn run(datagrams: &[&[u8]]) -> (QuicState, Vec<QuicEvent>) {
    let mut s = QuicState::new();
    let mut out = Vec::new();
    for d in datagrams {
        s.on_datagram(d, &mut out);
    }
    (s, out)
}

fn hellos(out: &[QuicEvent]) -> Vec<(u32, &tapir_proto::tls::ClientHello, Option<&str>)> {
    out.iter()
        .filter_map(|e| match e {
            QuicEvent::ClientHello { version, hello, ua } => {
                Some((*version, hello.as_ref(), ua.as_deref()))
            }
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Published vectors
// ---------------------------------------------------------------------------------------------

#[test]
fn rfc9001_a1_keys() {
    let c = v1_keys();
    assert_eq!(c.key.to_vec(), hex("1f369613dd76d5467730efcbe3b1a22d"));
    assert_eq!(c.iv.to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
    assert_eq!(c.hp.to_vec(), hex("9f50449e04a0e810283a1e9933adedd2"));
    let s = initial_keys(quic::VERSION_1, &hex(DCID), false).unwrap();
    assert_eq!(s.key.to_vec(), hex("cf3a5331653c364c88f0f379b6067e37"));
    assert_eq!(s.iv.to_vec(), hex("0ac1493ca1905853b0bba03e"));
    assert_eq!(s.hp.to_vec(), hex("c206b8d9b9f0f37644430b490eeaa314"));
}

#[test]
fn rfc9369_a1_keys() {
    let c = initial_keys(quic::VERSION_2, &hex(DCID), true).unwrap();
    assert_eq!(c.key.to_vec(), hex("8b1a0bc121284290a29e0971b5cd045d"));
    assert_eq!(c.iv.to_vec(), hex("91f73e2351d8fa91660e909f"));
    assert_eq!(c.hp.to_vec(), hex("45b95e15235d6f45a6b19cbcb0294ba9"));
    let s = initial_keys(quic::VERSION_2, &hex(DCID), false).unwrap();
    assert_eq!(s.key.to_vec(), hex("82db637861d55e1d011f19ea71d5d2a7"));
    assert_eq!(s.iv.to_vec(), hex("dd13c276499c0249d3310652"));
    assert_eq!(s.hp.to_vec(), hex("edf6d05c83121201b436e16877593c3a"));
}

#[test]
fn draft29_a1_keys() {
    // draft-ietf-quic-tls-29 §A.1, client key and IV for the same DCID.
    let c = initial_keys(quic::VERSION_DRAFT_29, &hex(DCID), true).unwrap();
    assert_eq!(c.key.to_vec(), hex("175257a31eb09dea9366d8bb79ad80ba"));
    assert_eq!(c.iv.to_vec(), hex("6b26114b9cba2b63a9e8dd4f"));
    assert!(initial_keys(0x1234_5678, &hex(DCID), true).is_none());
}

#[test]
fn rfc9001_a2_client_initial_decrypts() {
    let pkt = hex(V1_PACKET);
    assert_eq!(pkt.len(), 1200);
    let mut buf = Vec::new();
    let o = decrypt_initial(&pkt, &v1_keys(), None, &mut buf).unwrap();
    assert_eq!(o.version, 1);
    assert_eq!(o.packet_number, 2);
    assert_eq!(o.packet_len, 1200);
    // Header protection removed: the RFC's unprotected header.
    assert_eq!(
        buf[..o.header_len],
        hex("c300000001088394c8f03e5157080000449e00000002")[..]
    );
    assert_eq!(buf[o.header_len..], client_plaintext()[..]);
}

#[test]
fn rfc9369_a2_client_initial_decrypts() {
    let pkt = hex(V2_PACKET);
    assert_eq!(pkt.len(), 1200);
    let keys = initial_keys(quic::VERSION_2, &hex(DCID), true).unwrap();
    let mut buf = Vec::new();
    let o = decrypt_initial(&pkt, &keys, None, &mut buf).unwrap();
    assert_eq!(o.version, quic::VERSION_2);
    assert_eq!(o.packet_number, 2);
    assert_eq!(
        buf[..o.header_len],
        hex("d36b3343cf088394c8f03e5157080000449e00000002")[..]
    );
    assert_eq!(buf[o.header_len..], client_plaintext()[..]);
    // v1 keys must not open a v2 packet.
    assert_eq!(
        decrypt_initial(&pkt, &v1_keys(), None, &mut buf),
        Err(QuicError::DecryptFailed)
    );
}

#[test]
fn test_sealer_reproduces_rfc9001_a2() {
    let header = hex("c300000001088394c8f03e5157080000449e00000002");
    assert_eq!(
        seal(&v1_keys(), &header, 4, 2, &client_plaintext()),
        hex(V1_PACKET)
    );
    let header = hex("d36b3343cf088394c8f03e5157080000449e00000002");
    let keys = initial_keys(quic::VERSION_2, &hex(DCID), true).unwrap();
    assert_eq!(
        seal(&keys, &header, 4, 2, &client_plaintext()),
        hex(V2_PACKET)
    );
}

#[test]
fn rfc9001_a2_frames() {
    let p = client_plaintext();
    let mut frames = Vec::new();
    quic::for_each_frame(&p, |f| frames.push(f)).unwrap();
    let ch = client_hello_message();
    assert_eq!(
        frames,
        vec![
            Frame::Crypto {
                offset: 0,
                data: &ch[..]
            },
            Frame::Padding(1162 - 245)
        ]
    );
}

/// Every field below is read off the RFC 9001 A.2 ClientHello bytes by hand, and the JA3 / JA4
/// strings assembled by the rules of salesforce/ja3 and FoxIO JA4.md.
fn assert_rfc_client_hello(h: &tapir_proto::tls::ClientHello) {
    assert_eq!(h.sni.as_deref(), Some("example.com"));
    assert_eq!(h.alpns, vec!["alpn".to_string()]);
    assert_eq!(h.version(), 0x0304);
    assert_eq!(
        h.ja3_string,
        "771,4865-4866,0-65281-10-16-5-51-43-13-45-28-57,29-23-24,"
    );
    assert_eq!(
        h.ja4_r,
        "q13d0211an_1301,1302_0005,000a,000d,001c,002b,002d,0033,0039,ff01_\
         0403,0503,0603,0203,0804,0805,0806"
    );
    assert!(h.ja4.starts_with("q13d0211an_"), "{}", h.ja4);
}

#[test]
fn state_reads_rfc_client_hello_v1_and_v2() {
    for (pkt, version) in [(V1_PACKET, quic::VERSION_1), (V2_PACKET, quic::VERSION_2)] {
        let pkt = hex(pkt);
        assert!(looks_like_quic_initial(&pkt));
        let (s, out) = run(&[&pkt]);
        assert_eq!(
            out[0],
            QuicEvent::Initial {
                version,
                dcid: hex(DCID),
                scid: vec![]
            }
        );
        let hs = hellos(&out);
        assert_eq!(hs.len(), 1);
        assert_eq!(hs[0].0, version);
        assert_eq!(hs[0].2, None);
        assert_rfc_client_hello(hs[0].1);
        assert!(s.is_done() && s.client_hello_seen());
        assert_eq!(s.errors().total(), 0);
        assert_eq!(s.version(), Some(version));
    }
}

// ---------------------------------------------------------------------------------------------
// Reassembly over several packets
// ---------------------------------------------------------------------------------------------

/// The RFC ClientHello split in two CRYPTO frames carried by two Initial packets.
fn split_packets(second_dcid: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let ch = client_hello_message();
    let keys = v1_keys();
    let mut p0 = crypto_frame(100, &ch[100..]);
    p0.push(0x01); // PING
    let p0 = padded(p0, 400);
    let p1 = padded(crypto_frame(0, &ch[..100]), 400);
    (
        initial_packet(quic::VERSION_1, &keys, &hex(DCID), 0, &p0),
        // Keys stay those of the first DCID even when the client switched DCID (RFC 9001 §5.2).
        initial_packet(quic::VERSION_1, &keys, second_dcid, 1, &p1),
    )
}

#[test]
fn client_hello_split_over_two_initials_out_of_order() {
    let (a, b) = split_packets(&hex(DCID));
    let (s, out) = run(&[&a]);
    assert!(hellos(&out).is_empty());
    assert!(!s.is_done());
    let (s, out) = run(&[&a, &b]);
    let hs = hellos(&out);
    assert_eq!(hs.len(), 1);
    assert_rfc_client_hello(hs[0].1);
    assert_eq!(s.errors().total(), 0);

    // Same ClientHello as the single-packet RFC Initial.
    let (_, single) = run(&[&hex(V1_PACKET)]);
    assert_eq!(hellos(&single)[0].1, hs[0].1);
}

#[test]
fn client_hello_split_with_dcid_change() {
    let (a, b) = split_packets(&hex("f067a5502a4262b5"));
    let (s, out) = run(&[&a, &b]);
    assert_eq!(hellos(&out).len(), 1, "{:?}", s.errors());
}

#[test]
fn coalesced_initials_in_one_datagram() {
    let (a, b) = split_packets(&hex(DCID));
    let mut d = b.clone();
    d.extend_from_slice(&a);
    // A Handshake packet (type 2) with an opaque body, then a short-header packet: skipped.
    d.extend_from_slice(&[0xe0, 0, 0, 0, 1, 0, 0, 0x05, 1, 2, 3, 4, 5]);
    d.extend_from_slice(&[0x40, 9, 9, 9]);
    let (s, out) = run(&[&d]);
    let hs = hellos(&out);
    assert_eq!(hs.len(), 1);
    assert_rfc_client_hello(hs[0].1);
    assert_eq!(s.errors().total(), 0);
}

#[test]
fn user_agent_transport_parameter() {
    // A minimal ClientHello (RFC 8446 §4.1.2) with quic_transport_parameters (57) holding
    // google_user_agent_id (0x3129) = "UA/1.0" and initial_max_data (4) = 0.
    let mut tp = vec![0x40 | 0x31, 0x29, 6];
    tp.extend_from_slice(b"UA/1.0");
    tp.extend_from_slice(&[0x04, 0x01, 0x00]);
    let mut exts = vec![0x00, 0x39, 0x00, tp.len() as u8];
    exts.extend_from_slice(&tp);
    exts.extend_from_slice(&[0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04]);
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0u8; 32]);
    body.extend_from_slice(&[0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00]);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    let mut msg = vec![0x01, 0x00, 0x00, body.len() as u8];
    msg.extend_from_slice(&body);
    let pkt = initial_packet(
        quic::VERSION_1,
        &v1_keys(),
        &hex(DCID),
        0,
        &padded(crypto_frame(0, &msg), 1162),
    );
    let (_, out) = run(&[&pkt]);
    let hs = hellos(&out);
    assert_eq!(hs.len(), 1);
    assert_eq!(hs[0].2, Some("UA/1.0"));
    assert_eq!(hs[0].1.ja4_r, "q13i010200_1301_002b,0039");
}

// ---------------------------------------------------------------------------------------------
// Negative cases
// ---------------------------------------------------------------------------------------------

#[test]
fn detection_negatives() {
    assert!(!looks_like_quic_initial(&[]));
    // A DNS query header, a TLS record, a short-header packet.
    assert!(!looks_like_quic_initial(&hex(
        "abcd0100000100000000000003777777076578616d706c6503636f6d0000010001"
    )));
    assert!(!looks_like_quic_initial(&hex("160301020001000200030300")));
    let mut short = hex(V1_PACKET);
    short[0] = 0x40;
    assert!(!looks_like_quic_initial(&short));
    // Version Negotiation (version 0), an unknown version, a Handshake packet, fixed bit clear.
    for (i, v) in [(1usize, 0u8), (4, 9)] {
        let mut p = hex(V1_PACKET);
        p[1..5].fill(0);
        p[i] = v;
        assert!(!looks_like_quic_initial(&p));
    }
    let mut hs = hex(V1_PACKET);
    hs[0] = 0xe0;
    assert!(!looks_like_quic_initial(&hs));
    let mut nofixed = hex(V1_PACKET);
    nofixed[0] = 0x80;
    assert!(!looks_like_quic_initial(&nofixed));
    // DCID shorter than 8 bytes (not a client's first Initial).
    let short_dcid = initial_packet(quic::VERSION_1, &v1_keys(), &[1, 2, 3], 0, &[0; 64]);
    assert!(!looks_like_quic_initial(&short_dcid));
}

#[test]
fn bad_frames_and_crypto_are_counted() {
    let keys = v1_keys();
    let dcid = hex(DCID);
    // STREAM frame (0x08) is not allowed in an Initial.
    let p = initial_packet(
        quic::VERSION_1,
        &keys,
        &dcid,
        0,
        &padded(vec![0x08, 0, 1], 64),
    );
    let (s, out) = run(&[&p]);
    assert!(hellos(&out).is_empty());
    assert_eq!(s.errors().get(QuicError::BadFrame), 1);
    // CRYPTO data past 64 KiB.
    let mut f = vec![0x06, 0x80, 0x01, 0x00, 0x00, 0x01, 0xaa];
    f.resize(64, 0);
    let p = initial_packet(quic::VERSION_1, &keys, &dcid, 0, &f);
    let (s, _) = run(&[&p]);
    assert_eq!(s.errors().get(QuicError::CryptoTooLarge), 1);
    assert!(s.is_done());
    // A ServerHello (type 2) where a ClientHello is expected.
    let p = initial_packet(
        quic::VERSION_1,
        &keys,
        &dcid,
        0,
        &padded(crypto_frame(0, &[2, 0, 0, 1, 0]), 64),
    );
    let (s, _) = run(&[&p]);
    assert_eq!(s.errors().get(QuicError::NotClientHello), 1);
    // A ClientHello that does not parse.
    let p = initial_packet(
        quic::VERSION_1,
        &keys,
        &dcid,
        0,
        &padded(crypto_frame(0, &[1, 0, 0, 3, 3, 3, 0]), 64),
    );
    let (s, _) = run(&[&p]);
    assert_eq!(s.errors().get(QuicError::BadClientHello), 1);
    // CONNECTION_CLOSE is reported.
    let p = initial_packet(
        quic::VERSION_1,
        &keys,
        &dcid,
        0,
        &padded(vec![0x1c, 0x0a, 0x06, 0x02, b'n', b'o'], 64),
    );
    let (_, out) = run(&[&p]);
    assert!(out.contains(&QuicEvent::ConnectionClose {
        version: 1,
        error_code: 0x0a
    }));
}

#[test]
fn server_initial_does_not_decrypt_with_client_keys() {
    // RFC 9001 §A.3: the server's Initial (SCID-less header, DCID = f067a5502a4262b5).
    let pkt = hex(
        "cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a
         5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3
         dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84
         022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4
         2158407dd074ee",
    );
    let mut buf = Vec::new();
    assert_eq!(
        decrypt_initial(&pkt, &v1_keys(), None, &mut buf),
        Err(QuicError::DecryptFailed)
    );
    // With the server keys, RFC 9001 §A.3's payload (ACK + CRYPTO ServerHello) comes out.
    let skeys = initial_keys(quic::VERSION_1, &hex(DCID), false).unwrap();
    let o = decrypt_initial(&pkt, &skeys, None, &mut buf).unwrap();
    assert_eq!(o.packet_number, 1);
    assert_eq!(
        buf[o.header_len..],
        hex(
            "02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf739
             88cfc79825df566dc5430b9a045a1200130100002e00330024001d00209d3c94
             0d89690b84d08a60993c144eca684d1081287c834d5311bcf32bb9da1a002b00
             020304"
        )[..]
    );
}

#[test]
fn truncation_at_every_offset() {
    let pkt = hex(V1_PACKET);
    let keys = v1_keys();
    let mut buf = Vec::new();
    for n in 0..pkt.len() {
        let p = &pkt[..n];
        assert!(decrypt_initial(p, &keys, None, &mut buf).is_err(), "{n}");
        let (s, out) = run(&[p]);
        assert!(hellos(&out).is_empty(), "{n}");
        assert!(!s.client_hello_seen());
        quic::fuzz_quic(p);
    }
    let (a, b) = split_packets(&hex(DCID));
    for n in 0..b.len() {
        let (_, out) = run(&[&a, &b[..n]]);
        assert!(hellos(&out).is_empty(), "{n}");
    }
    quic::fuzz_quic(&pkt);
}

#[test]
fn any_single_byte_change_is_rejected() {
    let pkt = hex(V1_PACKET);
    for i in 0..pkt.len() {
        let mut p = pkt.clone();
        p[i] ^= 0x01;
        let (_, out) = run(&[&p]);
        assert!(hellos(&out).is_empty(), "byte {i}");
    }
}

#[test]
fn flow_gives_up_after_too_many_initials() {
    let junk = initial_packet(quic::VERSION_1, &v1_keys(), &hex(DCID), 0, &[0x08; 64]);
    let mut s = QuicState::new();
    let mut out = Vec::new();
    for _ in 0..=quic::MAX_INITIAL_PACKETS {
        s.on_datagram(&junk, &mut out);
    }
    assert!(s.is_done());
    assert_eq!(s.errors().get(QuicError::TooManyPackets), 1);
    // Done: a valid Initial is no longer looked at.
    s.on_datagram(&hex(V1_PACKET), &mut out);
    assert!(hellos(&out).is_empty());
}
