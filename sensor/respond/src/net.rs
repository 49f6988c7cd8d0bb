//! An address or CIDR block, the unit that is blocked. Kept canonical (host bits zero,
//! IPv4-mapped IPv6 turned into IPv4) so that one network has one key in every map.

use std::cmp::Ordering;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IPv4 or IPv6 network: an address with a prefix length; a single address is a /32 or
/// /128.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Net {
    addr: IpAddr,
    len: u8,
}

impl Net {
    /// A network from an address and prefix length; host bits are cleared.
    /// `None` when the length exceeds the family's width.
    pub fn new(addr: IpAddr, len: u8) -> Option<Net> {
        let addr = addr.to_canonical();
        let (addr, len) = match addr {
            IpAddr::V4(a) if len <= 32 => (IpAddr::V4(Ipv4Addr::from(mask4(a, len))), len),
            IpAddr::V6(a) if len <= 128 => (IpAddr::V6(Ipv6Addr::from(mask6(a, len))), len),
            _ => return None,
        };
        Some(Net { addr, len })
    }

    /// A single address.
    pub fn host(addr: IpAddr) -> Net {
        let addr = addr.to_canonical();
        let len = if addr.is_ipv4() { 32 } else { 128 };
        Net { addr, len }
    }

    /// Parses `1.2.3.4`, `1.2.3.0/24`, `2001:db8::1`, `2001:db8::/32`. Host bits set under
    /// the prefix (`10.0.0.5/24`) are refused: an operator who typed that may mean either.
    ///
    /// # Errors
    /// Not an address, a bad prefix length, or host bits set.
    pub fn parse_strict(s: &str) -> Result<Net, String> {
        let n = Net::parse_lenient(s)?;
        let (a, _) = split(s.trim());
        let given: IpAddr = a.parse().map_err(|_| format!("{s:?} is not an address"))?;
        if given.to_canonical() != n.addr {
            return Err(format!(
                "{s:?} has host bits set under the prefix (the network is {n})"
            ));
        }
        Ok(n)
    }

    /// As [`Net::parse_strict`], but host bits are cleared: indicator values from feeds.
    ///
    /// # Errors
    /// Not an address or a bad prefix length.
    pub fn parse_lenient(s: &str) -> Result<Net, String> {
        let (a, l) = split(s.trim());
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or CIDR"))?;
        let len = match l {
            None => return Ok(Net::host(addr)),
            Some(l) => l
                .parse::<u8>()
                .map_err(|_| format!("{s:?}: bad prefix length"))?,
        };
        // A mapped IPv6 prefix (::ffff:10.0.0.0/104) becomes the IPv4 one.
        let len = match (addr, addr.to_canonical()) {
            (IpAddr::V6(_), IpAddr::V4(_)) if len >= 96 => len - 96,
            _ => len,
        };
        Net::new(addr, len).ok_or_else(|| format!("{s:?}: prefix length out of range"))
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    pub fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }

    /// A single address, not a block.
    pub fn is_host(&self) -> bool {
        self.len == if self.is_ipv4() { 32 } else { 128 }
    }

    /// `other` lies wholly inside `self`.
    pub fn contains(&self, other: &Net) -> bool {
        if other.len < self.len {
            return false;
        }
        match (self.addr, other.addr) {
            (IpAddr::V4(a), IpAddr::V4(b)) => mask4(b, self.len) == u32::from(a),
            (IpAddr::V6(a), IpAddr::V6(b)) => mask6(b, self.len) == u128::from(a),
            _ => false,
        }
    }

    /// The address lies inside `self`.
    pub fn contains_addr(&self, addr: IpAddr) -> bool {
        self.contains(&Net::host(addr))
    }

    /// The two share at least one address (for prefixes: one contains the other).
    pub fn overlaps(&self, other: &Net) -> bool {
        self.contains(other) || other.contains(self)
    }

