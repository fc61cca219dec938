//! The [`Verifier`]: compact JWS access tokens in, a [`VerifiedToken`] or a precise [`Error`] out.
//!
//! Checks run cheapest first, so no untrusted data reaches the crypto unexamined:
//! size; exactly three unpadded base64url segments; header is a valid UTF-8 JSON object with
//! unique names; `alg` in the allowlist; no `crit`; no `b64`; no `cty` (so no nested JWT);
//! `typ` absent or an access token type; `kid` present; key resolved and compatible with `alg`; signature; then the claims
//! (only now is the payload parsed): `exp`, `nbf`, `iat`, `iss`, `aud`, no `cnf`,
//! `sub` (not empty, no control character ([`char::is_control`]), not only whitespace: see
//! [`check_subject`]; invisible and bidirectional-text characters such as U+200B or U+202E
//! are not refused, so whatever prints a `sub` must escape them), scopes.
//!
//! Keys are only ever taken from the [`KeyResolver`]: the `jku`, `x5u`, `jwk` and `x5c` header
//! parameters are ignored and never fetched.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::algorithm::Algorithm;
use crate::clock::{Clock, SystemClock};
use crate::error::{Error, KeyLookupError, OptionsError, Segment, printable};
use crate::json::{Claims, ParsedClaims, ParsedHeader, StrParam, StrictObject};
use crate::resolver::KeyResolver;

/// Default clock-skew allowance for `exp`, `nbf` and `iat`, in seconds.
pub const DEFAULT_LEEWAY_SECS: u64 = 60;
/// Largest accepted leeway, in seconds.
pub const MAX_LEEWAY_SECS: u64 = 600;
/// Default maximum token length, in bytes (16 KiB).
pub const DEFAULT_MAX_TOKEN_SIZE: usize = 16 * 1024;
/// Smallest accepted maximum token length, in bytes.
pub const MIN_MAX_TOKEN_SIZE: usize = 512;
/// Largest accepted maximum token length, in bytes (1 MiB).
pub const MAX_MAX_TOKEN_SIZE: usize = 1024 * 1024;
/// Algorithms allowed unless [`VerifierOptions::algorithms`] says otherwise.
pub const DEFAULT_ALGORITHMS: [Algorithm; 2] = [Algorithm::RS256, Algorithm::ES256];

/// Settings for a [`Verifier`]; every default is the safe one.
///
/// Defaults: algorithms RS256 and ES256, leeway 60 s, maximum token size 16 KiB, `exp`, `aud`
/// and `iss` validated, no required scope, the system clock.
///
/// ```
/// use m4_jwt_verify::{Algorithm, VerifierOptions};
///
/// let verifier = VerifierOptions::new("https://idp.example.com/", "m4-api")
///     .algorithms([Algorithm::RS256, Algorithm::ES256, Algorithm::PS256])
///     .required_scopes(["read:mimic-data"])
///     .leeway(30)
///     .build()?;
/// # let _ = verifier;
/// # Ok::<(), m4_jwt_verify::OptionsError>(())
/// ```
#[derive(Clone)]
pub struct VerifierOptions {
    issuer: String,
    audience: String,
    algorithms: Vec<Algorithm>,
    required_scopes: Vec<String>,
    leeway: u64,
    max_token_size: usize,
    validate_exp: bool,
    validate_aud: bool,
    validate_iss: bool,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for VerifierOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifierOptions")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("algorithms", &self.algorithms)
            .field("required_scopes", &self.required_scopes)
            .field("leeway", &self.leeway)
            .field("max_token_size", &self.max_token_size)
            .field("validate_exp", &self.validate_exp)
            .field("validate_aud", &self.validate_aud)
            .field("validate_iss", &self.validate_iss)
            .finish_non_exhaustive()
    }
}

