//! The reverse proxy (`UPSTREAM_URL`): every request that is not Bouncer's own, once admitted,
//! goes to the upstream with the user's identity headers. The upstream request is built from
//! the canonical target the decision was made on (`target.rs`): no URL string is re-parsed on
//! the way. Connections to the upstream are kept alive in a pool; bodies stream both ways
//! unbuffered (SSE and chunked responses pass as they come), except a chat message while
//! content moderation or the model list is on: it is read whole (up to `CHAT_BODY_MAX`),
//! checked (`usecases::chat_content`) and then forwarded as read. Hop-by-hop headers stay on
//! their hop.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::uri::PathAndQuery;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::json;

use super::{admit, refusal, set_identity};
use crate::app::AppContext;
use crate::config::gateway::Upstream;
use crate::error::Error;
use crate::http::extract::ClientIp;
use crate::metrics::UpstreamOutcome;
use crate::request_target::{self as target, Target};
use crate::usecases::chat_access::{Host, Slot};
use crate::usecases::chat_content::{self, ChatMessage};

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Keeps hop-by-hop headers (and those `Connection` names) out of `headers`, in place.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|v| HeaderName::from_bytes(v.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Removes one cookie (Bouncer's single-sign-on cookie: a credential for every app behind the
/// portal, none of the upstream's business) from the `Cookie` headers, keeping the others as
/// they were sent.
fn strip_cookie(headers: &mut HeaderMap, name: &str) {
    let values: Vec<HeaderValue> = headers.get_all(header::COOKIE).iter().cloned().collect();
    let named = |pair: &str| pair.split_once('=').map_or(pair, |(n, _)| n).trim() == name;
    if !values
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.split(';').any(named)))
    {
        return;
    }
    headers.remove(header::COOKIE);
    for value in values {
        let Ok(text) = value.to_str() else {
            headers.append(header::COOKIE, value);
            continue;
        };
        let kept: Vec<&str> = text
            .split(';')
            .map(str::trim)
            .filter(|pair| !pair.is_empty() && !named(pair))
            .collect();
        if kept.is_empty() {
            continue;
        }
        if let Ok(v) = HeaderValue::from_str(&kept.join("; ")) {
            headers.append(header::COOKIE, v);
        }
    }
}

fn json_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "message": message }))).into_response()
}

/// The upstream URI of a canonical target: the upstream's origin, its base path, the target.
fn upstream_uri(upstream: &Upstream, target: &Target) -> Option<Uri> {
    let path_and_query = if upstream.base_path.is_empty() {
        PathAndQuery::from_maybe_shared(Bytes::from(target.path_and_query())).ok()?
    } else {
        let joined = format!("{}{}", upstream.base_path, target.path_and_query());
        PathAndQuery::from_maybe_shared(Bytes::from(joined)).ok()?
    };
    Uri::builder()
        .scheme(upstream.scheme.clone())
        .authority(upstream.authority.clone())
        .path_and_query(path_and_query)
        .build()
        .ok()
}

/// A Bouncer API key is Bouncer's credential alone: the backend learns who is asking from the
/// identity headers, and a backend that logs or leaks headers cannot hand keys out. (An access
/// token stays: LibreChat's backend verifies it itself.)
fn strip_api_key(headers: &mut HeaderMap) {
    let is_key = crate::http::extract::bearer_token(headers)
        .is_some_and(|token| crate::api_keys::secret::id_of(token).is_some());
    if is_key {
        headers.remove(header::AUTHORIZATION);
    }
}

/// The headers a request goes upstream with: hop-by-hop headers and the single-sign-on cookie
/// out, the identity headers in, `X-Forwarded-For` grown by the peer (or replaced by it when
/// the peer is not a trusted proxy), `X-Forwarded-Host` for the original host.
fn upstream_headers(
    ctx: &AppContext,
    mut headers: HeaderMap,
    peer: std::net::IpAddr,
    claims: Option<&crate::sessions::AccessClaims>,
) -> HeaderMap {
    let host = headers.remove(header::HOST);
    // The chain grows by the peer that reached Bouncer; a chain from a peer that is not a
    // trusted proxy was written by the client and is replaced.
    let trusted = ctx
        .config
        .moderation
        .trusted_proxies
        .iter()
        .any(|n| n.contains(&peer));
    let forwarded_for = match headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .filter(|_| trusted)
    {
        Some(chain) => format!("{chain}, {peer}"),
        None => peer.to_string(),
    };
    strip_hop_by_hop(&mut headers);
    strip_cookie(&mut headers, &ctx.config.pages.cookie_name);
    strip_api_key(&mut headers);
    set_identity(&mut headers, claims);
    if let Ok(v) = HeaderValue::from_str(&forwarded_for) {
        headers.insert(HeaderName::from_static("x-forwarded-for"), v);
    }
    if let Some(host) = host {
        headers.insert(HeaderName::from_static("x-forwarded-host"), host);
    }
    headers
}

