//! The variables Bouncer reads, so that a misspelt one is noticed at start instead of being
//! silently ignored (a habit borrowed from lldap).

/// Every variable Bouncer reads. Keep in step with `.env.example` and the README.
pub const BOUNCER_VARIABLES: &[&str] = &[
    "HOST",
    "PORT",
    "HEADER_READ_TIMEOUT",
    "KEEP_ALIVE_TIMEOUT",
    "MAX_CONNECTIONS",
    "DOMAIN_CLIENT",
    "DOMAIN_SERVER",
    "DATABASE_URL",
    "ALLOW_EMAIL_LOGIN",
    "ALLOW_REGISTRATION",
    "ALLOW_SOCIAL_LOGIN",
    "ALLOW_SOCIAL_REGISTRATION",
    "ALLOW_UNVERIFIED_EMAIL_LOGIN",
    "ALLOW_ACCOUNT_DELETION",
    "SESSION_EXPIRY",
    "REFRESH_TOKEN_EXPIRY",
    "JWT_SECRET",
    "JWT_REFRESH_SECRET",
    "SESSION_COOKIE_SECURE",
    "NODE_ENV",
    "MIN_PASSWORD_LENGTH",
    "PASSWORD_HASH_MEMORY_RELEASE",
    "APP_TITLE",
    "CONFIG_PATH",
    "HELP_AND_FAQ_URL",
    "CUSTOM_FOOTER",
    "RUST_LOG",
    "BAN_VIOLATIONS",
    "BAN_DURATION",
    "BAN_INTERVAL",
    "LOGIN_VIOLATION_SCORE",
    "REGISTRATION_VIOLATION_SCORE",
    "RESET_PASSWORD_VIOLATION_SCORE",
    "RESET_PASSWORD_SUBMISSION_VIOLATION_SCORE",
    "VERIFY_EMAIL_VIOLATION_SCORE",
    "VERIFY_EMAIL_SUBMISSION_VIOLATION_SCORE",
    "TWO_FACTOR_TEMP_VIOLATION_SCORE",
    "MESSAGE_VIOLATION_SCORE",
    "CONCURRENT_VIOLATION_SCORE",
    "NON_BROWSER_VIOLATION_SCORE",
    "LOGIN_MAX",
    "LOGIN_WINDOW",
    "REGISTER_MAX",
    "REGISTER_WINDOW",
    "RESET_PASSWORD_MAX",
    "RESET_PASSWORD_WINDOW",
    "RESET_PASSWORD_SUBMISSION_MAX",
    "RESET_PASSWORD_SUBMISSION_WINDOW",
    "VERIFY_EMAIL_MAX",
    "VERIFY_EMAIL_WINDOW",
    "VERIFY_EMAIL_SUBMISSION_MAX",
    "VERIFY_EMAIL_SUBMISSION_WINDOW",
    "TWO_FACTOR_TEMP_MAX",
    "TWO_FACTOR_TEMP_WINDOW",
    "LIMIT_MESSAGE_IP",
    "MESSAGE_IP_MAX",
    "MESSAGE_IP_WINDOW",
    "LIMIT_MESSAGE_USER",
    "MESSAGE_USER_MAX",
    "MESSAGE_USER_WINDOW",
    "LIMIT_CONCURRENT_MESSAGES",
    "CONCURRENT_MESSAGE_MAX",
    "TRUST_PROXY",
    "TRUSTED_PROXIES",
    "IPV6_PREFIX_LENGTH",
    "DATABASE_MAX_CONNECTIONS",
    "USE_REDIS",
    "REDIS_URI",
    "REDIS_USERNAME",
    "REDIS_PASSWORD",
    "REDIS_KEY_PREFIX",
    "ALLOW_PASSWORD_RESET",
    "EMAIL_SERVICE",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "EMAIL_ENCRYPTION",
    "EMAIL_ENCRYPTION_HOSTNAME",
    "EMAIL_ALLOW_SELFSIGNED",
    "EMAIL_USERNAME",
    "EMAIL_PASSWORD",
    "EMAIL_FROM",
    "EMAIL_FROM_NAME",
    "EMAIL_TOKEN_EXPIRY",
    "EMAIL_TEMPLATES_DIR",
    "MAILGUN_API_KEY",
    "MAILGUN_DOMAIN",
    "MAILGUN_HOST",
    "CREDS_KEY",
    "REQUIRE_2FA",
    "OPENID_CLIENT_ID",
    "OPENID_CLIENT_SECRET",
    "OPENID_ISSUER",
    "OPENID_SESSION_SECRET",
    "OPENID_SCOPE",
    "OPENID_CALLBACK_URL",
    "OPENID_USE_PKCE",
    "OPENID_CLOCK_TOLERANCE",
    "OPENID_BUTTON_LABEL",
    "OPENID_IMAGE_URL",
    "OPENID_AUTO_REDIRECT",
    "OPENID_USERNAME_CLAIM",
    "OPENID_NAME_CLAIM",
    "OPENID_EMAIL_CLAIM",
    "OPENID_REQUIRED_ROLE",
    "OPENID_REQUIRED_ROLE_TOKEN_KIND",
    "OPENID_REQUIRED_ROLE_PARAMETER_PATH",
    "OPENID_ADMIN_ROLE",
    "OPENID_ADMIN_ROLE_TOKEN_KIND",
    "OPENID_ADMIN_ROLE_PARAMETER_PATH",
    "OPENID_USE_END_SESSION_ENDPOINT",
    "OPENID_POST_LOGOUT_REDIRECT_URI",
    "OPENID_ALLOW_ACCOUNT_LINKING",
    "GOOGLE_CLIENT_ID",
    "GOOGLE_CLIENT_SECRET",
    "GOOGLE_CALLBACK_URL",
    "GOOGLE_ENDPOINT_ORIGIN",
    "GOOGLE_ALLOW_ACCOUNT_LINKING",
    "GITHUB_CLIENT_ID",
    "GITHUB_CLIENT_SECRET",
    "GITHUB_CALLBACK_URL",
    "GITHUB_ENDPOINT_ORIGIN",
    "GITHUB_ALLOW_ACCOUNT_LINKING",
    "DISCORD_CLIENT_ID",
    "DISCORD_CLIENT_SECRET",
    "DISCORD_CALLBACK_URL",
    "DISCORD_ENDPOINT_ORIGIN",
    "DISCORD_ALLOW_ACCOUNT_LINKING",
    "FACEBOOK_CLIENT_ID",
    "FACEBOOK_CLIENT_SECRET",
    "FACEBOOK_CALLBACK_URL",
    "FACEBOOK_ENDPOINT_ORIGIN",
    "FACEBOOK_ALLOW_ACCOUNT_LINKING",
    "GITHUB_ENTERPRISE_BASE_URL",
    "GITHUB_ENTERPRISE_USER_AGENT",
    "APPLE_CLIENT_ID",
    "APPLE_TEAM_ID",
    "APPLE_KEY_ID",
    "APPLE_PRIVATE_KEY_PATH",
    "APPLE_CALLBACK_URL",
    "APPLE_ENDPOINT_ORIGIN",
    "APPLE_ALLOW_ACCOUNT_LINKING",
    "UPSTREAM_URL",
    "UPSTREAM_TIMEOUT",
    "PUBLIC_PATHS",
    "MESSAGE_ROUTES",
    "NON_BROWSER_EXEMPT_ROUTES",
    "FORWARD_AUTH_HEADERS",
];

