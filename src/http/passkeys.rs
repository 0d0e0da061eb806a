//! `/api/auth/passkey/*` on the wire: the JSON API of the passkey ceremonies, for a SPA.
//! Each ceremony is two calls: its options (`{ceremonyId, publicKey, mediation?}`, the
//! `publicKey` for `navigator.credentials`, binary fields as base64url) and its result (the
//! credential the browser returned, as `PublicKeyCredential.toJSON()` gives it, with the
//! `ceremonyId`). A sign-in answers as `/api/auth/login` does (`{token, user}` and the refresh
//! cookie). Registering one is an enrolment in 2FA (`REQUIRE_2FA`): an enrolment-only token
//! may. The rules are `usecases::passkeys`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::auth::session_response;
use super::extract::{ApiJson, AuthUser, ClientIp, EnrollingUser, UserAgent};
use crate::accounts::iso_time;
use crate::app::AppContext;
use crate::error::{Error, Result};
use crate::passkeys::Started;
use crate::store::passkeys::StoredPasskey;
use crate::usecases::{passkeys, Client};

/// `{ceremonyId, ...options}`.
fn started<T: Serialize>(started: Started<T>) -> Result<Json<Value>> {
    let mut body = serde_json::to_value(&started.options).map_err(|e| Error::Internal(e.into()))?;
    body["ceremonyId"] = json!(started.ceremony);
    Ok(Json(body))
}

/// A passkey as the API shows it: never its key or credential id.
pub fn view(p: &StoredPasskey) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "createdAt": iso_time(p.created_at),
        "lastUsedAt": p.last_used_at.map(iso_time),
    })
}

/// The credential as the service reads it (a JSON text), from an object or a string.
fn credential_text(credential: &Option<Value>) -> Option<String> {
    match credential {
        Some(Value::String(s)) => Some(s.clone()),
        Some(v @ Value::Object(_)) => Some(v.to_string()),
        _ => None,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterBody {
    ceremony_id: Option<String>,
    credential: Option<Value>,
    name: Option<String>,
}

pub async fn register_options(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    EnrollingUser(claims): EnrollingUser,
) -> Result<Json<Value>> {
    started(passkeys::start_registration(&ctx, &Client::at(ip), &claims.id).await?)
}

pub async fn register(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    UserAgent(user_agent): UserAgent,
    EnrollingUser(claims): EnrollingUser,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<Json<Value>> {
    let stored = passkeys::finish_registration(
        &ctx,
        &Client::api(ip, user_agent.as_deref()),
        &claims.id,
        body.ceremony_id.as_deref(),
        credential_text(&body.credential).as_deref(),
        body.name.as_deref(),
    )
    .await?;
    Ok(Json(json!({ "passkey": view(&stored) })))
}

#[derive(Deserialize, Default)]
pub struct SignInOptionsBody {
    /// For the browser's autofill (`mediation: "conditional"`) rather than a dialog.
    #[serde(default)]
    conditional: bool,
}

pub async fn sign_in_options(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<SignInOptionsBody>,
) -> Result<Json<Value>> {
    started(passkeys::start_sign_in(&ctx, &Client::at(ip), body.conditional).await?)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssertionBody {
    ceremony_id: Option<String>,
    credential: Option<Value>,
    temp_token: Option<String>,
}

pub async fn sign_in(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    UserAgent(user_agent): UserAgent,
    ApiJson(body): ApiJson<AssertionBody>,
) -> Result<Response> {
    let signed_in = passkeys::sign_in(
        &ctx,
        Client::api(ip, user_agent.as_deref()),
        body.ceremony_id.as_deref(),
        credential_text(&body.credential).as_deref(),
    )
    .await?;
    Ok(session_response(&ctx, &signed_in))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TempTokenBody {
    temp_token: Option<String>,
}

pub async fn second_factor_options(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<TempTokenBody>,
) -> Result<Json<Value>> {
    started(passkeys::start_second_factor(&ctx, &Client::at(ip), body.temp_token.as_deref()).await?)
}

pub async fn second_factor(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    UserAgent(user_agent): UserAgent,
    ApiJson(body): ApiJson<AssertionBody>,
) -> Result<Response> {
    let signed_in = passkeys::complete_second_factor(
        &ctx,
        Client::api(ip, user_agent.as_deref()),
        body.temp_token.as_deref(),
        body.ceremony_id.as_deref(),
        credential_text(&body.credential).as_deref(),
    )
    .await?;
    Ok(session_response(&ctx, &signed_in))
}

pub async fn list(
    State(ctx): State<Arc<AppContext>>,
    AuthUser(claims): AuthUser,
) -> Result<Json<Value>> {
    let all = passkeys::list(&ctx, &claims.id).await?;
    Ok(Json(
        json!({ "passkeys": all.iter().map(view).collect::<Vec<_>>() }),
    ))
}

#[derive(Deserialize)]
pub struct RenameBody {
    name: Option<String>,
}

pub async fn rename(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    AuthUser(claims): AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RenameBody>,
) -> Result<Json<Value>> {
    passkeys::rename(&ctx, &Client::at(ip), &claims.id, &id, body.name.as_deref()).await?;
    Ok(Json(json!({})))
}

pub async fn remove(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    UserAgent(user_agent): UserAgent,
    AuthUser(claims): AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    passkeys::remove(
        &ctx,
        &Client::api(ip, user_agent.as_deref()),
        &claims.id,
        &id,
    )
    .await?;
    Ok(Json(json!({})))
}

/// The routes, mounted by `router.rs`.
pub fn routes(router: axum::Router<Arc<AppContext>>) -> axum::Router<Arc<AppContext>> {
    use axum::routing::{get, patch, post};
    router
        .route("/api/auth/passkey", get(list))
        .route("/api/auth/passkey/{id}", patch(rename).delete(remove))
        .route("/api/auth/passkey/register/options", post(register_options))
        .route("/api/auth/passkey/register", post(register))
        .route("/api/auth/passkey/login/options", post(sign_in_options))
        .route("/api/auth/passkey/login", post(sign_in))
        .route("/api/auth/passkey/2fa/options", post(second_factor_options))
        .route("/api/auth/passkey/2fa", post(second_factor))
}
