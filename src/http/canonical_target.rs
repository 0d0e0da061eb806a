//! Every request's target is put in canonical form before routing (see `request_target`), or
//! refused with 400. So Bouncer's own routes, the gateway's decision and the path forwarded
//! upstream all read one path: `/api//auth/login` is Bouncer's login, never a request that
//! slips past it to the upstream, and `/assets/..\api` never reaches anything.

use axum::extract::Request;
use axum::http::uri::{PathAndQuery, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::Error;
use crate::request_target as target;

pub async fn canonicalize(mut request: Request, next: Next) -> Response {
    let raw = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.uri().path(), PathAndQuery::as_str);
    let target = match target::parse(raw) {
        Ok(t) => t,
        Err(why) => {
            tracing::debug!(target = %raw.escape_debug(), reason = %why, "request target refused");
            return Error::BadRequest(format!("Bad request: {why}")).into_response();
        }
    };
    if !target::is_canonical(raw, &target) {
        let mut parts = request.uri().clone().into_parts();
        parts.path_and_query = PathAndQuery::try_from(target.path_and_query()).ok();
        match Uri::from_parts(parts) {
            Ok(uri) => *request.uri_mut() = uri,
            Err(_) => {
                return Error::BadRequest("Bad request: unusable path".into()).into_response()
            }
        }
    }
    request.extensions_mut().insert(target);
    next.run(request).await
}
