//! Bouncer's own sign-in pages, under `PAGES_PREFIX` (`/ui`): the third translator of the use
//! cases, beside the JSON API and the operator commands. Server-rendered (askama templates,
//! compile-checked), one stylesheet, and one script for passkeys only (every page works without it). A sign-in here starts a *browser session*
//! whose single-sign-on cookie the pages and forward-auth read.
//!
//! Every answer carries a strict Content-Security-Policy (no inline script or style), refuses
//! framing and is never cached; every form carries a CSRF token (`csrf.rs`); every return
//! address passes `return_to::check`.

mod account;
mod account_activity;
mod admin;
mod csrf;
mod errors;
mod layout;
mod passkeys;
mod password;
mod provider;
mod register;
mod sign_in;
mod stylesheet;
pub mod text;

use std::sync::Arc;

use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{middleware, Router};

use crate::app::AppContext;

/// The pages' routes, to be nested under `PAGES_PREFIX`.
pub fn router(ctx: &AppContext) -> Router<Arc<AppContext>> {
    let csp = content_security_policy(ctx);
    Router::new()
        .route("/", get(sign_in::home))
        .route("/style.css", get(stylesheet::get))
        .route("/login", get(sign_in::form).post(sign_in::submit))
        .route("/login/2fa", post(sign_in::second_factor))
        .route("/passkeys.js", get(passkeys::script))
        .route("/login/passkey", post(passkeys::sign_in))
        .route("/login/2fa/passkey", post(passkeys::second_factor))
        .route("/account/passkeys", post(account::register_passkey))
        .route("/account/passkeys/options", post(account::passkey_options))
        .route("/account/passkeys/rename", post(account::rename_passkey))
        .route("/account/passkeys/remove", post(account::remove_passkey))
        .route("/logout", get(sign_in::logout_form).post(sign_in::logout))
        .route("/register", get(register::form).post(register::submit))
        .route("/forgot", get(password::forgot_form).post(password::forgot))
        .route("/reset", get(password::reset_form).post(password::reset))
        .route("/verify", get(register::verify))
        .route("/verify/resend", post(register::resend))
        .route("/account", get(account::page))
        .route("/account/password", post(account::change_password))
        .route("/account/2fa/setup", post(account::two_factor_setup))
        .route("/account/2fa/confirm", post(account::two_factor_confirm))
        .route("/account/2fa/disable", post(account::two_factor_disable))
        .route("/account/sessions/revoke", post(account::revoke_session))
        .route("/account/apps/withdraw", post(account::withdraw_app))
        .route("/account/api-keys", post(account::create_api_key))
        .route("/account/api-keys/revoke", post(account::revoke_api_key))
        .route("/account/delete", post(account::delete))
        .route("/consent", post(provider::consent))
        .nest("/admin", admin::router())
        .fallback(errors::not_found)
        .layer(middleware::map_response(move |response: Response| {
            let csp = csp.clone();
            async move { secure_headers(response, csp) }
        }))
}

/// The OpenID provider's browser endpoints (authorize, end-session), with the pages' headers;
/// to be merged under the issuer's path.
pub fn provider_router(ctx: &AppContext) -> Router<Arc<AppContext>> {
    use crate::provider::paths;
    let csp = content_security_policy(ctx);
    Router::new()
        .route(
            paths::AUTHORIZE,
            get(provider::authorize_get).post(provider::authorize_post),
        )
        .route(
            paths::END_SESSION,
            get(provider::end_session_get).post(provider::end_session_post),
        )
        .layer(middleware::map_response(move |response: Response| {
            let csp = csp.clone();
            async move { secure_headers(response, csp) }
        }))
}

/// Scripts only from here (the passkey ceremonies; every page works without), and requests
/// from them only to here; styles and images from here (and the logo's origin), no framing, no
/// `<base>` tricks, no plugins.
fn content_security_policy(ctx: &AppContext) -> HeaderValue {
    let logo_origin = ctx
        .config
        .pages
        .logo_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| format!(" {}", u.origin().ascii_serialization()))
        .unwrap_or_default();
    let policy = format!(
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; \
         img-src 'self' data:{logo_origin}; \
         frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    );
    HeaderValue::from_str(&policy).expect("the policy is ASCII")
}

fn secure_headers(mut response: Response, csp: HeaderValue) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
