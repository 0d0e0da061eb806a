//! The admin console under `/ui/admin`: users, bans, the audit log and the settings, as
//! server-rendered pages for an ADMIN signed in with the browser session (`gate.rs`). Each
//! handler reads a form (CSRF first), calls one admin use case and redirects back with a
//! notice (POST-redirect-GET), or shows the use case's refusal on the page.

mod audit;
mod bans;
mod gate;
mod settings;
mod user;
mod users;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

use crate::app::AppContext;

/// The console's routes, nested under `/admin` in the pages' router (which adds the
/// security headers and the not-found page).
pub fn router() -> Router<Arc<AppContext>> {
    Router::new()
        .route("/", get(users::list))
        .route("/users/{id}", get(user::page))
        .route("/users/{id}/role", post(user::set_role))
        .route("/users/{id}/disable", post(user::disable))
        .route("/users/{id}/enable", post(user::enable))
        .route("/users/{id}/sign-out", post(user::sign_out))
        .route("/users/{id}/reset-2fa", post(user::reset_two_factor))
        .route(
            "/users/{id}/password-reset",
            post(user::send_password_reset),
        )
        .route("/users/{id}/ban", post(user::ban))
        .route("/users/{id}/unban", post(user::lift_ban))
        .route("/users/{id}/sessions/revoke", post(user::revoke_session))
        .route("/users/{id}/sessions/revoke-all", post(user::revoke_all))
        .route(
            "/users/{id}/delete",
            get(user::delete_confirmation).post(user::delete),
        )
        .route("/bans", get(bans::page).post(bans::ban_ip))
        .route("/bans/lift", post(bans::lift))
        .route("/audit", get(audit::page))
        .route("/audit/export", get(audit::export))
        .route("/settings", get(settings::page))
}
