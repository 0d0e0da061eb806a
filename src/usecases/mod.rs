//! The use cases: one function per thing a person or an operator does. Each owns its whole
//! sequence (ban checks, limiters, feature switches, the services, the revocations and the mail
//! it sends), takes plain inputs (the client, the submitted fields, the acting user) and returns
//! a domain outcome or a domain `Error`. The JSON API (`http/`), the operator commands (`cli/`)
//! and the sign-in pages translate to and from them and hold no rule of their own.
//!
//! The order of the checks is part of the rules and is the same everywhere: bans first (a
//! banned client sees the ban, not a 429), then the limiter, then the feature switch, then the
//! work.

pub mod access;
pub mod account;
pub mod chat_access;
pub mod email_verification;
mod guard;
pub mod notices;
pub mod operator;
pub mod password_reset;
pub mod provider_sign_in;
pub mod registration;
pub mod second_factor;
pub mod sign_in;

use std::net::IpAddr;
use std::sync::Arc;

use crate::sessions::Issued;
use crate::store::users::User;

/// Who is asking, as far as the rules care: the client IP (resolved through the trusted
/// proxies by the translator).
#[derive(Debug, Clone, Copy)]
pub struct Client {
    pub ip: IpAddr,
}

impl Client {
    pub fn at(ip: IpAddr) -> Self {
        Self { ip }
    }
}

/// A session begun or renewed: by a login, a second factor, a provider or a refresh.
pub struct SignedIn {
    pub user: Arc<User>,
    pub issued: Issued,
    /// `REQUIRE_2FA` and the user has not enrolled: the token reaches only the 2FA routes.
    pub must_enrol_2fa: bool,
}

#[cfg(test)]
mod tests;
