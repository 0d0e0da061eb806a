//! One typed, validated `Config`, read once at start from the environment (plus `.env` and
//! `librechat.yaml`). Nothing else in Bouncer reads the environment.

// Public for the fuzz target `fuzz/fuzz_targets/dotenv.rs`.
pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod content_moderation;
pub mod database;
pub mod dotenv;
pub mod gateway;
mod known;
pub mod ldap;
pub mod mail;
pub mod metrics;
pub mod moderation;
pub mod openid;
pub mod pages;
pub mod passkeys;
pub mod passwords;
pub mod provider;
pub mod route_limits;
pub mod saml;
pub mod secrets;
pub mod server;
pub mod social;
mod unsupported;
pub mod values;
pub mod yaml;

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

pub use known::unknown_variable_warnings;
pub use mail::MailConfig;
pub use moderation::ModerationConfig;
pub use secrets::{Secret, SecretsSource};
use values::{variables, Accepted};
pub use values::{Variable, Vars};
pub use yaml::AuthYaml;

use database::Engine;

/// A configuration value Bouncer cannot start with. The message names the variable, the value
/// (never for secrets) and what is expected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("invalid value for {variable}: {value:?}; expected {expected}")]
    Invalid {
        variable: String,
        value: String,
        expected: String,
    },
    #[error("{variable} {problem}")]
    Secret { variable: String, problem: String },
    #[error("{0}")]
    Other(String),
}

impl ConfigError {
    pub fn invalid(variable: &str, value: &str, expected: &str) -> Self {
        Self::Invalid {
            variable: variable.into(),
            value: value.into(),
            expected: expected.into(),
        }
    }

    pub fn secret(variable: &str, problem: &str) -> Self {
        Self::Secret {
            variable: variable.into(),
            problem: problem.into(),
        }
    }
}

variables! {
    HOST: "`localhost`", "Address to listen on.";
    PORT: "`3080`", "Port to listen on (0 picks a free one).";
    DOMAIN_CLIENT: "`http://localhost:3080`", "Base URL of the web client (links in emails, OAuth redirects).";
    DOMAIN_SERVER: "`http://localhost:3080`", "Public base URL of this server (`serverDomain`, OAuth callbacks, Secure-cookie rule).";
    DATABASE_URL: "`sqlite://data/bouncer.db`", "The SQLite or PostgreSQL database; migrations run at start.";
    DATABASE_MAX_CONNECTIONS: "`10`", "Size of the database connection pool (1-1000).";
    USE_REDIS: "`false`", "Keep limiter windows and violation scores in Redis, shared by every instance.";
    REDIS_URI: "unset", "`redis://host:6379`, or `rediss://` for TLS; required with `USE_REDIS`.";
    REDIS_USERNAME: "unset", "Redis user name, when the URI does not carry it.";
    REDIS_PASSWORD: "unset", "Redis password, when the URI does not carry it.";
    REDIS_KEY_PREFIX: "empty", "Prefix of every Redis key, so several deployments can share one Redis.";
    CONFIG_PATH: "`./librechat.yaml` if present", "A `librechat.yaml` whose authentication keys Bouncer reads.";
    RUST_LOG: "`info`", "Log filter (tracing `EnvFilter` syntax), read by the logger at start.";
    LOG_FORMAT: "`text`", "`json` writes one JSON object per log line (with the request id), for log shippers; read by the logger at start.";
    ALLOW_EMAIL_LOGIN: "on when unset", "Email/password login.";
    ALLOW_REGISTRATION: "`false`", "Self-service registration.";
    ALLOW_SOCIAL_LOGIN: "`false`", "Sign-in through identity providers (each also needs its own variables).";
    ALLOW_SOCIAL_REGISTRATION: "`false`", "Let unknown users register through a social provider.";
    ALLOW_UNVERIFIED_EMAIL_LOGIN: "`false`", "Let users with an unverified email log in.";
    ALLOW_PASSWORD_RESET: "`false`", "The emailed password reset.";
    MIN_PASSWORD_LENGTH: "`8`", "Minimum password length, 1-128; echoed to the client when set.";
    PASSWORD_HASH_MEMORY_RELEASE: "`1000 * 60`", "A password-hash worker gives its argon2 work area back after this long without a job (ms).";
    PASSWORD_HASH_QUEUE_MAX: "32 per core", "Password checks that may wait for a hashing thread; past it, 503 with `Retry-After` at once.";
    SESSION_EXPIRY: "`1000 * 60 * 15`", "Access-token lifetime (ms).";
    REFRESH_TOKEN_EXPIRY: "`(1000 * 60 * 60 * 24) * 7`", "Absolute lifetime of a login session (ms).";
    JWT_SECRET: "generated into `./data/secrets.env`", "Access-token key, at least 32 characters.";
    JWT_REFRESH_SECRET: "generated into `./data/secrets.env`", "Refresh-token key, at least 32 characters, different from `JWT_SECRET`.";
    CREDS_KEY: "generated into `./data/secrets.env`", "64 hex characters: the key of two-factor secrets at rest.";
    REQUIRE_2FA: "`false`", "Users without two-factor authentication must set it up first.";
    SESSION_COOKIE_SECURE: "Secure when `NODE_ENV=production` and `DOMAIN_SERVER` is not localhost", "`true`/`false` forces the cookies' `Secure` attribute.";
    NODE_ENV: "unset", "`production` feeds the Secure-cookie rule.";
    APP_TITLE: "`LibreChat`", "Application name shown by the client.";
    HELP_AND_FAQ_URL: "`https://librechat.ai`", "Help link sent to signed-in users.";
    CUSTOM_FOOTER: "unset", "Footer text sent to signed-in users.";
    ALLOW_ACCOUNT_DELETION: "on when unset", "Users may delete their own account.";
}

