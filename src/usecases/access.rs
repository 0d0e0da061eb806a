//! Who a request's access token (or browser session cookie) names, for every route that needs a signed-in user (the API's
//! extractors and the gateway): a valid, unrevoked token of a user who is not banned, by user
//! or by IP, and not disabled by an operator. Memory only: no database round trip.

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
    let claims = ctx
        .sessions
        .authenticate(bearer)
        .map_err(|e| disabled_or(ctx, bearer, e))?;
    admit(ctx, client, claims, access)
}

/// A disabled user's sessions were all revoked: their token fails as revoked, yet what they
/// should read is why. Only on that failure path, and in memory: the token's own signature
/// names the user.
fn disabled_or(ctx: &AppContext, bearer: Option<&str>, refused: Error) -> Error {
    let disabled = bearer
        .and_then(|t| ctx.sessions.access_claims_ignoring_expiry(t))
        .is_some_and(|claims| ctx.accounts.refuse_disabled(&claims.id).is_err());
    if disabled {
        Error::AccountDisabled
    } else {
        refused
    }
}

/// The gateway's and forward-auth's check of a Bearer token: Bouncer's own access token, or an
/// access token the OpenID provider issued for one of `OIDC_GATEWAY_AUDIENCES` (LibreChat with
/// `OPENID_REUSE_TOKENS=true` sends those), or an API key. All are checked in memory, with the
/// same revocations and bans; the bare JWT first, as the common case.
pub fn authenticate_gateway(
    ctx: &AppContext,
    client: &Client,
    bearer: Option<&str>,
    access: Access,
) -> Result<AccessClaims> {
    match ctx.sessions.authenticate(bearer) {
        Ok(claims) => admit(ctx, client, claims, access),
        Err(_) if bearer.is_some_and(|b| crate::api_keys::secret::id_of(b).is_some()) => {
            authenticate_api_key(ctx, client, bearer.unwrap_or_default(), KeyUse::Gateway)
        }
        Err(own) => {
            let audiences = &ctx.provider.config.gateway_audiences;
            let own = disabled_or(ctx, bearer, own);
            let Some(token) = bearer.filter(|_| !audiences.is_empty()) else {
                return Err(own);
            };
            let claims = match super::provider::authenticate_gateway_bearer(ctx, client, token) {
                Ok(claims) => claims,
                // Not one of the provider's either: the first answer stands.
                Err(Error::Unauthorized(why)) if why == "invalid signature" => return Err(own),
                Err(e) => return Err(e),
            };
            let identity = AccessClaims {
                id: claims.sub.clone(),
                username: claims.preferred_username.clone().unwrap_or_default(),
                provider: claims.bouncer_idp.clone().unwrap_or_default(),
                email: claims
                    .email
                    .clone()
                    .or_else(|| claims.bouncer_email.clone())
                    .unwrap_or_default(),
                sid: claims.sid.clone(),
                role: claims.bouncer_role.clone(),
                scope: None,
                name: claims.name.clone(),
                typ: None,
                iat: claims.iat,
                exp: claims.exp,
            };
            admit(ctx, client, identity, access)
        }
    }
}

/// Where an API key is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// The gateway and forward-auth: every key.
    Gateway,
    /// The admin API: `admin`-scoped keys only (the role is then checked by `admin::authorize`).
    Admin,
}

/// An API key (`bnc_…`) as a Bearer token: a live key of its scope, checked in memory, then the
/// same bans as a token. The identity is the key's owner, with `typ` `api_key` and the key's
/// id as `sid`.
pub fn authenticate_api_key(
    ctx: &AppContext,
    client: &Client,
    key: &str,
    key_use: KeyUse,
) -> Result<AccessClaims> {
    let found = ctx.api_keys.authenticate(key)?;
    if key_use == KeyUse::Admin && !found.scopes.admin {
        return Err(Error::Forbidden("Forbidden".into()));
    }
    admit(ctx, client, found.claims, Access::Full)
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

pub fn admit(
    ctx: &AppContext,
    client: &Client,
    claims: AccessClaims,
    access: Access,
) -> Result<AccessClaims> {
    ctx.moderation.check(client.ip, Some(&claims.id))?;
    ctx.accounts.refuse_disabled(&claims.id)?;
    if access == Access::Full && claims.scope.is_some() {
        return Err(Error::TwoFactorSetupRequired);
    }
    Ok(claims)
}
