//! Cross-site request forgery protection of every form: a random per-browser cookie and, in
//! each form, an HMAC of it (bound to the browser session when there is one) under a key of
//! its own (OWASP's signed double-submit cookie). A form is also refused when the browser
//! says it was sent from another site (`Origin`, `Sec-Fetch-Site`).

use axum::http::header::{ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use cookie::{Cookie, SameSite};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::app::AppContext;
use crate::http::cookies::request_cookie;

/// The CSRF cookie's name: the session cookie's with a suffix.
pub fn cookie_name(ctx: &AppContext) -> String {
    format!("{}_csrf", ctx.config.pages.cookie_name)
}

fn key(ctx: &AppContext) -> Hmac<Sha256> {
    let secret = format!(
        "bouncer pages csrf key\0{}",
        ctx.config.sessions.jwt_refresh_secret.expose()
    );
    Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length")
}

/// The form token for this browser's CSRF cookie and session.
pub fn token(ctx: &AppContext, browser: &str, session_id: Option<&str>) -> String {
    let mut mac = key(ctx);
    mac.update(browser.as_bytes());
    mac.update(b"\0");
    mac.update(session_id.unwrap_or("").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// This browser's CSRF cookie value, and a `Set-Cookie` for a new one when it has none.
pub fn browser_value(ctx: &AppContext, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    let name = cookie_name(ctx);
    if let Some(value) = request_cookie(headers, &name).filter(|v| v.len() == 64) {
        return (value, None);
    }
    let value = crate::ids::random_hex(32);
    let cookie = Cookie::build((name, value.clone()))
        .path(ctx.config.pages.prefix.clone())
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(ctx.config.sessions.secure_cookies)
        .build();
    let header = HeaderValue::from_str(&cookie.to_string()).expect("cookie is a valid header");
    (value, Some(header))
}

/// Adds the `Set-Cookie` of a new CSRF cookie, if one was made.
pub fn set_cookie(headers: &mut HeaderMap, new_cookie: Option<HeaderValue>) {
    if let Some(value) = new_cookie {
        headers.append(SET_COOKIE, value);
    }
}

/// Whether a submitted form is this browser's own.
pub fn check(
    ctx: &AppContext,
    headers: &HeaderMap,
    submitted: Option<&str>,
    session_id: Option<&str>,
) -> bool {
    if from_another_site(ctx, headers) {
        return false;
    }
    let Some(browser) = request_cookie(headers, &cookie_name(ctx)) else {
        return false;
    };
    let Some(submitted) = submitted else {
        return false;
    };
    let expected = token(ctx, &browser, session_id);
    expected.as_bytes().ct_eq(submitted.as_bytes()).into()
}

fn from_another_site(ctx: &AppContext, headers: &HeaderMap) -> bool {
    let cross_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"));
    let other_origin = headers.get(ORIGIN).is_some_and(|origin| {
        let own = url::Url::parse(&ctx.config.client.domain_server).map(|u| u.origin());
        let sent = origin.to_str().ok().map(url::Url::parse);
        !matches!((own, sent), (Ok(own), Some(Ok(sent))) if sent.origin() == own)
    });
    cross_site || other_origin
}
