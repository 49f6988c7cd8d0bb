//! Golden test: the SSH session inside GRE in ../shared/testdata/pcaps/ja4-gre-sample.pcap
//! against FoxIO's `ssh_extras` (python expected output and rust snapshot in
//! `third_party.ja4[]`): client and server identification strings, HASSH, HASSHServer.
//! Every TCP direction of every capture that starts with "SSH-" is parsed; an SSH stream the
//! oracle does not list fails the test.
//! Skipped (one line) when ../shared is absent.

mod tls_pcap;

use serde_json::Value;
use tapir_proto::ssh::{self, Kexinit, SshBanner, SshEvent, SshRole, SshStream};

#[derive(Default)]
struct Side {
    banner: Option<SshBanner>,
    kexinit: Option<Kexinit>,
    hassh: Option<String>,
}

fn parse(bytes: &[u8], role: SshRole) -> Side {
    let mut s = SshStream::new(role);
    let mut out = Vec::new();
    s.feed(bytes, &mut out);
    assert!(s.error().is_none(), "{:?}", s.error());
    let mut side = Side::default();
    for e in out {
        match e {
            SshEvent::Banner(b) => side.banner = Some(b),
            SshEvent::Kexinit { kexinit, hassh } => {
                side.hassh = Some(hassh.hash);
                side.kexinit = Some(*kexinit);
            }
        }
    }
    side
}

fn banner_text(b: &Option<SshBanner>) -> Option<String> {
    b.as_ref()
        .map(|b| format!("SSH-{}-{}", b.proto_version, b.software_version))
}

#[test]
fn ssh_matches_foxio_ssh_extras() {
    let Some(shared) = tls_pcap::shared_dir() else {
        println!("ssh_matches_foxio_ssh_extras: skipped, ../shared not present");
        return;
    };
    let td = shared.join("testdata");
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut names: Vec<_> = std::fs::read_dir(td.join("expected"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for path in names {
        let oracle: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let pcap = oracle["file"].as_str().unwrap().to_owned();
        let mut extras: Vec<(u16, u16, Value)> = Vec::new();
        for tp in oracle["third_party"]["ja4"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for (list, sp, dp) in [
                ("python_expected", "srcport", "dstport"),
                ("rust_snapshot", "src_port", "dst_port"),
            ] {
                for r in tp[list].as_array().into_iter().flatten() {
                    if r.get("ssh_extras").is_some() {
                        let port = |k: &str| match &r[k] {
                            Value::String(s) => s.parse::<u16>().unwrap(),
                            v => v.as_u64().unwrap() as u16,
                        };
                        extras.push((port(sp), port(dp), r["ssh_extras"].clone()));
                    }
                }
            }
        }
        let dirs = tls_pcap::tcp_directions(&td.join("pcaps").join(&pcap));
        for client in &dirs {
            if !ssh::looks_like_ssh(&client.bytes) {
                continue;
            }
            let Some(server) = dirs
                .iter()
                .find(|d| d.tuple == client.tuple.rev() && d.generation == client.generation)
            else {
                continue;
            };
            // Roles come from the oracle: its source port is the client's.
            let (c, s) = (client.tuple.sport, client.tuple.dport);
            let mine: Vec<&(u16, u16, Value)> =
                extras.iter().filter(|e| e.0 == c && e.1 == s).collect();
            if mine.is_empty() {
                if !extras.iter().any(|e| e.0 == s && e.1 == c) {
                    failures.push(format!(
                        "{pcap}: SSH on {:?} not in the oracle",
                        client.tuple
                    ));
                }
                continue;
            }
            let cs = parse(&client.bytes, SshRole::Client);
            let ss = parse(&server.bytes, SshRole::Server);
            for (_, _, x) in mine {
                checked += 1;
                let mut cmp = |what: &str, got: Option<String>| {
                    let want = x[what].as_str().map(str::to_owned);
                    if want != got {
                        failures.push(format!("{pcap} {what}: want {want:?} got {got:?}"));
                    }
                };
                cmp("ssh_protocol_client", banner_text(&cs.banner));
                cmp("ssh_protocol_server", banner_text(&ss.banner));
                cmp("hassh", cs.hassh.clone());
                cmp("hassh_server", ss.hassh.clone());
                // `encryption_algorithm` is not compared: FoxIO reports "aes128-cbc", the
                // server's first choice, while RFC 4253 §7.1 negotiates the first client
                // algorithm the server supports ("blowfish-cbc" here); it is JA4SSH tooling
                // output (out of scope), not a protocol field.
            }
        }
    }
    println!("ssh oracle: {checked} records checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked > 0, "no ssh_extras record found");
}
