//! Snapshots of every message the crate can give (filled in with the tests).
