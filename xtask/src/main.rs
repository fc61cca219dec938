//! `cargo xtask`: workspace automation for m4-auth.
#![forbid(unsafe_code)]

fn main() {
    eprintln!("usage: cargo xtask <keys|snapshots|ci|bench>");
    std::process::exit(2);
}
