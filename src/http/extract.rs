//! Extractors: a JSON body whose rejections speak our error format, and the authenticated
//! caller read from `Authorization: Bearer`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::app::AppContext;
use crate::error::Error;
use crate::sessions::AccessClaims;
use crate::usecases::access::{self, Access};
use crate::usecases::Client;

/// Largest request body accepted anywhere.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A JSON body. Like Express's parser, an empty body counts as `{}` and a body is read only as
/// `application/json` (so a cross-site HTML form, which cannot send that type without a CORS
/// preflight, cannot post a login); unlike it, every failure is a JSON message: 413 for a body
/// over `MAX_BODY_BYTES`, 400 for the rest.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .is_some_and(|v| {
                v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
            });
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            // A chunked body over the limit; a declared length over it never gets here
            // (`body_limit::refuse_declared_oversize`).
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::BodyTooLarge
            } else {
                Error::BadRequest("Could not read the request body".into())
            }
        })?;
        let body: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else if json_type {
            &bytes
        } else {
            return Err(Error::BadRequest(
                "Content-Type must be application/json".into(),
            ));
        };
        let invalid = |e: serde_json::Error| Error::BadRequest(format!("Invalid JSON body: {e}"));
        let value: Value = serde_json::from_slice(body).map_err(invalid)?;
        // PostgreSQL refuses a NUL in text with an error, so a `\u0000` in any field would
        // turn a lookup into a 500 there (and no field of LibreChat's protocol needs one).
        if holds_nul(&value) {
            return Err(Error::BadRequest(
                "Invalid JSON body: strings may not contain NUL (\\u0000)".into(),
            ));
        }
        serde_json::from_value(value).map(ApiJson).map_err(invalid)
    }
}

/// Whether any string of `value`, key or value, holds a NUL character.
fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(fields) => fields.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme in any case).
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The client's IP: the TCP peer, or what a trusted proxy says in `X-Forwarded-For`.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

fn client_ip(parts: &Parts, ctx: &AppContext) -> IpAddr {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let forwarded_for: Vec<&str> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    ctx.moderation.client_ip(peer, &forwarded_for)
}

impl FromRequestParts<Arc<AppContext>> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &Arc<AppContext>,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts, ctx)))
    }
}

/// The `User-Agent` a client sent (kept with the session a sign-in begins).
pub struct UserAgent(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for UserAgent {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(UserAgent(
            parts
                .headers
                .get(axum::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
        ))
    }
}

/// A caller with a valid, unrevoked access token (401 otherwise) who is not banned, by user or
/// by IP (403): `usecases::access` with `Access::Full`.
pub struct AuthUser(pub AccessClaims);

fn authenticated(parts: &Parts, ctx: &AppContext, access: Access) -> Result<AccessClaims, Error> {
    let client = Client::at(client_ip(parts, ctx));
    access::authenticate(ctx, &client, bearer_token(&parts.headers), access)
}

impl FromRequestParts<Arc<AppContext>> for AuthUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, ctx: &Arc<AppContext>) -> Result<Self, Error> {
        authenticated(parts, ctx, Access::Full).map(AuthUser)
    }
}

/// As `AuthUser`, but also a user whose token only allows setting up 2FA (`REQUIRE_2FA`): for
/// the 2FA routes.
pub struct EnrollingUser(pub AccessClaims);

impl FromRequestParts<Arc<AppContext>> for EnrollingUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, ctx: &Arc<AppContext>) -> Result<Self, Error> {
        authenticated(parts, ctx, Access::Enrolment).map(EnrollingUser)
    }
}

/// The caller if they sent a valid access token; never a rejection.
pub struct OptionalAuthUser(pub Option<AccessClaims>);

impl FromRequestParts<Arc<AppContext>> for OptionalAuthUser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &Arc<AppContext>,
    ) -> Result<Self, Self::Rejection> {
        let claims = ctx.sessions.authenticate(bearer_token(&parts.headers)).ok();
        // An enrolment-only token counts as anonymous.
        Ok(OptionalAuthUser(claims.filter(|c| c.scope.is_none())))
    }
}

/// A caller of the admin API (`/api/bouncer/*`): an ADMIN's access token or `admin`-scoped API
/// key (401 without a valid one, 403 for anyone else), through `usecases::admin::authorize`.
pub struct AdminCaller(pub crate::usecases::admin::Admin);

impl FromRequestParts<Arc<AppContext>> for AdminCaller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, ctx: &Arc<AppContext>) -> Result<Self, Error> {
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        let client = Client::api(client_ip(parts, ctx), user_agent);
        let bearer = bearer_token(&parts.headers);
        let claims = match bearer {
            // An `admin`-scoped API key opens the admin API too (the role is checked below).
            Some(key) if crate::api_keys::secret::id_of(key).is_some() => {
                access::authenticate_api_key(ctx, &client, key, access::KeyUse::Admin)?
            }
            _ => access::authenticate(ctx, &client, bearer, Access::Full)?,
        };
        crate::usecases::admin::authorize(ctx, &client, &claims)
            .await
            .map(AdminCaller)
    }
}
