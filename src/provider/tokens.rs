//! The tokens the provider issues: ID tokens (OpenID Connect Core §2) and access tokens as
//! JWTs (RFC 9068, `typ: at+jwt`), both signed with the provider's keys, and the check of an
//! access token on its way back (userinfo, introspection, the gateway).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::keys::SigningKeys;
use super::scopes::Scopes;
use crate::config::provider::ProviderConfig;
use crate::store::users::{Role, User};

/// RFC 9068's media type of a JWT access token, in the header's `typ`.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
const ID_TOKEN_TYP: &str = "JWT";

/// The claims a user's scopes release: in the ID token and at userinfo.
pub fn user_claims(config: &ProviderConfig, user: &User, scopes: &Scopes) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), user.id.clone().into());
    if scopes.email {
        claims.insert("email".into(), user.email.clone().into());
        claims.insert("email_verified".into(), user.email_verified.into());
    }
    if scopes.profile {
        let name = if user.name.is_empty() {
            &user.username
        } else {
            &user.name
        };
        if !name.is_empty() {
            claims.insert("name".into(), name.clone().into());
        }
        if !user.username.is_empty() {
            claims.insert("preferred_username".into(), user.username.clone().into());
        }
        // The user's avatar, or a picture of their initials drawn here (which an app such as
        // Open WebUI fetches with the access token).
        let picture = match user.avatar.as_deref().filter(|a| is_web_url(a)) {
            Some(avatar) => avatar.to_string(),
            None => format!("{}{}/{}", config.issuer, super::paths::PICTURE, user.id),
        };
        claims.insert("picture".into(), picture.into());
    }
    claims.insert(config.roles_claim.clone(), roles(config, &user.role).into());
    claims
}

fn is_web_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "https" | "http"))
}

/// The roles claim: every user has the user role; an ADMIN also the admin role.
pub fn roles(config: &ProviderConfig, role: &Role) -> Vec<String> {
    let mut roles = vec![config.user_role.clone()];
    if *role == Role::Admin && config.admin_role != config.user_role {
        roles.push(config.admin_role.clone());
    }
    roles
}

/// What an ID token says besides the user's claims.
pub struct IdTokenFacts<'a> {
    pub client_id: &'a str,
    pub nonce: Option<&'a str>,
    /// Seconds since the epoch.
    pub auth_time: i64,
    /// The provider grant (session) the token belongs to.
    pub sid: &'a str,
    pub now_ms: i64,
    pub lifetime_ms: i64,
}

pub fn sign_id_token(
    keys: &SigningKeys,
    config: &ProviderConfig,
    user: &User,
    scopes: &Scopes,
    facts: &IdTokenFacts<'_>,
) -> anyhow::Result<String> {
    let mut claims = user_claims(config, user, scopes);
    claims.insert("iss".into(), config.issuer.clone().into());
    claims.insert("aud".into(), facts.client_id.into());
    claims.insert("azp".into(), facts.client_id.into());
    claims.insert("iat".into(), facts.now_ms.div_euclid(1000).into());
    claims.insert(
        "exp".into(),
        (facts.now_ms + facts.lifetime_ms).div_euclid(1000).into(),
    );
    claims.insert("auth_time".into(), facts.auth_time.into());
    claims.insert("sid".into(), facts.sid.into());
    // For the gateway, which LibreChat (`OPENID_REUSE_TOKENS`) sends the ID token to.
    claims.insert("bouncer_role".into(), user.role.to_string().into());
    claims.insert("bouncer_idp".into(), user.provider.to_string().into());
    if !scopes.email {
        claims.insert("bouncer_email".into(), user.email.clone().into());
    }
    if let Some(nonce) = facts.nonce {
        claims.insert("nonce".into(), nonce.into());
    }
    keys.sign(ID_TOKEN_TYP, &claims)
}

