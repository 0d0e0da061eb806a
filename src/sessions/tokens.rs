//! The JWT kinds: the two of a login session, and the 2FA temp token of a login waiting for
//! its second factor. Each has its own key (`JWT_SECRET` for access, `JWT_REFRESH_SECRET` for
//! refresh, refused at start when equal, and a key derived from `JWT_SECRET` for the temp
//! token) and its own claim shape, so none can pass for another. HS256 only; expiry is checked
//! against the injected clock.

use std::collections::HashSet;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Digest;

/// LibreChat's access-token payload plus `sid`, the session it belongs to, so that a revoked
/// session's access tokens are refused at once.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub id: String,
    pub username: String,
    pub provider: String,
    pub email: String,
    pub sid: String,
    /// The user's role when the token was issued: the chat gateway passes it upstream without
    /// a database round trip. Not in LibreChat's tokens; they ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `2fa_enrol` (with `REQUIRE_2FA`): the token reaches only the 2FA enrolment routes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The user's display name, for forward-auth's `Remote-Name`. Not in LibreChat's tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `browser` in the single-sign-on cookie of the sign-in pages, absent in an access token.
    /// The cookie is an access token's identity for the session's whole life, under a key of
    /// its own: forward-auth reads it without a database round trip, and a revoked session's
    /// cookie is refused by `sid`. (One claim shape, not a wrapper around it: a
    /// `#[serde(flatten)]` wrapper decodes through serde's intermediate buffer, on the hot
    /// path of forward-auth by cookie.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    pub iat: i64,
    pub exp: i64,
}

pub const BROWSER_TYP: &str = "browser";

/// The scope of an access token that may only enrol in 2FA.
pub const ENROLMENT_SCOPE: &str = "2fa_enrol";

/// LibreChat's 2FA temp token payload `{userId, twoFAPending: true}`: proof of a password,
/// waiting for the second factor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TwoFactorTempClaims {
    #[serde(rename = "userId")]
    pub user_id: String,
    #[serde(rename = "twoFAPending")]
    pub two_fa_pending: bool,
    pub iat: i64,
    pub exp: i64,
}

/// LibreChat's refresh payload `{id, sessionId}` plus a random `jti`, so no two refresh tokens
/// are ever byte-identical.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RefreshClaims {
    pub id: String,
    #[serde(rename = "sessionId")]
    pub session_id: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
}

/// Why a token was refused, in the words of the `jsonwebtoken` npm package (the client and
/// operators know them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Expired,
    BadSignature,
    Malformed,
}

impl TokenError {
    pub fn message(self) -> &'static str {
        match self {
            TokenError::Expired => "jwt expired",
            TokenError::BadSignature => "invalid signature",
            TokenError::Malformed => "jwt malformed",
        }
    }
}

struct KeyPair {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl KeyPair {
    fn new(secret: &str) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
        }
    }
}

pub struct TokenKeys {
    access: KeyPair,
    refresh: KeyPair,
    two_factor_temp: KeyPair,
    browser: KeyPair,
    validation: Validation,
}

impl TokenKeys {
    pub fn new(access_secret: &str, refresh_secret: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against the injected clock in `decode`.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims = HashSet::new();
        validation.leeway = 0;
        // LibreChat signs temp tokens with JWT_SECRET itself; a key of their own means an
        // access token can never be replayed as one, or the reverse, whatever the claims.
        let temp_key = hex::encode(sha2::Sha256::digest(
            format!("bouncer 2fa temp token key\0{access_secret}").as_bytes(),
        ));
        // The browser cookie lives as long as a refresh token: a key of its own, derived from
        // the refresh secret, so that neither can pass for the other.
        let browser_key = hex::encode(sha2::Sha256::digest(
            format!("bouncer browser session key\0{refresh_secret}").as_bytes(),
        ));
        Self {
            access: KeyPair::new(access_secret),
            refresh: KeyPair::new(refresh_secret),
            two_factor_temp: KeyPair::new(&temp_key),
            browser: KeyPair::new(&browser_key),
            validation,
        }
    }