/// Names LibreChat reads that sit close to one of ours: legitimate in a shared `.env`, so no
/// typo warning for them.
const LIBRECHAT_NEIGHBOURS: &[&str] = &[
    "ALLOW_EMAIL_LOGIN_OVERRIDE",
    "ALLOW_SHARED_LINKS",
    "CREDS_IV",
];

/// One warning per variable whose name is within two edits of a Bouncer variable without
/// being one (e.g. `SESSION_EXPIRE`, `JWT_SECRETS`). Other unknown names are LibreChat's or the
/// system's and are left alone.
pub fn unknown_variable_warnings<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut warnings: Vec<String> = names
        .filter(|name| name.len() >= 5 && !BOUNCER_VARIABLES.contains(name))
        .filter(|name| !LIBRECHAT_NEIGHBOURS.contains(name))
        .filter_map(|name| {
            BOUNCER_VARIABLES
                .iter()
                .filter(|known| known.len() >= 5)
                .find(|known| strsim::levenshtein(name, known) <= 2)
                .map(|known| {
                    format!(
                        "environment variable {name} is not read by Bouncer; did you mean {known}?"
                    )
                })
        })
        .collect();
    warnings.sort();
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_is_documented_in_env_example_and_readme() {
        let example = include_str!("../../.env.example");
        let readme = include_str!("../../README.md");
        for name in BOUNCER_VARIABLES {
            if *name == "RUST_LOG" {
                continue; // the logging library's, shown in the README only
            }
            assert!(
                example.lines().any(|l| l.starts_with(&format!("{name}="))),
                "{name} missing from .env.example"
            );
        }
        for name in BOUNCER_VARIABLES {
            assert!(
                readme.contains(&format!("`{name}")),
                "{name} missing from the README"
            );
        }
    }

    #[test]
    fn warns_on_typos_only() {
        let names = [
            "SESSION_EXPIRE",
            "JWT_SECRETS",
            "MONGO_URI",
            "PATH",
            "HOSTNAME",
            "SESSION_EXPIRY",
            "ALLOW_EMAIL_LOGIN_OVERRIDE",
        ];
        let warnings = unknown_variable_warnings(names.into_iter());
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("JWT_SECRETS") && warnings[0].contains("JWT_SECRET?"));
        assert!(warnings[1].contains("SESSION_EXPIRE") && warnings[1].contains("SESSION_EXPIRY"));
    }
}
