//! The operators' powers over the API and the console: who may use them. Each admin use case
//! takes the `Admin` this returns, so none can run for a caller who is not one.

use super::Client;
use crate::app::AppContext;
use crate::error::{Error, Result};
use crate::sessions::AccessClaims;
use crate::store::users::Role;

/// A signed-in user with the ADMIN role, acting through the admin API or console.
#[derive(Debug, Clone)]
pub struct Admin {
    pub id: String,
    pub email: String,
    pub client: Client,
}

/// Admits `claims` (already authenticated: valid, unrevoked, not banned) as an admin: the
/// role is read from the account, not the token, so a demotion counts at once.
pub async fn authorize(ctx: &AppContext, client: &Client, claims: &AccessClaims) -> Result<Admin> {
    let user = ctx
        .accounts
        .user(&claims.id)
        .await?
        .ok_or_else(|| Error::Unauthorized("user not found".into()))?;
    if user.role != Role::Admin || user.disabled_at.is_some() {
        return Err(Error::Forbidden("Forbidden".into()));
    }
    Ok(Admin {
        id: user.id.clone(),
        email: user.email.clone(),
        client: client.clone(),
    })
}
