//! Signing in with email and password, completing it with a second factor, renewing a session
//! with its refresh token, and signing out.

use std::sync::Arc;

use super::guard::{limit_code_guesses, refuse_banned};
use super::{Client, SignedIn};
use crate::app::AppContext;
use crate::audit::{Event, Kind};
use crate::error::{Error, Result};
use crate::ldap::{Directory, DirectoryError};
use crate::metrics::SignInOutcome;
use crate::moderation::Subject;
use crate::store::users::{Provider, User};
use crate::twofactor::Code;

/// What a correct password leads to.
pub enum SignIn {
    SignedIn(SignedIn),
    /// 2FA is on: the password was right, and `temp_token` goes with the code to
    /// `complete_second_factor`. No session yet.
    SecondFactorRequired {
        temp_token: String,
    },
}

/// Starts a session for a user who has proved who they are.
pub(super) async fn start_session(
    ctx: &AppContext,
    client: &Client,
    user: Arc<User>,
) -> Result<SignedIn> {
    // Every sign-in route ends here: a disabled user gets no session by any of them.
    ctx.accounts.refuse_disabled(&user.id)?;
    let issued = ctx
        .sessions
        .start(&user, client.session_kind, client.device())
        .await?;
    Ok(SignedIn {
        must_enrol_2fa: crate::sessions::must_enrol_2fa(ctx.config.sessions.require_2fa, &user),
        user,
        issued,
    })
}

/// Email and password (`ALLOW_EMAIL_LOGIN`): the IP's ban, the login limiter, the ban of the
/// account the email names, the switch, then the password. Every credential failure is the
/// same `InvalidCredentials`.
pub async fn sign_in(
    ctx: &AppContext,
    client: Client,
    email: Option<&str>,
    password: Option<&str>,
) -> Result<SignIn> {
    let outcome = password_sign_in(ctx, &client, email, password).await;
    let method = password_method(ctx);
    ctx.metrics.sign_in(
        method,
        match &outcome {
            Ok(SignIn::SignedIn(_)) => SignInOutcome::Success,
            Ok(SignIn::SecondFactorRequired { .. }) => SignInOutcome::SecondFactorRequired,
            Err(e) => SignInOutcome::of_error(e),
        },
    );
    match &outcome {
        Ok(SignIn::SignedIn(signed_in)) => ctx.audit.record(
            Event::new(Kind::SignInSucceeded)
                .user(&signed_in.user.id)
                .client(&client)
                .detail("method", method),
        ),
        // The success is recorded when the second factor completes it.
        Ok(SignIn::SecondFactorRequired { .. }) => {}
        Err(e) => record_password_failure(ctx, &client, method, email, e).await,
    }
    outcome
}

/// The `method` of a password sign-in: the directory's, or the local password.
fn password_method(ctx: &AppContext) -> &'static str {
    if ctx.directory.is_some() {
        "ldap"
    } else {
        "password"
    }
}

/// The longest attempted login kept in a failure's detail: enough for any real address, not
/// a place to store whatever a client sends.
const ATTEMPTED_LOGIN_MAX: usize = 256;

