//! The `bans` table.

use super::Db;
use crate::error::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Ban {
    pub kind: String,
    pub subject: String,
    pub user_id: Option<String>,
    pub violation_type: String,
    pub score: i64,
    pub duration_ms: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

const COLUMNS: &str =
    "kind, subject, user_id, violation_type, score, duration_ms, created_at, expires_at";

/// Records a ban, replacing an earlier one of the same subject.
pub async fn upsert(db: &Db, ban: &Ban) -> Result<()> {
    sqlx::query(
        "INSERT INTO bans (kind, subject, user_id, violation_type, score, duration_ms, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (kind, subject) DO UPDATE SET user_id = excluded.user_id, \
             violation_type = excluded.violation_type, score = excluded.score, \
             duration_ms = excluded.duration_ms, created_at = excluded.created_at, \
             expires_at = excluded.expires_at",
    )
    .bind(&ban.kind)
    .bind(&ban.subject)
    .bind(&ban.user_id)
    .bind(&ban.violation_type)
    .bind(ban.score)
    .bind(ban.duration_ms)
    .bind(ban.created_at)
    .bind(ban.expires_at)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Bans in force at `now_ms`, soonest to end first.
pub async fn active(db: &Db, now_ms: i64) -> Result<Vec<Ban>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM bans WHERE expires_at > $1 ORDER BY expires_at, kind, subject"
    );
    Ok(sqlx::query_as::<_, Ban>(&sql)
        .bind(now_ms)
        .fetch_all(db.pool())
        .await?)
}

/// Lifts a ban. Returns false when there was none.
pub async fn delete(db: &Db, kind: &str, subject: &str) -> Result<bool> {
    Ok(
        sqlx::query("DELETE FROM bans WHERE kind = $1 AND subject = $2")
            .bind(kind)
            .bind(subject)
            .execute(db.pool())
            .await?
            .rows_affected()
            > 0,
    )
}

pub async fn delete_expired(db: &Db, now_ms: i64) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM bans WHERE expires_at <= $1")
        .bind(now_ms)
        .execute(db.pool())
        .await?
        .rows_affected())
}

/// A ban in force as the admin API lists it: with an operator's reason and who made it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotedBan {
    pub kind: String,
    pub subject: String,
    pub user_id: Option<String>,
    pub violation_type: String,
    pub duration_ms: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub reason: Option<String>,
    pub created_by: Option<String>,
    /// The banned user's email, while the user exists.
    pub email: Option<String>,
}

/// Bans in force at `now_ms` with their notes, newest first.
pub async fn active_noted(db: &Db, now_ms: i64) -> Result<Vec<NotedBan>> {
    Ok(sqlx::query_as::<_, NotedBan>(
        "SELECT bans.kind, bans.subject, bans.user_id, bans.violation_type, bans.duration_ms, \
                bans.created_at, bans.expires_at, bans.reason, bans.created_by, users.email \
         FROM bans LEFT JOIN users ON bans.kind = 'user' AND users.id = bans.subject \
         WHERE bans.expires_at > $1 ORDER BY bans.created_at DESC, bans.kind, bans.subject",
    )
    .bind(now_ms)
    .fetch_all(db.pool())
    .await?)
}

/// Records an operator's ban (violation type `operator`) with its reason and author,
/// replacing an earlier ban of the same subject.
pub async fn upsert_noted(
    db: &Db,
    ban: &Ban,
    reason: Option<&str>,
    created_by: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO bans (kind, subject, user_id, violation_type, score, duration_ms, created_at, \
                           expires_at, reason, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (kind, subject) DO UPDATE SET user_id = excluded.user_id, \
             violation_type = excluded.violation_type, score = excluded.score, \
             duration_ms = excluded.duration_ms, created_at = excluded.created_at, \
             expires_at = excluded.expires_at, reason = excluded.reason, \
             created_by = excluded.created_by",
    )
    .bind(&ban.kind)
    .bind(&ban.subject)
    .bind(&ban.user_id)
    .bind(&ban.violation_type)
    .bind(ban.score)
    .bind(ban.duration_ms)
    .bind(ban.created_at)
    .bind(ban.expires_at)
    .bind(reason)
    .bind(created_by)
    .execute(db.pool())
    .await?;
    Ok(())
}
