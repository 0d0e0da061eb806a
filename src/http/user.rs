//! `/api/user`: the signed-in user and their acceptance of the terms.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::extract::AuthUser;
use crate::accounts::{iso_time, PublicUser};
use crate::app::AppContext;
use crate::error::{Error, Result};

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
