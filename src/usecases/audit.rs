//! Reading the audit log: the operators' filtered, paged reading and export, and a user's own
//! recent history for the account page. Recording is `ctx.audit.record` in the use case that
//! saw the event happen.

use serde_json::Value;

use super::admin::Admin;
use crate::accounts::Email;
use crate::app::AppContext;
use crate::audit::Kind;
use crate::error::{Error, Result};
use crate::store::audit::{self as store, AuditRow, Filter};

/// The most events one page holds.
pub const LIMIT_MAX: i64 = 500;
/// A page's size when the caller names none.
pub const LIMIT_DEFAULT: i64 = 100;

/// Which events to read; every field narrows the reading.
#[derive(Debug, Clone)]
pub struct AuditQuery {
    /// Events about this user (an id; see `user_filter` for an email).
    pub user_id: Option<String>,
    /// Any of these kinds; empty: every kind.
    pub kinds: Vec<Kind>,
    /// From this time on (inclusive), ms since the epoch.
    pub since_ms: Option<i64>,
    /// Before this time (exclusive), ms since the epoch.
    pub until_ms: Option<i64>,
    /// The cursor of the page before (`AuditPage::next`): only older events.
    pub before_id: Option<i64>,
    /// 1..=`LIMIT_MAX`.
    pub limit: i64,
}

impl Default for AuditQuery {
    fn default() -> Self {
        Self {
            user_id: None,
            kinds: Vec::new(),
            since_ms: None,
            until_ms: None,
            before_id: None,
            limit: LIMIT_DEFAULT,
        }
    }
}

/// One event as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub id: i64,
    pub at_ms: i64,
    /// The kind's name (`sign_in.succeeded`); kept as text so an event of a kind this build
    /// does not know (written by a newer one) is still shown.
    pub kind: String,
    pub user_id: Option<String>,
    pub actor_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// A JSON object.
    pub detail: Value,
}

impl AuditRecord {
    /// A detail field as text (`method`, `reason`...), for display.
    pub fn detail_str(&self, key: &str) -> Option<&str> {
        self.detail.get(key).and_then(Value::as_str)
    }
}

/// The one JSON form of an event, for the API, its export and the command line: the time both
/// as RFC 3339 and as ms.
impl serde::Serialize for AuditRecord {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serde_json::json!({
            "id": self.id,
            "at": crate::accounts::iso_time(self.at_ms),
            "at_ms": self.at_ms,
            "kind": self.kind,
            "user_id": self.user_id,
            "actor_id": self.actor_id,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "detail": self.detail,
        })
        .serialize(serializer)
    }
}

impl From<AuditRow> for AuditRecord {
    fn from(row: AuditRow) -> Self {
        Self {
            id: row.id,
            at_ms: row.at,
            kind: row.kind,
            user_id: row.user_id,
            actor_id: row.actor_id,
            ip: row.ip,
            user_agent: row.user_agent,
            detail: serde_json::from_str(&row.detail)
                .unwrap_or_else(|_| Value::Object(Default::default())),
        }
    }
}

/// One page of events, newest first.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub events: Vec<AuditRecord>,
    /// The cursor of the next (older) page; `None` on the last.
    pub next: Option<String>,
}

/// A page of the events `q` selects, for an admin.
pub async fn list(ctx: &AppContext, _admin: &Admin, q: &AuditQuery) -> Result<AuditPage> {
    read_page(ctx, q).await
}

/// As `list`, for the operator at the command line (`bouncer audit export`): whoever runs the
/// binary holds the database already.
pub async fn list_as_operator(ctx: &AppContext, q: &AuditQuery) -> Result<AuditPage> {
    read_page(ctx, q).await
}

/// A user's own latest events (the account page's "Recent activity").
pub async fn recent_for_user(
    ctx: &AppContext,
    user_id: &str,
    limit: i64,
) -> Result<Vec<AuditRecord>> {
    let filter = Filter {
        user_id: Some(user_id),
        ..Filter::default()
    };
    let rows = store::list(&ctx.db, &filter, limit.clamp(1, LIMIT_MAX)).await?;
    Ok(rows.into_iter().map(AuditRecord::from).collect())
}

/// A reading's filters as a person wrote them (the API's query, the command's options).
#[derive(Debug, Clone, Copy, Default)]
pub struct FilterText<'a> {
    /// An id or an email.
    pub user: Option<&'a str>,
    /// Kinds separated by commas.
    pub kind: Option<&'a str>,
    /// ms since the epoch, or RFC 3339.
    pub since: Option<&'a str>,
    pub until: Option<&'a str>,
    pub cursor: Option<&'a str>,
    pub limit: Option<&'a str>,
}

