//! OpenID Connect settings (spec §1.4, §1.4.1), read only when the provider is enabled:
//! `ALLOW_SOCIAL_LOGIN`, a client id, a secret or PKCE, an issuer and a session secret.

use std::collections::HashMap;

use super::values::parse_bool;
use super::{ConfigError, Secret};

#[derive(Debug, Clone)]
pub struct OpenIdConfig {
    pub client_id: String,
    /// Empty with PKCE and a public client.
    pub client_secret: Option<Secret>,
    /// `OPENID_ISSUER`, as given (discovery checks that the provider names itself the same).
    pub issuer: String,
    /// `OPENID_SESSION_SECRET`: the key of the short-lived cookie that carries the flow's state,
    /// nonce and PKCE verifier from the redirect to the callback.
    pub session_secret: Secret,
    pub scope: String,
    /// Absolute callback URL registered at the provider.
    pub callback_url: String,
    pub use_pkce: bool,
    pub clock_tolerance_secs: i64,
    pub button_label: String,
    pub image_url: Option<String>,
    pub auto_redirect: bool,
    pub username_claim: Option<String>,
    pub name_claim: Option<String>,
    pub email_claim: Option<String>,
    pub required_role: Option<RoleRule>,
    pub admin_role: Option<RoleRule>,
    pub use_end_session_endpoint: bool,
    pub post_logout_redirect_uri: Option<String>,
    /// `OPENID_ALLOW_ACCOUNT_LINKING`: bind an existing account of another provider whose email
    /// the OpenID provider asserts as verified.
    pub allow_account_linking: bool,
}

/// A role check: any of `roles` found at the dotted `path` of the claims of `token_kind`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRule {
    pub roles: Vec<String>,
    pub path: String,
    pub token_kind: TokenKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Id,
    Access,
    Userinfo,
}

impl OpenIdConfig {
    /// `Ok(None)` when OpenID is not enabled.
    pub fn from_vars(
        vars: &HashMap<String, String>,
        allow_social_login: bool,
        domain_server: &str,
    ) -> Result<Option<Self>, ConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let use_pkce = parse_bool(get("OPENID_USE_PKCE"), false);
        let (Some(client_id), Some(issuer), Some(session_secret)) = (
            get("OPENID_CLIENT_ID"),
            get("OPENID_ISSUER"),
            get("OPENID_SESSION_SECRET"),
        ) else {
            return Ok(None);
        };
        let client_secret = get("OPENID_CLIENT_SECRET");
        if !allow_social_login || (client_secret.is_none() && !use_pkce) {
            return Ok(None);
        }
        if session_secret.len() < 32 {
            return Err(ConfigError::secret(
                "OPENID_SESSION_SECRET",
                "is shorter than 32 characters; generate one with `openssl rand -hex 32`",
            ));
        }
        match url::Url::parse(issuer) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => {
                return Err(ConfigError::invalid(
                    "OPENID_ISSUER",
                    issuer,
                    "the provider's issuer URL, e.g. https://auth.example.com/realms/chat",
                ))
            }
        }
        let callback = get("OPENID_CALLBACK_URL").unwrap_or("/oauth/openid/callback");
        let callback_url = if callback.starts_with("http://") || callback.starts_with("https://") {
            callback.to_string()
        } else {
            super::social::join_url(domain_server, callback)
        };
        let tolerance_raw = get("OPENID_CLOCK_TOLERANCE").unwrap_or("300");
        let clock_tolerance_secs = tolerance_raw
            .parse::<i64>()
            .ok()
            .filter(|s| (0..=3600).contains(s))
            .ok_or_else(|| {
                ConfigError::invalid(
                    "OPENID_CLOCK_TOLERANCE",
                    tolerance_raw,
                    "whole seconds from 0 to 3600",
                )
            })?;
        Ok(Some(Self {
            client_id: client_id.to_string(),
            client_secret: client_secret.map(|s| Secret::new(s.to_string())),
            issuer: issuer.to_string(),
            session_secret: Secret::new(session_secret.to_string()),
            scope: get("OPENID_SCOPE")
                .unwrap_or("openid profile email")
                .to_string(),
            callback_url,
            use_pkce,
            clock_tolerance_secs,
            button_label: get("OPENID_BUTTON_LABEL")
                .unwrap_or("Continue with OpenID")
                .to_string(),
            image_url: get("OPENID_IMAGE_URL").map(str::to_string),
            auto_redirect: parse_bool(get("OPENID_AUTO_REDIRECT"), false),
            username_claim: get("OPENID_USERNAME_CLAIM").map(str::to_string),
            name_claim: get("OPENID_NAME_CLAIM").map(str::to_string),
            email_claim: get("OPENID_EMAIL_CLAIM").map(str::to_string),
            required_role: role_rule(vars, "OPENID_REQUIRED_ROLE")?,
            admin_role: role_rule(vars, "OPENID_ADMIN_ROLE")?,
            use_end_session_endpoint: parse_bool(get("OPENID_USE_END_SESSION_ENDPOINT"), false),
            post_logout_redirect_uri: get("OPENID_POST_LOGOUT_REDIRECT_URI").map(str::to_string),
            allow_account_linking: parse_bool(get("OPENID_ALLOW_ACCOUNT_LINKING"), false),
        }))
    }
}

