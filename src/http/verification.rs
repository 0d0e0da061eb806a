//! `/api/user/verify` and `/api/user/verify/resend`: email verification. Neither answer tells
//! whether an account exists.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::REGISTRATION_MESSAGE;
use super::extract::{ApiJson, ClientIp};
use crate::accounts::validation::{is_valid_email, normalize_email};
use crate::app::AppContext;
use crate::error::{Error, Result};
use crate::mail::flows;
use crate::moderation::Subject;

#[derive(Deserialize)]
pub struct VerifyBody {
    email: Option<String>,
    token: Option<String>,
}

pub async fn verify(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<VerifyBody>,
) -> Result<Json<Value>> {
    ctx.moderation.check(ip, None)?;
    let limiter = &ctx.moderation.limiters.verify_email_submission;
    ctx.moderation
        .limit(limiter, Subject::Ip(ip), &ctx.sessions)
        .await?;
    let (Some(email), Some(token)) = (body.email.as_deref(), body.token.as_deref()) else {
        return Err(Error::InvalidVerificationToken);
    };
    // The web client passes the email on as it found it in the link: maybe still URL-encoded.
    let email = percent_encoding::percent_decode_str(email).decode_utf8_lossy();
    ctx.accounts.verify_email(&email, token).await?;
    Ok(Json(json!({
        "message": "Email verification was successful",
        "status": "success",
    })))
}

#[derive(Deserialize)]
pub struct ResendBody {
    email: Option<String>,
}

pub async fn resend(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<ResendBody>,
) -> Result<Json<Value>> {
    ctx.moderation.check(ip, None)?;
    let limiter = &ctx.moderation.limiters.verify_email;
    ctx.moderation
        .limit(limiter, Subject::Ip(ip), &ctx.sessions)
        .await?;
    let email = normalize_email(body.email.as_deref().unwrap_or_default());
    if !is_valid_email(&email) {
        return Err(Error::BadRequest("email: Invalid email".into()));
    }
    match ctx.accounts.find_by_email(&email).await? {
        Some(user) if !user.email_verified && ctx.mail.configured() => {
            flows::send_verification_later(&ctx, user);
        }
        Some(user) if !user.email_verified => tracing::warn!(
            user_id = %user.id,
            "verification email requested, but no mail transport is configured"
        ),
        _ => {}
    }
    Ok(Json(json!({ "message": REGISTRATION_MESSAGE })))
}
