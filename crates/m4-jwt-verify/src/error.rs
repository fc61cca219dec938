//! Every error this crate returns, with stable codes and messages written on purpose.
//!
//! Messages never contain a token or any part of one.
//! Attacker-chosen strings that are echoed (a `kid`, an `alg`, an issuer) are escaped
//! and truncated by [`printable`] before they are stored.

use std::fmt;

use crate::algorithm::Algorithm;
use crate::key::KeyKind;

/// The longest attacker-supplied string, in characters, echoed in a message.
pub(crate) const ECHO_LIMIT: usize = 64;

/// Escapes `s` for display (`escape_debug`: control characters, quotes, backslashes and
/// non-printable characters become escapes) and cuts it to [`ECHO_LIMIT`] characters.
pub(crate) fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(ECHO_LIMIT * 2));
    let mut chars = s.chars();
    for c in chars.by_ref().take(ECHO_LIMIT) {
        out.extend(c.escape_debug());
    }
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// A segment of a compact JWS (`header.payload.signature`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// The first segment: the protected header.
    Header,
    /// The second segment: the claims.
    Payload,
    /// The third segment: the signature.
    Signature,
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Segment::Header => "header",
            Segment::Payload => "payload",
            Segment::Signature => "signature",
        })
    }
}

/// Why a token was rejected. [`Error::code`] gives the stable code from CONTRACT.md.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token is the empty string.
    #[error("Token is empty")]
    EmptyToken,
    /// The token is longer than the configured maximum; nothing else was looked at.
    #[error("Token is {size} bytes, over the {max}-byte limit")]
    TokenTooLarge {
        /// Length of the token in bytes.
        size: usize,
        /// The configured maximum in bytes.
        max: usize,
    },
    /// The token does not have exactly three `.`-separated segments.
    #[error("Token has {found} dot-separated segments; a signed JWT has exactly 3")]
    SegmentCount {
        /// How many segments the token has.
        found: usize,
    },
    /// A segment is not unpadded base64url (RFC 7515 §2): wrong alphabet, padding or length.
    #[error("Token {segment} is not unpadded base64url")]
    InvalidBase64 {
        /// The offending segment.
        segment: Segment,
    },
    /// The decoded header is not a JSON object.
    #[error("Token header is not a JSON object")]
    HeaderNotObject,
    /// The header names the same parameter twice (a parser-differential trick).
    #[error("Token header repeats the \"{name}\" parameter")]
    DuplicateHeaderParameter {
        /// The repeated parameter name, escaped and truncated.
        name: String,
    },
    /// A header parameter has the wrong JSON type.
    #[error("Token header parameter \"{name}\" must be {expected}")]
    HeaderParameterType {
        /// The parameter.
        name: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// The header has no `alg`.
    #[error("Token header has no \"alg\" parameter")]
    MissingAlgorithm,
    /// The header's `alg` is not in the verifier's allowlist (`none` and `HS*` never are).
    #[error("Token algorithm \"{alg}\" is not allowed")]
    UnsupportedAlgorithm {
        /// The token's `alg`, escaped and truncated.
        alg: String,
    },
    /// The header's `crit` is present: this crate implements no JWS extension (RFC 7515 §4.1.11).
    #[error("Token header marks parameters this verifier does not implement as critical: {names}")]
    CriticalHeader {
        /// The names listed in `crit`, escaped, truncated and comma-separated.
        names: String,
    },
    /// The header sets `b64` to something other than `true` (RFC 7797 unencoded payload).
    #[error("Token header sets \"b64\"; unencoded payloads (RFC 7797) are not supported")]
    UnencodedPayload,
    /// The header's `cty` is `JWT` (RFC 7519 §5.2): the payload is another, nested JWT, which
    /// m4-auth never processes. Refused before any key or signature work.
    #[error(
        "Token header has \"cty\": \"{cty}\", so its payload is a nested JWT; nested tokens are never accepted, the access token must be a single signed JWT"
    )]
    NestedToken {
        /// The token's `cty`, escaped and truncated.
        cty: String,
    },
    /// The header has a `cty` other than `JWT`: a JWT's payload is its claims set, which has
    /// no content type of its own (RFC 7519 §5.2), so any `cty` is refused rather than ignored.
    #[error(
        "Token header has \"cty\": \"{cty}\"; an access token's payload is its claims set, so \"cty\" must be absent"
    )]
    UnexpectedContentType {
        /// The token's `cty`, escaped and truncated.
        cty: String,
    },
    /// The header's `typ` names a kind of JWT other than an access token (RFC 8725 §3.11,
    /// RFC 9068 §4): a DPoP proof, a logout token or a security event token must not pass for
    /// one.
    #[error(
        "Token type \"{typ}\" is not an access token type; accepted: no \"typ\", \"JWT\" or \"at+jwt\" (any case, \"application/\" prefix optional)"
    )]
    UnexpectedType {
        /// The token's `typ`, escaped and truncated.
        typ: String,
    },
    /// The header has no `kid` (or an empty one), so no key can be selected.
    #[error("Token header has no \"kid\"; it must name the signing key")]
    MissingKid,
    /// No key with the token's `kid` is known.
    #[error("No signing key with kid \"{kid}\"")]
    UnknownKid {
        /// The token's `kid`, escaped and truncated.
        kid: String,
    },
    /// The key source could not provide keys (for example the JWKS endpoint is down).
    #[error("Signing keys are unavailable: {reason}")]
    JwksUnavailable {
        /// Why, as reported by the [`KeyResolver`](crate::KeyResolver).
        reason: String,
    },
    /// The key named by `kid` exists but cannot verify this token's algorithm.
    #[error("Invalid token signature: key \"{kid}\" cannot verify {alg}: {reason}")]
    KeyUnusable {
        /// The token's `kid`, escaped and truncated.
        kid: String,
        /// The token's algorithm.
        alg: Algorithm,
        /// Why the key is unusable.
        reason: KeyRejection,
    },
    /// The signature does not verify under the selected key.
    #[error("Invalid token signature")]
    InvalidSignature,
    /// The decoded payload is not a JSON object (checked after the signature).
    #[error("Token payload is not a JSON object")]
    PayloadNotObject,
    /// The payload names the same claim twice (a parser-differential trick).
    #[error("Token payload repeats the \"{name}\" claim")]
    DuplicateClaim {
        /// The repeated claim name, escaped and truncated.
        name: String,
    },
    /// A required claim is absent.
    #[error("Token has no \"{name}\" claim")]
    MissingClaim {
        /// The claim.
        name: &'static str,
    },
    /// A claim has the wrong JSON type.
    #[error("Token claim \"{name}\" must be {expected}")]
    ClaimType {
        /// The claim.
        name: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// `exp` (plus leeway) is in the past.
    #[error("Token has expired")]
    Expired,
    /// `nbf` (minus leeway) is in the future.
    #[error("Token is not valid yet: its \"nbf\" is in the future")]
    NotYetValid,
    /// `iat` is later than now plus the leeway: the token claims to be issued in the future,
    /// a clock or forgery problem.
    #[error(
        "Token claims to be issued in the future: its \"iat\" is more than {leeway} s ahead of this server's clock; check the clocks of the issuer and this server"
    )]
    IssuedInFuture {
        /// The leeway in seconds.
        leeway: u64,
    },
    /// Issuer validation is on and the token has no `iss`.
    #[error("Token has no \"iss\" claim")]
    MissingIssuer,
    /// The token's `iss` is not exactly the expected issuer.
    #[error("Token issuer \"{found}\" is not the expected \"{expected}\"")]
    WrongIssuer {
        /// The token's `iss`, escaped and truncated.
        found: String,
        /// The configured issuer, escaped and truncated.
        expected: String,
    },
    /// Audience validation is on and the token has no `aud`.
    #[error("Token has no \"aud\" claim")]
    MissingAudience,
    /// The token's `aud` does not contain the expected audience.
    #[error("Token audience does not include \"{expected}\"")]
    WrongAudience {
        /// The configured audience, escaped and truncated.
        expected: String,
    },
    /// The `sub` claim is the empty string.
    #[error("Token claim \"sub\" is empty")]
    EmptySubject,
    /// The `sub` claim is not empty but only whitespace (Unicode `White_Space`, as
    /// [`str::trim`] trims). `sub` is the rate-limit key and names the user in logs: blank
    /// subjects would make distinct tokens share one identity. The value is not echoed.
    #[error(
        "Token claim \"sub\" is only whitespace; it must identify the subject: configure the identity provider to issue a non-blank subject identifier"
    )]
    BlankSubject,
    /// The `sub` claim contains a control character ([`char::is_control`]: U+0000 to U+001F,
    /// U+007F to U+009F), which could forge or split a log line where the subject is written.
    /// The message names the first one as a code point and does not echo the value; it asks
    /// for a subject "without control characters", which is what is checked (not
    /// "printable": other invisible characters, such as U+200B, are accepted).
    #[error(
        "Token claim \"sub\" contains the control character U+{:04X}: configure the identity provider to issue a subject identifier without control characters", u32::from(*.found)
    )]
    SubjectControlCharacter {
        /// The first control character of `sub`.
        found: char,
    },
    /// The token has a `cnf` (confirmation) claim (RFC 7800): it is bound to a key, by DPoP
    /// (`cnf.jkt`, RFC 9449) or mutual TLS (`cnf.x5t#S256`, RFC 8705), and is only valid with a
    /// proof of possession of that key, which m4-auth cannot check. Accepting it as a bearer
    /// token would let a stolen bound token work here, so any `cnf`, whatever its value
    /// (including `null` and `{}`), is refused.
    #[error(
        "Token is bound to a key (it has a \"cnf\" claim: DPoP or mTLS); m4-auth accepts only bearer tokens: configure the identity provider or client to issue unbound bearer tokens for this API"
    )]
    SenderConstrained,
    /// Some required scopes are not granted by `scope`/`scp`.
    #[error("Missing required scopes: {}", .missing.join(", "))]
    MissingScopes {
        /// The missing scopes, sorted.
        missing: Vec<String>,
    },
}

