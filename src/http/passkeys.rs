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
use super::openapi_schemas as schema;
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

/// The options half of a ceremony: what `navigator.credentials.create()`/`.get()` takes.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema only: the body is built from webauthn-rs's options
pub struct CeremonyOptions {
    /// Sent back with the result.
    #[schema(rename = "ceremonyId")]
    ceremony_id: String,
    /// WebAuthn's `PublicKeyCredentialCreationOptions` or `…RequestOptions` (binary fields
    /// as base64url).
    #[schema(rename = "publicKey", value_type = Object)]
    public_key: Value,
    /// `conditional` for the sign-in's autofill ceremony.
    mediation: Option<String>,
}

/// A passkey as the API lists it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema only: `view` builds the body
pub struct PasskeyView {
    id: String,
    name: String,
    #[schema(rename = "createdAt")]
    created_at: String,
    #[schema(rename = "lastUsedAt")]
    last_used_at: Option<String>,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema only
pub struct Registered {
    passkey: PasskeyView,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // a schema only
pub struct Listed {
    passkeys: Vec<PasskeyView>,
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterBody {
    ceremony_id: Option<String>,
    /// The browser's `PublicKeyCredential.toJSON()` (an object, or that object as a string).
    #[schema(value_type = Option<Object>)]
    credential: Option<Value>,
    name: Option<String>,
}

#[utoipa::path(post, path = "/api/auth/passkey/register/options", tag = "passkeys",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A registration ceremony for the caller (an enrolment-only token may)", body = CeremonyOptions),
        (status = 404, description = "Passkeys are off", body = schema::Message),
        (status = 409, description = "The caller has the most passkeys allowed", body = schema::Message),
    ))]
pub async fn register_options(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    EnrollingUser(claims): EnrollingUser,
) -> Result<Json<Value>> {
    started(passkeys::start_registration(&ctx, &Client::at(ip), &claims.id).await?)
}

#[utoipa::path(post, path = "/api/auth/passkey/register", tag = "passkeys",
    security(("bearer" = [])),
    request_body = RegisterBody,
    responses(
        (status = 200, description = "The passkey is registered (and counts as a second factor)", body = Registered),
        (status = 400, description = "A malformed credential or name, or a credential the ceremony refuses", body = schema::Message),
        (status = 401, description = "No such ceremony (used, lapsed, another user's)", body = schema::Message),
        (status = 404, description = "Passkeys are off", body = schema::Message),
        (status = 409, description = "This passkey is registered already", body = schema::Message),
    ))]
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

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct SignInOptionsBody {
    /// For the browser's autofill (`mediation: "conditional"`) rather than a dialog.
    #[serde(default)]
    conditional: bool,
}

#[utoipa::path(post, path = "/api/auth/passkey/login/options", tag = "passkeys",
    request_body = SignInOptionsBody,
    responses(
        (status = 200, description = "A sign-in ceremony for any discoverable credential", body = CeremonyOptions),
        (status = 404, description = "Passkeys are off", body = schema::Message),
    ))]
pub async fn sign_in_options(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<SignInOptionsBody>,
) -> Result<Json<Value>> {
    started(passkeys::start_sign_in(&ctx, &Client::at(ip), body.conditional).await?)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssertionBody {
    ceremony_id: Option<String>,
    /// The browser's `PublicKeyCredential.toJSON()` (an object, or that object as a string).
    #[schema(value_type = Option<Object>)]
    credential: Option<Value>,
    temp_token: Option<String>,
}

#[utoipa::path(post, path = "/api/auth/passkey/login", tag = "passkeys",
    request_body = AssertionBody,
    responses(
        (status = 200, description = "Signed in, as `/api/auth/login` answers (and its cookies)", body = schema::Session),
        (status = 400, description = "A malformed credential", body = schema::Message),
        (status = 401, description = "The passkey was not accepted (one answer for every reason)", body = schema::Message),
        (status = 404, description = "Passkeys are off", body = schema::Message),
    ))]
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TempTokenBody {
    temp_token: Option<String>,
}

#[utoipa::path(post, path = "/api/auth/passkey/2fa/options", tag = "passkeys",
    request_body = TempTokenBody,
    responses(
        (status = 200, description = "A ceremony for the passkeys of the user the temp token names", body = CeremonyOptions),
        (status = 400, description = "No temp token, or the user has no passkey", body = schema::Message),
        (status = 401, description = "The temp token is invalid or expired", body = schema::Message),
        (status = 404, description = "Passkeys are off", body = schema::Message),
    ))]
pub async fn second_factor_options(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<TempTokenBody>,
) -> Result<Json<Value>> {
    started(passkeys::start_second_factor(&ctx, &Client::at(ip), body.temp_token.as_deref()).await?)
}

#[utoipa::path(post, path = "/api/auth/passkey/2fa", tag = "passkeys",
    request_body = AssertionBody,
    responses(
        (status = 200, description = "The second step done: signed in as `/api/auth/2fa/verify-temp` answers", body = schema::Session),
        (status = 400, description = "No temp token, or a malformed credential", body = schema::Message),
        (status = 401, description = "The temp token is invalid, or the passkey was not accepted", body = schema::Message),
        (status = 404, description = "Passkeys are off", body = schema::Message),
    ))]
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

#[utoipa::path(get, path = "/api/auth/passkey", tag = "passkeys",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's passkeys", body = Listed),
        (status = 404, description = "Passkeys are off", body = schema::Message),
    ))]
pub async fn list(
    State(ctx): State<Arc<AppContext>>,
    AuthUser(claims): AuthUser,
) -> Result<Json<Value>> {
    let all = passkeys::list(&ctx, &claims.id).await?;
    Ok(Json(
        json!({ "passkeys": all.iter().map(view).collect::<Vec<_>>() }),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RenameBody {
    name: Option<String>,
}

#[utoipa::path(patch, path = "/api/auth/passkey/{id}", tag = "passkeys",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The passkey's id")),
    request_body = RenameBody,
    responses(
        (status = 200, description = "Renamed", body = schema::Empty),
        (status = 400, description = "Invalid passkey name", body = schema::Message),
        (status = 404, description = "No such passkey of the caller's, or passkeys are off", body = schema::Message),
    ))]
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

#[utoipa::path(delete, path = "/api/auth/passkey/{id}", tag = "passkeys",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The passkey's id")),
    responses(
        (status = 200, description = "Removed", body = schema::Empty),
        (status = 404, description = "No such passkey of the caller's, or passkeys are off", body = schema::Message),
    ))]
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

/// The routes, mounted by `router.rs` (through `routes!`, so each is in the OpenAPI document).
pub fn routes(
    router: utoipa_axum::router::OpenApiRouter<Arc<AppContext>>,
) -> utoipa_axum::router::OpenApiRouter<Arc<AppContext>> {
    use utoipa_axum::routes;
    router
        .routes(routes!(list))
        .routes(routes!(rename, remove))
        .routes(routes!(register_options))
        .routes(routes!(register))
        .routes(routes!(sign_in_options))
        .routes(routes!(sign_in))
        .routes(routes!(second_factor_options))
        .routes(routes!(second_factor))
}
