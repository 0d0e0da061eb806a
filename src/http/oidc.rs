//! The OpenID provider's machine endpoints: discovery, JWKS, token, userinfo, revocation and
//! introspection. Form bodies in (RFC 6749 §3.2), JSON out; errors in OAuth's shape
//! (`error_response.rs`). The browser endpoints (authorize, consent, logout) are pages
//! (`pages/provider.rs`). Every handler answers 404 until a client is registered.

use super::openapi_schemas as schema;
use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;

use super::extract::{bearer_token, ClientIp, UserAgent};
use crate::app::AppContext;
use crate::error::{Error, OAuthError};
use crate::usecases::provider::{self as provider_usecases, ClientCredentials, TokenRequest};
use crate::usecases::Client;

/// An error as OAuth clients read it: bans and limits too.
fn oauth_failure(e: Error) -> Response {
    match e {
        Error::Banned { .. } => Error::OAuth(OAuthError::new(
            "access_denied",
            "this account or address is temporarily banned",
        ))
        .into_response(),
        Error::RateLimited(message) => (
            StatusCode::TOO_MANY_REQUESTS,
            Json(serde_json::json!({ "error": "slow_down", "error_description": message })),
        )
            .into_response(),
        other => other.into_response(),
    }
}

async fn enabled(ctx: &AppContext) -> Result<(), Response> {
    match ctx.provider.clients.any().await {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::OAuth(OAuthError::new(
            "not_found",
            "the OpenID provider has no registered client",
        ))
        .into_response()),
        Err(e) => Err(oauth_failure(e)),
    }
}

/// Discovery documents and keys may be cached a little (clients poll them).
fn cacheable(body: serde_json::Value) -> Response {
    let mut response = Json(body).into_response();
    response.extensions_mut().insert(Cacheable);
    response
}

/// Marks an answer that the router's `no-store` layer leaves cacheable for a few minutes.
#[derive(Clone, Copy)]
pub struct Cacheable;

#[utoipa::path(get, path = crate::provider::paths::DISCOVERY, tag = "oidc",
    responses((status = 200, description = "The discovery document (cacheable)", body = schema::Discovery), (status = 404, description = "No client is registered", body = schema::OAuthError)))]
pub async fn discovery(State(ctx): State<Arc<AppContext>>) -> Response {
    if let Err(r) = enabled(&ctx).await {
        return r;
    }
    cacheable(ctx.provider.discovery())
}

#[utoipa::path(get, path = crate::provider::paths::JWKS, tag = "oidc",
    responses((status = 200, description = "The signing keys (cacheable)", body = schema::Jwks), (status = 404, description = "No client is registered", body = schema::OAuthError)))]
pub async fn jwks(State(ctx): State<Arc<AppContext>>) -> Response {
    if let Err(r) = enabled(&ctx).await {
        return r;
    }
    cacheable(ctx.provider.keys.jwks())
}

/// A form body (`application/x-www-form-urlencoded`), each parameter once (RFC 6749 §3.2).
fn form(headers: &HeaderMap, body: &Bytes) -> Result<HashMap<String, String>, Error> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_type && !body.is_empty() {
        return Err(Error::OAuth(OAuthError::new(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        )));
    }
    let mut fields = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        if fields.insert(k.to_string(), v.to_string()).is_some() {
            return Err(Error::OAuth(OAuthError::new(
                "invalid_request",
                format!("{k} is given more than once"),
            )));
        }
    }
    Ok(fields)
}

/// `client_secret_basic` (RFC 6749 §2.3.1: both parts form-encoded inside the base64),
/// `client_secret_post`, or a public client's bare `client_id`. Two methods at once are
/// refused.
fn credentials(
    headers: &HeaderMap,
    fields: &mut HashMap<String, String>,
) -> Result<ClientCredentials, Error> {
    let invalid = |why: &str| Error::OAuth(OAuthError::new("invalid_client", why));
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        })
        .map(|(_, encoded)| encoded.trim().to_string());
    let posted_id = fields.remove("client_id");
    let posted_secret = fields.remove("client_secret");
    if let Some(encoded) = basic {
        if posted_secret.is_some() {
            return Err(Error::OAuth(OAuthError::new(
                "invalid_request",
                "use one client authentication method",
            )));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| invalid("malformed Basic credentials"))?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(|| invalid("malformed Basic credentials"))?;
        let decode = |s: &str| -> String {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let (id, secret) = (decode(id), decode(secret));
        if posted_id.as_deref().is_some_and(|p| p != id) {
            return Err(invalid("client_id differs from the Basic credentials"));
        }
        return Ok(ClientCredentials {
            client_id: id,
            secret: Some(secret),
        });
    }
    let client_id = posted_id.ok_or_else(|| invalid("no client authentication"))?;
    Ok(ClientCredentials {
        client_id,
        secret: posted_secret,
    })
}

fn client_of(ip: std::net::IpAddr, user_agent: &UserAgent) -> Client {
    Client::api(ip, user_agent.0.as_deref())
}

/// `POST /oidc/token`.
#[utoipa::path(post, path = crate::provider::paths::TOKEN, tag = "oidc",
    security(("clientBasic" = []), ()),
    request_body(content = schema::TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Tokens (RFC 6749 §5.1)", body = schema::TokenResponse),
        (status = 400, description = "RFC 6749 §5.2", body = schema::OAuthError),
        (status = 401, description = "The client failed to authenticate", body = schema::OAuthError),
        (status = 403, description = "Banned", body = schema::OAuthError), (status = 404, description = "No client is registered", body = schema::OAuthError)))]
