//! The chat gateway's settings: the upstream chat backend to proxy to, which paths need no
//! login, which are chat messages (moderated), and which may come from non-browser clients.

use std::collections::HashMap;

use super::values::duration_ms;
use super::ConfigError;

/// LibreChat's chat routes and OpenAI's generation routes.
pub const DEFAULT_MESSAGE_ROUTES: &str =
    "/api/agents/chat*,/api/ask/*,/api/edit/*,/v1/chat/completions,/v1/completions,/v1/responses";

/// API clients (an OpenAI SDK with a Bouncer token) are not browsers, and need not be.
pub const DEFAULT_NON_BROWSER_EXEMPT: &str = "/v1/*";

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// `UPSTREAM_URL`: every request that is not Bouncer's own goes there, when set.
    pub upstream: Option<String>,
    /// `UPSTREAM_TIMEOUT`: how long the upstream may take to start answering.
    pub upstream_timeout_ms: i64,
    pub public_paths: Vec<PathPattern>,
    pub message_routes: Vec<PathPattern>,
    pub non_browser_exempt: Vec<PathPattern>,
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

/// The path as a backend that decodes `%XX`, merges slashes and resolves `.` and `..` would
/// route it, so `/api//ask/x`, `/api/./ask/x` or `/public/../api/x` cannot slip past a
/// pattern. Percent-decoding is byte-wise; invalid UTF-8 is replaced.
pub fn normalized(path: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = format!("/{}", segments.join("/"));
    if decoded.ends_with('/') && out.len() > 1 {
        out.push('/');
    }
    out
}

fn patterns(variable: &str, raw: &str) -> Result<Vec<PathPattern>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p.starts_with('/') && !p[..p.len() - 1].contains('*') {
                Ok(PathPattern::parse(p))
            } else {
                Err(ConfigError::invalid(
                    variable,
                    p,
                    "paths starting with /, comma-separated, each optionally ending with * (a prefix)",
                ))
            }
        })
        .collect()
}

impl GatewayConfig {
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let upstream = match get("UPSTREAM_URL") {
            Some(raw) => match url::Url::parse(raw) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                    Some(raw.trim_end_matches('/').to_string())
                }
                _ => {
                    return Err(ConfigError::invalid(
                        "UPSTREAM_URL",
                        raw,
                        "the chat backend's base URL, e.g. http://127.0.0.1:3081",
                    ))
                }
            },
            None => None,
        };
        Ok(Self {
            upstream,
            upstream_timeout_ms: duration_ms("UPSTREAM_TIMEOUT", get("UPSTREAM_TIMEOUT"), 120_000)?,
            public_paths: patterns("PUBLIC_PATHS", get("PUBLIC_PATHS").unwrap_or(""))?,
            // Compared with the lower-cased, normalized path (see `normalized`).
            message_routes: patterns(
                "MESSAGE_ROUTES",
                &get("MESSAGE_ROUTES")
                    .unwrap_or(DEFAULT_MESSAGE_ROUTES)
                    .to_lowercase(),
            )?,
            non_browser_exempt: patterns(
                "NON_BROWSER_EXEMPT_ROUTES",
                &get("NON_BROWSER_EXEMPT_ROUTES")
                    .unwrap_or(DEFAULT_NON_BROWSER_EXEMPT)
                    .to_lowercase(),
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_defeats_path_tricks() {
        assert_eq!(normalized("/api//ask/./openAI"), "/api/ask/openAI");
        assert_eq!(normalized("/public/../api/convos"), "/api/convos");
        assert_eq!(normalized("/public/%2e%2e/api/convos"), "/api/convos");
        assert_eq!(normalized("/assets/"), "/assets/");
        assert_eq!(normalized("/../../etc"), "/etc");
        assert_eq!(normalized("/"), "/");
    }

    #[test]
    fn patterns_and_defaults() {
        let c = GatewayConfig::from_vars(&HashMap::new()).unwrap();
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
        let c = GatewayConfig::from_vars(&vars).unwrap();
        assert!(any_matches(&c.public_paths, "/assets/app.js"));
        assert!(!any_matches(&c.public_paths, "/favicon.ico.map"));
        for (var, value) in [
            ("PUBLIC_PATHS", "assets"),
            ("MESSAGE_ROUTES", "/a*b"),
            ("UPSTREAM_URL", "localhost:3081"),
            ("UPSTREAM_TIMEOUT", "long"),
        ] {
            let vars = HashMap::from([(var.to_string(), value.to_string())]);
            let err = GatewayConfig::from_vars(&vars).unwrap_err().to_string();
            assert!(err.contains(var), "{err}");
        }
    }
}