#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    /// Connection timeouts and the connection cap.
    pub server: server::ServerConfig,
    /// Prometheus metrics (`METRICS_SECRET`, `METRICS_PORT`).
    pub metrics: metrics::MetricsConfig,
    pub database_url: String,
    /// Pool size of the database connections.
    pub database_max_connections: u32,
    /// `USE_REDIS=true`: moderation state shared in Redis.
    pub redis: Option<RedisSettings>,
    /// What users may do (the `ALLOW_*` switches).
    pub features: Features,
    /// Tokens, their keys and lifetimes, and the cookies that carry them.
    pub sessions: SessionSettings,
    /// What the web client is told and where it lives.
    pub client: ClientSettings,
    pub min_password_length: usize,
    /// `MIN_PASSWORD_LENGTH` was set, so `/api/config` echoes it.
    pub min_password_length_set: bool,
    /// `PASSWORD_HASH_MEMORY_RELEASE`: a hash worker gives its argon2 work area back after
    /// this long without a job.
    pub password_hash_memory_release_ms: i64,
    /// `PASSWORD_HASH_QUEUE_MAX`: jobs that may wait for a hashing thread (`None`: 32 per core).
    pub password_hash_queue_max: Option<usize>,
    pub yaml: AuthYaml,
    pub moderation: ModerationConfig,
    pub mail: MailConfig,
    /// `CREDS_KEY`: the AES-256 key of two-factor secrets at rest.
    pub creds_key: CredsKey,
    /// OpenID Connect, when enabled.
    pub openid: Option<openid::OpenIdConfig>,
    /// The enabled social providers.
    pub social: Vec<social::SocialConfig>,
    /// SAML 2.0, when enabled (never together with OpenID).
    pub saml: Option<saml::SamlConfig>,
    /// The chat gateway (reverse proxy, forward-auth, message moderation).
    pub gateway: gateway::GatewayConfig,
    /// What the reverse proxy checks inside chat messages (content moderation, allowed models).
    pub content: content_moderation::ContentConfig,
    /// The sign-in pages and their single-sign-on cookie.
    pub pages: pages::PagesConfig,
    /// The OpenID provider (on once a client is registered).
    pub provider: provider::ProviderConfig,
    /// LDAP sign-in, when `LDAP_URL` and `LDAP_USER_SEARCH_BASE` are set.
    pub ldap: Option<ldap::LdapConfig>,
    /// The operators' rules (`REQUIRE_2FA_FOR_ADMINS`).
    pub admin: admin::AdminConfig,
    /// API keys: the per-user maximum and the per-key limiter.
    pub api_keys: api_keys::ApiKeysConfig,
    /// The audit log's retention.
    pub audit: audit::AuditConfig,
    /// The common-password blocklist.
    pub passwords: passwords::PasswordsConfig,
    /// Passkeys (WebAuthn), when on.
    pub passkeys: Option<passkeys::PasskeysConfig>,
}

