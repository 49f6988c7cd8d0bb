//! Thresholds and bounds of every detector; every field has a default that the example
//! config states.

// Filled in by the detector implementation (see obs.rs for the contract).
#[derive(Debug, Clone, Default)]
pub struct DetectConfig {}
