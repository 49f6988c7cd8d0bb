//! Behaviour tests of the pattern library. Expected offsets follow from how each input is built
//! (Hyperscan reports the offset just past a match's last byte: its runtime docs, "Handling
//! Matches"); nothing here is computed by the code under test.

use std::path::PathBuf;

use tapir_patterns::{parse_text, Scanner};
use tapir_patterns::{
    BuildOptions, Direction, FileKind, Hit, PatternDef, PatternSet, Ports, ScannerConfig,
    StreamState,
};

const CS: Ports = Ports {
    src: 49152,
    dst: 80,
};

fn set_from_rules(text: &str) -> PatternSet {
    let (defs, errs) = parse_text(FileKind::Rules, "patterns-test.rules", text);
    assert!(errs.is_empty(), "{errs:?}");
    let loaded = PatternSet::build(defs).expect("build");
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    loaded.set
}

/// (user id, offset_end) of every hit.
type Hits = Vec<(u32, u64)>;

fn stream_hits(sc: &mut Scanner, chunks: &[&[u8]], dir: Direction, ports: Ports) -> Hits {
    let mut st = StreamState::new();
    let mut hits = Vec::new();
    let mut push = |h: &Hit<'_>| hits.push((h.id, h.offset_end));
    for c in chunks {
        sc.scan_stream(&mut st, c, dir, ports, &mut push);
    }
    sc.close(&mut st, &mut push);
    hits
}

fn block_hits(sc: &mut Scanner, data: &[u8], dir: Direction, ports: Ports) -> Hits {
    let mut hits = Vec::new();
    sc.scan_block(data, dir, ports, |h| hits.push((h.id, h.offset_end)));
    hits
}

const UA_RULE: &str =
    r#"id=1001 name="Cobalt Strike beacon UA" content="MSIE 9.0|3b| Windows NT 6.1" proto=tcp"#;

#[test]
fn split_over_two_and_three_chunks_found_once() {
    let set = set_from_rules(UA_RULE);
    let mut sc = Scanner::new(&set).unwrap();
    let whole: &[u8] =
        b"GET / HTTP/1.1\r\nUser-Agent: Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1)\r\n";
    let pat = b"MSIE 9.0; Windows NT 6.1";
    let start = whole.windows(pat.len()).position(|w| w == pat).unwrap();
    let end = (start + pat.len()) as u64;
    // Two chunks, cut inside the pattern.
    let cut = start + 5;
    assert_eq!(
        stream_hits(
            &mut sc,
            &[&whole[..cut], &whole[cut..]],
            Direction::ToServer,
            CS
        ),
        vec![(1001, end)]
    );
    // Three chunks: the middle one is entirely inside the pattern.
    let (a, b) = (start + 3, start + 10);
    assert_eq!(
        stream_hits(
            &mut sc,
            &[&whole[..a], &whole[a..b], &whole[b..]],
            Direction::ToServer,
            CS
        ),
        vec![(1001, end)]
    );
    // Every cut point, including one-byte chunks.
    for cut in 0..=whole.len() {
        let h = stream_hits(
            &mut sc,
            &[&whole[..cut], &whole[cut..]],
            Direction::ToServer,
            CS,
        );
        assert_eq!(h, vec![(1001, end)], "cut at {cut}");
    }
    let singles: Vec<&[u8]> = whole.chunks(1).collect();
    assert_eq!(
        stream_hits(&mut sc, &singles, Direction::ToServer, CS),
        vec![(1001, end)]
    );
    // Per-packet block matching would miss the split pattern: that is what streaming is for.
    assert_eq!(set.open_streams(), 0);
}

#[test]
fn pattern_seen_twice_in_a_stream_fires_once() {
    let set = set_from_rules(UA_RULE);
    let mut sc = Scanner::new(&set).unwrap();
    let p: &[u8] = b"..MSIE 9.0; Windows NT 6.1..";
    // The same bytes once: one hit.
    assert_eq!(stream_hits(&mut sc, &[p], Direction::ToServer, CS).len(), 1);
    // Present again later in the stream: still one hit, at the first occurrence.
    let h = stream_hits(&mut sc, &[p, p, p], Direction::ToServer, CS);
    assert_eq!(h, vec![(1001, 2 + 24)]);
}

