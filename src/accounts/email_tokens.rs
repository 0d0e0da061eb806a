//! Emailed tokens: 256 bits from the OS generator, sent in a link, stored only as SHA-256
//! (a random 256-bit value needs no slow hash), checked in constant time, used once.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::email_tokens::StoredToken;

/// Invitations live a week, as in LibreChat.
pub const INVITE_LIFETIME_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// An unverified registration is deleted after a week. LibreChat's TTL index adds another
/// week by accident (spec §10.2); Bouncer keeps the documented one.
pub const UNVERIFIED_ACCOUNT_LIFETIME_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// 32 random bytes as 64 hex characters, the shape of LibreChat's links.
pub fn new_token() -> String {
    crate::ids::random_hex(32)
}

pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `presented` is the live token stored as `stored`.
pub fn matches(stored: &StoredToken, presented: &str, now_ms: i64) -> bool {
    let presented = hash(presented.trim());
    let same: bool = presented
        .as_bytes()
        .ct_eq(stored.token_hash.as_bytes())
        .into();
    same && stored.expires_at > now_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(token: &str, expires_at: i64) -> StoredToken {
        StoredToken {
            id: "t".into(),
            email: "a@b.c".into(),
            user_id: None,
            token_hash: hash(token),
            expires_at,
        }
    }

    #[test]
    fn tokens_are_long_random_and_match_only_themselves_until_expiry() {
        let a = new_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, new_token());
        let s = stored(&a, 1_000);
        assert!(matches(&s, &a, 999));
        assert!(!matches(&s, &a, 1_000), "expired at its expiry time");
        assert!(!matches(&s, &new_token(), 0));
        assert!(!matches(&s, "", 0));
        assert_ne!(s.token_hash, a, "only the hash is kept");
    }
}
