//! Two-factor secrets at rest, encrypted with `CREDS_KEY`. New values use AES-256-GCM
//! (authenticated: a tampered value fails instead of decrypting to garbage). Values written by
//! LibreChat are read too, so imported users keep their 2FA: `v3:<iv>:<data>` (AES-256-CTR),
//! `<iv>:<data>` (AES-256-CBC, its "v2") and a bare 16-character secret (stored in the clear).

use aes::cipher::{BlockDecryptMut, KeyIvInit, StreamCipher};
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;
type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

/// The prefix of Bouncer's own format: `gcm:<12-byte nonce hex>:<ciphertext and tag hex>`.
const GCM_PREFIX: &str = "gcm:";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the stored secret cannot be decrypted with CREDS_KEY")]
pub struct Undecryptable;

pub struct SecretCipher {
    key: [u8; 32],
}

impl SecretCipher {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    pub fn encrypt(&self, plaintext: &str) -> String {
        let cipher = Aes256Gcm::new(&self.key.into());
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("AES-GCM encryption of a short secret cannot fail");
        format!("{GCM_PREFIX}{}:{}", hex::encode(nonce), hex::encode(sealed))
    }

    /// LibreChat's `encryptV3` format, `v3:<16-byte IV hex>:<AES-256-CTR data hex>`, for what
    /// is handed back to LibreChat (`bouncer export`); Bouncer itself stores `encrypt`'s.
    pub fn encrypt_v3(&self, plaintext: &str) -> String {
        let mut iv = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut iv);
        let mut data = plaintext.as_bytes().to_vec();
        Aes256Ctr::new(&self.key.into(), &iv.into()).apply_keystream(&mut data);
        format!("v3:{}:{}", hex::encode(iv), hex::encode(data))
    }

    pub fn decrypt(&self, stored: &str) -> Result<String, Undecryptable> {
        if let Some(rest) = stored.strip_prefix(GCM_PREFIX) {
            let (nonce, sealed) = split_hex(rest)?;
            let nonce: [u8; 12] = nonce.try_into().map_err(|_| Undecryptable)?;
            let plain = Aes256Gcm::new(&self.key.into())
                .decrypt(Nonce::from_slice(&nonce), sealed.as_slice())
                .map_err(|_| Undecryptable)?;
            return String::from_utf8(plain).map_err(|_| Undecryptable);
        }
        if let Some(rest) = stored.strip_prefix("v3:") {
            let (iv, mut data) = split_hex(rest)?;
            let iv: [u8; 16] = iv.try_into().map_err(|_| Undecryptable)?;
            Aes256Ctr::new(&self.key.into(), &iv.into()).apply_keystream(&mut data);
            return String::from_utf8(data).map_err(|_| Undecryptable);
        }
        if stored.contains(':') {
            let (iv, data) = split_hex(stored)?;
            let iv: [u8; 16] = iv.try_into().map_err(|_| Undecryptable)?;
            let plain = Aes256CbcDec::new(&self.key.into(), &iv.into())
                .decrypt_padded_vec_mut::<cbc::cipher::block_padding::Pkcs7>(&data)
                .map_err(|_| Undecryptable)?;
            return String::from_utf8(plain).map_err(|_| Undecryptable);
        }
        // LibreChat's oldest 2FA secrets: the Base32 secret itself.
        if stored.len() == 16 && stored.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(stored.to_string());
        }
        Err(Undecryptable)
    }
}

fn split_hex(value: &str) -> Result<(Vec<u8>, Vec<u8>), Undecryptable> {
    let (a, b) = value.split_once(':').ok_or(Undecryptable)?;
    Ok((
        hex::decode(a).map_err(|_| Undecryptable)?,
        hex::decode(b).map_err(|_| Undecryptable)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::BlockEncryptMut;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn gcm_round_trip_and_tamper_detection() {
        let c = SecretCipher::new(KEY);
        let sealed = c.encrypt("JBSWY3DPEHPK3PXP");
        assert!(sealed.starts_with("gcm:"));
        assert_ne!(
            c.encrypt("JBSWY3DPEHPK3PXP"),
            sealed,
            "fresh nonce each time"
        );
        assert_eq!(c.decrypt(&sealed).unwrap(), "JBSWY3DPEHPK3PXP");
        let mut tampered = sealed.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == '0' { '1' } else { '0' });
        assert_eq!(c.decrypt(&tampered), Err(Undecryptable));
        assert_eq!(
            SecretCipher::new([8; 32]).decrypt(&sealed),
            Err(Undecryptable),
            "other key"
        );
    }

    /// A value in LibreChat's `v3:` format, made here exactly as its `encryptV3` does
    /// (AES-256-CTR, the 16-byte IV as the initial counter block, hex).
    #[test]
    fn reads_librechat_v3_ctr() {
        let iv = [3u8; 16];
        let mut data = b"GEZDGNBVGY3TQOJQ".to_vec();
        Aes256Ctr::new(&KEY.into(), &iv.into()).apply_keystream(&mut data);
        let stored = format!("v3:{}:{}", hex::encode(iv), hex::encode(&data));
        assert_eq!(
            SecretCipher::new(KEY).decrypt(&stored).unwrap(),
            "GEZDGNBVGY3TQOJQ"
        );
        let written = SecretCipher::new(KEY).encrypt_v3("GEZDGNBVGY3TQOJQ");
        assert!(written.starts_with("v3:") && written.len() == 3 + 32 + 1 + 32);
        assert_eq!(
            SecretCipher::new(KEY).decrypt(&written).unwrap(),
            "GEZDGNBVGY3TQOJQ"
        );
    }

    /// LibreChat's `encryptV2`: WebCrypto AES-CBC (PKCS#7 padding), `<iv hex>:<data hex>`.
    #[test]
    fn reads_librechat_v2_cbc_and_plain_legacy_secrets() {
        let iv = [9u8; 16];
        let data =
            cbc::Encryptor::<aes::Aes256>::new(&KEY.into(), &iv.into())
                .encrypt_padded_vec_mut::<cbc::cipher::block_padding::Pkcs7>(b"GEZDGNBVGY3TQOJQ");
        let stored = format!("{}:{}", hex::encode(iv), hex::encode(data));
        let c = SecretCipher::new(KEY);
        assert_eq!(c.decrypt(&stored).unwrap(), "GEZDGNBVGY3TQOJQ");
        assert_eq!(c.decrypt("GEZDGNBVGY3TQOJQ").unwrap(), "GEZDGNBVGY3TQOJQ");
        assert_eq!(c.decrypt("garbage"), Err(Undecryptable));
        assert_eq!(c.decrypt("v3:zz:00"), Err(Undecryptable));
    }
}