#[test]
fn stream_depth_limit_stops_scanning_and_counts() {
    let set = set_from_rules(r#"id=7 content="EVILMAGIC""#);
    let cfg = ScannerConfig { stream_depth: 100 };
    let mut sc = Scanner::with_config(&set, cfg).unwrap();
    let filler = [b'a'; 95];
    // Ends at 104 > 100: not found; the counter moves and the stream is freed.
    let mut st = StreamState::new();
    let mut hits = 0;
    sc.scan_stream(&mut st, &filler, Direction::ToServer, CS, |_| hits += 1);
    assert!(st.is_open());
    sc.scan_stream(&mut st, b"EVILMAGIC", Direction::ToServer, CS, |_| {
        hits += 1
    });
    assert_eq!(hits, 0);
    assert!(st.is_done());
    assert!(!st.is_open());
    assert_eq!(set.open_streams(), 0);
    sc.scan_stream(&mut st, b"EVILMAGIC", Direction::ToServer, CS, |_| {
        hits += 1
    });
    sc.close(&mut st, |_| hits += 1);
    assert_eq!(hits, 0);
    let s = sc.stats();
    assert_eq!(s.streams_past_depth, 1);
    assert_eq!(s.bytes_past_depth, 4 + 9);
    assert_eq!(s.bytes_scanned, 100);
    // Ending exactly at the limit is still found.
    let h = stream_hits(
        &mut sc,
        &[&filler[..91], b"EVILMAGIC"],
        Direction::ToServer,
        CS,
    );
    assert_eq!(h, vec![(7, 100)]);
}

#[test]
fn pattern_depth_scope() {
    let set = set_from_rules(r#"id=9 content="HELLO" depth=10"#);
    let mut sc = Scanner::new(&set).unwrap();
    // "12345HELLO" ends at 10: inside depth=10.
    assert_eq!(
        stream_hits(&mut sc, &[b"12345", b"HELLO"], Direction::ToServer, CS),
        vec![(9, 10)]
    );
    // One byte later it ends at 11: out of scope.
    assert!(stream_hits(&mut sc, &[b"123456", b"HELLO"], Direction::ToServer, CS).is_empty());
    assert!(sc.stats().hits_out_of_scope >= 1);
    // Same rule for datagrams.
    assert_eq!(
        block_hits(&mut sc, b"12345HELLO", Direction::ToServer, CS),
        vec![(9, 10)]
    );
    assert!(block_hits(&mut sc, b"123456HELLO", Direction::ToServer, CS).is_empty());
}

#[test]
fn nocase_and_case_sensitive() {
    let set = set_from_rules("id=1 content=\"evil.example\" nocase\nid=2 content=\"Secret\"\n");
    let mut sc = Scanner::new(&set).unwrap();
    assert_eq!(
        block_hits(&mut sc, b"Host: EVIL.Example", Direction::ToServer, CS),
        vec![(1, 18)]
    );
    assert!(block_hits(&mut sc, b"SECRET secret", Direction::ToServer, CS).is_empty());
    assert_eq!(
        block_hits(&mut sc, b"a Secret", Direction::ToServer, CS),
        vec![(2, 8)]
    );
}

#[test]
fn hex_escapes() {
    // |de ad be ef| then text, then CRLF: the bytes Suricata's content syntax describes.
    let set = set_from_rules("id=5 content=\"|de ad be ef|MZ|0d0a|\"\n");
    let mut sc = Scanner::new(&set).unwrap();
    let data = [0x00, 0xde, 0xad, 0xbe, 0xef, b'M', b'Z', 0x0d, 0x0a, 0x00];
    assert_eq!(
        block_hits(&mut sc, &data, Direction::ToClient, CS),
        vec![(5, 9)]
    );
    let near = [0xde, 0xad, 0xbe, 0xee, b'M', b'Z', 0x0d, 0x0a];
    assert!(block_hits(&mut sc, &near, Direction::ToClient, CS).is_empty());
    // A NUL byte in a literal works (the escaped regex form carries it).
    let set = set_from_rules("id=6 content=\"a|00|b\"\n");
    let mut sc = Scanner::new(&set).unwrap();
    assert_eq!(
        block_hits(&mut sc, b"xa\0b", Direction::ToServer, CS),
        vec![(6, 4)]
    );
    assert!(block_hits(&mut sc, b"xa b", Direction::ToServer, CS).is_empty());
}

#[test]
fn regex_with_bounded_repeat() {
    let set = set_from_rules(r#"id=20 regex="/X-Session: [0-9a-f]{8}\r\n/i" name="session id""#);
    let mut sc = Scanner::new(&set).unwrap();
    let good: &[u8] = b"GET / HTTP/1.1\r\nx-session: 0123abcd\r\n\r\n";
    let end = (16 + 11 + 8 + 2) as u64;
    assert_eq!(
        block_hits(&mut sc, good, Direction::ToServer, CS),
        vec![(20, end)]
    );
    // Split inside the repeat.
    assert_eq!(
        stream_hits(
            &mut sc,
            &[&good[..30], &good[30..]],
            Direction::ToServer,
            CS
        ),
        vec![(20, end)]
    );
    for bad in [
        &b"x-session: 0123abc\r\n"[..],   // 7 digits
        &b"x-session: 0123abcde\r\n"[..], // 9 digits
        &b"x-session: 0123abcz\r\n"[..],  // not hex
    ] {
        assert!(block_hits(&mut sc, bad, Direction::ToServer, CS).is_empty());
    }
}

#[test]
fn end_anchor_fires_at_close() {
    let set = set_from_rules(r#"id=30 regex="/BYE$/" proto=tcp"#);
    let mut sc = Scanner::new(&set).unwrap();
    let mut st = StreamState::new();
    let mut hits = Vec::new();
    sc.scan_stream(&mut st, b"hello BYE", Direction::ToClient, CS, |h| {
        hits.push(h.offset_end)
    });
    sc.scan_stream(&mut st, b"", Direction::ToClient, CS, |h| {
        hits.push(h.offset_end)
    });
    // `$` needs the end of data, which only close() establishes in streaming mode.
    assert!(hits.is_empty());
    sc.close(&mut st, |h| hits.push(h.offset_end));
    assert_eq!(hits, vec![9]);
    assert_eq!(set.open_streams(), 0);
}

#[test]
fn udp_block_mode_and_proto_scope() {
    let set = set_from_rules(
        "id=1 content=\"UDPONLY\" proto=udp\nid=2 content=\"TCPONLY\" proto=tcp\nid=3 content=\"BOTH\"\n",
    );
    let mut sc = Scanner::new(&set).unwrap();
    let data: &[u8] = b"UDPONLY TCPONLY BOTH";
    assert_eq!(
        block_hits(&mut sc, data, Direction::ToServer, CS),
        vec![(1, 7), (3, 20)]
    );
    assert_eq!(
        stream_hits(&mut sc, &[data], Direction::ToServer, CS),
        vec![(2, 15), (3, 20)]
    );
}

#[test]
fn direction_and_port_scope() {
    let set = set_from_rules(concat!(
        "id=1 content=\"AAA\" dir=to-server\n",
        "id=2 content=\"BBB\" dir=to-client\n",
        "id=3 content=\"CCC\" ports=8000-8100,443\n",
        "id=4 content=\"DDD\" dport=53\n",
        "id=5 content=\"EEE\" sport=53\n",
    ));
    let mut sc = Scanner::new(&set).unwrap();
    let data: &[u8] = b"AAA BBB CCC DDD EEE";
    let ids = |h: Hits| h.into_iter().map(|(i, _)| i).collect::<Vec<_>>();
    let p = |src, dst| Ports { src, dst };
    assert_eq!(
        ids(stream_hits(
            &mut sc,
            &[data],
            Direction::ToServer,
            p(5000, 80)
        )),
        vec![1]
    );
    assert_eq!(
        ids(stream_hits(
            &mut sc,
            &[data],
            Direction::ToClient,
            p(80, 5000)
        )),
        vec![2]
    );
    // Either side's port counts for `ports=`; range ends are inclusive.
    assert_eq!(
        ids(block_hits(
            &mut sc,
            data,
            Direction::ToServer,
            p(5000, 8100)
        )),
        vec![1, 3]
    );
    assert_eq!(
        ids(block_hits(&mut sc, data, Direction::ToClient, p(443, 5000))),
        vec![2, 3]
    );
    assert_eq!(
        ids(block_hits(
            &mut sc,
            data,
            Direction::ToServer,
            p(5000, 8101)
        )),
        vec![1]
    );
    // sport/dport are the sender's/receiver's ports of these bytes.
    assert_eq!(
        ids(block_hits(&mut sc, data, Direction::ToServer, p(5000, 53))),
        vec![1, 4]
    );
    assert_eq!(
        ids(block_hits(&mut sc, data, Direction::ToClient, p(53, 5000))),
        vec![2, 5]
    );
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tapir-patterns-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn bad_regex_is_reported_with_line_and_the_rest_load() {
    let dir = temp_dir("badre");
    std::fs::write(
        dir.join("patterns-c2.rules"),
        concat!(
            "# C2 markers\n",
            "id=1 content=\"GOODONE\"\n",
            "\n",
            "id=2 regex=\"/unbalanced(paren/\"\n",
            "id=3 regex=\"/good[0-9]{2}two/\"\n",
            "id=4 regex=\"/(?<=lookbehind)x/\"\n",
            "id=5 content=\"x\" bogus=1\n",
        ),
    )
    .unwrap();
    std::fs::write(dir.join("README.md"), "not a pattern file\n").unwrap();
    let loaded =
        PatternSet::load_paths(std::slice::from_ref(&dir), &BuildOptions::default()).unwrap();
    let lines: Vec<u32> = loaded.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![7, 4, 6], "{:?}", loaded.errors);
    for e in &loaded.errors {
        assert!(e.file.ends_with("patterns-c2.rules"), "{e}");
    }
    let bad_re = &loaded.errors[1];
    assert!(
        bad_re
            .reason
            .starts_with("hyperscan cannot compile this pattern: "),
        "{bad_re}"
    );
    assert!(bad_re.reason.len() > "hyperscan cannot compile this pattern: ".len());
    assert!(loaded.errors[0].reason.contains("bogus"));
    let set = loaded.set;
    assert_eq!(set.len(), 2);
    let mut sc = Scanner::new(&set).unwrap();
    assert_eq!(
        block_hits(&mut sc, b"GOODONE good42two", Direction::ToServer, CS),
        vec![(1, 7), (3, 17)]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn plain_patterns_txt() {
    let dir = temp_dir("plain");
    let file = dir.join("patterns.txt");
    std::fs::write(
        &file,
        "# literals, one a line\n  /wp-admin/shell.php  \n\nEICAR|2d|TEST\n",
    )
    .unwrap();
    let loaded = PatternSet::load_paths(&[file], &BuildOptions::default()).unwrap();
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let set = loaded.set;
    assert_eq!(set.len(), 2);
    assert_eq!(set.get(0).unwrap().name, "/wp-admin/shell.php");
    assert_eq!(set.get(0).unwrap().line, 2);
    assert_eq!(set.get(1).unwrap().id, 0);
    let mut sc = Scanner::new(&set).unwrap();
    let mut names = Vec::new();
    let data: &[u8] = b"POST /wp-admin/shell.php HTTP/1.1\r\n\r\nEICAR-TEST";
    sc.scan_block(data, Direction::ToServer, CS, |h| {
        names.push((h.name.to_string(), h.offset_end))
    });
    assert_eq!(
        names,
        vec![
            ("/wp-admin/shell.php".to_string(), 24),
            ("EICAR|2d|TEST".to_string(), 47)
        ]
    );
    // Both kinds stream too (plain entries are proto any).
    let h = stream_hits(
        &mut sc,
        &[&data[..10], &data[10..]],
        Direction::ToServer,
        CS,
    );
    assert_eq!(h, vec![(0, 24), (0, 47)]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn entry_metadata_is_kept() {
    let set = set_from_rules(
        r#"id=1001 name="Cobalt Strike beacon UA" content="MSIE 9.0|3b| Windows NT 6.1" nocase proto=tcp dir=to-server depth=4096 severity=1 mitre=T1071.001,T1573 ref=https://attack.mitre.org/software/S0154/"#,
    );
    let mut sc = Scanner::new(&set).unwrap();
    let mut st = StreamState::new();
    let mut got = None;
    sc.scan_stream(
        &mut st,
        b"msie 9.0; windows nt 6.1",
        Direction::ToServer,
        CS,
        |h| {
            got = Some((
                h.pattern_id,
                h.id,
                h.name.to_string(),
                h.offset_end,
                h.direction,
                h.pattern.severity,
                h.pattern.mitre.clone(),
                h.pattern.reference.clone(),
            ));
        },
    );
    sc.close(&mut st, |_| {});
    assert_eq!(
        got,
        Some((
            0,
            1001,
            "Cobalt Strike beacon UA".to_string(),
            24,
            Direction::ToServer,
            1,
            vec!["T1071.001".to_string(), "T1573".to_string()],
            Some("https://attack.mitre.org/software/S0154/".to_string())
        ))
    );
}

#[test]
fn streams_never_leak() {
    let set = set_from_rules(UA_RULE);
    let mut sc = Scanner::new(&set).unwrap();
    let mut states: Vec<StreamState> = (0..50).map(|_| StreamState::new()).collect();
    for st in &mut states {
        sc.scan_stream(st, b"abc", Direction::ToServer, CS, |_| {});
    }
    assert_eq!(set.open_streams(), 50);
    for st in states.iter_mut().take(30) {
        sc.close(st, |_| {});
    }
    assert_eq!(set.open_streams(), 20);
    // Dropping open states closes them too (and says so).
    drop(states);
    assert_eq!(set.open_streams(), 0);
    assert_eq!(set.dropped_open_streams(), 20);
    // A state that never saw bytes opens nothing.
    let mut st = StreamState::new();
    sc.close(&mut st, |_| {});
    assert_eq!(set.open_streams(), 0);
    assert_eq!(sc.stats().streams_opened, 50);
    assert_eq!(sc.stats().streams_closed, 30);
}

#[test]
fn stream_moves_to_a_reloaded_set() {
    let old = set_from_rules(r#"id=1 content="OLDPAT""#);
    let new = set_from_rules("id=2 content=\"NEWPAT\"\nid=3 regex=\"/END$/\"\n");
    let mut sc_old = Scanner::new(&old).unwrap();
    let mut sc_new = Scanner::new(&new).unwrap();
    let mut st = StreamState::new();
    let mut hits = Vec::new();
    sc_old.scan_stream(&mut st, b"0123OLDPAT", Direction::ToServer, CS, |h| {
        hits.push((h.id, h.offset_end))
    });
    sc_new.scan_stream(&mut st, b"NEWPAT END", Direction::ToServer, CS, |h| {
        hits.push((h.id, h.offset_end))
    });
    assert_eq!(old.open_streams(), 0);
    assert_eq!(new.open_streams(), 1);
    sc_new.close(&mut st, |h| hits.push((h.id, h.offset_end)));
    // Offsets stay relative to the start of the direction's stream.
    assert_eq!(hits, vec![(1, 10), (2, 16), (3, 20)]);
    assert_eq!(new.open_streams(), 0);
    assert_eq!(sc_new.stats().set_changes, 1);
}

/// Scans `chunks` of one stream direction on `sc`, switching `sc` to `to` before chunk
/// `switch_at`; returns the hits in order, the close's included.
fn hits_across_switch(
    sc: &mut Scanner,
    to: &PatternSet,
    chunks: &[&[u8]],
    switch_at: usize,
) -> Hits {
    let mut st = StreamState::new();
    let mut hits = Vec::new();
    let mut push = |h: &Hit<'_>| hits.push((h.id, h.offset_end));
    for (i, c) in chunks.iter().enumerate() {
        if i == switch_at {
            sc.switch_set(to).unwrap();
        }
        sc.scan_stream(&mut st, c, Direction::ToServer, CS, &mut push);
    }
    sc.close(&mut st, &mut push);
    hits
}

#[test]
fn a_reload_loses_no_match_of_a_kept_pattern() {
    // KEEPME stays (renamed, new id: the same matcher and scope), GONE is removed, NEWONE added.
    let old = set_from_rules("id=1 content=\"KEEPME\"\nid=2 content=\"GONE\"\n");
    let new =
        set_from_rules("id=3 content=\"NEWONE\"\nid=4 name=\"kept, renamed\" content=\"KEEPME\"\n");
    let mut sc = Scanner::new(&old).unwrap();
    // "abcKEE" | "PMEGO" | "NE NEWONE": KEEPME ends at 9 and GONE at 11, both across the
    // reload point (6); NEWONE ends at 20, after it.
    let hits = hits_across_switch(&mut sc, &new, &[b"abcKEE", b"PMEGO", b"NE NEWONE"], 1);
    assert_eq!(hits, vec![(4, 9), (3, 20)]);
    assert_eq!(sc.stats().streams_carried, 1);
    assert_eq!(sc.stats().set_changes, 1);
    // Every Hyperscan stream was closed, on both sets.
    assert_eq!(old.open_streams(), 0);
    assert_eq!(new.open_streams(), 0);
    assert_eq!(old.dropped_open_streams(), 0);
}

#[test]
fn a_pattern_that_fired_before_a_reload_does_not_fire_again() {
    let old = set_from_rules("id=1 content=\"BEACON\"\n");
    let new = set_from_rules("id=7 content=\"OTHER\"\nid=1 content=\"BEACON\"\n");
    let mut sc = Scanner::new(&old).unwrap();
    let hits = hits_across_switch(&mut sc, &new, &[b"BEACON..", b"BEACON OTHER"], 1);
    assert_eq!(hits, vec![(1, 6), (7, 20)]);
}

#[test]
fn a_pattern_whose_scope_changed_starts_afresh_at_the_reload() {
    let old = set_from_rules("id=1 content=\"SPLIT\"\n");
    let new = set_from_rules("id=1 content=\"SPLIT\" dir=to-server\n");
    let mut sc = Scanner::new(&old).unwrap();
    let hits = hits_across_switch(&mut sc, &new, &[b"SPL", b"IT SPLIT"], 1);
    // The straddling match is the old pattern's: not reported; the later one is the new's.
    assert_eq!(hits, vec![(1, 11)]);
}

#[test]
fn end_anchored_match_of_a_kept_pattern_is_reported_at_close() {
    let old = set_from_rules("id=5 regex=\"/QUIT$/\"\n");
    let new = set_from_rules("id=6 content=\"zzz\"\nid=5 regex=\"/QUIT$/\"\n");
    // Carried: bytes after the reload, the anchor at the end of the stream.
    let mut sc = Scanner::new(&old).unwrap();
    assert_eq!(
        hits_across_switch(&mut sc, &new, &[b"..QU", b"IT"], 1),
        vec![(5, 6)]
    );
    // Not moved: no bytes after the reload; closed under the new set, through the old scratch.
    let mut sc = Scanner::new(&old).unwrap();
    let mut st = StreamState::new();
    let mut hits = Vec::new();
    sc.scan_stream(&mut st, b"..QUIT", Direction::ToServer, CS, |_| {});
    sc.switch_set(&new).unwrap();
    sc.close(&mut st, |h| hits.push((h.id, h.offset_end, h.pattern_id)));
    // Reported under the new set's index of the pattern (1), not the old one (0).
    assert_eq!(hits, vec![(5, 6, 1)]);
    assert_eq!(old.open_streams(), 0);
}

#[test]
fn only_the_last_reload_is_carried_and_old_sets_are_let_go() {
    let a = set_from_rules("id=1 content=\"ALPHA\"\n");
    let b = set_from_rules("id=1 content=\"ALPHA\"\nid=2 content=\"BRAVO\"\n");
    let c = set_from_rules("id=1 content=\"ALPHA\"\nid=2 content=\"BRAVO\"\nid=3 content=\"X\"\n");
    let mut sc = Scanner::new(&a).unwrap();
    let mut st = StreamState::new();
    let mut hits = Vec::new();
    let mut push = |h: &Hit<'_>| hits.push((h.id, h.offset_end));
    sc.scan_stream(&mut st, b"AL", Direction::ToServer, CS, &mut push);
    sc.switch_set(&b).unwrap();
    sc.scan_stream(&mut st, b"PH BRA", Direction::ToServer, CS, &mut push);
    assert!(st.is_carried());
    assert_eq!((a.open_streams(), b.open_streams()), (1, 1));
    sc.switch_set(&c).unwrap();
    // The stream on `a` is closed; the one on `b` is carried, so BRAVO (5..10) is found.
    sc.scan_stream(&mut st, b"VO ALPHA", Direction::ToServer, CS, &mut push);
    assert_eq!(
        (a.open_streams(), b.open_streams(), c.open_streams()),
        (0, 1, 1)
    );
    sc.close(&mut st, &mut push);
    // ALPHA across the first reload (0..5) is lost: it straddled a reload two sets back.
    // The second ALPHA is found by the stream opened on `c`.
    assert_eq!(hits, vec![(2, 10), (1, 16)]);
    assert_eq!(
        (a.open_streams(), b.open_streams(), c.open_streams()),
        (0, 0, 0)
    );
    assert_eq!(sc.stats().set_changes, 2);
    assert_eq!(sc.stats().streams_carried, 2);
    // A switch to the set it already has changes nothing.
    sc.switch_set(&c).unwrap();
    assert_eq!(
        stream_hits(&mut sc, &[b"X"], Direction::ToServer, CS),
        vec![(3, 1)]
    );
}

#[test]
fn empty_set_scans_nothing() {
    let set = PatternSet::empty();
    let mut sc = Scanner::new(&set).unwrap();
    assert!(stream_hits(&mut sc, &[b"anything"], Direction::ToServer, CS).is_empty());
    assert!(block_hits(&mut sc, b"anything", Direction::ToServer, CS).is_empty());
    let loaded = PatternSet::build(Vec::new()).unwrap();
    assert!(loaded.set.is_empty());
}

#[test]
fn duplicate_ids_are_rejected() {
    let (defs, errs) = parse_text(
        FileKind::Rules,
        "p.rules",
        "id=1 content=\"a1\"\nid=1 content=\"b1\"\n",
    );
    assert!(errs.is_empty());
    let loaded = PatternSet::build(defs).unwrap();
    assert_eq!(loaded.set.len(), 1);
    assert_eq!(loaded.errors.len(), 1);
    assert_eq!(loaded.errors[0].line, 2);
}

#[test]
fn compiled_databases_are_cached_on_disk() {
    let dir = temp_dir("cache");
    let opts = BuildOptions {
        cache_dir: Some(dir.clone()),
    };
    let defs = vec![
        PatternDef::literal(1, "one", b"cache-me", false),
        PatternDef::regex(2, "two", "ab[0-9]{3}cd"),
    ];
    let first = PatternSet::build_with(defs.clone(), &opts).unwrap();
    assert!(!first.from_cache);
    let second = PatternSet::build_with(defs.clone(), &opts).unwrap();
    assert!(second.from_cache);
    let mut sc = Scanner::new(&second.set).unwrap();
    assert_eq!(
        block_hits(&mut sc, b"cache-me ab123cd", Direction::ToServer, CS),
        vec![(1, 8), (2, 16)]
    );
    // A changed pattern list is a different key.
    let mut other = defs.clone();
    other.push(PatternDef::literal(3, "three", b"new", false));
    assert!(!PatternSet::build_with(other, &opts).unwrap().from_cache);
    // A corrupted file is ignored and recompiled.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        let mut b = std::fs::read(&p).unwrap();
        let last = b.len() - 1;
        b[last] ^= 0xff;
        std::fs::write(&p, b).unwrap();
    }
    let third = PatternSet::build_with(defs, &opts).unwrap();
    assert!(!third.from_cache);
    let mut sc = Scanner::new(&third.set).unwrap();
    assert_eq!(
        block_hits(&mut sc, b"cache-me", Direction::ToServer, CS),
        vec![(1, 8)]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn arbitrary_payloads_and_chunkings_do_not_panic() {
    let set = set_from_rules(concat!(
        "id=1 content=\"ab\"\n",
        "id=2 regex=\"/a[^b]{2,5}c$/s\"\n",
        "id=3 content=\"|00 ff|\" depth=50 dir=to-client\n",
        "id=4 regex=\"/^x+y/m\" proto=udp\n",
    ));
    let mut sc = Scanner::with_config(&set, ScannerConfig { stream_depth: 3000 }).unwrap();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..300 {
        let len = (next() % 4000) as usize;
        let data: Vec<u8> = (0..len)
            .map(|_| b"abcxy\x00\xff\n"[(next() % 8) as usize])
            .collect();
        let mut st = StreamState::new();
        let mut at = 0;
        let mut ends = Vec::new();
        while at < data.len() {
            let n = 1 + (next() % 700) as usize;
            let end = (at + n).min(data.len());
            sc.scan_stream(&mut st, &data[at..end], Direction::ToClient, CS, |h| {
                ends.push((h.id, h.offset_end))
            });
            at = end;
        }
        sc.close(&mut st, |h| ends.push((h.id, h.offset_end)));
        sc.scan_block(&data, Direction::ToServer, CS, |h| {
            assert!(h.offset_end <= data.len() as u64)
        });
        // Each pattern at most once per stream, inside the depth and the data.
        let mut ids: Vec<u32> = ends.iter().map(|e| e.0).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), ends.len());
        assert!(ends.iter().all(|e| e.1 <= 3000 && e.1 <= data.len() as u64));
    }
    assert_eq!(set.open_streams(), 0);
}