/// An access token's claims (RFC 9068 §2.2), plus what the gateway needs to treat its bearer
/// as it treats Bouncer's own sessions (`role`, `username`, `email`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProviderAccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Vec<String>,
    pub client_id: String,
    pub scope: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    /// The grant (provider session): revoked with it.
    pub sid: String,
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Bouncer's role of the user (`USER`, `ADMIN`), for the gateway's `ACCESS_RULES`.
    #[serde(rename = "bouncer_role")]
    pub role: String,
    /// The user's provider at Bouncer (`local`, `openid`, …).
    #[serde(rename = "bouncer_idp")]
    pub idp: String,
}

/// Signs an access token; the roles claim (`OIDC_ROLES_CLAIM`) is added beside the fixed ones
/// for relying parties that read roles from the access token.
pub fn sign_access_token(
    keys: &SigningKeys,
    config: &ProviderConfig,
    claims: &ProviderAccessClaims,
    user_role: &Role,
) -> anyhow::Result<String> {
    let Value::Object(mut map) = serde_json::to_value(claims)? else {
        anyhow::bail!("access claims are an object");
    };
    map.insert(config.roles_claim.clone(), roles(config, user_role).into());
    keys.sign(ACCESS_TOKEN_TYP, &map)
}

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessTokenError {
    /// Not signed by a published key of this provider, not an `at+jwt`, or another issuer.
    Invalid,
    Expired,
}

/// Checks an access token's signature, type, issuer and expiry (not its audience, not
/// revocation: the callers decide those).
pub fn verify_access_token(
    keys: &SigningKeys,
    config: &ProviderConfig,
    token: &str,
    now_ms: i64,
) -> Result<ProviderAccessClaims, AccessTokenError> {
    let (typ, claims): (Option<String>, ProviderAccessClaims) =
        keys.verify(token).map_err(|_| AccessTokenError::Invalid)?;
    let typ_ok = typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP));
    if !typ_ok || claims.iss != config.issuer {
        return Err(AccessTokenError::Invalid);
    }
    if claims.exp.saturating_mul(1000) <= now_ms {
        return Err(AccessTokenError::Expired);
    }
    Ok(claims)
}

/// The parts of an ID token an end-session request needs (expiry not checked: an expired
/// hint still names its client and user).
#[derive(Debug, Clone, Deserialize)]
pub struct IdTokenHint {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    #[serde(default)]
    pub sid: Option<String>,
}

/// `aud` as a string or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn first(&self) -> Option<&str> {
        match self {
            Audience::One(a) => Some(a),
            Audience::Many(list) => list.first().map(String::as_str),
        }
    }

    pub fn contains_any(&self, wanted: &[String]) -> bool {
        match self {
            Audience::One(a) => wanted.contains(a),
            Audience::Many(list) => list.iter().any(|a| wanted.contains(a)),
        }
    }
}

/// What the gateway reads of a provider token sent as a Bearer: an access token, or an ID
/// token (LibreChat with `OPENID_REUSE_TOKENS` sends its ID token).
#[derive(Debug, Clone, Deserialize)]
pub struct BearerClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    /// The grant: revoked with it.
    pub sid: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub bouncer_email: Option<String>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub bouncer_role: Option<String>,
    #[serde(default)]
    pub bouncer_idp: Option<String>,
}

/// Checks a provider access or ID token's signature and issuer (not its expiry: the caller
/// checks it on every use, also of a token it remembers).
pub fn verify_bearer(
    keys: &SigningKeys,
    config: &ProviderConfig,
    token: &str,
) -> Result<BearerClaims, AccessTokenError> {
    let (typ, claims): (Option<String>, BearerClaims) =
        keys.verify(token).map_err(|_| AccessTokenError::Invalid)?;
    let typ_ok = typ.as_deref().is_none_or(|t| {
        t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || t.eq_ignore_ascii_case(ID_TOKEN_TYP)
    });
    if !typ_ok || claims.iss != config.issuer {
        return Err(AccessTokenError::Invalid);
    }
    Ok(claims)
}

pub fn read_id_token_hint(
    keys: &SigningKeys,
    config: &ProviderConfig,
    token: &str,
) -> Option<IdTokenHint> {
    let (typ, hint): (Option<String>, IdTokenHint) = keys.verify(token).ok()?;
    // An access token is not an ID token.
    if typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP))
        || hint.iss != config.issuer
    {
        return None;
    }
    Some(hint)
}
