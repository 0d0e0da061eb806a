//! `/api/auth/2fa/*` on the wire: enrolment, confirmation, codes, and the second step of a
//! login. The rules are `usecases::second_factor` and `usecases::sign_in`.

use super::openapi_schemas as schema;
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
#[derive(Deserialize, utoipa::ToSchema)]
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

#[utoipa::path(method(get, post), path = "/api/auth/2fa/enable", tag = "2fa",
    security(("bearer" = [])),
    request_body = CodeBody,
    responses(
        (status = 200, description = "A new secret and backup codes, to confirm", body = schema::TwoFactorEnrolment),
        (status = 400, description = "2FA is on already (a code is needed to start over), or the code is wrong", body = schema::Message),
    ))]
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

#[utoipa::path(post, path = "/api/auth/2fa/verify", tag = "2fa",
    security(("bearer" = [])),
    request_body = CodeBody,
    responses(
        (status = 200, description = "The code is right", body = schema::Empty),
        (status = 400, description = "A missing or wrong code, or 2FA in the wrong state", body = schema::Message),
    ))]
pub async fn verify(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    EnrollingUser(claims): EnrollingUser,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<Value>> {
    second_factor::check_code(&ctx, Client::at(ip), &claims.id, body.code()).await?;
    Ok(Json(json!({})))
}

#[utoipa::path(post, path = "/api/auth/2fa/confirm", tag = "2fa",
    security(("bearer" = [])),
    request_body = CodeBody,
    responses(
        (status = 200, description = "2FA is on", body = schema::Empty),
        (status = 400, description = "A missing or wrong code, or 2FA in the wrong state", body = schema::Message),
    ))]
pub async fn confirm(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    EnrollingUser(claims): EnrollingUser,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<Value>> {
    second_factor::confirm(&ctx, Client::at(ip), &claims.id, body.token.as_deref()).await?;
    Ok(Json(json!({})))
}

#[utoipa::path(post, path = "/api/auth/2fa/disable", tag = "2fa",
    security(("bearer" = [])),
    request_body = CodeBody,
    responses(
        (status = 200, description = "2FA is off", body = schema::Empty),
        (status = 400, description = "A missing or wrong code, or 2FA in the wrong state", body = schema::Message),
    ))]
pub async fn disable(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    EnrollingUser(claims): EnrollingUser,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<Value>> {
    second_factor::disable(&ctx, Client::at(ip), &claims.id, body.code()).await?;
    Ok(Json(json!({})))
}

#[utoipa::path(post, path = "/api/auth/2fa/backup/regenerate", tag = "2fa",
    security(("bearer" = [])),
    request_body = CodeBody,
    responses(
        (status = 200, description = "New backup codes", body = schema::BackupCodes),
        (status = 400, description = "A missing or wrong code, or 2FA in the wrong state", body = schema::Message),
    ))]
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

#[derive(Deserialize, utoipa::ToSchema)]
pub struct VerifyTempBody {
    #[serde(rename = "tempToken")]
    temp_token: Option<String>,
    #[serde(flatten)]
    code: CodeBody,
}

/// The second step of a login: a temp token from `/api/auth/login` and a code. Success is a
/// login in every way (session, cookies, `{token, user}`).
#[utoipa::path(post, path = "/api/auth/2fa/verify-temp", tag = "2fa",
    request_body = VerifyTempBody,
    responses(
        (status = 200, description = "Signed in, as a login is", body = schema::Session),
        (status = 400, description = "A missing or wrong code", body = schema::Message),
        (status = 401, description = "A missing, expired or wrong temp token", body = schema::Message),
    ))]
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
