//! SSH unit tests: identification strings (RFC 4253 §4.2), binary packet framing (§6) and
//! KEXINIT (§7.1) built by hand from the algorithm lists published in the salesforce/hassh
//! README (Cyberduck client: hassh 8a8ae540028bf433cd68356c1b9e8d5b; OpenSSH 5.3 server:
//! hasshServerAlgorithms), plus negative cases and truncation at every offset.

use tapir_proto::ssh::{
    self, fuzz_ssh, looks_like_ssh, parse_banner, SshError, SshEvent, SshRole, SshStream,
};

const CYBERDUCK_KEX: &str = "curve25519-sha256@libssh.org,diffie-hellman-group-exchange-sha256,ecdh-sha2-nistp521,ecdh-sha2-nistp384,ecdh-sha2-nistp256,diffie-hellman-group-exchange-sha1,diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,diffie-hellman-group14-sha256,diffie-hellman-group15-sha512,diffie-hellman-group16-sha512,diffie-hellman-group17-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256@ssh.com,diffie-hellman-group15-sha256,diffie-hellman-group15-sha256@ssh.com,diffie-hellman-group15-sha384@ssh.com,diffie-hellman-group16-sha256,diffie-hellman-group16-sha384@ssh.com,diffie-hellman-group16-sha512@ssh.com,diffie-hellman-group18-sha512@ssh.com";
const CYBERDUCK_ENC: &str = "aes128-cbc,aes128-ctr,aes192-cbc,aes192-ctr,aes256-cbc,aes256-ctr,blowfish-cbc,blowfish-ctr,cast128-cbc,cast128-ctr,idea-cbc,idea-ctr,serpent128-cbc,serpent128-ctr,serpent192-cbc,serpent192-ctr,serpent256-cbc,serpent256-ctr,3des-cbc,3des-ctr,twofish128-cbc,twofish128-ctr,twofish192-cbc,twofish192-ctr,twofish256-cbc,twofish256-ctr,twofish-cbc,arcfour,arcfour128,arcfour256";
const CYBERDUCK_MAC: &str =
    "hmac-sha1,hmac-sha1-96,hmac-md5,hmac-md5-96,hmac-sha2-256,hmac-sha2-512";
const CYBERDUCK_COMP: &str = "zlib@openssh.com,zlib,none";

const OPENSSH53_KEX: &str = "diffie-hellman-group-exchange-sha256,diffie-hellman-group-exchange-sha1,diffie-hellman-group14-sha1,diffie-hellman-group1-sha1";
const OPENSSH53_ENC: &str = "aes128-ctr,aes192-ctr,aes256-ctr,arcfour256,arcfour128,aes128-cbc,3des-cbc,blowfish-cbc,cast128-cbc,aes192-cbc,aes256-cbc,arcfour,rijndael-cbc@lysator.liu.se";
const OPENSSH53_MAC: &str = "hmac-md5,hmac-sha1,umac-64@openssh.com,hmac-ripemd160,hmac-ripemd160@openssh.com,hmac-sha1-96,hmac-md5-96";
const OPENSSH53_COMP: &str = "none,zlib@openssh.com";

/// SSH_MSG_KEXINIT payload (RFC 4253 §7.1) from the ten name-lists.
fn kexinit_payload(lists: [&str; 10]) -> Vec<u8> {
    let mut p = vec![20];
    p.extend_from_slice(&[0x5a; 16]); // cookie
    for l in lists {
        p.extend_from_slice(&(l.len() as u32).to_be_bytes());
        p.extend_from_slice(l.as_bytes());
    }
    p.push(0); // first_kex_packet_follows
    p.extend_from_slice(&[0, 0, 0, 0]); // reserved
    p
}

/// Binary packet (RFC 4253 §6) around `payload`, padded to a multiple of 8 with >= 4 bytes.
fn packet(payload: &[u8]) -> Vec<u8> {
    let mut pad = 8 - (5 + payload.len()) % 8;
    if pad < 4 {
        pad += 8;
    }
    let len = 1 + payload.len() + pad;
    let mut v = (len as u32).to_be_bytes().to_vec();
    v.push(pad as u8);
    v.extend_from_slice(payload);
    v.resize(v.len() + pad, 0);
    v
}

