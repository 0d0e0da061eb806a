//! The sign-in pages and the browser single-sign-on session: where the pages live, their
//! branding, the session cookie, and which hosts a sign-in may send the browser back to.

use super::values::{variables, Vars};
use super::ConfigError;

variables! {
    PAGES_PREFIX: "`/ui`", "Path under which the sign-in pages live (never LibreChat's own `/login`).";
    PAGES_LOGO_URL: "unset", "An image shown above the pages' forms (https URL or a path on this server).";
    PAGES_ACCENT_COLOR: "`#2563eb`", "The pages' accent colour, `#rgb` or `#rrggbb`.";
    SESSION_COOKIE_NAME: "`bouncer_session`", "Name of the single-sign-on cookie of the sign-in pages.";
    SESSION_COOKIE_DOMAIN: "unset (host-only)", "Domain of that cookie, e.g. `example.com` so `auth.example.com` covers `chat.example.com`.";
    ALLOWED_REDIRECT_HOSTS: "the hosts of `DOMAIN_CLIENT`, `DOMAIN_SERVER` (and `SESSION_COOKIE_DOMAIN`'s subdomains)", "Comma-separated hosts a sign-in may return to (`rd`); `.example.com` allows its subdomains.";
}

/// A host a sign-in may send the browser back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// Exactly this host (lower case, any port).
    Exact(String),
    /// This domain and every subdomain of it (`.example.com`).
    Domain(String),
}