    pub fn sign_two_factor_temp(&self, claims: &TwoFactorTempClaims) -> anyhow::Result<String> {
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &self.two_factor_temp.encoding,
        )?)
    }

    pub fn verify_two_factor_temp(
        &self,
        token: &str,
        now_ms: i64,
    ) -> Result<TwoFactorTempClaims, TokenError> {
        let claims: TwoFactorTempClaims = self.decode(token, &self.two_factor_temp)?;
        if !claims.two_fa_pending {
            return Err(TokenError::Malformed);
        }
        check_expiry(claims.exp, now_ms)?;
        Ok(claims)
    }

    pub fn sign_access(&self, claims: &AccessClaims) -> anyhow::Result<String> {
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &self.access.encoding,
        )?)
    }

    /// Signs a browser session's cookie (`claims.typ` must be `browser`).
    pub fn sign_browser(&self, claims: &AccessClaims) -> anyhow::Result<String> {
        anyhow::ensure!(
            claims.typ.as_deref() == Some(BROWSER_TYP),
            "a browser cookie says typ browser"
        );
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &self.browser.encoding,
        )?)
    }

    pub fn verify_browser(&self, token: &str, now_ms: i64) -> Result<AccessClaims, TokenError> {
        let claims = self.browser_claims_ignoring_expiry(token)?;
        check_expiry(claims.exp, now_ms)?;
        Ok(claims)
    }

    pub fn browser_claims_ignoring_expiry(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let claims: AccessClaims = self.decode(token, &self.browser)?;
        if claims.typ.as_deref() != Some(BROWSER_TYP) {
            return Err(TokenError::Malformed);
        }
        Ok(claims)
    }

    pub fn sign_refresh(&self, claims: &RefreshClaims) -> anyhow::Result<String> {
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &self.refresh.encoding,
        )?)
    }

    /// Verifies signature and shape; `Err(Expired)` carries no claims. Use
    /// `access_claims_ignoring_expiry` where an expired token is still good enough (logout).
    pub fn verify_access(&self, token: &str, now_ms: i64) -> Result<AccessClaims, TokenError> {
        let claims: AccessClaims = self.decode(token, &self.access)?;
        if claims.typ.is_some() {
            return Err(TokenError::Malformed);
        }
        check_expiry(claims.exp, now_ms)?;
        Ok(claims)
    }

    pub fn access_claims_ignoring_expiry(&self, token: &str) -> Result<AccessClaims, TokenError> {
        self.decode(token, &self.access)
    }

    pub fn verify_refresh(&self, token: &str, now_ms: i64) -> Result<RefreshClaims, TokenError> {
        let claims: RefreshClaims = self.decode(token, &self.refresh)?;
        check_expiry(claims.exp, now_ms)?;
        Ok(claims)
    }

    pub fn refresh_claims_ignoring_expiry(&self, token: &str) -> Result<RefreshClaims, TokenError> {
        self.decode(token, &self.refresh)
    }

    fn decode<T: DeserializeOwned>(&self, token: &str, keys: &KeyPair) -> Result<T, TokenError> {
        jsonwebtoken::decode::<T>(token, &keys.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                _ => TokenError::Malformed,
            })
    }
}

