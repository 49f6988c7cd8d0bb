//! Which addresses are "ours": `home_net` compiled to masks, checked per observation.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub(crate) fn default_home_net() -> Vec<(IpAddr, u8)> {
    let v4 = |a, b, c, d, len| (IpAddr::V4(Ipv4Addr::new(a, b, c, d)), len);
    vec![
        v4(10, 0, 0, 0, 8),
        v4(172, 16, 0, 0, 12),
        v4(192, 168, 0, 0, 16),
        v4(100, 64, 0, 0, 10),
        v4(169, 254, 0, 0, 16),
        v4(127, 0, 0, 0, 8),
        (IpAddr::V6(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0)), 7),
        (IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0)), 10),
        (IpAddr::V6(Ipv6Addr::LOCALHOST), 128),
    ]
}

/// `home_net` as (network, mask) pairs; IPv4 networks are kept in the IPv4-mapped form so one
/// 128-bit compare serves both families.
#[derive(Debug, Clone)]
pub(crate) struct HomeNet {
    nets: Vec<(u128, u128)>,
}

fn bits(ip: IpAddr) -> (u128, bool) {
    match ip {
        IpAddr::V4(a) => (u128::from(a.to_ipv6_mapped()), true),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => (u128::from(v4.to_ipv6_mapped()), true),
            None => (u128::from(a), false),
        },
    }
}

impl HomeNet {
    pub(crate) fn new(cidrs: &[(IpAddr, u8)]) -> Self {
        let nets = cidrs
            .iter()
            .map(|&(ip, len)| {
                let (b, v4) = bits(ip);
                let len = u32::from(len) + if v4 { 96 } else { 0 };
                let mask = if len == 0 {
                    0
                } else {
                    u128::MAX << (128 - len.min(128))
                };
                (b & mask, mask)
            })
            .collect();
        HomeNet { nets }
    }

    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let (b, _) = bits(ip);
        self.nets.iter().any(|&(net, mask)| b & mask == net)
    }

    /// Outside `home_net` and a possible peer of a connection: multicast, broadcast and
    /// unspecified destinations are nobody's server (mDNS and SSDP are periodic by design).
    pub(crate) fn is_external(&self, ip: IpAddr) -> bool {
        let special = match ip {
            IpAddr::V4(a) => a.is_multicast() || a.is_broadcast() || a.is_unspecified(),
            IpAddr::V6(a) => {
                a.is_multicast()
                    || a.is_unspecified()
                    || a.to_ipv4_mapped()
                        .is_some_and(|v| v.is_multicast() || v.is_broadcast() || v.is_unspecified())
            }
        };
        !special && !self.contains(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_special_addresses() {
        let h = HomeNet::new(&default_home_net());
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert!(h.contains(ip("172.31.255.255")));
        assert!(!h.contains(ip("172.32.0.0")));
        assert!(h.contains(ip("fdff::1")));
        assert!(!h.contains(ip("fe00::1")));
        assert!(!h.is_external(ip("224.0.0.251")));
        assert!(!h.is_external(ip("255.255.255.255")));
        assert!(!h.is_external(ip("ff02::fb")));
        assert!(h.is_external(ip("198.51.100.7")));
        let all = HomeNet::new(&[(ip("0.0.0.0"), 0)]);
        assert!(all.contains(ip("8.8.8.8")));
        assert!(!all.contains(ip("2001:db8::1")));
    }
}
