//! Benchmarks of etagsum live in `benches/`; this crate has no code of its own.
