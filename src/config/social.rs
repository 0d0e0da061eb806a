//! Social sign-in providers (spec §1.4): Google, GitHub (and GitHub Enterprise), Discord,
//! Facebook, Apple. Each is enabled by `ALLOW_SOCIAL_LOGIN` and its own variables, as in
//! LibreChat. `<PROVIDER>_ENDPOINT_ORIGIN` sends a provider's requests to another origin (a test
//! double, or an egress proxy); the paths stay the provider's.

use std::collections::HashMap;
use std::path::PathBuf;

use super::values::parse_bool;
use super::{ConfigError, Secret};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocialKind {
    Google,
    Github,
    Discord,
    Facebook,
    Apple,
}

impl SocialKind {
    pub const ALL: [SocialKind; 5] = [
        SocialKind::Google,
        SocialKind::Github,
        SocialKind::Discord,
        SocialKind::Facebook,
        SocialKind::Apple,
    ];

    /// The name in routes, `provider` fields and `/api/config` flags.
    pub fn name(self) -> &'static str {
        match self {
            SocialKind::Google => "google",
            SocialKind::Github => "github",
            SocialKind::Discord => "discord",
            SocialKind::Facebook => "facebook",
            SocialKind::Apple => "apple",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            SocialKind::Google => "GOOGLE",
            SocialKind::Github => "GITHUB",
            SocialKind::Discord => "DISCORD",
            SocialKind::Facebook => "FACEBOOK",
            SocialKind::Apple => "APPLE",
        }
    }
}

/// Where a provider's flow goes.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub authorize: String,
    pub token: String,
    /// The profile (GitHub: `/user`; Apple: its JWKS, the profile being the ID token).
    pub profile: String,
    /// GitHub's list of the user's addresses.
    pub emails: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SocialConfig {
    pub kind: SocialKind,
    pub client_id: String,
    /// Apple has none: its secret is a JWT signed with `apple_key`.
    pub client_secret: Option<Secret>,
    pub callback_url: String,
    pub endpoints: Endpoints,
    pub scopes: Vec<String>,
    /// `<PROVIDER>_ALLOW_ACCOUNT_LINKING`.
    pub allow_account_linking: bool,
    /// GitHub's API wants a User-Agent (`GITHUB_ENTERPRISE_USER_AGENT`).
    pub user_agent: String,
    pub apple_key: Option<AppleKey>,
}

#[derive(Debug, Clone)]
pub struct AppleKey {
    pub team_id: String,
    pub key_id: String,
    pub private_key_path: PathBuf,
}

fn with_origin(default: &str, origin: Option<&str>) -> String {
    match origin {
        Some(origin) => {
            let url = url::Url::parse(default).expect("built-in endpoint");
            let mut path = url.path().to_string();
            if let Some(q) = url.query() {
                path.push('?');
                path.push_str(q);
            }
            format!("{}{}", origin.trim_end_matches('/'), path)
        }
        None => default.to_string(),
    }
}

impl SocialConfig {
    /// Every enabled provider.
    pub fn all_from_vars(
        vars: &HashMap<String, String>,
        allow_social_login: bool,
        domain_server: &str,
    ) -> Result<Vec<Self>, ConfigError> {
        if !allow_social_login {
            return Ok(Vec::new());
        }
        let mut enabled = Vec::new();
        for kind in SocialKind::ALL {
            if let Some(c) = Self::from_vars(vars, kind, domain_server)? {
                enabled.push(c);
            }
        }
        Ok(enabled)
    }

