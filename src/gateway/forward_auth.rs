//! `GET /api/auth/verify`: the auth sub-request of nginx `auth_request`, Traefik ForwardAuth and
//! Caddy `forward_auth`. The original method and URI come in `X-Original-Method` /
//! `X-Original-URI` (nginx) or `X-Forwarded-Method` / `X-Forwarded-Uri` (Traefik, Caddy). 200
//! carries the identity headers; 401, 403 and 429 refuse.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{admit, set_identity};
use crate::app::AppContext;
use crate::http::extract::ClientIp;

fn header<'a>(headers: &'a HeaderMap, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| headers.get(*n).and_then(|v| v.to_str().ok()))
}

pub async fn verify(
    State(ctx): State<Arc<AppContext>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Response {
    let uri = header(&headers, &["x-original-uri", "x-forwarded-uri"]).unwrap_or("/");
    let path = uri.split('?').next().unwrap_or("/");
    let method = header(&headers, &["x-original-method", "x-forwarded-method"])
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .unwrap_or(Method::GET);
    match admit(&ctx, &method, path, &headers, ip, false).await {
        Ok(admitted) => {
            let mut out = HeaderMap::new();
            set_identity(&mut out, admitted.claims.as_ref());
            (StatusCode::OK, out).into_response()
        }
        Err(refusal) => refusal,
    }
}
