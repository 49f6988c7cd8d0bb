//! The configuration file of the `tapir` command (`config`, with its `[[output]]` entries in
//! `outputs`), as a library: `tests/fuzz` links the loader through it (target `config`, entry
//! [`fuzzing::fuzz_config`]). The binary (`src/main.rs`) uses these modules; everything else
//! of the command stays in the binary.

#![forbid(unsafe_code)]

pub mod config;
pub mod fuzzing;
pub mod outputs;
