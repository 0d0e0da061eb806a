//! The request metrics: each answer counted by route template, method and status, with its
//! latency. Installed only when metrics are on, so a server without them pays nothing.
//!
//! The route label is the matched route template (axum's `MatchedPath`), never the raw path,
//! so the number of series is bounded by the routing table: the proxied paths are one
//! `gateway`, paths no route matches one `unmatched`.

use std::sync::{Arc, LazyLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;

use crate::app::AppContext;
use crate::metrics::Metrics;

/// Adds the request metrics to `router` (the routes and its fallback), when metrics are on.
pub fn install(router: Router<Arc<AppContext>>, ctx: &AppContext) -> Router<Arc<AppContext>> {
    if !ctx.metrics.is_enabled() {
        return router;
    }
    let recording = Recording {
        metrics: ctx.metrics.clone(),
        fallback: if ctx.config.gateway.upstream.is_some() {
            "gateway"
        } else {
            UNMATCHED
        },
    };
    router.layer(middleware::from_fn_with_state(recording, record))
}

const UNMATCHED: &str = "unmatched";

#[derive(Clone)]
struct Recording {
    metrics: Metrics,
    /// The route label of the router's fallback: the proxy's, or Bouncer's 404.
    fallback: &'static str,
}

async fn record(State(recording): State<Recording>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // The template is kept (a cheap clone of axum's shared string), not copied.
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = match &matched {
        // A nested router's own fallback (the admin API's, the pages'): its wildcard is no route.
        Some(path) if path.as_str().contains("__private__") => UNMATCHED,
        Some(path) => path.as_str(),
        None => recording.fallback,
    };
    let method = method_label(request.method());
    let response = next.run(request).await;
    recording.metrics.request(
        route,
        method,
        status_label(response.status().as_u16()),
        started.elapsed(),
    );
    response
}

/// The method label: the standard methods by name, anything else as `other` (a client can
/// send any token as a method).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The status codes' labels, made once, so an answer's label is never allocated.
static STATUS_LABELS: LazyLock<Vec<String>> =
    LazyLock::new(|| (100..=599).map(|code: u16| code.to_string()).collect());

fn status_label(code: u16) -> &'static str {
    match code {
        100..=599 => STATUS_LABELS[usize::from(code - 100)].as_str(),
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded() {
        assert_eq!(status_label(200), "200");
        assert_eq!(status_label(599), "599");
        assert_eq!(status_label(600), "other");
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
