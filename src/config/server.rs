//! How the HTTP server treats connections: how long a client may take to send a request head,
//! how long an idle keep-alive connection is kept, and how many connections are served at once.

use super::values::{variables, Accepted, Vars};
use super::ConfigError;

variables! {
    HEADER_READ_TIMEOUT: "`10000`", "Milliseconds a client has to send a whole request head.";
    KEEP_ALIVE_TIMEOUT: "`5000`, or `HEADER_READ_TIMEOUT` if lower", "Milliseconds an idle keep-alive connection is kept; at most `HEADER_READ_TIMEOUT`.";
    MAX_CONNECTIONS: "derived from the open-file limit", "Connections served at once; further ones wait in the accept backlog.";
    SHUTDOWN_TIMEOUT: "`1000 * 30`", "At SIGTERM, how long requests in flight (a chat stream, say) may take to finish before their connections are closed (ms).";
}

/// A client that has not sent its whole request head after this long is cut off (slowloris).
pub const DEFAULT_HEADER_READ_TIMEOUT_MS: i64 = 10_000;

/// Node's `server.keepAliveTimeout`: what LibreChat (an Express server) has always had, so the
/// proxies deployed in front of it already cope with it; short enough that idle connections
/// of well-behaved clients do not pile up towards `MAX_CONNECTIONS`.
pub const DEFAULT_KEEP_ALIVE_TIMEOUT_MS: i64 = 5_000;

/// Kubernetes' default termination grace period: requests in flight get it to finish, then
/// the rest of the shutdown (mail, audit log) has its own few seconds.
pub const DEFAULT_SHUTDOWN_TIMEOUT_MS: i64 = 30_000;

/// Largest `MAX_CONNECTIONS`, set or derived; above any descriptor limit a server is given.
pub const MAX_CONNECTIONS_LIMIT: usize = 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// `HEADER_READ_TIMEOUT`: time from the start of waiting for a request (a new connection,
    /// or one that just answered) until its whole head has arrived.
    pub header_read_timeout_ms: i64,
    /// `KEEP_ALIVE_TIMEOUT`: a connection with no request in flight is closed after this long.
    pub keep_alive_timeout_ms: i64,
    /// `MAX_CONNECTIONS`: connections served at once; `None` derives it at start from the
    /// process's descriptor limit.
    pub max_connections: Option<usize>,
    /// `SHUTDOWN_TIMEOUT`: at SIGTERM, requests in flight finish within this, or their
    /// connections are closed.
    pub shutdown_timeout_ms: i64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            header_read_timeout_ms: DEFAULT_HEADER_READ_TIMEOUT_MS,
            keep_alive_timeout_ms: DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
            max_connections: None,
            shutdown_timeout_ms: DEFAULT_SHUTDOWN_TIMEOUT_MS,
        }
    }
}

impl ServerConfig {
    pub fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        let header_read_timeout_ms =
            vars.duration(&HEADER_READ_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT_MS)?;
        let keep_alive_timeout_ms = vars.duration(
            &KEEP_ALIVE_TIMEOUT,
            DEFAULT_KEEP_ALIVE_TIMEOUT_MS.min(header_read_timeout_ms),
        )?;
        // hyper's head timer starts as soon as a connection waits for its next request, so an
        // idle connection is closed after HEADER_READ_TIMEOUT whatever this says: refuse a
        // setting that could not be honoured rather than ignore it.
        if keep_alive_timeout_ms > header_read_timeout_ms {
            return Err(ConfigError::invalid(
                KEEP_ALIVE_TIMEOUT.name,
                vars.get(&KEEP_ALIVE_TIMEOUT).unwrap_or_default(),
                &format!(
                    "at most HEADER_READ_TIMEOUT ({header_read_timeout_ms} ms), which also \
                     bounds how long an idle connection waits for its next request"
                ),
            ));
        }
        let max_connections = vars.optional_number(
            &MAX_CONNECTIONS,
            Accepted::from(1..=MAX_CONNECTIONS_LIMIT)
                .note(", or unset to derive it from the descriptor limit"),
        )?;
        Ok(Self {
            header_read_timeout_ms,
            keep_alive_timeout_ms,
            max_connections,
            shutdown_timeout_ms: vars.duration(&SHUTDOWN_TIMEOUT, DEFAULT_SHUTDOWN_TIMEOUT_MS)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<ServerConfig, ConfigError> {
        let vars = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ServerConfig::from_vars(Vars::new(&vars))
    }

    #[test]
    fn defaults() {
        assert_eq!(with(&[]).unwrap(), ServerConfig::default());
        assert_eq!(
            with(&[("HEADER_READ_TIMEOUT", ""), ("MAX_CONNECTIONS", " ")]).unwrap(),
            ServerConfig::default()
        );
    }

    #[test]
    fn reads_expressions_and_counts() {
        let c = with(&[
            ("HEADER_READ_TIMEOUT", "1000 * 30"),
            ("KEEP_ALIVE_TIMEOUT", "1000 * 20"),
            ("MAX_CONNECTIONS", "20"),
        ])
        .unwrap();
        assert_eq!(c.header_read_timeout_ms, 30_000);
        assert_eq!(c.keep_alive_timeout_ms, 20_000);
        assert_eq!(c.max_connections, Some(20));
    }

    #[test]
    fn a_short_header_timeout_shortens_the_default_keep_alive() {
        let c = with(&[("HEADER_READ_TIMEOUT", "300")]).unwrap();
        assert_eq!(c.keep_alive_timeout_ms, 300);
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        // The variables set, the variable the error names, and what it says is expected.
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case] = &[
            (
                &[("HEADER_READ_TIMEOUT", "ten seconds")],
                "HEADER_READ_TIMEOUT",
                "integer expression",
            ),
            (
                &[("HEADER_READ_TIMEOUT", "0")],
                "HEADER_READ_TIMEOUT",
                "positive",
            ),
            (
                &[("KEEP_ALIVE_TIMEOUT", "-5")],
                "KEEP_ALIVE_TIMEOUT",
                "positive",
            ),
            (
                &[
                    ("HEADER_READ_TIMEOUT", "1000"),
                    ("KEEP_ALIVE_TIMEOUT", "5000"),
                ],
                "KEEP_ALIVE_TIMEOUT",
                "at most HEADER_READ_TIMEOUT (1000 ms)",
            ),
            (
                &[("MAX_CONNECTIONS", "0")],
                "MAX_CONNECTIONS",
                "whole number",
            ),
            (
                &[("MAX_CONNECTIONS", "lots")],
                "MAX_CONNECTIONS",
                "whole number",
            ),
            (
                &[("MAX_CONNECTIONS", "2000000")],
                "MAX_CONNECTIONS",
                "whole number",
            ),
        ];
        for (pairs, variable, expected) in cases {
            let message = with(pairs).unwrap_err().to_string();
            assert!(message.contains(variable), "{message}");
            assert!(message.contains(expected), "{message}");
        }
    }
}
