//! `/api/user`: the signed-in user and their acceptance of the terms.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::extract::{ApiJson, AuthUser, ClientIp};
use crate::accounts::{iso_time, PublicUser};
use crate::app::AppContext;
use crate::error::{Error, Result};
use crate::twofactor::Code;

pub async fn me(
    State(ctx): State<Arc<AppContext>>,
    AuthUser(claims): AuthUser,
) -> Result<Response> {
    let user = ctx
        .accounts
        .user(&claims.id)
        .await?
        .ok_or_else(|| Error::Unauthorized("Unauthorized".into()))?;
    Ok(Json(PublicUser::from(user.as_ref())).into_response())
}

pub async fn terms(
    State(ctx): State<Arc<AppContext>>,
    AuthUser(claims): AuthUser,
) -> Result<Response> {
    let user = ctx
        .accounts
        .user(&claims.id)
        .await?
        .ok_or(Error::UserNotFound)?;
    Ok(Json(json!({
        "termsAccepted": user.terms_accepted,
        "termsAcceptedAt": user.terms_accepted_at.map(iso_time),
    }))
    .into_response())
}

pub async fn accept_terms(
    State(ctx): State<Arc<AppContext>>,
    AuthUser(claims): AuthUser,
) -> Result<Response> {
    let at = ctx.accounts.accept_terms(&claims.id).await?;
    Ok(Json(json!({
        "message": "Terms accepted successfully",
        "termsAcceptedAt": iso_time(at),
    }))
    .into_response())
}

#[derive(serde::Deserialize)]
pub struct DeleteBody {
    token: Option<String>,
    #[serde(rename = "backupCode")]
    backup_code: Option<String>,
}

/// Deletes the signed-in user's account (`ALLOW_ACCOUNT_DELETION`, always for admins), with a
/// valid 2FA code when 2FA is on. Every session ends at once.
pub async fn delete_account(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    AuthUser(claims): AuthUser,
    ApiJson(body): ApiJson<DeleteBody>,
) -> Result<Response> {
    let user = ctx
        .accounts
        .user(&claims.id)
        .await?
        .ok_or(Error::UserNotFound)?;
    if !ctx.config.features.allow_account_deletion && user.role != "ADMIN" {
        return Err(Error::Forbidden(
            "You do not have permission to delete this account".into(),
        ));
    }
    let code = Code::from_body(body.token.as_deref(), body.backup_code.as_deref());
    if user.two_factor_enabled {
        super::two_factor::limit_code_guesses(&ctx, &user.id, ip).await?;
    }
    ctx.two_factor.check_deletion(&user.id, code).await?;
    let ended = ctx.accounts.delete(&user.id).await?;
    ctx.sessions.revoked_elsewhere(&ended);
    let mut out = axum::http::HeaderMap::new();
    super::cookies::clear_session(&mut out, ctx.config.sessions.secure_cookies);
    Ok((out, Json(json!({ "message": "User deleted" }))).into_response())
}
