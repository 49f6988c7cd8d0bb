//! `tapir rules check`: validates hunt files before they are deployed.

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum RulesCmd {
    /// Check hunt files (a file or a directory of *.yaml / *.yml): prints every error as
    /// file:line:column and exits non-zero when there is any.
    Check {
        /// One JSON object (hunts and errors) instead of text.
        #[arg(long)]
        json: bool,
        #[arg(value_name = "PATH", required = true)]
        paths: Vec<PathBuf>,
    },
}

pub fn run(cmd: RulesCmd) -> anyhow::Result<()> {
    let RulesCmd::Check { json, paths } = cmd;
    let loaded = tapir_hunt::load_paths(&paths);
    if json {
        let hunts: Vec<serde_json::Value> = loaded
            .hunts
            .iter()
            .map(|h| {
                serde_json::json!({
                    "id": h.id, "file": h.file, "line": h.line, "title": h.title,
                    "techniques": h.techniques, "severity": h.severity.as_str(),
                })
            })
            .collect();
        let doc = serde_json::json!({
            "files": loaded.files.len(),
            "hunts": hunts,
            "errors": loaded.errors,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        for e in &loaded.errors {
            println!("{e}");
        }
        let bad_files = {
            let mut f: Vec<&str> = loaded.errors.iter().map(|e| e.file.as_str()).collect();
            f.sort_unstable();
            f.dedup();
            f.len()
        };
        println!(
            "{} hunts in {} files: {}",
            loaded.hunts.len(),
            loaded.files.len(),
            if loaded.errors.is_empty() {
                "ok".to_string()
            } else {
                format!("{} errors in {bad_files} files", loaded.errors.len())
            }
        );
    }
    anyhow::ensure!(
        loaded.errors.is_empty(),
        "{} errors in hunt files",
        loaded.errors.len()
    );
    Ok(())
}
