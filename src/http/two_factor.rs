//! `/api/auth/2fa/*`: enrolment, confirmation, codes, and the second step of a login.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::session_response;
use super::extract::{ApiJson, ClientIp, EnrollingUser};
use crate::app::AppContext;
use crate::error::{Error, Result};
use crate::moderation::Subject;
use crate::twofactor::Code;

/// `{"token"?, "backupCode"?}`: a TOTP code or a backup code.
#[derive(Deserialize)]
pub struct CodeBody {
    token: Option<String>,
    #[serde(rename = "backupCode")]
    backup_code: Option<String>,
}

impl CodeBody {
    fn code(&self) -> Option<Code<'_>> {
        Code::from_body(self.token.as_deref(), self.backup_code.as_deref())
    }
}

/// Every route that checks a code shares the verify-temp limiter's per-account window: a
/// stolen access token must not buy unlimited guesses at the codes that protect the account.
pub(super) async fn limit_code_guesses(
    ctx: &AppContext,
    user_id: &str,
    ip: std::net::IpAddr,
) -> Result<()> {
    let limiter = &ctx.moderation.limiters.two_factor_temp;
    ctx.moderation
        .limit(limiter, Subject::User { id: user_id, ip }, &ctx.sessions)
        .await
}

async fn current_user(ctx: &AppContext, id: &str) -> Result<Arc<crate::store::users::User>> {
    ctx.accounts.user(id).await?.ok_or(Error::UserNotFound)
}

pub async fn enable(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    EnrollingUser(claims): EnrollingUser,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<Value>> {
    // A first enrolment checks no code; a re-enrolment does.
    if body.code().is_some() {
        limit_code_guesses(&ctx, &claims.id, ip).await?;
    }
    let user = current_user(&ctx, &claims.id).await?;
    let enrolment = ctx.two_factor.enable(&user, body.code()).await?;
    Ok(Json(json!({
        "otpauthUrl": enrolment.otpauth_url,
        "backupCodes": enrolment.backup_codes,
    })))
}

pub async fn verify(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    EnrollingUser(claims): EnrollingUser,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<Value>> {
    limit_code_guesses(&ctx, &claims.id, ip).await?;
    ctx.two_factor.verify(&claims.id, body.code()).await?;
    Ok(Json(json!({})))
}

pub async fn confirm(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    EnrollingUser(claims): EnrollingUser,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<Value>> {
    limit_code_guesses(&ctx, &claims.id, ip).await?;
    ctx.two_factor
        .confirm(&claims.id, body.token.as_deref())
        .await?;
    ctx.accounts.forget_cached(&claims.id);
    Ok(Json(json!({})))
}

pub async fn disable(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    EnrollingUser(claims): EnrollingUser,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<Value>> {
    limit_code_guesses(&ctx, &claims.id, ip).await?;
    ctx.two_factor.disable(&claims.id, body.code()).await?;
    ctx.accounts.forget_cached(&claims.id);
    Ok(Json(json!({})))
}

pub async fn regenerate(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    EnrollingUser(claims): EnrollingUser,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<Value>> {
    limit_code_guesses(&ctx, &claims.id, ip).await?;
    let (codes, stored) = ctx.two_factor.regenerate(&claims.id, body.code()).await?;
    Ok(Json(
        json!({ "backupCodes": codes, "backupCodesHash": stored }),
    ))
}

#[derive(Deserialize)]
pub struct VerifyTempBody {
    #[serde(rename = "tempToken")]
    temp_token: Option<String>,
    #[serde(flatten)]
    code: CodeBody,
}

/// The second step of a login: a temp token from `/api/auth/login` and a code. Success is a
/// login in every way (session, cookies, `{token, user}`).
pub async fn verify_temp(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<VerifyTempBody>,
) -> Result<Response> {
    let Some(temp_token) = body.temp_token.as_deref().filter(|t| !t.is_empty()) else {
        return Err(Error::BadRequest("Missing temporary token".into()));
    };
    let user_id = ctx
        .sessions
        .verify_two_factor_temp(temp_token)
        .ok_or_else(|| Error::Unauthorized("Invalid or expired temporary token".into()))?;
    // Guessing codes scores against the IP and against the account the token names.
    let limiter = &ctx.moderation.limiters.two_factor_temp;
    let user = Subject::User { id: &user_id, ip };
    ctx.moderation
        .limit_scoring(limiter, Subject::Ip(ip), user, &ctx.sessions)
        .await?;
    limit_code_guesses(&ctx, &user_id, ip).await?;
    ctx.moderation.check(ip, Some(&user_id))?;
    let user = ctx
        .accounts
        .user(&user_id)
        .await?
        .ok_or_else(|| Error::Unauthorized("Invalid or expired temporary token".into()))?;
    if !user.two_factor_enabled {
        return Err(Error::BadRequest("2FA is not enabled for this user".into()));
    }
    if !ctx
        .two_factor
        .check_login(&user.id, body.code.code())
        .await?
    {
        return Err(Error::Unauthorized(
            "Invalid 2FA code or backup code".into(),
        ));
    }
    let issued = ctx.sessions.start(&user).await?;
    tracing::info!(user_id = %user.id, "login with second factor");
    Ok(session_response(&ctx, &issued, &user))
}
