//! Benchmarks of the gate (see docs/performance.md).

fn main() {}
