//! A request id on every log line of a request and on its answer (`X-Request-Id`): the one a
//! trusted proxy set, or a fresh one. The gateway forwards it to the backend, so one id
//! follows a request through the proxy, Bouncer and the chat backend.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::app::AppContext;

pub const HEADER: &str = "x-request-id";

/// The id of the request in hand (in the request's extensions).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Takes `X-Request-Id` only from a trusted proxy (the same rule as `X-Forwarded-For`): a
/// client could otherwise make its lines look like another request's.
pub async fn tag(State(ctx): State<Arc<AppContext>>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let moderation = &ctx.config.moderation;
    let trusted = moderation.trust_proxy > 0
        && moderation
            .trusted_proxies
            .iter()
            .any(|net| net.contains(&crate::moderation::client_ip::normalize(peer)));
    let given = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| trusted && well_formed(v))
        .map(str::to_string);
    let id = given.unwrap_or_else(|| crate::ids::random_hex(16));
    let value = HeaderValue::from_str(&id).expect("a well-formed id is a header value");
    req.headers_mut().insert(HEADER, value.clone());
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id);
    let mut response = next.run(req).instrument(span).await;
    response.headers_mut().insert(HEADER, value);
    response
}

/// What a proxy's id may look like: short, and only characters no log format must escape.
fn well_formed(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::well_formed;

    #[test]
    fn only_short_plain_ids_are_taken() {
        assert!(well_formed("3f2a-01:req_7.x"));
        assert!(!well_formed(""));
        assert!(!well_formed(&"a".repeat(129)));
        assert!(!well_formed("a b"));
        assert!(!well_formed("id\"}{"));
    }
}
