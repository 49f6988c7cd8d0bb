//! `tapir block` and `[respond]` as an operator uses them, run inside network namespaces made
//! for each test (`ip netns exec NS tapir ...`: nft changes that namespace's ruleset only).
//! Root, `ip` and `nft` are needed; without them each test says so in one line.

#[path = "../../respond/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::Pair;

const SHORT: Duration = Duration::from_millis(800);
const LONG: Duration = Duration::from_secs(3);

fn tapir_in(ns: &str, args: &[&str]) -> Output {
    // From the repository root, so that intel sources read `rules/intel/...` in alerts.
    Command::new("ip")
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
        .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_tapir")])
        .args(args)
        .output()
        .expect("run tapir")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn block(p: &Pair, args: &[&str]) -> Output {
    let state = p.dir.join("state");
    let mut all = vec!["block"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--state-dir", state.to_str().expect("utf8")]);
    tapir_in(&p.fw, &all)
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status,
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

#[test]
fn add_blocks_in_the_namespace_list_shows_it_and_del_unblocks() {
    if !common::can_run(&["ip", "nft"]) {
        return;
    }
    let p = Pair::new("k");
    assert!(p.connects("198.18.0.2", LONG));
    let out = ok(&block(
        &p,
        &["add", "198.18.0.2", "--ttl", "1h", "--reason", "c2 beacon"],
    ));
    assert!(
        out.contains("blocked 198.18.0.2 for 1h00m") && out.contains("nftables: ok"),
        "{out}"
    );
    ok(&block(&p, &["add", "198.18.0.4/30", "--ttl", "10m"]));
    assert!(
        !p.connects("198.18.0.2", SHORT),
        "blocked address connected"
    );
    assert!(
        !p.connects("198.18.0.6", SHORT),
        "address inside the blocked CIDR connected"
    );
    assert!(
        p.connects("198.18.0.3", LONG),
        "allowed address could not connect"
    );
    assert_eq!(p.nft_elements("v4"), ["198.18.0.2", "198.18.0.4/30"]);
    let list = ok(&block(&p, &["list"]));
    let rows: Vec<&str> = list.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{list}");
    assert!(
        rows[0].starts_with("198.18.0.2 ") && rows[0].contains("c2 beacon"),
        "{list}"
    );
    let json = ok(&block(&p, &["list", "--json"]));
    let first: serde_json::Value =
        serde_json::from_str(json.lines().next().expect("line")).expect("json");
    assert_eq!(first["net"], "198.18.0.2");
    assert_eq!(first["ttl_ms"], 3_600_000);
    ok(&block(&p, &["del", "198.18.0.2"]));
    assert!(
        p.connects("198.18.0.2", LONG),
        "unblocked address could not connect"
    );
    assert_eq!(p.nft_elements("v4"), ["198.18.0.4/30"]);
    let again = block(&p, &["del", "198.18.0.2"]);
    assert!(!again.status.success() && text(&again.stderr).contains("no decision for 198.18.0.2"));
    let bad = block(&p, &["add", "198.18.0.5/30"]);
    assert!(
        !bad.status.success() && text(&bad.stderr).contains("host bits"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn guarded_addresses_are_refused_naming_the_guard() {
    if !common::can_run(&["ip", "nft"]) {
        return;
    }
    let p = Pair::new("l");
    for (addr, guard) in [
        ("8.8.8.8", "resolver"),
        ("2606:4700:4700::1111", "resolver"),
        ("10.0.0.5", "home_net"),
        ("192.168.1.0/24", "home_net"),
        ("127.0.0.1", "reserved"),
    ] {
        let o = block(&p, &["add", addr, "--ttl", "1h"]);
        assert!(!o.status.success(), "{addr} was blocked");
        let e = text(&o.stderr);
        assert!(
            e.contains(&format!("refused by guard {guard}")),
            "{addr}: {e}"
        );
    }
    // Nothing was pushed: not even our table exists.
    assert_eq!(p.fw_cmd(&["nft", "list", "ruleset"]).expect("ruleset"), "");
    let audit = std::fs::read_to_string(p.dir.join("state/audit.jsonl")).expect("audit");
    assert_eq!(
        audit.lines().filter(|l| l.contains("\"refused\"")).count(),
        5
    );
}

#[test]
fn dry_run_changes_nothing_in_the_ruleset() {
    if !common::can_run(&["ip", "nft"]) {
        return;
    }
    let p = Pair::new("m");
    let before = p.fw_cmd(&["nft", "list", "ruleset"]).expect("ruleset");
    let out = ok(&block(
        &p,
        &["add", "198.18.0.2", "--ttl", "1h", "--dry-run"],
    ));
    assert!(out.contains("dry run"), "{out}");
    assert_eq!(
        p.fw_cmd(&["nft", "list", "ruleset"]).expect("ruleset"),
        before
    );
    assert!(p.connects("198.18.0.2", LONG));
    assert!(ok(&block(&p, &["list", "--dry-run"])).contains("198.18.0.2"));
    assert!(!ok(&block(&p, &["list"])).contains("198.18.0.2"));
}

#[test]
fn sync_restores_the_set_after_a_reboot_and_after_nft_was_missing() {
    if !common::can_run(&["ip", "nft"]) {
        return;
    }
    let p = Pair::new("n");
    ok(&block(&p, &["add", "198.18.0.2", "--ttl", "1h"]));
    // The ruleset is lost (reboot); a new process restores it from the journal.
    p.fw_cmd(&["nft", "delete", "table", "inet", "tapir"])
        .expect("delete table");
    assert!(p.connects("198.18.0.2", LONG));
    let out = ok(&block(&p, &["sync"]));
    assert!(out.contains("repaired 1"), "{out}");
    assert!(!p.connects("198.18.0.2", SHORT), "not restored");

    // nft missing: the add is journaled and refused with a non-zero exit; sync applies it.
    let conf = p.dir.join("missing-nft.toml");
    std::fs::write(
        &conf,
        "[respond.nftables]\nnft_path = \"/nonexistent/nft\"\n",
    )
    .expect("config");
    let o = block(
        &p,
        &[
            "add",
            "198.18.0.3",
            "--ttl",
            "1h",
            "--config",
            conf.to_str().expect("utf8"),
        ],
    );
    assert!(!o.status.success());
    let e = text(&o.stderr);
    assert!(
        e.contains("/nonexistent/nft") && e.contains("journal"),
        "{e}"
    );
    assert!(p.connects("198.18.0.3", LONG));
    ok(&block(&p, &["sync"]));
    assert!(
        !p.connects("198.18.0.3", SHORT),
        "journaled decision not applied by sync"
    );

    // A guard added later withdraws a decision it refuses, and the set follows.
    let conf = p.dir.join("protect.toml");
    std::fs::write(&conf, "[respond]\nnever_block = [\"198.18.0.3\"]\n").expect("config");
    ok(&block(
        &p,
        &["sync", "--config", conf.to_str().expect("utf8")],
    ));
    assert_eq!(p.nft_elements("v4"), ["198.18.0.2"]);
    assert!(
        p.connects("198.18.0.3", LONG),
        "withdrawn decision still enforced"
    );
}

#[test]
fn backend_flag_picks_one_backend_for_one_command() {
    if !common::can_run(&["ip", "nft"]) {
        return;
    }
    let p = Pair::new("p");
    let out = ok(&block(
        &p,
        &["add", "192.0.2.77", "--ttl", "1h", "--backend", "list"],
    ));
    assert!(
        out.contains("list: ok") && !out.contains("nftables"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(p.dir.join("state/blocklist.txt")).expect("list"),
        "192.0.2.77\n"
    );
    assert_eq!(p.fw_cmd(&["nft", "list", "ruleset"]).expect("ruleset"), "");
    let bad = block(&p, &["list", "--backend", "pf"]);
    assert!(!bad.status.success() && text(&bad.stderr).contains("unknown backend"));
    // The next nftables command brings the firewall to the journal, this decision included.
    ok(&block(&p, &["add", "192.0.2.78", "--ttl", "1h"]));
    assert_eq!(p.nft_elements("v4"), ["192.0.2.77", "192.0.2.78"]);
}

fn write_demo(dir: &Path) -> PathBuf {
    let p = dir.join("demo.pcap");
    tapir_gen_demo::write_demo(&p).expect("generate demo");
    p
}

#[test]
fn replay_of_the_demo_with_a_policy_blocks_the_intel_addresses() {
    if !common::can_run(&["ip", "nft"]) {
        return;
    }
    let p = Pair::new("o");
    let state = p.dir.join("state");
    let conf = p.dir.join("respond.toml");
    std::fs::write(
        &conf,
        format!(
            "[respond]\nenabled = true\nstate_dir = {state:?}\nbackends = [\"nftables\", \"list\"]\n\
             [respond.list]\nlisten = \"\"\n\
             [[respond.rules]]\nname = \"intel-ip\"\nindicator_types = [\"ip\", \"cidr\"]\nblock = \"indicator\"\nttl = \"1h\"\n\
             [[respond.rules]]\nname = \"intel-domain\"\nindicator_types = [\"domain\"]\nblock = \"dest\"\nttl = \"30m\"\n"
        ),
    )
    .expect("config");
    let demo = write_demo(&p.dir);
    let o = tapir_in(
        &p.fw,
        &[
            "replay",
            "--config",
            conf.to_str().expect("utf8"),
            "--intel",
            "rules/intel",
            demo.to_str().expect("utf8"),
        ],
    );
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("tapir: respond:"))
        .expect("respond line");
    assert!(
        line.contains("created=4") && line.contains("home_net="),
        "{line}"
    );
    // The DNS alerts name the resolver (10.0.0.2) as destination: home_net refuses it. The
    // HTTP alert's destination lies inside the /24 of the CIDR indicator: a decision of its
    // own, not a separate element (the interval set holds the /24).
    assert_eq!(p.nft_elements("v4"), ["198.51.100.0/24", "203.0.113.66"]);
    assert_eq!(p.nft_elements("v6"), ["2001:db8::bad:c2"]);
    assert_eq!(
        std::fs::read_to_string(state.join("blocklist.txt")).expect("list"),
        "198.51.100.0/24\n198.51.100.23\n203.0.113.66\n2001:db8::bad:c2\n"
    );
    let audit = std::fs::read_to_string(state.join("audit.jsonl")).expect("audit");
    let recs: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let c2 = recs
        .iter()
        .find(|r| r["action"] == "created" && r["net"] == "203.0.113.66")
        .expect("decision for the C2 address");
    assert_eq!(c2["origin"], "intel-ip");
    assert_eq!(c2["sid"], 1_610_001);
    assert_eq!(c2["indicator"], "ip 203.0.113.66 (rules/intel/ips.txt:6)");
    assert!(recs
        .iter()
        .any(|r| r["action"] == "refused" && r["net"] == "10.0.0.2" && r["guard"] == "home_net"));
    let list = ok(&block(&p, &["list"]));
    assert_eq!(list.lines().count(), 5, "{list}");
}
