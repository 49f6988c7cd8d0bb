//! placeholder: payload pattern intel (Hyperscan)
