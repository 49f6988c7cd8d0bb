//! tapir-hunt: hunt hypotheses evaluated over the EVE event stream.
//!
//! A hunt (`rules/hunts/*.yaml`, format in `rules/README.md`) states a hypothesis about
//! adversary behaviour, the data it needs, and conditions over behaviour alerts, intel alerts
//! and event fields, correlated by a key (`same: dest_ip`) within an optional time window.
//!
//! - [`parse`] loads and checks hunt files (every error with `file:line:column`);
//! - [`collect::Collector`] is fed every EVE line the sensor writes (the `tapir` binary hands
//!   it the lines through an event tap on its output) and keeps, within [`Limits`], the events
//!   each hunt's conditions match;
//! - [`verdict::evaluate`] decides validated / refuted / inconclusive per hunt and gathers the
//!   evidence into a [`Report`], written as JSON or as HTML ([`html::render`]);
//! - [`evidence::write_evidence`] reads the captures again for the packets of the findings'
//!   flows and writes one pcap per finding.

#![forbid(unsafe_code)]

pub mod collect;
pub mod evidence;
pub mod field;
pub mod fuzzing;
pub mod html;
pub mod parse;
pub mod pcap;
pub mod report;
pub mod rule;
pub mod svg;
pub mod time;
pub mod verdict;

pub use collect::{Collector, Limits};
pub use evidence::{write_evidence, EvidenceLimits, EvidenceStats};
pub use parse::{load_paths, parse_str, Loaded, RuleError};
pub use report::{Report, Verdict};
pub use rule::Hunt;
pub use verdict::{evaluate, EvidencePlan, RunInfo};
