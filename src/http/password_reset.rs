//! `/api/auth/requestPasswordReset` and `/api/auth/resetPassword`: the emailed password reset,
//! behind `ALLOW_PASSWORD_RESET`. The reset link only ever travels by mail: LibreChat hands it
//! to any caller when no mail transport is configured; Bouncer never does.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::check_ban;
use super::extract::{ApiJson, ClientIp};
use crate::accounts::validation::{is_valid_email, normalize_email};
use crate::app::AppContext;
use crate::error::{Error, Result};
use crate::mail::flows;
use crate::moderation::Subject;

/// The one answer to every accepted reset request, known email or not.
pub const RESET_REQUESTED: &str =
    "If an account with that email exists, a password reset link has been sent to it.";

#[derive(Deserialize)]
pub struct RequestBody {
    email: Option<String>,
}

pub async fn request(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<RequestBody>,
) -> Result<Json<Value>> {
    check_ban(&ctx, ip, body.email.as_deref()).await?;
    let limiter = &ctx.moderation.limiters.reset_password;
    ctx.moderation
        .limit(limiter, Subject::Ip(ip), &ctx.sessions)
        .await?;
    if !ctx.config.features.allow_password_reset {
        return Err(Error::PasswordResetDisabled);
    }
    let email = normalize_email(body.email.as_deref().unwrap_or_default());
    if !is_valid_email(&email) {
        return Err(Error::BadRequest("email: Invalid email".into()));
    }
    if !ctx.config.yaml.email_domain_allowed(&email) {
        return Err(Error::ResetDomainNotAllowed);
    }
    // The token is issued and the message sent after the answer, so the answer looks and takes
    // the same whether or not the account exists.
    if let Some(user) = ctx.accounts.find_by_email(&email).await? {
        if ctx.mail.configured() {
            flows::send_reset_link_later(&ctx, user);
        } else {
            tracing::warn!(
                user_id = %user.id,
                "password reset requested, but no mail transport is configured to deliver it"
            );
        }
    }
    Ok(Json(json!({ "message": RESET_REQUESTED })))
}

#[derive(Deserialize)]
pub struct ResetBody {
    #[serde(rename = "userId")]
    user_id: Option<String>,
    token: Option<String>,
    password: Option<String>,
    confirm_password: Option<String>,
}

pub async fn reset(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<ResetBody>,
) -> Result<Json<Value>> {
    ctx.moderation.check(ip, body.user_id.as_deref())?;
    let limiter = &ctx.moderation.limiters.reset_password_submission;
    ctx.moderation
        .limit(limiter, Subject::Ip(ip), &ctx.sessions)
        .await?;
    if !ctx.config.features.allow_password_reset {
        return Err(Error::PasswordResetDisabled);
    }
    let (Some(user_id), Some(token)) = (body.user_id.as_deref(), body.token.as_deref()) else {
        return Err(Error::InvalidResetToken);
    };
    let (user, ended) = ctx
        .accounts
        .reset_password(
            user_id,
            token,
            body.password.as_deref().unwrap_or_default(),
            body.confirm_password.as_deref(),
        )
        .await?;
    ctx.sessions.revoked_elsewhere(&ended);
    if ctx.mail.configured() {
        flows::send_reset_done_later(&ctx, user);
    }
    Ok(Json(json!({ "message": "Password reset was successful" })))
}
