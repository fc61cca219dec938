//! [`Principal`]: who made an authenticated call.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use m4_jwt_verify::{Algorithm, VerifiedToken};
use serde_json::Value;

/// The `sub` an anonymous principal reports.
pub const ANONYMOUS_SUB: &str = "anonymous";

static NO_SCOPES: BTreeSet<String> = BTreeSet::new();

/// The caller behind an accepted request: a verified token's subject, scopes and claims, or
/// the anonymous principal when authentication is disabled.
///
/// Cheap to clone (one `Arc`); it holds no token text, so it can be logged with `Debug`.
///
/// When `M4_OAUTH2_ENABLED` is false every call is accepted as the anonymous principal, as the
/// seed promises ("When disabled, all MCP tools are accessible without authentication"): its
/// [`sub`](Principal::sub) is `"anonymous"`, it has no scopes and no claims, and
/// [`is_anonymous`](Principal::is_anonymous) is true. A token's `sub` may also be the string
/// `"anonymous"`: tell them apart with `is_anonymous`, never by comparing `sub`.
///
/// ```
/// let p = m4_auth::Principal::anonymous();
/// assert!(p.is_anonymous());
/// assert_eq!(p.sub(), "anonymous");
/// assert!(p.scopes().is_empty());
/// assert!(p.claims().is_none());
/// ```
#[derive(Clone)]
pub struct Principal {
    inner: Arc<Identity>,
}

#[allow(
    clippy::large_enum_variant,
    reason = "always behind one Arc; boxing the token would add a second allocation per principal"
)]
enum Identity {
    Anonymous,
    Verified(VerifiedToken),
}

impl Principal {
    /// The anonymous principal of a disabled authenticator.
    ///
    /// ```
    /// assert!(m4_auth::Principal::anonymous().is_anonymous());
    /// ```
    pub fn anonymous() -> Self {
        Self {
            inner: Arc::new(Identity::Anonymous),
        }
    }

    pub(crate) fn verified(token: VerifiedToken) -> Self {
        Self {
            inner: Arc::new(Identity::Verified(token)),
        }
    }

    /// Whether `other` is this very principal (a clone of it), not merely an equal one.
    pub(crate) fn same(&self, other: &Principal) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The verified token behind this principal; `None` when anonymous.
    ///
    /// ```
    /// assert!(m4_auth::Principal::anonymous().token().is_none());
    /// ```
    pub fn token(&self) -> Option<&VerifiedToken> {
        match &*self.inner {
            Identity::Anonymous => None,
            Identity::Verified(token) => Some(token),
        }
    }

    /// Whether authentication was disabled and nothing was verified.
    ///
    /// ```
    /// assert!(m4_auth::Principal::anonymous().is_anonymous());
    /// ```
    pub fn is_anonymous(&self) -> bool {
        matches!(&*self.inner, Identity::Anonymous)
    }

    /// The token's `sub` claim (the rate-limit key), or `"anonymous"`.
    ///
    /// ```
    /// assert_eq!(m4_auth::Principal::anonymous().sub(), m4_auth::ANONYMOUS_SUB);
    /// ```
    pub fn sub(&self) -> &str {
        self.token().map_or(ANONYMOUS_SUB, VerifiedToken::sub)
    }

    /// The scopes granted (the union of `scope` and `scp`); empty when anonymous.
    ///
    /// ```
    /// assert!(m4_auth::Principal::anonymous().scopes().is_empty());
    /// ```
    pub fn scopes(&self) -> &BTreeSet<String> {
        self.token().map_or(&NO_SCOPES, VerifiedToken::scopes)
    }

    /// Whether `scope` was granted (exact, case-sensitive); always false when anonymous.
    ///
    /// ```
    /// assert!(!m4_auth::Principal::anonymous().has_scope("read:mimic-data"));
    /// ```
    pub fn has_scope(&self, scope: &str) -> bool {
        self.token().is_some_and(|t| t.has_scope(scope))
    }

    /// The token's `iss`, if any.
    ///
    /// ```
    /// assert_eq!(m4_auth::Principal::anonymous().issuer(), None);
    /// ```
    pub fn issuer(&self) -> Option<&str> {
        self.token().and_then(VerifiedToken::iss)
    }

    /// The token's `exp` in seconds since the epoch, if any.
    ///
    /// ```
    /// assert_eq!(m4_auth::Principal::anonymous().expires_at(), None);
    /// ```
    pub fn expires_at(&self) -> Option<i64> {
        self.token().and_then(VerifiedToken::exp)
    }

    /// The `kid` of the key that verified the token.
    ///
    /// ```
    /// assert_eq!(m4_auth::Principal::anonymous().kid(), None);
    /// ```
    pub fn kid(&self) -> Option<&str> {
        self.token().map(VerifiedToken::kid)
    }

    /// The algorithm of the verified signature.
    ///
    /// ```
    /// assert_eq!(m4_auth::Principal::anonymous().alg(), None);
    /// ```
    pub fn alg(&self) -> Option<Algorithm> {
        self.token().map(VerifiedToken::alg)
    }

    /// Every claim of the token, for custom claims; `None` when anonymous.
    ///
    /// ```
    /// assert!(m4_auth::Principal::anonymous().claims().is_none());
    /// ```
    pub fn claims(&self) -> Option<&Value> {
        self.token().map(VerifiedToken::claims)
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.token() {
            None => f.write_str("Principal(anonymous)"),
            Some(t) => f
                .debug_struct("Principal")
                .field("sub", &t.sub())
                .field("scopes", t.scopes())
                .field("iss", &t.iss())
                .field("exp", &t.exp())
                .field("kid", &t.kid())
                .field("alg", &t.alg())
                .finish_non_exhaustive(),
        }
    }
}
