//! INTERFACE STUB (to be replaced by the implementation): the provider's signing keys.
//! Generated at first start, kept in `signing_keys` encrypted with `CREDS_KEY`, so that every
//! instance signs alike; a rotation adds a key and keeps the old ones published until their
//! tokens have expired.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::clock::Clock;
use crate::config::provider::SigningAlg;
use crate::store::Db;

/// A token whose signature does not check out against a published key (unknown `kid`, an
/// algorithm other than the key's — `none` and `HS*` never pass —, a bad signature, or
/// not a JWT at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid signature")]
pub struct InvalidSignature;

/// The published and the signing keys, in memory.
pub struct SigningKeys {
    _db: Db,
}

impl SigningKeys {
    /// Loads the keys in force, generating and storing the first one when there is none. Two
    /// instances starting together end up signing with the same key.
    /// `published_for_ms`: how long a retired key stays in the JWKS (the longest token life).
    pub async fn load(
        db: Db,
        creds_key: [u8; 32],
        alg: SigningAlg,
        clock: Arc<dyn Clock>,
        published_for_ms: i64,
    ) -> anyhow::Result<Self> {
        let _ = (creds_key, alg, clock, published_for_ms);
        Ok(Self { _db: db })
    }

    /// Re-reads the keys from the database (after `bouncer rotate-signing-key`).
    pub async fn reload(&self) -> crate::error::Result<()> {
        Ok(())
    }

    /// Signs `claims` with the newest key: header `alg` of the key, its `kid`, and `typ`
    /// (`"JWT"` for ID tokens, `"at+jwt"` for access tokens, RFC 9068).
    pub fn sign(&self, typ: &str, claims: &impl Serialize) -> anyhow::Result<String> {
        let _ = (typ, serde_json::to_value(claims)?);
        anyhow::bail!("stub")
    }

    /// Checks the signature against the published keys (by `kid`, with the key's own
    /// algorithm) and returns the header's `typ` and the claims. No claim is checked here:
    /// expiry, issuer and audience are the caller's.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<(Option<String>, T), InvalidSignature> {
        let _ = token;
        Err(InvalidSignature)
    }

    /// The JWKS document (`{"keys": [...]}`): every key in force or retired less than
    /// `published_for_ms` ago.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [] })
    }

    /// The algorithms keys are signed with (discovery's `id_token_signing_alg_values_supported`).
    pub fn algorithms(&self) -> Vec<&'static str> {
        vec!["RS256"]
    }
}

/// Adds a new signing key and retires the others (`bouncer rotate-signing-key`). Returns the
/// new key's `kid`.
pub async fn rotate(
    db: &Db,
    creds_key: [u8; 32],
    alg: SigningAlg,
    now_ms: i64,
) -> crate::error::Result<String> {
    let _ = (db, creds_key, alg, now_ms);
    Ok(String::new())
}
