//! The routing table: Bouncer's own API (`http/`), forward-auth and, with `UPSTREAM_URL`, the
//! reverse proxy for everything else (`gateway/`), behind the one canonicalization of request
//! targets that both read.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{middleware, Json, Router};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppContext;
use crate::http::{
    auth, body_limit, canonical_target, extract, health, oauth, oidc, openapi, password_reset,
    request_id, startup_config, two_factor, user, verification,
};

pub fn router(ctx: Arc<AppContext>) -> Router {
    // Every API route is registered with `routes!`, which takes its path and methods from the
    // handler's `#[utoipa::path]`: the OpenAPI document is built from this very table
    // (`http/openapi.rs`), so it cannot name a route that is not served nor miss one.
    let mut router = openapi::api_router().routes(routes!(oauth::error));
    // Provider routes exist only when their provider is enabled (ALLOW_SOCIAL_LOGIN included).
    if ctx.openid.is_some() {
        router = router
            .routes(routes!(oauth::openid_start))
            .routes(routes!(oauth::openid_callback));
    }
    if ctx.saml.is_some() {
        router = router
            .routes(routes!(oauth::saml_start))
            .routes(routes!(oauth::saml_callback))
            .routes(routes!(oauth::saml_metadata));
    }
    let social: Vec<_> = ctx.social.keys().copied().collect();
    router = oauth::social_routes(router, &social);
    router = crate::http::passkeys::routes(router);
    router = router
        .routes(routes!(auth::login))
        .routes(routes!(auth::register))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(password_reset::request))
        .routes(routes!(password_reset::reset))
        .routes(routes!(two_factor::enable))
        .routes(routes!(two_factor::verify))
        .routes(routes!(two_factor::confirm))
        .routes(routes!(two_factor::disable))
        .routes(routes!(two_factor::regenerate))
        .routes(routes!(two_factor::verify_temp))
        .routes(routes!(user::me))
        .routes(routes!(user::terms))
        .routes(routes!(user::accept_terms))
        .routes(routes!(user::delete_account))
        .routes(routes!(verification::verify))
        .routes(routes!(verification::resend))
        .routes(routes!(startup_config::get))
        .routes(routes!(health::health))
        .routes(routes!(health::live))
        .routes(routes!(health::ready))
        .routes(routes!(health::librechat))
        .routes(routes!(crate::gateway::forward_auth::verify))
        .routes(routes!(openapi::document))
        // The admin API: its unknown paths are Bouncer's 404, never the backend's.
        .nest(
            "/api/bouncer",
            crate::http::admin::routes().fallback(not_found),
        )
        // The sign-in pages (their own 404 page and security headers; HTML, not in the
        // document).
        .nest(&ctx.config.pages.prefix, crate::pages::router(&ctx).into())
        .merge(provider_routes(&ctx))
        .merge(crate::http::metrics::routes(&ctx));
    let (router, document) = router.split_for_parts();
    let mut router = router
        .layer(openapi::served(document))
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
fn provider_routes(ctx: &AppContext) -> OpenApiRouter<Arc<AppContext>> {
    let routes = OpenApiRouter::new()
        .routes(routes!(oidc::discovery))
        .routes(routes!(oidc::jwks))
        .routes(routes!(oidc::token))
        .routes(routes!(oidc::userinfo))
        .routes(routes!(oidc::revoke))
        .routes(routes!(oidc::introspect))
        .routes(routes!(oidc::picture))
        .merge(crate::pages::provider_router(ctx).into());
    let base = ctx.provider.base_path();
    if base.is_empty() {
        routes
    } else {
        OpenApiRouter::new().nest(&base, routes)
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