impl HostPattern {
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(h) => host == h,
            HostPattern::Domain(d) => {
                host == d
                    || host
                        .strip_suffix(d.as_str())
                        .is_some_and(|rest| rest.ends_with('.'))
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct PagesConfig {
    /// `PAGES_PREFIX`, starting with `/` and without a trailing one.
    pub prefix: String,
    pub logo_url: Option<String>,
    pub accent_color: String,
    pub cookie_name: String,
    /// `SESSION_COOKIE_DOMAIN`, lower case, without a leading dot.
    pub cookie_domain: Option<String>,
    pub allowed_redirect_hosts: Vec<HostPattern>,
}

fn host_of(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .host_str()
        .map(|h| h.to_ascii_lowercase())
}

fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

impl PagesConfig {
    pub fn from_vars(
        vars: Vars,
        domain_client: &str,
        domain_server: &str,
    ) -> Result<Self, ConfigError> {
        let prefix = vars.text(&PAGES_PREFIX, "/ui");
        let prefix = prefix.trim_end_matches('/').to_string();
        let prefix_ok = prefix.starts_with('/')
            && prefix.len() > 1
            && prefix[1..].split('/').all(|segment| {
                !segment.is_empty()
                    && segment != "."
                    && segment != ".."
                    && segment
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b))
            })
            && !matches!(prefix.as_str(), "/api" | "/oauth" | "/healthz")
            && !prefix.starts_with("/api/")
            && !prefix.starts_with("/oauth/");
        if !prefix_ok {
            return Err(ConfigError::invalid(
                PAGES_PREFIX.name,
                &prefix,
                "a path such as /ui (letters, digits, - _ . ~; not under /api or /oauth)",
            ));
        }

        let accent_color = vars
            .text(&PAGES_ACCENT_COLOR, "#2563eb")
            .to_ascii_lowercase();
        let hex = accent_color.strip_prefix('#').unwrap_or("");
        if !matches!(hex.len(), 3 | 6) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ConfigError::invalid(
                PAGES_ACCENT_COLOR.name,
                &accent_color,
                "a colour as #rgb or #rrggbb",
            ));
        }

        let logo_url = vars.get(&PAGES_LOGO_URL).map(str::to_string);
        if let Some(logo) = &logo_url {
            let absolute_https = url::Url::parse(logo)
                .is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some());
            let local_path = logo.starts_with('/') && !logo.starts_with("//");
            let printable = logo.bytes().all(|b| b.is_ascii_graphic()) && !logo.contains('\\');
            if !(absolute_https || local_path) || !printable {
                return Err(ConfigError::invalid(
                    PAGES_LOGO_URL.name,
                    logo,
                    "an https:// URL or a path on this server starting with /",
                ));
            }
        }

        let cookie_name = vars.text(&SESSION_COOKIE_NAME, "bouncer_session");
        // RFC 6265 token characters; `__Host-`/`__Secure-` prefixes are the operator's choice.
        let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if cookie_name.is_empty() || !cookie_name.bytes().all(token) {
            return Err(ConfigError::invalid(
                SESSION_COOKIE_NAME.name,
                &cookie_name,
                "a cookie name (letters, digits and !#$%&'*+-.^_`|~)",
            ));
        }

        let cookie_domain = vars
            .get(&SESSION_COOKIE_DOMAIN)
            .map(|d| d.trim_start_matches('.').to_ascii_lowercase());
        if let Some(domain) = &cookie_domain {
            if !is_hostname(domain) || !domain.contains('.') {
                return Err(ConfigError::invalid(
                    SESSION_COOKIE_DOMAIN.name,
                    domain,
                    "a domain with at least two labels, such as example.com",
                ));
            }
            let server_host = host_of(domain_server).unwrap_or_default();
            if !HostPattern::Domain(domain.clone()).matches(&server_host) {
                return Err(ConfigError::invalid(
                    SESSION_COOKIE_DOMAIN.name,
                    domain,
                    "a domain that DOMAIN_SERVER's host is in (browsers refuse any other)",
                ));
            }
        }

        let allowed_redirect_hosts = match vars.get(&ALLOWED_REDIRECT_HOSTS) {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(|h| {
                    let h = h.to_ascii_lowercase();
                    match h.strip_prefix('.') {
                        Some(domain) if is_hostname(domain) => {
                            Ok(HostPattern::Domain(domain.to_string()))
                        }
                        None if is_hostname(&h) => Ok(HostPattern::Exact(h)),
                        _ => Err(ConfigError::invalid(
                            ALLOWED_REDIRECT_HOSTS.name,
                            &h,
                            "host names, comma-separated; a leading . allows subdomains",
                        )),
                    }
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => {
                let mut hosts: Vec<HostPattern> = [domain_client, domain_server]
                    .iter()
                    .filter_map(|u| host_of(u))
                    .map(HostPattern::Exact)
                    .collect();
                if let Some(domain) = &cookie_domain {
                    hosts.push(HostPattern::Domain(domain.clone()));
                }
                hosts.dedup();
                hosts
            }
        };

        Ok(Self {
            prefix,
            logo_url,
            accent_color,
            cookie_name,
            cookie_domain,
            allowed_redirect_hosts,
        })
    }

    /// Whether a sign-in may send the browser to `host` (lower case).
    pub fn redirect_host_allowed(&self, host: &str) -> bool {
        self.allowed_redirect_hosts.iter().any(|p| p.matches(host))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<PagesConfig, ConfigError> {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        PagesConfig::from_vars(
            Vars::new(&vars),
            "https://chat.example.com",
            "https://auth.example.com",
        )
    }

    #[test]
    fn defaults_allow_the_two_domains_only() {
        let c = read(&[]).unwrap();
        assert_eq!(c.prefix, "/ui");
        assert_eq!(c.cookie_name, "bouncer_session");
        assert!(c.redirect_host_allowed("chat.example.com"));
        assert!(c.redirect_host_allowed("auth.example.com"));
        assert!(!c.redirect_host_allowed("example.com"));
        assert!(!c.redirect_host_allowed("evil.chat.example.com"));
        assert!(!c.redirect_host_allowed("chat.example.com.evil.io"));
    }

    #[test]
    fn the_cookie_domain_allows_its_subdomains() {
        let c = read(&[("SESSION_COOKIE_DOMAIN", ".Example.com")]).unwrap();
        assert_eq!(c.cookie_domain.as_deref(), Some("example.com"));
        assert!(c.redirect_host_allowed("wiki.example.com"));
        assert!(c.redirect_host_allowed("example.com"));
        assert!(!c.redirect_host_allowed("badexample.com"));
        assert!(read(&[("SESSION_COOKIE_DOMAIN", "other.org")]).is_err());
        assert!(read(&[("SESSION_COOKIE_DOMAIN", "com")]).is_err());
    }

    #[test]
    fn explicit_hosts_replace_the_defaults() {
        let c = read(&[(
            "ALLOWED_REDIRECT_HOSTS",
            "apps.internal, .tools.example.com",
        )])
        .unwrap();
        assert!(c.redirect_host_allowed("apps.internal"));
        assert!(c.redirect_host_allowed("a.tools.example.com"));
        assert!(!c.redirect_host_allowed("chat.example.com"));
        for bad in ["http://x.io", "x.io/path", "*.x.io", "a b", "."] {
            assert!(read(&[("ALLOWED_REDIRECT_HOSTS", bad)]).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_bad_prefixes_colours_logos_and_cookie_names() {
        assert_eq!(
            read(&[("PAGES_PREFIX", "/portal/")]).unwrap().prefix,
            "/portal"
        );
        for bad in [
            "ui", "/", "/api", "/api/ui", "/oauth", "/a//b", "/a/../b", "/a b",
        ] {
            assert!(read(&[("PAGES_PREFIX", bad)]).is_err(), "{bad}");
        }
        assert!(read(&[("PAGES_ACCENT_COLOR", "#0f0")]).is_ok());
        for bad in ["red", "#12345", "#ggg", "#000;}body{x"] {
            assert!(read(&[("PAGES_ACCENT_COLOR", bad)]).is_err(), "{bad}");
        }
        assert!(read(&[("PAGES_LOGO_URL", "https://cdn.example.com/l.svg")]).is_ok());
        assert!(read(&[("PAGES_LOGO_URL", "/static/logo.png")]).is_ok());
        for bad in [
            "http://x.io/l.png",
            "//evil/l.png",
            "javascript:alert(1)",
            "/a b",
        ] {
            assert!(read(&[("PAGES_LOGO_URL", bad)]).is_err(), "{bad}");
        }
        for bad in ["a b", "a;b", "a=b", "ü"] {
            assert!(read(&[("SESSION_COOKIE_NAME", bad)]).is_err(), "{bad}");
        }
    }
}
