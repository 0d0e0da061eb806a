//! Bouncer as an OpenID provider: its issuer, its clients file, how it signs, and what its
//! tokens say of a user's role. The provider is on as soon as one client is registered.

use std::path::PathBuf;

use super::values::{variables, Accepted, Vars};
use super::ConfigError;

variables! {
    OIDC_ISSUER: "`DOMAIN_SERVER`", "The provider's issuer URL, exactly as its clients expect `iss` (discovery lives under it).";
    OIDC_CLIENTS_FILE: "unset", "A YAML file of relying parties (secrets as hashes), next to those added with `bouncer client add`.";
    OIDC_SIGNING_ALG: "`RS256`", "Algorithm of the keys generated for ID and access tokens: `RS256` or `ES256`.";
    OIDC_ROLES_CLAIM: "`roles`", "Name of the claim listing a user's roles (LibreChat's `OPENID_REQUIRED_ROLE_TOKEN_KIND` reads it).";
    OIDC_USER_ROLE: "`user`", "Role every user has in that claim (`OPENID_REQUIRED_ROLE`).";
    OIDC_ADMIN_ROLE: "`admin`", "Role a Bouncer ADMIN also has in that claim (`OPENID_ADMIN_ROLE`).";
    OIDC_GATEWAY_AUDIENCES: "unset (none)", "Comma-separated audiences (client ids) whose provider access tokens the gateway and forward-auth accept.";
    OIDC_CODE_EXPIRY: "`1000 * 60`", "Lifetime of an authorization code (ms).";
}

/// Which kind of key signs the provider's tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlg {
    Rs256,
    Es256,
}

impl SigningAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "RS256",
            SigningAlg::Es256 => "ES256",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw.to_ascii_uppercase().as_str() {
            "RS256" => Some(SigningAlg::Rs256),
            "ES256" => Some(SigningAlg::Es256),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// `OIDC_ISSUER` without a trailing slash.
    pub issuer: String,
    pub clients_file: Option<PathBuf>,
    pub signing_alg: SigningAlg,
    pub roles_claim: String,
    pub user_role: String,
    pub admin_role: String,
    pub gateway_audiences: Vec<String>,
    pub code_expiry_ms: i64,
}

impl ProviderConfig {
    pub fn from_vars(vars: Vars, domain_server: &str) -> Result<Self, ConfigError> {
        let issuer = vars
            .text(&OIDC_ISSUER, domain_server)
            .trim_end_matches('/')
            .to_string();
        let issuer_ok = url::Url::parse(&issuer).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && u.query().is_none()
                && u.fragment().is_none()
                && u.username().is_empty()
        });
        if !issuer_ok {
            return Err(ConfigError::invalid(
                OIDC_ISSUER.name,
                &issuer,
                "an http(s) URL without query or fragment, e.g. https://auth.example.com",
            ));
        }
        let alg_raw = vars.text(&OIDC_SIGNING_ALG, "RS256");
        let signing_alg = SigningAlg::parse(&alg_raw).ok_or_else(|| {
            ConfigError::invalid(OIDC_SIGNING_ALG.name, &alg_raw, "RS256 or ES256")
        })?;
        let roles_claim = vars.text(&OIDC_ROLES_CLAIM, "roles");
        const RESERVED: &[&str] = &[
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "nbf",
            "jti",
            "nonce",
            "auth_time",
            "azp",
            "sid",
            "scope",
            "client_id",
            "email",
            "name",
        ];
        if RESERVED.contains(&roles_claim.as_str()) {
            return Err(ConfigError::invalid(
                OIDC_ROLES_CLAIM.name,
                &roles_claim,
                "a claim name other than the standard ones (e.g. roles, groups)",
            ));
        }
        let gateway_audiences = vars
            .get(&OIDC_GATEWAY_AUDIENCES)
            .map(|raw| {
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let code_expiry_ms = vars.expression(
            &OIDC_CODE_EXPIRY,
            60_000,
            Accepted::from(1_000..=600_000).noun("milliseconds"),
        )?;
        Ok(Self {
            issuer,
            clients_file: vars.get(&OIDC_CLIENTS_FILE).map(PathBuf::from),
            signing_alg,
            roles_claim,
            user_role: vars.text(&OIDC_USER_ROLE, "user"),
            admin_role: vars.text(&OIDC_ADMIN_ROLE, "admin"),
            gateway_audiences,
            code_expiry_ms,
        })
    }
}
