//! The wire form of every domain error: status code, JSON or text body, and the LibreChat
//! spec's exact message. The only place that maps `Error` to HTTP; the gateway's SSE refusals
//! and the OAuth redirects start from the same errors.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::{Error, OAuthError};
use crate::moderation::content::{Denial, DenialReason};
use crate::moderation::models::ModelRefusal;

/// What the client is told of a flagged chat message outside a stream.
pub const FLAGGED: &str = "Your message was flagged by content moderation.";

/// The single body for every credential failure at login: an unknown email and a wrong
/// password must be indistinguishable (LibreChat tells them apart; the client only looks at the
/// 404 status).
pub const INVALID_CREDENTIALS: &str = "Incorrect email or password.";
/// The answer to a disabled user on every route (sign-in, refresh, any token), and on the pages.
pub const ACCOUNT_DISABLED: &str = "Your account has been disabled.";

/// What a banned user or IP is told (spec §2).
pub const BANNED: &str =
    "Your account has been temporarily banned due to violations of our service.";

/// An SSE `event: error` frame, LibreChat's way of refusing a chat stream.
pub fn sse_error(status: StatusCode, message: &str) -> Response {
    let data = json!({ "message": message });
    (
        status,
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        format!("event: error\ndata: {data}\n\n"),
    )
        .into_response()
}

/// A random UUID (version 4), as LibreChat's `crypto.randomUUID()` gives message ids.
fn random_uuid() -> String {
    let mut b = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// A chat message refused by content moderation, on a stream: LibreChat's `denyRequest`, i.e.
/// the user's message as an SSE `message` event (`created: true`), then the error message as
/// an `error` event whose `text` is `{"type":"moderation"}` (or `error in moderation check`).
/// 200, as LibreChat answers.
pub fn deny_request_frames(d: &Denial) -> Response {
    let conversation_id = d.conversation_id.clone().unwrap_or_else(random_uuid);
    let user_message_id = d.message_id.clone().unwrap_or_else(random_uuid);
    let user = json!({
        "message": {
            "sender": "User",
            "messageId": user_message_id,
            "parentMessageId": d.parent_message_id,
            "conversationId": conversation_id,
            "isCreatedByUser": true,
            "text": d.text,
        },
        "created": true,
    });
    let error = json!({
        "sender": d.sender,
        "messageId": random_uuid(),
        "conversationId": conversation_id,
        "parentMessageId": user_message_id,
        "unfinished": false,
        "error": true,
        "final": true,
        "text": d.error_text(),
        "isCreatedByUser": false,
    });
    event_stream(format!(
        "event: message\ndata: {user}\n\nevent: error\ndata: {error}\n\n"
    ))
}

/// LibreChat's `handleError` on a stream: 200 and one `event: error` frame `{"text": ...}`.
pub fn handle_error_frame(text: &str) -> Response {
    event_stream(format!(
        "event: error\ndata: {}\n\n",
        json!({ "text": text })
    ))
}

fn event_stream(body: String) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn json_message(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "message": message }))).into_response()
}

