//! The signed-in user's own account: reading it, accepting the terms, deleting it.

use std::sync::Arc;

use super::guard::limit_code_guesses;
use super::Client;
use crate::app::AppContext;
use crate::audit::{Event, Kind};
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
    let user = may_delete(ctx, &client, user_id, code).await?;
    ctx.accounts.delete(&user.id).await?;
    record_deleted(ctx, &client, &user);
    Ok(())
}

/// The account's deletion by its user (an operator's is recorded by its use case).
fn record_deleted(ctx: &AppContext, client: &Client, user: &User) {
    ctx.audit.record(
        Event::new(Kind::UserDeleted)
            .user(&user.id)
            .client(client)
            .detail("email", user.email.as_str())
            .detail("by", "self"),
    );
}

/// As `delete_account`, with the chat backend asked in between (the gateway, `UPSTREAM_URL`):
/// after Bouncer's own checks, `backend` runs (it forwards the deletion), and only when it
/// succeeds is the account deleted here; a backend that refuses or cannot be reached leaves the
/// account whole, and its answer (`R`) is the outcome.
pub async fn delete_account_with_backend<R>(
    ctx: &AppContext,
    client: Client,
    user_id: &str,
    code: Option<Code<'_>>,
    backend: impl std::future::Future<Output = std::result::Result<(), R>>,
) -> Result<std::result::Result<(), R>> {
    let user = may_delete(ctx, &client, user_id, code).await?;
    if let Err(answer) = backend.await {
        tracing::warn!(user_id = %user.id, "the chat backend did not delete the account; it is kept");
        return Ok(Err(answer));
    }
    ctx.accounts.delete(&user.id).await?;
    record_deleted(ctx, &client, &user);
    Ok(Ok(()))
}

/// The checks before a deletion; the user to delete.
async fn may_delete(
    ctx: &AppContext,
    client: &Client,
    user_id: &str,
    code: Option<Code<'_>>,
) -> Result<Arc<User>> {
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
    Ok(user)
}

/// Checks a signed-in user's password again before something that must not be done by
/// whoever finds an open browser (changing the password, deleting the account on the pages).
/// Guesses count against the login limiter of the IP.
pub async fn confirm_password(
    ctx: &AppContext,
    client: &Client,
    user_id: &str,
    password: Option<&str>,
) -> Result<Arc<User>> {
    super::guard::limit_ip(ctx, &ctx.moderation.limiters.login, client.ip).await?;
    let user = existing_user(ctx, user_id).await?;
    ctx.accounts
        .check_password(&user, password.unwrap_or_default())
        .await?;
    Ok(user)
}

/// A new password for a signed-in user who gave the current one: every session ends (the
/// one asking too) and a new one begins for the asking client.
pub async fn change_password(
    ctx: &AppContext,
    client: Client,
    user_id: &str,
    current: Option<&str>,
    new: Option<&str>,
    confirm: Option<&str>,
) -> Result<super::SignedIn> {
    let user = confirm_password(ctx, &client, user_id, current).await?;
    let new = new.unwrap_or_default();
    if confirm != Some(new) {
        return Err(Error::Validation(
            "confirm_password: Passwords do not match".into(),
        ));
    }
    ctx.accounts.set_password(&user.id, new).await?;
    ctx.audit.record(
        Event::new(Kind::PasswordChanged)
            .user(&user.id)
            .client(&client),
    );
    let user = existing_user(ctx, user_id).await?;
    super::sign_in::start_session(ctx, &client, user).await
}

/// The user's own live sessions, newest first.
pub async fn sessions(
    ctx: &AppContext,
    user_id: &str,
) -> Result<Vec<crate::store::sessions::SessionSummary>> {
    ctx.sessions.list(user_id).await
}

/// Ends one of the user's own sessions; another user's session id is not found.
pub async fn revoke_session(ctx: &AppContext, user_id: &str, session_id: &str) -> Result<()> {
    if ctx.sessions.revoke_own(user_id, session_id).await? {
        tracing::info!(user_id, session_id, "session signed out by its owner");
        ctx.audit.record(
            Event::new(Kind::SessionRevoked)
                .user(user_id)
                .detail("session_id", session_id),
        );
        Ok(())
    } else {
        Err(Error::BadRequest("No such session".into()))
    }
}

/// The apps a user allowed (the account page), newest first.
pub async fn consents(
    ctx: &AppContext,
    user_id: &str,
) -> Result<Vec<crate::store::oidc_consents::Consent>> {
    crate::store::oidc_consents::list_for_user(&ctx.db, user_id).await
}

/// Withdraws a user's consent to an app and signs the app out (its grants end); the app asks
/// again next time.
pub async fn withdraw_consent(ctx: &AppContext, user_id: &str, client_id: &str) -> Result<()> {
    if !crate::store::oidc_consents::withdraw(&ctx.db, user_id, client_id).await? {
        return Err(Error::BadRequest("No such app".into()));
    }
    let ended = ctx.sessions.revoke_grants_of(user_id, client_id).await?;
    tracing::info!(
        user_id,
        client_id,
        grants = ended,
        "consent withdrawn by its owner"
    );
    Ok(())
}

/// A fresh cookie for the browser session `current` names, saying what the user is now (e.g.
/// no longer enrolment-only once 2FA is set up): the same session, the same end.
pub async fn renew_browser_session(
    ctx: &AppContext,
    current: &crate::sessions::AccessClaims,
) -> Result<String> {
    let user = current_user(ctx, &current.id).await?;
    ctx.sessions.renew_browser_cookie(&user, current)
}