impl VerifierOptions {
    /// Options for tokens from `issuer` (compared exactly with `iss`) meant for `audience`
    /// (which `aud` must contain).
    ///
    /// ```
    /// let options = m4_jwt_verify::VerifierOptions::new("https://idp.example.com", "m4-api");
    /// assert!(options.build().is_ok());
    /// ```
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        VerifierOptions {
            issuer: issuer.into(),
            audience: audience.into(),
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            required_scopes: Vec::new(),
            leeway: DEFAULT_LEEWAY_SECS,
            max_token_size: DEFAULT_MAX_TOKEN_SIZE,
            validate_exp: true,
            validate_aud: true,
            validate_iss: true,
            clock: Arc::new(SystemClock),
        }
    }

    /// Replaces the algorithm allowlist (default RS256, ES256).
    ///
    /// ```
    /// use m4_jwt_verify::{Algorithm, OptionsError, VerifierOptions};
    /// let empty = VerifierOptions::new("https://idp", "api").algorithms([]);
    /// assert_eq!(empty.build().unwrap_err(), OptionsError::NoAlgorithms);
    /// ```
    #[must_use]
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Scopes every token must grant (through `scope` or `scp`), matched exactly.
    ///
    /// ```
    /// use m4_jwt_verify::{OptionsError, VerifierOptions};
    /// let joined = VerifierOptions::new("https://idp", "api").required_scopes(["a b"]);
    /// assert!(matches!(joined.build(), Err(OptionsError::InvalidScope { .. })));
    /// ```
    #[must_use]
    pub fn required_scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.required_scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Clock-skew allowance for `exp`, `nbf` and `iat`, in seconds (default 60, at most 600).
    ///
    /// ```
    /// let options = m4_jwt_verify::VerifierOptions::new("https://idp", "api").leeway(0);
    /// assert!(options.build().is_ok());
    /// ```
    #[must_use]
    pub fn leeway(mut self, secs: u64) -> Self {
        self.leeway = secs;
        self
    }

    /// Longest token accepted, in bytes (default 16 KiB; 512 B to 1 MiB).
    ///
    /// ```
    /// let options = m4_jwt_verify::VerifierOptions::new("https://idp", "api").max_token_size(8192);
    /// assert!(options.build().is_ok());
    /// ```
    #[must_use]
    pub fn max_token_size(mut self, bytes: usize) -> Self {
        self.max_token_size = bytes;
        self
    }

    /// The clock used for `exp`, `nbf` and `iat` (default [`SystemClock`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use m4_jwt_verify::{ManualClock, VerifierOptions};
    /// let clock = Arc::new(ManualClock::new(1_700_000_000));
    /// let options = VerifierOptions::new("https://idp", "api").clock(clock.clone());
    /// # assert!(options.build().is_ok());
    /// ```
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// DANGER: accept tokens without `exp` and tokens whose `exp` has passed
    /// (`M4_OAUTH2_VALIDATE_EXP=false`). A present `exp` must still be a number.
    ///
    /// ```
    /// let options = m4_jwt_verify::VerifierOptions::new("https://idp", "api")
    ///     .danger_disable_exp_validation();
    /// # assert!(options.build().is_ok());
    /// ```
    #[must_use]
    pub fn danger_disable_exp_validation(mut self) -> Self {
        self.validate_exp = false;
        self
    }

    /// DANGER: accept tokens meant for any audience (`M4_OAUTH2_VALIDATE_AUD=false`).
    /// A present `aud` must still be a string or an array of strings.
    ///
    /// ```
    /// let options = m4_jwt_verify::VerifierOptions::new("https://idp", "")
    ///     .danger_disable_aud_validation();
    /// assert!(options.build().is_ok());
    /// ```
    #[must_use]
    pub fn danger_disable_aud_validation(mut self) -> Self {
        self.validate_aud = false;
        self
    }

    /// DANGER: accept tokens from any issuer that holds a key in the resolver
    /// (`M4_OAUTH2_VALIDATE_ISS=false`). A present `iss` must still be a string.
    ///
    /// ```
    /// let options = m4_jwt_verify::VerifierOptions::new("", "api")
    ///     .danger_disable_iss_validation();
    /// assert!(options.build().is_ok());
    /// ```
    #[must_use]
    pub fn danger_disable_iss_validation(mut self) -> Self {
        self.validate_iss = false;
        self
    }

    /// Checks the options and builds the verifier.
    ///
    /// ```
    /// use m4_jwt_verify::{OptionsError, VerifierOptions};
    /// assert_eq!(VerifierOptions::new("", "api").build().unwrap_err(), OptionsError::EmptyIssuer);
    /// ```
    ///
    /// # Errors
    /// An [`OptionsError`] for an empty allowlist, an empty issuer or audience that is
    /// validated, a required scope that is empty or contains whitespace, or a leeway or
    /// maximum size out of range.
    pub fn build(self) -> Result<Verifier, OptionsError> {
        if self.algorithms.is_empty() {
            return Err(OptionsError::NoAlgorithms);
        }
        if self.validate_iss && self.issuer.is_empty() {
            return Err(OptionsError::EmptyIssuer);
        }
        if self.validate_aud && self.audience.is_empty() {
            return Err(OptionsError::EmptyAudience);
        }
        if let Some(bad) = self
            .required_scopes
            .iter()
            .find(|s| s.is_empty() || s.chars().any(char::is_whitespace))
        {
            return Err(OptionsError::InvalidScope {
                scope: printable(bad),
            });
        }
        if self.leeway > MAX_LEEWAY_SECS {
            return Err(OptionsError::LeewayTooLarge {
                secs: self.leeway,
                max: MAX_LEEWAY_SECS,
            });
        }
        if !(MIN_MAX_TOKEN_SIZE..=MAX_MAX_TOKEN_SIZE).contains(&self.max_token_size) {
            return Err(OptionsError::MaxTokenSize {
                bytes: self.max_token_size,
                min: MIN_MAX_TOKEN_SIZE,
                max: MAX_MAX_TOKEN_SIZE,
            });
        }
        let mut allowed = [false; Algorithm::ALL.len()];
        for alg in &self.algorithms {
            if let Some(slot) = allowed.get_mut(alg.index()) {
                *slot = true;
            }
        }
        let algorithms = Algorithm::ALL
            .into_iter()
            .filter(|a| allowed.get(a.index()).copied().unwrap_or(false))
            .collect();
        let required_scopes: BTreeSet<String> = self.required_scopes.into_iter().collect();
        Ok(Verifier {
            inner: Arc::new(Inner {
                issuer: self.issuer,
                audience: self.audience,
                allowed,
                algorithms,
                required_scopes: required_scopes.into_iter().collect(),
                leeway: i128::from(self.leeway),
                max_token_size: self.max_token_size,
                validate_exp: self.validate_exp,
                validate_aud: self.validate_aud,
                validate_iss: self.validate_iss,
                clock: self.clock,
            }),
        })
    }
}

