//! Feeding a stream parser in chunks of varying sizes, for the fuzz entries: a stream parser
//! must give the same messages however its input is cut.

/// Calls `feed` with consecutive pieces of `data`, sized by cycling through `sizes` (each
/// clamped to 1..=rest; an empty `sizes` means 1-byte pieces).
pub(crate) fn feed_in_chunks(data: &[u8], sizes: &[usize], mut feed: impl FnMut(&[u8])) {
    let mut rest = data;
    let mut i = 0usize;
    while !rest.is_empty() {
        let n = sizes
            .get(i % sizes.len().max(1))
            .copied()
            .unwrap_or(1)
            .clamp(1, rest.len());
        let (a, b) = rest.split_at(n);
        feed(a);
        rest = b;
        i = i.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn pieces_cover_the_input_in_order() {
        let mut seen = Vec::new();
        super::feed_in_chunks(b"abcdefg", &[2, 0, 9], |c| seen.push(c.to_vec()));
        assert_eq!(seen, [b"ab".to_vec(), b"c".to_vec(), b"defg".to_vec()]);
        let mut n = 0;
        super::feed_in_chunks(b"xyz", &[], |_| n += 1);
        assert_eq!(n, 3);
    }
}