/// Reads a chat message body whole, up to `max` bytes (`CHAT_BODY_MAX`): a declared or
/// actual length over it is `ChatBodyTooLarge` (413), and nothing of it goes upstream.
async fn read_bounded(body: Body, headers: &HeaderMap, max: usize) -> Result<Bytes, Error> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(Error::ChatBodyTooLarge { limit: max });
    }
    let mut stream = body.into_data_stream();
    // A declared length is a claim: the buffer grows with what actually arrives.
    let mut buffer = Vec::with_capacity(declared.map_or(8 * 1024, |n| n.min(64 * 1024) as usize));
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| Error::BadRequest("Could not read the request body".into()))?;
        if buffer.len() + chunk.len() > max {
            return Err(Error::ChatBodyTooLarge { limit: max });
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buffer))
}

pub async fn forward(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    request: Request,
) -> Response {
    let Some(upstream) = &ctx.config.gateway.upstream else {
        return json_error(StatusCode::NOT_FOUND, "Not found");
    };
    let (mut parts, body) = request.into_parts();
    // The request-target middleware put the canonical target here (and refused the rest);
    // parsing again covers a router used without it.
    let target = match parts.extensions.remove::<Target>() {
        Some(t) => t,
        None => match target::parse(parts.uri.path_and_query().map_or("/", |p| p.as_str())) {
            Ok(t) => t,
            Err(why) => return json_error(StatusCode::BAD_REQUEST, &format!("Bad request: {why}")),
        },
    };
    let admitted = match admit(
        &ctx,
        &parts.method,
        &target,
        &parts.headers,
        ip,
        true,
        Host::AnyHost,
    )
    .await
    {
        Ok(admitted) => admitted,
        Err(e) => return refusal(e, &parts.headers),
    };
    let Some(uri) = upstream_uri(upstream, &target) else {
        return json_error(StatusCode::BAD_REQUEST, "Bad request: unusable path");
    };
    // Content moderation and the model list read a chat message whole; every other request
    // (and every request while both are off) streams as it comes.
    let read = chat_content::reads_body(&ctx, parts.method == Method::POST, target.path());
    let body = if let Some(route) = read {
        let bytes = match read_bounded(body, &parts.headers, ctx.config.content.body_max).await {
            Ok(bytes) => bytes,
            Err(e) => return refusal(e, &parts.headers),
        };
        let message = ChatMessage {
            ip,
            user_id: admitted.claims.as_ref().map(|c| c.id.as_str()),
            route: &route,
            body: &bytes,
        };
        if let Err(e) = chat_content::inspect(&ctx, &message).await {
            return refusal(e, &parts.headers);
        }
        Body::from(bytes)
    } else {
        body
    };

    let peer = parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map_or(ip, |c| crate::moderation::client_ip::normalize(c.0.ip()));
    let headers = upstream_headers(
        &ctx,
        std::mem::take(&mut parts.headers),
        peer,
        admitted.claims.as_ref(),
    );

    let mut outgoing = axum::http::Request::new(body);
    *outgoing.method_mut() = parts.method;
    *outgoing.uri_mut() = uri;
    *outgoing.headers_mut() = headers;

    let timeout = Duration::from_millis(ctx.config.gateway.upstream_timeout_ms as u64);
    let sent_at = Instant::now();
    let answer = tokio::time::timeout(timeout, ctx.upstream.request(outgoing)).await;
    ctx.metrics
        .upstream(upstream_outcome(&answer), sent_at.elapsed());
    let response = match answer {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => {
            tracing::warn!(error = %crate::sso::chain(&e), path = %target.path(), "upstream unavailable");
            return json_error(StatusCode::BAD_GATEWAY, "Upstream unavailable");
        }
        Err(_) => {
            tracing::warn!(path = %target.path(), timeout_ms = ctx.config.gateway.upstream_timeout_ms, "upstream did not answer in time");
            return json_error(StatusCode::GATEWAY_TIMEOUT, "Upstream timed out");
        }
    };

    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    // The slot (if any) lives as long as the body: released at its end or when the client
    // goes away and the body is dropped.
    let body = match admitted.slot {
        Some(slot) => Body::new(Holding { body, _slot: slot }),
        None => Body::new(body),
    };
    Response::from_parts(parts, body)
}

