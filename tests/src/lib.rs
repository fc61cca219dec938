//! The workspace's end-to-end and acceptance tests (`tests/tests/`) and the committed key
//! fixtures (`tests/fixtures/keys/`).
//!
//! This library is empty on purpose: the test support every crate shares (the fixture keys,
//! the loopback identity provider, the `redis-server` launcher) lives in `m4-auth-testkit`,
//! which any crate's own tests can use; support only these end-to-end tests need lives beside
//! them in `tests/tests/*_support/` and `tests/tests/cli_common/`.
#![forbid(unsafe_code)]
