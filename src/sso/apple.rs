//! Sign in with Apple: the client secret is a short ES256 JWT signed with the team's key
//! (`APPLE_PRIVATE_KEY_PATH`, the .p8 file), the result comes back as a form post, and who the
//! user is comes from Apple's ID token, verified against Apple's published keys.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde_json::Value;

use super::social::{CallbackExtras, SocialProvider};
use super::state::FlowState;
use super::{chain, ExternalProfile, SsoFailure};
use crate::config::social::SocialKind;
use crate::store::users::Provider;

/// The issuer of Apple's ID tokens and the audience of the client secret.
const APPLE: &str = "https://appleid.apple.com";

#[derive(Serialize)]
struct ClientSecretClaims<'a> {
    iss: &'a str,
    iat: i64,
    exp: i64,
    aud: &'a str,
    sub: &'a str,
}

pub(super) async fn finish(
    provider: &SocialProvider,
    code: &str,
    flow: &FlowState,
    extras: &CallbackExtras,
) -> Result<ExternalProfile, SsoFailure> {
    let c = provider.config();
    let key = c
        .apple_key
        .as_ref()
        .ok_or_else(|| SsoFailure::ProviderUnavailable("Apple key not configured".into()))?;
    let unavailable = |what: &str| SsoFailure::ProviderUnavailable(what.to_string());
    let pem = tokio::fs::read(&key.private_key_path)
        .await
        .map_err(|e| unavailable(&format!("reading APPLE_PRIVATE_KEY_PATH: {e}")))?;
    let signing = EncodingKey::from_ec_pem(&pem)
        .map_err(|e| unavailable(&format!("APPLE_PRIVATE_KEY_PATH is not an ES256 key: {e}")))?;
    let now = provider.clock().now_ms().div_euclid(1000);
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.key_id.clone());
    let client_secret = jsonwebtoken::encode(
        &header,
        &ClientSecretClaims {
            iss: &key.team_id,
            iat: now,
            exp: now + 300,
            aud: APPLE,
            sub: &c.client_id,
        },
        &signing,
    )
    .map_err(|e| unavailable(&format!("signing the client secret: {e}")))?;

    let response = provider
        .http()
        .post(&c.endpoints.token)
        .form(&[
            ("client_id", c.client_id.as_str()),
            ("client_secret", client_secret.as_str()),
            ("code", code),
            ("grant_type", "authorization_code"),
            ("redirect_uri", c.callback_url.as_str()),
        ])
        .send()
        .await
        .map_err(|e| SsoFailure::CodeExchange(chain(&e)))?;
    if !response.status().is_success() {
        let status = response.status();
        let body: String = response
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        return Err(SsoFailure::CodeExchange(format!(
            "Apple answered {status}: {body}"
        )));
    }
    let tokens: Value = response
        .json()
        .await
        .map_err(|e| SsoFailure::CodeExchange(chain(&e)))?;
    let id_token = tokens
        .get("id_token")
        .and_then(Value::as_str)
        .ok_or_else(|| SsoFailure::InvalidIdToken("Apple sent no ID token".into()))?;
    let claims = verify_id_token(provider, id_token, now).await?;
    if claims.get("nonce").and_then(Value::as_str) != flow.nonce.as_deref() {
        return Err(SsoFailure::InvalidIdToken("nonce mismatch".into()));
    }
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or_else(|| SsoFailure::InvalidIdToken("no subject".into()))?
        .to_string();
    let email = claims
        .get("email")
        .and_then(Value::as_str)
        .map(str::to_lowercase);
    let email_verified = matches!(claims.get("email_verified"), Some(Value::Bool(true)))
        || claims.get("email_verified").and_then(Value::as_str) == Some("true");
    // Apple sends the name once, on the first sign-in, outside the token.
    let name = extras
        .apple_user
        .as_deref()
        .and_then(|u| serde_json::from_str::<Value>(u).ok())
        .map(|u| {
            let part = |k: &str| {
                u.pointer(&format!("/name/{k}"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            format!("{} {}", part("firstName"), part("lastName"))
                .trim()
                .to_string()
        })
        .unwrap_or_default();
    let username = match email.as_deref().and_then(|e| e.split('@').next()) {
        Some(local) if !local.is_empty() => local.to_string(),
        _ => format!("user_{subject}"),
    };
    Ok(ExternalProfile {
        provider: Provider::Social(SocialKind::Apple),
        issuer: String::new(),
        subject,
        email,
        email_verified,
        name: if name.is_empty() {
            username.clone()
        } else {
            name
        },
        username,
        avatar: None,
        admin: None,
    })
}

/// Checks the ID token's signature with Apple's published key of its `kid`, its issuer,
/// audience (this client) and expiry (on the injected clock).
async fn verify_id_token(
    provider: &SocialProvider,
    id_token: &str,
    now: i64,
) -> Result<Value, SsoFailure> {
    let invalid = |what: String| SsoFailure::InvalidIdToken(what);
    let header =
        jsonwebtoken::decode_header(id_token).map_err(|e| invalid(format!("header: {e}")))?;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
        return Err(invalid(format!("unexpected algorithm {:?}", header.alg)));
    }
    let kid = header.kid.ok_or_else(|| invalid("no key id".into()))?;
    let keys: JwkSet = provider
        .http()
        .get(&provider.config().endpoints.profile)
        .send()
        .await
        .map_err(|e| SsoFailure::ProviderError(format!("Apple keys: {}", chain(&e))))?
        .json()
        .await
        .map_err(|e| SsoFailure::ProviderError(format!("Apple keys: {}", chain(&e))))?;
    let jwk = keys
        .find(&kid)
        .ok_or_else(|| invalid(format!("unknown key {kid}")))?;
    let decoding = DecodingKey::from_jwk(jwk).map_err(|e| invalid(format!("key {kid}: {e}")))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[APPLE]);
    validation.set_audience(&[provider.config().client_id.as_str()]);
    // Expiry against the injected clock, below.
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["iss", "aud", "sub", "exp"]);
    let claims: Value = jsonwebtoken::decode(id_token, &decoding, &validation)
        .map_err(|e| invalid(e.to_string()))?
        .claims;
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp > now => Ok(claims),
        _ => Err(invalid("expired".into())),
    }
}
