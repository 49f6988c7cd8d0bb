//! `tapir block add|del|list|sync`: operator decisions through the same guards, journal and
//! backends as automatic ones (tapir-respond's `Operator`), and the hook that puts the
//! responder's tap on a sensor's output.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use tapir_respond::operator::PushOutcome;
use tapir_respond::time::{human_ms, now_ms, parse_duration, rfc3339_ms};
use tapir_respond::{Net, OpError, Operator, RespondConfig, ResponderHandle};

#[derive(Args)]
pub struct BlockArgs {
    #[command(subcommand)]
    cmd: BlockCmd,
    /// TOML configuration file (its [respond] section); without one: the nftables backend
    /// and the default guards.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the journal and audit log live (respond.state_dir; default /var/lib/tapir).
    #[arg(long, global = true, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Use only this backend for this command: nftables, ipset, list, webhook.
    #[arg(long, global = true, value_name = "NAME")]
    backend: Option<String>,
    /// Shadow mode: record and audit in the dry-run journal, touch no firewall.
    #[arg(long, global = true)]
    dry_run: bool,
}

#[derive(Subcommand)]
enum BlockCmd {
    /// Block an address or CIDR for a time (guards apply: a refused address exits non-zero).
    Add {
        #[arg(value_name = "ADDR|CIDR")]
        target: String,
        /// How long: 90s, 30m, 4h, 7d (default: respond.default_ttl).
        #[arg(long, value_name = "DURATION")]
        ttl: Option<String>,
        /// Why, for the journal, the audit log and the list.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// End the decision for an address or CIDR now.
    Del {
        #[arg(value_name = "ADDR|CIDR")]
        target: String,
    },
    /// The decisions in force.
    List {
        /// One JSON object per decision.
        #[arg(long)]
        json: bool,
    },
    /// Bring the backends to the journal's decisions, repairing drift (for boot, or after a
    /// backend was down while no sensor ran).
    Sync,
}

fn settings(a: &BlockArgs) -> anyhow::Result<RespondConfig> {
    let mut cfg = match &a.config {
        Some(p) => crate::config::load(p)?.respond,
        None => RespondConfig::default(),
    };
    if let Some(d) = &a.state_dir {
        cfg.state_dir = d.clone();
    }
    if a.dry_run {
        cfg.dry_run = true;
    }
    Ok(cfg)
}

fn parse_target(s: &str) -> anyhow::Result<Net> {
    Net::parse_strict(s).map_err(|e| anyhow::anyhow!("{e}"))
}

fn op_error(net: Option<&Net>, e: OpError) -> anyhow::Error {
    match (e, net) {
        (OpError::Guard(hit), Some(n)) => {
            anyhow::anyhow!("{n}: refused by guard {}: {hit}", hit.name())
        }
        (e, _) => anyhow::anyhow!("{e}"),
    }
}

/// Prints each backend's result; an error when any failed (the decision stays journaled).
fn report(pushes: &[PushOutcome], dry_run: bool) -> anyhow::Result<()> {
    if dry_run {
        println!("dry run: no backend touched");
        return Ok(());
    }
    let mut failed = Vec::new();
    for p in pushes {
        match &p.result {
            Ok(r) => println!(
                "{}: ok (added {}, removed {}, repaired {})",
                p.backend, r.added, r.removed, r.drift
            ),
            Err(e) => failed.push(format!("{}: {e}", p.backend)),
        }
    }
    anyhow::ensure!(
        failed.is_empty(),
        "push failed: {}; the journal keeps the decisions: `tapir block sync` or a running sensor applies them",
        failed.join("; ")
    );
    Ok(())
}

pub fn run(a: BlockArgs) -> anyhow::Result<()> {
    let cfg = settings(&a)?;
    let mut op = Operator::open(&cfg, a.backend.as_deref()).map_err(|e| op_error(None, e))?;
    for w in op.guard_warnings() {
        eprintln!("tapir: warning: {w}");
    }
    match &a.cmd {
        BlockCmd::Add {
            target,
            ttl,
            reason,
        } => {
            let net = parse_target(target)?;
            let ttl = ttl
                .as_deref()
                .map(parse_duration)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--ttl: {e}"))?;
            let added = op
                .add(net, ttl, reason.as_deref())
                .map_err(|e| op_error(Some(&net), e))?;
            let d = &added.decision;
            println!(
                "{} {} for {} (until {})",
                if added.replaced {
                    "re-blocked"
                } else {
                    "blocked"
                },
                d.net,
                human_ms(d.ttl_ms),
                rfc3339_ms(d.expires_ms)
            );
            report(&added.pushes, cfg.dry_run)
        }
        BlockCmd::Del { target } => {
            let net = parse_target(target)?;
            let (d, pushes) = op.del(net).map_err(|e| op_error(Some(&net), e))?;
            println!("unblocked {}", d.net);
            report(&pushes, cfg.dry_run)
        }
        BlockCmd::List { json } => {
            let now = now_ms();
            let all = op.list().map_err(|e| op_error(None, e))?;
            let mut out = std::io::stdout().lock();
            if *json {
                for d in &all {
                    writeln!(out, "{}", serde_json::to_string(d)?)?;
                }
                return Ok(());
            }
            writeln!(
                out,
                "{:<40} {:>10}  {:<16} REASON",
                "ADDRESS", "EXPIRES IN", "ORIGIN"
            )?;
            for d in &all {
                writeln!(
                    out,
                    "{:<40} {:>10}  {:<16} {}",
                    d.net.to_string(),
                    human_ms(d.expires_ms.saturating_sub(now)),
                    d.origin,
                    d.reason
                )?;
            }
            Ok(())
        }
        BlockCmd::Sync => {
            let pushes = op.sync().map_err(|e| op_error(None, e))?;
            report(&pushes, cfg.dry_run)
        }
    }
}

/// What `tapir hunt --block` did with the block actions of validated hypotheses.
pub struct HuntBlocks {
    pub blocked: usize,
    pub refused: usize,
    failed_pushes: Vec<String>,
}

impl HuntBlocks {
    /// An error when a backend push failed (the decisions stay journaled), as for
    /// `tapir block add`.
    pub fn into_result(self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.failed_pushes.is_empty(),
            "push failed: {}; the journal keeps the decisions: `tapir block sync` or a running sensor applies them",
            self.failed_pushes.join("; ")
        );
        Ok(())
    }
}