struct Inner {
    issuer: String,
    audience: String,
    allowed: [bool; Algorithm::ALL.len()],
    algorithms: Vec<Algorithm>,
    /// Sorted and deduplicated.
    required_scopes: Vec<String>,
    leeway: i128,
    max_token_size: usize,
    validate_exp: bool,
    validate_aud: bool,
    validate_iss: bool,
    clock: Arc<dyn Clock>,
}

/// Verifies access tokens; immutable, `Send + Sync`, and cheap to clone (one `Arc`).
///
/// ```
/// use std::sync::Arc;
/// use m4_jwt_verify::{JwkSet, ManualClock, VerifierOptions};
///
/// let keys = JwkSet::from_json(include_bytes!(concat!(
///     env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/keys/jwks.json"
/// )))?;
/// let verifier = VerifierOptions::new("https://idp.example.com", "m4-api")
///     .clock(Arc::new(ManualClock::new(1_700_000_000)))
///     .build()?;
/// let err = verifier.verify("not-a-token", &keys).unwrap_err();
/// assert_eq!(err.code(), "malformed_token");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Verifier")
            .field("issuer", &i.issuer)
            .field("audience", &i.audience)
            .field("algorithms", &i.algorithms)
            .field("required_scopes", &i.required_scopes)
            .field("leeway", &i.leeway)
            .field("max_token_size", &i.max_token_size)
            .field("validate_exp", &i.validate_exp)
            .field("validate_aud", &i.validate_aud)
            .field("validate_iss", &i.validate_iss)
            .finish_non_exhaustive()
    }
}

/// A token whose signature and claims were verified. Holds no token text (only its decoded,
/// verified payload, from which [`claims`](VerifiedToken::claims) is built on first use).
#[derive(Clone)]
pub struct VerifiedToken {
    sub: String,
    scopes: BTreeSet<String>,
    iss: Option<String>,
    aud: Vec<String>,
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
    kid: String,
    alg: Algorithm,
    /// The decoded payload, already parsed once (strictly) by the verifier.
    payload: Vec<u8>,
    /// `payload` as a JSON object, built on the first call of [`VerifiedToken::claims`]: most
    /// callers only read the typed fields, and building it costs allocations for every claim.
    claims: OnceLock<Value>,
}

impl fmt::Debug for VerifiedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedToken")
            .field("sub", &self.sub)
            .field("scopes", &self.scopes)
            .field("iss", &self.iss)
            .field("aud", &self.aud)
            .field("exp", &self.exp)
            .field("nbf", &self.nbf)
            .field("iat", &self.iat)
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            // Claim names only: the values of custom claims (names, e-mail addresses, tenant
            // data) do not belong in logs that print a token with `{:?}`.
            .field("claim_names", &ClaimNames(self.claims()))
            .finish()
    }
}

/// `Debug` of a claim set that shows the member names, never their values.
struct ClaimNames<'a>(&'a Value);

impl fmt::Debug for ClaimNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_object() {
            Some(map) => f.debug_list().entries(map.keys()).finish(),
            None => f.write_str("[]"),
        }
    }
}

impl PartialEq for VerifiedToken {
    fn eq(&self, other: &Self) -> bool {
        self.sub == other.sub
            && self.scopes == other.scopes
            && self.iss == other.iss
            && self.aud == other.aud
            && self.exp == other.exp
            && self.nbf == other.nbf
            && self.iat == other.iat
            && self.kid == other.kid
            && self.alg == other.alg
            && self.claims() == other.claims()
    }
}

impl VerifiedToken {
    /// The `sub` claim (non-empty).
    pub fn sub(&self) -> &str {
        &self.sub
    }

    /// The granted scopes: the union of `scope` and `scp`.
    pub fn scopes(&self) -> &BTreeSet<String> {
        &self.scopes
    }

    /// Whether `scope` was granted (exact, case-sensitive).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }

    /// The `iss` claim, if present.
    pub fn iss(&self) -> Option<&str> {
        self.iss.as_deref()
    }

    /// The `aud` claim as a list (a single string becomes one element; absent is empty).
    pub fn aud(&self) -> &[String] {
        &self.aud
    }

    /// The `exp` claim in seconds since the epoch (rounded down), if present.
    pub fn exp(&self) -> Option<i64> {
        self.exp
    }

    /// The `nbf` claim in seconds since the epoch (rounded up), if present.
    pub fn nbf(&self) -> Option<i64> {
        self.nbf
    }

    /// The `iat` claim in seconds since the epoch (rounded up), if present.
    pub fn iat(&self) -> Option<i64> {
        self.iat
    }

    /// The `kid` of the key that verified the signature.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm of the verified signature.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// Every claim, as a JSON object, for callers that need custom claims.
    ///
    /// Built from the verified payload on the first call (and kept): the payload was already
    /// parsed by the verifier with the same strict parser, so this cannot fail.
    pub fn claims(&self) -> &Value {
        self.claims
            .get_or_init(|| match StrictObject::parse(&self.payload) {
                StrictObject::Object(map) => Value::Object(map),
                // Unreachable: `verify` accepted these bytes with a parser that accepts exactly
                // what `StrictObject::parse` accepts (tested in `json::claims_tests`).
                StrictObject::Duplicate(_) | StrictObject::NotAnObject => Value::Object(Map::new()),
            })
    }
}

