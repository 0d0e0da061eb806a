//! The signed-in user's own account: reading it, accepting the terms, deleting it.

use std::sync::Arc;

use super::guard::limit_code_guesses;
use super::Client;
use crate::app::AppContext;
use crate::error::{Error, Result};
use crate::store::users::{Role, User};
use crate::twofactor::Code;

/// The user an access token names. A user deleted since the token was issued is
/// `Unauthorized`, as a revoked token is.
pub async fn current_user(ctx: &AppContext, user_id: &str) -> Result<Arc<User>> {
    ctx.accounts
        .user(user_id)
        .await?
        .ok_or_else(|| Error::Unauthorized("Unauthorized".into()))
}

/// The user, for the terms routes: a user gone since is `UserNotFound`.
pub async fn existing_user(ctx: &AppContext, user_id: &str) -> Result<Arc<User>> {
    ctx.accounts.user(user_id).await?.ok_or(Error::UserNotFound)
}

/// Records acceptance of the terms; returns when they were first accepted.
pub async fn accept_terms(ctx: &AppContext, user_id: &str) -> Result<i64> {
    ctx.accounts.accept_terms(user_id).await
}

/// Deletes the user's own account: where `ALLOW_ACCOUNT_DELETION` allows it (always for an
/// admin), with a valid 2FA code when 2FA is on (counted against the code-guessing window).
/// Every session of the user ends at once.
pub async fn delete_account(
    ctx: &AppContext,
    client: Client,
    user_id: &str,
    code: Option<Code<'_>>,
) -> Result<()> {
    let user = existing_user(ctx, user_id).await?;
    if !ctx.config.features.allow_account_deletion && user.role != Role::Admin {
        return Err(Error::Forbidden(
            "You do not have permission to delete this account".into(),
        ));
    }
    if user.two_factor_enabled {
        limit_code_guesses(ctx, &user.id, client.ip).await?;
    }
    ctx.two_factor.check_deletion(&user.id, code).await?;
    ctx.accounts.delete(&user.id).await?;
    Ok(())
}
