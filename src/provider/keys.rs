//! The provider's signing keys. Generated at first start and kept in `signing_keys`, the
//! private half encrypted with `CREDS_KEY`, so that every instance signs alike; a rotation adds
//! a key and keeps the old ones published until their tokens have expired.
//!
//! A new key is published at once but signs only `ACTIVATE_AFTER_MS` later: by then every
//! instance (re-reading the keys every 30 seconds) knows it, so no instance meets a token signed
//! with a key it has not read yet.
//!
//! Verification accepts a token only under a published key's own algorithm: `alg: none`, an
//! HMAC keyed with the public key, or an RS/ES mix-up never pass.

use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::config::provider::SigningAlg;
use crate::store::signing_keys::{self, StoredKey};
use crate::store::Db;
use crate::twofactor::cipher::SecretCipher;

/// How long a rotated-in key is published before it signs.
pub const ACTIVATE_AFTER_MS: i64 = 60_000;

/// A token whose signature does not check out against a published key (unknown `kid`, an
/// algorithm other than the key's — `none` and `HS*` never pass —, a bad signature, or
/// not a JWT at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid signature")]
pub struct InvalidSignature;

struct PublishedKey {
    kid: String,
    alg: Algorithm,
    decoding: DecodingKey,
}

struct KeySet {
    signing_kid: String,
    signing_alg: Algorithm,
    /// `Err`: the private key cannot be decrypted with this process's `CREDS_KEY` (the server
    /// refuses to start; the operator commands that do not sign still work).
    encoding: Result<EncodingKey, String>,
    published: Vec<PublishedKey>,
    jwks: Value,
}

/// The published and the signing keys, in memory.
pub struct SigningKeys {
    db: Db,
    cipher: SecretCipher,
    alg: SigningAlg,
    clock: Arc<dyn Clock>,
    published_for_ms: i64,
    set: RwLock<Arc<KeySet>>,
    validations: [Validation; 2],
}

fn validation(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    // Claims are the callers' (with the injected clock).
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.required_spec_claims = Default::default();
    v.leeway = 0;
    v
}

fn algorithm(name: &str) -> Option<Algorithm> {
    match name {
        "RS256" => Some(Algorithm::RS256),
        "ES256" => Some(Algorithm::ES256),
        _ => None,
    }
}

/// RFC 7638 thumbprint of a public JWK: the key's id.
fn thumbprint(jwk: &Value) -> String {
    let canonical = match jwk["kty"].as_str() {
        Some("RSA") => json!({ "e": jwk["e"], "kty": "RSA", "n": jwk["n"] }).to_string(),
        _ => json!({ "crv": jwk["crv"], "kty": "EC", "x": jwk["x"], "y": jwk["y"] }).to_string(),
    };
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// A new key pair: the private key as PKCS#8 DER and the public JWK (with `kid`).
fn generate(alg: SigningAlg) -> anyhow::Result<(Vec<u8>, Value)> {
    match alg {
        SigningAlg::Rs256 => {
            use rsa::pkcs8::EncodePrivateKey;
            use rsa::traits::PublicKeyParts;
            let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)?;
            let der = key.to_pkcs8_der()?.as_bytes().to_vec();
            let mut jwk = json!({
                "kty": "RSA",
                "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
                "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
            });
            finish_jwk(&mut jwk, "RS256");
            Ok((der, jwk))
        }
        SigningAlg::Es256 => {
            use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
            let rng = ring::rand::SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| anyhow::anyhow!("generating a P-256 key failed"))?;
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                    .map_err(|_| anyhow::anyhow!("reading the new P-256 key failed"))?;
            // Uncompressed point: 0x04 || x || y.
            let point = pair.public_key().as_ref();
            anyhow::ensure!(point.len() == 65, "unexpected P-256 public key");
            let mut jwk = json!({
                "kty": "EC",
                "crv": "P-256",
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&point[33..]),
            });
            finish_jwk(&mut jwk, "ES256");
            Ok((pkcs8.as_ref().to_vec(), jwk))
        }
    }
}

fn finish_jwk(jwk: &mut Value, alg: &str) {
    let kid = thumbprint(jwk);
    jwk["kid"] = kid.into();
    jwk["alg"] = alg.into();
    jwk["use"] = "sig".into();
}

fn encoding_key(alg: Algorithm, pkcs8: &[u8]) -> anyhow::Result<EncodingKey> {
    match alg {
        Algorithm::RS256 => {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            use rsa::pkcs8::DecodePrivateKey;
            let key = rsa::RsaPrivateKey::from_pkcs8_der(pkcs8)?;
            Ok(EncodingKey::from_rsa_der(key.to_pkcs1_der()?.as_bytes()))
        }
        _ => Ok(EncodingKey::from_ec_der(pkcs8)),
    }
}

