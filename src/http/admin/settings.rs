//! The admin API's `settings` route: the settings at a glance (read-only). The rules are
//! `usecases/admin_settings.rs`.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::app::AppContext;
use crate::error::Result;
use crate::http::extract::AdminCaller;
use crate::usecases::admin::{self, Actor};

pub fn routes() -> Router<Arc<AppContext>> {
    Router::new().route("/settings", get(settings))
}

async fn settings(
    State(ctx): State<Arc<AppContext>>,
    AdminCaller(admin): AdminCaller,
) -> Result<Response> {
    Ok(Json(admin::settings(&ctx, &Actor::Admin(admin)).await?).into_response())
}
