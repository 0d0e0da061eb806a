//! The routing table: Bouncer's own API (`http/`), forward-auth and, with `UPSTREAM_URL`, the
//! reverse proxy for everything else (`gateway/`), behind the one canonicalization of request
//! targets that both read.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Json, Router};
use serde_json::json;

use crate::app::AppContext;
use crate::http::{
    auth, body_limit, canonical_target, extract, health, oauth, oidc, password_reset, request_id,
    startup_config, two_factor, user, verification,
};

pub fn router(ctx: Arc<AppContext>) -> Router {
    let mut router = Router::new().route("/oauth/error", get(oauth::error));
    // Provider routes exist only when their provider is enabled (ALLOW_SOCIAL_LOGIN included).
    if ctx.openid.is_some() {
        router = router
            .route("/oauth/openid", get(oauth::openid_start))
            .route("/oauth/openid/callback", get(oauth::openid_callback));
    }
    if ctx.saml.is_some() {
        router = router
            .route("/oauth/saml", get(oauth::saml_start))
            .route("/oauth/saml/callback", post(oauth::saml_callback))
            .route("/oauth/saml/metadata", get(oauth::saml_metadata));
    }
    let social: Vec<_> = ctx.social.keys().copied().collect();
    router = oauth::social_routes(router, &social);
    router = router
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/register", post(auth::register))
        .route("/api/auth/refresh", post(auth::refresh))
        .route("/api/auth/logout", post(auth::logout))
        .route(
            "/api/auth/requestPasswordReset",
            post(password_reset::request),
        )
        .route("/api/auth/resetPassword", post(password_reset::reset))
        .route(
            "/api/auth/2fa/enable",
            post(two_factor::enable).get(two_factor::enable),
        )
        .route("/api/auth/2fa/verify", post(two_factor::verify))
        .route("/api/auth/2fa/confirm", post(two_factor::confirm))
        .route("/api/auth/2fa/disable", post(two_factor::disable))
        .route(
            "/api/auth/2fa/backup/regenerate",
            post(two_factor::regenerate),
        )
        .route("/api/auth/2fa/verify-temp", post(two_factor::verify_temp))
        .route("/api/user", get(user::me))
        .route("/api/user/terms", get(user::terms))
        .route("/api/user/terms/accept", post(user::accept_terms))
        .route(
            "/api/user/delete",
            axum::routing::delete(user::delete_account),
        )
        .route("/api/user/verify", post(verification::verify))
        .route("/api/user/verify/resend", post(verification::resend))
        .route("/api/config", get(startup_config::get))
        .route("/healthz", get(health::health))
        .route("/livez", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/health", get(health::librechat))
        .route(
            "/api/auth/verify",
            get(crate::gateway::forward_auth::verify),
        )
        // The admin API: its unknown paths are Bouncer's 404, never the backend's.
        .nest(
            "/api/bouncer",
            crate::http::admin::routes().fallback(not_found),
        )
        // The sign-in pages (their own 404 page and security headers).
        .nest(&ctx.config.pages.prefix, crate::pages::router(&ctx))
        .merge(provider_routes(&ctx))
        .merge(crate::http::metrics::routes(&ctx))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .route_layer(middleware::from_fn(body_limit::refuse_declared_oversize))
        // Bouncer's own answers only: proxied ones keep the upstream's caching headers.
        .route_layer(middleware::map_response(no_store));
    // With UPSTREAM_URL, everything else goes to the chat backend (after the gateway's
    // checks); without, it is a JSON 404.
    if ctx.config.gateway.upstream.is_some() {
        router = router.fallback(crate::gateway::proxy::forward);
    } else {
        router = router.fallback(not_found);
    }
    router = crate::http::metrics_layer::install(router, &ctx);
    // Targets are made canonical before routing, so the router and the gateway read one path.
    Router::new()
        .fallback_service(router.with_state(ctx.clone()))
        .layer(middleware::from_fn(canonical_target::canonicalize))
        // Outermost: even a target refused as not canonical has an id in the logs.
        .layer(middleware::from_fn_with_state(ctx, request_id::tag))
}

/// The OpenID provider, under the issuer's path: its machine endpoints (`http/oidc.rs`) and
/// its browser endpoints (`pages/`). They answer 404 until a client is registered.
fn provider_routes(ctx: &AppContext) -> Router<Arc<AppContext>> {
    use crate::provider::paths;
    let routes = Router::new()
        .route(paths::DISCOVERY, get(oidc::discovery))
        .route(paths::JWKS, get(oidc::jwks))
        .route(paths::TOKEN, post(oidc::token))
        .route(paths::USERINFO, get(oidc::userinfo).post(oidc::userinfo))
        .route(paths::REVOKE, post(oidc::revoke))
        .route(paths::INTROSPECT, post(oidc::introspect))
        .route(
            &format!("{}/{{user_id}}", paths::PICTURE),
            get(oidc::picture),
        )
        .merge(crate::pages::provider_router(ctx));
    let base = ctx.provider.base_path();
    if base.is_empty() {
        routes
    } else {
        Router::new().nest(&base, routes)
    }
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "message": "Not found" })),
    )
        .into_response()
}

async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(json!({ "message": "Method not allowed" })),
    )
        .into_response()
}

/// Answers carry tokens and user data: no cache may keep them. The provider's discovery
/// document and keys are public and polled: half a minute, less than a rotated-in key waits
/// before it signs (`provider::keys::ACTIVATE_AFTER_MS`), so no cache hides a key in use.
async fn no_store(mut response: Response) -> Response {
    let value = if response.extensions().get::<oidc::Cacheable>().is_some() {
        HeaderValue::from_static("public, max-age=30")
    } else {
        HeaderValue::from_static("no-store")
    };
    response.headers_mut().insert(header::CACHE_CONTROL, value);
    response
}
