//! The chat gateway's settings: the upstream chat backend to proxy to, which paths need no
//! login, which are chat messages (moderated), and which may come from non-browser clients.

use super::values::{variables, Variable, Vars};
use super::ConfigError;

variables! {
    UPSTREAM_URL: "unset", "The chat backend; unset: no proxy (other paths answer 404).";
    UPSTREAM_TIMEOUT: "`1000 * 60 * 2`", "Time the upstream has to start answering (ms).";
    PUBLIC_PATHS: "empty", "Comma-separated paths that need no login; a trailing `*` makes a prefix.";
    MESSAGE_ROUTES: "LibreChat's and OpenAI's chat routes", "`POST` paths that are chat messages (same syntax; `*` as a segment is any one segment, `!` excludes).";
    NON_BROWSER_EXEMPT_ROUTES: "`/v1/*`", "Message routes where non-browser clients are expected.";
    FORWARD_AUTH_HEADERS: "`forwarded`", "Header family forward-auth reads: `forwarded` or `original`.";
    ACCESS_RULES: "empty (any signed-in user)", "Which roles may pass, per host and path: `host[/path[*]]=ROLE|ROLE;...`, first match wins.";
}

/// LibreChat v0.8.8's chat routes (its agents' chat, resume and steer routes, not the abort;
/// the assistants' chat of both versions) and OpenAI's generation routes.
pub const DEFAULT_MESSAGE_ROUTES: &str = "/api/agents/chat,/api/agents/chat/*,\
     !/api/agents/chat/abort,/api/assistants/v1/chat,/api/assistants/v2/chat,\
     /v1/chat/completions,/v1/completions,/v1/responses";

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
    pub public_paths: Routes,
    pub message_routes: Routes,
    pub non_browser_exempt: Routes,
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
                    if p.bytes().all(|b| b.is_ascii_graphic()) && !p.contains(['?', '#', '\\']) =>
                {
                    Some(PathPattern::parse(p).ok_or_else(|| invalid(rule))?)
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

/// A path pattern: a path; a prefix when it ends with `*`; and a segment written `*` stands for
/// any one non-empty segment (`/api/share/*/fork`, as Express's `/:shareId/fork`). Paths are
/// compared as Express routes them: one trailing slash makes no difference to an exact
/// pattern (`/api/convos/fork/` is `/api/convos/fork` to LibreChat, so to its limiter too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    text: String,
    prefix: bool,
    /// Whether some segment is `*` (else the plain string comparison is enough).
    wildcard: bool,
}

impl PathPattern {
    /// Reads a pattern; `None` when a `*` stands anywhere but at the end or as a whole segment.
    pub fn parse(raw: &str) -> Option<Self> {
        let (text, prefix) = match raw.strip_suffix('*') {
            Some(text) => (text, true),
            // `/a/` is `/a` to Express: one route, with or without its slash.
            None => match raw.strip_suffix('/') {
                Some(text) if !text.is_empty() => (text, false),
                _ => (raw, false),
            },
        };
        let mut wildcard = false;
        for segment in text.split('/') {
            if segment == "*" {
                wildcard = true;
            } else if segment.contains('*') {
                return None;
            }
        }
        Some(Self {
            text: text.to_string(),
            prefix,
            wildcard,
        })
    }

    pub fn matches(&self, path: &str) -> bool {
        if !self.wildcard {
            return if self.prefix {
                path.starts_with(&self.text)
            } else {
                path == self.text || path.strip_suffix('/') == Some(&self.text)
            };
        }
        let mut wanted = self.text.split('/');
        let trimmed = match path.strip_suffix('/') {
            Some(p) if !self.prefix && !p.is_empty() => p,
            _ => path,
        };
        let mut given = trimmed.split('/');
        let mut last = wanted.next();
        while let Some(want) = last {
            last = wanted.next();
            let Some(seg) = given.next() else {
                return false;
            };
            let fits = match want {
                "*" => !seg.is_empty(),
                w if self.prefix && last.is_none() => seg.starts_with(w),
                w => seg == w,
            };
            if !fits {
                return false;
            }
        }
        self.prefix || given.next().is_none()
    }
}

/// A list of path patterns, where a pattern written with a leading `!` takes paths out again:
/// `/api/agents/chat/*,!/api/agents/chat/abort` is every chat route but the abort.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes {
    include: Vec<PathPattern>,
    exclude: Vec<PathPattern>,
}

impl Routes {
    pub fn matches(&self, path: &str) -> bool {
        self.include.iter().any(|p| p.matches(path))
            && !self.exclude.iter().any(|p| p.matches(path))
    }

    pub fn is_empty(&self) -> bool {
        self.include.is_empty()
    }
}

pub fn any_matches(routes: &Routes, path: &str) -> bool {
    routes.matches(path)
}

