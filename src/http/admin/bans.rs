//! The admin API's `bans` routes.

use std::sync::Arc;

use axum::Router;

use crate::app::AppContext;

pub fn routes() -> Router<Arc<AppContext>> {
    Router::new()
}
