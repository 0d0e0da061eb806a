//! `/metrics`: the Prometheus exposition text, for a scraper holding `METRICS_SECRET`.
//!
//! As LibreChat's `/metrics`: `Authorization: Bearer <METRICS_SECRET>` (the scheme in any
//! case), 401 with an empty body otherwise; here with `WWW-Authenticate: Bearer` as RFC 6750
//! asks. Off (no secret), the route does not exist. With `METRICS_PORT` it exists only on the
//! listener of that port (`metrics_router`), never on the public one.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppContext;
use crate::metrics::Readings;

pub const PATH: &str = "/metrics";

/// The content type of the text exposition format.
const EXPOSITION: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `/metrics` for the main router: only when metrics are on and have no port of their own
/// (and so in the OpenAPI document only then).
pub fn routes(ctx: &AppContext) -> OpenApiRouter<Arc<AppContext>> {
    let metrics = &ctx.config.metrics;
    if metrics.enabled() && metrics.own_port().is_none() {
        OpenApiRouter::new().routes(routes!(scrape))
    } else {
        OpenApiRouter::new()
    }
}

/// The whole router of the `METRICS_PORT` listener: `/metrics`, and 404 for anything else.
pub fn metrics_router(ctx: Arc<AppContext>) -> Router {
    let (router, _document) = OpenApiRouter::new()
        .routes(routes!(scrape))
        .split_for_parts();
    router.fallback(not_found).with_state(ctx)
}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    security(("metricsBearer" = [])),
    responses(
        (status = 200, description = "The Prometheus text exposition (only with `METRICS_SECRET`)", content_type = "text/plain", body = String),
        (status = 401, description = "No or a wrong `Authorization: Bearer <METRICS_SECRET>` (empty body)"),
    ))]
async fn scrape(State(ctx): State<Arc<AppContext>>, headers: HeaderMap) -> Response {
    let Some(secret) = &ctx.config.metrics.secret else {
        return not_found().await;
    };
    if !bearer_matches(&headers, secret.expose()) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\"")],
        )
            .into_response();
    }
    let (pool_size, pool_idle) = ctx.db.pool_connections();
    let readings = Readings {
        bans_active: ctx.moderation.active_ban_count(),
        password_hash_queue_depth: ctx.accounts.hash_queue_depth(),
        database_up: ctx.db.is_available(),
        database_pool_size: pool_size,
        database_pool_idle: pool_idle,
        database_pool_max: ctx.config.database_max_connections,
        // The readiness check's own ping, bounded by the Redis state.
        redis_up: match ctx.config.redis {
            Some(_) => Some(ctx.moderation.state_reachable().await),
            None => None,
        },
        redis_errors: ctx.moderation.state_errors(),
    };
    match ctx.metrics.render(&readings) {
        Some(text) => ([(header::CONTENT_TYPE, EXPOSITION)], text).into_response(),
        None => not_found().await,
    }
}

/// Whether the request carries `Bearer <secret>`. Digests are compared, in constant time, so
/// neither the secret's bytes nor its length show in the time of a refusal.
fn bearer_matches(headers: &HeaderMap, secret: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, token)) = value.split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return false;
    }
    let token = token.trim_start();
    let given = Sha256::digest(token.as_bytes());
    let expected = Sha256::digest(secret.as_bytes());
    given.ct_eq(&expected).into()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "message": "Not found" })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn only_the_bearer_secret_passes() {
        let secret = "0123456789abcdef";
        assert!(bearer_matches(
            &with_authorization("Bearer 0123456789abcdef"),
            secret
        ));
        assert!(bearer_matches(
            &with_authorization("bearer 0123456789abcdef"),
            secret
        ));
        assert!(!bearer_matches(&HeaderMap::new(), secret));
        assert!(!bearer_matches(
            &with_authorization("0123456789abcdef"),
            secret
        ));
        assert!(!bearer_matches(
            &with_authorization("Basic 0123456789abcdef"),
            secret
        ));
        assert!(!bearer_matches(
            &with_authorization("Bearer 0123456789abcdeg"),
            secret
        ));
        assert!(!bearer_matches(
            &with_authorization("Bearer 0123456789abcdef0"),
            secret
        ));
        assert!(!bearer_matches(&with_authorization("Bearer "), secret));
    }
}
