//! Passkeys: registering, naming and removing them (a signed-in user), signing in with one
//! instead of a password, and using one as the second step of a password sign-in. A passkey
//! sign-in goes through the same checks as every sign-in (the IP's ban, the login limiter, the
//! account's ban, a disabled account, the audit) and ends as they do, in `start_session`.
//!
//! A passkey asserts user verification (webauthn-rs requires it): something held and a PIN or
//! a biometric. Signing in with one is therefore not followed by a TOTP step.

use std::sync::Arc;

use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse};

use super::guard::{limit_code_guesses, refuse_banned};
use super::sign_in::start_session;
use super::{Client, SignedIn};
use crate::app::AppContext;
use crate::audit::{Event, Kind};
use crate::error::{Error, Result};
use crate::moderation::Subject;
use crate::passkeys::{Passkeys, Refusal, Started, NAME_MAX};
use crate::store::passkeys::StoredPasskey;
use crate::store::users::User;

pub const PASSKEYS_DISABLED: &str = "Passkeys are not enabled";
const INVALID_TEMP_TOKEN: &str = "Invalid or expired temporary token";
const DEFAULT_NAME: &str = "Passkey";

fn service(ctx: &AppContext) -> Result<&Passkeys> {
    ctx.passkeys
        .as_ref()
        .ok_or_else(|| Error::NotFound(PASSKEYS_DISABLED.into()))
}

fn client_key(ctx: &AppContext, client: &Client) -> String {
    crate::passkeys::client_key(client.ip, ctx.config.moderation.ipv6_prefix_length)
}

