//! Sign-in through identity providers: OpenID Connect, SAML 2.0 and the social providers.
//! Every failure is an `SsoFailure` whose text is the precise reason, logged once; the browser
//! only ever sees LibreChat's `auth_failed` redirect.

mod apple;
pub mod claims;
pub mod openid;
pub mod saml;
pub mod social;
pub mod state;

use crate::error::Error;
use crate::store::users::Provider;
use state::FlowState;

/// A flow ready to start: where to send the browser, and what to remember in the cookie.
pub struct Started {
    pub authorization_url: String,
    pub flow: FlowState,
}

/// An error and its causes on one line.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Why a sign-in at a provider failed. Shown in the log, never to the browser.
#[derive(Debug, thiserror::Error)]
pub enum SsoFailure {
    #[error("bad state: the state cookie is missing, expired, or does not match the callback")]
    BadState,
    #[error("the identity provider answered with an error: {0}")]
    ProviderError(String),
    #[error("the identity provider cannot be used yet: {0}")]
    ProviderUnavailable(String),
    #[error("exchanging the authorization code failed: {0}")]
    CodeExchange(String),
    #[error("the ID token was refused: {0}")]
    InvalidIdToken(String),
    #[error("the SAML response was refused: {0}")]
    InvalidSamlResponse(String),
    #[error("the provider gave no email address")]
    MissingEmail,
    #[error("the email domain of {0} is not allowed by registration.allowedDomains")]
    DomainNotAllowed(String),
    #[error("provider mismatch: {email} belongs to an account of provider {owner}")]
    ProviderMismatch { email: String, owner: String },
    #[error("registration through {0} is closed (ALLOW_SOCIAL_REGISTRATION)")]
    RegistrationClosed(String),
    #[error("role missing: the user has none of the required roles {0}")]
    RoleMissing(String),
    #[error("internal error: {0}")]
    Internal(#[from] Error),
}

/// Who the provider says the user is, mapped to Bouncer's fields.
#[derive(Debug, Clone)]
pub struct ExternalProfile {
    pub provider: Provider,
    /// The OpenID issuer; empty for social providers.
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: String,
    pub username: String,
    pub avatar: Option<String>,
    /// `Some(true)`: the provider grants ADMIN; `Some(false)`: it does not (an ADMIN is
    /// demoted); `None`: roles are not managed by the provider.
    pub admin: Option<bool>,
}