    /// The last address of the block (for ranges and display).
    pub fn last(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => {
                let host = if self.len == 0 {
                    u32::MAX
                } else {
                    u32::MAX >> self.len
                };
                IpAddr::V4(Ipv4Addr::from(u32::from(a) | host))
            }
            IpAddr::V6(a) => {
                let host = if self.len == 0 {
                    u128::MAX
                } else {
                    u128::MAX >> self.len
                };
                IpAddr::V6(Ipv6Addr::from(u128::from(a) | host))
            }
        }
    }
}

fn split(s: &str) -> (&str, Option<&str>) {
    match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    }
}

fn mask4(a: Ipv4Addr, len: u8) -> u32 {
    let v = u32::from(a);
    if len == 0 {
        0
    } else {
        v & (u32::MAX << (32 - u32::from(len)))
    }
}

fn mask6(a: Ipv6Addr, len: u8) -> u128 {
    let v = u128::from(a);
    if len == 0 {
        0
    } else {
        v & (u128::MAX << (128 - u32::from(len)))
    }
}

impl fmt::Display for Net {
    /// Single addresses print bare (`1.2.3.4`), blocks with their prefix: the form firewalls
    /// and external dynamic lists accept.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_host() {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.len)
        }
    }
}

impl FromStr for Net {
    type Err = String;
    fn from_str(s: &str) -> Result<Net, String> {
        Net::parse_strict(s)
    }
}

/// IPv4 before IPv6, then by address, then shorter prefix first: a block sorts before the
/// addresses inside it.
impl Ord for Net {
    fn cmp(&self, other: &Net) -> Ordering {
        let key = |n: &Net| match n.addr {
            IpAddr::V4(a) => (0u8, u128::from(u32::from(a)), n.len),
            IpAddr::V6(a) => (1u8, u128::from(a), n.len),
        };
        key(self).cmp(&key(other))
    }
}

impl PartialOrd for Net {
    fn partial_cmp(&self, other: &Net) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl serde::Serialize for Net {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Net {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Net, D::Error> {
        let s = String::deserialize(d)?;
        Net::parse_lenient(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Net {
        Net::parse_lenient(s).expect("valid net")
    }

    #[test]
    fn parse_and_display() {
        assert_eq!(n("1.2.3.4").to_string(), "1.2.3.4");
        assert_eq!(n("1.2.3.4/32").to_string(), "1.2.3.4");
        assert_eq!(n("10.1.2.3/8").to_string(), "10.0.0.0/8");
        assert_eq!(n("2001:db8::1/32").to_string(), "2001:db8::/32");
        assert_eq!(n("::ffff:192.0.2.1").to_string(), "192.0.2.1");
        assert_eq!(n("::ffff:192.0.2.0/120").to_string(), "192.0.2.0/24");
        assert!(Net::parse_strict("10.1.2.3/8")
            .expect_err("host bits")
            .contains("10.0.0.0/8"));
        assert!(Net::parse_strict("10.0.0.0/33").is_err());
        assert!(Net::parse_strict("example.com").is_err());
        assert!(Net::parse_strict("1.2.3.4/x").is_err());
    }

    #[test]
    fn containment_and_overlap() {
        assert!(n("198.51.100.0/24").contains(&n("198.51.100.23")));
        assert!(!n("198.51.100.0/24").contains(&n("198.51.101.1")));
        assert!(n("0.0.0.0/0").contains(&n("8.8.8.8")));
        assert!(!n("0.0.0.0/0").contains(&n("::1")));
        assert!(n("8.8.8.8").overlaps(&n("8.0.0.0/8")));
        assert!(n("2001:db8::/32").contains(&n("2001:db8::bad:c2")));
        assert_eq!(n("10.0.0.0/30").last().to_string(), "10.0.0.3");
        assert_eq!(
            n("::/0").last().to_string(),
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
        );
    }

    #[test]
    fn order_puts_v4_first_and_blocks_before_their_hosts() {
        let mut v = [
            n("2001:db8::1"),
            n("10.0.0.5"),
            n("10.0.0.0/24"),
            n("9.0.0.0"),
        ];
        v.sort();
        let s: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(s, ["9.0.0.0", "10.0.0.0/24", "10.0.0.5", "2001:db8::1"]);
    }
}