fn decoding_key(jwk: &Value) -> Option<DecodingKey> {
    match jwk["kty"].as_str()? {
        "RSA" => DecodingKey::from_rsa_components(jwk["n"].as_str()?, jwk["e"].as_str()?).ok(),
        "EC" => DecodingKey::from_ec_components(jwk["x"].as_str()?, jwk["y"].as_str()?).ok(),
        _ => None,
    }
}

fn new_stored_key(
    cipher: &SecretCipher,
    alg: SigningAlg,
    generation: i64,
    now_ms: i64,
) -> anyhow::Result<StoredKey> {
    let (der, jwk) = generate(alg)?;
    Ok(StoredKey {
        kid: jwk["kid"].as_str().unwrap_or_default().to_string(),
        generation,
        alg: alg.as_str().to_string(),
        private_key: cipher.encrypt(&hex::encode(der)),
        public_jwk: jwk.to_string(),
        created_at: now_ms,
        retired_at: None,
    })
}

impl SigningKeys {
    /// Loads the keys in force, generating and storing the first one when there is none. Two
    /// instances starting together end up signing with the same one (the newest live key).
    /// `published_for_ms`: how long a retired key stays in the JWKS (the longest token life).
    pub async fn load(
        db: Db,
        creds_key: [u8; 32],
        alg: SigningAlg,
        clock: Arc<dyn Clock>,
        published_for_ms: i64,
    ) -> anyhow::Result<Self> {
        let cipher = SecretCipher::new(creds_key);
        let rows = signing_keys::all(&db).await?;
        if rows.is_empty() {
            // The first key is generation 1: of instances starting together, one inserts it.
            let key = tokio::task::spawn_blocking({
                let cipher = SecretCipher::new(creds_key);
                let now = clock.now_ms();
                move || new_stored_key(&cipher, alg, 1, now)
            })
            .await??;
            if signing_keys::insert(&db, &key).await? {
                tracing::info!(kid = %key.kid, alg = alg.as_str(), "generated the OpenID provider's signing key");
            }
        }
        let set = Self::read(&db, &cipher, clock.as_ref(), published_for_ms).await?;
        Ok(Self {
            db,
            cipher,
            alg,
            clock,
            published_for_ms,
            set: RwLock::new(Arc::new(set)),
            validations: [validation(Algorithm::RS256), validation(Algorithm::ES256)],
        })
    }

    async fn read(
        db: &Db,
        cipher: &SecretCipher,
        clock: &dyn Clock,
        published_for_ms: i64,
    ) -> anyhow::Result<KeySet> {
        let now = clock.now_ms();
        let rows = signing_keys::all(db).await?;
        // Published: not retired, or retired so recently that tokens it signed (while the new
        // key was not yet active) may still be alive.
        let published_rows: Vec<&StoredKey> = rows
            .iter()
            .filter(|k| {
                k.retired_at
                    .is_none_or(|at| at.saturating_add(ACTIVATE_AFTER_MS + published_for_ms) > now)
            })
            .collect();
        // Signing: the newest key active for long enough, else the oldest published one (the
        // first key, or the previous key while a new one becomes known everywhere).
        let signing = published_rows
            .iter()
            .rev()
            .find(|k| k.created_at.saturating_add(ACTIVATE_AFTER_MS) <= now)
            .or_else(|| published_rows.first())
            .copied()
            .ok_or_else(|| anyhow::anyhow!("the OpenID provider has no signing key"))?;
        let signing_alg = algorithm(&signing.alg).ok_or_else(|| {
            anyhow::anyhow!("signing key {} has an unknown algorithm", signing.kid)
        })?;
        let encoding = cipher
            .decrypt(&signing.private_key)
            .ok()
            .and_then(|h| hex::decode(h).ok())
            .ok_or_else(|| {
                "the OpenID provider's signing key cannot be decrypted with CREDS_KEY \
                 (was CREDS_KEY changed?)"
                    .to_string()
            })
            .and_then(|der| encoding_key(signing_alg, &der).map_err(|e| e.to_string()));
        let mut published = Vec::new();
        let mut jwks = Vec::new();
        for row in &published_rows {
            let (Some(alg), Ok(jwk)) = (
                algorithm(&row.alg),
                serde_json::from_str::<Value>(&row.public_jwk),
            ) else {
                continue;
            };
            if let Some(decoding) = decoding_key(&jwk) {
                published.push(PublishedKey {
                    kid: row.kid.clone(),
                    alg,
                    decoding,
                });
                jwks.push(jwk);
            }
        }
        Ok(KeySet {
            signing_kid: signing.kid.clone(),
            signing_alg,
            encoding,
            published,
            jwks: json!({ "keys": jwks }),
        })
    }

