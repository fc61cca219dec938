//! `cargo xtask keys`: regenerate the committed test key set in `tests/fixtures/keys/`.
//!
//! Key material comes from the `openssl` command line tool (OpenSSL 3), because it is the one
//! generator here that also makes the deliberately too-small RSA-1024 key.
//! The public JWKs are derived from openssl's DER `SubjectPublicKeyInfo` output by the small
//! DER reader below, so the JWK members always match the private key they sit beside.
//! Everything is generated in memory first; files are written only when every key succeeded.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The kind of key a fixture holds, with its generation parameters.
#[derive(Clone, Copy)]
enum Kind {
    /// RSA with the given modulus size in bits; JWK alg RS256.
    Rsa(u32),
    /// ECDSA P-256; JWK alg ES256.
    P256,
    /// ECDSA P-384; JWK alg ES384.
    P384,
    /// Ed25519; JWK alg EdDSA.
    Ed25519,
}

/// One fixture: its name (also its `kid`) and kind.
struct Spec {
    name: &'static str,
    kind: Kind,
}

/// The full fixture set, in the order it is generated and listed.
const SPECS: &[Spec] = &[
    Spec {
        name: "rsa-2048",
        kind: Kind::Rsa(2048),
    },
    Spec {
        name: "rsa-4096",
        kind: Kind::Rsa(4096),
    },
    Spec {
        name: "ec-p256",
        kind: Kind::P256,
    },
    Spec {
        name: "rsa-2048-b",
        kind: Kind::Rsa(2048),
    },
    Spec {
        name: "rsa-1024",
        kind: Kind::Rsa(1024),
    },
    Spec {
        name: "ec-p384",
        kind: Kind::P384,
    },
    Spec {
        name: "ed25519",
        kind: Kind::Ed25519,
    },
];

/// The kids that go into `jwks.json`, in order.
const JWKS_MEMBERS: &[&str] = &["rsa-2048", "rsa-4096", "ec-p256"];

/// A generated key: PKCS#8 PEM of the private key and the public JWK as JSON text.
struct Generated {
    name: &'static str,
    private_pem: String,
    public_jwk: String,
}

