//! Criterion benches of the facade (filled in by the performance work).
fn main() {}