    fn from_vars(
        vars: &HashMap<String, String>,
        kind: SocialKind,
        domain_server: &str,
    ) -> Result<Option<Self>, ConfigError> {
        let p = kind.prefix();
        let get = |suffix: &str| {
            vars.get(&format!("{p}_{suffix}"))
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };
        let Some(client_id) = get("CLIENT_ID") else {
            return Ok(None);
        };
        let apple_key = if kind == SocialKind::Apple {
            let (Some(team_id), Some(key_id), Some(path)) =
                (get("TEAM_ID"), get("KEY_ID"), get("PRIVATE_KEY_PATH"))
            else {
                return Ok(None);
            };
            if !PathBuf::from(path).is_file() {
                return Err(ConfigError::invalid(
                    "APPLE_PRIVATE_KEY_PATH",
                    path,
                    "the path of the .p8 key file downloaded from Apple",
                ));
            }
            Some(AppleKey {
                team_id: team_id.to_string(),
                key_id: key_id.to_string(),
                private_key_path: PathBuf::from(path),
            })
        } else {
            None
        };
        let client_secret = get("CLIENT_SECRET").map(|s| Secret::new(s.to_string()));
        if kind != SocialKind::Apple && client_secret.is_none() {
            return Ok(None);
        }
        let origin_var = format!("{p}_ENDPOINT_ORIGIN");
        let origin = get("ENDPOINT_ORIGIN");
        if let Some(o) = origin {
            match url::Url::parse(o) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
                _ => {
                    return Err(ConfigError::invalid(
                        &origin_var,
                        o,
                        "an origin such as https://proxy.example.com",
                    ))
                }
            }
        }
        let callback = get("CALLBACK_URL")
            .map(str::to_string)
            .unwrap_or_else(|| format!("/oauth/{}/callback", kind.name()));
        let callback_url = if callback.starts_with("http://") || callback.starts_with("https://") {
            callback
        } else {
            format!("{domain_server}{callback}")
        };
        let o = |url: &str| with_origin(url, origin);
        let (endpoints, scopes) = match kind {
            SocialKind::Google => (
                Endpoints {
                    authorize: o("https://accounts.google.com/o/oauth2/v2/auth"),
                    token: o("https://oauth2.googleapis.com/token"),
                    profile: o("https://openidconnect.googleapis.com/v1/userinfo"),
                    emails: None,
                },
                vec!["openid", "profile", "email"],
            ),
            SocialKind::Github => {
                // GitHub Enterprise Server: the same paths under its own host, API at /api/v3.
                let (web, api) = match vars
                    .get("GITHUB_ENTERPRISE_BASE_URL")
                    .map(|v| v.trim().trim_end_matches('/'))
                    .filter(|v| !v.is_empty())
                {
                    Some(base) => (base.to_string(), format!("{base}/api/v3")),
                    None => (o("https://github.com"), o("https://api.github.com")),
                };
                (
                    Endpoints {
                        authorize: format!("{web}/login/oauth/authorize"),
                        token: format!("{web}/login/oauth/access_token"),
                        profile: format!("{api}/user"),
                        emails: Some(format!("{api}/user/emails")),
                    },
                    vec!["user:email", "read:user"],
                )
            }
            SocialKind::Discord => (
                Endpoints {
                    authorize: o("https://discord.com/oauth2/authorize"),
                    token: o("https://discord.com/api/oauth2/token"),
                    profile: o("https://discord.com/api/users/@me"),
                    emails: None,
                },
                vec!["identify", "email"],
            ),
            SocialKind::Facebook => (
                Endpoints {
                    authorize: o("https://www.facebook.com/v18.0/dialog/oauth"),
                    token: o("https://graph.facebook.com/v18.0/oauth/access_token"),
                    profile: o("https://graph.facebook.com/v18.0/me?fields=id,email,name,picture.type(large)"),
                    emails: None,
                },
                vec!["public_profile", "email"],
            ),
            SocialKind::Apple => (
                Endpoints {
                    authorize: o("https://appleid.apple.com/auth/authorize"),
                    token: o("https://appleid.apple.com/auth/token"),
                    profile: o("https://appleid.apple.com/auth/keys"),
                    emails: None,
                },
                vec!["name", "email"],
            ),
        };
        Ok(Some(Self {
            kind,
            client_id: client_id.to_string(),
            client_secret,
            callback_url,
            endpoints,
            scopes: scopes.into_iter().map(str::to_string).collect(),
            allow_account_linking: parse_bool(get("ALLOW_ACCOUNT_LINKING"), false),
            user_agent: vars
                .get("GITHUB_ENTERPRISE_USER_AGENT")
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "Bouncer".into()),
            apple_key,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn social(pairs: &[(&str, &str)], allow: bool) -> Result<Vec<SocialConfig>, ConfigError> {
        let vars = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        SocialConfig::all_from_vars(&vars, allow, "https://chat.example.com")
    }

    #[test]
    fn providers_are_enabled_by_their_variables() {
        let pairs = [
            ("GOOGLE_CLIENT_ID", "g"),
            ("GOOGLE_CLIENT_SECRET", "gs"),
            ("GITHUB_CLIENT_ID", "h"),
            ("DISCORD_CLIENT_ID", "d"),
            ("DISCORD_CLIENT_SECRET", "ds"),
            ("DISCORD_ENDPOINT_ORIGIN", "http://127.0.0.1:9"),
        ];
        assert!(
            social(&pairs, false).unwrap().is_empty(),
            "ALLOW_SOCIAL_LOGIN off"
        );
        let enabled = social(&pairs, true).unwrap();
        let names: Vec<_> = enabled.iter().map(|c| c.kind.name()).collect();
        assert_eq!(names, ["google", "discord"], "GitHub lacks its secret");
        assert_eq!(
            enabled[0].callback_url,
            "https://chat.example.com/oauth/google/callback"
        );
        assert_eq!(
            enabled[1].endpoints.profile,
            "http://127.0.0.1:9/api/users/@me"
        );
        let err = social(
            &[
                ("GOOGLE_CLIENT_ID", "g"),
                ("GOOGLE_CLIENT_SECRET", "s"),
                ("GOOGLE_ENDPOINT_ORIGIN", "nope"),
            ],
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("GOOGLE_ENDPOINT_ORIGIN"), "{err}");
    }

    #[test]
    fn github_enterprise_and_apple() {
        let c = social(
            &[
                ("GITHUB_CLIENT_ID", "h"),
                ("GITHUB_CLIENT_SECRET", "hs"),
                ("GITHUB_ENTERPRISE_BASE_URL", "https://git.example.com/"),
            ],
            true,
        )
        .unwrap();
        assert_eq!(
            c[0].endpoints.authorize,
            "https://git.example.com/login/oauth/authorize"
        );
        assert_eq!(
            c[0].endpoints.profile,
            "https://git.example.com/api/v3/user"
        );
        let missing = social(
            &[
                ("APPLE_CLIENT_ID", "a"),
                ("APPLE_TEAM_ID", "t"),
                ("APPLE_KEY_ID", "k"),
                ("APPLE_PRIVATE_KEY_PATH", "/nonexistent.p8"),
            ],
            true,
        )
        .unwrap_err()
        .to_string();
        assert!(missing.contains("APPLE_PRIVATE_KEY_PATH"), "{missing}");
        assert!(
            social(&[("APPLE_CLIENT_ID", "a")], true)
                .unwrap()
                .is_empty(),
            "all four or nothing"
        );
    }
}
