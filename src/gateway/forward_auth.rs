//! `GET /api/auth/verify`: the auth sub-request of nginx `auth_request`, Traefik ForwardAuth and
//! Caddy `forward_auth`. The original method and URI come in exactly one header family, the one
//! `FORWARD_AUTH_HEADERS` names and the operator's proxy sets: `X-Forwarded-Method` /
//! `X-Forwarded-Uri` (Traefik, Caddy; the default) or `X-Original-Method` / `X-Original-URI`
//! (nginx). The other family is ignored: proxies pass the client's other headers through, so a
//! client could add it. The answer is believed only from a `TRUSTED_PROXIES` peer. 200 carries
//! the identity headers (Bouncer's `X-Auth-User-*` and the `Remote-*` of Authelia and its
//! peers); 400 (a missing, repeated or refused original request), 401, 403 and 429 refuse.
//!
//! The credential is the `Authorization: Bearer` access token or, without one, the sign-in
//! pages' single-sign-on cookie. A browser without either (the original request's `Accept`
//! names `text/html`) is sent to sign in: with the `forwarded` family (Traefik, Caddy, which
//! pass a non-2xx answer on to the browser) a 302 to `<DOMAIN_SERVER><PAGES_PREFIX>/login`
//! with `rd`, the original URL rebuilt from `X-Forwarded-Proto`, `-Host` and `-Uri` and kept
//! only if `return_to::check` allows it; with the `original` family (nginx, which turns any
//! answer but 2xx, 401 and 403 into a 500) a 401, which nginx's `error_page 401 =302 ...`
//! redirects. Every other refusal (a ban's 403, 429, `ACCESS_RULES`' 403) stays as it is: a
//! banned user's sessions end with the ban, so their browser is sent to sign in, where the
//! pages say why; a banned IP gets the 403 itself, a redirect could only loop.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{admit, refusal, set_identity};
use crate::app::AppContext;
use crate::config::gateway::ForwardAuthHeaders;
use crate::error::Error;
use crate::http::extract::ClientIp;
use crate::moderation::client_ip::normalize;
use crate::request_target::Target;
use crate::usecases::chat_access::Host;

/// The one value of a header, or why there is not exactly one.
fn only_value<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, Error> {
    let mut values = headers.get_all(name).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(Error::BadRequest(format!(
            "forward-auth needs exactly one {name} header (set FORWARD_AUTH_HEADERS to the family your proxy sends)"
        )));
    };
    value
        .to_str()
        .map_err(|_| Error::BadRequest(format!("{name} is not printable ASCII")))
}

#[utoipa::path(get, path = "/api/auth/verify", tag = "gateway",
    security(("bearer" = []), ()),
    params(
        ("X-Forwarded-Method" = Option<String>, Header, description = "The original method (`FORWARD_AUTH_HEADERS=forwarded`)"),
        ("X-Forwarded-Uri" = Option<String>, Header, description = "The original URI (`forwarded`)"),
        ("X-Original-Method" = Option<String>, Header, description = "The original method (`FORWARD_AUTH_HEADERS=original`)"),
        ("X-Original-URI" = Option<String>, Header, description = "The original URI (`original`)"),
    ),
    responses(
        (status = 200, description = "Admitted; the identity in `X-Auth-User-*` and `Remote-*`"),
        (status = 302, description = "A browser without a session: to the sign-in page"),
        (status = 400, description = "A missing, repeated or refused original request", body = crate::http::openapi_schemas::Message),
        (status = 401, description = "No valid credential", body = crate::http::openapi_schemas::Message),
        (status = 403, description = "A peer outside `TRUSTED_PROXIES`, a ban, `ACCESS_RULES`", body = crate::http::openapi_schemas::Message),
        (status = 429, description = "A limiter", body = crate::http::openapi_schemas::Message),
    ))]