impl Error {
    /// The stable, machine-readable code (CONTRACT.md "Stable error codes").
    ///
    /// ```
    /// use m4_jwt_verify::Error;
    /// assert_eq!(Error::Expired.code(), "token_expired");
    /// assert_eq!(Error::InvalidSignature.to_string(), "Invalid token signature");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Error::EmptyToken
            | Error::SegmentCount { .. }
            | Error::InvalidBase64 { .. }
            | Error::PayloadNotObject => "malformed_token",
            Error::TokenTooLarge { .. } => "token_too_large",
            Error::HeaderNotObject
            | Error::DuplicateHeaderParameter { .. }
            | Error::HeaderParameterType { .. }
            | Error::MissingAlgorithm
            | Error::CriticalHeader { .. }
            | Error::UnencodedPayload
            | Error::NestedToken { .. }
            | Error::UnexpectedContentType { .. }
            | Error::UnexpectedType { .. } => "invalid_header",
            Error::UnsupportedAlgorithm { .. } => "unsupported_algorithm",
            Error::MissingKid => "missing_kid",
            Error::UnknownKid { .. } => "unknown_kid",
            Error::JwksUnavailable { .. } => "jwks_unavailable",
            Error::KeyUnusable { .. } | Error::InvalidSignature => "invalid_signature",
            Error::DuplicateClaim { .. }
            | Error::MissingClaim { .. }
            | Error::ClaimType { .. }
            | Error::IssuedInFuture { .. }
            | Error::EmptySubject
            | Error::BlankSubject
            | Error::SubjectControlCharacter { .. }
            | Error::SenderConstrained => "invalid_claims",
            Error::Expired => "token_expired",
            Error::NotYetValid => "token_not_yet_valid",
            Error::MissingIssuer | Error::WrongIssuer { .. } => "invalid_issuer",
            Error::MissingAudience | Error::WrongAudience { .. } => "invalid_audience",
            Error::MissingScopes { .. } => "missing_scopes",
        }
    }
}