/// Submits each target of each block action of a validated hypothesis, once per address,
/// through [`Operator`] (origin `hunt:<id>`, reason the hunt's title, the default TTL): the
/// guards refuse what they protect (listed on stderr, audited), the rest is journaled and
/// pushed. Prints one line per decision and a summary line.
///
/// # Errors
/// The responder's state could not be opened, or a target is not an address (a hunt's
/// `src_ip`/`dest_ip` always is).
pub fn submit_hunt_actions(
    cfg: &RespondConfig,
    report: &tapir_hunt::Report,
) -> anyhow::Result<HuntBlocks> {
    let mut op = Operator::open(cfg, None).map_err(|e| op_error(None, e))?;
    for w in op.guard_warnings() {
        eprintln!("tapir: warning: {w}");
    }
    let mut out = HuntBlocks {
        blocked: 0,
        refused: 0,
        failed_pushes: Vec::new(),
    };
    let mut seen = std::collections::BTreeSet::new();
    let validated = report
        .hunts
        .iter()
        .filter(|h| h.verdict == tapir_hunt::Verdict::Validated);
    for h in validated {
        let origin = format!("hunt:{}", h.id);
        let reason = format!("hunt {}: {}", h.id, h.title);
        for act in h.actions.iter().filter(|a| a.action == "block") {
            for t in &act.targets {
                let net =
                    Net::parse_strict(t).map_err(|e| anyhow::anyhow!("hunt {}: {e}", h.id))?;
                if !seen.insert(net) {
                    continue;
                }
                match op.add_from(&origin, net, None, Some(&reason)) {
                    Ok(added) => {
                        out.blocked += 1;
                        eprintln!(
                            "tapir: hunt: block: {} {} for {} ({})",
                            if added.replaced {
                                "re-blocked"
                            } else {
                                "blocked"
                            },
                            added.decision.net,
                            human_ms(added.decision.ttl_ms),
                            h.id
                        );
                        out.failed_pushes
                            .extend(added.pushes.iter().filter_map(|p| {
                                p.result
                                    .as_ref()
                                    .err()
                                    .map(|e| format!("{}: {e}", p.backend))
                            }));
                    }
                    Err(OpError::Guard(hit)) => {
                        out.refused += 1;
                        eprintln!(
                            "tapir: hunt: block: {net} refused by guard {}: {hit} ({})",
                            hit.name(),
                            h.id
                        );
                    }
                    Err(e) => return Err(op_error(Some(&net), e)),
                }
            }
        }
    }
    eprintln!(
        "tapir: hunt: block: {} decisions, {} refused by guards{}",
        out.blocked,
        out.refused,
        if cfg.dry_run {
            " (dry run: no backend touched)"
        } else {
            ""
        }
    );
    Ok(out)
}

/// With `[respond] enabled`, starts the responder and puts its tap on `out` (alerts only,
/// on the writer thread). Call [`finish`] with the handle after the output is dropped.
///
/// # Errors
/// The responder could not start (guard files, state directory, list address).
pub fn attach(
    cfg: &RespondConfig,
    out: &mut Box<dyn Write + Send + '_>,
) -> anyhow::Result<Option<ResponderHandle>> {
    if !cfg.enabled {
        return Ok(None);
    }
    let (tap, handle) =
        tapir_respond::Responder::from_config(cfg).map_err(|e| anyhow::anyhow!("respond: {e}"))?;
    if let Some(a) = handle.list_addr() {
        eprintln!("tapir: respond: blocklist at http://{a}/blocklist.txt");
    }
    let inner = std::mem::replace(out, Box::new(std::io::sink()));
    *out = Box::new(tapir_engine::tap::TapWriter::new(
        inner,
        vec![Box::new(tap)],
    ));
    Ok(Some(handle))
}

/// Last journal write and push, then one line with the responder's counters.
pub fn finish(handle: Option<ResponderHandle>) {
    let Some(h) = handle else { return };
    let m = h.shutdown();
    let guards: Vec<String> = m
        .blocked_by_guard
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let pushes: Vec<String> = m
        .pushes
        .iter()
        .map(|(k, p)| {
            format!(
                "{k}:ok={},error={}{}",
                p.ok,
                p.error,
                if p.up { "" } else { ",down" }
            )
        })
        .collect();
    eprintln!(
        "tapir: respond:{} alerts={} matched={} decisions active={} created={} extended={} expired={} refused_by_guard[{}] pushes[{}]",
        if m.dry_run { " dry-run" } else { "" },
        m.alerts_seen,
        m.alerts_matched,
        m.decisions_active,
        m.decisions_created,
        m.decisions_extended,
        m.decisions_expired,
        guards.join(" "),
        pushes.join(" ")
    );
}