pub async fn token(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    user_agent: UserAgent,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = enabled(&ctx).await {
        return r;
    }
    let result = async {
        let mut fields = form(&headers, &body)?;
        let credentials = credentials(&headers, &mut fields)?;
        let mut take = |k: &str| fields.remove(k);
        let req = TokenRequest {
            grant_type: take("grant_type"),
            code: take("code"),
            redirect_uri: take("redirect_uri"),
            code_verifier: take("code_verifier"),
            refresh_token: take("refresh_token"),
            scope: take("scope"),
        };
        provider_usecases::token(&ctx, &client_of(ip, &user_agent), &credentials, req).await
    }
    .await;
    match result {
        Ok(tokens) => {
            let mut response = Json(tokens).into_response();
            response
                .headers_mut()
                .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        }
        Err(e) => oauth_failure(e),
    }
}

/// `GET` or `POST /oidc/userinfo` with a Bearer access token (RFC 6750 §2.1; a token in the
/// body, §2.2, too).
#[utoipa::path(method(get, post), path = crate::provider::paths::USERINFO, tag = "oidc",
    security(("providerBearer" = []), ()),
    request_body(content = schema::UserInfoForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The user's claims", body = schema::UserInfo),
        (status = 400, description = "RFC 6749 §5.2", body = schema::OAuthError),
        (status = 401, description = "A missing or bad access token (RFC 6750 §3)", body = schema::OAuthError),
        (status = 403, description = "Banned", body = schema::OAuthError), (status = 404, description = "No client is registered", body = schema::OAuthError)))]
pub async fn userinfo(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    user_agent: UserAgent,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = enabled(&ctx).await {
        return r;
    }
    let from_body = form(&headers, &body)
        .ok()
        .and_then(|mut f| f.remove("access_token"));
    let token = bearer_token(&headers).map(str::to_string).or(from_body);
    match provider_usecases::userinfo(&ctx, &client_of(ip, &user_agent), token.as_deref()).await {
        Ok(claims) => Json(claims).into_response(),
        Err(e) => oauth_failure(e),
    }
}

/// `GET /oidc/picture/<user id>` with a Bearer access token: an SVG of the user's initials.
#[utoipa::path(get, path = "/oidc/picture/{user_id}", tag = "oidc",
    security(("providerBearer" = [])),
    params(("user_id" = String, Path, description = "The user's id")),
    responses((status = 200, description = "An SVG of the user's initials", content_type = "image/svg+xml", body = String),
        (status = 400, description = "RFC 6749 §5.2", body = schema::OAuthError),
        (status = 401, description = "A missing or bad access token", body = schema::OAuthError),
        (status = 403, description = "Banned, or another user's picture", body = schema::OAuthError), (status = 404, description = "No client is registered", body = schema::OAuthError)))]
pub async fn picture(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    user_agent: UserAgent,
    axum::extract::Path(user_id): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = enabled(&ctx).await {
        return r;
    }
    let client = client_of(ip, &user_agent);
    match provider_usecases::picture(&ctx, &client, bearer_token(&headers), &user_id).await {
        Ok(svg) => (
            [
                (header::CONTENT_TYPE, "image/svg+xml"),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'",
                ),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            svg,
        )
            .into_response(),
        Err(e) => oauth_failure(e),
    }
}

/// The client's credentials and the `token` field of a revocation or introspection request.
fn token_request(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(ClientCredentials, Option<String>), Error> {
    let mut fields = form(headers, body)?;
    let credentials = credentials(headers, &mut fields)?;
    Ok((credentials, fields.remove("token")))
}

/// `POST /oidc/revoke` (RFC 7009): 200 whether or not the token was known.
#[utoipa::path(post, path = crate::provider::paths::REVOKE, tag = "oidc",
    security(("clientBasic" = []), ()),
    request_body(content = schema::TokenHintForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Revoked, or the token was not known (RFC 7009)"),
        (status = 400, description = "RFC 6749 §5.2", body = schema::OAuthError),
        (status = 401, description = "The client failed to authenticate", body = schema::OAuthError),
        (status = 403, description = "Banned", body = schema::OAuthError), (status = 404, description = "No client is registered", body = schema::OAuthError)))]
pub async fn revoke(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    user_agent: UserAgent,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = enabled(&ctx).await {
        return r;
    }
    let client = client_of(ip, &user_agent);
    let result = match token_request(&headers, &body) {
        Ok((credentials, token)) => {
            provider_usecases::revoke(&ctx, &client, &credentials, token.as_deref()).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => oauth_failure(e),
    }
}

/// `POST /oidc/introspect` (RFC 7662).
#[utoipa::path(post, path = crate::provider::paths::INTROSPECT, tag = "oidc",
    security(("clientBasic" = []), ()),
    request_body(content = schema::TokenHintForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "The token's state (RFC 7662)", body = schema::Introspection),
        (status = 400, description = "RFC 6749 §5.2", body = schema::OAuthError),
        (status = 401, description = "The client failed to authenticate", body = schema::OAuthError),
        (status = 403, description = "Banned", body = schema::OAuthError), (status = 404, description = "No client is registered", body = schema::OAuthError)))]
pub async fn introspect(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    user_agent: UserAgent,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = enabled(&ctx).await {
        return r;
    }
    let client = client_of(ip, &user_agent);
    let result = match token_request(&headers, &body) {
        Ok((credentials, token)) => {
            provider_usecases::introspect(&ctx, &client, &credentials, token.as_deref()).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => oauth_failure(e),
    }
}
