//! The domain error: every way a use case or a service can fail, in the terms of the rules
//! (banned, rate limited, invalid token, …). It knows nothing of HTTP: `http/error_response.rs`
//! is the one place that knows how each looks on the wire (status code, body, the spec's exact
//! message), and the CLI prints it as text.

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
    /// An operator's command would duplicate an account (the message says which field). The
    /// public registration never answers this way (no enumeration).
    #[error("{0}")]
    AlreadyExists(String),
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
    /// A chat message from something that is not a browser (LibreChat's `checkNonBrowser`).
    #[error("chat message from a non-browser client")]
    NonBrowser,
    /// The user already has `CONCURRENT_MESSAGE_MAX` chat messages in flight.
    #[error("too many concurrent chat messages")]
    TooManyConcurrent { limit: u64, score: i64 },
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
