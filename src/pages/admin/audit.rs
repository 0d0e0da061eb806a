//! The audit log: filters by user, kind and time, pages by cursor, and its JSON-lines export
//! for the cookie-signed-in admin (the API's export takes a Bearer token, which a browser
//! does not hold).

use askama::Template;
use axum::body::Body;
use axum::extract::RawQuery;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::gate::{AdminRequest, Frame, Section};
use super::user::{event_row, EventRow};
use crate::audit::Kind;
use crate::error::Error;
use crate::pages::layout::Chrome;
use crate::usecases::audit::{self, AuditQuery, FilterText, LIMIT_MAX};

/// Events per page of the log.
const PAGE: i64 = 50;

/// The log's filters as the browser sent them.
#[derive(Default, Clone)]
pub struct AuditFilter {
    pub user: String,
    pub kind: String,
    pub since: String,
    pub until: String,
    pub cursor: String,
    /// The cursors of the pages before this one, for "Previous".
    pub back: Vec<String>,
}

const BACK_MAX: usize = 20;

impl AuditFilter {
    pub fn parse(raw: Option<&str>) -> Self {
        let mut q = Self::default();
        for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let value = value.trim().to_string();
            match key.as_ref() {
                "user" => q.user = value,
                "kind" => q.kind = value,
                "since" => q.since = value,
                "until" => q.until = value,
                "cursor" => q.cursor = value,
                "back" if q.back.len() < BACK_MAX => q.back.push(value),
                _ => {}
            }
        }
        q
    }

    fn href(&self, root: &str, cursor: &str, back: &[String]) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("user", &self.user),
            ("kind", &self.kind),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if !value.is_empty() {
                out.append_pair(key, value);
            }
        }
        if !cursor.is_empty() {
            out.append_pair("cursor", cursor);
        }
        for b in back {
            out.append_pair("back", b);
        }
        let query = out.finish();
        if query.is_empty() {
            root.to_string()
        } else {
            format!("{root}?{query}")
        }
    }

    fn next_href(&self, root: &str, next: &str) -> String {
        let mut back = self.back.clone();
        if back.len() >= BACK_MAX {
            back.remove(0);
        }
        back.push(self.cursor.clone());
        self.href(root, next, &back)
    }

    fn prev_href(&self, root: &str) -> Option<String> {
        if self.cursor.is_empty() {
            return None;
        }
        let mut back = self.back.clone();
        let cursor = back.pop().unwrap_or_default();
        Some(self.href(root, &cursor, &back))
    }
}

#[derive(Template)]
#[template(path = "pages/admin/audit.html")]
pub struct AuditLogPage {
    pub c: Chrome,
    pub f: Frame,
    pub q: AuditFilter,
    pub kinds: Vec<&'static str>,
    pub events: Vec<EventRow>,
    pub export_href: String,
    pub next_href: Option<String>,
    pub prev_href: Option<String>,
}

/// `GET /ui/admin/audit`.
pub async fn page(ar: AdminRequest, RawQuery(raw): RawQuery) -> Response {
    let q = AuditFilter::parse(raw.as_deref());
    let mut f = ar.frame(Section::Audit);
    let root = ar.path("/audit");
    let (events, next, status) = match load(&ar, &q).await {
        Ok((events, next)) => (events, next, StatusCode::OK),
        Err(e) => {
            let (status, message) = ar.failure(e).await;
            f.error = Some(message);
            (Vec::new(), None, status)
        }
    };
    let page = AuditLogPage {
        c: ar.page.chrome(),
        export_href: q.href(&ar.path("/audit/export"), "", &[]),
        next_href: next.map(|n| q.next_href(&root, &n)),
        prev_href: q.prev_href(&root),
        kinds: Kind::ALL.iter().map(|k| k.as_str()).collect(),
        f,
        q,
        events,
    };
    ar.page.render(status, &page)
}

/// The use case's query for the browser's filters (a bad one is a 400 naming it).
async fn audit_query(ar: &AdminRequest, q: &AuditFilter) -> Result<AuditQuery, Error> {
    let some = |v: &str| -> Option<String> { (!v.is_empty()).then(|| v.to_string()) };
    let (user, kind, since, until, cursor) = (
        some(&q.user),
        some(&q.kind),
        some(&q.since),
        some(&q.until),
        some(&q.cursor),
    );
    let text = FilterText {
        user: user.as_deref(),
        kind: kind.as_deref(),
        since: since.as_deref(),
        until: until.as_deref(),
        cursor: cursor.as_deref(),
        limit: None,
    };
    audit::query_from_text(&ar.page.ctx, &text).await
}

async fn load(
    ar: &AdminRequest,
    q: &AuditFilter,
) -> Result<(Vec<EventRow>, Option<String>), Error> {
    let mut query = audit_query(ar, q).await?;
    query.limit = PAGE;
    let page = audit::list(&ar.page.ctx, &ar.admin, &query).await?;
    Ok((page.events.iter().map(event_row).collect(), page.next))
}

/// `GET /ui/admin/audit/export`: every matching event as JSON lines, newest first, read a
/// page at a time as the body is sent (as the API's export does).
pub async fn export(ar: AdminRequest, RawQuery(raw): RawQuery) -> Response {
    let q = AuditFilter::parse(raw.as_deref());
    let mut query = match audit_query(&ar, &q).await {
        Ok(query) => query,
        Err(e) => return ar.page.failure_page(e).await,
    };
    query.limit = LIMIT_MAX;
    let ctx = ar.page.ctx.clone();
    let admin = ar.admin.clone();
    let pages = futures_util::stream::unfold(Some(query), move |q: Option<AuditQuery>| {
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
                // The headers are sent: ending the body early is the only way left to say
                // the export is incomplete.
                Err(e) => {
                    tracing::warn!(error = %e, "audit export from the console ended early");
                    Some((Err(std::io::Error::other("audit export failed")), None))
                }
            }
        }
    });
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"audit.jsonl\""),
    );
    (headers, Body::from_stream(pages)).into_response()
}
