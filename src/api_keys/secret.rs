//! The form of an API key: `bnc_<id>_<secret>`, where `id` is 12 lower-case hex characters
//! (the key's id, shown as its prefix `bnc_<id>`) and `secret` 32 random bytes in unpadded
//! base64url (43 characters): 60 characters in all. A secret scanner recognises it with
//! `\bbnc_[0-9a-f]{12}_[A-Za-z0-9_-]{43}\b`. The secret has 256 bits of entropy, so a single
//! SHA-256 of the whole key is the right thing to keep (a slow password hash would only slow
//! the gateway); the digest is compared in constant time.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const KEY_PREFIX: &str = "bnc_";
const ID_HEX_CHARS: usize = 12;
const SECRET_CHARS: usize = 43;
pub const KEY_CHARS: usize = KEY_PREFIX.len() + ID_HEX_CHARS + 1 + SECRET_CHARS;

/// A freshly made key: shown once, then only its digest is kept.
pub struct NewSecret {
    pub id: String,
    /// `bnc_<id>`: what lists show to tell keys apart.
    pub prefix: String,
    pub key: String,
    pub digest: [u8; 32],
}

pub fn generate() -> NewSecret {
    let mut id = [0u8; ID_HEX_CHARS / 2];
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut id);
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let id = hex::encode(id);
    let prefix = format!("{KEY_PREFIX}{id}");
    let key = format!(
        "{prefix}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let digest = digest(&key);
    NewSecret {
        id,
        prefix,
        key,
        digest,
    }
}

pub fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The id of a string shaped like a key (`None` for anything else, such as a JWT): cheap, so
/// a bearer token that is not a key costs nothing more.
pub fn id_of(key: &str) -> Option<&str> {
    if key.len() != KEY_CHARS || !key.is_ascii() || !key.starts_with(KEY_PREFIX) {
        return None;
    }
    let rest = &key[KEY_PREFIX.len()..];
    let (id, secret) = (&rest[..ID_HEX_CHARS], &rest[ID_HEX_CHARS..]);
    let id_ok = id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let secret_ok = secret.starts_with('_')
        && secret[1..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (id_ok && secret_ok).then_some(id)
}

/// Whether `key` is the key whose digest is `stored`, in time independent of where they differ.
pub fn matches(key: &str, stored: &[u8; 32]) -> bool {
    digest(key).ct_eq(stored).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_documented_shape_and_match_only_themselves() {
        let a = generate();
        let b = generate();
        assert_eq!(a.key.len(), KEY_CHARS);
        assert_eq!(id_of(&a.key), Some(a.id.as_str()));
        assert!(a.key.starts_with(&format!("{}_", a.prefix)));
        let scanner = regex::Regex::new(r"^bnc_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$").unwrap();
        assert!(scanner.is_match(&a.key), "{}", a.key);
        assert!(matches(&a.key, &a.digest));
        assert!(!matches(&b.key, &a.digest));
        assert_ne!(a.id, b.id);
    }

    #[test]
    fn other_strings_are_not_keys() {
        let key = generate().key;
        for other in [
            "",
            "bnc_",
            "eyJhbGciOiJIUzI1NiJ9.e30.sig",
            &key[..key.len() - 1],
            &format!("{key}x"),
            &key.replacen("bnc_", "bnx_", 1),
            &key.to_uppercase(),
            "bnc_ééééééééééééééééééééééééééééé_",
        ] {
            assert_eq!(id_of(other), None, "{other}");
        }
    }
}