/// Generate every key and write the fixture directory `dir`.
pub(crate) fn run(dir: &Path) -> Result<(), String> {
    let mut generated = Vec::new();
    for spec in SPECS {
        eprintln!("xtask keys: generating {}", spec.name);
        generated.push(generate(spec)?);
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut jwks_members = Vec::new();
    for g in &generated {
        write(&dir.join(format!("{}.pem", g.name)), &g.private_pem)?;
        write(&dir.join(format!("{}.pub.jwk.json", g.name)), &g.public_jwk)?;
    }
    for kid in JWKS_MEMBERS {
        let g = generated
            .iter()
            .find(|g| g.name == *kid)
            .ok_or_else(|| format!("jwks member {kid} was not generated"))?;
        jwks_members.push(indent(g.public_jwk.trim_end(), "    "));
    }
    let jwks = format!("{{\n  \"keys\": [\n{}\n  ]\n}}\n", jwks_members.join(",\n"));
    write(&dir.join("jwks.json"), &jwks)?;
    eprintln!(
        "xtask keys: wrote {} keys and jwks.json to {}",
        generated.len(),
        dir.display()
    );
    Ok(())
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines()
        .map(|l| format!("{prefix}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn write(path: &Path, contents: &str) -> Result<(), String> {
    std::fs::write(path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn generate(spec: &Spec) -> Result<Generated, String> {
    let mut args: Vec<String> = vec!["genpkey".into()];
    match spec.kind {
        Kind::Rsa(bits) => {
            args.extend(["-algorithm".into(), "RSA".into()]);
            args.extend(["-pkeyopt".into(), format!("rsa_keygen_bits:{bits}")]);
        }
        Kind::P256 | Kind::P384 => {
            let curve = if matches!(spec.kind, Kind::P256) {
                "P-256"
            } else {
                "P-384"
            };
            args.extend(["-algorithm".into(), "EC".into()]);
            args.extend(["-pkeyopt".into(), format!("ec_paramgen_curve:{curve}")]);
            args.extend(["-pkeyopt".into(), "ec_param_enc:named_curve".into()]);
        }
        Kind::Ed25519 => args.extend(["-algorithm".into(), "ED25519".into()]),
    }
    let pem_bytes = openssl(&args, None)?;
    let private_pem = String::from_utf8(pem_bytes)
        .map_err(|_| format!("{}: openssl genpkey printed non-UTF-8 output", spec.name))?;
    if !private_pem.starts_with("-----BEGIN PRIVATE KEY-----\n") {
        return Err(format!(
            "{}: openssl genpkey did not produce a PKCS#8 PEM key",
            spec.name
        ));
    }
    let spki = openssl(
        &[
            "pkey".into(),
            "-pubout".into(),
            "-outform".into(),
            "DER".into(),
        ],
        Some(private_pem.as_bytes()),
    )?;
    let members = jwk_members(spec, &spki)?;
    let alg = match spec.kind {
        Kind::Rsa(_) => "RS256",
        Kind::P256 => "ES256",
        Kind::P384 => "ES384",
        Kind::Ed25519 => "EdDSA",
    };
    let mut jwk = String::from("{\n");
    let _ = writeln!(jwk, "  \"kid\": \"{}\",", spec.name);
    jwk.push_str("  \"use\": \"sig\",\n");
    let _ = writeln!(jwk, "  \"alg\": \"{alg}\",");
    let lines: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("  \"{k}\": \"{v}\""))
        .collect();
    jwk.push_str(&lines.join(",\n"));
    jwk.push_str("\n}\n");
    Ok(Generated {
        name: spec.name,
        private_pem,
        public_jwk: jwk,
    })
}

/// Run `openssl` with `args`, feeding `stdin` when given; return its stdout.
fn openssl(args: &[String], stdin: Option<&[u8]>) -> Result<Vec<u8>, String> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `openssl` (is OpenSSL 3 installed?): {e}"))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input)
            .map_err(|e| format!("cannot write to openssl: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("openssl did not finish: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`openssl {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}

// Object identifiers, as DER content bytes.
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// Extract the JWK key members from a DER `SubjectPublicKeyInfo`, checking it is the kind asked.
fn jwk_members(spec: &Spec, spki: &[u8]) -> Result<Vec<(&'static str, String)>, String> {
    let err = |what: &str| format!("{}: unexpected public key encoding: {what}", spec.name);
    let (outer, rest) = der(spki, 0x30).ok_or_else(|| err("SubjectPublicKeyInfo"))?;
    if !rest.is_empty() {
        return Err(err("trailing bytes"));
    }
    let (alg_id, rest) = der(outer, 0x30).ok_or_else(|| err("AlgorithmIdentifier"))?;
    let (bits, rest) = der(rest, 0x03).ok_or_else(|| err("subjectPublicKey"))?;
    if !rest.is_empty() {
        return Err(err("trailing SPKI members"));
    }
    let key = match bits.split_first() {
        Some((0, key)) => key,
        _ => return Err(err("BIT STRING padding")),
    };
    let (oid, params) = der(alg_id, 0x06).ok_or_else(|| err("algorithm OID"))?;
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    match spec.kind {
        Kind::Rsa(size) => {
            if oid != OID_RSA {
                return Err(err("not rsaEncryption"));
            }
            let (seq, _) = der(key, 0x30).ok_or_else(|| err("RSAPublicKey"))?;
            let (n, rest) = der(seq, 0x02).ok_or_else(|| err("modulus"))?;
            let (e, _) = der(rest, 0x02).ok_or_else(|| err("exponent"))?;
            let n = strip_zeros(n);
            let e = strip_zeros(e);
            let n_bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
            if n_bits != size as usize {
                return Err(format!(
                    "{}: modulus is {n_bits} bits, expected {size}",
                    spec.name
                ));
            }
            Ok(vec![("kty", "RSA".into()), ("n", b64(n)), ("e", b64(e))])
        }
        Kind::P256 | Kind::P384 => {
            let (crv, curve_oid, len) = match spec.kind {
                Kind::P256 => ("P-256", OID_P256, 32),
                _ => ("P-384", OID_P384, 48),
            };
            let (param_oid, _) = der(params, 0x06).ok_or_else(|| err("curve OID"))?;
            if oid != OID_EC || param_oid != curve_oid {
                return Err(err("not the expected EC curve"));
            }
            match key.split_first() {
                Some((4, xy)) if xy.len() == 2 * len => {
                    let (x, y) = xy.split_at(len);
                    Ok(vec![
                        ("kty", "EC".into()),
                        ("crv", crv.into()),
                        ("x", b64(x)),
                        ("y", b64(y)),
                    ])
                }
                _ => Err(err("EC point is not uncompressed")),
            }
        }
        Kind::Ed25519 => {
            if oid != OID_ED25519 || key.len() != 32 {
                return Err(err("not an Ed25519 key"));
            }
            Ok(vec![
                ("kty", "OKP".into()),
                ("crv", "Ed25519".into()),
                ("x", b64(key)),
            ])
        }
    }
}

fn strip_zeros(mut bytes: &[u8]) -> &[u8] {
    while let Some((0, rest)) = bytes.split_first() {
        bytes = rest;
    }
    bytes
}

/// Read one DER TLV with tag `tag` from the front of `input`: (contents, remainder).
fn der(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (len_bytes, after) = rest.split_at_checked(count)?;
        rest = after;
        len_bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    rest.split_at_checked(len)
}

#[cfg(test)]
mod tests {
    use super::der;

    #[test]
    fn der_reads_short_and_long_lengths() {
        assert_eq!(
            der(&[0x02, 0x01, 0x05, 0xff], 0x02),
            Some((&[0x05][..], &[0xff][..]))
        );
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend([7u8; 0x80]);
        assert_eq!(
            der(&long, 0x04).map(|(c, r)| (c.len(), r.len())),
            Some((0x80, 0))
        );
        assert_eq!(der(&[0x02, 0x05, 0x00], 0x02), None, "length past the end");
        assert_eq!(der(&[0x30, 0x00], 0x02), None, "wrong tag");
    }
}
