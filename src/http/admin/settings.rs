//! The admin API's `settings` route: the settings at a glance (read-only). The rules are
//! `usecases/admin_settings.rs`.

use crate::http::openapi_schemas as schema;
use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppContext;
use crate::error::Result;
use crate::http::extract::AdminCaller;
use crate::usecases::admin::{self, Actor};

pub fn routes() -> OpenApiRouter<Arc<AppContext>> {
    OpenApiRouter::new().routes(routes!(settings))
}

#[utoipa::path(get, path = "/settings", tag = "admin",
    security(("bearer" = []), ("adminApiKey" = [])),
    responses((status = 200, description = "The settings in force, secrets left out", body = Object), (status = 403, description = "Not an admin, or an admin without 2FA (`REQUIRE_2FA_FOR_ADMINS`)", body = schema::Message)))]
async fn settings(
    State(ctx): State<Arc<AppContext>>,
    AdminCaller(admin): AdminCaller,
) -> Result<Response> {
    Ok(Json(admin::settings(&ctx, &Actor::Admin(admin)).await?).into_response())
}