fn decode_segment(text: &str, segment: Segment) -> Result<Vec<u8>, Error> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| Error::InvalidBase64 { segment })
}

/// Decodes a segment into `stack` when it fits (no allocation), else into `heap`; as strict as
/// [`decode_segment`] (same engine), with the same errors.
fn decode_segment_into<'b>(
    text: &str,
    segment: Segment,
    stack: &'b mut [u8],
    heap: &'b mut Vec<u8>,
) -> Result<&'b [u8], Error> {
    if base64::decoded_len_estimate(text.len()) <= stack.len() {
        match URL_SAFE_NO_PAD.decode_slice(text, stack) {
            Ok(len) => return stack.get(..len).ok_or(Error::InvalidBase64 { segment }),
            Err(base64::DecodeSliceError::DecodeError(_)) => {
                return Err(Error::InvalidBase64 { segment });
            }
            // Cannot happen with the estimate checked above; the heap path below still decodes.
            Err(base64::DecodeSliceError::OutputSliceTooSmall) => {}
        }
    }
    *heap = decode_segment(text, segment)?;
    Ok(heap)
}

/// Stack room for a decoded header (real ones are well under 200 bytes; longer ones use the heap).
const HEADER_STACK: usize = 256;
/// Stack room for a decoded signature: RSA up to 4096 bits and every EC or EdDSA signature
/// (larger RSA signatures use the heap). Kept small because the buffer is zeroed on every call.
const SIGNATURE_STACK: usize = 512;

/// A NumericDate (RFC 7519 §2): a JSON number of seconds, possibly fractional. `round_up`
/// picks the conservative direction (up for `nbf`, down for `exp`).
fn numeric_date(value: &Value, round_up: bool) -> Option<i64> {
    let Value::Number(n) = value else {
        return None;
    };
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    if n.as_u64().is_some() {
        return Some(i64::MAX);
    }
    let f = n.as_f64()?;
    let f = if round_up { f.ceil() } else { f.floor() };
    // `as` saturates at the i64 bounds; JSON numbers are always finite.
    Some(f as i64)
}

/// Whether a `typ` header names an access token: `JWT` (RFC 7519 §5.1) or `at+jwt`
/// (RFC 9068 §2.1), compared case-insensitively as media types are, with the `application/`
/// prefix optional (RFC 7515 §4.1.9).
fn is_access_token_type(typ: &str) -> bool {
    media_subtype(typ)
        .is_some_and(|s| s.eq_ignore_ascii_case("jwt") || s.eq_ignore_ascii_case("at+jwt"))
}

/// Whether a `cty` header names a nested JWT: `JWT` (RFC 7519 §5.2), case-insensitively, with
/// the `application/` prefix optional (RFC 7515 §4.1.10).
fn is_jwt_media_type(cty: &str) -> bool {
    media_subtype(cty).is_some_and(|s| s.eq_ignore_ascii_case("jwt"))
}

/// A `typ` or `cty` value without its optional `application/` prefix (any case), as
/// RFC 7515 §4.1.9 and §4.1.10 allow it to be omitted.
fn media_subtype(value: &str) -> Option<&str> {
    const PREFIX: &str = "application/";
    match value.get(..PREFIX.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(PREFIX) => value.get(PREFIX.len()..),
        _ => Some(value),
    }
}

/// The optional NumericDate claim `name` ([`numeric_date`]), or the error naming it when it
/// is present but not a number.
fn date_claim(
    value: Option<&Value>,
    name: &'static str,
    round_up: bool,
) -> Result<Option<i64>, Error> {
    value
        .map(|v| {
            numeric_date(v, round_up).ok_or(Error::ClaimType {
                name,
                expected: "a number of seconds since the epoch",
            })
        })
        .transpose()
}

/// Checks the value of a `sub` claim as [`Verifier::verify`] does (it calls this function),
/// for tools that explain a token claim by claim and must agree with the verifier.
///
/// `sub` becomes the rate-limit key and names the user in logs, so it must be non-empty, hold
/// no control character ([`char::is_control`]: a forged or split log line, a terminal escape)
/// and not be only whitespace ([`str::trim`]: distinct tokens sharing one identity). Control
/// characters are checked first, so `"\n"` is named as U+000A. The errors never echo the
/// value. Whether `sub` is present and a string is the caller's to check
/// ([`Error::MissingClaim`], [`Error::ClaimType`]).
///
/// ```
/// use m4_jwt_verify::{Error, check_subject};
///
/// assert_eq!(check_subject("user-42"), Ok(()));
/// assert_eq!(check_subject("line\u{2028}separator"), Ok(()));
/// assert_eq!(check_subject(""), Err(Error::EmptySubject));
/// assert_eq!(check_subject(" \u{3000}"), Err(Error::BlankSubject));
/// let err = check_subject("eve\u{1b}[31m").unwrap_err();
/// assert_eq!(err, Error::SubjectControlCharacter { found: '\u{1b}' });
/// assert_eq!(err.code(), "invalid_claims");
/// ```
///
/// # Errors
/// [`Error::EmptySubject`], [`Error::SubjectControlCharacter`] naming the first control
/// character, or [`Error::BlankSubject`].
pub fn check_subject(sub: &str) -> Result<(), Error> {
    if sub.is_empty() {
        return Err(Error::EmptySubject);
    }
    if let Some(found) = sub.chars().find(|c| c.is_control()) {
        return Err(Error::SubjectControlCharacter { found });
    }
    if sub.trim().is_empty() {
        return Err(Error::BlankSubject);
    }
    Ok(())
}