/// Why a JWK cannot be used: skipped when loading a JWKS, or unusable for a token's algorithm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRejection {
    /// The JWKS member is not a JSON object.
    #[error("JWK is not a JSON object")]
    NotAnObject,
    /// A required member is absent.
    #[error("JWK has no \"{member}\" member")]
    MissingMember {
        /// The member.
        member: &'static str,
    },
    /// A member has the wrong JSON type.
    #[error("JWK member \"{member}\" must be {expected}")]
    MemberType {
        /// The member.
        member: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// A key member is not unpadded base64url, or is empty.
    #[error("JWK member \"{member}\" is not non-empty unpadded base64url")]
    MalformedMember {
        /// The member.
        member: &'static str,
    },
    /// `kty` is `oct`: a symmetric secret never verifies a token.
    #[error("JWK has kty \"oct\": symmetric keys never verify tokens")]
    SymmetricKey,
    /// `kty` is not RSA, EC or OKP.
    #[error("JWK kty \"{kty}\" is not supported; use RSA, EC or OKP")]
    UnsupportedKeyType {
        /// The `kty`, escaped and truncated.
        kty: String,
    },
    /// `crv` is not a supported curve for this `kty`.
    #[error("JWK curve \"{crv}\" is not supported for kty {kty}; use {supported}")]
    UnsupportedCurve {
        /// The key type (`EC` or `OKP`).
        kty: &'static str,
        /// The `crv`, escaped and truncated.
        crv: String,
        /// The curves supported for this key type.
        supported: &'static str,
    },
    /// `use` is `enc`.
    #[error("JWK has \"use\":\"enc\": encryption keys never verify signatures")]
    EncryptionKey,
    /// `use` is neither `sig` nor `enc`.
    #[error("JWK \"use\" is \"{value}\"; only \"sig\" (or no \"use\") can verify signatures")]
    UnsupportedUse {
        /// The `use`, escaped and truncated.
        value: String,
    },
    /// `key_ops` is present and does not include `verify`.
    #[error("JWK \"key_ops\" does not include \"verify\"")]
    NoVerifyOperation,
    /// The JWK declares an `alg` this crate cannot verify (`HS256`, `RSA-OAEP`, `none`, ...).
    #[error("JWK declares alg \"{alg}\", which is not a supported signature algorithm")]
    UnsupportedAlgorithm {
        /// The declared `alg`, escaped and truncated.
        alg: String,
    },
    /// The JWK carries private key material: anyone who saw it can forge tokens.
    #[error("JWK contains the private key member \"{member}\"; publish only the public key")]
    PrivateKeyMaterial {
        /// The first private member found.
        member: &'static str,
    },
    /// The RSA modulus is under 2048 bits.
    #[error("RSA key has {bits} bits; at least 2048 are required")]
    RsaKeyTooSmall {
        /// Modulus size in bits.
        bits: u32,
    },
    /// The RSA modulus is over 8192 bits.
    #[error("RSA key has {bits} bits; at most 8192 are supported")]
    RsaKeyTooLarge {
        /// Modulus size in bits.
        bits: u32,
    },
    /// A coordinate or key member has the wrong length for its curve.
    #[error("JWK member \"{member}\" is {found} bytes; {curve} needs {expected}")]
    WrongLength {
        /// The member (`x`, `y`).
        member: &'static str,
        /// The curve name.
        curve: &'static str,
        /// The required length in bytes.
        expected: usize,
        /// The actual length in bytes.
        found: usize,
    },
    /// The crypto library refused the key material (a point not on the curve, a bad exponent).
    #[error("JWK key material is not a valid {kind} public key")]
    InvalidKey {
        /// What the key claimed to be.
        kind: KeyKind,
    },
    /// The key's type or curve cannot produce this algorithm's signatures.
    #[error("{kind} keys cannot verify {alg}")]
    KindMismatch {
        /// The key.
        kind: KeyKind,
        /// The requested algorithm.
        alg: Algorithm,
    },
    /// The JWK's own `alg` differs from the requested algorithm.
    #[error("the key is declared for {declared}, not {requested}")]
    AlgorithmMismatch {
        /// The JWK's `alg`.
        declared: Algorithm,
        /// The requested algorithm.
        requested: Algorithm,
    },
    /// Several different keys in one JWKS share this kid and could each verify the token's
    /// algorithm, so none of them is trusted for it.
    #[error(
        "{count} different keys in the JWKS share this kid and could verify this algorithm; none of them is used"
    )]
    AmbiguousKid {
        /// How many distinct keys share the kid and could verify the algorithm.
        count: usize,
    },
    /// Several different keys in one JWKS share this kid, and none of them can verify the
    /// token's algorithm (by key type, curve or declared `alg`).
    #[error("{count} different keys in the JWKS share this kid and none of them can")]
    NoCompatibleKey {
        /// How many distinct keys share the kid.
        count: usize,
    },
}