fn role_rule(
    vars: &HashMap<String, String>,
    prefix: &str,
) -> Result<Option<RoleRule>, ConfigError> {
    let get = |suffix: &str| {
        vars.get(&format!("{prefix}{suffix}"))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let Some(roles) = get("") else {
        return Ok(None);
    };
    let kind_var = format!("{prefix}_TOKEN_KIND");
    let token_kind = match get("_TOKEN_KIND") {
        None | Some("id") => TokenKind::Id,
        Some("access") => TokenKind::Access,
        Some("userinfo") => TokenKind::Userinfo,
        Some(other) => {
            return Err(ConfigError::invalid(
                &kind_var,
                other,
                "`id`, `access` or `userinfo`",
            ))
        }
    };
    Ok(Some(RoleRule {
        roles: roles
            .split(',')
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect(),
        path: get("_PARAMETER_PATH").unwrap_or("roles").to_string(),
        token_kind,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn openid(pairs: &[(&str, &str)], social: bool) -> Result<Option<OpenIdConfig>, ConfigError> {
        let mut vars: HashMap<String, String> = [
            ("OPENID_CLIENT_ID", "bouncer"),
            ("OPENID_CLIENT_SECRET", "client-secret"),
            ("OPENID_ISSUER", "https://id.example.com"),
            ("OPENID_SESSION_SECRET", "s".repeat(40).as_str()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in pairs {
            vars.insert(k.to_string(), v.to_string());
        }
        OpenIdConfig::from_vars(&vars, social, "https://chat.example.com")
    }

    #[test]
    fn enabled_only_as_librechat_says() {
        assert!(
            openid(&[], false).unwrap().is_none(),
            "ALLOW_SOCIAL_LOGIN off"
        );
        let c = openid(&[], true).unwrap().unwrap();
        assert_eq!(
            c.callback_url,
            "https://chat.example.com/oauth/openid/callback"
        );
        assert_eq!(c.scope, "openid profile email");
        assert_eq!(c.clock_tolerance_secs, 300);
        for callback in ["oauth/openid/callback", "//oauth/openid/callback"] {
            assert_eq!(
                openid(&[("OPENID_CALLBACK_URL", callback)], true)
                    .unwrap()
                    .unwrap()
                    .callback_url,
                "https://chat.example.com/oauth/openid/callback",
                "one slash between DOMAIN_SERVER and {callback}"
            );
        }
        assert!(
            openid(&[("OPENID_CLIENT_SECRET", "")], true)
                .unwrap()
                .is_none(),
            "no secret, no PKCE"
        );
        assert!(openid(
            &[("OPENID_CLIENT_SECRET", ""), ("OPENID_USE_PKCE", "true")],
            true
        )
        .unwrap()
        .is_some());
        assert!(openid(&[("OPENID_SESSION_SECRET", "")], true)
            .unwrap()
            .is_none());
    }

    #[test]
    fn role_rules_and_bad_values() {
        let c = openid(
            &[
                ("OPENID_REQUIRED_ROLE", "chat-user, chat-admin"),
                ("OPENID_REQUIRED_ROLE_PARAMETER_PATH", "realm_access.roles"),
                ("OPENID_ADMIN_ROLE", "chat-admin"),
                ("OPENID_ADMIN_ROLE_TOKEN_KIND", "userinfo"),
            ],
            true,
        )
        .unwrap()
        .unwrap();
        let required = c.required_role.unwrap();
        assert_eq!(required.roles, vec!["chat-user", "chat-admin"]);
        assert_eq!(required.path, "realm_access.roles");
        assert_eq!(required.token_kind, TokenKind::Id);
        assert_eq!(c.admin_role.unwrap().token_kind, TokenKind::Userinfo);
        for (var, value) in [
            ("OPENID_REQUIRED_ROLE_TOKEN_KIND", "refresh"),
            ("OPENID_CLOCK_TOLERANCE", "soon"),
            ("OPENID_ISSUER", "not a url"),
            ("OPENID_SESSION_SECRET", "short"),
        ] {
            let mut pairs = vec![(var, value)];
            if var.starts_with("OPENID_REQUIRED_ROLE_") {
                pairs.push(("OPENID_REQUIRED_ROLE", "x"));
            }
            let err = openid(&pairs, true).unwrap_err().to_string();
            assert!(err.contains(var), "{var}: {err}");
        }
    }
}
