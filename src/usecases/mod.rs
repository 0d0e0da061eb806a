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
pub mod admin;
pub mod admin_bans;
pub mod admin_settings;
pub mod admin_users;
pub mod api_keys;
pub mod audit;
pub mod chat_access;
pub mod chat_content;
pub mod email_verification;
mod guard;
pub mod migration;
pub mod notices;
pub mod operator;
pub mod passkeys;
pub mod password_reset;
pub mod provider;
pub mod provider_sign_in;
pub mod registration;
pub mod second_factor;
pub mod sign_in;

use std::net::IpAddr;
use std::sync::Arc;

use crate::sessions::{Device, Issued, SessionKind};
use crate::store::users::User;

/// Who is asking, as far as the rules care: the client IP (resolved through the trusted
/// proxies by the translator), its user agent (kept with a session it begins, for the account
/// page), and which cookie a session begun for it lives in.
#[derive(Debug, Clone)]
pub struct Client {
    pub ip: IpAddr,
    pub user_agent: Option<String>,
    pub session_kind: SessionKind,
}

impl Client {
    /// A client of the JSON API whose user agent is not known.
    pub fn at(ip: IpAddr) -> Self {
        Self {
            ip,
            user_agent: None,
            session_kind: SessionKind::Api,
        }
    }

    /// A client of the JSON API (LibreChat's web client): sessions live in its refresh cookie.
    pub fn api(ip: IpAddr, user_agent: Option<&str>) -> Self {
        Self {
            user_agent: user_agent.map(str::to_string),
            ..Self::at(ip)
        }
    }

    /// A browser on the sign-in pages: sessions live in the single-sign-on cookie.
    pub fn browser(ip: IpAddr, user_agent: Option<&str>) -> Self {
        Self {
            session_kind: SessionKind::Browser,
            ..Self::api(ip, user_agent)
        }
    }

    pub(crate) fn device(&self) -> Device<'_> {
        Device {
            ip: self.ip,
            user_agent: self.user_agent.as_deref(),
        }
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
