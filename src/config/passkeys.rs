//! Passkeys (WebAuthn): whether they are on, the relying-party id they are bound to and the
//! origins a ceremony may come from.

use super::values::{variables, Vars};
use super::ConfigError;

variables! {
    PASSKEYS: "`true` when `DOMAIN_SERVER` names a host (not an IP address)", "Passkeys (WebAuthn): sign-in, second factor, and their registration on the account page and the API.";
    PASSKEY_RP_ID: "the host of `DOMAIN_SERVER`", "Relying-party id passkeys are bound to: a domain every origin is within (changing it orphans every registered passkey).";
    PASSKEY_ORIGINS: "the origins of `DOMAIN_SERVER` and `DOMAIN_CLIENT` (the latter if within the RP id)", "Comma-separated origins a passkey ceremony may come from, each within `PASSKEY_RP_ID`.";
}

#[derive(Debug, Clone)]
pub struct PasskeysConfig {
    pub rp_id: String,
    /// What the authenticator shows beside the passkey (`APP_TITLE`).
    pub rp_name: String,
    /// The first is the primary origin; every one is within `rp_id`.
    pub origins: Vec<url::Url>,
}

/// Whether `host` is `rp_id` or one of its subdomains (the WebAuthn rule for an origin).
fn within(host: &str, rp_id: &str) -> bool {
    host == rp_id || host.ends_with(&format!(".{rp_id}"))
}

fn origin_of(url: &str) -> Option<url::Url> {
    let parsed = url::Url::parse(url).ok()?;
    url::Url::parse(&parsed.origin().ascii_serialization()).ok()
}

impl PasskeysConfig {
    /// `None` when passkeys are off. On by default, because they cost nothing until a user
    /// registers one and are the strongest sign-in Bouncer offers; off by default only where
    /// WebAuthn cannot work (an IP address is never a relying-party id).
    pub fn from_vars(
        vars: Vars,
        domain_server: &str,
        domain_client: &str,
        app_title: &str,
    ) -> Result<Option<Self>, ConfigError> {
        let server = url::Url::parse(domain_server).ok();
        let server_domain = server.as_ref().and_then(|u| u.domain()).map(str::to_string);
        let explicit = vars.get(&PASSKEYS).is_some();
        if !vars.flag(&PASSKEYS, server_domain.is_some()) {
            return Ok(None);
        }
        let rp_id = match (vars.get(&PASSKEY_RP_ID), server_domain) {
            (Some(id), _) => id.to_ascii_lowercase(),
            (None, Some(domain)) => domain.to_ascii_lowercase(),
            (None, None) if explicit => return Err(ConfigError::invalid(
                PASSKEY_RP_ID.name,
                "",
                "a domain (DOMAIN_SERVER names an IP address, which cannot be a relying-party id)",
            )),
            (None, None) => return Ok(None),
        };
        if rp_id.is_empty() || rp_id.contains(['/', ':', ' ']) {
            return Err(ConfigError::invalid(
                PASSKEY_RP_ID.name,
                &rp_id,
                "a domain such as example.com",
            ));
        }
        let origins = match vars.get(&PASSKEY_ORIGINS) {
            Some(list) => {
                let mut origins = Vec::new();
                for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let origin = origin_of(item)
                        .filter(|o| o.host_str().is_some_and(|h| within(h, &rp_id)))
                        .ok_or_else(|| {
                            ConfigError::invalid(
                                PASSKEY_ORIGINS.name,
                                item,
                                "http(s) origins within PASSKEY_RP_ID",
                            )
                        })?;
                    origins.push(origin);
                }
                origins
            }
            None => [domain_server, domain_client]
                .iter()
                .filter_map(|u| origin_of(u))
                .filter(|o| o.host_str().is_some_and(|h| within(h, &rp_id)))
                .fold(Vec::new(), |mut all, o| {
                    if !all.contains(&o) {
                        all.push(o);
                    }
                    all
                }),
        };
        if origins.is_empty() {
            return Err(ConfigError::invalid(
                PASSKEY_ORIGINS.name,
                vars.get(&PASSKEY_ORIGINS).unwrap_or(""),
                "at least one http(s) origin within PASSKEY_RP_ID (DOMAIN_SERVER is not)",
            ));
        }
        Ok(Some(Self {
            rp_id,
            rp_name: app_title.to_string(),
            origins,
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(pairs: &[(&str, &str)], server: &str) -> Result<Option<PasskeysConfig>, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        PasskeysConfig::from_vars(Vars::new(&map), server, "http://localhost:3080", "Chat")
    }

    #[test]
    fn defaults_follow_domain_server() {
        let c = read(&[], "https://auth.example.com").unwrap().unwrap();
        assert_eq!(c.rp_id, "auth.example.com");
        // DOMAIN_CLIENT (localhost) is not within the RP id, so only the server's origin.
        let origins: Vec<_> = c.origins.iter().map(|o| o.as_str()).collect();
        assert_eq!(origins, ["https://auth.example.com/"]);
    }

    #[test]
    fn an_ip_address_turns_them_off_unless_asked_for() {
        assert!(read(&[], "http://127.0.0.1:3080").unwrap().is_none());
        assert!(read(&[("PASSKEYS", "true")], "http://127.0.0.1:3080").is_err());
        assert!(read(&[("PASSKEYS", "false")], "https://a.example.com")
            .unwrap()
            .is_none());
    }

    #[test]
    fn origins_must_be_within_the_rp_id() {
        let c = read(
            &[
                ("PASSKEY_RP_ID", "example.com"),
                (
                    "PASSKEY_ORIGINS",
                    "https://chat.example.com, https://example.com:8443",
                ),
            ],
            "https://auth.example.com",
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.origins.len(), 2);
        assert!(read(
            &[("PASSKEY_ORIGINS", "https://evil.test")],
            "https://auth.example.com"
        )
        .is_err());
    }
}
