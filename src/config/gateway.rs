//! The chat gateway's settings: the upstream chat backend to proxy to, which paths need no
//! login, which are chat messages (moderated), and which may come from non-browser clients.

use super::values::{variables, Variable, Vars};
use super::ConfigError;

variables! {
    UPSTREAM_URL: "unset", "The chat backend; unset: no proxy (other paths answer 404).";
    UPSTREAM_TIMEOUT: "`1000 * 60 * 2`", "Time the upstream has to start answering (ms).";
    PUBLIC_PATHS: "empty", "Comma-separated paths that need no login; a trailing `*` makes a prefix.";
    MESSAGE_ROUTES: "LibreChat's and OpenAI's chat routes", "`POST` paths that are chat messages (same syntax).";
    NON_BROWSER_EXEMPT_ROUTES: "`/v1/*`", "Message routes where non-browser clients are expected.";
    FORWARD_AUTH_HEADERS: "`forwarded`", "Header family forward-auth reads: `forwarded` or `original`.";
    ACCESS_RULES: "empty (any signed-in user)", "Which roles may pass, per host and path: `host[/path[*]]=ROLE|ROLE;...`, first match wins.";
}

/// LibreChat's chat routes and OpenAI's generation routes.
pub const DEFAULT_MESSAGE_ROUTES: &str =
    "/api/agents/chat*,/api/ask/*,/api/edit/*,/v1/chat/completions,/v1/completions,/v1/responses";

/// API clients (an OpenAI SDK with a Bouncer token) are not browsers, and need not be.
pub const DEFAULT_NON_BROWSER_EXEMPT: &str = "/v1/*";

/// Which headers name the original request at forward-auth: exactly one family is read, the
/// one the operator's proxy sets (and overwrites); the other is ignored, so a client cannot add
/// it and be believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardAuthHeaders {
    /// `X-Forwarded-Method` / `X-Forwarded-Uri`: Traefik and Caddy set these themselves.
    Forwarded,
    /// `X-Original-Method` / `X-Original-URI`: nginx's customary `proxy_set_header` names.
    Original,
}

impl ForwardAuthHeaders {
    pub fn method_header(self) -> &'static str {
        match self {
            Self::Forwarded => "X-Forwarded-Method",
            Self::Original => "X-Original-Method",
        }
    }

    pub fn uri_header(self) -> &'static str {
        match self {
            Self::Forwarded => "X-Forwarded-Uri",
            Self::Original => "X-Original-URI",
        }
    }
}

/// The upstream's origin and base path, parsed once.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// As configured, without a trailing slash (for logs).
    pub url: String,
    pub scheme: axum::http::uri::Scheme,
    pub authority: axum::http::uri::Authority,
    /// A path prefix every forwarded path is put under; empty for none.
    pub base_path: String,
}

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// `UPSTREAM_URL`: every request that is not Bouncer's own goes there, when set.
    pub upstream: Option<Upstream>,
    /// `UPSTREAM_TIMEOUT`: how long the upstream may take to start answering.
    pub upstream_timeout_ms: i64,
    pub public_paths: Vec<PathPattern>,
    pub message_routes: Vec<PathPattern>,
    pub non_browser_exempt: Vec<PathPattern>,
    /// `FORWARD_AUTH_HEADERS`: the header family forward-auth reads.
    pub forward_auth_headers: ForwardAuthHeaders,
    /// `ACCESS_RULES`: which roles may pass where; empty lets any signed-in user through.
    pub access_rules: Vec<AccessRule>,
}

/// Which hosts an access rule is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleHost {
    /// `*`: every host.
    Any,
    /// One host, lower case, without a port.
    Named(String),
}

/// One `ACCESS_RULES` entry: the roles that may reach a host (and path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    pub host: RuleHost,
    /// Lower case (compared with the lower-cased path); `None`: every path of the host.
    pub path: Option<PathPattern>,
    /// As written; compared without regard to case.
    pub roles: Vec<String>,
}

