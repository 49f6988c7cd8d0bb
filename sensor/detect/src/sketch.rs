//! Small bounded summaries: distinct counts, recent flow ids, entropy, a stable hash.

/// A hash whose values do not change between builds or runs: distinct-count estimates (and
/// so findings) must be reproducible. FNV-1a with murmur3's finaliser for avalanche.
pub(crate) fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    fmix(h)
}

pub(crate) fn stable_hash_u64(v: u64) -> u64 {
    fmix(v ^ 0x9e37_79b9_7f4a_7c15)
}

fn fmix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

pub(crate) fn ip_hash(ip: std::net::IpAddr) -> u64 {
    match ip {
        std::net::IpAddr::V4(a) => stable_hash(&a.octets()),
        std::net::IpAddr::V6(a) => stable_hash(&a.octets()),
    }
}

/// `s` cut to at most `max` bytes at a character boundary (names from traffic are bounded
/// before they become keys).
pub(crate) fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

const EXACT: usize = 16;
const REGS: usize = 256;

/// Distinct count: exact up to 16 values, then a 256-register HyperLogLog (about 6.5 %
/// standard error, 256 bytes). At most 16 * 8 + 256 bytes of heap.
#[derive(Debug, Clone, Default)]
pub(crate) struct Distinct {
    exact: Vec<u64>,
    hll: Option<Box<[u8; REGS]>>,
}

impl Distinct {
    pub(crate) fn add(&mut self, h: u64) {
        if let Some(regs) = self.hll.as_deref_mut() {
            hll_add(regs, h);
            return;
        }
        if self.exact.contains(&h) {
            return;
        }
        if self.exact.len() < EXACT {
            if self.exact.capacity() == self.exact.len() {
                let want = (self.exact.capacity() * 2).clamp(2, EXACT);
                self.exact.reserve_exact(want - self.exact.len());
            }
            self.exact.push(h);
            return;
        }
        let mut regs = Box::new([0u8; REGS]);
        for v in self.exact.drain(..) {
            hll_add(&mut regs, v);
        }
        hll_add(&mut regs, h);
        self.exact = Vec::new();
        self.hll = Some(regs);
    }

    pub(crate) fn estimate(&self) -> u64 {
        let Some(regs) = self.hll.as_deref() else {
            return self.exact.len() as u64;
        };
        let m = REGS as f64;
        let mut sum = 0.0;
        let mut zeros = 0u32;
        for &r in regs.iter() {
            sum += 1.0 / f64::from(1u32 << r.min(31));
            if r == 0 {
                zeros += 1;
            }
        }
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let raw = alpha * m * m / sum;
        let est = if raw <= 2.5 * m && zeros > 0 {
            m * (m / f64::from(zeros)).ln()
        } else {
            raw
        };
        // Never below what the exact phase had already counted.
        (est.round() as u64).max(EXACT as u64 + 1)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.exact.capacity() * 8 + if self.hll.is_some() { REGS } else { 0 }
    }

    pub(crate) const MAX_HEAP: usize = EXACT * 8 + REGS;

    pub(crate) fn clear(&mut self) {
        self.exact.clear();
        self.hll = None;
    }
}

fn hll_add(regs: &mut [u8; REGS], h: u64) {
    let idx = (h >> 56) as usize;
    let rest = h << 8;
    let rank = (rest.leading_zeros() + 1).min(57) as u8;
    if let Some(r) = regs.get_mut(idx) {
        if rank > *r {
            *r = rank;
        }
    }
}

/// The last `cap` flow ids (evidence for a finding), oldest overwritten first.
#[derive(Debug, Clone, Default)]
pub(crate) struct FlowIds {
    ids: Vec<u64>,
    next: usize,
}

impl FlowIds {
    pub(crate) fn push(&mut self, id: u64, cap: usize) {
        // One flow seen twice in a row (several observations of it) is one piece of evidence.
        if self.last() == Some(id) {
            return;
        }
        if self.ids.len() < cap {
            if self.ids.capacity() == self.ids.len() {
                let want = (self.ids.capacity() * 2).max(2).min(cap);
                self.ids.reserve_exact(want - self.ids.len());
            }
            self.ids.push(id);
        } else if let Some(slot) = self.ids.get_mut(self.next) {
            *slot = id;
            self.next = (self.next + 1) % cap;
        }
    }

