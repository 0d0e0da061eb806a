//! The moderation system's settings: LibreChat's variable names and defaults (spec §1.6), with
//! Bouncer's choices where LibreChat is weak (bans on by default, real proxy trust).

use ipnet::IpNet;

use super::values::{variables, Accepted, Variable, Vars, MAX_DURATION_MS};
use super::ConfigError;

variables! {
    BAN_VIOLATIONS: "on when unset", "Automatic bans when a score crosses `BAN_INTERVAL`.";
    BAN_DURATION: "`1000 * 60 * 60 * 2`", "Ban length (ms); 0 or less ends the user's sessions without banning.";
    BAN_INTERVAL: "`20`", "A ban fires each time a per-type score crosses a multiple of this.";
    LOGIN_VIOLATION_SCORE: "`1`", "Score of one login-limiter violation.";
    REGISTRATION_VIOLATION_SCORE: "`1`", "Score of one registration-limiter violation.";
    RESET_PASSWORD_VIOLATION_SCORE: "`1`", "Score of one password-reset-request limiter violation.";
    RESET_PASSWORD_SUBMISSION_VIOLATION_SCORE: "`RESET_PASSWORD_VIOLATION_SCORE`", "Score of one password-reset-submission limiter violation.";
    VERIFY_EMAIL_VIOLATION_SCORE: "`1`", "Score of one verification-email limiter violation.";
    VERIFY_EMAIL_SUBMISSION_VIOLATION_SCORE: "`VERIFY_EMAIL_VIOLATION_SCORE`", "Score of one email-verification-submission limiter violation.";
    TWO_FACTOR_TEMP_VIOLATION_SCORE: "`LOGIN_VIOLATION_SCORE`", "Score of one 2FA-code limiter violation.";
    MESSAGE_VIOLATION_SCORE: "`1`", "Score of one chat-message limiter violation.";
    CONCURRENT_VIOLATION_SCORE: "`1`", "Score of one concurrent-messages violation.";
    NON_BROWSER_VIOLATION_SCORE: "`20`", "Score of a chat request without a browser User-Agent.";
    LOGIN_MAX: "`7`", "Login attempts per IP per window.";
    LOGIN_WINDOW: "`5`", "Login window (minutes).";
    REGISTER_MAX: "`5`", "Registrations per IP per window.";
    REGISTER_WINDOW: "`60`", "Registration window (minutes).";
    RESET_PASSWORD_MAX: "`2`", "Password-reset requests per IP per window.";
    RESET_PASSWORD_WINDOW: "`2`", "Password-reset request window (minutes).";
    RESET_PASSWORD_SUBMISSION_MAX: "`RESET_PASSWORD_MAX`", "Password-reset submissions per IP per window.";
    RESET_PASSWORD_SUBMISSION_WINDOW: "`RESET_PASSWORD_WINDOW`", "Password-reset submission window (minutes).";
    VERIFY_EMAIL_MAX: "`2`", "Verification-email resends per IP per window.";
    VERIFY_EMAIL_WINDOW: "`2`", "Verification-email resend window (minutes).";
    VERIFY_EMAIL_SUBMISSION_MAX: "`VERIFY_EMAIL_MAX`", "Email-verification submissions per IP per window.";
    VERIFY_EMAIL_SUBMISSION_WINDOW: "`VERIFY_EMAIL_WINDOW`", "Email-verification submission window (minutes).";
    TWO_FACTOR_TEMP_MAX: "`LOGIN_MAX`", "2FA code attempts per window, per IP and per account.";
    TWO_FACTOR_TEMP_WINDOW: "`LOGIN_WINDOW`", "2FA attempt window (minutes).";
    OIDC_TOKEN_MAX: "`30`", "OpenID provider token-endpoint requests per client and IP per window.";
    OIDC_TOKEN_WINDOW: "`1`", "Token-endpoint window (minutes).";
    OIDC_TOKEN_VIOLATION_SCORE: "`1`", "Score of one token-endpoint limiter violation.";
    LIMIT_MESSAGE_IP: "`false`", "Limit chat messages per IP (chat gateway).";
    MESSAGE_IP_MAX: "`40`", "Chat messages per IP per window.";
    MESSAGE_IP_WINDOW: "`1`", "Chat-message-per-IP window (minutes).";
    LIMIT_MESSAGE_USER: "`false`", "Limit chat messages per user (chat gateway).";
    MESSAGE_USER_MAX: "`40`", "Chat messages per user per window.";
    MESSAGE_USER_WINDOW: "`1`", "Chat-message-per-user window (minutes).";
    LIMIT_CONCURRENT_MESSAGES: "`false`", "Limit chat requests in flight per user (chat gateway).";
    CONCURRENT_MESSAGE_MAX: "`2`", "Chat requests in flight per user.";
    TRUST_PROXY: "`1`", "Hops of `X-Forwarded-For` to believe; `0` ignores the header.";
    TRUSTED_PROXIES: "loopback and private ranges", "Peers allowed to set `X-Forwarded-For` (IPs or CIDR ranges).";
    IPV6_PREFIX_LENGTH: "`64`", "IPv6 clients are limited and banned by this prefix of their address (1-128).";
    VIOLATION_SCORE_WINDOW: "`1440`", "A score is forgotten this many minutes after its last violation of the type; `0` keeps it forever (LibreChat).";
    MODERATION_MAX_KEYS: "`250000`", "In memory (no Redis): most limiter windows, scores and in-flight counts kept, each; the least recently used go first.";
}