impl AccessRule {
    /// Whether the rule is about this request. `host` is `None` where the host is not
    /// compared (the reverse proxy); `path` is lower case.
    pub fn applies(&self, host: Option<&str>, path: &str) -> bool {
        let host_ok = match (&self.host, host) {
            (RuleHost::Any, _) | (_, None) => true,
            (RuleHost::Named(h), Some(host)) => h == host,
        };
        host_ok && self.path.as_ref().is_none_or(|p| p.matches(path))
    }

    pub fn allows(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r.eq_ignore_ascii_case(role))
    }
}

/// `ACCESS_RULES`: `host[/path[*]]=ROLE|ROLE`, separated by `;`.
fn access_rules(raw: &str) -> Result<Vec<AccessRule>, ConfigError> {
    const EXPECTED: &str = "rules separated by ;, each host[/path[*]]=ROLE|ROLE (host: a name \
                            without port, or * for every host; the path starts with / and may end \
                            with * for a prefix; roles: letters, digits, _ and -)";
    let invalid = |rule: &str| ConfigError::invalid(ACCESS_RULES.name, rule, EXPECTED);
    raw.split(';')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|rule| {
            let (target, roles) = rule.split_once('=').ok_or_else(|| invalid(rule))?;
            let target = target.trim().to_ascii_lowercase();
            let (host, path) = match target.find('/') {
                Some(i) => (&target[..i], Some(&target[i..])),
                None => (target.as_str(), None),
            };
            let host = if host == "*" {
                RuleHost::Any
            } else if !host.is_empty()
                && host.len() <= 253
                && host.split('.').all(|label| {
                    !label.is_empty()
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
            {
                RuleHost::Named(host.to_string())
            } else {
                return Err(invalid(rule));
            };
            let path = match path {
                None => None,
                Some(p)
                    if !p[..p.len() - 1].contains('*')
                        && p.bytes().all(|b| b.is_ascii_graphic())
                        && !p.contains(['?', '#', '\\']) =>
                {
                    Some(PathPattern::parse(p))
                }
                Some(_) => return Err(invalid(rule)),
            };
            let roles: Vec<String> = roles.split('|').map(|r| r.trim().to_string()).collect();
            let role_ok = |r: &String| {
                !r.is_empty()
                    && r.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            };
            if !roles.iter().all(role_ok) {
                return Err(invalid(rule));
            }
            Ok(AccessRule { host, path, roles })
        })
        .collect()
}

/// A path, or a prefix when it ends with `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    text: String,
    prefix: bool,
}

impl PathPattern {
    pub fn parse(raw: &str) -> Self {
        match raw.strip_suffix('*') {
            Some(prefix) => Self {
                text: prefix.to_string(),
                prefix: true,
            },
            None => Self {
                text: raw.to_string(),
                prefix: false,
            },
        }
    }

    pub fn matches(&self, path: &str) -> bool {
        if self.prefix {
            path.starts_with(&self.text)
        } else {
            path == self.text
        }
    }
}

pub fn any_matches(patterns: &[PathPattern], path: &str) -> bool {
    patterns.iter().any(|p| p.matches(path))
}

fn patterns(variable: &'static Variable, raw: &str) -> Result<Vec<PathPattern>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p.starts_with('/') && !p[..p.len() - 1].contains('*') {
                Ok(PathPattern::parse(p))
            } else {
                Err(ConfigError::invalid(
                    variable.name,
                    p,
                    "paths starting with /, comma-separated, each optionally ending with * (a prefix)",
                ))
            }
        })
        .collect()
}

