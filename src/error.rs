//! One error type for the whole server, and the only place that knows how each failure looks
//! on the wire (status code, JSON or text body, exact message of the LibreChat spec).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The single body for every credential failure at login: an unknown email and a wrong
/// password must be indistinguishable (LibreChat tells them apart; the client only looks at the
/// 404 status).
pub const INVALID_CREDENTIALS: &str = "Incorrect email or password.";

/// What a banned user or IP is told (spec §2).
pub const BANNED: &str =
    "Your account has been temporarily banned due to violations of our service.";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400 `{"message"}`: a body that is not the JSON the route takes.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 413 `{"message"}`: a request body over the limit of Bouncer's own routes.
    #[error("request body too large")]
    BodyTooLarge,
    /// 403 `{"message"}`: the caller may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 401 `{"message"}`: missing, expired, tampered or revoked access token.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("email login is disabled")]
    EmailLoginDisabled,
    #[error("registration is disabled")]
    RegistrationDisabled,
    #[error("email domain is not allowed")]
    DomainNotAllowed,
    /// 404 `{"message":"<field>: <reason> ..."}`: LibreChat answers validation failures of
    /// login and registration with 404.
    #[error("validation failed: {0}")]
    Validation(String),
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("user not found")]
    UserNotFound,
    #[error("email not verified")]
    EmailNotVerified,
    /// 400: the registration's invitation token is unknown, expired, used, or for another
    /// email.
    #[error("invalid invite token")]
    InvalidInvite,
    /// 400: every failure of email verification, so the answer tells nothing about accounts.
    #[error("invalid or expired email verification token")]
    InvalidVerificationToken,
    /// 400: every failure of a password-reset token.
    #[error("invalid or expired password reset token")]
    InvalidResetToken,
    /// 403: `REQUIRE_2FA` is on and this user has not set up 2FA yet; their token reaches only
    /// the 2FA routes.
    #[error("two-factor authentication must be set up first")]
    TwoFactorSetupRequired,
    /// 403 text, as LibreChat's `validatePasswordReset`.
    #[error("password reset is disabled")]
    PasswordResetDisabled,
    /// 400 `{"code":"auth_failed"}`: a reset for an email domain that `allowedDomains` refuses.
    #[error("email domain is not allowed for password reset")]
    ResetDomainNotAllowed,
    /// 403 text: the refresh JWT does not verify (bad signature, expired, malformed).
    #[error("invalid refresh token")]
    RefreshTokenInvalid,
    /// 401 text (403 with `?retry=true`): no live session for this refresh token.
    #[error("refresh session not found")]
    SessionNotFound { retry: bool },
    /// The refresh token names a user that no longer exists: LibreChat redirects to /login.
    #[error("refresh token user no longer exists")]
    RefreshUserGone,
    /// 403: the user or the client IP is banned.
    #[error("banned")]
    Banned,
    /// 429 `{"message"}` with the limiter's text.
    #[error("rate limited: {0}")]
    RateLimited(String),
    /// 503: the database cannot be reached right now.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// 500: a bug or an unexpected failure; logged once, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => Error::Unavailable(e),
            other => Error::Internal(other.into()),
        }
    }
}

fn json_message(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "message": message }))).into_response()
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
            Error::Banned => json_message(StatusCode::FORBIDDEN, BANNED),
            Error::RateLimited(m) => json_message(StatusCode::TOO_MANY_REQUESTS, &m),
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
