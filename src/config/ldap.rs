//! LDAP / Active Directory sign-in (LibreChat's `ldapStrategy.js`): on when `LDAP_URL` and
//! `LDAP_USER_SEARCH_BASE` are set, and then `POST /api/auth/login` asks the directory instead of
//! the local passwords. Where LibreChat is lax Bouncer is strict: a half configuration is a start
//! error, TLS is verified unless `LDAP_TLS_REJECT_UNAUTHORIZED=false` says otherwise, and a bind
//! DN without a password (an unauthenticated bind) is refused.

use std::path::PathBuf;
use std::time::Duration;

use super::values::{variables, Vars};
use super::{ConfigError, Secret};

variables! {
    LDAP_URL: "unset", "`ldap://host:389` or `ldaps://host:636`; with `LDAP_USER_SEARCH_BASE` it turns LDAP sign-in on.";
    LDAP_BIND_DN: "unset (anonymous search)", "DN of the service account that searches for users.";
    LDAP_BIND_CREDENTIALS: "unset", "That account's password; required with `LDAP_BIND_DN`.";
    LDAP_USER_SEARCH_BASE: "unset", "Base DN under which users are searched (subtree).";
    LDAP_SEARCH_FILTER: "`mail={{username}}`", "Filter that finds the user; `{{username}}` is the submitted login, escaped per RFC 4515.";
    LDAP_CA_CERT_PATH: "unset (system roots)", "PEM file of the CA(s) that sign the directory's certificate.";
    LDAP_TLS_REJECT_UNAUTHORIZED: "`true`", "`false` accepts any certificate (LibreChat's default; Bouncer verifies unless told not to).";
    LDAP_STARTTLS: "`false`", "Upgrade an `ldap://` connection with StartTLS before binding.";
    LDAP_LOGIN_USES_USERNAME: "`false`", "The login form asks for a username instead of an email (`/api/config` `ldap.username`).";
    LDAP_ID: "`uid`, `sAMAccountName`, `mail`", "Attribute that identifies the user for good.";
    LDAP_USERNAME: "`givenName`, `mail`", "Attribute of the username.";
    LDAP_EMAIL: "`mail`", "Attribute of the email (fallback `<username>@ldap.local`, with a warning).";
    LDAP_FULL_NAME: "`cn`, `name`, `commonname`, `displayName`", "Comma-separated attributes joined with spaces into the name.";
    LDAP_TIMEOUT: "`5000`", "Milliseconds a connection or an operation with the directory may take before the login answers 503.";
    LDAP_POOL_SIZE: "`8`", "Connections to the directory at most (1-100); further logins wait for one, within `LDAP_TIMEOUT`.";
}

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LdapTransport {
    /// `ldap://` without StartTLS: the password crosses the network in clear (warned at start).
    Plain,
    /// `ldap://` with `LDAP_STARTTLS=true`.
    StartTls,
    /// `ldaps://`.
    Tls,
}

#[derive(Debug, Clone)]
pub struct LdapConfig {
    pub url: String,
    pub transport: LdapTransport,
    /// The service account; `None` searches anonymously.
    pub bind: Option<(String, Secret)>,
    pub search_base: String,
    /// Always in parentheses, with `{{username}}` where the login goes.
    pub search_filter: String,
    pub ca_cert_path: Option<PathBuf>,
    /// `false` only when the operator said `LDAP_TLS_REJECT_UNAUTHORIZED=false`.
    pub verify_tls: bool,
    pub login_uses_username: bool,
    pub id_attribute: Option<String>,
    pub username_attribute: Option<String>,
    pub email_attribute: Option<String>,
    /// `LDAP_FULL_NAME`, split at commas.
    pub full_name_attributes: Vec<String>,
    pub timeout: Duration,
    pub pool_size: usize,
}

const PLACEHOLDER: &str = "{{username}}";

