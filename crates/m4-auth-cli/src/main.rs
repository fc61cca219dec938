//! `m4-auth`: the operator command for M4's OAuth2 authentication.
#![forbid(unsafe_code)]

fn main() {
    eprintln!("m4-auth: not built yet (see issue 6)");
    std::process::exit(2);
}
