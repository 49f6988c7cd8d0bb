//! DNS message builder (RFC 1035 §4.1): header, one question, answer and authority records
//! for A, AAAA (RFC 3596), CNAME, NS, MX, TXT and SOA. Owner names equal to the question name
//! are written as a compression pointer to offset 12 (RFC 1035 §4.1.4), as real servers do;
//! every other name is written uncompressed.

/// Record types (RFC 1035 §3.2.2, RFC 3596).
pub const TYPE_A: u16 = 1;
pub const TYPE_NS: u16 = 2;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_MX: u16 = 15;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AAAA: u16 = 28;
/// Class IN.
pub const CLASS_IN: u16 = 1;
/// RCODE 3, name error.
pub const RCODE_NXDOMAIN: u8 = 3;

/// Record data of one resource record.
#[derive(Clone, Copy, Debug)]
pub enum Rdata<'a> {
    A([u8; 4]),
    Aaaa([u8; 16]),
    Cname(&'a str),
    Ns(&'a str),
    Mx(u16, &'a str),
    Txt(&'a str),
    /// mname, rname, serial; refresh/retry/expire/minimum are fixed.
    Soa(&'a str, &'a str, u32),
}

impl Rdata<'_> {
    fn rtype(&self) -> u16 {
        match self {
            Rdata::A(_) => TYPE_A,
            Rdata::Aaaa(_) => TYPE_AAAA,
            Rdata::Cname(_) => TYPE_CNAME,
            Rdata::Ns(_) => TYPE_NS,
            Rdata::Mx(..) => TYPE_MX,
            Rdata::Txt(_) => TYPE_TXT,
            Rdata::Soa(..) => TYPE_SOA,
        }
    }
}

/// One resource record.
#[derive(Clone, Copy, Debug)]
pub struct Rr<'a> {
    pub name: &'a str,
    pub ttl: u32,
    pub data: Rdata<'a>,
}

/// Writes `name` as uncompressed labels. Labels are cut at 63 bytes (RFC 1035 §2.3.4).
fn put_name(out: &mut Vec<u8>, name: &str) {
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        let l = label.as_bytes();
        let l = l.get(..63).unwrap_or(l);
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
    out.push(0);
}

fn put_owner(out: &mut Vec<u8>, name: &str, qname: &str) {
    if name.eq_ignore_ascii_case(qname) {
        out.extend_from_slice(&[0xc0, 12]);
    } else {
        put_name(out, name);
    }
}

/// A recursive query (RD set) for `qname`/`qtype`.
pub fn query(id: u16, qname: &str, qtype: u16) -> Vec<u8> {
    message(id, 0x0100, qname, qtype, &[], &[])
}

/// A recursive response (QR, RD, RA) with `rcode`, `answers` and `authority`.
pub fn response(
    id: u16,
    qname: &str,
    qtype: u16,
    rcode: u8,
    answers: &[Rr<'_>],
    authority: &[Rr<'_>],
) -> Vec<u8> {
    let flags = 0x8180 | u16::from(rcode & 0x0f);
    message(id, flags, qname, qtype, answers, authority)
}

fn message(
    id: u16,
    flags: u16,
    qname: &str,
    qtype: u16,
    answers: &[Rr<'_>],
    authority: &[Rr<'_>],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(answers.len().min(0xffff) as u16).to_be_bytes());
    out.extend_from_slice(&(authority.len().min(0xffff) as u16).to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    put_name(&mut out, qname);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    for rr in answers.iter().chain(authority) {
        put_owner(&mut out, rr.name, qname);
        out.extend_from_slice(&rr.data.rtype().to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&rr.ttl.to_be_bytes());
        let mut rdata = Vec::with_capacity(64);
        match rr.data {
            Rdata::A(a) => rdata.extend_from_slice(&a),
            Rdata::Aaaa(a) => rdata.extend_from_slice(&a),
            Rdata::Cname(n) | Rdata::Ns(n) => put_name(&mut rdata, n),
            Rdata::Mx(pref, n) => {
                rdata.extend_from_slice(&pref.to_be_bytes());
                put_name(&mut rdata, n);
            }
            Rdata::Txt(t) => {
                // One <character-string> per 255 bytes (RFC 1035 §3.3.14).
                for chunk in t.as_bytes().chunks(255) {
                    rdata.push(chunk.len() as u8);
                    rdata.extend_from_slice(chunk);
                }
            }
            Rdata::Soa(mname, rname, serial) => {
                put_name(&mut rdata, mname);
                put_name(&mut rdata, rname);
                for v in [serial, 7200, 3600, 1_209_600, 3600] {
                    rdata.extend_from_slice(&v.to_be_bytes());
                }
            }
        }
        out.extend_from_slice(&(rdata.len().min(0xffff) as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1035 §4.1.2/§3.1: "www.example.com" A IN query, header then labels, 33 bytes.
    #[test]
    fn query_layout() {
        let q = query(0x1234, "www.example.com", TYPE_A);
        let mut want = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        assert_eq!(q, want);
    }

    #[test]
    fn nxdomain_flags() {
        let r = response(7, "nope.example.com", TYPE_A, RCODE_NXDOMAIN, &[], &[]);
        assert_eq!(r.get(2..4), Some(&[0x81, 0x83][..]));
    }
}
