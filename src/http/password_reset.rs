//! `/api/auth/requestPasswordReset` and `/api/auth/resetPassword` on the wire; the rules are
//! `usecases::password_reset`.

use super::openapi_schemas as schema;
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

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RequestBody {
    email: Option<String>,
}

#[utoipa::path(post, path = "/api/auth/requestPasswordReset", tag = "auth",
    request_body = RequestBody,
    responses(
        (status = 200, description = "The one answer, known email or not", body = schema::Message),
        (status = 400, description = "The email's domain is not allowed", body = schema::ResetDomainRefused),
        (status = 403, description = "Banned (JSON), or password reset off (LibreChat's text)",
            content((schema::Message = "application/json"), (String = "text/plain"))),
    ))]
pub async fn request(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<RequestBody>,
) -> Result<Json<Value>> {
    password_reset::request_reset(&ctx, Client::at(ip), body.email.as_deref()).await?;
    Ok(Json(json!({ "message": RESET_REQUESTED })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ResetBody {
    #[serde(rename = "userId")]
    user_id: Option<String>,
    token: Option<String>,
    password: Option<String>,
    confirm_password: Option<String>,
}

#[utoipa::path(post, path = "/api/auth/resetPassword", tag = "auth",
    request_body = ResetBody,
    responses(
        (status = 200, description = "The password is changed and every session ended", body = schema::Message),
        (status = 400, description = "Invalid or expired password reset token", body = schema::Message),
        (status = 403, description = "Banned (JSON), or password reset off (text)",
            content((schema::Message = "application/json"), (String = "text/plain"))),
        (status = 404, description = "The new password breaks the rules", body = schema::Message),
    ))]
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