/// As the `jsonwebtoken` npm package: expired once the current second reaches `exp`.
fn check_expiry(exp: i64, now_ms: i64) -> Result<(), TokenError> {
    if now_ms.div_euclid(1000) >= exp {
        Err(TokenError::Expired)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(&"a".repeat(64), &"b".repeat(64))
    }

    fn access(exp: i64) -> AccessClaims {
        AccessClaims {
            id: "u".into(),
            username: "n".into(),
            provider: "local".into(),
            email: "e@x.io".into(),
            sid: "s".into(),
            role: None,
            scope: None,
            name: None,
            typ: None,
            iat: 0,
            exp,
        }
    }

    #[test]
    fn access_tokens_expire_by_the_given_clock() {
        let k = keys();
        let t = k.sign_access(&access(100)).unwrap();
        assert_eq!(k.verify_access(&t, 99_999).unwrap().sid, "s");
        assert_eq!(k.verify_access(&t, 100_000), Err(TokenError::Expired));
        assert_eq!(k.access_claims_ignoring_expiry(&t).unwrap().exp, 100);
    }

    #[test]
    fn kinds_do_not_cross() {
        let k = keys();
        let access_token = k.sign_access(&access(i64::MAX / 2000)).unwrap();
        assert_eq!(
            k.verify_refresh(&access_token, 0),
            Err(TokenError::BadSignature)
        );
        let refresh = k
            .sign_refresh(&RefreshClaims {
                id: "u".into(),
                session_id: "s".into(),
                jti: "j".into(),
                iat: 0,
                exp: i64::MAX / 2000,
            })
            .unwrap();
        assert_eq!(k.verify_access(&refresh, 0), Err(TokenError::BadSignature));
        // Even signed with the access key, a refresh payload is not an access token.
        let same_key = TokenKeys::new(&"b".repeat(64), &"b".repeat(64));
        assert_eq!(
            same_key.verify_access(&refresh, 0),
            Err(TokenError::Malformed)
        );
    }

    #[test]
    fn temp_tokens_and_access_tokens_do_not_cross() {
        let k = keys();
        let temp = k
            .sign_two_factor_temp(&TwoFactorTempClaims {
                user_id: "u".into(),
                two_fa_pending: true,
                iat: 0,
                exp: 300,
            })
            .unwrap();
        assert_eq!(
            k.verify_two_factor_temp(&temp, 299_999).unwrap().user_id,
            "u"
        );
        assert_eq!(
            k.verify_two_factor_temp(&temp, 300_000),
            Err(TokenError::Expired)
        );
        assert_eq!(k.verify_access(&temp, 0), Err(TokenError::BadSignature));
        let access_token = k.sign_access(&access(i64::MAX / 2000)).unwrap();
        assert_eq!(
            k.verify_two_factor_temp(&access_token, 0),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn browser_cookies_cross_with_no_other_kind() {
        let k = keys();
        let browser = AccessClaims {
            typ: Some(BROWSER_TYP.into()),
            ..access(100)
        };
        let cookie = k.sign_browser(&browser).unwrap();
        assert_eq!(k.verify_browser(&cookie, 99_999).unwrap(), browser);
        assert_eq!(k.verify_browser(&cookie, 100_000), Err(TokenError::Expired));
        assert_eq!(k.verify_access(&cookie, 0), Err(TokenError::BadSignature));
        assert_eq!(k.verify_refresh(&cookie, 0), Err(TokenError::BadSignature));
        let access_token = k.sign_access(&access(100)).unwrap();
        assert_eq!(
            k.verify_browser(&access_token, 0),
            Err(TokenError::BadSignature)
        );
        // The right key but another purpose is still refused.
        assert!(k.sign_browser(&access(100)).is_err());
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &access(100),
            &k.browser.encoding,
        )
        .unwrap();
        assert_eq!(k.verify_browser(&forged, 0), Err(TokenError::Malformed));
        // And a cookie's claims under the access key are no access token.
        let as_access = k.sign_access(&browser).unwrap();
        assert_eq!(k.verify_access(&as_access, 0), Err(TokenError::Malformed));
    }

    #[test]
    fn refuses_other_algorithms_and_garbage() {
        let k = keys();
        let none_alg = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJpZCI6InUifQ.";
        assert!(k.verify_access(none_alg, 0).is_err());
        assert_eq!(k.verify_access("not a jwt", 0), Err(TokenError::Malformed));
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &access(i64::MAX / 2000),
            &EncodingKey::from_secret("a".repeat(64).as_bytes()),
        )
        .unwrap();
        assert!(k.verify_access(&hs512, 0).is_err());
    }
}
