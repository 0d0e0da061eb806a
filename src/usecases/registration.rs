//! Registering an account: publicly (`ALLOW_REGISTRATION`) or with an invitation, which opens
//! registration for one email. The operator's way in is `operator::create_user`.

use std::sync::Arc;

use super::guard::refuse_banned;
use super::{notices, Client};
use crate::accounts::validation::RegistrationInput;
use crate::accounts::{Email, RegisterOptions, Registration};
use crate::app::AppContext;
use crate::audit::{Event, Kind};
use crate::error::{Error, Result};
use crate::metrics::RegistrationOutcome;

/// Registers an account. `Ok` tells nothing about whether the email was new: a taken email gets
/// the same answer after the same hashing work, and the verification mail goes out after the
/// answer, so its timing tells nothing either.
pub async fn register(
    ctx: &Arc<AppContext>,
    client: Client,
    input: &RegistrationInput,
    invitation: Option<&str>,
) -> Result<()> {
    let outcome = register_account(ctx, client, input, invitation).await;
    ctx.metrics.registration(RegistrationOutcome::of(&outcome));
    outcome
}

async fn register_account(
    ctx: &Arc<AppContext>,
    client: Client,
    input: &RegistrationInput,
    invitation: Option<&str>,
) -> Result<()> {
    let limiter = &ctx.moderation.limiters.register;
    refuse_banned(ctx, limiter, client.ip, input.email.as_deref()).await?;
    if ctx.directory.is_some() {
        // Not even by invitation: with LDAP on, a local account could never sign in.
        return Err(Error::RegistrationDisabled);
    }
    let invite = match invitation.filter(|t| !t.is_empty()) {
        Some(token) => Some(
            ctx.accounts
                .check_invite(
                    &Email::normalized(input.email.as_deref().unwrap_or_default()),
                    token,
                )
                .await?,
        ),
        None => None,
    };
    let invited = invite.is_some();
    if invite.is_none() && !ctx.config.features.allow_registration {
        return Err(Error::RegistrationDisabled);
    }
    let registration = ctx
        .accounts
        .register(input, &RegisterOptions::public(invite))
        .await?;
    if let Registration::Created(user) = registration {
        // Only a created account is recorded: a taken email leaves the log as it was.
        ctx.audit.record(
            Event::new(Kind::Registered)
                .user(&user.id)
                .client(&client)
                .detail("method", "password")
                .detail("invited", invited),
        );
        if !user.email_verified {
            notices::send_verification_later(ctx, *user, notices::links_for(&client));
        }
    }
    Ok(())
}