    fn current(&self) -> Arc<KeySet> {
        self.set
            .read()
            .map(|s| s.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// Re-reads the keys from the database (after `bouncer rotate-signing-key`).
    pub async fn reload(&self) -> crate::error::Result<()> {
        let set = Self::read(
            &self.db,
            &self.cipher,
            self.clock.as_ref(),
            self.published_for_ms,
        )
        .await
        .map_err(crate::error::Error::Internal)?;
        match self.set.write() {
            Ok(mut guard) => *guard = Arc::new(set),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(set),
        }
        Ok(())
    }

    /// Signs `claims` with the newest key: header `alg` of the key, its `kid`, and `typ`
    /// (`"JWT"` for ID tokens, `"at+jwt"` for access tokens, RFC 9068).
    pub fn sign(&self, typ: &str, claims: &impl Serialize) -> anyhow::Result<String> {
        let set = self.current();
        let encoding = set.encoding.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut header = Header::new(set.signing_alg);
        header.kid = Some(set.signing_kid.clone());
        header.typ = Some(typ.to_string());
        Ok(jsonwebtoken::encode(&header, claims, encoding)?)
    }

    /// Why this process cannot sign, if it cannot (a `CREDS_KEY` other than the one the key
    /// was stored with): the server refuses to start on it.
    pub fn signing_problem(&self) -> Option<String> {
        self.current().encoding.as_ref().err().cloned()
    }

    /// Checks the signature against the published keys (by `kid`, with the key's own
    /// algorithm) and returns the header's `typ` and the claims. No claim is checked here:
    /// expiry, issuer and audience are the caller's.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<(Option<String>, T), InvalidSignature> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| InvalidSignature)?;
        let set = self.current();
        let key = match header.kid.as_deref() {
            Some(kid) => set.published.iter().find(|k| k.kid == kid),
            None => set.published.iter().find(|k| k.kid == set.signing_kid),
        }
        .ok_or(InvalidSignature)?;
        if header.alg != key.alg {
            return Err(InvalidSignature);
        }
        let validation = match key.alg {
            Algorithm::RS256 => &self.validations[0],
            _ => &self.validations[1],
        };
        let data = jsonwebtoken::decode::<T>(token, &key.decoding, validation)
            .map_err(|_| InvalidSignature)?;
        Ok((header.typ, data.claims))
    }

    /// The JWKS document (`{"keys": [...]}`): every key in force or retired less than
    /// `published_for_ms` ago.
    pub fn jwks(&self) -> Value {
        self.current().jwks.clone()
    }

    /// The algorithms of the published keys (discovery's
    /// `id_token_signing_alg_values_supported`), the configured one first.
    pub fn algorithms(&self) -> Vec<&'static str> {
        let set = self.current();
        let mut algs = vec![self.alg.as_str()];
        for key in &set.published {
            let name = match key.alg {
                Algorithm::RS256 => "RS256",
                _ => "ES256",
            };
            if !algs.contains(&name) {
                algs.push(name);
            }
        }
        algs
    }
}

