//! What a directory entry says of its user, read with LibreChat's attribute rules: the
//! configured attribute first, then LibreChat's fallbacks, the first value of each.

use ldap3::SearchEntry;

use super::DirectoryError;
use crate::config::ldap::LdapConfig;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryProfile {
    /// `ldapId`: `LDAP_ID`, else `uid`, `sAMAccountName`, `mail`.
    pub id: String,
    /// `LDAP_USERNAME`, else `givenName`, `mail` (LibreChat's order); may be empty.
    pub username: String,
    /// `LDAP_EMAIL`, else `mail`, else `<username>@ldap.local`.
    pub email: String,
    /// The email is the `@ldap.local` stand-in: the entry has no mail attribute.
    pub email_is_fallback: bool,
    /// `LDAP_FULL_NAME`'s attributes joined with spaces, else `cn`, `name`, `commonname`,
    /// `displayName`; may be empty.
    pub name: String,
}

/// The first value of an attribute; names compare without case, as LDAP's do.
fn first<'a>(entry: &'a SearchEntry, attribute: &str) -> Option<&'a str> {
    entry
        .attrs
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(attribute))
        .and_then(|(_, values)| values.first())
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

fn first_of<'a>(
    entry: &'a SearchEntry,
    configured: Option<&str>,
    fallbacks: &[&str],
) -> Option<&'a str> {
    configured
        .into_iter()
        .chain(fallbacks.iter().copied())
        .find_map(|attribute| first(entry, attribute))
}

impl DirectoryProfile {
    pub fn from_entry(config: &LdapConfig, entry: &SearchEntry) -> Result<Self, DirectoryError> {
        let id = first_of(
            entry,
            config.id_attribute.as_deref(),
            &["uid", "sAMAccountName", "mail"],
        )
        .ok_or_else(|| {
            DirectoryError::Unusable(format!(
                "{} has none of the id attributes ({}uid, sAMAccountName, mail)",
                entry.dn,
                config
                    .id_attribute
                    .as_deref()
                    .map(|a| format!("{a}, "))
                    .unwrap_or_default()
            ))
        })?
        .to_string();
        let username = first_of(
            entry,
            config.username_attribute.as_deref(),
            &["givenName", "mail"],
        )
        .unwrap_or_default()
        .to_string();
        let mail = first_of(entry, config.email_attribute.as_deref(), &["mail"]);
        let email_is_fallback = mail.is_none();
        let email = match mail {
            Some(mail) => mail.to_string(),
            None => {
                tracing::warn!(
                    dn = %entry.dn,
                    email_attribute = config.email_attribute.as_deref().unwrap_or("not set"),
                    attributes = ?entry.attrs.keys().collect::<Vec<_>>(),
                    "no email attribute in the directory entry; using {username}@ldap.local \
                     (set LDAP_EMAIL to the attribute that holds it)"
                );
                format!("{username}@ldap.local")
            }
        };
        let name = if config.full_name_attributes.is_empty() {
            first_of(entry, None, &["cn", "name", "commonname", "displayName"])
                .unwrap_or_default()
                .to_string()
        } else {
            config
                .full_name_attributes
                .iter()
                .filter_map(|attribute| first(entry, attribute))
                .collect::<Vec<_>>()
                .join(" ")
        };
        Ok(Self {
            id,
            username,
            email,
            email_is_fallback,
            name,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::values::Vars;

    fn config(extra: &[(&str, &str)]) -> LdapConfig {
        let mut map: HashMap<String, String> = [
            ("LDAP_URL", "ldaps://ldap.example.com"),
            ("LDAP_USER_SEARCH_BASE", "dc=example,dc=com"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        map.retain(|_, v| !v.is_empty());
        LdapConfig::from_vars(Vars::new(&map)).unwrap().unwrap()
    }

    fn entry(attrs: &[(&str, &[&str])]) -> SearchEntry {
        SearchEntry {
            dn: "uid=x,dc=example,dc=com".into(),
            attrs: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
                .collect(),
            bin_attrs: HashMap::new(),
        }
    }

    #[test]
    fn librechat_fallbacks() {
        let e = entry(&[
            ("uid", &["alice"]),
            ("mail", &["Alice@Example.com", "alias@example.com"]),
            ("givenName", &["Alice"]),
            ("cn", &["Alice Liddell"]),
        ]);
        let p = DirectoryProfile::from_entry(&config(&[]), &e).unwrap();
        assert_eq!(p.id, "alice");
        assert_eq!(p.username, "Alice");
        assert_eq!(p.email, "Alice@Example.com");
        assert!(!p.email_is_fallback);
        assert_eq!(p.name, "Alice Liddell");
    }

    #[test]
    fn active_directory_style_and_configured_attributes() {
        let e = entry(&[
            ("sAMAccountName", &["bob"]),
            ("givenName", &["Bob"]),
            ("sn", &["Builder"]),
            ("userPrincipalName", &["bob@corp.example"]),
        ]);
        let c = config(&[
            ("LDAP_EMAIL", "userPrincipalName"),
            ("LDAP_FULL_NAME", "givenName,sn"),
            ("LDAP_USERNAME", "samaccountname"),
        ]);
        let p = DirectoryProfile::from_entry(&c, &e).unwrap();
        assert_eq!(p.id, "bob");
        assert_eq!(p.username, "bob");
        assert_eq!(p.email, "bob@corp.example");
        assert_eq!(p.name, "Bob Builder");
    }

    #[test]
    fn no_mail_falls_back_and_no_id_is_unusable() {
        let p = DirectoryProfile::from_entry(
            &config(&[]),
            &entry(&[("uid", &["carol"]), ("givenName", &["carol"])]),
        )
        .unwrap();
        assert_eq!(p.email, "carol@ldap.local");
        assert!(p.email_is_fallback);
        let e = DirectoryProfile::from_entry(&config(&[]), &entry(&[("cn", &["Nobody"])]));
        assert!(matches!(e, Err(DirectoryError::Unusable(_))));
    }
}
