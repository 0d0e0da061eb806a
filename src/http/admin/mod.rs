//! The admin API under `/api/bouncer/` (LibreChat's own `/api/admin/*` belongs to its admin
//! panel and still reaches the backend through the gateway). Every route takes an
//! `AdminCaller`; the rules are `usecases/admin*.rs`.

use std::sync::Arc;

use utoipa_axum::router::OpenApiRouter;

use crate::app::AppContext;

pub mod api_keys;
pub mod audit;
pub mod bans;
pub mod settings;
pub mod users;

/// The routes, relative to `/api/bouncer`.
pub fn routes() -> OpenApiRouter<Arc<AppContext>> {
    OpenApiRouter::new()
        .merge(users::routes())
        .merge(bans::routes())
        .merge(settings::routes())
        .merge(audit::routes())
        .merge(api_keys::routes())
}
