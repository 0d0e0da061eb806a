//! The part of `librechat.yaml` that concerns authentication. Every other key of the file is
//! LibreChat's business and is ignored here.

use serde::Deserialize;
use serde_json::Value;

use super::ConfigError;

/// The default order of social buttons (spec §1.8; `apple` is not in LibreChat's default).
pub const DEFAULT_SOCIAL_LOGINS: [&str; 6] =
    ["google", "facebook", "openid", "github", "discord", "saml"];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuthYaml {
    /// Lower-cased email domains allowed to register; empty = any.
    pub allowed_domains: Vec<String>,
    pub social_logins: Vec<String>,
    pub privacy_policy: Option<Value>,
    pub terms_of_service: Option<Value>,
    pub turnstile: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct File {
    registration: Registration,
    interface: Interface,
    turnstile: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Registration {
    allowed_domains: Option<Vec<String>>,
    social_logins: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Interface {
    privacy_policy: Option<Value>,
    terms_of_service: Option<Value>,
}

impl AuthYaml {
    pub fn with_defaults() -> Self {
        Self {
            social_logins: DEFAULT_SOCIAL_LOGINS.map(String::from).to_vec(),
            ..Self::default()
        }
    }

    /// Reads `CONFIG_PATH`. A path the operator named must exist; the default
    /// `./librechat.yaml` is optional.
    pub fn load(explicit: Option<&str>) -> Result<Self, ConfigError> {
        let (path, required) = match explicit.map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => (p.to_string(), true),
            None => ("librechat.yaml".to_string(), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text).map_err(|why| {
                ConfigError::invalid(
                    "CONFIG_PATH",
                    &path,
                    &format!("a readable librechat.yaml ({why})"),
                )
            }),
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Self::with_defaults())
            }
            Err(e) => Err(ConfigError::invalid(
                "CONFIG_PATH",
                &path,
                &format!("the path of a readable librechat.yaml ({e})"),
            )),
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Self::with_defaults());
        }
        let file: File = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        let mut out = Self::with_defaults();
        if let Some(domains) = file.registration.allowed_domains {
            out.allowed_domains = domains
                .into_iter()
                .map(|d| d.trim().to_ascii_lowercase())
                .filter(|d| !d.is_empty())
                .collect();
        }
        if let Some(list) = file.registration.social_logins {
            out.social_logins = list;
        }
        out.privacy_policy = file.interface.privacy_policy.filter(|v| !v.is_null());
        out.terms_of_service = file.interface.terms_of_service.filter(|v| !v.is_null());
        out.turnstile = file.turnstile.filter(|v| !v.is_null());
        Ok(out)
    }

    /// `registration.allowedDomains`: the text after the first `@`, case-insensitive, exact.
    pub fn email_domain_allowed(&self, email: &str) -> bool {
        if self.allowed_domains.is_empty() {
            return true;
        }
        let domain = email.split_once('@').map(|(_, d)| d).unwrap_or("");
        self.allowed_domains
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(domain))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_auth_keys_and_ignores_the_rest() {
        let yaml = r#"
version: 1.2.1
cache: true
registration:
  socialLogins: ["github", "openid"]
  allowedDomains:
    - Example.com
interface:
  privacyPolicy:
    externalUrl: https://example.com/privacy
    openNewTab: true
turnstile:
  siteKey: abc
endpoints:
  custom: []
"#;
        let parsed = AuthYaml::parse(yaml).unwrap();
        assert_eq!(parsed.allowed_domains, vec!["example.com"]);
        assert_eq!(parsed.social_logins, vec!["github", "openid"]);
        assert_eq!(
            parsed.privacy_policy.unwrap()["externalUrl"],
            "https://example.com/privacy"
        );
        assert!(parsed.terms_of_service.is_none());
        assert_eq!(parsed.turnstile.unwrap()["siteKey"], "abc");
    }

    #[test]
    fn domain_rule_is_exact() {
        let yaml = AuthYaml {
            allowed_domains: vec!["example.com".into()],
            ..AuthYaml::with_defaults()
        };
        assert!(yaml.email_domain_allowed("a@EXAMPLE.com"));
        assert!(!yaml.email_domain_allowed("a@sub.example.com"));
        assert!(!yaml.email_domain_allowed("a@example.org"));
        assert!(AuthYaml::with_defaults().email_domain_allowed("a@anything.io"));
    }

    #[test]
    fn broken_yaml_is_an_error() {
        assert!(AuthYaml::parse("registration: [unclosed").is_err());
    }
}