/// Reads the filters into a query; a bad one is a 400 naming it (an unknown email a 404).
pub async fn query_from_text(ctx: &AppContext, text: &FilterText<'_>) -> Result<AuditQuery> {
    let user_id = match text.user {
        Some(user) => Some(user_filter(ctx, user).await?),
        None => None,
    };
    let since_ms = text.since.map(parse_time).transpose()?;
    let until_ms = text.until.map(parse_time).transpose()?;
    if let (Some(since), Some(until)) = (since_ms, until_ms) {
        if since > until {
            return Err(Error::BadRequest("since is after until".into()));
        }
    }
    let limit = match text.limit {
        Some(limit) => limit
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=LIMIT_MAX).contains(l))
            .ok_or_else(|| Error::BadRequest(format!("limit must be between 1 and {LIMIT_MAX}")))?,
        None => LIMIT_DEFAULT,
    };
    Ok(AuditQuery {
        user_id,
        kinds: text.kind.map(parse_kinds).transpose()?.unwrap_or_default(),
        since_ms,
        until_ms,
        before_id: text.cursor.map(parse_cursor).transpose()?,
        limit,
    })
}

/// The user a filter names: an email is looked up (404 when no account has it); anything else
/// is taken as an id, so the events of a deleted account can still be read.
pub async fn user_filter(ctx: &AppContext, id_or_email: &str) -> Result<String> {
    let text = id_or_email.trim();
    if text.is_empty() {
        return Err(Error::BadRequest("Empty user filter".into()));
    }
    if !text.contains('@') {
        return Ok(text.to_string());
    }
    ctx.accounts
        .find_by_email(&Email::normalized(text))
        .await?
        .map(|u| u.id)
        .ok_or(Error::UserNotFound)
}

/// Reads the kinds of a filter: names separated by commas (`sign_in.failed,ban.created`).
pub fn parse_kinds(text: &str) -> Result<Vec<Kind>> {
    text.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|k| {
            Kind::parse(k).ok_or_else(|| Error::BadRequest(format!("Unknown event kind: {k}")))
        })
        .collect()
}

/// Reads a time of a filter: ms since the epoch, or RFC 3339 (`2026-12-03T17:00:00Z`).
pub fn parse_time(text: &str) -> Result<i64> {
    let text = text.trim();
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok())
        .ok_or_else(|| {
            Error::BadRequest(format!(
                "Bad time: {text} (ms since the epoch, or RFC 3339)"
            ))
        })
}

/// Reads a page cursor (`AuditPage::next`).
pub fn parse_cursor(text: &str) -> Result<i64> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| Error::BadRequest("Bad cursor".into()))
}

async fn read_page(ctx: &AppContext, q: &AuditQuery) -> Result<AuditPage> {
    if !(1..=LIMIT_MAX).contains(&q.limit) {
        return Err(Error::BadRequest(format!(
            "limit must be between 1 and {LIMIT_MAX}"
        )));
    }
    let kinds: Vec<&str> = q.kinds.iter().map(|k| k.as_str()).collect();
    let filter = Filter {
        user_id: q.user_id.as_deref(),
        kinds: &kinds,
        since_ms: q.since_ms,
        until_ms: q.until_ms,
        before_id: q.before_id,
    };
    let rows = store::list(&ctx.db, &filter, q.limit).await?;
    // A full page may have a next one; a short page is the last.
    let next = (rows.len() as i64 == q.limit)
        .then(|| rows.last().map(|r| r.id.to_string()))
        .flatten();
    Ok(AuditPage {
        events: rows.into_iter().map(AuditRecord::from).collect(),
        next,
    })
}

/// Deletes the events older than `AUDIT_RETENTION_DAYS` (by the context's clock); 0 keeps
/// them forever. Returns how many were deleted.
pub async fn purge_expired(ctx: &AppContext) -> Result<u64> {
    let days = ctx.config.audit.retention_days;
    if days == 0 {
        return Ok(0);
    }
    let cutoff = ctx
        .clock
        .now_ms()
        .saturating_sub(i64::from(days).saturating_mul(86_400_000));
    store::delete_older_than(&ctx.db, cutoff).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_ms_or_rfc_3339() {
        assert_eq!(parse_time("1700000000000").unwrap(), 1_700_000_000_000);
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000_000
        );
        assert_eq!(
            parse_time("2023-11-14T23:13:20.5+01:00").unwrap(),
            1_700_000_000_500
        );
        for bad in ["", "yesterday", "2023-11-14", "2023-13-01T00:00:00Z"] {
            assert!(
                matches!(parse_time(bad), Err(Error::BadRequest(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn kinds_are_the_logs_names_and_an_unknown_one_is_refused() {
        assert_eq!(
            parse_kinds("sign_in.failed, ban.created,").unwrap(),
            [Kind::SignInFailed, Kind::Banned]
        );
        assert!(matches!(
            parse_kinds("sign_in.failed,sign_in"),
            Err(Error::BadRequest(m)) if m.contains("sign_in")
        ));
    }

    #[test]
    fn a_cursor_is_a_positive_id() {
        assert_eq!(parse_cursor("42").unwrap(), 42);
        for bad in ["0", "-3", "x", ""] {
            assert!(parse_cursor(bad).is_err(), "{bad}");
        }
    }
}
