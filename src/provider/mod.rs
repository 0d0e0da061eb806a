//! Bouncer as an OpenID provider: signing keys, registered clients, the tokens it issues, and
//! what its discovery document says. The order of a request's checks lives in
//! `usecases/provider.rs`; the grants themselves are sessions (`sessions/`, kind `provider`).

pub mod clients;
pub mod clients_file;
pub mod keys;
pub mod pkce;
pub mod scopes;
pub mod tokens;

use std::sync::Arc;

use serde_json::{json, Value};

use crate::clock::Clock;
use crate::config::provider::ProviderConfig;
use crate::store::Db;
use clients::Clients;
use keys::SigningKeys;

/// Where each endpoint lives, under the issuer's path.
pub mod paths {
    pub const DISCOVERY: &str = "/.well-known/openid-configuration";
    pub const AUTHORIZE: &str = "/oidc/authorize";
    pub const TOKEN: &str = "/oidc/token";
    pub const USERINFO: &str = "/oidc/userinfo";
    pub const JWKS: &str = "/oidc/jwks";
    pub const REVOKE: &str = "/oidc/revoke";
    pub const INTROSPECT: &str = "/oidc/introspect";
    pub const END_SESSION: &str = "/oidc/logout";
    /// `/oidc/picture/<user id>`: the initials picture of a user without an avatar.
    pub const PICTURE: &str = "/oidc/picture";
}

pub mod picture;

pub struct Provider {
    pub config: ProviderConfig,
    pub keys: SigningKeys,
    pub clients: Clients,
    /// Lifetime of ID and access tokens: `SESSION_EXPIRY`, so that a revoked grant's access
    /// tokens are refused for exactly as long as they could live (as Bouncer's own).
    pub token_lifetime_ms: i64,
    /// Bearer tokens whose signature was verified a moment ago (the gateway's hot path): an
    /// RSA verification costs more than the rest of a request. Expiry, audience, revocation
    /// and bans are still checked on every request.
    pub verified: moka::sync::Cache<String, Arc<tokens::BearerClaims>>,
}

/// How many verified bearer tokens are remembered, and how long.
const VERIFIED_CAPACITY: u64 = 10_000;
const VERIFIED_FOR: std::time::Duration = std::time::Duration::from_secs(300);

impl Provider {
    pub async fn new(
        config: ProviderConfig,
        db: Db,
        creds_key: [u8; 32],
        clock: Arc<dyn Clock>,
        token_lifetime_ms: i64,
    ) -> anyhow::Result<Self> {
        let keys = SigningKeys::load(
            db.clone(),
            creds_key,
            config.signing_alg,
            clock,
            token_lifetime_ms,
        )
        .await?;
        let clients = Clients::load(db, config.clients_file.as_deref()).await?;
        Ok(Self {
            config,
            keys,
            clients,
            token_lifetime_ms,
            verified: moka::sync::Cache::builder()
                .max_capacity(VERIFIED_CAPACITY)
                .time_to_live(VERIFIED_FOR)
                .build(),
        })
    }

    /// The path under which the endpoints are routed (the issuer's own path, often empty).
    pub fn base_path(&self) -> String {
        url::Url::parse(&self.config.issuer)
            .map(|u| u.path().trim_end_matches('/').to_string())
            .unwrap_or_default()
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.config.issuer)
    }

    /// The discovery document (OpenID Connect Discovery 1.0 §3, RFC 8414).
    pub fn discovery(&self) -> Value {
        let auth_methods = ["client_secret_basic", "client_secret_post", "none"];
        json!({
            "issuer": self.config.issuer,
            "authorization_endpoint": self.endpoint(paths::AUTHORIZE),
            "token_endpoint": self.endpoint(paths::TOKEN),
            "userinfo_endpoint": self.endpoint(paths::USERINFO),
            "jwks_uri": self.endpoint(paths::JWKS),
            "revocation_endpoint": self.endpoint(paths::REVOKE),
            "introspection_endpoint": self.endpoint(paths::INTROSPECT),
            "end_session_endpoint": self.endpoint(paths::END_SESSION),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": self.keys.algorithms(),
            "token_endpoint_auth_methods_supported": auth_methods,
            "revocation_endpoint_auth_methods_supported": auth_methods,
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": scopes::SUPPORTED,
            "claims_supported": [
                "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "sid",
                "email", "email_verified", "name", "preferred_username", "picture",
                self.config.roles_claim,
            ],
            "prompt_values_supported": ["none", "login", "consent"],
            "authorization_response_iss_parameter_supported": true,
            "claims_parameter_supported": false,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
        })
    }
}
