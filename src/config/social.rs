//! Social sign-in providers (spec §1.4): Google, GitHub (and GitHub Enterprise), Discord,
//! Facebook, Apple. Each is enabled by `ALLOW_SOCIAL_LOGIN` and its own variables, as in
//! LibreChat. `<PROVIDER>_ENDPOINT_ORIGIN` sends a provider's requests to another origin (a test
//! double, or an egress proxy); the paths stay the provider's.

use std::path::PathBuf;

use super::values::{variables, Variable, Vars};
use super::{ConfigError, Secret};

variables! {
    GOOGLE_CLIENT_ID: "unset", "Google OAuth client id.";
    GOOGLE_CLIENT_SECRET: "unset", "Google OAuth client secret.";
    GOOGLE_CALLBACK_URL: "`/oauth/google/callback`", "Relative to `DOMAIN_SERVER`, or absolute.";
    GOOGLE_ENDPOINT_ORIGIN: "unset", "Send Google's requests to this origin instead (a test double or an egress proxy).";
    GOOGLE_ALLOW_ACCOUNT_LINKING: "`false`", "Bind an existing account by its Google-verified email.";
    GITHUB_CLIENT_ID: "unset", "GitHub OAuth app id.";
    GITHUB_CLIENT_SECRET: "unset", "GitHub OAuth app secret.";
    GITHUB_CALLBACK_URL: "`/oauth/github/callback`", "Relative to `DOMAIN_SERVER`, or absolute.";
    GITHUB_ENDPOINT_ORIGIN: "unset", "Send GitHub's requests to this origin instead.";
    GITHUB_ALLOW_ACCOUNT_LINKING: "`false`", "Bind an existing account by its GitHub-verified email.";
    GITHUB_ENTERPRISE_BASE_URL: "unset", "GitHub Enterprise Server's base URL (API at `/api/v3`).";
    GITHUB_ENTERPRISE_USER_AGENT: "`Bouncer`", "The User-Agent sent to GitHub.";
    DISCORD_CLIENT_ID: "unset", "Discord application id.";
    DISCORD_CLIENT_SECRET: "unset", "Discord application secret.";
    DISCORD_CALLBACK_URL: "`/oauth/discord/callback`", "Relative to `DOMAIN_SERVER`, or absolute.";
    DISCORD_ENDPOINT_ORIGIN: "unset", "Send Discord's requests to this origin instead.";
    DISCORD_ALLOW_ACCOUNT_LINKING: "`false`", "Bind an existing account by its Discord-verified email.";
    FACEBOOK_CLIENT_ID: "unset", "Facebook app id.";
    FACEBOOK_CLIENT_SECRET: "unset", "Facebook app secret.";
    FACEBOOK_CALLBACK_URL: "`/oauth/facebook/callback`", "Relative to `DOMAIN_SERVER`, or absolute.";
    FACEBOOK_ENDPOINT_ORIGIN: "unset", "Send Facebook's requests to this origin instead.";
    FACEBOOK_ALLOW_ACCOUNT_LINKING: "`false`", "Bind an existing account by its Facebook-verified email.";
    APPLE_CLIENT_ID: "unset", "Sign in with Apple's Services ID.";
    APPLE_TEAM_ID: "unset", "Apple developer team id.";
    APPLE_KEY_ID: "unset", "Id of the Sign in with Apple key.";
    APPLE_PRIVATE_KEY_PATH: "unset", "Path of the `.p8` key file (must exist).";
    APPLE_CALLBACK_URL: "`/oauth/apple/callback`", "Relative to `DOMAIN_SERVER`, or absolute.";
    APPLE_ENDPOINT_ORIGIN: "unset", "Send Apple's requests to this origin instead.";
    APPLE_ALLOW_ACCOUNT_LINKING: "`false`", "Bind an existing account by its Apple-verified email.";
}