fn cyberduck_client() -> Vec<u8> {
    let mut v = b"SSH-2.0-Cyberduck/6.7.1.28683 (Mac OS X/10.13.6) (x86_64)\r\n".to_vec();
    v.extend(packet(&kexinit_payload([
        CYBERDUCK_KEX,
        "ssh-rsa",
        CYBERDUCK_ENC,
        CYBERDUCK_ENC,
        CYBERDUCK_MAC,
        CYBERDUCK_MAC,
        CYBERDUCK_COMP,
        CYBERDUCK_COMP,
        "",
        "",
    ])));
    v
}

fn openssh53_server() -> Vec<u8> {
    let mut v = b"SSH-2.0-OpenSSH_5.3\r\n".to_vec();
    v.extend(packet(&kexinit_payload([
        OPENSSH53_KEX,
        "ssh-rsa,ssh-dss",
        // Client-to-server lists differ on purpose: HASSHServer must use server-to-client.
        "aes128-ctr",
        OPENSSH53_ENC,
        "hmac-sha1",
        OPENSSH53_MAC,
        "none",
        OPENSSH53_COMP,
        "",
        "",
    ])));
    v
}

fn run(role: SshRole, data: &[u8]) -> (SshStream, Vec<SshEvent>) {
    let mut s = SshStream::new(role);
    let mut out = Vec::new();
    s.feed(data, &mut out);
    (s, out)
}

#[test]
fn banners() {
    // RFC 4253 §4.2 example.
    let b = parse_banner(b"SSH-2.0-billsSSH_3.6.3q3\r").unwrap();
    assert_eq!(b.proto_version, "2.0");
    assert_eq!(b.software_version, "billsSSH_3.6.3q3");
    assert_eq!(b.comments, None);
    let b = parse_banner(b"SSH-1.99-OpenSSH_3.1p1 Debian 1").unwrap();
    assert_eq!(b.proto_version, "1.99");
    assert_eq!(b.software_version, "OpenSSH_3.1p1");
    assert_eq!(b.comments.as_deref(), Some("Debian 1"));
    assert!(parse_banner(b"SSH-2.0").is_none());
    assert!(parse_banner(b"SSH-2.0-").is_none());
    assert!(parse_banner(b"HTTP/1.1 200 OK").is_none());
    assert!(looks_like_ssh(b"SSH-2.0-x"));
    assert!(looks_like_ssh(b"SS"));
    assert!(!looks_like_ssh(b""));
    assert!(!looks_like_ssh(b"GET / HTTP/1.1"));
}

#[test]
fn client_hassh_matches_published_cyberduck_value() {
    let (s, out) = run(SshRole::Client, &cyberduck_client());
    assert!(s.is_done() && s.error().is_none());
    let SshEvent::Banner(b) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(b.software_version, "Cyberduck/6.7.1.28683");
    assert_eq!(b.comments.as_deref(), Some("(Mac OS X/10.13.6) (x86_64)"));
    let SshEvent::Kexinit { kexinit, hassh } = &out[1] else {
        panic!("{out:?}")
    };
    assert_eq!(hassh.hash, "8a8ae540028bf433cd68356c1b9e8d5b");
    assert_eq!(
        hassh.string,
        format!("{CYBERDUCK_KEX};{CYBERDUCK_ENC};{CYBERDUCK_MAC};{CYBERDUCK_COMP}")
    );
    assert_eq!(kexinit.server_host_key_algorithms, "ssh-rsa");
    assert!(!kexinit.first_kex_packet_follows);
}