/// The `ALLOW_*` switches: what users may do.
#[derive(Debug, Clone)]
pub struct Features {
    pub allow_email_login: bool,
    pub allow_registration: bool,
    pub allow_social_login: bool,
    pub allow_social_registration: bool,
    pub allow_unverified_email_login: bool,
    pub allow_account_deletion: bool,
    /// `ALLOW_PASSWORD_RESET`: the emailed password-reset flow.
    pub allow_password_reset: bool,
}

/// Tokens and the cookies that carry them.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// Access-token lifetime.
    pub session_expiry_ms: i64,
    /// Absolute lifetime of a login session.
    pub refresh_token_expiry_ms: i64,
    pub jwt_secret: Secret,
    pub jwt_refresh_secret: Secret,
    /// Whether auth cookies carry the `Secure` attribute.
    pub secure_cookies: bool,
    /// `REQUIRE_2FA`: users without two-factor authentication must enrol before anything else.
    pub require_2fa: bool,
}

/// Where the web client and this server live, and what the client is told about itself.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Base URL of the web client, without a trailing slash.
    pub domain_client: String,
    /// Base URL of this server, without a trailing slash.
    pub domain_server: String,
    pub app_title: String,
    pub help_and_faq_url: String,
    pub custom_footer: Option<String>,
}

/// 32 bytes, given as 64 hex characters (LibreChat's format).
#[derive(Clone)]
pub struct CredsKey(pub [u8; 32]);

impl std::fmt::Debug for CredsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CredsKey(…)")
    }
}

fn creds_key(vars: Vars) -> Result<CredsKey, ConfigError> {
    let raw = vars
        .get(&CREDS_KEY)
        .ok_or_else(|| ConfigError::secret(CREDS_KEY.name, "is not set"))?;
    secrets::validate(CREDS_KEY.name, raw)?;
    let bytes = hex::decode(raw)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok());
    bytes.map(CredsKey).ok_or_else(|| {
        ConfigError::secret(
            CREDS_KEY.name,
            "must be 64 hexadecimal characters (32 bytes), as LibreChat's; generate one with \
             `openssl rand -hex 32`",
        )
    })
}

/// Redis settings (`USE_REDIS`, `REDIS_URI`, ...).
#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub uri: String,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// Prepended to every key, so several deployments can share one Redis.
    pub key_prefix: String,
}

fn redis_settings(vars: Vars) -> Result<Option<RedisSettings>, ConfigError> {
    if !vars.flag(&USE_REDIS, false) {
        return Ok(None);
    }
    let Some(uri) = vars.get(&REDIS_URI) else {
        return Err(ConfigError::Other(
            "USE_REDIS is true but REDIS_URI is not set; set it, e.g. REDIS_URI=redis://127.0.0.1:6379".into(),
        ));
    };
    let valid = url::Url::parse(uri)
        .ok()
        .filter(|u| matches!(u.scheme(), "redis" | "rediss") && u.host_str().is_some());
    if valid.is_none() {
        let shown = if uri.contains('@') {
            "redis://…"
        } else {
            uri
        };
        return Err(ConfigError::invalid(
            REDIS_URI.name,
            shown,
            "a URL such as redis://127.0.0.1:6379 (rediss:// for TLS)",
        ));
    }
    Ok(Some(RedisSettings {
        uri: uri.to_string(),
        username: vars.get(&REDIS_USERNAME).map(str::to_string),
        password: vars
            .get(&REDIS_PASSWORD)
            .map(|p| Secret::new(p.to_string())),
        key_prefix: vars.text(&REDIS_KEY_PREFIX, ""),
    }))
}

const DEFAULT_DOMAIN: &str = "http://localhost:3080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/bouncer.db";
const MAX_PASSWORD_LENGTH: usize = 128;

impl Config {
    /// Builds the configuration from variables (environment over `.env`), after
    /// `secrets::fill_missing` has supplied any generated secret.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        unsupported::check(vars)?;
        let vars = Vars::new(vars);

        let port = vars.number(
            &PORT,
            3080,
            Accepted::from(0..=u16::MAX).noun("a port number"),
        )?;

