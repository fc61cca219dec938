//! Shared test helpers and fixtures for the m4-auth workspace.
#![forbid(unsafe_code)]
