//! The state of a login at an identity provider, from the redirect to the callback: the
//! `state` value, the OpenID nonce and the PKCE verifier, in a short-lived signed cookie rather
//! than in server memory, so any instance can finish a flow another one started.

use std::collections::HashSet;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The cookie's name and life: long enough to sign in at the provider, no longer.
pub const COOKIE: &str = "bouncer_oauth_state";
pub const LIFETIME_SECS: i64 = 10 * 60;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FlowState {
    /// The provider this flow is for (`openid`, `github`, ...).
    pub provider: String,
    pub state: String,
    pub nonce: Option<String>,
    pub pkce_verifier: Option<String>,
    pub exp: i64,
    /// Started from the sign-in pages: the checked address to return to, and the sign-in
    /// begins a browser session instead of LibreChat's refresh cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
}

pub struct FlowStateKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl FlowStateKeys {
    /// A key of its own, derived from `JWT_SECRET`: a state cookie is no token of any other kind.
    pub fn new(jwt_secret: &str) -> Self {
        let key = Sha256::digest(format!("bouncer oauth state key\0{jwt_secret}").as_bytes());
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.required_spec_claims = HashSet::new();
        Self {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            validation,
        }
    }

    pub fn seal(&self, state: &FlowState) -> anyhow::Result<String> {
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            state,
            &self.encoding,
        )?)
    }

    /// The flow of `cookie` if it is genuine, unexpired, for `provider`, and carries the
    /// `state` the provider sent back.
    pub fn open(
        &self,
        cookie: &str,
        provider: &str,
        returned_state: &str,
        now_ms: i64,
    ) -> Option<FlowState> {
        let flow: FlowState = jsonwebtoken::decode(cookie, &self.decoding, &self.validation)
            .ok()?
            .claims;
        let same_state: bool = flow
            .state
            .as_bytes()
            .ct_eq(returned_state.as_bytes())
            .into();
        (flow.provider == provider && same_state && now_ms.div_euclid(1000) < flow.exp)
            .then_some(flow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_opens_only_for_its_provider_state_and_time() {
        let keys = FlowStateKeys::new(&"k".repeat(40));
        let flow = FlowState {
            provider: "openid".into(),
            state: "s1".into(),
            nonce: Some("n".into()),
            pkce_verifier: None,
            exp: 100,
            return_to: Some("https://chat.example.com/".into()),
        };
        let sealed = keys.seal(&flow).unwrap();
        assert_eq!(keys.open(&sealed, "openid", "s1", 99_000), Some(flow));
        assert!(keys.open(&sealed, "github", "s1", 0).is_none());
        assert!(keys.open(&sealed, "openid", "s2", 0).is_none());
        assert!(keys.open(&sealed, "openid", "s1", 100_000).is_none());
        assert!(FlowStateKeys::new(&"x".repeat(40))
            .open(&sealed, "openid", "s1", 0)
            .is_none());
    }
}
