//! The domain error: every way a use case or a service can fail, in the terms of the rules
//! (banned, rate limited, invalid token, …). It knows nothing of HTTP: `http/error_response.rs`
//! is the one place that knows how each looks on the wire (status code, body, the spec's exact
//! message), and the CLI prints it as text.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is not what the operation takes (a malformed body, a missing field).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A request body over the limit of Bouncer's own routes.
    #[error("request body too large")]
    BodyTooLarge,
    /// The caller may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// No valid access token: missing, expired, tampered with or revoked.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("email login is disabled")]
    EmailLoginDisabled,
    #[error("registration is disabled")]
    RegistrationDisabled,
    #[error("email domain is not allowed")]
    DomainNotAllowed,
    /// The submitted fields break the registration rules: `<field>: <reason>`, in zod's order.
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
    /// What the operator names does not exist (a session, a ban); the message says what.
    #[error("not found: {0}")]
    NotFound(String),
    /// The change would break a rule of the current state (leave no enabled ADMIN, …); the
    /// message says which.
    #[error("conflict: {0}")]
    Conflict(String),
    /// An operator disabled this account: no sign-in by any route, no token accepted.
    #[error("account disabled")]
    AccountDisabled,
    #[error("email not verified")]
    EmailNotVerified,
    /// The registration's invitation token is unknown, expired, used, or for another email.
    #[error("invalid invite token")]
    InvalidInvite,
    /// Every failure of email verification alike, so it tells nothing about accounts.
    #[error("invalid or expired email verification token")]
    InvalidVerificationToken,
    /// Every failure of a password-reset token alike.
    #[error("invalid or expired password reset token")]
    InvalidResetToken,
    /// `REQUIRE_2FA` is on and this user has not set up 2FA yet; their token reaches only the
    /// 2FA routes.
    #[error("two-factor authentication must be set up first")]
    TwoFactorSetupRequired,
    /// `ALLOW_PASSWORD_RESET` is off.
    #[error("password reset is disabled")]
    PasswordResetDisabled,
    /// A reset for an email domain that `allowedDomains` refuses.
    #[error("email domain is not allowed for password reset")]
    ResetDomainNotAllowed,
    /// The refresh token does not verify (bad signature, expired, malformed).
    #[error("invalid refresh token")]
    RefreshTokenInvalid,
    /// No live session for this refresh token; `retry` is the client's second attempt.
    #[error("refresh session not found")]
    SessionNotFound { retry: bool },
    /// The refresh token names a user that no longer exists.
    #[error("refresh token user no longer exists")]
    RefreshUserGone,
    /// The user or the client IP is banned, until then (ms since the epoch); `now_ms` is when
    /// this was decided, by the injected clock, so the answer can say how long is left.
    #[error("banned")]
    Banned { until_ms: i64, now_ms: i64 },
    /// A request to the OpenID provider fails as OAuth 2.0 says (RFC 6749 §5.2, §4.1.2.1).
    #[error("{0}")]
    OAuth(OAuthError),
    /// Over a limiter, with the limiter's message.
    #[error("rate limited: {0}")]
    RateLimited(String),
    /// A chat message from something that is not a browser (LibreChat's `checkNonBrowser`).
    #[error("chat message from a non-browser client")]
    NonBrowser,
    /// The user already has `CONCURRENT_MESSAGE_MAX` chat messages in flight.
    #[error("too many concurrent chat messages")]
    TooManyConcurrent { limit: u64, score: i64 },
    /// A chat message refused by content moderation (`OPENAI_MODERATION`): flagged, or the
    /// moderation API failed with `OPENAI_MODERATION_FAIL=closed`.
    #[error("chat message refused by content moderation")]
    ContentRefused(Box<crate::moderation::content::Denial>),
    /// A chat message naming no model, or one its endpoint may not use (`ALLOWED_MODELS`).
    #[error("model refused: {}", .0.message())]
    ModelRefused(crate::moderation::models::ModelRefusal),
    /// A chat message body over `CHAT_BODY_MAX`, read for content moderation or the models.
    #[error("chat message body too large")]
    ChatBodyTooLarge { limit: usize },
    /// The LDAP directory cannot be reached or answers too slowly: its users cannot sign in
    /// right now, which is not a wrong password.
    #[error("directory unavailable")]
    DirectoryUnavailable,
    /// Too much work waiting (the password-hash queue is full): 503 with `Retry-After`, at
    /// once, instead of a wait that grows with the flood.
    #[error("overloaded")]
    Overloaded,
    /// A sign-in the identity's source accepted but the account rules refuse (LibreChat's
    /// `auth_failed`, `Email domain not allowed`): 404 with this message, like a credential
    /// failure.
    #[error("sign-in refused: {0}")]
    SignInRefused(&'static str),
    /// The database cannot be reached right now.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// A bug or an unexpected failure: logged once where it is put on the wire, never shown.
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

/// An OAuth 2.0 / OpenID Connect error: its registered code and a description for humans.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`,
    /// `unsupported_grant_type`, `invalid_scope`, `access_denied`, `login_required`,
    /// `consent_required`, `invalid_token`, …
    pub code: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }
}

/// Shorthand: `Err(Error::OAuth(..))`.
pub fn oauth<T>(code: &'static str, description: impl Into<String>) -> Result<T> {
    Err(Error::OAuth(OAuthError::new(code, description)))
}