/// Adds a new signing key and retires the others (`bouncer rotate-signing-key`). Returns the
/// new key's `kid`. Keys retired more than a day before are deleted.
pub async fn rotate(
    db: &Db,
    creds_key: [u8; 32],
    alg: SigningAlg,
    now_ms: i64,
) -> crate::error::Result<String> {
    let generation = signing_keys::all(db)
        .await?
        .iter()
        .map(|k| k.generation)
        .max()
        .unwrap_or(0)
        + 1;
    let key = tokio::task::spawn_blocking(move || {
        new_stored_key(&SecretCipher::new(creds_key), alg, generation, now_ms)
    })
    .await
    .map_err(|e| crate::error::Error::Internal(e.into()))?
    .map_err(crate::error::Error::Internal)?;
    if !signing_keys::insert(db, &key).await? {
        return Err(crate::error::Error::BadRequest(
            "another rotation happened at the same moment: run the command again".into(),
        ));
    }
    signing_keys::retire_others(db, &key.kid, now_ms).await?;
    signing_keys::delete_retired_before(db, now_ms - 86_400_000).await?;
    Ok(key.kid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    async fn db(dir: &tempfile::TempDir) -> Db {
        Db::connect(&format!("sqlite://{}/k.db", dir.path().display()), 2)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn signs_verifies_and_refuses_other_algorithms() {
        let dir = tempfile::tempdir().unwrap();
        let db = db(&dir).await;
        let clock = Arc::new(ManualClock::new(1_000_000));
        for alg in [SigningAlg::Es256, SigningAlg::Rs256] {
            sqlx::query("DELETE FROM signing_keys")
                .execute(db.pool())
                .await
                .unwrap();
            let keys = SigningKeys::load(db.clone(), [1; 32], alg, clock.clone(), 60_000)
                .await
                .unwrap();
            let token = keys.sign("at+jwt", &json!({ "sub": "u" })).unwrap();
            let (typ, claims): (Option<String>, Value) = keys.verify(&token).unwrap();
            assert_eq!(typ.as_deref(), Some("at+jwt"));
            assert_eq!(claims["sub"], "u");
            // A flipped signature byte.
            let mut tampered = token.clone().into_bytes();
            let last = tampered.len() - 2;
            tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
            assert!(keys
                .verify::<Value>(std::str::from_utf8(&tampered).unwrap())
                .is_err());
            // HS256 keyed with the published key's bytes, and alg none.
            let jwk = &keys.jwks()["keys"][0];
            let mut header = Header::new(Algorithm::HS256);
            header.kid = jwk["kid"].as_str().map(str::to_string);
            let secret = jwk.to_string();
            let hs = jsonwebtoken::encode(
                &header,
                &json!({ "sub": "u" }),
                &EncodingKey::from_secret(secret.as_bytes()),
            )
            .unwrap();
            assert!(keys.verify::<Value>(&hs).is_err());
            let payload = token.split('.').nth(1).unwrap();
            let none = format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#));
            assert!(keys.verify::<Value>(&none).is_err());
            assert!(jwk.get("d").is_none(), "no private part in the JWKS");
        }
    }

    #[tokio::test]
    async fn instances_agree_rotation_keeps_the_old_key_published_then_drops_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = db(&dir).await;
        let clock = Arc::new(ManualClock::new(1_000_000));
        let (a, b) = tokio::join!(
            SigningKeys::load(
                db.clone(),
                [2; 32],
                SigningAlg::Es256,
                clock.clone(),
                60_000
            ),
            SigningKeys::load(
                db.clone(),
                [2; 32],
                SigningAlg::Es256,
                clock.clone(),
                60_000
            ),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(
            a.jwks()["keys"].as_array().unwrap().len(),
            1,
            "one first key"
        );
        let token = a.sign("JWT", &json!({ "sub": "u" })).unwrap();
        let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
        let b_token = b.sign("JWT", &json!({ "sub": "u" })).unwrap();
        b.reload().await.unwrap();
        a.reload().await.unwrap();
        assert_eq!(
            kid(&a.sign("JWT", &json!({})).unwrap()),
            kid(&b.sign("JWT", &json!({})).unwrap()),
            "both sign with the same key"
        );
        assert!(a.verify::<Value>(&b_token).is_ok());

        let new_kid = rotate(&db, [2; 32], SigningAlg::Es256, clock.now_ms())
            .await
            .unwrap();
        a.reload().await.unwrap();
        assert_eq!(
            kid(&a.sign("JWT", &json!({})).unwrap()),
            kid(&token),
            "not yet"
        );
        assert!(
            a.jwks().to_string().contains(&new_kid),
            "but published at once"
        );
        clock.advance_ms(ACTIVATE_AFTER_MS);
        a.reload().await.unwrap();
        assert_eq!(kid(&a.sign("JWT", &json!({})).unwrap()), new_kid);
        assert!(
            a.verify::<Value>(&token).is_ok(),
            "the old key is still published"
        );
        clock.advance_ms(60_001);
        a.reload().await.unwrap();
        assert!(a.verify::<Value>(&token).is_err(), "and then no more");
        assert!(!a.jwks().to_string().contains(&kid(&token)));
    }

    #[tokio::test]
    async fn another_creds_key_cannot_sign_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let db = db(&dir).await;
        let clock = Arc::new(ManualClock::new(1_000_000));
        let right = SigningKeys::load(
            db.clone(),
            [3; 32],
            SigningAlg::Es256,
            clock.clone(),
            60_000,
        )
        .await
        .unwrap();
        assert!(right.signing_problem().is_none());
        let wrong = SigningKeys::load(db, [4; 32], SigningAlg::Es256, clock, 60_000)
            .await
            .unwrap();
        let problem = wrong.signing_problem().expect("a problem");
        assert!(problem.contains("CREDS_KEY"), "{problem}");
        assert!(wrong.sign("JWT", &json!({})).is_err());
        // Verifying needs no private key.
        let token = right.sign("JWT", &json!({ "sub": "u" })).unwrap();
        assert!(wrong.verify::<Value>(&token).is_ok());
    }
}