/// Records a refused password sign-in with its reason class. A refusal by a ban or a limiter is
/// recorded without reading the account (under attack there is one per request, and the guard
/// reads no account for them either); a credential failure reads the account the login names,
/// on every such failure alike, to tell a wrong password from an unknown user in the log only.
async fn record_password_failure(
    ctx: &AppContext,
    client: &Client,
    method: &str,
    login: Option<&str>,
    error: &Error,
) {
    let login = login.map(str::trim).filter(|l| !l.is_empty());
    let attempted = |event: Event| match login {
        Some(l) => event.detail("email", truncate(l, ATTEMPTED_LOGIN_MAX)),
        None => event,
    };
    let event = Event::new(Kind::SignInFailed)
        .client(client)
        .detail("method", method);
    let reason = match error {
        Error::Banned { .. } => Some("banned"),
        Error::RateLimited(_) => Some("rate_limited"),
        // Not a verdict on the attempt: the server could not judge it, or nothing was tried.
        Error::Unavailable(_)
        | Error::Internal(_)
        | Error::Overloaded
        | Error::DirectoryUnavailable
        | Error::EmailLoginDisabled => return,
        _ => None,
    };
    if let Some(reason) = reason {
        ctx.audit.record(attempted(event.detail("reason", reason)));
        return;
    }
    let Some(login) = login else {
        return;
    };
    let user = ctx
        .accounts
        .find_by_email(&crate::accounts::Email::normalized(login))
        .await
        .ok()
        .flatten();
    let event = match user {
        None => attempted(event.detail("reason", "unknown_user")),
        Some(user) => {
            let reason = if user.disabled_at.is_some() {
                "disabled"
            } else if matches!(error, Error::EmailNotVerified) {
                "email_not_verified"
            } else {
                "invalid_credentials"
            };
            event.user(&user.id).detail("reason", reason)
        }
    };
    ctx.audit.record(event);
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

async fn password_sign_in(
    ctx: &AppContext,
    client: &Client,
    email: Option<&str>,
    password: Option<&str>,
) -> Result<SignIn> {
    refuse_banned(ctx, &ctx.moderation.limiters.login, client.ip, email).await?;
    if !ctx.config.features.allow_email_login {
        return Err(Error::EmailLoginDisabled);
    }
    let user = match &ctx.directory {
        Some(directory) => directory_user(ctx, directory, client, email, password).await?,
        None => ctx.accounts.login(email, password).await?,
    };
    // Only now that the password checked out: a wrong one is told nothing of the account.
    ctx.accounts.refuse_disabled(&user.id)?;
    // A passkey is a second factor too: the second step offers it beside the code.
    if user.two_factor_enabled || user.has_passkey {
        let temp_token = ctx.sessions.issue_two_factor_temp(&user.id)?;
        tracing::info!(user_id = %user.id, "password accepted, waiting for the second factor");
        return Ok(SignIn::SecondFactorRequired { temp_token });
    }
    let signed_in = start_session(ctx, client, Arc::new(user)).await?;
    tracing::info!(user_id = %signed_in.user.id, "login");
    Ok(SignIn::SignedIn(signed_in))
}

/// LDAP (`LDAP_URL`) replaces the local passwords: the directory checks the password, the
/// account follows what it says of the user, and a ban of that user applies, as on a local
/// login. The field called `email` may hold a username (`LDAP_LOGIN_USES_USERNAME`).
async fn directory_user(
    ctx: &AppContext,
    directory: &Directory,
    client: &Client,
    login: Option<&str>,
    password: Option<&str>,
) -> Result<User> {
    let (Some(login), Some(password)) = (
        login.map(str::trim).filter(|l| !l.is_empty()),
        password.filter(|p| !p.is_empty()),
    ) else {
        return Err(Error::Validation("Missing credentials".into()));
    };
    let profile = match directory.authenticate(login, password).await {
        Ok(profile) => profile,
        Err(DirectoryError::InvalidCredentials) => return Err(Error::InvalidCredentials),
        Err(DirectoryError::Unavailable(why)) => {
            tracing::warn!(%why, "LDAP sign-in failed: the directory is unavailable");
            return Err(Error::DirectoryUnavailable);
        }
        Err(DirectoryError::Unusable(why)) => {
            tracing::error!(%why, "LDAP sign-in refused: set LDAP_ID to an attribute every user has");
            return Err(Error::SignInRefused("auth_failed"));
        }
    };
    let user = ctx.accounts.sign_in_directory(&profile).await?;
    ctx.moderation.check(client.ip, Some(&user.id))?;
    Ok(user)
}

const INVALID_TEMP_TOKEN: &str = "Invalid or expired temporary token";

/// The second step of a login: the temp token of `sign_in` and a TOTP or backup code. Guessing
/// codes scores against the IP and against the account the token names.
pub async fn complete_second_factor(
    ctx: &AppContext,
    client: Client,
    temp_token: Option<&str>,
    code: Option<Code<'_>>,
) -> Result<SignedIn> {
    let Some(temp_token) = temp_token.filter(|t| !t.is_empty()) else {
        return Err(Error::BadRequest("Missing temporary token".into()));
    };
    let user_id = ctx
        .sessions
        .verify_two_factor_temp(temp_token)
        .ok_or_else(|| Error::Unauthorized(INVALID_TEMP_TOKEN.into()))?;
    let backup = matches!(code, Some(Code::Backup(_)));
    let outcome = second_step(ctx, &client, &user_id, code).await;
    let method = password_method(ctx);
    let second_factor = if backup { "backup_code" } else { "totp" };
    ctx.metrics.sign_in(
        second_factor,
        match &outcome {
            Ok(_) => SignInOutcome::Success,
            Err(e) => SignInOutcome::of_error(e),
        },
    );
    match &outcome {
        Ok(_) => {
            if backup {
                ctx.audit.record(
                    Event::new(Kind::BackupCodeUsed)
                        .user(&user_id)
                        .client(&client),
                );
            }
            ctx.audit.record(
                Event::new(Kind::SignInSucceeded)
                    .user(&user_id)
                    .client(&client)
                    .detail("method", method)
                    .detail("second_factor", second_factor),
            );
        }
        Err(e) => {
            let reason = match e {
                Error::Unauthorized(_) => "second_factor_failed",
                Error::RateLimited(_) => "rate_limited",
                Error::Banned { .. } => "banned",
                _ => return outcome,
            };
            ctx.audit.record(
                Event::new(Kind::SignInFailed)
                    .user(&user_id)
                    .client(&client)
                    .detail("method", method)
                    .detail("second_factor", second_factor)
                    .detail("reason", reason),
            );
        }
    }
    outcome
}

/// The second step once the temp token named its user: limiters, bans, then the code.
async fn second_step(
    ctx: &AppContext,
    client: &Client,
    user_id: &str,
    code: Option<Code<'_>>,
) -> Result<SignedIn> {
    let user_id = user_id.to_string();
    let ip = client.ip;
    let limiter = &ctx.moderation.limiters.two_factor_temp;
    let account = Subject::User { id: &user_id, ip };
    ctx.moderation
        .limit_scoring(limiter, Subject::Ip(ip), account)
        .await?;
    limit_code_guesses(ctx, &user_id, ip).await?;
    ctx.moderation.check(ip, Some(&user_id))?;
    let user = ctx
        .accounts
        .user(&user_id)
        .await?
        .ok_or_else(|| Error::Unauthorized(INVALID_TEMP_TOKEN.into()))?;
    if !user.two_factor_enabled {
        return Err(Error::BadRequest("2FA is not enabled for this user".into()));
    }
    if !ctx.two_factor.check_login(&user.id, code).await? {
        return Err(Error::Unauthorized(
            "Invalid 2FA code or backup code".into(),
        ));
    }
    let signed_in = start_session(ctx, client, user).await?;
    tracing::info!(user_id = %signed_in.user.id, "login with second factor");
    Ok(signed_in)
}

/// A new access token (and, unless a concurrent refresh just rotated it, a new refresh token)
/// for the session the refresh token names. `retry` is the client's second attempt. A banned
/// IP or user is refused, as on every other route (a ban also ends the user's sessions, but a
/// session of another account must not be renewed from a banned address either).
pub async fn refresh(
    ctx: &AppContext,
    ip: std::net::IpAddr,
    refresh_token: &str,
    retry: bool,
) -> Result<SignedIn> {
    ctx.moderation.check(ip, None)?;
    let claims = ctx.sessions.verify_refresh(refresh_token)?;
    ctx.moderation.check(ip, Some(&claims.id))?;
    ctx.accounts.refuse_disabled(&claims.id)?;
    let user = ctx
        .accounts
        .user(&claims.id)
        .await?
        .ok_or(Error::RefreshUserGone)?;
    let issued = ctx
        .sessions
        .rotate(&claims, refresh_token, &user, retry)
        .await?;
    Ok(SignedIn {
        must_enrol_2fa: crate::sessions::must_enrol_2fa(ctx.config.sessions.require_2fa, &user),
        user,
        issued,
    })
}

/// What signing out leaves to do.
pub struct SignedOut {
    /// An OpenID user is also sent to the provider to end its session there
    /// (`OPENID_USE_END_SESSION_ENDPOINT`).
    pub provider_logout_url: Option<String>,
}

/// Ends the session named by the refresh token and the one named by the access token (either
/// may be missing or expired: signing out with an expired token works).
pub async fn sign_out(
    ctx: &AppContext,
    refresh_token: Option<&str>,
    access_token: Option<&str>,
) -> Result<SignedOut> {
    ctx.sessions.logout(refresh_token, access_token).await?;
    let from_openid = access_token
        .and_then(|t| ctx.sessions.access_claims_ignoring_expiry(t))
        .is_some_and(|c| c.provider == Provider::OpenId.as_str());
    let provider_logout_url = match (from_openid, ctx.openid.as_ref()) {
        (true, Some(openid)) => openid.end_session_url(&ctx.config.client.domain_client),
        _ => None,
    };
    Ok(SignedOut {
        provider_logout_url,
    })
}

/// Ends the browser session its single-sign-on cookie names (the sign-in pages' sign-out; an
/// expired cookie still names it).
pub async fn sign_out_browser(ctx: &AppContext, cookie: Option<&str>) -> Result<()> {
    ctx.sessions.logout_browser(cookie).await
}
