//! The moderation system's settings: LibreChat's variable names and defaults (spec §1.6), with
//! Bouncer's choices where LibreChat is weak (bans on by default, real proxy trust).

use std::collections::HashMap;

use ipnet::IpNet;

use super::values::{parse_bool, parse_ms_expression, MAX_DURATION_MS};
use super::ConfigError;

/// A fixed-window limiter: at most `max` requests per `window_minutes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimiterSettings {
    pub max: u64,
    pub window_minutes: u64,
}

impl LimiterSettings {
    pub fn window_ms(&self) -> i64 {
        self.window_minutes as i64 * 60_000
    }
}

/// Violation scores by kind (`*_VIOLATION_SCORE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scores {
    pub login: i64,
    pub registration: i64,
    pub reset_password: i64,
    pub reset_password_submission: i64,
    pub verify_email: i64,
    pub verify_email_submission: i64,
    pub two_factor_temp: i64,
    pub message: i64,
    pub concurrent: i64,
    pub non_browser: i64,
}

#[derive(Debug, Clone)]
pub struct ModerationConfig {
    /// Bans on (default) or off; limiters answer 429 either way.
    pub ban_violations: bool,
    /// Ban length; zero or less means "soft" bans: sessions end, nothing is banned.
    pub ban_duration_ms: i64,
    /// A ban fires each time a per-type score crosses a multiple of this.
    pub ban_interval: i64,
    pub scores: Scores,
    pub login: LimiterSettings,
    pub register: LimiterSettings,
    pub reset_password: LimiterSettings,
    pub reset_password_submission: LimiterSettings,
    pub verify_email: LimiterSettings,
    pub verify_email_submission: LimiterSettings,
    pub two_factor_temp: LimiterSettings,
    pub limit_message_ip: bool,
    pub message_ip: LimiterSettings,
    pub limit_message_user: bool,
    pub message_user: LimiterSettings,
    pub limit_concurrent_messages: bool,
    pub concurrent_message_max: u64,
    /// How many proxy hops of `X-Forwarded-For` to believe; 0 ignores the header.
    pub trust_proxy: u32,
    /// Peers allowed to speak `X-Forwarded-For`.
    pub trusted_proxies: Vec<IpNet>,
    /// IPv6 clients are limited and banned by this prefix of their address (1..=128).
    pub ipv6_prefix_length: u8,
}

pub const DEFAULT_TRUSTED_PROXIES: &str =
    "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7";

/// What every serious rate limiter uses for IPv6: the smallest block a subscriber is given.
pub const DEFAULT_IPV6_PREFIX_LENGTH: u8 = 64;

type Vars = HashMap<String, String>;

fn raw<'a>(vars: &'a Vars, name: &str) -> Option<&'a str> {
    vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn whole(vars: &Vars, name: &str, default: u64, min: u64) -> Result<u64, ConfigError> {
    match raw(vars, name) {
        None => Ok(default),
        Some(v) => v.parse::<u64>().ok().filter(|n| *n >= min).ok_or_else(|| {
            ConfigError::invalid(name, v, &format!("a whole number of at least {min}"))
        }),
    }
}

fn score(vars: &Vars, name: &str, default: i64) -> Result<i64, ConfigError> {
    match raw(vars, name) {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ConfigError::invalid(name, v, "a whole number of 0 or more")),
    }
}

fn limiter(
    vars: &Vars,
    prefix: &str,
    default: &LimiterSettings,
) -> Result<LimiterSettings, ConfigError> {
    let window_var = format!("{prefix}_WINDOW");
    let window_minutes = whole(vars, &window_var, default.window_minutes, 1)?;
    // A window ends at now + its length: past a century that sum may overflow.
    if window_minutes > (MAX_DURATION_MS / 60_000) as u64 {
        return Err(ConfigError::invalid(
            &window_var,
            &window_minutes.to_string(),
            "a number of minutes of at most 100 years",
        ));
    }
    Ok(LimiterSettings {
        max: whole(vars, &format!("{prefix}_MAX"), default.max, 1)?,
        window_minutes,
    })
}

fn limits(max: u64, window_minutes: u64) -> LimiterSettings {
    LimiterSettings {
        max,
        window_minutes,
    }
}