/// A passkey's name: trimmed, at most `NAME_MAX` characters, "Passkey" when left empty.
fn valid_name(name: Option<&str>) -> Result<String> {
    let name = name.map(str::trim).unwrap_or("");
    if name.chars().count() > NAME_MAX {
        return Err(Error::BadRequest(format!(
            "A passkey name has at most {NAME_MAX} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::BadRequest("Invalid passkey name".into()));
    }
    Ok(if name.is_empty() {
        DEFAULT_NAME.to_string()
    } else {
        name.to_string()
    })
}

async fn signed_in_user(ctx: &AppContext, client: &Client, user_id: &str) -> Result<Arc<User>> {
    ctx.moderation.check(client.ip, Some(user_id))?;
    ctx.accounts.refuse_disabled(user_id)?;
    ctx.accounts
        .user(user_id)
        .await?
        .ok_or_else(|| Error::Unauthorized("User not found".into()))
}

/// The options that begin registering a passkey for the signed-in user.
pub async fn start_registration(
    ctx: &AppContext,
    client: &Client,
    user_id: &str,
) -> Result<Started<CreationChallengeResponse>> {
    let passkeys = service(ctx)?;
    let user = signed_in_user(ctx, client, user_id).await?;
    let display = if user.name.trim().is_empty() {
        &user.email
    } else {
        &user.name
    };
    passkeys
        .start_registration(&client_key(ctx, client), &user.id, &user.email, display)
        .await
}

/// The authenticator's answer to those options: the new passkey, stored under `name`.
pub async fn finish_registration(
    ctx: &AppContext,
    client: &Client,
    user_id: &str,
    ceremony: Option<&str>,
    credential: Option<&str>,
    name: Option<&str>,
) -> Result<StoredPasskey> {
    let passkeys = service(ctx)?;
    let name = valid_name(name)?;
    signed_in_user(ctx, client, user_id).await?;
    let stored = passkeys
        .finish_registration(user_id, ceremony, credential, &name)
        .await?;
    tracing::info!(%user_id, passkey = %stored.id, "passkey registered");
    ctx.audit.record(
        Event::new(Kind::PasskeyRegistered)
            .user(user_id)
            .client(client)
            .detail("passkey", stored.id.clone()),
    );
    Ok(stored)
}

/// The options that begin a sign-in with a passkey. Only the IP's ban is checked here: the
/// attempt is the result, and the login limiter counts that.
pub async fn start_sign_in(
    ctx: &AppContext,
    client: &Client,
    conditional: bool,
) -> Result<Started<RequestChallengeResponse>> {
    let passkeys = service(ctx)?;
    ctx.moderation.check(client.ip, None)?;
    passkeys
        .start_sign_in(&client_key(ctx, client), conditional)
        .await
}

/// A sign-in with a passkey: the IP's ban and the login limiter, the assertion, then the
/// account's ban and state, as a password sign-in.
pub async fn sign_in(
    ctx: &AppContext,
    client: Client,
    ceremony: Option<&str>,
    credential: Option<&str>,
) -> Result<SignedIn> {
    let passkeys = service(ctx)?;
    refuse_banned(ctx, &ctx.moderation.limiters.login, client.ip, None)
        .await
        .inspect_err(|e| record_failure(ctx, &client, None, false, e))?;
    let stored = match passkeys.finish_sign_in(ceremony, credential).await {
        Ok(stored) => stored,
        Err(refusal) => return Err(refused(ctx, &client, None, refusal)),
    };
    let user_id = stored.user_id.clone();
    let outcome = async {
        ctx.moderation.check(client.ip, Some(&user_id))?;
        let user = ctx
            .accounts
            .user(&user_id)
            .await?
            .ok_or_else(|| Error::Unauthorized(crate::passkeys::PASSKEY_REFUSED.into()))?;
        start_session(ctx, &client, user).await
    }
    .await;
    match &outcome {
        Ok(_) => {
            tracing::info!(%user_id, passkey = %stored.id, "login with a passkey");
            ctx.audit.record(
                Event::new(Kind::SignInSucceeded)
                    .user(&user_id)
                    .client(&client)
                    .detail("method", "passkey")
                    .detail("passkey", stored.id.clone()),
            );
        }
        Err(e) => record_failure(ctx, &client, Some(&user_id), false, e),
    }
    outcome
}

/// A refused assertion: recorded with its reason, answered with the one message.
fn refused(ctx: &AppContext, client: &Client, second_factor_of: Option<&str>, r: Refusal) -> Error {
    let user_id = r.user_id.as_deref().or(second_factor_of);
    let mut event = Event::new(Kind::SignInFailed)
        .client(client)
        .detail("reason", format!("passkey_{}", r.reason));
    event = match second_factor_of {
        Some(_) => event
            .detail("method", password_method(ctx))
            .detail("second_factor", "passkey"),
        None => event.detail("method", "passkey"),
    };
    if let Some(id) = user_id {
        event = event.user(id);
    }
    ctx.audit.record(event);
    r.error
}

fn record_failure(
    ctx: &AppContext,
    client: &Client,
    user_id: Option<&str>,
    second_factor: bool,
    e: &Error,
) {
    let reason = match e {
        Error::Banned { .. } => "banned",
        Error::RateLimited(_) => "rate_limited",
        Error::AccountDisabled => "disabled",
        Error::Unauthorized(_) => "invalid_credentials",
        _ => return,
    };
    let mut event = Event::new(Kind::SignInFailed)
        .client(client)
        .detail("reason", reason);
    event = if second_factor {
        event
            .detail("method", password_method(ctx))
            .detail("second_factor", "passkey")
    } else {
        event.detail("method", "passkey")
    };
    if let Some(id) = user_id {
        event = event.user(id);
    }
    ctx.audit.record(event);
}

fn password_method(ctx: &AppContext) -> &'static str {
    if ctx.directory.is_some() {
        "ldap"
    } else {
        "password"
    }
}

fn temp_token_user(ctx: &AppContext, temp_token: Option<&str>) -> Result<String> {
    let Some(temp_token) = temp_token.filter(|t| !t.is_empty()) else {
        return Err(Error::BadRequest("Missing temporary token".into()));
    };
    ctx.sessions
        .verify_two_factor_temp(temp_token)
        .ok_or_else(|| Error::Unauthorized(INVALID_TEMP_TOKEN.into()))
}

/// What the second step may be completed with, for the pages.
pub struct SecondFactorChoices {
    /// A TOTP or backup code (the user has TOTP on).
    pub code: bool,
    pub passkey: bool,
}

/// The temp token's user's ways through the second step (both, for a token that does not
/// verify: the step refuses it anyway).
pub async fn second_factor_choices(ctx: &AppContext, temp_token: &str) -> SecondFactorChoices {
    let user = match ctx.sessions.verify_two_factor_temp(temp_token) {
        Some(id) => ctx.accounts.user(&id).await.ok().flatten(),
        None => None,
    };
    match user {
        Some(user) => SecondFactorChoices {
            code: user.two_factor_enabled,
            passkey: ctx.passkeys.is_some() && user.has_passkey,
        },
        None => SecondFactorChoices {
            code: true,
            passkey: false,
        },
    }
}

/// The options of the second step of a password sign-in, for the temp token's user.
pub async fn start_second_factor(
    ctx: &AppContext,
    client: &Client,
    temp_token: Option<&str>,
) -> Result<Started<RequestChallengeResponse>> {
    let passkeys = service(ctx)?;
    let user_id = temp_token_user(ctx, temp_token)?;
    ctx.moderation.check(client.ip, Some(&user_id))?;
    passkeys
        .start_second_factor(&client_key(ctx, client), &user_id)
        .await?
        .ok_or_else(|| Error::BadRequest("No passkey is registered for this account".into()))
}

/// The second step of a password sign-in with a passkey instead of a code: the same limiters
/// and bans as a code, then the assertion.
pub async fn complete_second_factor(
    ctx: &AppContext,
    client: Client,
    temp_token: Option<&str>,
    ceremony: Option<&str>,
    credential: Option<&str>,
) -> Result<SignedIn> {
    let passkeys = service(ctx)?;
    let user_id = temp_token_user(ctx, temp_token)?;
    let outcome = async {
        let ip = client.ip;
        let limiter = &ctx.moderation.limiters.two_factor_temp;
        let account = Subject::User { id: &user_id, ip };
        ctx.moderation
            .limit_scoring(limiter, Subject::Ip(ip), account)
            .await?;
        limit_code_guesses(ctx, &user_id, ip).await?;
        ctx.moderation.check(ip, Some(&user_id))?;
        Ok::<_, Error>(())
    }
    .await;
    if let Err(e) = outcome {
        record_failure(ctx, &client, Some(&user_id), true, &e);
        return Err(e);
    }
    let stored = match passkeys
        .finish_second_factor(&user_id, ceremony, credential)
        .await
    {
        Ok(stored) => stored,
        Err(refusal) => return Err(refused(ctx, &client, Some(&user_id), refusal)),
    };
    let user = ctx
        .accounts
        .user(&user_id)
        .await?
        .ok_or_else(|| Error::Unauthorized(INVALID_TEMP_TOKEN.into()))?;
    let signed_in = start_session(ctx, &client, user)
        .await
        .inspect_err(|e| record_failure(ctx, &client, Some(&user_id), true, e))?;
    tracing::info!(%user_id, passkey = %stored.id, "login with a passkey as second factor");
    ctx.audit.record(
        Event::new(Kind::SignInSucceeded)
            .user(&user_id)
            .client(&client)
            .detail("method", password_method(ctx))
            .detail("second_factor", "passkey")
            .detail("passkey", stored.id),
    );
    Ok(signed_in)
}

/// The user's passkeys, oldest first.
pub async fn list(ctx: &AppContext, user_id: &str) -> Result<Vec<StoredPasskey>> {
    service(ctx)?.list(user_id).await
}

const NO_SUCH_PASSKEY: &str = "Passkey not found";

pub async fn rename(
    ctx: &AppContext,
    client: &Client,
    user_id: &str,
    id: &str,
    name: Option<&str>,
) -> Result<()> {
    let passkeys = service(ctx)?;
    let name = valid_name(name)?;
    ctx.moderation.check(client.ip, Some(user_id))?;
    if !passkeys.rename(user_id, id, &name).await? {
        return Err(Error::NotFound(NO_SUCH_PASSKEY.into()));
    }
    Ok(())
}

pub async fn remove(ctx: &AppContext, client: &Client, user_id: &str, id: &str) -> Result<()> {
    let passkeys = service(ctx)?;
    ctx.moderation.check(client.ip, Some(user_id))?;
    let removed = passkeys
        .remove(user_id, id)
        .await?
        .ok_or_else(|| Error::NotFound(NO_SUCH_PASSKEY.into()))?;
    tracing::info!(%user_id, passkey = %removed.id, "passkey removed");
    ctx.audit.record(
        Event::new(Kind::PasskeyRemoved)
            .user(user_id)
            .client(client)
            .detail("passkey", removed.id),
    );
    Ok(())
}
