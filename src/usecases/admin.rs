//! The operators' powers over the API and the console: who may use them, and who acted. Each
//! admin use case (`admin_users.rs`, `admin_bans.rs`, `admin_settings.rs`) takes an `Actor`:
//! an `Admin` this module's `authorize` returned, or the command line, so none can run for a
//! caller who is neither, and each records its audit event with whoever acted.

use super::Client;
use crate::app::AppContext;
use crate::audit::{Event, Kind};
use crate::config::admin::AdminTwoFactor;
use crate::error::{Error, Result};
use crate::sessions::AccessClaims;
use crate::store::users::Role;

pub use super::admin_bans::*;
pub use super::admin_settings::*;
pub use super::admin_users::*;

/// A signed-in user with the ADMIN role, acting through the admin API or console.
#[derive(Debug, Clone)]
pub struct Admin {
    pub id: String,
    pub email: String,
    pub client: Client,
}

/// Who performs an operator's action.
#[derive(Debug, Clone)]
pub enum Actor {
    Admin(Admin),
    /// `bouncer <command>` on the server's machine: whoever may run it is trusted already.
    Cli,
}

impl Actor {
    /// The id of the acting admin, if any.
    pub fn admin_id(&self) -> Option<&str> {
        match self {
            Actor::Admin(admin) => Some(&admin.id),
            Actor::Cli => None,
        }
    }

    /// An event of `kind` about `user` (if any), stamped with who acted: the admin and their
    /// client, or `"via": "cli"`.
    pub fn event(&self, kind: Kind, user: Option<&str>) -> Event {
        let event = Event::new(kind);
        let event = match user {
            Some(id) => event.user(id),
            None => event,
        };
        match self {
            Actor::Admin(admin) => event.actor(admin.id.clone()).client(&admin.client),
            Actor::Cli => event.detail("via", "cli"),
        }
    }

    /// Records an event of `kind` about `user`.
    pub fn record(&self, ctx: &AppContext, event: Event) {
        ctx.audit.record(event);
    }
}

/// What an admin without 2FA is told while `REQUIRE_2FA_FOR_ADMINS` is on.
pub const ADMIN_NEEDS_2FA: &str =
    "Admins must enable two-factor authentication before using the admin API.";

/// Admits `claims` (already authenticated: valid, unrevoked, not banned, not disabled) as an
/// admin: the role is read from the account, not the token, so a demotion counts at once.
/// `REQUIRE_2FA_FOR_ADMINS` is checked here.
pub async fn authorize(ctx: &AppContext, client: &Client, claims: &AccessClaims) -> Result<Admin> {
    let user = ctx
        .accounts
        .user(&claims.id)
        .await?
        .ok_or_else(|| Error::Unauthorized("user not found".into()))?;
    if user.role != Role::Admin || user.disabled_at.is_some() {
        return Err(Error::Forbidden("Forbidden".into()));
    }
    if !user.two_factor_enabled && !user.has_passkey && two_factor_required(ctx).await? {
        return Err(Error::Forbidden(ADMIN_NEEDS_2FA.into()));
    }
    Ok(Admin {
        id: user.id.clone(),
        email: user.email.clone(),
        client: client.clone(),
    })
}

async fn two_factor_required(ctx: &AppContext) -> Result<bool> {
    Ok(match ctx.config.admin.two_factor {
        AdminTwoFactor::Required => true,
        AdminTwoFactor::NotRequired => false,
        AdminTwoFactor::OnceAnyAdminHasIt => {
            crate::store::users::any_admin_with_two_factor(&ctx.db).await?
        }
    })
}