        let domain_client = base_url(&DOMAIN_CLIENT, &vars.text(&DOMAIN_CLIENT, DEFAULT_DOMAIN))?;
        let domain_server = base_url(&DOMAIN_SERVER, &vars.text(&DOMAIN_SERVER, DEFAULT_DOMAIN))?;

        let database_url = vars.text(&DATABASE_URL, DEFAULT_DATABASE_URL);
        validate_database_url(&database_url)?;

        let session_expiry_ms = vars.duration(&SESSION_EXPIRY, 1000 * 60 * 15)?;
        let refresh_token_expiry_ms =
            vars.duration(&REFRESH_TOKEN_EXPIRY, 1000 * 60 * 60 * 24 * 7)?;

        let secret = |var: &'static Variable| {
            vars.get(var)
                .ok_or_else(|| ConfigError::secret(var.name, "is not set"))
                .and_then(|v| secrets::validate(var.name, v))
        };
        let jwt_secret = secret(&JWT_SECRET)?;
        let jwt_refresh_secret = secret(&JWT_REFRESH_SECRET)?;
        if jwt_secret.expose() == jwt_refresh_secret.expose() {
            return Err(ConfigError::secret(
                JWT_REFRESH_SECRET.name,
                "equals JWT_SECRET; each token kind needs its own key (generate another with \
                 `openssl rand -hex 32`)",
            ));
        }

        let secure_cookies = match vars.get(&SESSION_COOKIE_SECURE) {
            None => vars.text(&NODE_ENV, "") == "production" && !is_local_host(&domain_server),
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                return Err(ConfigError::invalid(
                    SESSION_COOKIE_SECURE.name,
                    v,
                    "`true`, `false`, or unset (Secure when NODE_ENV=production and DOMAIN_SERVER is not localhost)",
                ))
            }
        };

        let min_password_length = vars.optional_number(
            &MIN_PASSWORD_LENGTH,
            Accepted::from(1..=MAX_PASSWORD_LENGTH).note(" (OWASP asks for at least 8)"),
        )?;

        let allow_social_login = vars.flag(&ALLOW_SOCIAL_LOGIN, false);
        let openid = openid::OpenIdConfig::from_vars(vars, allow_social_login, &domain_server)?;
        let social = social::SocialConfig::all_from_vars(vars, allow_social_login, &domain_server)?;
        let saml = saml::SamlConfig::from_vars(
            vars,
            allow_social_login,
            &domain_server,
            openid.is_some(),
        )?;
        let app_title = vars.text(&APP_TITLE, "LibreChat");
        let pages = pages::PagesConfig::from_vars(vars, &domain_client, &domain_server)?;
        let provider = provider::ProviderConfig::from_vars(vars, &domain_server)?;
        let ldap = ldap::LdapConfig::from_vars(vars)?;

        Ok(Self {
            host: vars.text(&HOST, "localhost"),
            port,
            server: server::ServerConfig::from_vars(vars)?,
            metrics: metrics::MetricsConfig::from_vars(vars, port)?,
            database_url,
            features: Features {
                allow_email_login: vars.flag(&ALLOW_EMAIL_LOGIN, true),
                // The directory holds the accounts (LibreChat: `registrationEnabled` is off
                // with LDAP): a local account could never sign in.
                allow_registration: vars.flag(&ALLOW_REGISTRATION, false) && ldap.is_none(),
                allow_social_login,
                allow_social_registration: vars.flag(&ALLOW_SOCIAL_REGISTRATION, false),
                allow_unverified_email_login: vars.flag(&ALLOW_UNVERIFIED_EMAIL_LOGIN, false),
                allow_account_deletion: vars.flag(&ALLOW_ACCOUNT_DELETION, true),
                allow_password_reset: vars.flag(&ALLOW_PASSWORD_RESET, false),
            },
            sessions: SessionSettings {
                session_expiry_ms,
                refresh_token_expiry_ms,
                jwt_secret,
                jwt_refresh_secret,
                secure_cookies,
                require_2fa: vars.flag(&REQUIRE_2FA, false),
            },
            min_password_length: min_password_length.unwrap_or(8),
            min_password_length_set: min_password_length.is_some(),
            password_hash_memory_release_ms: vars
                .duration(&PASSWORD_HASH_MEMORY_RELEASE, 1000 * 60)?,
            password_hash_queue_max: vars.optional_number(&PASSWORD_HASH_QUEUE_MAX, 1..)?,
            mail: MailConfig::from_vars(vars, &app_title)?,
            passkeys: passkeys::PasskeysConfig::from_vars(
                vars,
                &domain_server,
                &domain_client,
                &app_title,
            )?,
            client: ClientSettings {
                domain_client,
                domain_server,
                app_title,
                help_and_faq_url: vars.text(&HELP_AND_FAQ_URL, "https://librechat.ai"),
                // Kept as written: spaces may be the point of a footer.
                custom_footer: vars
                    .raw(&CUSTOM_FOOTER)
                    .filter(|v| !v.is_empty())
                    .map(str::to_string),
            },
            yaml: AuthYaml::load(vars.get(&CONFIG_PATH))?,
            moderation: ModerationConfig::from_vars(vars)?,
            database_max_connections: vars.number(&DATABASE_MAX_CONNECTIONS, 10, 1..=1000)?,
            redis: redis_settings(vars)?,
            creds_key: creds_key(vars)?,
            openid,
            social,
            saml,
            gateway: gateway::GatewayConfig::from_vars(vars)?,
            content: content_moderation::ContentConfig::from_vars(
                vars,
                vars.get(&gateway::UPSTREAM_URL).is_some(),
            )?,
            provider,
            pages,
            ldap,
            admin: admin::AdminConfig::from_vars(vars)?,
            api_keys: api_keys::ApiKeysConfig::from_vars(vars)?,
            audit: audit::AuditConfig::from_vars(vars)?,
            passwords: passwords::PasswordsConfig::from_vars(vars)?,
        })
    }

    /// Reads the process environment over `.env` in the working directory (environment wins),
    /// fills missing JWT secrets from `<data_dir>/secrets.env`, and builds the configuration.
    /// Returns warnings to log (typos of variable names, weak settings) and where the secrets
    /// came from.
    pub fn load(data_dir: &Path) -> Result<(Self, Vec<String>, SecretsSource), ConfigError> {
        let mut vars: HashMap<String, String> = HashMap::new();
        let dotenv = dotenv::read(Path::new(".env"))
            .map_err(|e| ConfigError::Other(format!(".env: {e}")))?;
        vars.extend(dotenv.unwrap_or_default());
        vars.extend(std::env::vars());
        let mut warnings = unknown_variable_warnings(vars.keys().map(String::as_str));
        let source = secrets::fill_missing(&mut vars, data_dir)?;
        let config = Self::from_vars(&vars)?;
        warnings.extend(unsupported::check(&vars)?);
        warnings.extend(MailConfig::warnings(Vars::new(&vars)));
        warnings.extend(config.ldap.iter().flat_map(ldap::LdapConfig::warnings));
        if config.ldap.is_some() && Vars::new(&vars).flag(&ALLOW_REGISTRATION, false) {
            warnings.push(
                "ALLOW_REGISTRATION is true but LDAP sign-in is on: registration stays closed, \
                 as in LibreChat (accounts come from the directory)"
                    .into(),
            );
        }
        warnings.extend(saml::warnings(
            Vars::new(&vars),
            config.features.allow_social_login,
            config.openid.is_some(),
        ));
        if config.features.allow_password_reset && !config.mail.configured() {
            warnings.push(
                "ALLOW_PASSWORD_RESET is true but no mail transport is configured: reset links \
                 cannot be delivered (Bouncer never returns them over HTTP); use \
                 `bouncer reset-password <email>` instead"
                    .into(),
            );
        }
        if config.min_password_length < 8 {
            warnings.push(format!(
                "MIN_PASSWORD_LENGTH={} is below the 8 characters OWASP ASVS requires",
                config.min_password_length
            ));
        }
        Ok((config, warnings, source))
    }
}

