//! Payload patterns: the first load, and the reload on SIGHUP (`systemctl reload tapir`).
//! A reload compiles on the reload thread, off the packet path, and stores the new set where
//! the workers look between batches ([`tapir_engine::pipeline::Follow`]); a set that fails to
//! load is refused and the old one stays, and a reload that changed no entry swaps nothing,
//! so open streams are not disturbed.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tapir_patterns::{BuildOptions, Loaded, PatternSet};

use crate::config;

/// Compiles (or takes from the cache) the configured payload patterns; bad lines are reported
/// and the rest load.
pub(crate) fn load_patterns(cfg: &config::Config) -> anyhow::Result<Option<PatternSet>> {
    if cfg.patterns.is_empty() {
        return Ok(None);
    }
    let loaded = PatternSet::load_paths(&cfg.patterns, &build_options(cfg))?;
    warn_bad_lines(&loaded);
    eprintln!(
        "tapir: patterns: {} loaded{}",
        loaded.set.len(),
        if loaded.from_cache {
            " (compiled databases from cache)"
        } else {
            ""
        }
    );
    Ok(Some(loaded.set))
}

fn build_options(cfg: &config::Config) -> BuildOptions {
    BuildOptions {
        cache_dir: cfg.pattern_cache.clone(),
    }
}

fn warn_bad_lines(loaded: &Loaded) {
    for e in &loaded.errors {
        eprintln!("tapir: warning: patterns: {e}");
    }
    if loaded.errors_dropped > 0 {
        eprintln!(
            "tapir: warning: patterns: {} more errors not shown",
            loaded.errors_dropped
        );
    }
}

/// The configured pattern files, reloaded on request into the set the workers follow.
pub(crate) struct PatternReload {
    paths: Vec<PathBuf>,
    opts: BuildOptions,
    swap: Arc<ArcSwap<PatternSet>>,
    /// Reloads that stored a new set, that found the same entries, that were refused.
    pub(crate) changed: u64,
    pub(crate) unchanged: u64,
    pub(crate) refused: u64,
}

impl PatternReload {
    /// Reloads of `cfg.patterns` into a swap that starts with `first` (what the run loaded);
    /// `None` when no pattern path is configured.
    pub(crate) fn new(cfg: &config::Config, first: Option<&PatternSet>) -> Option<PatternReload> {
        if cfg.patterns.is_empty() {
            return None;
        }
        let first = first.cloned().unwrap_or_else(PatternSet::empty);
        Some(PatternReload {
            paths: cfg.patterns.clone(),
            opts: build_options(cfg),
            swap: Arc::new(ArcSwap::from_pointee(first)),
            changed: 0,
            unchanged: 0,
            refused: 0,
        })
    }

    /// What the workers follow.
    pub(crate) fn swap(&self) -> Arc<ArcSwap<PatternSet>> {
        Arc::clone(&self.swap)
    }

    /// Loads the files again; stores the result when its entries differ from the current
    /// set's. Bad lines are reported and the rest load, as at the start; a file that cannot be
    /// read or a set Hyperscan cannot compile refuses the reload.
    pub(crate) fn reload(&mut self) {
        let started = std::time::Instant::now();
        match PatternSet::load_paths(&self.paths, &self.opts) {
            Ok(loaded) => {
                warn_bad_lines(&loaded);
                if loaded.set.same_patterns(&self.swap.load()) {
                    self.unchanged += 1;
                    eprintln!("tapir: patterns: reloaded, no entry changed; the set in use stays");
                } else {
                    eprintln!(
                        "tapir: patterns: reloaded {} in {:.3}s; workers switch at their next batch",
                        loaded.set.len(),
                        started.elapsed().as_secs_f64()
                    );
                    self.swap.store(Arc::new(loaded.set));
                    self.changed += 1;
                }
            }
            Err(e) => {
                self.refused += 1;
                eprintln!("tapir: warning: patterns reload refused, keeping the current set: {e}");
            }
        }
    }

    /// The run's closing line about pattern reloads, if there were any.
    pub(crate) fn line(&self) -> Option<String> {
        (self.changed + self.unchanged + self.refused > 0).then(|| {
            format!(
                "tapir: patterns: {} reloads ({} changed the set, {} unchanged), {} refused",
                self.changed + self.unchanged,
                self.changed,
                self.unchanged,
                self.refused
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg_with(dir: &std::path::Path) -> config::Config {
        config::Config {
            patterns: vec![dir.to_path_buf()],
            ..config::Config::default()
        }
    }

    #[test]
    fn reload_swaps_only_a_changed_set_and_refuses_a_broken_one() {
        let dir = std::env::temp_dir().join(format!("tapir-pattern-reload-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let file = dir.join("patterns-test.txt");
        std::fs::write(&file, "evil-marker-one\n").expect("write");
        let cfg = cfg_with(&dir);
        let first = load_patterns(&cfg).expect("load").expect("configured");
        let mut r = PatternReload::new(&cfg, Some(&first)).expect("configured");
        let swap = r.swap();
        assert!(swap.load().same_as(&first));

        // Nothing changed: the set in use stays (not even an equal copy is stored).
        r.reload();
        assert!(swap.load().same_as(&first));
        assert_eq!((r.changed, r.unchanged, r.refused), (0, 1, 0));

        // A new line: a new set with both entries.
        std::fs::write(&file, "evil-marker-one\nevil-marker-two\n").expect("write");
        r.reload();
        let second = swap.load_full();
        assert!(!second.same_as(&first));
        assert_eq!(second.len(), 2);
        assert_eq!((r.changed, r.unchanged, r.refused), (1, 1, 0));

        // A path that cannot be read: refused, the second set stays.
        r.paths.push(dir.join("missing-patterns.txt"));
        r.reload();
        assert!(swap.load().same_as(&second));
        assert_eq!((r.changed, r.unchanged, r.refused), (1, 1, 1));
        assert_eq!(
            r.line().as_deref(),
            Some("tapir: patterns: 2 reloads (1 changed the set, 1 unchanged), 1 refused")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
