//! Password hashing: argon2id at OWASP parameters, off the async runtime, at most one hash per
//! core at a time (the rest wait their turn instead of starving request handling).

use std::sync::Arc;

use anyhow::anyhow;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OnceCell, Semaphore};

use crate::error::Result;

/// OWASP's argon2id parameters: 19 MiB of memory, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19_456;
const PASSES: u32 = 2;
const LANES: u32 = 1;

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verification {
    Mismatch,
    /// The password is right; `rehash` asks for the stored hash to be replaced because it is a
    /// LibreChat bcrypt hash or uses weaker parameters than ours.
    Match {
        rehash: bool,
    },
}

pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// A hash of a random password, verified when the account does not exist so that an
    /// unknown email costs the same time as a wrong password.
    dummy: OnceCell<String>,
}

impl PasswordHasher {
    pub fn new(max_parallel: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_parallel.max(1))),
            dummy: OnceCell::new(),
        }
    }

    /// One hash per core by default.
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Runs CPU-heavy work on the blocking pool once a permit is free. The permit moves into
    /// the closure, so a cancelled request still holds it until its hash is done.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| anyhow!("password hasher closed"))?;
        tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        })
        .await
        .map_err(|e| anyhow!("password hashing task failed: {e}").into())
    }

    pub async fn hash(&self, password: String) -> Result<String> {
        self.run(move || {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            argon2()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| anyhow!("argon2 hashing failed: {e}"))
        })
        .await?
        .map_err(Into::into)
    }

    /// Checks a password against a stored hash; with no stored hash (unknown email, social
    /// account) it verifies against the dummy hash and reports a mismatch.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<Verification> {
        let stored = match stored {
            Some(h) => h,
            None => {
                let dummy = self.dummy_hash().await?;
                self.run(move || verify_sync(&password, &dummy)).await?;
                return Ok(Verification::Mismatch);
            }
        };
        self.run(move || verify_sync(&password, &stored)).await
    }

    async fn dummy_hash(&self) -> Result<String> {
        self.dummy
            .get_or_try_init(|| self.hash(crate::ids::random_hex(16)))
            .await
            .cloned()
    }
}

fn is_bcrypt(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p))
}

fn verify_sync(password: &str, stored: &str) -> Verification {
    if is_bcrypt(stored) {
        return match bcrypt::verify(password, stored) {
            Ok(true) => Verification::Match { rehash: true },
            _ => Verification::Mismatch,
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        // Unknown format: spend the same time as a real check, then refuse.
        let _ = argon2().verify_password(
            password.as_bytes(),
            &PasswordHash::new(DUMMY_FALLBACK).expect("valid"),
        );
        return Verification::Mismatch;
    };
    if argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
    {
        return Verification::Mismatch;
    }
    let current = Params::try_from(&parsed).ok();
    let weaker = parsed.algorithm != Algorithm::Argon2id.ident()
        || current.is_none_or(|p| p.m_cost() < MEMORY_KIB || p.t_cost() < PASSES);
    Verification::Match { rehash: weaker }
}

/// A valid argon2id hash at our parameters, used only to spend time on unparsable hashes.
const DUMMY_FALLBACK: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0x6hR6kKpVzdvEnnOOmJSkmnNpgMdSn1u7SVXdLlLf0";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_with_argon2id_and_verifies() {
        let hasher = PasswordHasher::new(2);
        let hash = hasher.hash("correct horse".into()).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert_eq!(
            hasher
                .verify("correct horse".into(), Some(hash.clone()))
                .await
                .unwrap(),
            Verification::Match { rehash: false }
        );
        assert_eq!(
            hasher.verify("wrong".into(), Some(hash)).await.unwrap(),
            Verification::Mismatch
        );
        assert_eq!(
            hasher.verify("x".into(), None).await.unwrap(),
            Verification::Mismatch
        );
        assert_eq!(
            hasher
                .verify("x".into(), Some("garbage".into()))
                .await
                .unwrap(),
            Verification::Mismatch
        );
    }

    #[tokio::test]
    async fn librechat_bcrypt_hashes_verify_and_ask_for_rehash() {
        let hasher = PasswordHasher::new(1);
        let bcrypt_hash = bcrypt::hash("librechat-pass", 10)
            .unwrap()
            .replacen("$2b$", "$2a$", 1);
        assert_eq!(
            hasher
                .verify("librechat-pass".into(), Some(bcrypt_hash.clone()))
                .await
                .unwrap(),
            Verification::Match { rehash: true }
        );
        assert_eq!(
            hasher
                .verify("nope".into(), Some(bcrypt_hash))
                .await
                .unwrap(),
            Verification::Mismatch
        );
    }

    #[test]
    fn fallback_hash_is_parsable() {
        assert!(PasswordHash::new(DUMMY_FALLBACK).is_ok());
    }
}
