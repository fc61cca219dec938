//! How the verifier obtains keys: the [`KeyResolver`] trait.
//!
//! This crate ships one implementation, the static [`JwkSet`](crate::JwkSet).
//! m4-jwks implements it over a cached, refreshing JWKS fetch; the facade connects the two,
//! so this crate never depends on m4-jwks and never does I/O.

use std::sync::Arc;

use crate::algorithm::Algorithm;
use crate::error::KeyLookupError;
use crate::key::VerifyingKey;

/// A source of verification keys, looked up by `kid` for a given algorithm.
///
/// Implementations must return only keys for which
/// [`VerifyingKey::check_compatible`]`(alg)` holds; the verifier checks again regardless.
///
/// ```
/// use std::sync::Arc;
/// use m4_jwt_verify::{Algorithm, KeyLookupError, KeyResolver, VerifyingKey};
///
/// /// A resolver whose key source is down.
/// struct Down;
/// impl KeyResolver for Down {
///     fn resolve(&self, _kid: &str, _alg: Algorithm) -> Result<Arc<VerifyingKey>, KeyLookupError> {
///         Err(KeyLookupError::Unavailable { reason: "JWKS endpoint timed out".into() })
///     }
/// }
/// assert!(Down.resolve("k", Algorithm::RS256).is_err());
/// ```
pub trait KeyResolver: Send + Sync {
    /// Find the key for `kid` that will verify a token signed with `alg`.
    ///
    /// # Errors
    /// [`KeyLookupError::UnknownKid`] when no key has this kid,
    /// [`KeyLookupError::Unusable`] when the key cannot verify `alg`,
    /// [`KeyLookupError::Unavailable`] when keys cannot be obtained at all.
    fn resolve(&self, kid: &str, alg: Algorithm) -> Result<Arc<VerifyingKey>, KeyLookupError>;
}

impl<T: KeyResolver + ?Sized> KeyResolver for Arc<T> {
    fn resolve(&self, kid: &str, alg: Algorithm) -> Result<Arc<VerifyingKey>, KeyLookupError> {
        (**self).resolve(kid, alg)
    }
}

impl<T: KeyResolver + ?Sized> KeyResolver for &T {
    fn resolve(&self, kid: &str, alg: Algorithm) -> Result<Arc<VerifyingKey>, KeyLookupError> {
        (**self).resolve(kid, alg)
    }
}
