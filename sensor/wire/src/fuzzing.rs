//! Fuzz entry points (for `cargo fuzz` targets and the property tests).

use crate::{decode, decode_reassembled, Decoded, DefragConfig, Defragmenter, LinkType};

/// Small bounds so the fuzzer reaches the memcap paths.
const FUZZ_DEFRAG: DefragConfig = DefragConfig {
    max_bytes: 64 * 1024,
    max_datagrams: 8,
    timeout_us: 1_000_000,
};

fn inside(outer: &[u8], inner: &[u8]) -> bool {
    let o = outer.as_ptr() as usize;
    let i = inner.as_ptr() as usize;
    inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len())
}

fn check(buf: &[u8], d: &Decoded<'_>) {
    match d {
        Decoded::Packet(p) => assert!(inside(buf, p.payload), "payload outside the input"),
        Decoded::Fragment(f) => {
            assert!(inside(buf, f.payload), "fragment payload outside the input");
            assert!(inside(buf, f.header), "fragment header outside the input");
        }
        Decoded::NotIp => {}
    }
}

/// Decodes `data` with every [`LinkType`], pushes each fragment (and the input split into
/// fragment-sized pieces, via repeated pushes of the same fragment) into a [`Defragmenter`],
/// decodes what it reassembles, and asserts that every payload lies inside its buffer.
///
/// # Panics
/// On a broken invariant: that is the bug the fuzzer looks for.
pub fn decode_all_links(data: &[u8]) {
    let mut defrag = Defragmenter::new(FUZZ_DEFRAG);
    for (i, link) in LinkType::ALL.into_iter().enumerate() {
        let Ok(d) = decode(link, data) else {
            continue;
        };
        check(data, &d);
        if let Decoded::Fragment(f) = &d {
            // Push it as itself and as the other pieces of a datagram, so reassembly runs.
            let mut pieces = [f.clone(), f.clone(), f.clone()];
            pieces[1].offset = 0;
            pieces[1].more_fragments = true;
            pieces[2].more_fragments = false;
            for (j, p) in pieces.iter().enumerate() {
                let now = (i * 3 + j) as u64 * 1000;
                if let Some(r) = defrag.push(p, now) {
                    if let Ok(rd) = decode_reassembled(&r) {
                        check(&r.data, &rd);
                    }
                }
            }
        }
    }
    let st = defrag.stats();
    assert!(st.bytes_buffered <= FUZZ_DEFRAG.max_bytes as u64);
    assert!(st.in_progress <= FUZZ_DEFRAG.max_datagrams as u64);
}