/// A URL with its password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

fn base_url(variable: &'static Variable, raw: &str) -> Result<String, ConfigError> {
    match url::Url::parse(raw) {
        Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host_str().is_some() => {
            Ok(raw.trim_end_matches('/').to_string())
        }
        _ => Err(ConfigError::invalid(
            variable.name,
            raw,
            "an absolute http(s) URL such as http://localhost:3080",
        )),
    }
}

fn validate_database_url(raw: &str) -> Result<(), ConfigError> {
    match Engine::of(raw) {
        Some(Engine::Sqlite) => sqlx::sqlite::SqliteConnectOptions::from_str(raw)
            .map(|_| ())
            .map_err(|e| {
                ConfigError::invalid(
                    DATABASE_URL.name,
                    raw,
                    &format!("a SQLite URL such as {DEFAULT_DATABASE_URL} ({e})"),
                )
            }),
        Some(Engine::Postgres) => match url::Url::parse(raw) {
            Ok(u) if u.host_str().is_some() => Ok(()),
            // Never echo a URL that may hold a password.
            _ => Err(ConfigError::invalid(
                DATABASE_URL.name,
                "postgres://…",
                "a PostgreSQL URL such as postgres://bouncer:password@localhost:5432/bouncer",
            )),
        },
        None => Err(ConfigError::invalid(
            DATABASE_URL.name,
            raw,
            &format!("a database URL such as {DEFAULT_DATABASE_URL}"),
        )),
    }
}

