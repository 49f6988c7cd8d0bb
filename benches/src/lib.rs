//! criterion benches live under benches/
