//! The admin API's `audit` routes: a page of events (`GET /audit`) and every matching event as
//! JSON lines (`GET /audit/export`), with the same filters.

use crate::http::openapi_schemas as schema;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppContext;
use crate::error::{Error, Result};
use crate::http::extract::AdminCaller;
use crate::usecases::audit::{self, AuditQuery, FilterText, LIMIT_MAX};

pub fn routes() -> OpenApiRouter<Arc<AppContext>> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(export))
}

#[utoipa::path(get, path = "/audit", tag = "admin",
    security(("bearer" = []), ("adminApiKey" = [])),
    params(("user" = Option<String>, Query, description = "A user's id or email"), ("kind" = Option<String>, Query, description = "An event kind"), ("since" = Option<String>, Query, description = "From (ISO 8601 or ms)"), ("until" = Option<String>, Query, description = "Until (ISO 8601 or ms)"), ("cursor" = Option<String>, Query, description = "The previous page's `next`"), ("limit" = Option<String>, Query, description = "Events per page")),
    responses((status = 200, description = "A page of events, newest first", body = schema::AuditPage), (status = 403, description = "Not an admin, or an admin without 2FA (`REQUIRE_2FA_FOR_ADMINS`)", body = schema::Message), (status = 400, description = "A bad parameter, named", body = schema::Message), (status = 404, description = "The `user` filter names no user", body = schema::Message)))]
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
#[utoipa::path(get, path = "/audit/export", tag = "admin",
    security(("bearer" = []), ("adminApiKey" = [])),
    params(("user" = Option<String>, Query, description = "A user's id or email"), ("kind" = Option<String>, Query, description = "An event kind"), ("since" = Option<String>, Query, description = "From (ISO 8601 or ms)"), ("until" = Option<String>, Query, description = "Until (ISO 8601 or ms)"), ("cursor" = Option<String>, Query, description = "The previous page's `next`")),
    responses((status = 200, description = "Every matching event, one JSON object a line", content_type = "application/x-ndjson", body = String),
        (status = 403, description = "Not an admin", body = schema::Message), (status = 400, description = "A bad parameter, named", body = schema::Message), (status = 404, description = "The `user` filter names no user", body = schema::Message)))]
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
