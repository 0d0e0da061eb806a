//! The admin API's `users` routes.

use std::sync::Arc;

use axum::Router;

use crate::app::AppContext;

pub fn routes() -> Router<Arc<AppContext>> {
    Router::new()
}
