//! `/api/auth/2fa/*` on the wire: enrolment, confirmation, codes, and the second step of a
//! login. The rules are `usecases::second_factor` and `usecases::sign_in`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::session_response;
use super::extract::{ApiJson, ClientIp, EnrollingUser, UserAgent};
use crate::app::AppContext;
use crate::error::Result;
use crate::twofactor::Code;
use crate::usecases::{second_factor, sign_in, Client};

/// `{"token"?, "backupCode"?}`: a TOTP code or a backup code.
#[derive(Deserialize)]
pub struct CodeBody {
    token: Option<String>,
    #[serde(rename = "backupCode")]
    backup_code: Option<String>,
}

impl CodeBody {
    pub(super) fn code(&self) -> Option<Code<'_>> {
        Code::from_body(self.token.as_deref(), self.backup_code.as_deref())
    }
}

pub async fn enable(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    EnrollingUser(claims): EnrollingUser,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<Value>> {
    let enrolment = second_factor::enrol(&ctx, Client::at(ip), &claims.id, body.code()).await?;
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
    second_factor::check_code(&ctx, Client::at(ip), &claims.id, body.code()).await?;
    Ok(Json(json!({})))
}

pub async fn confirm(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    EnrollingUser(claims): EnrollingUser,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<Value>> {
    second_factor::confirm(&ctx, Client::at(ip), &claims.id, body.token.as_deref()).await?;
    Ok(Json(json!({})))
}

pub async fn disable(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    EnrollingUser(claims): EnrollingUser,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<Value>> {
    second_factor::disable(&ctx, Client::at(ip), &claims.id, body.code()).await?;
    Ok(Json(json!({})))
}

pub async fn regenerate(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    EnrollingUser(claims): EnrollingUser,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<Value>> {
    let (codes, stored) =
        second_factor::regenerate_backup_codes(&ctx, Client::at(ip), &claims.id, body.code())
            .await?;
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
    UserAgent(user_agent): UserAgent,
    ApiJson(body): ApiJson<VerifyTempBody>,
) -> Result<Response> {
    let signed_in = sign_in::complete_second_factor(
        &ctx,
        Client::api(ip, user_agent.as_deref()),
        body.temp_token.as_deref(),
        body.code.code(),
    )
    .await?;
    Ok(session_response(&ctx, &signed_in))
}