/// Reads a comma-separated route list (see `Routes`).
pub fn routes(variable: &'static Variable, raw: &str) -> Result<Routes, ConfigError> {
    let mut routes = Routes::default();
    for item in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (list, text) = match item.strip_prefix('!') {
            Some(rest) => (&mut routes.exclude, rest.trim()),
            None => (&mut routes.include, item),
        };
        let pattern = Some(text)
            .filter(|t| t.starts_with('/') && !t.contains(['?', '#', '\\', ' ']))
            .and_then(PathPattern::parse)
            .ok_or_else(|| {
                ConfigError::invalid(
                    variable.name,
                    item,
                    "paths starting with /, comma-separated; a trailing * makes a prefix, a \
                     segment * stands for any one segment, and a leading ! takes paths out",
                )
            })?;
        list.push(pattern);
    }
    Ok(routes)
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
            public_paths: routes(&PUBLIC_PATHS, vars.get(&PUBLIC_PATHS).unwrap_or(""))?,
            // Compared with the lower-cased, normalized path (see `normalized`).
            message_routes: routes(
                &MESSAGE_ROUTES,
                &vars
                    .get(&MESSAGE_ROUTES)
                    .unwrap_or(DEFAULT_MESSAGE_ROUTES)
                    .to_lowercase(),
            )?,
            non_browser_exempt: routes(
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
    fn segment_wildcards_match_one_segment_and_prefixes_keep_their_meaning() {
        let p = |raw: &str| PathPattern::parse(raw).unwrap();
        let fork = p("/api/share/*/fork");
        assert!(fork.matches("/api/share/abc/fork"));
        assert!(fork.matches("/api/share/abc/fork/"));
        for no in [
            "/api/share//fork",
            "/api/share/fork",
            "/api/share/a/b/fork",
            "/api/share/abc/fork/x",
            "/api/share/abc/forks",
        ] {
            assert!(!fork.matches(no), "{no}");
        }
        let tools = p("/api/agents/tools/*/call*");
        assert!(tools.matches("/api/agents/tools/web_search/call"));
        assert!(tools.matches("/api/agents/tools/web_search/calls"));
        assert!(!tools.matches("/api/agents/tools/call"));
        let prefix = p("/v1/*");
        assert!(prefix.matches("/v1/models") && prefix.matches("/v1/"));
        assert!(!prefix.matches("/v1") && !prefix.matches("/v10/x"));
        let exact = p("/favicon.ico");
        assert!(exact.matches("/favicon.ico") && exact.matches("/favicon.ico/"));
        assert!(!exact.matches("/favicon.ico//") && !exact.matches("/favicon.icox"));
        assert!(p("/").matches("/") && !p("/").matches("/a"));
        let slashed = p("/api/convos/fork/");
        assert!(slashed.matches("/api/convos/fork") && slashed.matches("/api/convos/fork/"));
        for bad in ["/a*b/c", "/a/b*c/*", "/a/**/b"] {
            assert!(PathPattern::parse(bad).is_none(), "{bad}");
        }
        let vars = HashMap::from([(
            "MESSAGE_ROUTES".to_string(),
            "/chat/*, ! /chat/abort ,!/chat/*/abort".to_string(),
        )]);
        let c = GatewayConfig::from_vars(Vars::new(&vars)).unwrap();
        assert!(c.message_routes.matches("/chat/x"));
        assert!(!c.message_routes.matches("/chat/abort"));
        assert!(!c.message_routes.matches("/chat/x/abort"));
        assert!(c.message_routes.matches("/chat/x/abort/y"));
    }

    #[test]
    fn patterns_and_defaults() {
        let c = GatewayConfig::from_vars(Vars::new(&HashMap::new())).unwrap();
        assert!(c.upstream.is_none());
        assert_eq!(c.upstream_timeout_ms, 120_000);
        for chat in [
            "/api/agents/chat",
            "/api/agents/chat/",
            "/api/agents/chat/agents",
            "/api/agents/chat/resume",
            "/api/agents/chat/steer/cancel",
            "/api/assistants/v1/chat",
            "/api/assistants/v2/chat/",
            "/v1/chat/completions",
            "/v1/chat/completions/",
        ] {
            assert!(any_matches(&c.message_routes, chat), "{chat}");
        }
        // v0.8.8 has no /api/ask or /api/edit; an abort is no message (it must pass when
        // every concurrency slot is taken).
        for other in [
            "/api/convos",
            "/v1/models",
            "/v1/chat/completions/x",
            "/api/ask/openai",
            "/api/edit/openai",
            "/api/agents/chat/abort",
            "/api/agents/chat/abort/",
            "/api/assistants/v2/chat/abort",
            "/api/agents/chatx",
        ] {
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
            ("MESSAGE_ROUTES", "/a/*b/c"),
            ("MESSAGE_ROUTES", "!"),
            ("MESSAGE_ROUTES", "/a?b"),
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
