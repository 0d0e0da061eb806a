//! TOTP per RFC 6238 as authenticator apps and LibreChat use it: HMAC-SHA-1, 30-second steps,
//! 6 digits, the previous and next step accepted for clock drift. Codes come from `totp-rs`;
//! this module says which step a code belongs to, so the caller can accept each step once.

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use rand::RngCore;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

const STEP_SECONDS: u64 = 30;
const DIGITS: usize = 6;

/// A new secret: 160 bits, as RFC 4226 recommends, Base32 without padding.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    match Secret::Raw(bytes.to_vec()).to_encoded() {
        Secret::Encoded(s) => s,
        Secret::Raw(_) => unreachable!("to_encoded returns the encoded form"),
    }
}

/// The URL an authenticator app scans: `otpauth://totp/<title>:<email>?secret=…&issuer=<title>`.
pub fn otpauth_url(title: &str, email: &str, secret: &str) -> String {
    let title = utf8_percent_encode(title, NON_ALPHANUMERIC).to_string();
    let email = utf8_percent_encode(email, NON_ALPHANUMERIC).to_string();
    format!("otpauth://totp/{title}:{email}?secret={secret}&issuer={title}")
}

/// The step (`unix seconds / 30`) within one step of `now_secs` whose code is `code`, if any.
/// Every candidate is compared in constant time. `None` for a malformed secret or code.
pub fn matching_step(secret_base32: &str, code: &str, now_secs: u64) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secret = Secret::Encoded(secret_base32.trim().to_uppercase())
        .to_bytes()
        .ok()?;
    // Unchecked: LibreChat's secrets are 80 bits, below totp-rs's 128-bit floor for new ones.
    let totp = TOTP::new_unchecked(Algorithm::SHA1, DIGITS, 0, STEP_SECONDS, secret);
    let current = now_secs / STEP_SECONDS;
    let mut found = None;
    for step in [current.saturating_sub(1), current, current + 1] {
        let expected = totp.generate(step * STEP_SECONDS);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            found = Some(step);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1, shortened to 6 digits (the last six of 94287082).
    #[test]
    fn rfc_6238_test_vector() {
        let secret = match Secret::Raw(b"12345678901234567890".to_vec()).to_encoded() {
            Secret::Encoded(s) => s,
            Secret::Raw(_) => unreachable!(),
        };
        assert_eq!(matching_step(&secret, "287082", 59), Some(1));
        assert_eq!(
            matching_step(&secret, "287082", 59 + 30),
            Some(1),
            "previous step"
        );
        assert_eq!(
            matching_step(&secret, "287082", 59 + 60),
            None,
            "two steps late"
        );
        assert_eq!(matching_step(&secret, "28708", 59), None);
        assert_eq!(matching_step(&secret, "abcdef", 59), None);
    }

    #[test]
    fn secrets_and_urls() {
        let s = new_secret();
        assert_eq!(s.len(), 32, "160 bits in Base32");
        assert_ne!(s, new_secret());
        let url = otpauth_url("My Chat", "ada@example.com", &s);
        assert_eq!(
            url,
            format!("otpauth://totp/My%20Chat:ada%40example%2Ecom?secret={s}&issuer=My%20Chat")
        );
    }
}
