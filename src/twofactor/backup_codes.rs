//! Backup codes: ten codes of 4 random bytes (8 hex characters), stored as SHA-256 in
//! LibreChat's shape so imported users keep theirs; each works once.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const COUNT: usize = 10;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredCode {
    #[serde(rename = "codeHash")]
    pub code_hash: String,
    pub used: bool,
    /// Milliseconds since the epoch (LibreChat stores a date; either reads as "used").
    #[serde(rename = "usedAt", default)]
    pub used_at: Option<serde_json::Value>,
}

/// Fresh codes: the plain ones for the user (shown once) and what is stored.
pub fn generate() -> (Vec<String>, Vec<StoredCode>) {
    (0..COUNT)
        .map(|_| {
            let mut bytes = [0u8; 4];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let code = hex::encode(bytes);
            let stored = StoredCode {
                code_hash: hash(&code),
                used: false,
                used_at: None,
            };
            (code, stored)
        })
        .unzip()
}

fn hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.trim().to_lowercase().as_bytes()))
}

/// The index of the unused stored code that `code` is, comparing every entry in constant time.
pub fn find_unused(stored: &[StoredCode], code: &str) -> Option<usize> {
    let presented = hash(code);
    let mut found = None;
    for (i, entry) in stored.iter().enumerate() {
        let same = bool::from(entry.code_hash.as_bytes().ct_eq(presented.as_bytes()));
        if same && !entry.used {
            found = Some(i);
        }
    }
    found
}

pub fn to_json(codes: &[StoredCode]) -> String {
    serde_json::to_string(codes).expect("backup codes serialise")
}

pub fn from_json(raw: Option<&str>) -> Vec<StoredCode> {
    raw.and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_codes_each_found_once_by_hash() {
        let (plain, mut stored) = generate();
        assert_eq!(plain.len(), 10);
        assert!(plain.iter().all(|c| c.len() == 8));
        assert!(
            stored.iter().all(|s| !plain.contains(&s.code_hash)),
            "only hashes stored"
        );
        let i = find_unused(&stored, &plain[3]).unwrap();
        assert_eq!(i, 3);
        stored[i].used = true;
        assert_eq!(find_unused(&stored, &plain[3]), None, "used once");
        assert_eq!(find_unused(&stored, "00000000"), None);
        let round = from_json(Some(&to_json(&stored)));
        assert_eq!(round, stored);
        // LibreChat's stored shape, with a date in usedAt.
        let librechat = r#"[{"codeHash":"x","used":true,"usedAt":"2025-01-01T00:00:00.000Z"}]"#;
        assert!(from_json(Some(librechat))[0].used);
    }
}
