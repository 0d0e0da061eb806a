//! `/api/user` on the wire: the signed-in user, their acceptance of the terms, and deleting
//! the account. The rules are `usecases::account`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::extract::{ApiJson, AuthUser, ClientIp};
use crate::accounts::{iso_time, PublicUser};
use crate::app::AppContext;
use crate::error::Result;
use crate::twofactor::Code;
use crate::usecases::{account, Client};

pub async fn me(
    State(ctx): State<Arc<AppContext>>,
    AuthUser(claims): AuthUser,
) -> Result<Response> {
    let user = account::current_user(&ctx, &claims.id).await?;
    Ok(Json(PublicUser::from(user.as_ref())).into_response())
}

pub async fn terms(
    State(ctx): State<Arc<AppContext>>,
    AuthUser(claims): AuthUser,
) -> Result<Response> {
    let user = account::existing_user(&ctx, &claims.id).await?;
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
    let at = account::accept_terms(&ctx, &claims.id).await?;
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

/// Deletes the signed-in user's account, and clears the session cookies.
pub async fn delete_account(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    AuthUser(claims): AuthUser,
    ApiJson(body): ApiJson<DeleteBody>,
) -> Result<Response> {
    let code = Code::from_body(body.token.as_deref(), body.backup_code.as_deref());
    account::delete_account(&ctx, Client::at(ip), &claims.id, code).await?;
    let mut out = axum::http::HeaderMap::new();
    super::cookies::clear_session(&mut out, ctx.config.sessions.secure_cookies);
    Ok((out, Json(json!({ "message": "User deleted" }))).into_response())
}