/// LibreChat's ban answer, which the web client maps by its status, saying until when: the
/// `expiresAt` of LibreChat's ban records (ms since the epoch), the same in words, and
/// `Retry-After` in seconds.
fn banned(until_ms: i64, now_ms: i64) -> Response {
    let seconds_left = ((until_ms - now_ms).max(0) + 999) / 1000;
    let until = chrono::DateTime::from_timestamp_millis(until_ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let retry_after = HeaderValue::from_str(&seconds_left.max(1).to_string())
        .unwrap_or(HeaderValue::from_static("1"));
    (
        StatusCode::FORBIDDEN,
        [(axum::http::header::RETRY_AFTER, retry_after)],
        axum::Json(json!({
            "message": BANNED,
            "type": "ban",
            "expiresAt": until_ms,
            "until": until,
        })),
    )
        .into_response()
}

fn text(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::BadRequest(m) => json_message(StatusCode::BAD_REQUEST, &m),
            Error::BodyTooLarge => json_message(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body is larger than 1 MiB",
            ),
            Error::Unauthorized(m) => json_message(StatusCode::UNAUTHORIZED, &m),
            Error::Forbidden(m) => json_message(StatusCode::FORBIDDEN, &m),
            Error::EmailLoginDisabled => {
                json_message(StatusCode::FORBIDDEN, "Email login is not allowed.")
            }
            Error::RegistrationDisabled => {
                json_message(StatusCode::FORBIDDEN, "Registration is not allowed.")
            }
            Error::DomainNotAllowed => json_message(
                StatusCode::FORBIDDEN,
                "The email address provided cannot be used. Please use a different email address.",
            ),
            Error::Validation(m) => json_message(StatusCode::NOT_FOUND, &m),
            Error::InvalidCredentials => json_message(StatusCode::NOT_FOUND, INVALID_CREDENTIALS),
            Error::UserNotFound => json_message(StatusCode::NOT_FOUND, "User not found"),
            Error::AlreadyExists(m) => json_message(StatusCode::CONFLICT, &m),
            Error::NotFound(m) => json_message(StatusCode::NOT_FOUND, &m),
            Error::Conflict(m) => json_message(StatusCode::CONFLICT, &m),
            Error::AccountDisabled => json_message(StatusCode::FORBIDDEN, ACCOUNT_DISABLED),
            Error::EmailNotVerified => {
                json_message(StatusCode::UNPROCESSABLE_ENTITY, "Email not verified.")
            }
            Error::InvalidInvite => json_message(StatusCode::BAD_REQUEST, "Invalid invite token"),
            Error::InvalidVerificationToken => json_message(
                StatusCode::BAD_REQUEST,
                "Invalid or expired email verification token",
            ),
            Error::InvalidResetToken => json_message(
                StatusCode::BAD_REQUEST,
                "Invalid or expired password reset token",
            ),
            Error::TwoFactorSetupRequired => (
                StatusCode::FORBIDDEN,
                axum::Json(json!({
                    "message": "Two-factor authentication must be set up before anything else.",
                    "twoFASetupRequired": true
                })),
            )
                .into_response(),
            Error::PasswordResetDisabled => {
                text(StatusCode::FORBIDDEN, "Password reset is not allowed.")
            }
            Error::ResetDomainNotAllowed => (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({
                    "code": "auth_failed",
                    "message": "The email address provided cannot be used."
                })),
            )
                .into_response(),
            Error::RefreshTokenInvalid => text(StatusCode::FORBIDDEN, "Invalid refresh token"),
            Error::SessionNotFound { retry: true } => {
                text(StatusCode::FORBIDDEN, "No session found")
            }
            Error::SessionNotFound { retry: false } => text(
                StatusCode::UNAUTHORIZED,
                "Refresh token expired or not found for this user",
            ),
            Error::RefreshUserGone => {
                (StatusCode::FOUND, [(header::LOCATION, "/login")]).into_response()
            }
            Error::Banned { until_ms, now_ms } => banned(until_ms, now_ms),
            Error::RateLimited(m) => json_message(StatusCode::TOO_MANY_REQUESTS, &m),
            Error::OAuth(e) => oauth_error(&e),
            // LibreChat answers 200 with an SSE error frame.
            Error::NonBrowser => sse_error(StatusCode::OK, "Illegal request"),
            Error::TooManyConcurrent { limit, score } => (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({
                    "type": "concurrent",
                    "limit": limit,
                    "pendingRequests": limit,
                    "score": score,
                    "message": "Too many concurrent requests, please wait for one to finish.",
                })),
            )
                .into_response(),
            Error::ContentRefused(d) => match d.reason {
                DenialReason::Flagged => (
                    StatusCode::FORBIDDEN,
                    axum::Json(json!({ "type": "moderation", "message": FLAGGED })),
                )
                    .into_response(),
                DenialReason::CheckFailed => json_message(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "error in moderation check",
                ),
            },
            Error::ModelRefused(r) => match r {
                ModelRefusal::NotProvided | ModelRefusal::Invalid => {
                    json_message(StatusCode::BAD_REQUEST, r.message())
                }
                ModelRefusal::Illegal => (
                    StatusCode::FORBIDDEN,
                    axum::Json(json!({ "type": "illegal_model_request", "message": r.message() })),
                )
                    .into_response(),
                ModelRefusal::NotLoaded => {
                    json_message(StatusCode::SERVICE_UNAVAILABLE, r.message())
                }
            },
            Error::ChatBodyTooLarge { limit } => json_message(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "Chat message body is larger than {limit} bytes (CHAT_BODY_MAX), the most Bouncer reads to moderate it"
                ),
            ),
            Error::DirectoryUnavailable => {
                json_message(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable")
            }
            Error::Overloaded => (
                StatusCode::SERVICE_UNAVAILABLE,
                [(axum::http::header::RETRY_AFTER, "1")],
                axum::Json(json!({
                    "message": "The server is busy, please try again in a moment."
                })),
            )
                .into_response(),
            Error::SignInRefused(m) => json_message(StatusCode::NOT_FOUND, m),
            Error::Unavailable(e) => {
                // Debug: the availability probe logs an outage once; under load there is one
                // of these per request.
                tracing::debug!(error = %e, "database unavailable");
                json_message(StatusCode::SERVICE_UNAVAILABLE, "Service unavailable")
            }
            Error::Internal(e) => {
                tracing::error!(error = ?e, "request failed");
                json_message(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong")
            }
        }
    }
}

/// RFC 6749 §5.2: `{"error", "error_description"}`; 401 with a challenge for a client that
/// failed to authenticate (§5.2) or a bad bearer token (RFC 6750 §3), 400 otherwise.
fn oauth_error(e: &OAuthError) -> Response {
    let body = axum::Json(json!({ "error": e.code, "error_description": e.description }));
    match e.code {
        "invalid_client" => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"bouncer\"")],
            body,
        )
            .into_response(),
        "invalid_token" => (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                "Bearer error=\"invalid_token\"".to_string(),
            )],
            body,
        )
            .into_response(),
        "access_denied" => (StatusCode::FORBIDDEN, body).into_response(),
        "not_found" => (StatusCode::NOT_FOUND, body).into_response(),
        _ => (StatusCode::BAD_REQUEST, body).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database that cannot be reached, whichever way the connection fails (TLS included),
    /// is a 503, never a 500.
    #[test]
    fn connection_failures_are_unavailable() {
        let failures = [
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
            sqlx::Error::Tls("handshake failed".into()),
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
        ];
        for failure in failures {
            let status = Error::from(failure).into_response().status();
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        }
        let bug = Error::from(sqlx::Error::RowNotFound)
            .into_response()
            .status();
        assert_eq!(bug, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