/// A fixed-window limiter: at most `max` requests per window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimiterSettings {
    pub max: u64,
    window_ms: i64,
}

impl LimiterSettings {
    pub fn per_minutes(max: u64, window_minutes: u64) -> Self {
        Self {
            max,
            window_ms: window_minutes as i64 * 60_000,
        }
    }

    /// LibreChat's tool-call limiter counts per second.
    pub fn per_ms(max: u64, window_ms: i64) -> Self {
        Self { max, window_ms }
    }

    pub fn window_ms(&self) -> i64 {
        self.window_ms
    }

    /// The window in whole minutes, as the limiters' messages say it.
    pub fn window_minutes(&self) -> i64 {
        self.window_ms / 60_000
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
    pub oidc_token: i64,
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
    /// The OpenID provider's token endpoint, per client and IP.
    pub oidc_token: LimiterSettings,
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
    /// A violation type's score is forgotten this long after its last violation; 0: never.
    pub violation_window_ms: i64,
    /// The in-memory state keeps at most this many entries per map.
    pub max_keys: usize,
    /// The limiters of LibreChat's other costly routes, in matching order.
    pub routes: Vec<super::route_limits::RouteLimit>,
}

pub const DEFAULT_TRUSTED_PROXIES: &str =
    "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7";

/// What every serious rate limiter uses for IPv6: the smallest block a subscriber is given.
pub const DEFAULT_IPV6_PREFIX_LENGTH: u8 = 64;

/// The longest limiter window: a window ends at now + its length, and past a century that sum
/// may overflow.
const MAX_WINDOW_MINUTES: u64 = (MAX_DURATION_MS / 60_000) as u64;

pub(super) fn score(vars: Vars, var: &'static Variable, default: i64) -> Result<i64, ConfigError> {
    vars.number(var, default, 0..)
}

pub(super) fn limiter(
    vars: Vars,
    max: &'static Variable,
    window: &'static Variable,
    default: &LimiterSettings,
) -> Result<LimiterSettings, ConfigError> {
    let window_minutes = vars.number(
        window,
        default.window_minutes() as u64,
        Accepted::from(1..=MAX_WINDOW_MINUTES)
            .noun("a whole number of minutes")
            .note(" (at most 100 years)"),
    )?;
    Ok(LimiterSettings::per_minutes(
        vars.number(max, default.max, 1..)?,
        window_minutes,
    ))
}

pub(super) fn limits(max: u64, window_minutes: u64) -> LimiterSettings {
    LimiterSettings::per_minutes(max, window_minutes)
}

impl ModerationConfig {
    pub fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        let ban_duration_ms = vars.expression(
            &BAN_DURATION,
            1000 * 60 * 60 * 2,
            // A ban ends at now + its duration: past a century that sum may overflow.
            Accepted::from(i64::MIN..=MAX_DURATION_MS).worded(
                "milliseconds, at most 100 years, as an integer expression such as \
                 `1000 * 60 * 60 * 2`",
            ),
        )?;
        let ban_interval = vars.expression(
            &BAN_INTERVAL,
            20,
            Accepted::from(1..).worded("a positive whole number"),
        )?;
        let login_score = score(vars, &LOGIN_VIOLATION_SCORE, 1)?;
        let reset_score = score(vars, &RESET_PASSWORD_VIOLATION_SCORE, 1)?;
        let verify_score = score(vars, &VERIFY_EMAIL_VIOLATION_SCORE, 1)?;
        let scores = Scores {
            login: login_score,
            registration: score(vars, &REGISTRATION_VIOLATION_SCORE, 1)?,
            reset_password: reset_score,
            reset_password_submission: score(
                vars,
                &RESET_PASSWORD_SUBMISSION_VIOLATION_SCORE,
                reset_score,
            )?,
            verify_email: verify_score,
            verify_email_submission: score(
                vars,
                &VERIFY_EMAIL_SUBMISSION_VIOLATION_SCORE,
                verify_score,
            )?,
            two_factor_temp: score(vars, &TWO_FACTOR_TEMP_VIOLATION_SCORE, login_score)?,
            message: score(vars, &MESSAGE_VIOLATION_SCORE, 1)?,
            concurrent: score(vars, &CONCURRENT_VIOLATION_SCORE, 1)?,
            non_browser: score(vars, &NON_BROWSER_VIOLATION_SCORE, 20)?,
            oidc_token: score(vars, &OIDC_TOKEN_VIOLATION_SCORE, 1)?,
        };
        let login = limiter(vars, &LOGIN_MAX, &LOGIN_WINDOW, &limits(7, 5))?;
        let reset_password = limiter(
            vars,
            &RESET_PASSWORD_MAX,
            &RESET_PASSWORD_WINDOW,
            &limits(2, 2),
        )?;
        let verify_email = limiter(vars, &VERIFY_EMAIL_MAX, &VERIFY_EMAIL_WINDOW, &limits(2, 2))?;
        let trusted_proxies = vars
            .get(&TRUSTED_PROXIES)
            .unwrap_or(DEFAULT_TRUSTED_PROXIES)
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        ConfigError::invalid(
                            TRUSTED_PROXIES.name,
                            s,
                            "a comma-separated list of IP addresses or CIDR ranges such as 10.0.0.0/8",
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ipv6_prefix_length = vars.number(
            &IPV6_PREFIX_LENGTH,
            DEFAULT_IPV6_PREFIX_LENGTH,
            Accepted::from(1..=128)
                .noun("a prefix length")
                .note(" (64 keys each IPv6 /64 as one client, 128 each address)"),
        )?;
        let violation_window_minutes: u64 = vars.number(
            &VIOLATION_SCORE_WINDOW,
            1440,
            Accepted::from(0..=MAX_WINDOW_MINUTES)
                .noun("a whole number of minutes")
                .note(" (0 keeps scores forever; at most 100 years)"),
        )?;
        Ok(Self {
            violation_window_ms: violation_window_minutes as i64 * 60_000,
            max_keys: vars.number(
                &MODERATION_MAX_KEYS,
                250_000,
                Accepted::from(1_000..=100_000_000).noun("a number of entries"),
            )?,
            routes: super::route_limits::from_vars(vars)?,
            ban_violations: vars.flag(&BAN_VIOLATIONS, true),
            ban_duration_ms,
            ban_interval,
            scores,
            two_factor_temp: limiter(vars, &TWO_FACTOR_TEMP_MAX, &TWO_FACTOR_TEMP_WINDOW, &login)?,
            login,
            oidc_token: limiter(vars, &OIDC_TOKEN_MAX, &OIDC_TOKEN_WINDOW, &limits(30, 1))?,
            register: limiter(vars, &REGISTER_MAX, &REGISTER_WINDOW, &limits(5, 60))?,
            reset_password_submission: limiter(
                vars,
                &RESET_PASSWORD_SUBMISSION_MAX,
                &RESET_PASSWORD_SUBMISSION_WINDOW,
                &reset_password,
            )?,
            reset_password,
            verify_email_submission: limiter(
                vars,
                &VERIFY_EMAIL_SUBMISSION_MAX,
                &VERIFY_EMAIL_SUBMISSION_WINDOW,
                &verify_email,
            )?,
            verify_email,
            limit_message_ip: vars.flag(&LIMIT_MESSAGE_IP, false),
            message_ip: limiter(vars, &MESSAGE_IP_MAX, &MESSAGE_IP_WINDOW, &limits(40, 1))?,
            limit_message_user: vars.flag(&LIMIT_MESSAGE_USER, false),
            message_user: limiter(
                vars,
                &MESSAGE_USER_MAX,
                &MESSAGE_USER_WINDOW,
                &limits(40, 1),
            )?,
            limit_concurrent_messages: vars.flag(&LIMIT_CONCURRENT_MESSAGES, false),
            concurrent_message_max: vars.number(&CONCURRENT_MESSAGE_MAX, 2, 1..)?,
            trust_proxy: vars.number(&TRUST_PROXY, 1, 0..=u32::MAX)?,
            trusted_proxies,
            ipv6_prefix_length,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<ModerationConfig, ConfigError> {
        let vars = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ModerationConfig::from_vars(Vars::new(&vars))
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
            ("TRUST_PROXY", "4294967296"),
            ("LOGIN_WINDOW", "0"),
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
