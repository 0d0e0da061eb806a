//! API keys over HTTP: a user's own (`/account/api-keys`, behind an ordinary access token,
//! never a key) and every user's for admins (`/api-keys`, behind `AdminCaller`). A key's
//! secret is in the creation's answer only; no answer ever holds its digest.

use crate::http::openapi_schemas as schema;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::iso_time;
use crate::api_keys::scopes::Scopes;
use crate::app::AppContext;
use crate::error::{Error, Result};
use crate::http::extract::{AdminCaller, ApiJson, AuthUser, ClientIp, UserAgent};
use crate::store::api_keys::ApiKey;
use crate::usecases::api_keys::{self, Acting, KeyRequest};
use crate::usecases::Client;

pub fn routes() -> OpenApiRouter<Arc<AppContext>> {
    OpenApiRouter::new()
        .routes(routes!(list_own, create_own))
        .routes(routes!(revoke_own))
        .routes(routes!(list_all))
        .routes(routes!(revoke_any))
}

/// A key as every listing shows it.
pub fn listed(key: &ApiKey) -> Value {
    json!({
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": Scopes::from_json(&key.scopes).names(),
        "createdAt": iso_time(key.created_at),
        "expiresAt": key.expires_at.map(iso_time),
        "lastUsedAt": key.last_used_at.map(iso_time),
        "revokedAt": key.revoked_at.map(iso_time),
    })
}

fn listed_with_owner(key: &ApiKey) -> Value {
    let mut value = listed(key);
    value["userId"] = key.user_id.clone().into();
    value["email"] = key.email.clone().into();
    value
}

/// Reads the creation's body: each field of the right type, or a 400 that names it.
fn key_request(body: &Value) -> Result<KeyRequest> {
    let Some(body) = body.as_object() else {
        return Err(Error::BadRequest("The body must be a JSON object".into()));
    };
    let name = match body.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(Error::BadRequest("name must be a string".into())),
    };
    let expires_in_days = match body.get("expires_in_days") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().ok_or_else(|| {
            Error::BadRequest("expires_in_days must be a whole number of days".into())
        })?),
    };
    let scopes = match body.get("scopes") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Error::BadRequest("scopes must be an array of strings".into()))?,
        ),
        Some(_) => {
            return Err(Error::BadRequest(
                "scopes must be an array of strings".into(),
            ))
        }
    };
    Ok(KeyRequest {
        name,
        expires_in_days,
        scopes,
    })
}

#[utoipa::path(get, path = "/account/api-keys", tag = "api-keys",
    security(("bearer" = [])),
    responses((status = 200, description = "The signed-in user's keys", body = schema::ApiKeys)))]
async fn list_own(
    State(ctx): State<Arc<AppContext>>,
    AuthUser(user): AuthUser,
) -> Result<Response> {
    let keys = api_keys::list(&ctx, Some(&user.id)).await?;
    let keys: Vec<Value> = keys.iter().map(listed).collect();
    Ok(Json(json!({ "keys": keys })).into_response())
}

#[utoipa::path(post, path = "/account/api-keys", tag = "api-keys",
    security(("bearer" = [])),
    request_body = schema::ApiKeyRequest,
    responses((status = 201, description = "The key, its secret shown this once", body = schema::ApiKey),
        (status = 400, description = "A bad field, named", body = schema::Message),
        (status = 403, description = "A scope the user may not hold", body = schema::Message),
        (status = 409, description = "Too many keys", body = schema::Message)))]
async fn create_own(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    UserAgent(user_agent): UserAgent,
    AuthUser(user): AuthUser,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response> {
    let request = key_request(&body)?;
    let client = Client::api(ip, user_agent.as_deref());
    let acting = Acting {
        actor_id: Some(&user.id),
        client: Some(&client),
    };
    let created = api_keys::create(&ctx, &user.id, request, acting).await?;
    let mut body = listed(&created.listed);
    body["key"] = created.key.into();
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[utoipa::path(delete, path = "/account/api-keys/{id}", tag = "api-keys",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The key's id")),
    responses((status = 200, description = "Revoked", body = schema::ApiKey),
        (status = 404, description = "No such key of this user", body = schema::Message)))]
async fn revoke_own(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    UserAgent(user_agent): UserAgent,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> Result<Response> {
    let client = Client::api(ip, user_agent.as_deref());
    let acting = Acting {
        actor_id: Some(&user.id),
        client: Some(&client),
    };
    let revoked = api_keys::revoke(&ctx, &id, Some(&user.id), acting).await?;
    Ok(Json(listed(&revoked)).into_response())
}

#[utoipa::path(get, path = "/api-keys", tag = "admin",
    security(("bearer" = []), ("adminApiKey" = [])),
    params(("user" = Option<String>, Query, description = "A user's id or email")),
    responses((status = 200, description = "Every user's keys", body = schema::ApiKeys), (status = 403, description = "Not an admin, or an admin without 2FA (`REQUIRE_2FA_FOR_ADMINS`)", body = schema::Message), (status = 400, description = "A bad parameter, named", body = schema::Message)))]
async fn list_all(
    State(ctx): State<Arc<AppContext>>,
    AdminCaller(_admin): AdminCaller,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|_| Error::BadRequest("Could not read the query string".into()))?;
    let user = params
        .iter()
        .find(|(k, _)| k == "user")
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty());
    let keys = api_keys::list(&ctx, user).await?;
    let keys: Vec<Value> = keys.iter().map(listed_with_owner).collect();
    Ok(Json(json!({ "keys": keys })).into_response())
}

#[utoipa::path(delete, path = "/api-keys/{id}", tag = "admin",
    security(("bearer" = []), ("adminApiKey" = [])),
    params(("id" = String, Path, description = "The key's id")),
    responses((status = 200, description = "Revoked", body = schema::ApiKey), (status = 403, description = "Not an admin, or an admin without 2FA (`REQUIRE_2FA_FOR_ADMINS`)", body = schema::Message), (status = 404, description = "No such key", body = schema::Message)))]
async fn revoke_any(
    State(ctx): State<Arc<AppContext>>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<String>,
) -> Result<Response> {
    let acting = Acting {
        actor_id: Some(&admin.id),
        client: Some(&admin.client),
    };
    let revoked = api_keys::revoke(&ctx, &id, None, acting).await?;
    Ok(Json(listed_with_owner(&revoked)).into_response())
}
