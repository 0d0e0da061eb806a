//! The reverse proxy (`UPSTREAM_URL`): every request that is not Bouncer's own, once admitted,
//! goes to the upstream with the user's identity headers. Bodies stream both ways unbuffered
//! (SSE and chunked responses pass as they come); hop-by-hop headers stay on their hop.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::json;

use super::{admit, set_identity};
use crate::app::AppContext;
use crate::http::extract::ClientIp;

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

/// The HTTP client towards the upstream.
pub fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .build()?)
}

/// A copy of `headers` without hop-by-hop headers (and those `Connection` names).
fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .collect();
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n) || named.iter().any(|c| c == n) {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

fn json_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "message": message }))).into_response()
}

pub async fn forward(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    request: Request,
) -> Response {
    let Some(upstream) = ctx.config.gateway.upstream.clone() else {
        return json_error(StatusCode::NOT_FOUND, "Not found");
    };
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let admitted = match admit(&ctx, &parts.method, &path, &parts.headers, ip, true).await {
        Ok(admitted) => admitted,
        Err(refusal) => return refusal,
    };

    let mut headers = end_to_end(&parts.headers);
    headers.remove(header::HOST);
    set_identity(&mut headers, admitted.claims.as_ref());
    // The chain grows by the peer that reached Bouncer (the client, or the last proxy).
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or(ip, |c| c.0.ip());
    let forwarded_for = match parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(chain) => format!("{chain}, {peer}"),
        None => peer.to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&forwarded_for) {
        headers.insert(HeaderName::from_static("x-forwarded-for"), v);
    }
    if let Some(host) = parts.headers.get(header::HOST) {
        headers.insert(HeaderName::from_static("x-forwarded-host"), host.clone());
    }
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let url = format!("{upstream}{path_and_query}");

    // A request without a body stays without one (no empty chunked body on a GET).
    let has_body = parts.headers.contains_key(header::TRANSFER_ENCODING)
        || parts
            .headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    let mut request = ctx
        .upstream
        .request(parts.method.clone(), &url)
        .headers(headers);
    if has_body {
        request = request.body(reqwest::Body::wrap_stream(body.into_data_stream()));
    }
    let timeout = Duration::from_millis(ctx.config.gateway.upstream_timeout_ms as u64);
    let response = match tokio::time::timeout(timeout, request.send()).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => {
            tracing::warn!(error = %crate::sso::chain(&e), path = %path, "upstream unavailable");
            return json_error(StatusCode::BAD_GATEWAY, "Upstream unavailable");
        }
        Err(_) => {
            tracing::warn!(path = %path, timeout_ms = ctx.config.gateway.upstream_timeout_ms, "upstream did not answer in time");
            return json_error(StatusCode::GATEWAY_TIMEOUT, "Upstream timed out");
        }
    };

    let status = response.status();
    let headers = end_to_end(response.headers());
    // The slot (if any) lives as long as the body: released at its end or when the client
    // goes away and the body is dropped.
    let slot = admitted.slot;
    let stream = response.bytes_stream().map(move |chunk| {
        let _held = &slot;
        chunk
    });
    let mut out = Response::new(Body::from_stream(stream));
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    out
}