#[test]
fn server_hassh_uses_server_to_client_lists() {
    let (s, out) = run(SshRole::Server, &openssh53_server());
    assert!(s.is_done() && s.error().is_none());
    let SshEvent::Kexinit { kexinit, hassh } = &out[1] else {
        panic!("{out:?}")
    };
    // salesforce/hassh README, "hasshServerAlgorithms" of SSH-2.0-OpenSSH_5.3.
    assert_eq!(
        hassh.string,
        format!("{OPENSSH53_KEX};{OPENSSH53_ENC};{OPENSSH53_MAC};{OPENSSH53_COMP}")
    );
    assert_eq!(*hassh, kexinit.hassh_server());
    assert_ne!(hassh.string, kexinit.hassh().string);
}

#[test]
fn chunking_does_not_matter() {
    fuzz_ssh(&cyberduck_client());
    fuzz_ssh(&openssh53_server());
}

#[test]
fn server_lines_before_banner_and_ignore_packets() {
    let mut d = b"Welcome\r\nto the box\r\n".to_vec();
    let server = openssh53_server();
    let banner_end = server.iter().position(|b| *b == b'\n').unwrap() + 1;
    d.extend_from_slice(&server[..banner_end]);
    // SSH_MSG_IGNORE (2) before KEXINIT is allowed.
    d.extend(packet(&[2, 0, 0, 0, 1, b'x']));
    d.extend_from_slice(&server[banner_end..]);
    let (s, out) = run(SshRole::Server, &d);
    assert!(s.error().is_none(), "{:?}", s.error());
    assert_eq!(out.len(), 2);
    // A client may not send other lines first.
    let (s, out) = run(SshRole::Client, &d);
    assert_eq!(s.error(), Some(SshError::NotSsh));
    assert!(out.is_empty());
}

#[test]
fn ssh1_stops_after_banner() {
    let (s, out) = run(
        SshRole::Client,
        b"SSH-1.5-OldClient\n\x00\x00\x01\x00garbage",
    );
    assert_eq!(out.len(), 1);
    assert!(s.is_done() && s.error().is_none());
}

#[test]
fn malformed_packets() {
    let mut d = b"SSH-2.0-x\r\n".to_vec();
    d.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 4]);
    let (s, _) = run(SshRole::Client, &d);
    assert_eq!(s.error(), Some(SshError::BadPacketLength(0xffff_ffff)));
    // padding_length larger than the packet.
    let mut d = b"SSH-2.0-x\r\n".to_vec();
    d.extend_from_slice(&[0, 0, 0, 4, 200, 20, 0, 0]);
    let (s, _) = run(SshRole::Client, &d);
    assert_eq!(s.error(), Some(SshError::BadPacketLength(4)));
    // KEXINIT with a name-list length running past the packet.
    let mut p = vec![20];
    p.extend_from_slice(&[0; 16]);
    p.extend_from_slice(&[0, 0, 0x10, 0]);
    let mut d = b"SSH-2.0-x\r\n".to_vec();
    d.extend(packet(&p));
    let (s, _) = run(SshRole::Client, &d);
    assert_eq!(s.error(), Some(SshError::MalformedKexinit));
    // A line longer than the cap.
    let (s, _) = run(SshRole::Client, &vec![b'S'; ssh::MAX_LINE_LEN + 1]);
    assert_eq!(s.error(), Some(SshError::LineTooLong));
    // Too many packets without KEXINIT.
    let mut d = b"SSH-2.0-x\r\n".to_vec();
    for _ in 0..ssh::MAX_PACKETS_BEFORE_KEXINIT {
        d.extend(packet(&[2, 0, 0, 0, 0]));
    }
    let (s, _) = run(SshRole::Client, &d);
    assert_eq!(s.error(), Some(SshError::NoKexinit));
}

#[test]
fn truncation_at_every_offset() {
    let full = cyberduck_client();
    for n in 0..full.len() {
        let (s, out) = run(SshRole::Client, &full[..n]);
        assert!(s.error().is_none(), "{n}: {:?}", s.error());
        assert!(
            !out.iter().any(|e| matches!(e, SshEvent::Kexinit { .. })),
            "{n}"
        );
        fuzz_ssh(&full[..n]);
    }
}
