//! The checks many use cases open with, so each is written once.

use std::net::IpAddr;

use crate::accounts::Email;
use crate::app::AppContext;
use crate::error::Result;
use crate::moderation::{Limiter, Subject};

/// The opening of the anonymous account routes (login, registration, reset request): the
/// client IP's ban, the route's limiter, then the ban of the account the submitted email
/// names, so a banned user is refused from any IP. The account's ban comes after the limiter:
/// a prober the limiter stopped learns nothing of which emails are banned (nor costs a
/// database read per attempt).
pub async fn refuse_banned(
    ctx: &AppContext,
    limiter: &Limiter,
    ip: IpAddr,
    email: Option<&str>,
) -> Result<()> {
    ctx.moderation.check(ip, None)?;
    limit_ip(ctx, limiter, ip).await?;
    if let Some(email) = email.filter(|e| !e.trim().is_empty()) {
        if let Some(user) = ctx
            .accounts
            .find_by_email(&Email::normalized(email))
            .await?
        {
            ctx.moderation.check(ip, Some(&user.id))?;
        }
    }
    Ok(())
}

/// Counts the request against one of the anonymous limiters, keyed by the client IP.
pub async fn limit_ip(ctx: &AppContext, limiter: &Limiter, ip: IpAddr) -> Result<()> {
    ctx.moderation.limit(limiter, Subject::Ip(ip)).await
}

/// Every route that checks a 2FA code shares the verify-temp limiter's per-account window: a
/// stolen access token must not buy unlimited guesses at the codes that protect the account.
pub async fn limit_code_guesses(ctx: &AppContext, user_id: &str, ip: IpAddr) -> Result<()> {
    let limiter = &ctx.moderation.limiters.two_factor_temp;
    ctx.moderation
        .limit(limiter, Subject::User { id: user_id, ip })
        .await
}
