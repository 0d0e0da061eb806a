//! OpenID Connect settings (spec §1.4, §1.4.1), read only when the provider is enabled:
//! `ALLOW_SOCIAL_LOGIN`, a client id, a secret or PKCE, an issuer and a session secret.

use super::values::{variables, Accepted, Variable, Vars};
use super::{ConfigError, Secret};

variables! {
    OPENID_CLIENT_ID: "unset", "The client registered at the provider.";
    OPENID_CLIENT_SECRET: "unset", "The client's secret; may be empty with PKCE.";
    OPENID_ISSUER: "unset", "Issuer URL, as the provider's discovery document names it.";
    OPENID_SESSION_SECRET: "unset", "Required, at least 32 characters: the key of the flow's state cookie.";
    OPENID_SCOPE: "`openid profile email`", "Scopes requested.";
    OPENID_CALLBACK_URL: "`/oauth/openid/callback`", "Relative to `DOMAIN_SERVER`, or absolute.";
    OPENID_USE_PKCE: "`false`", "PKCE with S256.";
    OPENID_CLOCK_TOLERANCE: "`300`", "Seconds of clock difference tolerated on the ID token's expiry.";
    OPENID_BUTTON_LABEL: "`Continue with OpenID`", "Text of the login button.";
    OPENID_IMAGE_URL: "unset", "Icon of the login button.";
    OPENID_AUTO_REDIRECT: "`false`", "The login page goes straight to the provider.";
    OPENID_USERNAME_CLAIM: "LibreChat's order", "Claim for the username.";
    OPENID_NAME_CLAIM: "LibreChat's order", "Claim for the name.";
    OPENID_EMAIL_CLAIM: "LibreChat's order", "Claim for the email.";
    OPENID_REQUIRED_ROLE: "unset", "Comma-separated roles; the user needs one of them to log in.";
    OPENID_REQUIRED_ROLE_TOKEN_KIND: "`id`", "Token the required roles are in: `id`, `access` or `userinfo`.";
    OPENID_REQUIRED_ROLE_PARAMETER_PATH: "`roles`", "Dotted path of the required roles in that token.";
    OPENID_ADMIN_ROLE: "unset", "Role that makes the user ADMIN (its absence demotes an ADMIN).";
    OPENID_ADMIN_ROLE_TOKEN_KIND: "`id`", "Token the admin role is in: `id`, `access` or `userinfo`.";
    OPENID_ADMIN_ROLE_PARAMETER_PATH: "`roles`", "Dotted path of the admin role in that token.";
    OPENID_USE_END_SESSION_ENDPOINT: "`false`", "Logout returns the provider's end-session URL.";
    OPENID_POST_LOGOUT_REDIRECT_URI: "`${DOMAIN_CLIENT}/login`", "Where the provider sends the browser after its logout.";
    OPENID_ALLOW_ACCOUNT_LINKING: "`false`", "Bind an existing account of another provider by verified email.";
}

/// The three variables of a role rule.
struct RoleVariables {
    roles: &'static Variable,
    token_kind: &'static Variable,
    path: &'static Variable,
}

const REQUIRED_ROLE: RoleVariables = RoleVariables {
    roles: &OPENID_REQUIRED_ROLE,
    token_kind: &OPENID_REQUIRED_ROLE_TOKEN_KIND,
    path: &OPENID_REQUIRED_ROLE_PARAMETER_PATH,
};

const ADMIN_ROLE: RoleVariables = RoleVariables {
    roles: &OPENID_ADMIN_ROLE,
    token_kind: &OPENID_ADMIN_ROLE_TOKEN_KIND,
    path: &OPENID_ADMIN_ROLE_PARAMETER_PATH,
};

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
        vars: Vars,
        allow_social_login: bool,
        domain_server: &str,
    ) -> Result<Option<Self>, ConfigError> {
        let use_pkce = vars.flag(&OPENID_USE_PKCE, false);
        let (Some(client_id), Some(issuer), Some(session_secret)) = (
            vars.get(&OPENID_CLIENT_ID),
            vars.get(&OPENID_ISSUER),
            vars.get(&OPENID_SESSION_SECRET),
        ) else {
            return Ok(None);
        };
        let client_secret = vars.get(&OPENID_CLIENT_SECRET);
        if !allow_social_login || (client_secret.is_none() && !use_pkce) {
            return Ok(None);
        }
        if session_secret.len() < 32 {
            return Err(ConfigError::secret(
                OPENID_SESSION_SECRET.name,
                "is shorter than 32 characters; generate one with `openssl rand -hex 32`",
            ));
        }
        match url::Url::parse(issuer) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => {
                return Err(ConfigError::invalid(
                    OPENID_ISSUER.name,
                    issuer,
                    "the provider's issuer URL, e.g. https://auth.example.com/realms/chat",
                ))
            }
        }
        let callback = vars
            .get(&OPENID_CALLBACK_URL)
            .unwrap_or("/oauth/openid/callback");
        let callback_url = if callback.starts_with("http://") || callback.starts_with("https://") {
            callback.to_string()
        } else {
            super::social::join_url(domain_server, callback)
        };
        let clock_tolerance_secs = vars.number(
            &OPENID_CLOCK_TOLERANCE,
            300,
            Accepted::from(0..=3600).noun("whole seconds"),
        )?;
        Ok(Some(Self {
            client_id: client_id.to_string(),
            client_secret: client_secret.map(|s| Secret::new(s.to_string())),
            issuer: issuer.to_string(),
            session_secret: Secret::new(session_secret.to_string()),
            scope: vars.text(&OPENID_SCOPE, "openid profile email"),
            callback_url,
            use_pkce,
            clock_tolerance_secs,
            button_label: vars.text(&OPENID_BUTTON_LABEL, "Continue with OpenID"),
            image_url: vars.get(&OPENID_IMAGE_URL).map(str::to_string),
            auto_redirect: vars.flag(&OPENID_AUTO_REDIRECT, false),
            username_claim: vars.get(&OPENID_USERNAME_CLAIM).map(str::to_string),
            name_claim: vars.get(&OPENID_NAME_CLAIM).map(str::to_string),
            email_claim: vars.get(&OPENID_EMAIL_CLAIM).map(str::to_string),
            required_role: role_rule(vars, &REQUIRED_ROLE)?,
            admin_role: role_rule(vars, &ADMIN_ROLE)?,
            use_end_session_endpoint: vars.flag(&OPENID_USE_END_SESSION_ENDPOINT, false),
            post_logout_redirect_uri: vars
                .get(&OPENID_POST_LOGOUT_REDIRECT_URI)
                .map(str::to_string),
            allow_account_linking: vars.flag(&OPENID_ALLOW_ACCOUNT_LINKING, false),
        }))
    }
}

fn role_rule(vars: Vars, rule: &RoleVariables) -> Result<Option<RoleRule>, ConfigError> {
    let Some(roles) = vars.get(rule.roles) else {
        return Ok(None);
    };
    let token_kind = match vars.get(rule.token_kind) {
        None | Some("id") => TokenKind::Id,
        Some("access") => TokenKind::Access,
        Some("userinfo") => TokenKind::Userinfo,
        Some(other) => {
            return Err(ConfigError::invalid(
                rule.token_kind.name,
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
        path: vars.text(rule.path, "roles"),
        token_kind,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn openid(pairs: &[(&str, &str)], social: bool) -> Result<Option<OpenIdConfig>, ConfigError> {
        let mut vars: std::collections::HashMap<String, String> = [
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
        OpenIdConfig::from_vars(Vars::new(&vars), social, "https://chat.example.com")
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
