//! Who a request's access token (or browser session cookie) names, for every route that needs a signed-in user (the API's
//! extractors and the gateway): a valid, unrevoked token of a user who is not banned, by user
//! or by IP. Memory only: no database round trip.

use super::Client;
use crate::app::AppContext;
use crate::error::{Error, Result};
use crate::sessions::AccessClaims;

/// What the route lets in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any signed-in user who has done what `REQUIRE_2FA` asks.
    Full,
    /// Also a user whose token only allows setting up 2FA (`REQUIRE_2FA`): the 2FA routes.
    Enrolment,
}

pub fn authenticate(
    ctx: &AppContext,
    client: &Client,
    bearer: Option<&str>,
    access: Access,
) -> Result<AccessClaims> {
    let claims = ctx.sessions.authenticate(bearer)?;
    admit(ctx, client, claims, access)
}

/// The same for a browser session's single-sign-on cookie (the sign-in pages, forward-auth
/// by cookie): the same checks, the same identity.
pub fn authenticate_browser(
    ctx: &AppContext,
    client: &Client,
    cookie: Option<&str>,
    access: Access,
) -> Result<AccessClaims> {
    let claims = ctx.sessions.authenticate_browser(cookie)?;
    admit(ctx, client, claims, access)
}

fn admit(
    ctx: &AppContext,
    client: &Client,
    claims: AccessClaims,
    access: Access,
) -> Result<AccessClaims> {
    ctx.moderation.check(client.ip, Some(&claims.id))?;
    if access == Access::Full && claims.scope.is_some() {
        return Err(Error::TwoFactorSetupRequired);
    }
    Ok(claims)
}