    /// Oldest first.
    pub(crate) fn to_vec(&self) -> Vec<u64> {
        let (a, b) = self.ids.split_at(self.next.min(self.ids.len()));
        b.iter().chain(a).copied().collect()
    }

    pub(crate) fn last(&self) -> Option<u64> {
        if self.ids.is_empty() {
            None
        } else {
            let i = (self.next + self.ids.len() - 1) % self.ids.len();
            self.ids.get(i).copied()
        }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.ids.capacity() * 8
    }

    pub(crate) fn clear(&mut self) {
        self.ids.clear();
        self.next = 0;
    }
}

/// `c * log2(c)` for small counts: entropy then needs one `log2` per name, not one per
/// distinct character (DNS names are at most 253 bytes; longer input uses `log2`).
fn clogc(c: u16) -> f64 {
    static TABLE: std::sync::OnceLock<[f64; 256]> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| {
        let mut t = [0.0; 256];
        for (i, v) in t.iter_mut().enumerate().skip(1) {
            *v = i as f64 * (i as f64).log2();
        }
        t
    });
    match t.get(usize::from(c)) {
        Some(v) => *v,
        None => f64::from(c) * f64::from(c).log2(),
    }
}

/// Shannon entropy in bits per byte of `s`, dots excluded (they are structure, not payload),
/// with the number of bytes counted and the longest dot-separated label.
pub(crate) fn entropy(s: &[u8]) -> (f64, usize, usize) {
    let mut counts = [0u16; 256];
    // The distinct bytes, so the sum below visits only those.
    let mut seen = [0u8; 256];
    let mut distinct = 0usize;
    let mut n = 0usize;
    let (mut label, mut longest) = (0usize, 0usize);
    for &b in s {
        if b == b'.' {
            label = 0;
            continue;
        }
        label += 1;
        longest = longest.max(label);
        let c = &mut counts[usize::from(b)];
        if *c == 0 {
            seen[distinct] = b;
            distinct += 1;
        }
        *c = c.saturating_add(1);
        n += 1;
    }
    if n == 0 {
        return (0.0, 0, 0);
    }
    let nf = n as f64;
    // H = log2 n - (1/n) * sum(c log2 c)
    let sum: f64 = seen[..distinct]
        .iter()
        .map(|&b| clogc(counts[usize::from(b)]))
        .sum();
    ((nf.log2() - sum / nf).max(0.0), n, longest)
}

/// Rounds for the findings' context: three decimals are what an analyst reads.
pub(crate) fn r3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_is_exact_when_small_and_close_when_large() {
        let mut d = Distinct::default();
        for i in 0..10u64 {
            d.add(stable_hash_u64(i));
            d.add(stable_hash_u64(i));
        }
        assert_eq!(d.estimate(), 10);
        for n in [100u64, 1000, 20_000] {
            let mut d = Distinct::default();
            for i in 0..n {
                d.add(stable_hash(format!("sub{i}.example.com").as_bytes()));
            }
            let e = d.estimate() as f64;
            assert!(
                (e - n as f64).abs() / (n as f64) < 0.2,
                "n={n} estimate={e}"
            );
            assert!(d.heap_bytes() <= Distinct::MAX_HEAP);
        }
    }

    #[test]
    fn flow_ids_keep_the_last_ones_in_order() {
        let mut f = FlowIds::default();
        for i in 1..=10 {
            f.push(i, 4);
        }
        assert_eq!(f.to_vec(), vec![7, 8, 9, 10]);
        assert_eq!(f.last(), Some(10));
        assert!(f.heap_bytes() <= 4 * 8);
    }

    #[test]
    fn entropy_of_simple_strings() {
        assert_eq!(entropy(b"aaaa").0, 0.0);
        assert!((entropy(b"ab.ab").0 - 1.0).abs() < 1e-9);
        assert_eq!(entropy(b"ab.abc"), (entropy(b"ababc").0, 5, 3));
        // Against the textbook formula.
        let s = b"x3kq9z.aa7bq.zzzzqk1";
        let n = s.iter().filter(|b| **b != b'.').count() as f64;
        let mut h = 0.0;
        for b in 0..=255u8 {
            let c = s.iter().filter(|x| **x == b && b != b'.').count() as f64;
            if c > 0.0 {
                h -= c / n * (c / n).log2();
            }
        }
        assert!((entropy(s).0 - h).abs() < 1e-9);
    }
}
