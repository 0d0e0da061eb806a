//! Mail settings from LibreChat's variables (spec §1.5): SMTP (a well-known service name or a
//! host and port) or Mailgun's HTTP API, the sender, and the lifetime of emailed tokens.

use std::path::PathBuf;
use std::str::FromStr;

use super::values::{variables, Accepted, Variable, Vars};
use super::{ConfigError, Secret};

variables! {
    EMAIL_SERVICE: "unset", "A well-known SMTP service, which brings its own host, port and TLS mode.";
    EMAIL_HOST: "unset", "SMTP server, when `EMAIL_SERVICE` is unset.";
    EMAIL_PORT: "`25`", "SMTP port, when `EMAIL_SERVICE` is unset.";
    EMAIL_ENCRYPTION: "unset", "`tls`: TLS from the first byte; `starttls`: upgrade required; else upgrade when offered.";
    EMAIL_ENCRYPTION_HOSTNAME: "unset", "Name the server's certificate must carry, when it differs from the host.";
    EMAIL_ALLOW_SELFSIGNED: "`false`", "Accept a certificate that does not verify.";
    EMAIL_USERNAME: "unset", "SMTP user name (with `EMAIL_PASSWORD`, or neither).";
    EMAIL_PASSWORD: "unset", "SMTP password (with `EMAIL_USERNAME`, or neither).";
    EMAIL_FROM: "unset", "Sender address; required with any transport.";
    EMAIL_FROM_NAME: "`APP_TITLE`", "Sender name.";
    MAILGUN_API_KEY: "unset", "Mailgun's API key (with `MAILGUN_DOMAIN`, or neither).";
    MAILGUN_DOMAIN: "unset", "Mailgun's sending domain (with `MAILGUN_API_KEY`, or neither).";
    MAILGUN_HOST: "`https://api.mailgun.net`", "Mailgun's API host (`https://api.eu.mailgun.net` in the EU).";
    EMAIL_TOKEN_EXPIRY: "`1000 * 60 * 15`", "Lifetime of verification and reset links (ms).";
    EMAIL_TEMPLATES_DIR: "unset", "Folder of templates replacing the built-in ones.";
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `None`: mail is not configured. New users are then verified at once (as in LibreChat)
    /// and password-reset requests cannot be delivered.
    pub transport: Option<MailTransport>,
    /// `EMAIL_FROM`, checked to be an address.
    pub from_address: String,
    /// `EMAIL_FROM_NAME`, or `APP_TITLE`.
    pub from_name: String,
    /// LibreChat's client-side `emailEnabled` rule: SMTP with a username and a password.
    pub client_email_enabled: bool,
    /// Lifetime of verification and password-reset tokens (`EMAIL_TOKEN_EXPIRY`).
    pub token_expiry_ms: i64,
    /// `EMAIL_TEMPLATES_DIR`: templates here replace the built-in ones of the same name.
    pub templates_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub enum MailTransport {
    Smtp(SmtpSettings),
    Mailgun(MailgunSettings),
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub encryption: Encryption,
    /// The name the server's certificate must carry, when it differs from `host`.
    pub tls_hostname: Option<String>,
    pub allow_self_signed: bool,
    pub credentials: Option<(String, Secret)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encryption {
    /// `tls`: TLS from the first byte (port 465).
    Tls,
    /// `starttls`: the connection must be upgraded, or nothing is sent.
    StartTls,
    /// Anything else: upgraded when the server offers it.
    Opportunistic,
}

#[derive(Debug, Clone)]
pub struct MailgunSettings {
    pub api_key: Secret,
    pub domain: String,
    /// `MAILGUN_HOST`, without a trailing slash (`https://api.eu.mailgun.net` for the EU).
    pub host: String,
}

/// The SMTP services `EMAIL_SERVICE` may name, as nodemailer knows them: host, port, and
/// whether TLS starts at once. Names are compared without case, spaces or punctuation.
const WELL_KNOWN: &[(&str, &str, u16, bool)] = &[
    ("gmail", "smtp.gmail.com", 465, true),
    ("googlemail", "smtp.gmail.com", 465, true),
    ("outlook365", "smtp.office365.com", 587, false),
    ("office365", "smtp.office365.com", 587, false),
    ("hotmail", "smtp-mail.outlook.com", 587, false),
    ("outlook", "smtp-mail.outlook.com", 587, false),
    ("yahoo", "smtp.mail.yahoo.com", 465, true),
    ("aol", "smtp.aol.com", 587, false),
    ("icloud", "smtp.mail.me.com", 587, false),
    ("zoho", "smtp.zoho.com", 465, true),
    ("fastmail", "smtp.fastmail.com", 465, true),
    ("gmx", "mail.gmx.com", 587, false),
    ("sendgrid", "smtp.sendgrid.net", 587, false),
    ("mailgun", "smtp.mailgun.org", 465, true),
    ("postmark", "smtp.postmarkapp.com", 2525, false),
    ("sendinblue", "smtp-relay.brevo.com", 587, false),
    ("brevo", "smtp-relay.brevo.com", 587, false),
    ("mailjet", "in-v3.mailjet.com", 587, false),
    ("ses", "email-smtp.us-east-1.amazonaws.com", 465, true),
    ("yandex", "smtp.yandex.ru", 465, true),
    ("qq", "smtp.qq.com", 465, true),
];

fn well_known(service: &str) -> Option<(&'static str, u16, bool)> {
    let key: String = service
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    WELL_KNOWN
        .iter()
        .find(|(name, ..)| *name == key)
        .map(|&(_, host, port, tls)| (host, port, tls))
}

impl MailConfig {
    pub fn from_vars(vars: Vars, app_title: &str) -> Result<Self, ConfigError> {
        let from = vars.get(&EMAIL_FROM);
        let service = vars.get(&EMAIL_SERVICE);
        let host = vars.get(&EMAIL_HOST);
        let username = vars.get(&EMAIL_USERNAME);
        let password = vars.get(&EMAIL_PASSWORD);
        let mailgun_key = vars.get(&MAILGUN_API_KEY);
        let mailgun_domain = vars.get(&MAILGUN_DOMAIN);

        let mailgun = match (mailgun_key, mailgun_domain) {
            (Some(key), Some(domain)) => Some(MailgunSettings {
                api_key: Secret::new(key.to_string()),
                domain: domain.to_string(),
                host: mailgun_host(vars.get(&MAILGUN_HOST))?,
            }),
            (None, None) => None,
            (Some(_), None) => return Err(both_or_neither(&MAILGUN_DOMAIN, &MAILGUN_API_KEY)),
            (None, Some(_)) => return Err(both_or_neither(&MAILGUN_API_KEY, &MAILGUN_DOMAIN)),
        };
        let credentials = match (username, password) {
            (Some(u), Some(p)) => Some((u.to_string(), Secret::new(p.to_string()))),
            (None, None) => None,
            (Some(_), None) => return Err(both_or_neither(&EMAIL_PASSWORD, &EMAIL_USERNAME)),
            (None, Some(_)) => return Err(both_or_neither(&EMAIL_USERNAME, &EMAIL_PASSWORD)),
        };
        let smtp = match (service, host) {
            (None, None) => None,
            _ => Some(smtp_settings(vars, service, host, credentials)?),
        };

        let transport = match (mailgun, smtp) {
            // LibreChat sends through Mailgun when both are set.
            (Some(m), _) => Some(MailTransport::Mailgun(m)),
            (None, Some(s)) => Some(MailTransport::Smtp(s)),
            (None, None) => None,
        };
        let from_address =
            match (&transport, from) {
                (_, Some(from)) => {
                    lettre::Address::from_str(from).map_err(|_| {
                        ConfigError::invalid(
                            EMAIL_FROM.name,
                            from,
                            "an email address such as noreply@example.com",
                        )
                    })?;
                    from.to_string()
                }
                (Some(_), None) => return Err(ConfigError::Other(
                    "a mail transport is configured but EMAIL_FROM is not set; set the sender, \
                     e.g. EMAIL_FROM=noreply@example.com"
                        .into(),
                )),
                (None, None) => String::new(),
            };
        let templates_dir = vars.get(&EMAIL_TEMPLATES_DIR).map(PathBuf::from);
        if let Some(dir) = &templates_dir {
            if !dir.is_dir() {
                return Err(ConfigError::invalid(
                    EMAIL_TEMPLATES_DIR.name,
                    &dir.display().to_string(),
                    "an existing directory of templates",
                ));
            }
        }
        Ok(Self {
            client_email_enabled: (service.is_some() || host.is_some())
                && username.is_some()
                && password.is_some()
                && from.is_some(),
            transport,
            from_address,
            from_name: vars.text(&EMAIL_FROM_NAME, app_title),
            token_expiry_ms: vars.duration(&EMAIL_TOKEN_EXPIRY, 900_000)?,
            templates_dir,
        })
    }

    pub fn configured(&self) -> bool {
        self.transport.is_some()
    }

    /// Settings that work but deserve a line in the log.
    pub fn warnings(vars: Vars) -> Vec<String> {
        match vars.get(&EMAIL_ENCRYPTION).map(str::to_ascii_lowercase) {
            Some(v) if v != "tls" && v != "starttls" => vec![format!(
                "EMAIL_ENCRYPTION={v:?} is neither `tls` nor `starttls`: mail is encrypted only \
                 if the server offers STARTTLS"
            )],
            _ => Vec::new(),
        }
    }
}

fn both_or_neither(missing: &Variable, set: &Variable) -> ConfigError {
    ConfigError::Other(format!(
        "{} is set but {} is not; set both or neither",
        set.name, missing.name
    ))
}

fn mailgun_host(raw: Option<&str>) -> Result<String, ConfigError> {
    let raw = raw.unwrap_or("https://api.mailgun.net");
    match url::Url::parse(raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            Ok(raw.trim_end_matches('/').to_string())
        }
        _ => Err(ConfigError::invalid(
            MAILGUN_HOST.name,
            raw,
            "a URL such as https://api.mailgun.net",
        )),
    }
}

fn smtp_settings(
    vars: Vars,
    service: Option<&str>,
    host: Option<&str>,
    credentials: Option<(String, Secret)>,
) -> Result<SmtpSettings, ConfigError> {
    let requested = match vars
        .get(&EMAIL_ENCRYPTION)
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("tls") => Encryption::Tls,
        Some("starttls") => Encryption::StartTls,
        _ => Encryption::Opportunistic,
    };
    let (host, port, encryption) = match service {
        // As in nodemailer, a well-known service brings its own host, port and TLS mode.
        Some(service) => {
            let Some((host, port, implicit_tls)) = well_known(service) else {
                return Err(ConfigError::invalid(
                    EMAIL_SERVICE.name,
                    service,
                    "a well-known service (gmail, outlook, office365, yahoo, icloud, zoho, \
                     fastmail, sendgrid, mailgun, postmark, brevo, mailjet, ses, ...) or unset \
                     with EMAIL_HOST and EMAIL_PORT instead",
                ));
            };
            let encryption = if implicit_tls {
                Encryption::Tls
            } else {
                requested
            };
            (host.to_string(), port, encryption)
        }
        None => {
            let port = vars.number(
                &EMAIL_PORT,
                25,
                Accepted::from(1..=u16::MAX).noun("a port number"),
            )?;
            (host.unwrap_or_default().to_string(), port, requested)
        }
    };
    Ok(SmtpSettings {
        host,
        port,
        encryption,
        tls_hostname: vars.get(&EMAIL_ENCRYPTION_HOSTNAME).map(str::to_string),
        allow_self_signed: vars.flag(&EMAIL_ALLOW_SELFSIGNED, false),
        credentials,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn mail(pairs: &[(&str, &str)]) -> Result<MailConfig, ConfigError> {
        let vars = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        MailConfig::from_vars(Vars::new(&vars), "Chat")
    }

    fn smtp(c: &MailConfig) -> &SmtpSettings {
        match &c.transport {
            Some(MailTransport::Smtp(s)) => s,
            other => panic!("expected SMTP, got {other:?}"),
        }
    }

    #[test]
    fn nothing_set_means_no_mail() {
        let c = mail(&[]).unwrap();
        assert!(!c.configured());
        assert!(!c.client_email_enabled);
        assert_eq!(c.token_expiry_ms, 900_000);
        assert_eq!(c.from_name, "Chat");
    }

    #[test]
    fn host_and_port_with_encryption_modes() {
        let base = [
            ("EMAIL_HOST", "mail.example.com"),
            ("EMAIL_FROM", "noreply@example.com"),
        ];
        let c = mail(&base).unwrap();
        let s = smtp(&c);
        assert_eq!((s.host.as_str(), s.port), ("mail.example.com", 25));
        assert_eq!(s.encryption, Encryption::Opportunistic);
        assert!(s.credentials.is_none());
        assert!(
            !c.client_email_enabled,
            "no credentials: the client rule says off"
        );
        for (value, expected) in [
            ("tls", Encryption::Tls),
            ("STARTTLS", Encryption::StartTls),
            ("none", Encryption::Opportunistic),
        ] {
            let mut vars = base.to_vec();
            vars.push(("EMAIL_ENCRYPTION", value));
            vars.push(("EMAIL_PORT", "587"));
            let c = mail(&vars).unwrap();
            assert_eq!(smtp(&c).encryption, expected, "{value}");
            assert_eq!(smtp(&c).port, 587);
        }
    }

    #[test]
    fn well_known_service_wins_over_host() {
        let c = mail(&[
            ("EMAIL_SERVICE", "Gmail"),
            ("EMAIL_HOST", "ignored.example.com"),
            ("EMAIL_USERNAME", "me@gmail.com"),
            ("EMAIL_PASSWORD", "app-password"),
            ("EMAIL_FROM", "me@gmail.com"),
            ("EMAIL_FROM_NAME", "Support"),
        ])
        .unwrap();
        let s = smtp(&c);
        assert_eq!(
            (s.host.as_str(), s.port, s.encryption),
            ("smtp.gmail.com", 465, Encryption::Tls)
        );
        assert!(c.client_email_enabled);
        assert_eq!(c.from_name, "Support");
        assert!(
            !format!("{c:?}").contains("app-password"),
            "the password stays out of debug output"
        );
    }

    #[test]
    fn mailgun_is_preferred_and_counts_as_configured_but_not_for_the_client() {
        let c = mail(&[
            ("MAILGUN_API_KEY", "key-123"),
            ("MAILGUN_DOMAIN", "mg.example.com"),
            ("EMAIL_HOST", "mail.example.com"),
            ("EMAIL_FROM", "noreply@example.com"),
        ])
        .unwrap();
        match &c.transport {
            Some(MailTransport::Mailgun(m)) => {
                assert_eq!(m.host, "https://api.mailgun.net");
                assert_eq!(m.domain, "mg.example.com");
            }
            other => panic!("expected Mailgun, got {other:?}"),
        }
        assert!(!c.client_email_enabled);
    }

    #[test]
    fn half_settings_are_refused_with_the_variable_named() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[
                    ("EMAIL_HOST", "h"),
                    ("EMAIL_FROM", "a@b.c"),
                    ("EMAIL_USERNAME", "u"),
                ],
                "EMAIL_PASSWORD",
            ),
            (
                &[
                    ("EMAIL_HOST", "h"),
                    ("EMAIL_FROM", "a@b.c"),
                    ("EMAIL_PASSWORD", "p"),
                ],
                "EMAIL_USERNAME",
            ),
            (
                &[("MAILGUN_API_KEY", "k"), ("EMAIL_FROM", "a@b.c")],
                "MAILGUN_DOMAIN",
            ),
            (&[("EMAIL_HOST", "h")], "EMAIL_FROM"),
            (
                &[("EMAIL_HOST", "h"), ("EMAIL_FROM", "not an address")],
                "EMAIL_FROM",
            ),
            (
                &[
                    ("EMAIL_HOST", "h"),
                    ("EMAIL_FROM", "a@b.c"),
                    ("EMAIL_PORT", "smtp"),
                ],
                "EMAIL_PORT",
            ),
            (
                &[("EMAIL_SERVICE", "carrier-pigeon"), ("EMAIL_FROM", "a@b.c")],
                "EMAIL_SERVICE",
            ),
            (&[("EMAIL_TOKEN_EXPIRY", "soon")], "EMAIL_TOKEN_EXPIRY"),
            (
                &[("EMAIL_TEMPLATES_DIR", "/nonexistent/templates")],
                "EMAIL_TEMPLATES_DIR",
            ),
            (
                &[
                    ("MAILGUN_API_KEY", "k"),
                    ("MAILGUN_DOMAIN", "d"),
                    ("EMAIL_FROM", "a@b.c"),
                    ("MAILGUN_HOST", "api.mailgun.net"),
                ],
                "MAILGUN_HOST",
            ),
        ];
        for (vars, named) in cases {
            let err = mail(vars).unwrap_err().to_string();
            assert!(err.contains(named), "{vars:?}: {err}");
        }
    }

    #[test]
    fn unknown_encryption_is_opportunistic_with_a_warning() {
        let vars = HashMap::from([("EMAIL_ENCRYPTION".to_string(), "ssl".to_string())]);
        let warnings = MailConfig::warnings(Vars::new(&vars));
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("ssl"));
        let vars = HashMap::from([("EMAIL_ENCRYPTION".to_string(), "tls".to_string())]);
        assert!(MailConfig::warnings(Vars::new(&vars)).is_empty());
    }
}
