//! `/api/user` on the wire: the signed-in user, their acceptance of the terms, and deleting
//! the account. The rules are `usecases::account`.

use super::openapi_schemas as schema;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{Extensions, HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::extract::{ApiJson, AuthUser, ClientIp};
use crate::accounts::{iso_time, PublicUser};
use crate::app::AppContext;
use crate::error::{Error, Result};
use crate::gateway::proxy;
use crate::twofactor::Code;
use crate::usecases::{account, Client};

#[utoipa::path(get, path = "/api/user", tag = "user",
    security(("bearer" = [])),
    responses((status = 200, description = "The signed-in user", body = schema::PublicUser)))]
pub async fn me(
    State(ctx): State<Arc<AppContext>>,
    AuthUser(claims): AuthUser,
) -> Result<Response> {
    let user = account::current_user(&ctx, &claims.id).await?;
    Ok(Json(PublicUser::from(user.as_ref())).into_response())
}

#[utoipa::path(get, path = "/api/user/terms", tag = "user",
    security(("bearer" = [])),
    responses((status = 200, description = "Whether the user accepted the terms", body = schema::Terms),
        (status = 404, description = "User not found", body = schema::Message)))]
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

#[utoipa::path(post, path = "/api/user/terms/accept", tag = "user",
    security(("bearer" = [])),
    responses((status = 200, description = "Accepted", body = schema::TermsAccepted),
        (status = 404, description = "User not found", body = schema::Message)))]
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

#[derive(serde::Deserialize, utoipa::ToSchema)]
pub struct DeleteBody {
    token: Option<String>,
    #[serde(rename = "backupCode")]
    backup_code: Option<String>,
}

/// Deletes the signed-in user's account, and clears the session cookies. With `UPSTREAM_URL`
/// the chat backend deletes its data of the user first (the request goes on to it, after
/// Bouncer's checks, with the proxy's identity headers); the account is deleted here only when
/// the backend answered 2xx, else the client gets the backend's answer (or 502 / 504).
#[utoipa::path(delete, path = "/api/user/delete", tag = "user",
    security(("bearer" = [])),
    request_body(content = DeleteBody, description = "With 2FA on: a code or a backup code"),
    responses((status = 200, description = "The account is deleted and the cookies cleared", body = schema::Message),
        (status = 400, description = "A code is needed or wrong", body = schema::Message),
        (status = 403, description = "Account deletion is off, banned", body = schema::Message)))]
pub async fn delete_account(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    AuthUser(claims): AuthUser,
    extensions: Extensions,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<Value>,
) -> Result<Response> {
    let body: DeleteBody = serde_json::from_value(raw.clone())
        .map_err(|e| Error::BadRequest(format!("Invalid JSON body: {e}")))?;
    let code = Code::from_body(body.token.as_deref(), body.backup_code.as_deref());
    let client = Client::at(ip);
    if ctx.config.gateway.upstream.is_some() {
        let peer = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(ip, |c| crate::moderation::client_ip::normalize(c.0.ip()));
        let forwarded = serde_json::to_vec(&raw).unwrap_or_default();
        let backend = async {
            match proxy::relay(
                &ctx,
                Method::DELETE,
                "/api/user/delete",
                headers,
                peer,
                &claims,
                forwarded.into(),
            )
            .await
            {
                Ok(answer) if answer.status().is_success() => Ok(()),
                Ok(answer) | Err(answer) => Err(answer),
            }
        };
        let outcome =
            account::delete_account_with_backend(&ctx, client, &claims.id, code, backend).await?;
        if let Err(answer) = outcome {
            return Ok(answer);
        }
    } else {
        account::delete_account(&ctx, client, &claims.id, code).await?;
    }
    let mut out = axum::http::HeaderMap::new();
    super::cookies::clear_session(&mut out, ctx.config.sessions.secure_cookies);
    Ok((out, Json(json!({ "message": "User deleted" }))).into_response())
}