/// Sends one of Bouncer's own requests on to the upstream as well, after Bouncer's checks
/// (the deletion of an account: the backend has its own data of the user), with the headers
/// the proxy sets. The upstream's answer, whatever its status; `Err` is the client's answer
/// when there is none: 404 without `UPSTREAM_URL`, 502 unreachable, 504 too slow.
pub async fn relay(
    ctx: &AppContext,
    method: Method,
    path: &str,
    headers: HeaderMap,
    peer: std::net::IpAddr,
    claims: &crate::sessions::AccessClaims,
    body: Bytes,
) -> Result<Response, Response> {
    let Some(upstream) = &ctx.config.gateway.upstream else {
        return Err(json_error(StatusCode::NOT_FOUND, "Not found"));
    };
    let uri = target::parse(path)
        .ok()
        .and_then(|t| upstream_uri(upstream, &t))
        .ok_or_else(|| json_error(StatusCode::BAD_REQUEST, "Bad request: unusable path"))?;
    let mut headers = upstream_headers(ctx, headers, peer, Some(claims));
    headers.remove(header::CONTENT_LENGTH);
    if !body.is_empty() {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    let mut outgoing = axum::http::Request::new(Body::from(body));
    *outgoing.method_mut() = method;
    *outgoing.uri_mut() = uri;
    *outgoing.headers_mut() = headers;
    let timeout = Duration::from_millis(ctx.config.gateway.upstream_timeout_ms as u64);
    let sent_at = Instant::now();
    let answer = tokio::time::timeout(timeout, ctx.upstream.request(outgoing)).await;
    ctx.metrics
        .upstream(upstream_outcome(&answer), sent_at.elapsed());
    match answer {
        Ok(Ok(response)) => {
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            Ok(Response::from_parts(parts, Body::new(body)))
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %crate::sso::chain(&e), %path, "upstream unavailable");
            Err(json_error(StatusCode::BAD_GATEWAY, "Upstream unavailable"))
        }
        Err(_) => {
            tracing::warn!(%path, timeout_ms = ctx.config.gateway.upstream_timeout_ms, "upstream did not answer in time");
            Err(json_error(
                StatusCode::GATEWAY_TIMEOUT,
                "Upstream timed out",
            ))
        }
    }
}

/// What the metrics call an upstream request's end: its answer's status, or why none came.
fn upstream_outcome<B, E>(
    answer: &Result<Result<axum::http::Response<B>, E>, tokio::time::error::Elapsed>,
) -> UpstreamOutcome {
    match answer {
        Ok(Ok(response)) => UpstreamOutcome::Answered(response.status().as_u16()),
        Ok(Err(_)) => UpstreamOutcome::Unavailable,
        Err(_) => UpstreamOutcome::Timeout,
    }
}

/// A response body that holds a concurrency slot until it is dropped.
struct Holding<B> {
    body: B,
    _slot: Slot,
}

impl<B: http_body::Body + Unpin> http_body::Body for Holding<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies(headers: &HeaderMap) -> Vec<&str> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    #[test]
    fn the_single_sign_on_cookie_stays_here_and_the_others_go_on() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            "a=1; bouncer_session=secret; refreshToken=r"
                .parse()
                .unwrap(),
        );
        headers.append(header::COOKIE, "bouncer_session=again".parse().unwrap());
        headers.append(header::COOKIE, "bouncer_session_x=kept".parse().unwrap());
        strip_cookie(&mut headers, "bouncer_session");
        assert_eq!(
            cookies(&headers),
            ["a=1; refreshToken=r", "bouncer_session_x=kept"]
        );

        // Without it, the header is left exactly as sent.
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, "b=2;c=3".parse().unwrap());
        strip_cookie(&mut headers, "bouncer_session");
        assert_eq!(cookies(&headers), ["b=2;c=3"]);
    }
}
