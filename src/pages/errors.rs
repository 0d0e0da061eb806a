//! A refused request as a page: the status and the message the JSON API gives for the same
//! domain error (`http/error_response.rs` stays the one mapping), said in a page's terms: a
//! ban with its remaining time, a rate limit with the limiter's own words, no detail of an
//! internal failure.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::layout::{Chrome, PageRequest};
use super::text::EN;
use crate::error::Error;

/// What a page shows of a refusal.
pub struct Failure {
    pub status: StatusCode,
    pub message: String,
    /// The form field the message is about, when it names one (`email: Invalid email`).
    pub field: Option<String>,
}

const FIELDS: [&str; 7] = [
    "name",
    "username",
    "email",
    "password",
    "confirm_password",
    "code",
    "current_password",
];

/// Minutes left until `until_ms`, at least one.
fn minutes_left(until_ms: i64, now_ms: i64) -> i64 {
    ((until_ms - now_ms).max(0) + 59_999) / 60_000
}

pub async fn failure(req: &PageRequest, e: Error) -> Failure {
    match &e {
        Error::Banned { until_ms, .. } => {
            let minutes = minutes_left(*until_ms, req.ctx.clock.now_ms()).max(1);
            return Failure {
                status: StatusCode::FORBIDDEN,
                message: format!("{} Try again in {minutes} {}.", EN.banned_until, EN.minutes),
                field: None,
            };
        }
        Error::Unavailable(_) | Error::DirectoryUnavailable => {
            return Failure {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: EN.unavailable.into(),
                field: None,
            }
        }
        // LibreChat's bare `auth_failed` is a code, not words for a person.
        Error::SignInRefused("auth_failed") => {
            return Failure {
                status: StatusCode::UNAUTHORIZED,
                message: EN.signs_in_another_way.into(),
                field: None,
            }
        }
        Error::Internal(inner) => {
            tracing::error!(error = %inner, "a page request failed");
            return Failure {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                message: EN.something_wrong.into(),
                field: None,
            };
        }
        _ => {}
    }
    // The pages are for people: a wrong password is 401 here (the API's 404 is LibreChat's),
    // and a form that breaks the rules is 400.
    let status_override = match &e {
        Error::InvalidCredentials | Error::SignInRefused(_) => Some(StatusCode::UNAUTHORIZED),
        Error::Validation(_) => Some(StatusCode::BAD_REQUEST),
        _ => None,
    };
    let response = e.into_response();
    let status = status_override.unwrap_or(response.status());
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let message = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .or_else(|| String::from_utf8(body.to_vec()).ok())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| EN.something_wrong.to_string());
    let field = FIELDS
        .iter()
        .find(|f| message.starts_with(&format!("{f}: ")))
        .map(|f| f.to_string());
    Failure {
        status,
        message,
        field,
    }
}

/// A page with a heading and one message: a notice (`role=status`) or an error
/// (`role=alert`), and a link onwards.
#[derive(Template)]
#[template(path = "pages/message.html")]
pub struct MessagePage {
    pub c: Chrome,
    pub heading: String,
    pub notice: Option<String>,
    pub error: Option<String>,
    pub link: Option<(String, String)>,
}

impl PageRequest {
    pub fn message(
        &self,
        status: StatusCode,
        heading: &str,
        notice: Option<String>,
        error: Option<String>,
        link: Option<(String, String)>,
    ) -> Response {
        self.render(
            status,
            &MessagePage {
                c: self.chrome(),
                heading: heading.to_string(),
                notice,
                error,
                link,
            },
        )
    }

    /// A refusal as its own page (for pages without a form to show it on).
    pub async fn failure_page(&self, e: Error) -> Response {
        let f = failure(self, e).await;
        self.message(
            f.status,
            EN.error_heading,
            None,
            Some(f.message),
            Some((EN.back_to_sign_in.into(), self.path("/login"))),
        )
    }

    /// The answer to a form whose CSRF token is missing or not this browser's.
    pub fn form_expired(&self) -> Response {
        self.message(
            StatusCode::FORBIDDEN,
            EN.error_heading,
            None,
            Some(EN.form_expired.into()),
            None,
        )
    }
}

pub async fn not_found(req: PageRequest) -> Response {
    req.message(
        StatusCode::NOT_FOUND,
        EN.error_heading,
        None,
        Some(EN.not_found.into()),
        Some((EN.back_to_sign_in.into(), req.path("/login"))),
    )
}