impl LdapConfig {
    /// `None` unless `LDAP_URL` or `LDAP_USER_SEARCH_BASE` is set; an error when only one is.
    pub fn from_vars(vars: Vars) -> Result<Option<Self>, ConfigError> {
        let (url, search_base) = match (vars.get(&LDAP_URL), vars.get(&LDAP_USER_SEARCH_BASE)) {
            (None, None) => return Ok(None),
            (Some(url), Some(base)) => (url, base),
            (Some(_), None) => return Err(missing(LDAP_USER_SEARCH_BASE.name, LDAP_URL.name)),
            (None, Some(_)) => return Err(missing(LDAP_URL.name, LDAP_USER_SEARCH_BASE.name)),
        };
        let parsed = url::Url::parse(url).ok().filter(|u| u.host_str().is_some());
        let scheme = parsed.as_ref().map(url::Url::scheme);
        let starttls = vars.flag(&LDAP_STARTTLS, false);
        let transport = match (scheme, starttls) {
            (Some("ldap"), false) => LdapTransport::Plain,
            (Some("ldap"), true) => LdapTransport::StartTls,
            (Some("ldaps"), false) => LdapTransport::Tls,
            (Some("ldaps"), true) => {
                return Err(ConfigError::Other(
                    "LDAP_STARTTLS=true needs an ldap:// LDAP_URL: an ldaps:// connection is \
                     already TLS"
                        .into(),
                ))
            }
            _ => {
                return Err(ConfigError::invalid(
                    LDAP_URL.name,
                    &super::redact_url(url),
                    "an ldap:// or ldaps:// URL with a host, e.g. ldaps://ldap.example.com:636",
                ))
            }
        };
        let bind = match (vars.get(&LDAP_BIND_DN), vars.raw(&LDAP_BIND_CREDENTIALS)) {
            (None, None) => None,
            (None, Some(_)) => {
                return Err(ConfigError::Other(
                    "LDAP_BIND_CREDENTIALS is set without LDAP_BIND_DN; set the service \
                     account's DN too, or neither for an anonymous search"
                        .into(),
                ))
            }
            (Some(_), None) | (Some(_), Some("")) => {
                return Err(ConfigError::secret(
                    LDAP_BIND_CREDENTIALS.name,
                    "is empty while LDAP_BIND_DN is set; a bind with a DN and no password is an \
                     unauthenticated bind, which most directories accept without checking \
                     anything. Set the service account's password, or unset LDAP_BIND_DN for an \
                     anonymous search",
                ))
            }
            (Some(dn), Some(password)) => Some((dn.to_string(), Secret::new(password.to_string()))),
        };
        let filter = vars.text(&LDAP_SEARCH_FILTER, "mail={{username}}");
        if !filter.contains(PLACEHOLDER) {
            return Err(ConfigError::invalid(
                LDAP_SEARCH_FILTER.name,
                &filter,
                "a filter containing {{username}}, e.g. (uid={{username}})",
            ));
        }
        let search_filter = if filter.starts_with('(') {
            filter
        } else {
            format!("({filter})")
        };
        // The filter must parse with a login in it, or every login would fail at run time.
        if ldap3::parse_filter(search_filter.replace(PLACEHOLDER, "x")).is_err() {
            return Err(ConfigError::invalid(
                LDAP_SEARCH_FILTER.name,
                &search_filter,
                "an RFC 4515 search filter, e.g. (&(objectClass=person)(uid={{username}}))",
            ));
        }
        let verify_tls = match vars.get(&LDAP_TLS_REJECT_UNAUTHORIZED) {
            None => true,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                return Err(ConfigError::invalid(
                    LDAP_TLS_REJECT_UNAUTHORIZED.name,
                    v,
                    "`true` (the default) or `false`",
                ))
            }
        };
        let attribute = |var| vars.get(var).map(str::to_string);
        let full_name_attributes = vars
            .get(&LDAP_FULL_NAME)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let timeout_ms = vars.number(&LDAP_TIMEOUT, 5000u64, 100..=120_000)?;
        Ok(Some(Self {
            url: url.to_string(),
            transport,
            bind,
            search_base: search_base.to_string(),
            search_filter,
            ca_cert_path: vars.get(&LDAP_CA_CERT_PATH).map(PathBuf::from),
            verify_tls,
            login_uses_username: vars.flag(&LDAP_LOGIN_USES_USERNAME, false),
            id_attribute: attribute(&LDAP_ID),
            username_attribute: attribute(&LDAP_USERNAME),
            email_attribute: attribute(&LDAP_EMAIL),
            full_name_attributes,
            timeout: Duration::from_millis(timeout_ms),
            pool_size: vars.number(&LDAP_POOL_SIZE, 8usize, 1..=100)?,
        }))
    }

    /// The start-up warnings of a weak but working setting.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.transport == LdapTransport::Plain {
            warnings.push(
                "LDAP_URL is ldap:// without LDAP_STARTTLS: users' passwords cross the network \
                 unencrypted; use ldaps:// or LDAP_STARTTLS=true"
                    .into(),
            );
        }
        if !self.verify_tls && self.transport != LdapTransport::Plain {
            warnings.push(
                "LDAP_TLS_REJECT_UNAUTHORIZED=false: the directory's certificate is not checked, \
                 so anyone on the network path can read users' passwords; give its CA in \
                 LDAP_CA_CERT_PATH instead"
                    .into(),
            );
        }
        warnings
    }

    /// The search filter for this login: the value escaped per RFC 4515, so `*)(uid=*` is a
    /// literal that matches nobody.
    pub fn filter_for(&self, login: &str) -> String {
        self.search_filter
            .replace(PLACEHOLDER, &ldap3::ldap_escape(login))
    }

    /// Every attribute the search asks for (LibreChat's list plus the configured ones).
    pub fn search_attributes(&self) -> Vec<String> {
        let mut attributes: Vec<String> = [
            "displayName",
            "mail",
            "uid",
            "cn",
            "name",
            "commonname",
            "givenName",
            "sn",
            "sAMAccountName",
        ]
        .map(str::to_string)
        .into();
        let configured = [
            &self.id_attribute,
            &self.username_attribute,
            &self.email_attribute,
        ];
        attributes.extend(configured.into_iter().flatten().cloned());
        attributes.extend(self.full_name_attributes.iter().cloned());
        let mut seen = std::collections::HashSet::new();
        attributes.retain(|a| seen.insert(a.to_ascii_lowercase()));
        attributes
    }
}