/// Checks that a token is not sender-constrained, as [`Verifier::verify`] does (it calls this
/// function), for tools that explain a token claim by claim and must agree with the verifier.
///
/// `cnf` is the token's `cnf` (confirmation, RFC 7800) claim, `None` when the token has none.
/// A token bound to a key, by DPoP (`cnf.jkt`, RFC 9449) or mutual TLS (`cnf.x5t#S256`,
/// RFC 8705), is only valid with a proof of possession of that key, which m4-auth cannot
/// check: any `cnf`, whatever its value (`null` and `{}` included), is refused.
///
/// ```
/// use m4_jwt_verify::{Error, check_unbound};
/// use serde_json::json;
///
/// let claims = json!({"sub": "user-42", "cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}});
/// assert_eq!(check_unbound(claims.get("cnf")), Err(Error::SenderConstrained));
/// assert_eq!(check_unbound(Some(&serde_json::Value::Null)), Err(Error::SenderConstrained));
/// assert_eq!(check_unbound(None), Ok(()));
/// ```
///
/// # Errors
/// [`Error::SenderConstrained`] when `cnf` is present.
pub fn check_unbound(cnf: Option<&Value>) -> Result<(), Error> {
    match cnf {
        None => Ok(()),
        Some(_) => Err(Error::SenderConstrained),
    }
}

const SCOPE_TYPE: &str = "a space-separated string or an array of strings";

fn add_scopes(
    claim: Option<&Value>,
    name: &'static str,
    into: &mut BTreeSet<String>,
) -> Result<(), Error> {
    match claim {
        None => Ok(()),
        Some(Value::String(s)) => {
            into.extend(s.split(' ').filter(|s| !s.is_empty()).map(str::to_owned));
            Ok(())
        }
        Some(Value::Array(items)) => {
            for item in items {
                let s = item.as_str().ok_or(Error::ClaimType {
                    name,
                    expected: SCOPE_TYPE,
                })?;
                if !s.is_empty() {
                    into.insert(s.to_owned());
                }
            }
            Ok(())
        }
        Some(_) => Err(Error::ClaimType {
            name,
            expected: SCOPE_TYPE,
        }),
    }
}

impl Inner {
    /// `exp` against `now` with the leeway, when expiry is validated.
    fn check_exp(&self, now: i128, exp: Option<i64>) -> Result<(), Error> {
        if self.validate_exp && exp.is_some_and(|exp| now >= i128::from(exp) + self.leeway) {
            return Err(Error::Expired);
        }
        Ok(())
    }

    /// `nbf` against `now` with the leeway.
    fn check_nbf(&self, now: i128, nbf: Option<i64>) -> Result<(), Error> {
        if nbf.is_some_and(|nbf| now + self.leeway < i128::from(nbf)) {
            return Err(Error::NotYetValid);
        }
        Ok(())
    }

    /// `iat` against `now` with the leeway: a token may not claim to be issued in the future.
    fn check_iat(&self, now: i128, iat: Option<i64>) -> Result<(), Error> {
        if iat.is_some_and(|iat| now + self.leeway < i128::from(iat)) {
            return Err(Error::IssuedInFuture {
                leeway: u64::try_from(self.leeway).unwrap_or(MAX_LEEWAY_SECS),
            });
        }
        Ok(())
    }

    /// Every required scope `has`, or the missing ones (sorted, as the required list is).
    fn check_scopes(&self, has: impl Fn(&str) -> bool) -> Result<(), Error> {
        let missing: Vec<String> = self
            .required_scopes
            .iter()
            .filter(|s| !has(s))
            .cloned()
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Error::MissingScopes { missing })
        }
    }
}

impl Verifier {
    /// Re-applies, now, the checks of [`verify`](Self::verify) whose answer can change for a
    /// token this verifier already verified: `exp` (when validated), `nbf` and `iat` against
    /// the clock with the leeway, then the required scopes, in `verify`'s order and with its
    /// errors. For caches of verified tokens: with the key still served (the caller's part),
    /// a hit then answers exactly as a fresh verification would at this instant.
    ///
    /// # Errors
    ///
    /// [`Error::Expired`], [`Error::NotYetValid`], [`Error::IssuedInFuture`] (only if the
    /// clock went back) or [`Error::MissingScopes`].
    pub fn recheck(&self, token: &VerifiedToken) -> Result<(), Error> {
        self.recheck_at(token, self.inner.clock.now_unix())
    }

    /// [`recheck`](Self::recheck) at `now_unix`, which must be a reading of this verifier's
    /// clock taken just before the call (a cache that reads the clock once per hit): the time
    /// checks are as of that instant, so an older reading would let a token that has expired
    /// since pass. Given the same instant, the two answer alike (`tests/valid.rs` checks both
    /// against a fresh verification).
    ///
    /// # Errors
    ///
    /// As [`recheck`](Self::recheck).
    pub fn recheck_at(&self, token: &VerifiedToken, now_unix: u64) -> Result<(), Error> {
        let inner = &*self.inner;
        let now = i128::from(now_unix);
        inner.check_exp(now, token.exp())?;
        inner.check_nbf(now, token.nbf())?;
        inner.check_iat(now, token.iat())?;
        inner.check_scopes(|s| token.has_scope(s))
    }

