//! Identifiers in MongoDB ObjectId format (24 hex characters: 4 bytes of seconds since the
//! epoch, then random bytes), so users imported from LibreChat keep their ids and the client
//! sees the shape it knows.

use rand::RngCore;

pub fn new_object_id(now_ms: i64) -> String {
    let mut bytes = [0u8; 12];
    let seconds = (now_ms / 1000).clamp(0, u32::MAX as i64) as u32;
    bytes[..4].copy_from_slice(&seconds.to_be_bytes());
    rand::rngs::OsRng.fill_bytes(&mut bytes[4..]);
    hex::encode(bytes)
}

/// A fresh random token of `bytes` bytes from the OS generator, hex-encoded.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// 32 random bytes (256 bits) as unpadded base64url: codes and opaque tokens.
pub fn random_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_have_mongo_shape_and_time_prefix() {
        let id = new_object_id(1_700_000_000_123);
        assert!(
            id.len() == 24
                && id
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{id}"
        );
        assert_eq!(&id[..8], format!("{:08x}", 1_700_000_000u32));
        assert_ne!(new_object_id(0), new_object_id(0));
    }
}