/// The JWKS document itself is unusable (individual bad keys are skipped, not fatal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksDocumentError {
    /// The bytes are not JSON.
    #[error("JWKS document is not valid JSON (line {line}, column {column})")]
    NotJson {
        /// Line of the syntax error, from 1.
        line: usize,
        /// Column of the syntax error, from 1.
        column: usize,
    },
    /// The JSON is not an object.
    #[error("JWKS document is not a JSON object")]
    NotAnObject,
    /// The object has no `keys` member.
    #[error("JWKS document has no \"keys\" member")]
    MissingKeys,
    /// `keys` is not an array.
    #[error("JWKS member \"keys\" is not an array")]
    KeysNotArray,
}

/// Why a [`KeyResolver`](crate::KeyResolver) did not return a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyLookupError {
    /// No key has this kid.
    #[error("no key has this kid")]
    UnknownKid,
    /// Keys could not be obtained at all (maps to the `jwks_unavailable` code).
    #[error("signing keys are unavailable: {reason}")]
    Unavailable {
        /// Why; shown to the user, so no secrets.
        reason: String,
    },
    /// A key has this kid but cannot be used for the requested algorithm, or was rejected
    /// when the key set was loaded.
    #[error("the key with this kid cannot be used: {reason}")]
    Unusable {
        /// Why the key is unusable.
        reason: KeyRejection,
    },
}