    /// The largest token, in bytes, this verifier reads ([`VerifierOptions::max_token_size`]);
    /// anything longer is refused before it is decoded.
    #[must_use]
    pub fn max_token_size(&self) -> usize {
        self.inner.max_token_size
    }

    /// The allowed algorithms, in [`Algorithm::ALL`] order.
    ///
    /// ```
    /// let v = m4_jwt_verify::VerifierOptions::new("https://idp", "api").build().unwrap();
    /// assert_eq!(v.algorithms(), m4_jwt_verify::DEFAULT_ALGORITHMS);
    /// ```
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.inner.algorithms
    }

    /// Verifies a compact JWS access token (without any `Bearer ` prefix) against keys from
    /// `keys`.
    ///
    /// See the crate documentation for a full example and the module documentation for the
    /// order of checks.
    ///
    /// ```
    /// # let keys = m4_jwt_verify::JwkSet::default();
    /// let verifier = m4_jwt_verify::VerifierOptions::new("https://idp", "api").build()?;
    /// let err = verifier.verify("eyJhbGciOiJub25lIn0.e30.", &keys).unwrap_err();
    /// assert_eq!(err.code(), "unsupported_algorithm");
    /// assert_eq!(err.to_string(), "Token algorithm \"none\" is not allowed");
    /// # Ok::<(), m4_jwt_verify::OptionsError>(())
    /// ```
    ///
    /// # Errors
    /// An [`Error`] naming the first check that failed; [`Error::code`] gives its stable code.
    pub fn verify(&self, token: &str, keys: &dyn KeyResolver) -> Result<VerifiedToken, Error> {
        let inner = &*self.inner;

        // 1. Size, before anything else is looked at.
        if token.is_empty() {
            return Err(Error::EmptyToken);
        }
        if token.len() > inner.max_token_size {
            return Err(Error::TokenTooLarge {
                size: token.len(),
                max: inner.max_token_size,
            });
        }

        // 2. Exactly three unpadded base64url segments.
        let mut segments = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(Error::SegmentCount {
                found: token.split('.').count(),
            });
        };
        let (mut header_stack, mut header_heap) = ([0u8; HEADER_STACK], Vec::new());
        let header = decode_segment_into(
            header_b64,
            Segment::Header,
            &mut header_stack,
            &mut header_heap,
        )?;
        // The payload is kept by the VerifiedToken, so it goes to the heap directly.
        let payload = decode_segment(payload_b64, Segment::Payload)?;
        let (mut signature_stack, mut signature_heap) = ([0u8; SIGNATURE_STACK], Vec::new());
        let signature = decode_segment_into(
            signature_b64,
            Segment::Signature,
            &mut signature_stack,
            &mut signature_heap,
        )?;

        // 3. The header: a JSON object with unique names.
        let header = match ParsedHeader::parse(header) {
            ParsedHeader::Header(h) => h,
            ParsedHeader::Duplicate(name) => {
                return Err(Error::DuplicateHeaderParameter {
                    name: printable(&name),
                });
            }
            ParsedHeader::NotAnObject => return Err(Error::HeaderNotObject),
        };

        // 4. `alg` in the allowlist (`none` and HS* cannot even be parsed).
        let alg = match &header.alg {
            StrParam::Absent => return Err(Error::MissingAlgorithm),
            StrParam::Str(name) => Algorithm::from_jose(name)
                .filter(|a| inner.allowed.get(a.index()).copied().unwrap_or(false))
                .ok_or_else(|| Error::UnsupportedAlgorithm {
                    alg: printable(name),
                })?,
            StrParam::NotAString => {
                return Err(Error::HeaderParameterType {
                    name: "alg",
                    expected: "a string",
                });
            }
        };

        // 5. `crit`: this verifier implements no JWS extension, so any critical one is unknown.
        if let Some(crit) = &header.crit {
            return Err(match crit.as_array() {
                Some(names) if !names.is_empty() && names.iter().all(Value::is_string) => {
                    let names: Vec<String> = names
                        .iter()
                        .filter_map(Value::as_str)
                        .take(8)
                        .map(|n| format!("\"{}\"", printable(n)))
                        .collect();
                    Error::CriticalHeader {
                        names: names.join(", "),
                    }
                }
                _ => Error::HeaderParameterType {
                    name: "crit",
                    expected: "a non-empty array of strings",
                },
            });
        }
        if header.b64.as_ref().is_some_and(|b| b != &Value::Bool(true)) {
            return Err(Error::UnencodedPayload);
        }
        // `cty`: a JWT's payload is its claims set. `JWT` declares a nested token (RFC 7519
        // §5.2), which m4-auth never processes; any other content type is not a claims set
        // either (RFC 8725 §2.8, §3.11: be explicit about what is accepted).
        match &header.cty {
            StrParam::Absent => {}
            StrParam::Str(cty) if is_jwt_media_type(cty) => {
                return Err(Error::NestedToken {
                    cty: printable(cty),
                });
            }
            StrParam::Str(cty) => {
                return Err(Error::UnexpectedContentType {
                    cty: printable(cty),
                });
            }
            StrParam::NotAString => {
                return Err(Error::HeaderParameterType {
                    name: "cty",
                    expected: "absent (an access token's payload is its claims set)",
                });
            }
        }
        match &header.typ {
            StrParam::Absent => {}
            StrParam::Str(typ) if is_access_token_type(typ) => {}
            StrParam::Str(typ) => {
                return Err(Error::UnexpectedType {
                    typ: printable(typ),
                });
            }
            StrParam::NotAString => {
                return Err(Error::HeaderParameterType {
                    name: "typ",
                    expected: "a string",
                });
            }
        }

        // 6. `kid`, the only way a key is selected (jku, x5u, jwk and x5c are ignored).
        let kid: &str = match &header.kid {
            StrParam::Absent => return Err(Error::MissingKid),
            StrParam::Str(kid) if kid.is_empty() => return Err(Error::MissingKid),
            StrParam::Str(kid) => kid,
            StrParam::NotAString => {
                return Err(Error::HeaderParameterType {
                    name: "kid",
                    expected: "a string",
                });
            }
        };

        // 7. The key, compatible with `alg` (checked again whatever the resolver did).
        let key = keys.resolve(kid, alg).map_err(|e| match e {
            KeyLookupError::UnknownKid => Error::UnknownKid {
                kid: printable(kid),
            },
            KeyLookupError::Unavailable { reason } => Error::JwksUnavailable { reason },
            KeyLookupError::Unusable { reason } => Error::KeyUnusable {
                kid: printable(kid),
                alg,
                reason,
            },
        })?;
        key.check_compatible(alg)
            .map_err(|reason| Error::KeyUnusable {
                kid: printable(kid),
                alg,
                reason,
            })?;

        // 8. The signature over the exact received `header.payload` bytes.
        let signing_input = token
            .get(..header_b64.len() + 1 + payload_b64.len())
            .ok_or(Error::InvalidSignature)?;
        if !key.verify_signature(alg, signing_input.as_bytes(), signature) {
            return Err(Error::InvalidSignature);
        }

        // 9. Claims, authenticated from here on.
        let claims = match ParsedClaims::parse(&payload) {
            ParsedClaims::Claims(claims) => claims,
            ParsedClaims::Duplicate(name) => {
                return Err(Error::DuplicateClaim {
                    name: printable(&name),
                });
            }
            ParsedClaims::NotAnObject => return Err(Error::PayloadNotObject),
        };
        self.check_claims(claims, payload, kid.to_owned(), alg)
    }

    fn check_claims(
        &self,
        claims: Claims,
        payload: Vec<u8>,
        kid: String,
        alg: Algorithm,
    ) -> Result<VerifiedToken, Error> {
        let inner = &*self.inner;
        let now = i128::from(inner.clock.now_unix());

        let exp = date_claim(claims.exp.as_ref(), "exp", false)?;
        if exp.is_none() && inner.validate_exp {
            return Err(Error::MissingClaim { name: "exp" });
        }
        inner.check_exp(now, exp)?;

        let nbf = date_claim(claims.nbf.as_ref(), "nbf", true)?;
        inner.check_nbf(now, nbf)?;

        // Rounded up as `nbf` is: both say "not before", so the strict direction is up.
        let iat = date_claim(claims.iat.as_ref(), "iat", true)?;
        inner.check_iat(now, iat)?;

        let iss = match claims.iss {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                return Err(Error::ClaimType {
                    name: "iss",
                    expected: "a string",
                });
            }
        };
        if inner.validate_iss {
            match &iss {
                None => return Err(Error::MissingIssuer),
                Some(found) if *found != inner.issuer => {
                    return Err(Error::WrongIssuer {
                        found: printable(found),
                        expected: printable(&inner.issuer),
                    });
                }
                Some(_) => {}
            }
        }

        const AUD_TYPE: &str = "a string or an array of strings";
        let aud_present = claims.aud.is_some();
        let aud: Vec<String> = match claims.aud {
            None => Vec::new(),
            Some(Value::String(s)) => vec![s],
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Some(s),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .ok_or(Error::ClaimType {
                    name: "aud",
                    expected: AUD_TYPE,
                })?,
            Some(_) => {
                return Err(Error::ClaimType {
                    name: "aud",
                    expected: AUD_TYPE,
                });
            }
        };
        if inner.validate_aud {
            if !aud_present {
                return Err(Error::MissingAudience);
            }
            if !aud.contains(&inner.audience) {
                return Err(Error::WrongAudience {
                    expected: printable(&inner.audience),
                });
            }
        }

        // RFC 7800 `cnf`: a sender-constrained token (DPoP, RFC 9449 §7.2; mTLS, RFC 8705 §3)
        // needs its binding checked by the resource server, which m4-auth cannot do; accepting
        // it as a bearer token would let a stolen bound token work here. Any value counts as
        // present (`null`, `{}`, an unknown method): fail closed, one rule to explain.
        check_unbound(claims.cnf.as_ref())?;

        let sub = match claims.sub {
            None => return Err(Error::MissingClaim { name: "sub" }),
            // `sub` becomes the rate-limit key and is written in logs and `whoami`: see
            // `check_subject`, which `m4-auth doctor` calls too.
            Some(Value::String(s)) => {
                check_subject(&s)?;
                s
            }
            Some(_) => {
                return Err(Error::ClaimType {
                    name: "sub",
                    expected: "a string",
                });
            }
        };

        let mut scopes = BTreeSet::new();
        add_scopes(claims.scope.as_ref(), "scope", &mut scopes)?;
        add_scopes(claims.scp.as_ref(), "scp", &mut scopes)?;
        inner.check_scopes(|s| scopes.contains(s))?;

        Ok(VerifiedToken {
            sub,
            scopes,
            iss,
            aud,
            exp,
            nbf,
            iat,
            kid,
            alg,
            payload,
            claims: OnceLock::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numeric_dates_round_conservatively() {
        assert_eq!(numeric_date(&json!(10), false), Some(10));
        assert_eq!(numeric_date(&json!(-10), false), Some(-10));
        assert_eq!(numeric_date(&json!(10.7), false), Some(10));
        assert_eq!(numeric_date(&json!(10.2), true), Some(11));
        assert_eq!(numeric_date(&json!(u64::MAX), false), Some(i64::MAX));
        assert_eq!(numeric_date(&json!(1e300), false), Some(i64::MAX));
        assert_eq!(numeric_date(&json!(-1e300), true), Some(i64::MIN));
        assert_eq!(numeric_date(&json!("10"), false), None);
        assert_eq!(numeric_date(&json!(null), false), None);
        assert_eq!(numeric_date(&json!([10]), false), None);
    }

    #[test]
    fn nested_jwt_content_types() {
        for cty in ["JWT", "jwt", "application/jwt", "APPLICATION/JWT"] {
            assert!(is_jwt_media_type(cty), "{cty}");
        }
        for cty in [
            "",
            "at+jwt",
            "json",
            "application/",
            " JWT",
            "JWT ",
            "jwt+json",
        ] {
            assert!(!is_jwt_media_type(cty), "{cty}");
        }
    }

    #[test]
    fn access_token_types() {
        for typ in [
            "JWT",
            "jwt",
            "Jwt",
            "at+jwt",
            "AT+JWT",
            "application/jwt",
            "application/JWT",
            "Application/At+Jwt",
            "application/at+jwt",
        ] {
            assert!(is_access_token_type(typ), "{typ}");
        }
        for typ in [
            "",
            "dpop+jwt",
            "logout+jwt",
            "secevent+jwt",
            "id_token",
            "JOSE",
            "JOSE+JSON",
            "JWS",
            "at+jwt ",
            " JWT",
            "application/",
            "application/application/jwt",
            "text/jwt",
            "applicationjwt",
            "application/at+jwt; charset=utf-8",
            "at-jwt",
            "application/dpop+jwt",
            "\u{e9}pplication/jwt",
            "appl\u{131}cation/jwt",
        ] {
            assert!(!is_access_token_type(typ), "{typ}");
        }
    }

    #[test]
    fn options_validation() {
        let base = || VerifierOptions::new("https://idp", "api");
        assert_eq!(
            base().algorithms([]).build().unwrap_err(),
            OptionsError::NoAlgorithms
        );
        assert_eq!(
            VerifierOptions::new("", "api").build().unwrap_err(),
            OptionsError::EmptyIssuer
        );
        assert_eq!(
            VerifierOptions::new("https://idp", "").build().unwrap_err(),
            OptionsError::EmptyAudience
        );
        assert_eq!(
            base().required_scopes(["read", ""]).build().unwrap_err(),
            OptionsError::InvalidScope {
                scope: String::new()
            }
        );
        assert_eq!(
            base().required_scopes(["read\tall"]).build().unwrap_err(),
            OptionsError::InvalidScope {
                scope: "read\\tall".into()
            }
        );
        assert_eq!(
            base().leeway(601).build().unwrap_err(),
            OptionsError::LeewayTooLarge {
                secs: 601,
                max: 600
            }
        );
        assert!(base().leeway(600).build().is_ok());
        assert_eq!(
            base().max_token_size(511).build().unwrap_err(),
            OptionsError::MaxTokenSize {
                bytes: 511,
                min: 512,
                max: 1 << 20
            }
        );
        assert!(base().max_token_size(1 << 20).build().is_ok());
        assert!(base().max_token_size((1 << 20) + 1).build().is_err());
    }

    #[test]
    fn allowlist_is_deduplicated_and_ordered() {
        let v = VerifierOptions::new("https://idp", "api")
            .algorithms([Algorithm::ES256, Algorithm::PS256, Algorithm::ES256])
            .build()
            .unwrap();
        assert_eq!(v.algorithms(), [Algorithm::PS256, Algorithm::ES256]);
    }

    #[test]
    fn verifier_is_send_sync_and_debug_has_no_clock_internals() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<Verifier>();
        let v = VerifierOptions::new("https://idp", "api")
            .required_scopes(["b", "a", "b"])
            .build()
            .unwrap();
        assert_eq!(
            format!("{v:?}"),
            r#"Verifier { issuer: "https://idp", audience: "api", algorithms: [RS256, ES256], required_scopes: ["a", "b"], leeway: 60, max_token_size: 16384, validate_exp: true, validate_aud: true, validate_iss: true, .. }"#
        );
    }
}
