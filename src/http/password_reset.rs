//! `/api/auth/requestPasswordReset` and `/api/auth/resetPassword` on the wire; the rules are
//! `usecases::password_reset`.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::{ApiJson, ClientIp};
use crate::app::AppContext;
use crate::error::Result;
use crate::usecases::password_reset::{self, NewPassword};
use crate::usecases::Client;

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
    password_reset::request_reset(&ctx, Client::at(ip), body.email.as_deref()).await?;
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
    let form = NewPassword {
        user_id: body.user_id.as_deref(),
        token: body.token.as_deref(),
        password: body.password.as_deref(),
        confirm_password: body.confirm_password.as_deref(),
    };
    password_reset::reset_password(&ctx, Client::at(ip), form).await?;
    Ok(Json(json!({ "message": "Password reset was successful" })))
}