pub async fn verify(
    State(ctx): State<Arc<AppContext>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Response {
    let peer = normalize(peer.ip());
    let moderation = &ctx.config.moderation;
    if !moderation.trusted_proxies.iter().any(|n| n.contains(&peer)) {
        tracing::warn!(%peer, "forward-auth request from a peer outside TRUSTED_PROXIES");
        return Error::Forbidden("Forward-auth answers trusted proxies only".into())
            .into_response();
    }
    let family = ctx.config.gateway.forward_auth_headers;
    let original = only_value(&headers, family.uri_header()).and_then(|uri| {
        crate::request_target::parse(uri)
            .map_err(|why| Error::BadRequest(format!("Bad request: {why}")))
    });
    let method = only_value(&headers, family.method_header()).and_then(|m| {
        Method::from_bytes(m.as_bytes())
            .map_err(|_| Error::BadRequest(format!("{} is not a method", family.method_header())))
    });
    let (target, method) = match (original, method) {
        (Ok(t), Ok(m)) => (t, m),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    let host = original_host(&headers);
    let rule_host = host
        .as_ref()
        .map_or(Host::Unknown, |(name, _)| Host::Named(name));
    match admit(&ctx, &method, &target, &headers, ip, false, rule_host).await {
        Ok(admitted) => {
            let mut out = HeaderMap::new();
            set_identity(&mut out, admitted.claims.as_ref());
            (StatusCode::OK, out).into_response()
        }
        Err(Error::Unauthorized(_))
            if family == ForwardAuthHeaders::Forwarded && wants_html(&headers) =>
        {
            sign_in_redirect(&ctx, &headers, host.as_ref(), &target)
        }
        // Signed in on the pages but `REQUIRE_2FA` asks for 2FA first: to its setup.
        Err(Error::TwoFactorSetupRequired)
            if family == ForwardAuthHeaders::Forwarded && wants_html(&headers) =>
        {
            let account = format!(
                "{}{}/account",
                ctx.config.client.domain_server, ctx.config.pages.prefix
            );
            match HeaderValue::from_str(&account) {
                Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
                Err(_) => refusal(Error::TwoFactorSetupRequired, &headers),
            }
        }
        Err(e) => refusal(e, &headers),
    }
}

/// Whether the original request came from a browser navigating (`Accept` names `text/html`).
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/html"))
}

/// The original request's host as the proxy names it (`X-Forwarded-Host`, exactly one value of
/// host characters): lower case without the port (for `ACCESS_RULES`), and as sent (for `rd`).
fn original_host(headers: &HeaderMap) -> Option<(String, String)> {
    let raw = only_value(headers, "X-Forwarded-Host").ok()?;
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b);
    if raw.is_empty() || !raw.bytes().all(allowed) {
        return None;
    }
    let lower = raw.to_ascii_lowercase();
    let name = match lower.strip_prefix('[') {
        // An IPv6 literal: `[::1]` or `[::1]:8080`.
        Some(rest) => {
            let (inside, after) = rest.split_once(']')?;
            if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
                return None;
            }
            format!("[{inside}]")
        }
        None => match lower.split_once(':') {
            Some((name, port)) if is_port(port) => name.to_string(),
            Some(_) => return None,
            None => lower,
        },
    };
    Some((name, raw.to_string()))
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}

/// 302 to the sign-in page, with `rd` when the original URL may be returned to.
fn sign_in_redirect(
    ctx: &AppContext,
    headers: &HeaderMap,
    host: Option<&(String, String)>,
    target: &Target,
) -> Response {
    let pages = &ctx.config.pages;
    let own = &ctx.config.client.domain_server;
    let mut login = format!("{own}{}/login", pages.prefix);
    let proto = only_value(headers, "X-Forwarded-Proto")
        .ok()
        .filter(|p| matches!(*p, "http" | "https"));
    if let (Some(proto), Some((_, host))) = (proto, host) {
        let original = format!("{proto}://{host}{}", target.path_and_query());
        if let Some(rd) = crate::return_to::check(&original, pages, own) {
            login.push_str("?rd=");
            login.extend(url::form_urlencoded::byte_serialize(rd.as_bytes()));
        }
    }
    match HeaderValue::from_str(&login) {
        Ok(location) => (
            StatusCode::FOUND,
            [
                (header::LOCATION, location),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
        )
            .into_response(),
        // DOMAIN_SERVER and PAGES_PREFIX are checked at start; this cannot happen.
        Err(_) => Error::Unauthorized("No auth token".into()).into_response(),
    }
}
