//! Generations: one table per source, kept across loads while its files do not change; values
//! several sources list merge across tables; lookups pick the best hit over all tables.

use std::fs;
use std::net::IpAddr;
use std::path::PathBuf;

use tapir_intel::{FeedConfig, FeedFormat, IndicatorType, IntelDb, IntelLoader, Sightings};

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("tapir-reload-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).expect("temp dir");
        Self(p)
    }

    fn write(&self, name: &str, data: &str) -> PathBuf {
        let p = self.0.join(name);
        // Write to a temporary name and rename, as feed tools do: a new inode every time, so
        // the change is seen even within one timestamp tick.
        let tmp = self.0.join(format!(".{name}.tmp"));
        fs::write(&tmp, data).expect("write");
        fs::rename(&tmp, &p).expect("rename");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

#[test]
fn unchanged_sources_are_reused_and_a_changed_one_is_parsed_again() {
    let t = TempDir::new("reuse");
    t.write("domains.txt", "evil.example\nbad.example\n");
    t.write("ips.txt", "192.0.2.1\n198.51.100.0/24\n");
    let mut loader = IntelLoader::from_paths(vec![t.0.clone()]);
    let (db1, _, s1) = loader.load_with_stats().expect("load");
    assert_eq!((s1.parsed, s1.reused), (2, 0));
    assert_eq!(db1.table_count(), 2);
    assert_eq!(db1.len(), 4);
    let evil_id = db1.match_domain("evil.example").expect("hit").id;
    assert!(!loader.stale());

    let (db2, _, s2) = loader.load_with_stats().expect("reload");
    assert_eq!((s2.parsed, s2.reused), (0, 2));
    assert_eq!(db2.len(), 4);
    assert_eq!(
        db2.match_domain("evil.example").map(|i| i.id),
        Some(evil_id)
    );

    t.write("ips.txt", "203.0.113.9\n");
    assert!(loader.stale());
    let (db3, _, s3) = loader.load_with_stats().expect("reload after edit");
    assert_eq!((s3.parsed, s3.reused), (1, 1));
    assert_eq!(db3.len(), 3);
    assert!(db3.match_ip(ip("192.0.2.1")).is_none());
    assert!(db3.match_ip(ip("198.51.100.7")).is_none());
    assert!(db3.match_ip(ip("203.0.113.9")).is_some());
    // The unchanged table kept its ids.
    assert_eq!(
        db3.match_domain("evil.example").map(|i| i.id),
        Some(evil_id)
    );
    // The old generation is untouched: workers still holding it see the old set.
    assert!(db1.match_ip(ip("192.0.2.1")).is_some());
}

#[test]
fn files_appearing_and_disappearing_in_a_directory_are_sources_too() {
    let t = TempDir::new("dir");
    t.write("domains-a.txt", "a.example\n");
    let mut loader = IntelLoader::from_paths(vec![t.0.clone()]);
    let (db, _) = loader.load().expect("load");
    assert_eq!(db.len(), 1);
    let b = t.write("domains-b.txt", "b.example\n");
    assert!(loader.stale());
    let (db, _, s) = loader.load_with_stats().expect("load with b");
    assert_eq!((s.parsed, s.reused), (1, 1));
    assert!(db.match_domain("b.example").is_some());
    fs::remove_file(&b).expect("rm");
    assert!(loader.stale());
    let (db, _, s) = loader.load_with_stats().expect("load without b");
    assert_eq!((s.parsed, s.reused), (0, 1));
    assert_eq!(db.len(), 1);
    assert!(db.match_domain("b.example").is_none());
    // A new file takes the freed slot and cannot collide with the kept one.
    t.write("domains-c.txt", "c.example\na.example\n");
    let (db, report, _) = loader.load_with_stats().expect("load with c");
    assert_eq!(db.len(), 2);
    assert_eq!(report.duplicates, 1);
    let a = db.match_domain("a.example").expect("a");
    let c = db.match_domain("c.example").expect("c");
    assert_ne!(a.id, c.id);
    assert_eq!(db.get(c.id).map(|i| i.value.as_str()), Some("c.example"));
}

#[test]
fn a_value_in_several_feeds_is_one_indicator_with_every_listing() {
    let t = TempDir::new("merge");
    let a = t.write("a.txt", "shared.example\n10.0.0.0/8\nonly-a.example\n");
    let b = t.write("b.txt", "shared.example\n10.0.0.0/8\n");
    let c = t.write("c.txt", "shared.example\n");
    let feeds = vec![
        FeedConfig::local("feed-a", &a, FeedFormat::Plain),
        FeedConfig::local("feed-b", &b, FeedFormat::Plain),
        FeedConfig::local("feed-c", &c, FeedFormat::Plain),
    ];
    let mut loader = IntelLoader::from_feeds(feeds, t.0.clone());
    let (db, report) = loader.load().expect("load");
    assert!(report.failed_feeds.is_empty(), "{:?}", report.failed_feeds);
    assert_eq!(db.len(), 3);
    assert_eq!(db.count_type(IndicatorType::Domain), 2);
    assert_eq!(db.cidr_count(), 1);
    assert_eq!(report.duplicates, 3);
    let s = db.match_domain("x.shared.example").expect("hit");
    let feeds: Vec<&str> = s.provenance.iter().map(|p| &*p.feed).collect();
    assert_eq!(feeds, ["feed-a", "feed-b", "feed-c"]);
    assert_eq!(db.get(s.id).map(|i| i.provenance.len()), Some(3));
    assert_eq!(db.iter().count(), 3);
    let net = db.match_ip(ip("10.1.2.3")).expect("cidr");
    assert_eq!(net.provenance.len(), 2);
    assert_eq!(
        db.find(IndicatorType::Domain, "SHARED.example.")
            .map(|i| i.id),
        Some(s.id)
    );

    // feed-a changes: the value is still listed by b and c, which now carry it.
    t.write("a.txt", "only-a.example\n");
    let (db2, _, st) = loader.load_with_stats().expect("reload");
    assert_eq!((st.parsed, st.reused), (1, 2));
    let s2 = db2.match_domain("shared.example").expect("still listed");
    let feeds: Vec<&str> = s2.provenance.iter().map(|p| &*p.feed).collect();
    assert_eq!(feeds, ["feed-b", "feed-c"]);
    assert_eq!(db2.len(), 3);
}

#[test]
fn the_most_specific_hit_wins_across_tables() {
    let t = TempDir::new("best");
    let a = t.write("a.txt", "example.com\n10.0.0.0/8\nhttp://h.example/\n");
    let b = t.write(
        "b.txt",
        "deep.sub.example.com\n10.1.0.0/16\nhttp://h.example/admin/\n",
    );
    let feeds = vec![
        FeedConfig::local("broad", &a, FeedFormat::Plain),
        FeedConfig::local("narrow", &b, FeedFormat::Plain),
    ];
    let (db, _) = IntelLoader::from_feeds(feeds, t.0.clone())
        .load()
        .expect("load");
    let feed_of = |i: &tapir_intel::Indicator| i.provenance[0].feed.to_string();
    let d = db.match_domain("x.deep.sub.example.com").expect("domain");
    assert_eq!(
        (d.value.as_str(), feed_of(d).as_str()),
        ("deep.sub.example.com", "narrow")
    );
    let d = db.match_domain("other.example.com").expect("parent");
    assert_eq!(d.value, "example.com");
    let n = db.match_ip(ip("10.1.2.3")).expect("ip");
    assert_eq!(n.value, "10.1.0.0/16");
    let n = db.match_ip(ip("::ffff:10.2.0.1")).expect("mapped");
    assert_eq!(n.value, "10.0.0.0/8");
    let u = db.match_url("h.example", "/admin/x").expect("url");
    assert_eq!(feed_of(u), "narrow");
    let u = db.match_url("h.example", "/other").expect("url");
    assert_eq!(feed_of(u), "broad");
}

#[test]
fn sightings_count_hits_in_every_table() {
    let t = TempDir::new("sight");
    t.write("domains-a.txt", "a.example\n");
    t.write("domains-b.txt", "b.example\nc.example\n");
    let (db, _) = IntelDb::load_paths(std::slice::from_ref(&t.0)).expect("load");
    let s = Sightings::new(&db);
    let a = db.match_domain("a.example").expect("a").id;
    let c = db.match_domain("c.example").expect("c").id;
    s.record(a, 100);
    s.record(c, 200);
    s.record(c, 300);
    assert_eq!((s.hits(a), s.hits(c)), (1, 2));
    assert_eq!(s.seen(c), Some((200, 300)));
    let mut out = Vec::new();
    assert_eq!(s.write_misp(&db, &mut out, "sensor").expect("write"), 2);
    let text = String::from_utf8(out).expect("utf8");
    let c_at = text.find("c.example").expect("c written");
    let a_at = text.find("a.example").expect("a written");
    assert!(c_at < a_at, "most hits first: {text}");
}

#[test]
fn short_prefixes_and_mapped_addresses_pass_the_block_filter() {
    let t = TempDir::new("blocks");
    t.write("ips-a.txt", "10.0.0.0/8\n192.0.2.77\n");
    t.write("ips-b.txt", "0.0.0.0/0\n");
    t.write("ips-c.txt", "::/64\n");
    let (db, _) = IntelDb::load_paths(std::slice::from_ref(&t.0)).expect("load");
    assert_eq!(
        db.match_ip(ip("10.200.3.4")).map(|i| i.value.as_str()),
        Some("10.0.0.0/8")
    );
    assert_eq!(
        db.match_ip(ip("192.0.2.77")).map(|i| i.value.as_str()),
        Some("192.0.2.77")
    );
    assert_eq!(
        db.match_ip(ip("192.0.2.78")).map(|i| i.value.as_str()),
        Some("0.0.0.0/0")
    );
    assert_eq!(
        db.match_ip(ip("::ffff:10.1.1.1")).map(|i| i.value.as_str()),
        Some("10.0.0.0/8")
    );

    let only_v6 = TempDir::new("blocks6");
    only_v6.write("ips.txt", "::/64\n198.51.100.0/24\n");
    let (db, _) = IntelDb::load_paths(std::slice::from_ref(&only_v6.0)).expect("load");
    // No IPv4 entry covers 1.2.3.4: the plain address misses, the mapped one is under ::/64.
    assert!(db.match_ip(ip("1.2.3.4")).is_none());
    assert_eq!(
        db.match_ip(ip("::ffff:1.2.3.4")).map(|i| i.value.as_str()),
        Some("::/64")
    );
    assert!(db.match_ip(ip("198.51.101.1")).is_none());
    assert!(db.match_ip(ip("198.51.100.255")).is_some());
}

#[test]
fn a_feed_that_fails_does_not_ask_for_reloads_until_its_file_changes() {
    let t = TempDir::new("failed");
    let good = t.write("good.txt", "good.example\n");
    let missing = t.0.join("missing.txt");
    let feeds = vec![
        FeedConfig::local("good", &good, FeedFormat::Plain),
        FeedConfig::local("missing", &missing, FeedFormat::Plain),
    ];
    let mut loader = IntelLoader::from_feeds(feeds, t.0.clone());
    let (db, report) = loader.load().expect("load");
    assert_eq!(report.failed_feeds.len(), 1, "{:?}", report.failed_feeds);
    assert_eq!(db.len(), 1);
    assert!(!loader.stale(), "nothing changed since the failure");
    t.write("missing.txt", "late.example\n");
    assert!(loader.stale());
    let (db, report, s) = loader.load_with_stats().expect("reload");
    assert!(report.failed_feeds.is_empty());
    assert_eq!((s.parsed, s.reused), (1, 1));
    assert!(db.match_domain("late.example").is_some());
}
