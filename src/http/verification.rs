//! `/api/user/verify` and `/api/user/verify/resend` on the wire; the rules are
//! `usecases::email_verification`.

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

#[derive(Deserialize)]
pub struct ResendBody {
    email: Option<String>,
}

pub async fn resend(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<ResendBody>,
) -> Result<Json<Value>> {
    email_verification::resend_verification(&ctx, Client::at(ip), body.email.as_deref()).await?;
    Ok(Json(json!({ "message": REGISTRATION_MESSAGE })))
}