impl GatewayConfig {
    pub fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        let upstream = vars.get(&UPSTREAM_URL).map(upstream).transpose()?;
        let forward_auth_headers = match vars.get(&FORWARD_AUTH_HEADERS) {
            None => ForwardAuthHeaders::Forwarded,
            Some(v) if v.eq_ignore_ascii_case("forwarded") => ForwardAuthHeaders::Forwarded,
            Some(v) if v.eq_ignore_ascii_case("original") => ForwardAuthHeaders::Original,
            Some(v) => {
                return Err(ConfigError::invalid(
                    FORWARD_AUTH_HEADERS.name,
                    v,
                    "`forwarded` (X-Forwarded-Method / X-Forwarded-Uri: Traefik, Caddy) or \
                     `original` (X-Original-Method / X-Original-URI: nginx)",
                ))
            }
        };
        Ok(Self {
            upstream,
            upstream_timeout_ms: vars.duration(&UPSTREAM_TIMEOUT, 120_000)?,
            public_paths: patterns(&PUBLIC_PATHS, vars.get(&PUBLIC_PATHS).unwrap_or(""))?,
            // Compared with the lower-cased, normalized path (see `normalized`).
            message_routes: patterns(
                &MESSAGE_ROUTES,
                &vars
                    .get(&MESSAGE_ROUTES)
                    .unwrap_or(DEFAULT_MESSAGE_ROUTES)
                    .to_lowercase(),
            )?,
            non_browser_exempt: patterns(
                &NON_BROWSER_EXEMPT_ROUTES,
                &vars
                    .get(&NON_BROWSER_EXEMPT_ROUTES)
                    .unwrap_or(DEFAULT_NON_BROWSER_EXEMPT)
                    .to_lowercase(),
            )?,
            forward_auth_headers,
            access_rules: access_rules(vars.get(&ACCESS_RULES).unwrap_or(""))?,
        })
    }
}

