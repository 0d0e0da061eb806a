//! `/api/user/verify` and `/api/user/verify/resend` on the wire; the rules are
//! `usecases::email_verification`.

use super::openapi_schemas as schema;
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::REGISTRATION_MESSAGE;
use super::extract::{ApiJson, ClientIp};
use crate::app::AppContext;
use crate::error::Result;
use crate::usecases::{email_verification, Client};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct VerifyBody {
    email: Option<String>,
    token: Option<String>,
}

#[utoipa::path(post, path = "/api/user/verify", tag = "user",
    request_body = VerifyBody,
    responses((status = 200, description = "The email is verified", body = schema::EmailVerified),
        (status = 400, description = "Invalid or expired email verification token", body = schema::Message),
        (status = 404, description = "Not found", body = schema::Message)))]
pub async fn verify(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<VerifyBody>,
) -> Result<Json<Value>> {
    email_verification::verify_email(
        &ctx,
        Client::at(ip),
        body.email.as_deref(),
        body.token.as_deref(),
    )
    .await?;
    Ok(Json(json!({
        "message": "Email verification was successful",
        "status": "success",
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ResendBody {
    email: Option<String>,
}

#[utoipa::path(post, path = "/api/user/verify/resend", tag = "user",
    request_body = ResendBody,
    responses((status = 200, description = "The one answer, known email or not", body = schema::Message),
        (status = 400, description = "No email given", body = schema::Message),
        (status = 404, description = "Not found", body = schema::Message)))]
pub async fn resend(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<ResendBody>,
) -> Result<Json<Value>> {
    email_verification::resend_verification(&ctx, Client::at(ip), body.email.as_deref()).await?;
    Ok(Json(json!({ "message": REGISTRATION_MESSAGE })))
}