/// A [`VerifierOptions`](crate::VerifierOptions) value that cannot make a safe verifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// The algorithm allowlist is empty.
    #[error("no algorithm is allowed; allow at least one, for example RS256")]
    NoAlgorithms,
    /// Issuer validation is on and the expected issuer is empty.
    #[error("the expected issuer is empty; set the issuer URL")]
    EmptyIssuer,
    /// Audience validation is on and the expected audience is empty.
    #[error("the expected audience is empty; set the audience")]
    EmptyAudience,
    /// A required scope is empty or contains whitespace, so no token could ever match it.
    #[error("required scope \"{scope}\" is empty or contains whitespace; list scopes one by one")]
    InvalidScope {
        /// The scope, escaped and truncated.
        scope: String,
    },
    /// The leeway is larger than the maximum.
    #[error("leeway of {secs} s is over the maximum of {max} s")]
    LeewayTooLarge {
        /// The requested leeway in seconds.
        secs: u64,
        /// The maximum in seconds.
        max: u64,
    },
    /// The maximum token size is outside the accepted range.
    #[error("maximum token size of {bytes} bytes is outside {min}..={max}")]
    MaxTokenSize {
        /// The requested size.
        bytes: usize,
        /// Smallest accepted value.
        min: usize,
        /// Largest accepted value.
        max: usize,
    },
}

/// A string that is not the exact JOSE name of a supported algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseAlgorithmError {
    name: String,
    kind: RefusedKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefusedKind {
    Unsecured,
    Symmetric,
    Unknown,
}

impl ParseAlgorithmError {
    pub(crate) fn new(name: &str) -> Self {
        let kind = if name.eq_ignore_ascii_case("none") {
            RefusedKind::Unsecured
        } else if name.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("HS")) {
            RefusedKind::Symmetric
        } else {
            RefusedKind::Unknown
        };
        ParseAlgorithmError {
            name: printable(name),
            kind,
        }
    }
}

impl fmt::Display for ParseAlgorithmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.name;
        match self.kind {
            RefusedKind::Unsecured => write!(
                f,
                "algorithm \"{name}\" is refused: unsecured tokens are never accepted"
            )?,
            RefusedKind::Symmetric => write!(
                f,
                "algorithm \"{name}\" is refused: symmetric (HMAC) algorithms are never accepted"
            )?,
            RefusedKind::Unknown => {
                write!(f, "algorithm \"{name}\" is not a supported JWS algorithm")?;
            }
        }
        f.write_str("; supported (case-sensitive): ")?;
        for (i, alg) in Algorithm::ALL.into_iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(alg.as_str())?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseAlgorithmError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_and_truncates() {
        assert_eq!(printable("abc"), "abc");
        assert_eq!(printable("a\"b\n\u{0}"), "a\\\"b\\n\\0");
        let long = "x".repeat(100);
        let shown = printable(&long);
        assert_eq!(shown.chars().count(), ECHO_LIMIT + 1);
        assert!(shown.ends_with('…'));
        assert_eq!(printable(&"y".repeat(ECHO_LIMIT)), "y".repeat(ECHO_LIMIT));
    }
}
