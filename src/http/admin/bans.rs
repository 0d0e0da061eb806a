//! The admin API's `bans` routes: the bans in force, banning a user, an address or a network,
//! and lifting a ban. The rules are `usecases/admin_bans.rs`.

use crate::http::openapi_schemas as schema;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppContext;
use crate::error::{Error, Result};
use crate::http::extract::{AdminCaller, ApiJson};
use crate::usecases::admin::{self, Actor, BanTarget, NewBan};

pub fn routes() -> OpenApiRouter<Arc<AppContext>> {
    OpenApiRouter::new().routes(routes!(list, ban, lift))
}

/// `{ "user": id | email }` or `{ "ip": "1.2.3.4" | "10.0.0.0/8" }`; for a ban also
/// `duration` (milliseconds, or `"2h"`) and `reason`.
#[derive(Deserialize)]
struct BanBody {
    user: Option<String>,
    ip: Option<String>,
    duration: Option<Value>,
    reason: Option<String>,
}

fn target(body: &BanBody) -> Result<BanTarget> {
    match (&body.user, &body.ip) {
        (Some(user), None) => Ok(BanTarget::User(user.clone())),
        (None, Some(ip)) => Ok(BanTarget::Ip(ip.clone())),
        _ => Err(Error::BadRequest(
            "give exactly one of user (an id or email) and ip (an address or network)".into(),
        )),
    }
}

fn duration(value: Option<&Value>) -> Result<i64> {
    match value {
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| Error::BadRequest("duration: must be whole milliseconds".into())),
        Some(Value::String(text)) => admin::parse_duration(text),
        None => Err(Error::BadRequest("duration: required".into())),
        Some(_) => Err(Error::BadRequest(
            "duration: milliseconds, or a text like \"2h\"".into(),
        )),
    }
}

#[utoipa::path(get, path = "/bans", tag = "admin",
    security(("bearer" = []), ("adminApiKey" = [])),
    responses((status = 200, description = "The bans in force", body = schema::Bans), (status = 403, description = "Not an admin, or an admin without 2FA (`REQUIRE_2FA_FOR_ADMINS`)", body = schema::Message)))]
async fn list(
    State(ctx): State<Arc<AppContext>>,
    AdminCaller(admin): AdminCaller,
) -> Result<Response> {
    let bans = admin::list_bans(&ctx, &Actor::Admin(admin)).await?;
    Ok(Json(json!({ "bans": bans })).into_response())
}

#[utoipa::path(post, path = "/bans", tag = "admin",
    security(("bearer" = []), ("adminApiKey" = [])),
    request_body = schema::BanRequest,
    responses((status = 201, description = "Banned", body = schema::BanCreated), (status = 403, description = "Not an admin, or an admin without 2FA (`REQUIRE_2FA_FOR_ADMINS`)", body = schema::Message), (status = 400, description = "A bad parameter, named", body = schema::Message), (status = 404, description = "User not found", body = schema::Message)))]
async fn ban(
    State(ctx): State<Arc<AppContext>>,
    AdminCaller(admin): AdminCaller,
    ApiJson(body): ApiJson<BanBody>,
) -> Result<Response> {
    let new = NewBan {
        target: target(&body)?,
        duration_ms: duration(body.duration.as_ref())?,
        reason: body.reason,
    };
    let ban = admin::ban(&ctx, &Actor::Admin(admin), new).await?;
    Ok((StatusCode::CREATED, Json(json!({ "ban": ban }))).into_response())
}

#[utoipa::path(delete, path = "/bans", tag = "admin",
    security(("bearer" = []), ("adminApiKey" = [])),
    request_body = schema::BanRequest,
    responses((status = 200, description = "Whether a ban was lifted", body = schema::BanLifted), (status = 403, description = "Not an admin, or an admin without 2FA (`REQUIRE_2FA_FOR_ADMINS`)", body = schema::Message), (status = 400, description = "A bad parameter, named", body = schema::Message), (status = 404, description = "User not found", body = schema::Message)))]
async fn lift(
    State(ctx): State<Arc<AppContext>>,
    AdminCaller(admin): AdminCaller,
    ApiJson(body): ApiJson<BanBody>,
) -> Result<Response> {
    let lifted = admin::lift(&ctx, &Actor::Admin(admin), target(&body)?).await?;
    Ok(Json(json!({ "lifted": lifted })).into_response())
}
