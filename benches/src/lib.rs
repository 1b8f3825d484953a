//! Benchmarks: `benches/pipeline.rs` (criterion) and `src/compare.rs` (kernel vs patchbay).
