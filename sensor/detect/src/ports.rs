//! Which server ports each identified application protocol usually runs on, and which
//! protocols a few fixed-purpose ports allow. The engine identifies protocols by content,
//! so a mismatch means the port was chosen to blend in or to get through a firewall.

/// Protocols checked against their usual ports: found anywhere else, they are reported.
/// HTTP is not here: it runs on too many ports to list.
const USUAL: &[(&str, &[u16])] = &[
    (
        "tls",
        &[
            443, 8443, 993, 995, 465, 636, 853, 5223, 989, 990, 992, 994, 3269, 5061, 5986, 6697,
            8883, 9443, 4443, 10443, 2083, 2087, 2096, 5671, 6443, 8531, 3389,
            // STARTTLS: the stream turns into TLS after a plaintext greeting.
            25, 587, 143, 110, 21, 389, 5222, 5269,
        ],
    ),
    ("quic", &[443, 8443, 80, 853]),
    ("dns", &[53, 5353, 5355, 137]),
    ("ssh", &[22, 2222, 830]),
];

/// Ports whose protocol is fixed: an identified protocol not listed is reported.
const OWNERS: &[(u16, &[&str])] = &[
    (53, &["dns"]),
    (22, &["ssh"]),
    (443, &["tls", "quic"]),
    (80, &["http", "socks", "quic"]),
    (853, &["tls", "quic"]),
    (993, &["tls"]),
    (995, &["tls"]),
    (465, &["tls"]),
    (636, &["tls"]),
    (25, &["tls"]),
    (587, &["tls"]),
    (123, &[]),
    (3389, &["tls"]),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mismatch {
    /// The protocol is off its usual ports (TLS on 8081, DNS on 4444).
    OffUsual,
    /// A fixed-purpose port carries another protocol (HTTP on 53, SSH on 443).
    WrongProto,
}

/// `extra(proto)` lists configured extra usual ports for `proto`.
pub(crate) fn check<'a>(
    proto: &str,
    port: u16,
    extra: impl Fn(&str) -> Option<&'a [u16]>,
) -> Option<Mismatch> {
    if extra(proto).is_some_and(|p| p.contains(&port)) {
        return None;
    }
    if let Some((_, allowed)) = OWNERS.iter().find(|(p, _)| *p == port) {
        return (!allowed.contains(&proto)).then_some(Mismatch::WrongProto);
    }
    let (_, usual) = USUAL.iter().find(|(p, _)| *p == proto)?;
    (!usual.contains(&port)).then_some(Mismatch::OffUsual)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<&'static [u16]> {
        None
    }

    #[test]
    fn table() {
        assert_eq!(check("tls", 443, none), None);
        assert_eq!(check("tls", 8081, none), Some(Mismatch::OffUsual));
        assert_eq!(check("http", 53, none), Some(Mismatch::WrongProto));
        assert_eq!(check("ssh", 443, none), Some(Mismatch::WrongProto));
        assert_eq!(check("dns", 4444, none), Some(Mismatch::OffUsual));
        assert_eq!(check("http", 8080, none), None);
        assert_eq!(check("tls", 80, none), Some(Mismatch::WrongProto));
        let extra = |p: &str| (p == "tls").then_some(&[8081u16][..]);
        assert_eq!(check("tls", 8081, extra), None);
    }
}
