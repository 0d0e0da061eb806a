//! The admin API's `audit` routes: a page of events (`GET /audit`) and every matching event as
//! JSON lines (`GET /audit/export`), with the same filters.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::app::AppContext;
use crate::error::{Error, Result};
use crate::http::extract::AdminCaller;
use crate::usecases::audit::{self, AuditQuery, FilterText, LIMIT_MAX};

pub fn routes() -> Router<Arc<AppContext>> {
    Router::new()
        .route("/audit", get(list))
        .route("/audit/export", get(export))
}

async fn list(
    State(ctx): State<Arc<AppContext>>,
    AdminCaller(admin): AdminCaller,
    RawQuery(query): RawQuery,
) -> Result<Json<serde_json::Value>> {
    let params = Params::read(query.as_deref())?;
    let q = audit::query_from_text(&ctx, &params.text()).await?;
    let page = audit::list(&ctx, &admin, &q).await?;
    Ok(Json(json!({ "events": page.events, "next": page.next })))
}

/// Pages through the matching events (newest first) as the body is sent: memory holds one
/// page whatever the log's size.
async fn export(
    State(ctx): State<Arc<AppContext>>,
    AdminCaller(admin): AdminCaller,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let params = Params::read(query.as_deref())?;
    if params.limit.is_some() {
        return Err(Error::BadRequest(
            "The export takes every matching event: no limit".into(),
        ));
    }
    let mut q = audit::query_from_text(&ctx, &params.text()).await?;
    q.limit = LIMIT_MAX;
    let pages = futures_util::stream::unfold(Some(q), move |q: Option<AuditQuery>| {
        let ctx = ctx.clone();
        let admin = admin.clone();
        async move {
            let mut q = q?;
            match audit::list(&ctx, &admin, &q).await {
                Ok(page) => {
                    let mut lines = String::new();
                    for event in &page.events {
                        lines.push_str(&serde_json::to_string(event).unwrap_or_default());
                        lines.push('\n');
                    }
                    let next = match page.next.as_deref().map(audit::parse_cursor) {
                        Some(Ok(before)) => {
                            q.before_id = Some(before);
                            Some(q)
                        }
                        _ => None,
                    };
                    Some((Ok::<_, std::io::Error>(lines), next))
                }
                // Headers are gone already: ending the body early is the only way left to
                // say the export is incomplete.
                Err(e) => {
                    tracing::warn!(error = %e, "audit export ended early");
                    Some((Err(std::io::Error::other("audit export failed")), None))
                }
            }
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(pages),
    )
        .into_response())
}

/// The query's parameters; an unknown one is refused, so a misspelt filter cannot silently
/// widen the reading to every event.
#[derive(Default)]
struct Params {
    user: Option<String>,
    kind: Option<String>,
    since: Option<String>,
    until: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

impl Params {
    fn read(query: Option<&str>) -> Result<Self> {
        let mut params = Params::default();
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let slot = match key.as_ref() {
                "user" => &mut params.user,
                "kind" => &mut params.kind,
                "since" => &mut params.since,
                "until" => &mut params.until,
                "cursor" => &mut params.cursor,
                "limit" => &mut params.limit,
                other => {
                    return Err(Error::BadRequest(format!(
                        "Unknown parameter: {other} (user, kind, since, until, cursor, limit)"
                    )))
                }
            };
            *slot = Some(value.into_owned());
        }
        Ok(params)
    }

    fn text(&self) -> FilterText<'_> {
        // An empty value is no filter (`?kind=` from a form left blank).
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().filter(|v| !v.trim().is_empty())
        }
        FilterText {
            user: given(&self.user),
            kind: given(&self.kind),
            since: given(&self.since),
            until: given(&self.until),
            cursor: given(&self.cursor),
            limit: given(&self.limit),
        }
    }
}
