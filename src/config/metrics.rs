//! Prometheus metrics at `/metrics`: off unless `METRICS_SECRET` is set (as LibreChat's
//! server, which also requires it), then only with that Bearer secret; optionally on a port
//! of their own, so the scrape never shares the public listener.

use super::secrets::Secret;
use super::values::{variables, Accepted, Vars};
use super::ConfigError;

variables! {
    METRICS_SECRET: "unset (no `/metrics`)", "Bearer token Prometheus sends to scrape `/metrics`, at least 16 characters; setting it turns metrics on.";
    METRICS_PORT: "unset (on `PORT`)", "Serve `/metrics` only on this port (same `HOST`), not on `PORT`.";
}

/// Shortest `METRICS_SECRET`: a guessable token would publish the server's traffic.
pub const MIN_SECRET_LEN: usize = 16;

#[derive(Debug, Clone, Default)]
pub struct MetricsConfig {
    /// `METRICS_SECRET`; `None`: metrics are off, nothing is recorded and `/metrics` does not
    /// exist.
    pub secret: Option<Secret>,
    /// `METRICS_PORT`: `/metrics` is served on a listener of its own, and only there.
    pub port: Option<u16>,
}

impl MetricsConfig {
    pub fn from_vars(vars: Vars, main_port: u16) -> Result<Self, ConfigError> {
        let secret = match vars.get(&METRICS_SECRET) {
            None => None,
            Some(value) if value.len() < MIN_SECRET_LEN => {
                return Err(ConfigError::secret(
                    METRICS_SECRET.name,
                    &format!(
                        "is shorter than {MIN_SECRET_LEN} characters; generate one with \
                         `openssl rand -hex 32`"
                    ),
                ))
            }
            Some(value) => Some(Secret::new(value.to_string())),
        };
        let port = vars.optional_number(
            &METRICS_PORT,
            Accepted::from(1..=u16::MAX).noun("a port number"),
        )?;
        if port.is_some() && port == Some(main_port) {
            return Err(ConfigError::invalid(
                METRICS_PORT.name,
                vars.get(&METRICS_PORT).unwrap_or_default(),
                "a port other than PORT (unset METRICS_PORT to serve /metrics on PORT)",
            ));
        }
        Ok(Self { secret, port })
    }

    pub fn enabled(&self) -> bool {
        self.secret.is_some()
    }

    /// The port of the metrics' own listener: only when metrics are on.
    pub fn own_port(&self) -> Option<u16> {
        self.port.filter(|_| self.enabled())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn with(pairs: &[(&str, &str)], main_port: u16) -> Result<MetricsConfig, ConfigError> {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        MetricsConfig::from_vars(Vars::new(&vars), main_port)
    }

    #[test]
    fn off_by_default_and_when_empty() {
        assert!(!with(&[], 3080).unwrap().enabled());
        assert!(!with(&[("METRICS_SECRET", " ")], 3080).unwrap().enabled());
        // A port alone turns nothing on.
        let c = with(&[("METRICS_PORT", "9464")], 3080).unwrap();
        assert_eq!(c.own_port(), None);
    }

    #[test]
    fn a_short_secret_is_refused_without_showing_it() {
        let e = with(&[("METRICS_SECRET", "short-secret")], 3080).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("METRICS_SECRET is shorter than 16"), "{text}");
        assert!(!text.contains("short-secret"), "{text}");
    }

    #[test]
    fn the_port_must_differ_from_port() {
        let secret = ("METRICS_SECRET", "0123456789abcdef0123");
        let e = with(&[secret, ("METRICS_PORT", "3080")], 3080).unwrap_err();
        assert!(e.to_string().contains("a port other than PORT"), "{e}");
        assert!(with(&[secret, ("METRICS_PORT", "0")], 3080).is_err());
        assert!(with(&[secret, ("METRICS_PORT", "nine")], 3080).is_err());
        let c = with(&[secret, ("METRICS_PORT", "9464")], 3080).unwrap();
        assert_eq!(c.own_port(), Some(9464));
        assert_eq!(c.secret.unwrap().expose(), "0123456789abcdef0123");
    }
}
