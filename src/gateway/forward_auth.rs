//! `GET /api/auth/verify`: the auth sub-request of nginx `auth_request`, Traefik ForwardAuth and
//! Caddy `forward_auth`. The original method and URI come in exactly one header family, the one
//! `FORWARD_AUTH_HEADERS` names and the operator's proxy sets: `X-Forwarded-Method` /
//! `X-Forwarded-Uri` (Traefik, Caddy; the default) or `X-Original-Method` / `X-Original-URI`
//! (nginx). The other family is ignored: proxies pass the client's other headers through, so a
//! client could add it. The answer is believed only from a `TRUSTED_PROXIES` peer. 200 carries
//! the identity headers; 400 (a missing, repeated or refused original request), 401, 403 and
//! 429 refuse.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{admit, set_identity};
use crate::app::AppContext;
use crate::error::Error;
use crate::http::extract::ClientIp;
use crate::moderation::client_ip::normalize;

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
    match admit(&ctx, &method, &target, &headers, ip, false).await {
        Ok(admitted) => {
            let mut out = HeaderMap::new();
            set_identity(&mut out, admitted.claims.as_ref());
            (StatusCode::OK, out).into_response()
        }
        Err(refusal) => refusal,
    }
}
