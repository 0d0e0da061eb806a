//! `/healthz`: each dependency's state, answered at once whatever the dependencies do, so a
//! health checker never mistakes an outage for a hang.

use super::openapi_schemas as schema;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::app::AppContext;

/// 503 when the database is down (nothing works without it); 200 and `"degraded"` when only
/// Redis is down (signing in works; limiters fail open). The database's state is the verdict
/// of its availability probe (at most about a second old), not a round trip of its own; the
/// Redis ping is bounded by the Redis state itself.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "Up (`ok`) or degraded (Redis down)", body = schema::Health),
        (status = 503, description = "The database is down", body = schema::Health)))]
pub async fn health(State(ctx): State<Arc<AppContext>>) -> Response {
    let up = |ok: bool| if ok { "up" } else { "down" };
    let database = ctx.db.is_available();
    let redis = match ctx.config.redis {
        Some(_) => Some(ctx.moderation.state_reachable().await),
        None => None,
    };
    let (status, text) = match (database, redis) {
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        (true, Some(false)) => (StatusCode::OK, "degraded"),
        (true, _) => (StatusCode::OK, "ok"),
    };
    let mut body = json!({ "status": text, "database": up(database) });
    if let Some(redis) = redis {
        body["redis"] = json!(up(redis));
        body["moderationStateErrors"] = json!(ctx.moderation.state_errors());
    }
    (status, Json(body)).into_response()
}

/// `/livez`: the process answers. Nothing else is consulted, so an orchestrator restarts
/// Bouncer only when it is truly stuck, never because a dependency is down.
#[utoipa::path(get, path = "/livez", tag = "health",
    responses((status = 200, description = "The process answers", body = schema::Live)))]
pub async fn live() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

/// `/readyz`: whether this instance should get traffic: the database reachable (its
/// migrations were applied before the server started listening) and, when configured, Redis.
/// 503 with each check's state otherwise. Answered at once in every state, as `/healthz`.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, description = "Ready for traffic", body = schema::Ready),
        (status = 503, description = "Not ready", body = schema::Ready)))]
pub async fn ready(State(ctx): State<Arc<AppContext>>) -> Response {
    let database = ctx.db.is_available();
    let redis = match ctx.config.redis {
        Some(_) => Some(ctx.moderation.state_reachable().await),
        None => None,
    };
    let ready = database && redis.unwrap_or(true);
    let up = |ok: bool| if ok { "up" } else { "down" };
    let mut body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "database": up(database),
        "migrations": "applied",
    });
    if let Some(redis) = redis {
        body["redis"] = json!(up(redis));
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// `/health`, as LibreChat's server answers it (`200 OK`, plain text), for checks written
/// against LibreChat. It is Bouncer's own answer, also in gateway mode.
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, description = "`OK`, as LibreChat answers", content_type = "text/plain", body = String)))]
pub async fn librechat() -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        "OK",
    )
        .into_response()
}
