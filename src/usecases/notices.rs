//! When Bouncer emails, and with which token: the mail the use cases send. Requests hand it to
//! the background (`Mailer::background`), so an answer never waits for (or tells about) mail;
//! the operator commands wait for it and report a failure.

use std::sync::Arc;

use crate::accounts::Email;
use crate::app::AppContext;
use crate::mail::{Links, Notice};
use crate::store::email_tokens::Purpose;
use crate::store::users::User;

/// Issues a fresh verification token (replacing the previous one) and mails its link.
pub async fn send_verification(ctx: &AppContext, user: &User, links: Links) -> anyhow::Result<()> {
    let token = ctx
        .accounts
        .issue_email_token(Purpose::EmailVerification, user)
        .await?;
    ctx.mail
        .send(Notice::VerifyEmail {
            name: &user.name,
            email: &user.email,
            token: &token,
            links,
        })
        .await?;
    tracing::info!(user_id = %user.id, "verification email sent");
    Ok(())
}

/// Issues a fresh password-reset token (replacing the previous one) and mails its link.
pub async fn send_reset_link(ctx: &AppContext, user: &User, links: Links) -> anyhow::Result<()> {
    let token = ctx
        .accounts
        .issue_email_token(Purpose::PasswordReset, user)
        .await?;
    ctx.mail
        .send(Notice::ResetRequest {
            name: &user.name,
            email: &user.email,
            user_id: &user.id,
            token: &token,
            links,
        })
        .await?;
    tracing::info!(user_id = %user.id, "password reset email sent");
    Ok(())
}

pub fn send_verification_later(ctx: &Arc<AppContext>, user: User, links: Links) {
    let task_ctx = ctx.clone();
    ctx.mail.background("verification email", async move {
        send_verification(&task_ctx, &user, links).await
    });
}

pub fn send_reset_link_later(ctx: &Arc<AppContext>, user: User, links: Links) {
    let task_ctx = ctx.clone();
    ctx.mail.background("password reset email", async move {
        send_reset_link(&task_ctx, &user, links).await
    });
}

/// The links a client's mail carries: the pages' for a browser on the pages.
pub fn links_for(client: &super::Client) -> Links {
    match client.session_kind {
        crate::sessions::SessionKind::Api => Links::Client,
        crate::sessions::SessionKind::Browser => Links::Pages,
    }
}

/// Tells the user their password was reset (so a reset they did not ask for is noticed).
pub fn send_reset_done_later(ctx: &Arc<AppContext>, user: User) {
    let task_ctx = ctx.clone();
    ctx.mail.background("password changed email", async move {
        task_ctx
            .mail
            .send(Notice::ResetDone {
                name: &user.name,
                email: &user.email,
            })
            .await
    });
}

/// What `invite` did.
pub enum Invitation {
    /// The invitation was mailed.
    Sent,
    /// No mail transport: the operator passes this link on.
    Link(String),
}

/// Creates an invitation for `email` and mails it, or returns its link without mail.
pub async fn invite(ctx: &AppContext, email: &Email) -> crate::error::Result<Invitation> {
    let token = ctx.accounts.create_invite(email).await?;
    if !ctx.mail.configured() {
        return Ok(Invitation::Link(ctx.mail.invite_link(&token)));
    }
    ctx.mail
        .send(Notice::Invite {
            email: email.as_str(),
            token: &token,
        })
        .await?;
    Ok(Invitation::Sent)
}
