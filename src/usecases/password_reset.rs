//! The emailed password reset (`ALLOW_PASSWORD_RESET`). The reset link only ever travels by
//! mail: LibreChat hands it to any caller when no mail transport is configured; Bouncer never
//! does.

use std::sync::Arc;

use super::guard::{limit_ip, refuse_banned};
use super::{notices, Client};
use crate::accounts::Email;
use crate::app::AppContext;
use crate::audit::{Event, Kind};
use crate::error::{Error, Result};

/// Asks for a reset link. `Ok` looks and takes the same whether or not the account exists: the
/// token is issued and the message sent after the answer.
pub async fn request_reset(
    ctx: &Arc<AppContext>,
    client: Client,
    email: Option<&str>,
) -> Result<()> {
    let limiter = &ctx.moderation.limiters.reset_password;
    refuse_banned(ctx, limiter, client.ip, email).await?;
    if !ctx.config.features.allow_password_reset {
        return Err(Error::PasswordResetDisabled);
    }
    let Some(email) = Email::parse(email.unwrap_or_default()) else {
        return Err(Error::BadRequest("email: Invalid email".into()));
    };
    if !ctx.config.yaml.email_domain_allowed(email.as_str()) {
        return Err(Error::ResetDomainNotAllowed);
    }
    if let Some(user) = ctx.accounts.find_by_email(&email).await? {
        if ctx.mail.configured() {
            // Recorded only when a mail goes to a real account; the answer stays the same.
            ctx.audit.record(
                Event::new(Kind::PasswordResetRequested)
                    .user(&user.id)
                    .client(&client),
            );
            notices::send_reset_link_later(ctx, user, notices::links_for(&client));
        } else {
            tracing::warn!(
                user_id = %user.id,
                "password reset requested, but no mail transport is configured to deliver it"
            );
        }
    }
    Ok(())
}

/// What the reset form submits.
pub struct NewPassword<'a> {
    pub user_id: Option<&'a str>,
    pub token: Option<&'a str>,
    pub password: Option<&'a str>,
    pub confirm_password: Option<&'a str>,
}

/// Sets the new password with the mailed token. Every session of the user ends (inside
/// `Accounts`), and the user is told by mail.
pub async fn reset_password(
    ctx: &Arc<AppContext>,
    client: Client,
    form: NewPassword<'_>,
) -> Result<()> {
    ctx.moderation.check(client.ip, form.user_id)?;
    limit_ip(
        ctx,
        &ctx.moderation.limiters.reset_password_submission,
        client.ip,
    )
    .await?;
    if !ctx.config.features.allow_password_reset {
        return Err(Error::PasswordResetDisabled);
    }
    let (Some(user_id), Some(token)) = (form.user_id, form.token) else {
        return Err(Error::InvalidResetToken);
    };
    let user = ctx
        .accounts
        .reset_password(
            user_id,
            token,
            form.password.unwrap_or_default(),
            form.confirm_password,
        )
        .await?;
    ctx.audit.record(
        Event::new(Kind::PasswordResetDone)
            .user(&user.id)
            .client(&client),
    );
    if ctx.mail.configured() {
        notices::send_reset_done_later(ctx, user);
    }
    Ok(())
}