fn missing(absent: &str, present: &str) -> ConfigError {
    ConfigError::Other(format!(
        "{present} is set but {absent} is not: LDAP sign-in needs both (unset both to sign in \
         with local passwords)"
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Option<LdapConfig>, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LdapConfig::from_vars(Vars::new(&map))
    }

    const BASE: [(&str, &str); 2] = [
        ("LDAP_URL", "ldaps://ldap.example.com"),
        ("LDAP_USER_SEARCH_BASE", "ou=people,dc=example,dc=com"),
    ];

    #[test]
    fn off_unless_configured_and_half_a_configuration_is_an_error() {
        assert!(config(&[]).unwrap().is_none());
        let e = config(&[("LDAP_URL", "ldap://x")]).unwrap_err();
        assert!(e.to_string().contains("LDAP_USER_SEARCH_BASE"), "{e}");
        let e = config(&[("LDAP_USER_SEARCH_BASE", "dc=x")]).unwrap_err();
        assert!(e.to_string().contains("LDAP_URL"), "{e}");
    }

    #[test]
    fn defaults_are_strict() {
        let c = config(&BASE).unwrap().unwrap();
        assert_eq!(c.transport, LdapTransport::Tls);
        assert!(c.verify_tls);
        assert!(c.bind.is_none());
        assert_eq!(c.search_filter, "(mail={{username}})");
        assert!(c.warnings().is_empty());
    }

    #[test]
    fn refuses_what_cannot_work_or_is_unsafe() {
        let with = |extra: &[(&str, &str)]| {
            let mut pairs = BASE.to_vec();
            pairs.extend_from_slice(extra);
            config(&pairs)
        };
        assert!(with(&[("LDAP_URL", "http://x")]).is_err());
        assert!(with(&[("LDAP_STARTTLS", "true")]).is_err());
        assert!(with(&[("LDAP_BIND_DN", "cn=svc")]).is_err());
        assert!(with(&[("LDAP_BIND_DN", "cn=svc"), ("LDAP_BIND_CREDENTIALS", "")]).is_err());
        assert!(with(&[("LDAP_BIND_CREDENTIALS", "pw")]).is_err());
        assert!(with(&[("LDAP_SEARCH_FILTER", "(uid=alice)")]).is_err());
        assert!(with(&[("LDAP_SEARCH_FILTER", "(uid={{username}}")]).is_err());
        assert!(with(&[("LDAP_TLS_REJECT_UNAUTHORIZED", "maybe")]).is_err());
        let plain = with(&[("LDAP_URL", "ldap://x")]).unwrap().unwrap();
        assert_eq!(plain.warnings().len(), 1);
    }

    #[test]
    fn the_login_is_escaped_in_the_filter() {
        let c = config(&BASE).unwrap().unwrap();
        assert_eq!(c.filter_for("*)(uid=*"), "(mail=\\2a\\29\\28uid=\\2a)");
        assert_eq!(c.filter_for("a@b.c"), "(mail=a@b.c)");
    }

    #[test]
    fn asks_for_configured_attributes_once() {
        let mut pairs = BASE.to_vec();
        pairs.extend([
            ("LDAP_FULL_NAME", "givenName, sn,title"),
            ("LDAP_ID", "UID"),
        ]);
        let c = config(&pairs).unwrap().unwrap();
        let attributes = c.search_attributes();
        assert!(attributes.contains(&"title".to_string()));
        assert_eq!(
            attributes
                .iter()
                .filter(|a| a.eq_ignore_ascii_case("uid"))
                .count(),
            1
        );
        assert_eq!(c.full_name_attributes, ["givenName", "sn", "title"]);
    }
}
