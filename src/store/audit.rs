//! The `audit_events` table.

use super::Db;
use crate::audit::Stamped;
use crate::error::Result;

/// Stores `events` in one statement.
pub async fn insert_batch(db: &Db, events: &[Stamped]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut sql = String::from(
        "INSERT INTO audit_events (at, kind, user_id, actor_id, ip, user_agent, detail) VALUES ",
    );
    for i in 0..events.len() {
        let b = i * 7;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}, ${}, ${}, ${})",
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5,
            b + 6,
            b + 7
        ));
    }
    let mut query = sqlx::query(&sql);
    for s in events {
        let e = &s.event;
        query = query
            .bind(s.at_ms)
            .bind(e.kind.as_str())
            .bind(e.user_id.clone())
            .bind(e.actor_id.clone())
            .bind(e.ip.map(|ip| ip.to_string()))
            .bind(e.user_agent.clone())
            .bind(serde_json::Value::Object(e.detail.clone()).to_string());
    }
    query.execute(db.pool()).await?;
    Ok(())
}

/// One stored event.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub user_id: Option<String>,
    pub actor_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: String,
}

const COLUMNS: &str = "id, at, kind, user_id, actor_id, ip, user_agent, detail";

/// Which events a reading asks for; every field narrows it.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    pub user_id: Option<&'a str>,
    pub kinds: &'a [&'a str],
    /// From this time on (inclusive).
    pub since_ms: Option<i64>,
    /// Before this time (exclusive).
    pub until_ms: Option<i64>,
    /// Only events older than this id: the keyset cursor of the page before.
    pub before_id: Option<i64>,
}

/// Up to `limit` events matching `filter`, newest (highest id) first. Keyset pagination on
/// the id, so a page costs the same however deep it is and events written meanwhile neither
/// repeat nor shift a page.
pub async fn list(db: &Db, filter: &Filter<'_>, limit: i64) -> Result<Vec<AuditRow>> {
    let mut clauses: Vec<String> = Vec::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    if filter.user_id.is_some() {
        clauses.push(format!("user_id = {}", next()));
    }
    if !filter.kinds.is_empty() {
        let marks: Vec<String> = filter.kinds.iter().map(|_| next()).collect();
        clauses.push(format!("kind IN ({})", marks.join(", ")));
    }
    if filter.since_ms.is_some() {
        clauses.push(format!("at >= {}", next()));
    }
    if filter.until_ms.is_some() {
        clauses.push(format!("at < {}", next()));
    }
    if filter.before_id.is_some() {
        clauses.push(format!("id < {}", next()));
    }
    let limit_mark = next();
    let wher = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let sql =
        format!("SELECT {COLUMNS} FROM audit_events {wher} ORDER BY id DESC LIMIT {limit_mark}");
    let mut query = sqlx::query_as::<_, AuditRow>(&sql);
    if let Some(user_id) = filter.user_id {
        query = query.bind(user_id);
    }
    for kind in filter.kinds {
        query = query.bind(*kind);
    }
    if let Some(since) = filter.since_ms {
        query = query.bind(since);
    }
    if let Some(until) = filter.until_ms {
        query = query.bind(until);
    }
    if let Some(before) = filter.before_id {
        query = query.bind(before);
    }
    Ok(query.bind(limit).fetch_all(db.pool()).await?)
}

/// Deletes the events recorded before `cutoff_ms` (the retention period's start).
pub async fn delete_older_than(db: &Db, cutoff_ms: i64) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM audit_events WHERE at < $1")
        .bind(cutoff_ms)
        .execute(db.pool())
        .await?
        .rows_affected())
}
