//! The admin API's `api_keys` routes.

use std::sync::Arc;

use axum::Router;

use crate::app::AppContext;

pub fn routes() -> Router<Arc<AppContext>> {
    Router::new()
}
