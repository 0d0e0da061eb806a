//! Bouncer's own routes refuse a body whose declared length is over `MAX_BODY_BYTES` before
//! reading any of it (the gateway's proxied routes are not limited: chat uploads can be large).

use axum::extract::Request;
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::extract::MAX_BODY_BYTES;
use crate::error::Error;

/// 413 for a `Content-Length` over the limit, answered from the head alone; the connection
/// closes after it (`server`), so the unread body never reaches the parser. hyper has already
/// refused a malformed `Content-Length` with 400.
pub async fn refuse_declared_oversize(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > MAX_BODY_BYTES as u64 => Error::BodyTooLarge.into_response(),
        _ => next.run(request).await,
    }
}
