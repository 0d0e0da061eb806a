//! The auth cookies of LibreChat's contract: `refreshToken` and `token_provider`, both
//! `HttpOnly; SameSite=Strict; Path=/; Expires=<session end>`, `Secure` by configuration.

use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use cookie::{Cookie, SameSite};
use time::OffsetDateTime;

use crate::config::pages::PagesConfig;

pub const REFRESH_COOKIE: &str = "refreshToken";
pub const PROVIDER_COOKIE: &str = "token_provider";
/// Cookies LibreChat's OpenID mode sets; cleared on logout so an imported browser session
/// leaves nothing behind.
const OPENID_COOKIES: [&str; 3] = ["openid_access_token", "openid_id_token", "openid_user_id"];

fn auth_cookie(
    name: &'static str,
    value: String,
    expires: OffsetDateTime,
    secure: bool,
) -> HeaderValue {
    let cookie = Cookie::build((name, value))
        .path("/")
        .expires(expires)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("cookie is a valid header value")
}

/// Adds the cookies of a new or rotated session.
pub fn set_session(
    headers: &mut HeaderMap,
    refresh_token: &str,
    session_end_ms: i64,
    secure: bool,
) {
    let expires = OffsetDateTime::from_unix_timestamp(session_end_ms.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    headers.append(
        SET_COOKIE,
        auth_cookie(REFRESH_COOKIE, refresh_token.to_string(), expires, secure),
    );
    headers.append(
        SET_COOKIE,
        auth_cookie(PROVIDER_COOKIE, "librechat".to_string(), expires, secure),
    );
}

/// Expires every auth cookie.
pub fn clear_session(headers: &mut HeaderMap, secure: bool) {
    for name in [REFRESH_COOKIE, PROVIDER_COOKIE]
        .into_iter()
        .chain(OPENID_COOKIES)
    {
        headers.append(
            SET_COOKIE,
            auth_cookie(name, String::new(), OffsetDateTime::UNIX_EPOCH, secure),
        );
    }
}

/// The value of the `refreshToken` cookie, if the request carries one.
pub fn refresh_token(headers: &HeaderMap) -> Option<String> {
    request_cookie(headers, REFRESH_COOKIE)
}

/// The single-sign-on cookie of the sign-in pages (`SESSION_COOKIE_NAME`): `HttpOnly`,
/// `SameSite=Lax` (it must come along when a portal redirects the browser back to an app),
/// `Path=/`, on `SESSION_COOKIE_DOMAIN` when set, `Secure` by the same rule as LibreChat's.
pub fn set_browser_session(
    headers: &mut HeaderMap,
    pages: &PagesConfig,
    value: &str,
    session_end_ms: i64,
    secure: bool,
) {
    let expires = OffsetDateTime::from_unix_timestamp(session_end_ms.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    append_browser_cookie(headers, pages, value.to_string(), expires, secure);
}

pub fn clear_browser_session(headers: &mut HeaderMap, pages: &PagesConfig, secure: bool) {
    append_browser_cookie(
        headers,
        pages,
        String::new(),
        OffsetDateTime::UNIX_EPOCH,
        secure,
    );
}

fn append_browser_cookie(
    headers: &mut HeaderMap,
    pages: &PagesConfig,
    value: String,
    expires: OffsetDateTime,
    secure: bool,
) {
    let mut cookie = Cookie::build((pages.cookie_name.clone(), value))
        .path("/")
        .expires(expires)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .build();
    if let Some(domain) = &pages.cookie_domain {
        cookie.set_domain(domain.clone());
    }
    headers.append(
        SET_COOKIE,
        HeaderValue::from_str(&cookie.to_string()).expect("cookie is a valid header value"),
    );
}

/// The value of the single-sign-on cookie, if the request carries one.
pub fn browser_session(headers: &HeaderMap, pages: &PagesConfig) -> Option<String> {
    request_cookie(headers, &pages.cookie_name)
}

/// The non-empty value of a cookie the request carries.
pub fn request_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name && !c.value().is_empty())
        .map(|c| c.value().to_string())
}

/// The cookie carrying an identity-provider flow from `/oauth/<provider>` to its callback. Lax,
/// not Strict: the callback is a top-level navigation coming from the provider's site. A
/// provider that posts its answer back (Apple) needs `SameSite=None`, which browsers accept only
/// with `Secure` (on localhost too).
pub fn set_flow_state(headers: &mut HeaderMap, value: String, max_age_secs: i64, secure: bool) {
    set_flow_state_for(headers, value, max_age_secs, secure, false);
}

pub fn set_flow_state_for(
    headers: &mut HeaderMap,
    value: String,
    max_age_secs: i64,
    secure: bool,
    cross_site_post: bool,
) {
    let cookie = Cookie::build((crate::sso::state::COOKIE, value))
        .path("/oauth")
        .max_age(time::Duration::seconds(max_age_secs))
        .http_only(true)
        .same_site(if cross_site_post {
            SameSite::None
        } else {
            SameSite::Lax
        })
        .secure(secure || cross_site_post)
        .build();
    headers.append(
        SET_COOKIE,
        HeaderValue::from_str(&cookie.to_string()).expect("cookie is a valid header value"),
    );
}

pub fn clear_flow_state(headers: &mut HeaderMap, secure: bool) {
    set_flow_state(headers, String::new(), 0, secure);
}

pub fn flow_state(headers: &HeaderMap) -> Option<String> {
    request_cookie(headers, crate::sso::state::COOKIE)
}
