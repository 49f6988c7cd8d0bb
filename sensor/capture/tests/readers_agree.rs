//! The native reader must hand out exactly what libpcap does (time, lengths, bytes, link type)
//! on every capture in ../shared/testdata, and stop at the same record on cut-short files.

use std::path::Path;

use tapir_capture::{CaptureError, CaptureFile, ReaderKind};

#[test]
fn native_reader_matches_libpcap_on_every_shared_capture() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/pcaps");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("skipped: ../shared/testdata not found");
        return;
    };
    let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();
    assert!(!files.is_empty());
    let mut total = 0;
    let mut clamped = 0;
    for f in &files {
        let mut a = CaptureFile::open(f, ReaderKind::Native).expect("native open");
        let mut b = CaptureFile::open(f, ReaderKind::Libpcap).expect("libpcap open");
        loop {
            let (x, y) = (a.next_packet(), b.next_packet());
            match (x, y) {
                (Ok(Some(p)), Ok(Some(q))) => {
                    assert_eq!(p.link, q.link, "{f:?}");
                    assert_eq!(p.packet.ts_us, q.packet.ts_us, "{f:?}");
                    assert_eq!(p.packet.wire_len, q.packet.wire_len, "{f:?}");
                    // libpcap cuts a record longer than the file header's snaplen down to it
                    // (zeek-trunc-hdr.pcap declares snaplen 1); we keep what the file holds.
                    let n = q.packet.data.len();
                    assert!(n <= p.packet.data.len(), "{f:?}");
                    assert_eq!(&p.packet.data[..n], q.packet.data, "{f:?}");
                    if n != p.packet.data.len() {
                        clamped += 1;
                    }
                    total += 1;
                }
                (Ok(None), Ok(None)) => break,
                (
                    Err(CaptureError::Truncated { records: r1, .. }),
                    Err(CaptureError::Truncated { records: r2, .. }),
                ) => {
                    assert_eq!(r1, r2, "{f:?}");
                    break;
                }
                (x, y) => panic!(
                    "{f:?}: readers disagree: {:?} vs {:?}",
                    x.map(|o| o.is_some()),
                    y.map(|o| o.is_some())
                ),
            }
        }
    }
    println!("{total} packets identical in {} files", files.len());
    assert!(
        clamped <= 1,
        "only zeek-trunc-hdr's record exceeds its snaplen"
    );
}

#[test]
fn pcapng_interfaces_keep_their_own_link_types() {
    // SHB (LE) + IDB Ethernet + IDB Linux SLL + one EPB on each interface.
    fn block(t: u32, body: &[u8]) -> Vec<u8> {
        let pad = (4 - body.len() % 4) % 4;
        let total = (12 + body.len() + pad) as u32;
        let mut v = Vec::new();
        v.extend_from_slice(&t.to_le_bytes());
        v.extend_from_slice(&total.to_le_bytes());
        v.extend_from_slice(body);
        v.extend(std::iter::repeat_n(0, pad));
        v.extend_from_slice(&total.to_le_bytes());
        v
    }
    let mut f = Vec::new();
    let mut shb = vec![0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0];
    shb.extend_from_slice(&u64::MAX.to_le_bytes());
    f.extend(block(0x0a0d_0d0a, &shb));
    let idb = |link: u16, tsresol: Option<u8>| {
        let mut b = Vec::new();
        b.extend_from_slice(&link.to_le_bytes());
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&65535u32.to_le_bytes());
        if let Some(r) = tsresol {
            b.extend_from_slice(&9u16.to_le_bytes());
            b.extend_from_slice(&1u16.to_le_bytes());
            b.extend_from_slice(&[r, 0, 0, 0]);
            b.extend_from_slice(&[0, 0, 0, 0]);
        }
        b
    };
    f.extend(block(1, &idb(1, None)));
    f.extend(block(1, &idb(113, Some(9))));
    let epb = |iface: u32, ts: u64, data: &[u8]| {
        let mut b = Vec::new();
        b.extend_from_slice(&iface.to_le_bytes());
        b.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        b.extend_from_slice(&(ts as u32).to_le_bytes());
        b.extend_from_slice(&(data.len() as u32).to_le_bytes());
        b.extend_from_slice(&(data.len() as u32 + 4).to_le_bytes());
        b.extend_from_slice(data);
        b
    };
    f.extend(block(6, &epb(0, 1_700_000_000_123_456, &[1, 2, 3])));
    f.extend(block(
        6,
        &epb(1, 1_700_000_000_123_456_789, &[4, 5, 6, 7, 8]),
    ));
    let p = std::env::temp_dir().join(format!("tapir-ng-{}.pcapng", std::process::id()));
    std::fs::write(&p, &f).expect("write");
    let mut r = CaptureFile::open(&p, ReaderKind::Native).expect("open");
    let a = r.next_packet().expect("read").expect("packet");
    assert_eq!(
        (a.link, a.packet.ts_us, a.packet.wire_len, a.packet.data),
        (1, 1_700_000_000_123_456, 7, &[1u8, 2, 3][..])
    );
    let b = r.next_packet().expect("read").expect("packet");
    // Nanosecond interface: converted to microseconds.
    assert_eq!(
        (b.link, b.packet.ts_us, b.packet.data.len()),
        (113, 1_700_000_000_123_456, 5)
    );
    assert!(r.next_packet().expect("end").is_none());
    // Cut inside the last block: one record, then a truncation error.
    std::fs::write(&p, &f[..f.len() - 6]).expect("write");
    let mut r = CaptureFile::open(&p, ReaderKind::Native).expect("open");
    assert!(r.next_packet().expect("first").is_some());
    assert!(matches!(
        r.next_packet(),
        Err(CaptureError::Truncated { records: 1, .. })
    ));
    // Every prefix of the file: no panic, never more than two packets.
    for cut in 0..f.len() {
        std::fs::write(&p, &f[..cut]).expect("write");
        if let Ok(mut r) = CaptureFile::open(&p, ReaderKind::Native) {
            let mut n = 0;
            while let Ok(Some(_)) = r.next_packet() {
                n += 1;
            }
            assert!(n <= 2);
        }
    }
    let _ = std::fs::remove_file(p);
}