impl ModerationConfig {
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let ban_duration_ms = match raw(vars, "BAN_DURATION") {
            None => 1000 * 60 * 60 * 2,
            Some(v) => parse_ms_expression(v)
                .and_then(|ms| {
                    // A ban ends at now + its duration: past a century that sum may overflow.
                    if ms > MAX_DURATION_MS {
                        Err("at most 100 years".to_string())
                    } else {
                        Ok(ms)
                    }
                })
                .map_err(|why| {
                    ConfigError::invalid(
                        "BAN_DURATION",
                        v,
                        &format!("milliseconds as an integer expression such as `1000 * 60 * 60 * 2` ({why})"),
                    )
                })?,
        };
        let ban_interval = match raw(vars, "BAN_INTERVAL") {
            None => 20,
            Some(v) => parse_ms_expression(v)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    ConfigError::invalid("BAN_INTERVAL", v, "a positive whole number")
                })?,
        };
        let login_score = score(vars, "LOGIN_VIOLATION_SCORE", 1)?;
        let reset_score = score(vars, "RESET_PASSWORD_VIOLATION_SCORE", 1)?;
        let verify_score = score(vars, "VERIFY_EMAIL_VIOLATION_SCORE", 1)?;
        let scores = Scores {
            login: login_score,
            registration: score(vars, "REGISTRATION_VIOLATION_SCORE", 1)?,
            reset_password: reset_score,
            reset_password_submission: score(
                vars,
                "RESET_PASSWORD_SUBMISSION_VIOLATION_SCORE",
                reset_score,
            )?,
            verify_email: verify_score,
            verify_email_submission: score(
                vars,
                "VERIFY_EMAIL_SUBMISSION_VIOLATION_SCORE",
                verify_score,
            )?,
            two_factor_temp: score(vars, "TWO_FACTOR_TEMP_VIOLATION_SCORE", login_score)?,
            message: score(vars, "MESSAGE_VIOLATION_SCORE", 1)?,
            concurrent: score(vars, "CONCURRENT_VIOLATION_SCORE", 1)?,
            non_browser: score(vars, "NON_BROWSER_VIOLATION_SCORE", 20)?,
        };
        let login = limiter(vars, "LOGIN", &limits(7, 5))?;
        let reset_password = limiter(vars, "RESET_PASSWORD", &limits(2, 2))?;
        let verify_email = limiter(vars, "VERIFY_EMAIL", &limits(2, 2))?;
        let trusted_proxies = raw(vars, "TRUSTED_PROXIES")
            .unwrap_or(DEFAULT_TRUSTED_PROXIES)
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        ConfigError::invalid(
                            "TRUSTED_PROXIES",
                            s,
                            "a comma-separated list of IP addresses or CIDR ranges such as 10.0.0.0/8",
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ipv6_prefix_length = match raw(vars, "IPV6_PREFIX_LENGTH") {
            None => DEFAULT_IPV6_PREFIX_LENGTH,
            Some(v) => v
                .parse::<u8>()
                .ok()
                .filter(|n| (1..=128).contains(n))
                .ok_or_else(|| {
                    ConfigError::invalid(
                        "IPV6_PREFIX_LENGTH",
                        v,
                        "a prefix length from 1 to 128 (64 keys each IPv6 /64 as one client, 128 each address)",
                    )
                })?,
        };
        Ok(Self {
            ban_violations: parse_bool(vars.get("BAN_VIOLATIONS").map(String::as_str), true),
            ban_duration_ms,
            ban_interval,
            scores,
            two_factor_temp: limiter(vars, "TWO_FACTOR_TEMP", &login)?,
            login,
            register: limiter(vars, "REGISTER", &limits(5, 60))?,
            reset_password_submission: limiter(vars, "RESET_PASSWORD_SUBMISSION", &reset_password)?,
            reset_password,
            verify_email_submission: limiter(vars, "VERIFY_EMAIL_SUBMISSION", &verify_email)?,
            verify_email,
            limit_message_ip: parse_bool(vars.get("LIMIT_MESSAGE_IP").map(String::as_str), false),
            message_ip: limiter(vars, "MESSAGE_IP", &limits(40, 1))?,
            limit_message_user: parse_bool(
                vars.get("LIMIT_MESSAGE_USER").map(String::as_str),
                false,
            ),
            message_user: limiter(vars, "MESSAGE_USER", &limits(40, 1))?,
            limit_concurrent_messages: parse_bool(
                vars.get("LIMIT_CONCURRENT_MESSAGES").map(String::as_str),
                false,
            ),
            concurrent_message_max: whole(vars, "CONCURRENT_MESSAGE_MAX", 2, 1)?,
            trust_proxy: whole(vars, "TRUST_PROXY", 1, 0)? as u32,
            trusted_proxies,
            ipv6_prefix_length,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<ModerationConfig, ConfigError> {
        ModerationConfig::from_vars(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn defaults_follow_librechat_with_bans_on() {
        let c = with(&[]).unwrap();
        assert!(c.ban_violations, "moderation is on by default");
        assert_eq!(c.ban_duration_ms, 7_200_000);
        assert_eq!(c.ban_interval, 20);
        assert_eq!(c.login, limits(7, 5));
        assert_eq!(c.register, limits(5, 60));
        assert_eq!(c.reset_password, limits(2, 2));
        assert_eq!(c.verify_email_submission, limits(2, 2));
        assert_eq!(c.two_factor_temp, limits(7, 5));
        assert_eq!(c.scores.non_browser, 20);
        assert_eq!(c.scores.login, 1);
        assert_eq!(c.trust_proxy, 1);
        assert_eq!(c.trusted_proxies.len(), 6);
        assert_eq!(c.ipv6_prefix_length, 64);
        assert!(!c.limit_message_ip);
    }

    #[test]
    fn inherits_as_librechat_does() {
        let c = with(&[
            ("LOGIN_MAX", "3"),
            ("LOGIN_WINDOW", "10"),
            ("LOGIN_VIOLATION_SCORE", "4"),
            ("RESET_PASSWORD_MAX", "9"),
        ])
        .unwrap();
        assert_eq!(c.two_factor_temp, limits(3, 10));
        assert_eq!(c.scores.two_factor_temp, 4);
        assert_eq!(c.reset_password_submission.max, 9);
    }

    #[test]
    fn reads_expressions_switches_and_proxies() {
        let c = with(&[
            ("BAN_VIOLATIONS", "false"),
            ("BAN_DURATION", "1000 * 60 * 30"),
            ("BAN_INTERVAL", "10"),
            ("TRUST_PROXY", "0"),
            ("TRUSTED_PROXIES", "10.1.0.0/16, 2001:db8::1"),
            ("IPV6_PREFIX_LENGTH", "56"),
        ])
        .unwrap();
        assert_eq!(c.ipv6_prefix_length, 56);
        assert_eq!(
            with(&[("IPV6_PREFIX_LENGTH", "128")])
                .unwrap()
                .ipv6_prefix_length,
            128
        );
        assert!(!c.ban_violations);
        assert_eq!(c.ban_duration_ms, 1_800_000);
        assert_eq!(c.ban_interval, 10);
        assert_eq!(c.trust_proxy, 0);
        assert_eq!(c.trusted_proxies.len(), 2);
        assert_eq!(with(&[("BAN_DURATION", "0")]).unwrap().ban_duration_ms, 0);
    }

    #[test]
    fn refuses_bad_values() {
        for (var, value) in [
            ("LOGIN_MAX", "seven"),
            ("LOGIN_MAX", "0"),
            ("REGISTER_WINDOW", "1.5"),
            ("BAN_INTERVAL", "0"),
            ("BAN_DURATION", "2 hours"),
            ("BAN_DURATION", "9223372036854775807"),
            ("LOGIN_WINDOW", "153722867280912930"),
            ("NON_BROWSER_VIOLATION_SCORE", "-1"),
            ("TRUST_PROXY", "yes"),
            ("TRUSTED_PROXIES", "10.0.0.0/33"),
            ("IPV6_PREFIX_LENGTH", "0"),
            ("IPV6_PREFIX_LENGTH", "129"),
            ("IPV6_PREFIX_LENGTH", "/64"),
        ] {
            let err = with(&[(var, value)]).unwrap_err().to_string();
            assert!(
                err.contains(var) && err.contains(value),
                "{var}={value}: {err}"
            );
        }
    }
}