/// LibreChat's secure-cookie heuristic exempts local development hosts.
fn is_local_host(domain: &str) -> bool {
    let Ok(url) = url::Url::parse(domain) else {
        return false;
    };
    match url.host_str() {
        Some(h) => {
            h == "localhost"
                || h == "127.0.0.1"
                || h == "[::1]"
                || h == "::1"
                || h.ends_with(".localhost")
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> HashMap<String, String> {
        HashMap::from([
            ("JWT_SECRET".into(), "s".repeat(64)),
            ("JWT_REFRESH_SECRET".into(), "r".repeat(64)),
            ("CREDS_KEY".into(), "c".repeat(64)),
            ("CONFIG_PATH".into(), "".into()),
        ])
    }

    fn with(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut vars = base();
        for (k, v) in pairs {
            vars.insert(k.to_string(), v.to_string());
        }
        Config::from_vars(&vars)
    }

    #[test]
    fn defaults_match_librechat() {
        let c = with(&[]).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("localhost", 3080));
        assert_eq!(c.sessions.session_expiry_ms, 900_000);
        assert_eq!(c.sessions.refresh_token_expiry_ms, 604_800_000);
        assert!(c.features.allow_email_login);
        assert!(!c.features.allow_registration);
        assert!(!c.features.allow_social_login);
        assert!(!c.sessions.secure_cookies);
        assert_eq!(c.min_password_length, 8);
        assert!(!c.min_password_length_set);
        assert_eq!(c.client.app_title, "LibreChat");
        assert_eq!(c.database_url, "sqlite://data/bouncer.db");
        assert_eq!(c.client.domain_client, "http://localhost:3080");
    }

    #[test]
    fn reads_expressions_and_booleans() {
        let c = with(&[
            ("SESSION_EXPIRY", "1000 * 60 * 5"),
            ("REFRESH_TOKEN_EXPIRY", "(1000 * 60 * 60 * 24) * 30"),
            ("ALLOW_EMAIL_LOGIN", "false"),
            ("ALLOW_REGISTRATION", "TRUE"),
            ("ALLOW_SOCIAL_LOGIN", "1"),
            ("MIN_PASSWORD_LENGTH", "12"),
            ("DOMAIN_SERVER", "https://chat.example.com/"),
        ])
        .unwrap();
        assert_eq!(c.sessions.session_expiry_ms, 300_000);
        assert_eq!(c.sessions.refresh_token_expiry_ms, 2_592_000_000);
        assert!(!c.features.allow_email_login);
        assert!(c.features.allow_registration);
        assert!(
            !c.features.allow_social_login,
            "only the string true turns a switch on"
        );
        assert_eq!(c.min_password_length, 12);
        assert!(c.min_password_length_set);
        assert_eq!(c.client.domain_server, "https://chat.example.com");
    }

    #[test]
    fn each_bad_value_names_variable_value_and_expectation() {
        let cases: &[(&str, &str, &str)] = &[
            ("PORT", "eighty", "port number"),
            ("PORT", "70000", "port number"),
            ("SESSION_EXPIRY", "15 minutes", "integer expression"),
            ("SESSION_EXPIRY", "0", "positive"),
            ("REFRESH_TOKEN_EXPIRY", "1000 * ", "integer expression"),
            ("DATABASE_URL", "mysql://localhost/x", "database URL"),
            ("DOMAIN_CLIENT", "not a url", "http(s) URL"),
            ("DOMAIN_SERVER", "ftp://x.example", "http(s) URL"),
            ("MIN_PASSWORD_LENGTH", "abc", "whole number"),
            ("MIN_PASSWORD_LENGTH", "0", "whole number"),
            ("MIN_PASSWORD_LENGTH", "500", "whole number"),
            ("SESSION_COOKIE_SECURE", "yes", "`true`, `false`"),
        ];
        for (var, value, expected) in cases {
            let err = with(&[(var, value)]).unwrap_err().to_string();
            assert!(err.contains(var), "{var}={value}: {err}");
            assert!(err.contains(value.trim()), "{var}={value}: {err}");
            assert!(err.contains(expected), "{var}={value}: {err}");
        }
    }

    #[test]
    fn refuses_missing_equal_and_example_secrets() {
        let mut vars = base();
        vars.remove("JWT_SECRET");
        assert!(Config::from_vars(&vars)
            .unwrap_err()
            .to_string()
            .contains("JWT_SECRET is not set"));
        let same = "z".repeat(40);
        let err = with(&[("JWT_SECRET", &same), ("JWT_REFRESH_SECRET", &same)]).unwrap_err();
        assert!(err.to_string().contains("equals JWT_SECRET"));
        let err = with(&[(
            "JWT_REFRESH_SECRET",
            "eaa5191f2914e30b9387fd84e254e4ba6fc51b4654968a9b0803b456a54b8418",
        )])
        .unwrap_err();
        assert!(err.to_string().contains("public example"));
    }

    #[test]
    fn secure_cookie_rule() {
        assert!(
            !with(&[("NODE_ENV", "production")])
                .unwrap()
                .sessions
                .secure_cookies
        );
        assert!(
            with(&[
                ("NODE_ENV", "production"),
                ("DOMAIN_SERVER", "https://chat.example.com")
            ])
            .unwrap()
            .sessions
            .secure_cookies
        );
        assert!(
            !with(&[
                ("NODE_ENV", "production"),
                ("DOMAIN_SERVER", "http://app.localhost")
            ])
            .unwrap()
            .sessions
            .secure_cookies
        );
        assert!(
            with(&[("SESSION_COOKIE_SECURE", "true")])
                .unwrap()
                .sessions
                .secure_cookies
        );
        assert!(
            !with(&[
                ("SESSION_COOKIE_SECURE", "false"),
                ("NODE_ENV", "production"),
                ("DOMAIN_SERVER", "https://chat.example.com")
            ])
            .unwrap()
            .sessions
            .secure_cookies
        );
    }

    #[test]
    fn redis_settings_are_checked() {
        assert!(with(&[]).unwrap().redis.is_none());
        let err = with(&[("USE_REDIS", "true")]).unwrap_err().to_string();
        assert!(
            err.contains("USE_REDIS is true but REDIS_URI is not set"),
            "{err}"
        );
        let err = with(&[("USE_REDIS", "true"), ("REDIS_URI", "localhost:6379")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("REDIS_URI") && err.contains("localhost:6379"),
            "{err}"
        );
        let err = with(&[("USE_REDIS", "true"), ("REDIS_URI", "http://u:secret@h")])
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("secret"),
            "a URI with a password is not echoed: {err}"
        );
        let c = with(&[
            ("USE_REDIS", "true"),
            ("REDIS_URI", "rediss://cache.example.com:6380"),
            ("REDIS_PASSWORD", "pw-value"),
            ("REDIS_KEY_PREFIX", "bouncer:"),
        ])
        .unwrap();
        let redis = c.redis.unwrap();
        assert_eq!(redis.key_prefix, "bouncer:");
        assert!(
            !format!("{redis:?}").contains("pw-value"),
            "the password stays out of debug output"
        );
        let err = with(&[("DATABASE_MAX_CONNECTIONS", "0")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("DATABASE_MAX_CONNECTIONS"), "{err}");
        assert!(with(&[("DATABASE_URL", "postgres://bouncer:pw@db:5432/bouncer")]).is_ok());
    }

    #[test]
    fn explicit_config_path_must_exist() {
        let err = with(&[("CONFIG_PATH", "/nonexistent/librechat.yaml")]).unwrap_err();
        assert!(err.to_string().contains("CONFIG_PATH"));
    }
}