fn upstream(raw: &str) -> Result<Upstream, ConfigError> {
    let invalid = || {
        ConfigError::invalid(
            UPSTREAM_URL.name,
            raw,
            "the chat backend's base URL, e.g. http://127.0.0.1:3081 (an optional path, no query)",
        )
    };
    let url = url::Url::parse(raw).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err(invalid());
    }
    let uri: axum::http::Uri = raw.parse().map_err(|_| invalid())?;
    let (Some(scheme), Some(authority)) = (uri.scheme().cloned(), uri.authority().cloned()) else {
        return Err(invalid());
    };
    // The prefix is forwarded as it is, so it must already be canonical.
    let path = uri.path();
    let canonical = crate::request_target::parse(path).map_err(|_| invalid())?;
    if canonical.path() != path && canonical.path() != format!("{path}/") {
        return Err(invalid());
    }
    Ok(Upstream {
        url: raw.trim_end_matches('/').to_string(),
        scheme,
        authority,
        base_path: path.trim_end_matches('/').to_string(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn upstream_urls_and_header_families() {
        let parsed = |raw: &str| {
            let vars = HashMap::from([("UPSTREAM_URL".to_string(), raw.to_string())]);
            GatewayConfig::from_vars(Vars::new(&vars)).map(|c| c.upstream.unwrap())
        };
        let u = parsed("http://127.0.0.1:3081/").unwrap();
        assert_eq!(
            (u.authority.as_str(), u.base_path.as_str()),
            ("127.0.0.1:3081", "")
        );
        assert_eq!(
            parsed("https://chat.internal/base/").unwrap().base_path,
            "/base"
        );
        for bad in [
            "http://h/a?b",
            "http://h/a/../b",
            "http://u:p@h",
            "ftp://h",
            "http://h/a%2fb",
        ] {
            assert!(parsed(bad).is_err(), "{bad}");
        }
        let family = |v: &str| {
            let vars = HashMap::from([("FORWARD_AUTH_HEADERS".to_string(), v.to_string())]);
            GatewayConfig::from_vars(Vars::new(&vars)).map(|c| c.forward_auth_headers)
        };
        assert_eq!(family("original").unwrap(), ForwardAuthHeaders::Original);
        assert_eq!(family("Forwarded").unwrap(), ForwardAuthHeaders::Forwarded);
        let err = family("both").unwrap_err().to_string();
        assert!(
            err.contains("FORWARD_AUTH_HEADERS") && err.contains("both"),
            "{err}"
        );
        assert_eq!(
            GatewayConfig::from_vars(Vars::new(&HashMap::new()))
                .unwrap()
                .forward_auth_headers,
            ForwardAuthHeaders::Forwarded
        );
    }

    #[test]
    fn access_rules_parse_strictly_and_the_first_match_wins() {
        let rules = |raw: &str| {
            let vars = HashMap::from([("ACCESS_RULES".to_string(), raw.to_string())]);
            GatewayConfig::from_vars(Vars::new(&vars)).map(|c| c.access_rules)
        };
        assert!(rules("").unwrap().is_empty());
        let r = rules(
            " Wiki.Example.com/Admin*=ADMIN ; wiki.example.com = ADMIN|Editor;*/reports=ADMIN;",
        )
        .unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].host, RuleHost::Named("wiki.example.com".into()));
        let first = |host: Option<&str>, path: &str| r.iter().position(|x| x.applies(host, path));
        assert_eq!(first(Some("wiki.example.com"), "/admin/users"), Some(0));
        assert_eq!(first(Some("wiki.example.com"), "/page"), Some(1));
        assert_eq!(first(Some("chat.example.com"), "/reports"), Some(2));
        assert_eq!(first(Some("chat.example.com"), "/reports/1"), None);
        assert_eq!(first(Some("chat.example.com"), "/"), None);
        // Where the host is not compared (the reverse proxy), the path alone decides.
        assert_eq!(first(None, "/page"), Some(1));
        assert!(r[1].allows("editor") && r[1].allows("ADMIN") && !r[1].allows("USER"));
        for bad in [
            "wiki.example.com",
            "wiki.example.com=",
            "=ADMIN",
            "wiki.example.com:8080=ADMIN",
            "https://wiki.example.com=ADMIN",
            "wiki..example.com=ADMIN",
            "*.example.com=ADMIN",
            "wiki.example.com/a*b=ADMIN",
            "wiki.example.com/a?b=ADMIN",
            "wiki.example.com/a b=ADMIN",
            "wiki.example.com=ADMIN||USER",
            "wiki.example.com=ADMIN,USER",
            "wiki.example.com=AD MIN",
        ] {
            let err = rules(bad).unwrap_err().to_string();
            assert!(err.contains("ACCESS_RULES"), "{bad}: {err}");
        }
    }

    #[test]
    fn patterns_and_defaults() {
        let c = GatewayConfig::from_vars(Vars::new(&HashMap::new())).unwrap();
        assert!(c.upstream.is_none());
        assert_eq!(c.upstream_timeout_ms, 120_000);
        for chat in [
            "/api/agents/chat",
            "/api/agents/chat/abc",
            "/api/ask/openAI",
            "/v1/chat/completions",
        ] {
            assert!(any_matches(&c.message_routes, chat), "{chat}");
        }
        for other in ["/api/convos", "/v1/models", "/v1/chat/completions/x"] {
            assert!(!any_matches(&c.message_routes, other), "{other}");
        }
        assert!(any_matches(&c.non_browser_exempt, "/v1/chat/completions"));
        let vars = HashMap::from([(
            "PUBLIC_PATHS".to_string(),
            "/assets/*, /favicon.ico".to_string(),
        )]);
        let c = GatewayConfig::from_vars(Vars::new(&vars)).unwrap();
        assert!(any_matches(&c.public_paths, "/assets/app.js"));
        assert!(!any_matches(&c.public_paths, "/favicon.ico.map"));
        for (var, value) in [
            ("PUBLIC_PATHS", "assets"),
            ("MESSAGE_ROUTES", "/a*b"),
            ("UPSTREAM_URL", "localhost:3081"),
            ("UPSTREAM_TIMEOUT", "long"),
        ] {
            let vars = HashMap::from([(var.to_string(), value.to_string())]);
            let err = GatewayConfig::from_vars(Vars::new(&vars))
                .unwrap_err()
                .to_string();
            assert!(err.contains(var), "{err}");
        }
    }
}
