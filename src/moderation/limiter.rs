//! LibreChat's fixed-window limiters (spec §5.4): every request counts, successful or not.

use crate::config::gateway::Routes;
use crate::config::moderation::{LimiterSettings, ModerationConfig};
use crate::config::route_limits::{RouteKind, RouteLimit};

/// One limiter: its key prefix, its limits, its 429 message, and the violation it records.
#[derive(Debug, Clone)]
pub struct Limiter {
    /// Key prefix, as LibreChat's Redis prefixes (`login_limiter`, ...).
    pub name: &'static str,
    pub settings: LimiterSettings,
    /// The violation type scored when the limit is exceeded (spec §5.3).
    pub violation_type: &'static str,
    pub score: i64,
    /// The JSON `message` of the 429 answer.
    pub message: String,
}

/// Every limiter of the system. Login and registration are attached to their routes; reset,
/// verify and 2FA wait for those routes; the message limiters for the chat gateway.
#[derive(Debug, Clone)]
pub struct Limiters {
    pub login: Limiter,
    pub register: Limiter,
    pub reset_password: Limiter,
    pub reset_password_submission: Limiter,
    pub verify_email: Limiter,
    pub verify_email_submission: Limiter,
    pub two_factor_temp: Limiter,
    pub message_ip: Limiter,
    pub message_user: Limiter,
    /// The OpenID provider's token endpoint, per client and IP.
    pub oidc_token: Limiter,
    /// The gateway's limiters of LibreChat's other costly routes, in matching order.
    pub routes: Vec<RouteLimiter>,
}

/// A limiter of some of the chat backend's routes, per IP and per user.
#[derive(Debug, Clone)]
pub struct RouteLimiter {
    pub routes: Routes,
    /// Every method counts, or `POST` only.
    pub every_method: bool,
    pub ip: Option<Limiter>,
    pub user: Option<Limiter>,
}

impl RouteLimiter {
    /// `route` is the lower-cased path.
    pub fn applies(&self, is_post: bool, route: &str) -> bool {
        (is_post || self.every_method) && self.routes.matches(route)
    }

    fn new(limit: &RouteLimit) -> Self {
        // LibreChat's key prefixes, violation types (import and fork count as uploads there)
        // and messages.
        let (ip_name, user_name, violation_type, message) = match limit.kind {
            RouteKind::Tts => (
                "tts_ip_limiter",
                "tts_user_limiter",
                "tts_limit",
                "Too many TTS requests. Try again later",
            ),
            RouteKind::Stt => (
                "stt_ip_limiter",
                "stt_user_limiter",
                "stt_limit",
                "Too many STT requests. Try again later",
            ),
            RouteKind::FileUsage => (
                "file_usage_ip_limiter",
                "file_usage_user_limiter",
                "file_upload_limit",
                "Too many file usage requests. Try again later",
            ),
            RouteKind::FileUpload => (
                "file_upload_ip_limiter",
                "file_upload_user_limiter",
                "file_upload_limit",
                "Too many file upload requests. Try again later",
            ),
            RouteKind::Import => (
                "import_ip_limiter",
                "import_user_limiter",
                "file_upload_limit",
                "Too many conversation import requests. Try again later",
            ),
            RouteKind::Fork => (
                "fork_ip_limiter",
                "fork_user_limiter",
                "file_upload_limit",
                "Too many requests. Try again later",
            ),
            RouteKind::ToolCall => (
                "tool_call_ip_limiter",
                "tool_call_limiter",
                "tool_call_limit",
                "Too many tool call requests. Try again later",
            ),
            RouteKind::PromptUsage => (
                "prompt_usage_ip_limiter",
                "prompt_usage_limiter",
                "prompt_usage_limit",
                "Too many prompt usage requests. Try again later",
            ),
        };
        let limiter = |name: &'static str, settings: &LimiterSettings| Limiter {
            name,
            settings: settings.clone(),
            violation_type,
            score: limit.score,
            message: message.to_string(),
        };
        Self {
            routes: limit.routes.clone(),
            every_method: limit.every_method,
            ip: limit.ip.as_ref().map(|s| limiter(ip_name, s)),
            user: limit.user.as_ref().map(|s| limiter(user_name, s)),
        }
    }
}

impl Limiters {
    pub fn new(c: &ModerationConfig) -> Self {
        let s = &c.scores;
        let attempts = |w: i64| format!("Too many attempts, please try again after {w} minute(s)");
        Self {
            login: Limiter {
                name: "login_limiter",
                settings: c.login.clone(),
                violation_type: "logins",
                score: s.login,
                message: format!(
                    "Too many login attempts, please try again after {} minutes.",
                    c.login.window_minutes()
                ),
            },
            register: Limiter {
                name: "register_limiter",
                settings: c.register.clone(),
                violation_type: "registrations",
                score: s.registration,
                message: format!(
                    "Too many accounts created, please try again after {} minutes",
                    c.register.window_minutes()
                ),
            },
            reset_password: Limiter {
                name: "reset_password_limiter",
                settings: c.reset_password.clone(),
                violation_type: "reset_password_limit",
                score: s.reset_password,
                message: attempts(c.reset_password.window_minutes()),
            },
            reset_password_submission: Limiter {
                name: "reset_password_submission_limiter",
                settings: c.reset_password_submission.clone(),
                violation_type: "reset_password_limit",
                score: s.reset_password_submission,
                message: attempts(c.reset_password_submission.window_minutes()),
            },
            verify_email: Limiter {
                name: "verify_email_limiter",
                settings: c.verify_email.clone(),
                violation_type: "verify_email_limit",
                score: s.verify_email,
                message: attempts(c.verify_email.window_minutes()),
            },
            verify_email_submission: Limiter {
                name: "verify_email_submission_limiter",
                settings: c.verify_email_submission.clone(),
                violation_type: "verify_email_limit",
                score: s.verify_email_submission,
                message: attempts(c.verify_email_submission.window_minutes()),
            },
            two_factor_temp: Limiter {
                name: "two_factor_temp_limiter",
                settings: c.two_factor_temp.clone(),
                violation_type: "logins",
                score: s.two_factor_temp,
                message: format!(
                    "Too many verification attempts, please try again after {} minutes.",
                    c.two_factor_temp.window_minutes()
                ),
            },
            message_ip: Limiter {
                name: "message_ip_limiter",
                settings: c.message_ip.clone(),
                violation_type: "message_limit",
                score: s.message,
                message: "Too many messages, please try again later.".into(),
            },
            message_user: Limiter {
                name: "message_user_limiter",
                settings: c.message_user.clone(),
                violation_type: "message_limit",
                score: s.message,
                message: "Too many messages, please try again later.".into(),
            },
            oidc_token: Limiter {
                name: "oidc_token_limiter",
                settings: c.oidc_token.clone(),
                violation_type: "oidc_token_limit",
                score: s.oidc_token,
                message: attempts(c.oidc_token.window_minutes()),
            },
            routes: c.routes.iter().map(RouteLimiter::new).collect(),
        }
    }
}