/// A provider's variables (`<PROVIDER>_...`).
struct ProviderVariables {
    client_id: &'static Variable,
    /// Apple has none: its client secret is made from its key.
    client_secret: Option<&'static Variable>,
    callback_url: &'static Variable,
    endpoint_origin: &'static Variable,
    allow_account_linking: &'static Variable,
}

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

    fn variables(self) -> &'static ProviderVariables {
        match self {
            SocialKind::Google => &ProviderVariables {
                client_id: &GOOGLE_CLIENT_ID,
                client_secret: Some(&GOOGLE_CLIENT_SECRET),
                callback_url: &GOOGLE_CALLBACK_URL,
                endpoint_origin: &GOOGLE_ENDPOINT_ORIGIN,
                allow_account_linking: &GOOGLE_ALLOW_ACCOUNT_LINKING,
            },
            SocialKind::Github => &ProviderVariables {
                client_id: &GITHUB_CLIENT_ID,
                client_secret: Some(&GITHUB_CLIENT_SECRET),
                callback_url: &GITHUB_CALLBACK_URL,
                endpoint_origin: &GITHUB_ENDPOINT_ORIGIN,
                allow_account_linking: &GITHUB_ALLOW_ACCOUNT_LINKING,
            },
            SocialKind::Discord => &ProviderVariables {
                client_id: &DISCORD_CLIENT_ID,
                client_secret: Some(&DISCORD_CLIENT_SECRET),
                callback_url: &DISCORD_CALLBACK_URL,
                endpoint_origin: &DISCORD_ENDPOINT_ORIGIN,
                allow_account_linking: &DISCORD_ALLOW_ACCOUNT_LINKING,
            },
            SocialKind::Facebook => &ProviderVariables {
                client_id: &FACEBOOK_CLIENT_ID,
                client_secret: Some(&FACEBOOK_CLIENT_SECRET),
                callback_url: &FACEBOOK_CALLBACK_URL,
                endpoint_origin: &FACEBOOK_ENDPOINT_ORIGIN,
                allow_account_linking: &FACEBOOK_ALLOW_ACCOUNT_LINKING,
            },
            SocialKind::Apple => &ProviderVariables {
                client_id: &APPLE_CLIENT_ID,
                client_secret: None,
                callback_url: &APPLE_CALLBACK_URL,
                endpoint_origin: &APPLE_ENDPOINT_ORIGIN,
                allow_account_linking: &APPLE_ALLOW_ACCOUNT_LINKING,
            },
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

/// `base` and `path` joined by exactly one slash, whatever slashes the operator wrote at the end
/// of an origin or base URL, or at the start of a path (`https://proxy/` + `/user` must not be
/// `https://proxy//user`, which a provider or its proxy may not route).
pub fn join_url(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    let path = path.trim_start_matches('/');
    if path.is_empty() {
        base.to_string()
    } else {
        format!("{base}/{path}")
    }
}

/// A built-in endpoint, moved to `origin` (path and query kept) when one is set.
fn with_origin(default: &str, origin: Option<&str>) -> String {
    match origin {
        Some(origin) => {
            let url = url::Url::parse(default).expect("built-in endpoint");
            let mut path = url.path().to_string();
            if let Some(q) = url.query() {
                path.push('?');
                path.push_str(q);
            }
            join_url(origin, &path)
        }
        None => default.to_string(),
    }
}

impl SocialConfig {
    /// Every enabled provider.
    pub fn all_from_vars(
        vars: Vars,
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
        vars: Vars,
        kind: SocialKind,
        domain_server: &str,
    ) -> Result<Option<Self>, ConfigError> {
        let names = kind.variables();
        let Some(client_id) = vars.get(names.client_id) else {
            return Ok(None);
        };
        let apple_key = if kind == SocialKind::Apple {
            let (Some(team_id), Some(key_id), Some(path)) = (
                vars.get(&APPLE_TEAM_ID),
                vars.get(&APPLE_KEY_ID),
                vars.get(&APPLE_PRIVATE_KEY_PATH),
            ) else {
                return Ok(None);
            };
            if !PathBuf::from(path).is_file() {
                return Err(ConfigError::invalid(
                    APPLE_PRIVATE_KEY_PATH.name,
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
        let client_secret = match names.client_secret {
            Some(var) => match vars.get(var) {
                Some(s) => Some(Secret::new(s.to_string())),
                None => return Ok(None),
            },
            None => None,
        };
        let origin = vars.get(names.endpoint_origin);
        if let Some(o) = origin {
            match url::Url::parse(o) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
                _ => {
                    return Err(ConfigError::invalid(
                        names.endpoint_origin.name,
                        o,
                        "an origin such as https://proxy.example.com",
                    ))
                }
            }
        }
        let callback = vars
            .get(names.callback_url)
            .map(str::to_string)
            .unwrap_or_else(|| format!("/oauth/{}/callback", kind.name()));
        let callback_url = if callback.starts_with("http://") || callback.starts_with("https://") {
            callback
        } else {
            join_url(domain_server, &callback)
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
                    .get(&GITHUB_ENTERPRISE_BASE_URL)
                    .map(|v| v.trim_end_matches('/'))
                    .filter(|v| !v.is_empty())
                {
                    Some(base) => (base.to_string(), join_url(base, "api/v3")),
                    None => (o("https://github.com"), o("https://api.github.com")),
                };
                (
                    Endpoints {
                        authorize: join_url(&web, "login/oauth/authorize"),
                        token: join_url(&web, "login/oauth/access_token"),
                        profile: join_url(&api, "user"),
                        emails: Some(join_url(&api, "user/emails")),
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
            allow_account_linking: vars.flag(names.allow_account_linking, false),
            user_agent: vars.text(&GITHUB_ENTERPRISE_USER_AGENT, "Bouncer"),
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
        SocialConfig::all_from_vars(Vars::new(&vars), allow, "https://chat.example.com")
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
    fn join_url_writes_one_slash_whatever_the_operator_wrote() {
        for base in [
            "https://p.example",
            "https://p.example/",
            "https://p.example//",
        ] {
            for path in ["user", "/user", "//user"] {
                assert_eq!(
                    join_url(base, path),
                    "https://p.example/user",
                    "{base} {path}"
                );
            }
            assert_eq!(join_url(base, "/"), "https://p.example");
        }
        assert_eq!(
            join_url("https://p.example/github/", "/user"),
            "https://p.example/github/user"
        );
    }

    /// Every endpoint and callback: no `//` after the scheme's.
    fn assert_single_slashes(c: &SocialConfig) {
        let e = &c.endpoints;
        for url in [&e.authorize, &e.token, &e.profile, &c.callback_url]
            .into_iter()
            .chain(e.emails.as_ref())
        {
            let (_, rest) = url.split_once("://").unwrap();
            assert!(!rest.contains("//"), "{url}");
            url::Url::parse(url).unwrap();
        }
    }

    #[test]
    fn endpoint_origins_and_callbacks_join_without_double_slashes() {
        for slash in ["", "/", "//"] {
            let origin = format!("http://127.0.0.1:9{slash}");
            let callback = format!("{slash}oauth/github/callback");
            let vars: std::collections::HashMap<String, String> = [
                ("GITHUB_CLIENT_ID", "h"),
                ("GITHUB_CLIENT_SECRET", "hs"),
                ("GITHUB_ENDPOINT_ORIGIN", origin.as_str()),
                ("GITHUB_CALLBACK_URL", callback.as_str()),
                ("GOOGLE_CLIENT_ID", "g"),
                ("GOOGLE_CLIENT_SECRET", "gs"),
                ("GOOGLE_ENDPOINT_ORIGIN", origin.as_str()),
                ("FACEBOOK_CLIENT_ID", "f"),
                ("FACEBOOK_CLIENT_SECRET", "fs"),
                ("FACEBOOK_ENDPOINT_ORIGIN", origin.as_str()),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            let enabled =
                SocialConfig::all_from_vars(Vars::new(&vars), true, "https://chat.example.com")
                    .unwrap();
            assert_eq!(enabled.len(), 3);
            for c in &enabled {
                assert_single_slashes(c);
            }
            let github = enabled
                .iter()
                .find(|c| c.kind == SocialKind::Github)
                .unwrap();
            assert_eq!(
                github.endpoints.authorize,
                "http://127.0.0.1:9/login/oauth/authorize"
            );
            assert_eq!(github.endpoints.profile, "http://127.0.0.1:9/user");
            assert_eq!(
                github.endpoints.emails.as_deref(),
                Some("http://127.0.0.1:9/user/emails")
            );
            assert_eq!(
                github.callback_url,
                "https://chat.example.com/oauth/github/callback"
            );
            let facebook = enabled
                .iter()
                .find(|c| c.kind == SocialKind::Facebook)
                .unwrap();
            assert_eq!(
                facebook.endpoints.profile,
                "http://127.0.0.1:9/v18.0/me?fields=id,email,name,picture.type(large)",
                "the query is kept"
            );
        }
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
