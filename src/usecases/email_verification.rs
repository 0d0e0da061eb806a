//! Verifying an email address with the mailed token, and asking for the mail again. Neither
//! outcome tells whether an account exists.

use std::sync::Arc;

use super::guard::limit_ip;
use super::{notices, Client};
use crate::accounts::Email;
use crate::app::AppContext;
use crate::audit::{Event, Kind};
use crate::error::{Error, Result};

pub async fn verify_email(
    ctx: &AppContext,
    client: Client,
    email: Option<&str>,
    token: Option<&str>,
) -> Result<()> {
    ctx.moderation.check(client.ip, None)?;
    limit_ip(
        ctx,
        &ctx.moderation.limiters.verify_email_submission,
        client.ip,
    )
    .await?;
    let (Some(email), Some(token)) = (email, token) else {
        return Err(Error::InvalidVerificationToken);
    };
    // The web client passes the email on as it found it in the link: maybe still URL-encoded.
    let email = percent_encoding::percent_decode_str(email).decode_utf8_lossy();
    let email = Email::normalized(&email);
    ctx.accounts.verify_email(&email, token).await?;
    // The account is read again for its id (a rare step, after the verification is done).
    if let Some(user) = ctx.accounts.find_by_email(&email).await? {
        ctx.audit.record(
            Event::new(Kind::EmailVerified)
                .user(&user.id)
                .client(&client),
        );
    }
    Ok(())
}

/// Sends a new verification link to an unverified account, after the answer.
pub async fn resend_verification(
    ctx: &Arc<AppContext>,
    client: Client,
    email: Option<&str>,
) -> Result<()> {
    ctx.moderation.check(client.ip, None)?;
    limit_ip(ctx, &ctx.moderation.limiters.verify_email, client.ip).await?;
    let Some(email) = Email::parse(email.unwrap_or_default()) else {
        return Err(Error::BadRequest("email: Invalid email".into()));
    };
    match ctx.accounts.find_by_email(&email).await? {
        Some(user) if !user.email_verified && ctx.mail.configured() => {
            notices::send_verification_later(ctx, user, notices::links_for(&client));
        }
        Some(user) if !user.email_verified => tracing::warn!(
            user_id = %user.id,
            "verification email requested, but no mail transport is configured"
        ),
        _ => {}
    }
    Ok(())
}
