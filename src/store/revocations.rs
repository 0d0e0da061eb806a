//! The `revoked_sessions` table: ids of sessions ended early, kept while an access token of
//! theirs could still be alive.

use super::{Db, Tx};
use crate::error::Result;

pub(super) async fn insert(
    tx: &mut Tx<'_>,
    session_id: &str,
    user_id: &str,
    now_ms: i64,
    expires_at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO revoked_sessions (session_id, user_id, revoked_at, expires_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (session_id) DO NOTHING",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(now_ms)
    .bind(expires_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A revocation: the session, when it was revoked, and until when it matters.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Revocation {
    pub session_id: String,
    pub revoked_at: i64,
    pub expires_at: i64,
}

/// Revocations made at or after `since` that are still in force at `now_ms`.
pub async fn since(db: &Db, since: i64, now_ms: i64) -> Result<Vec<Revocation>> {
    Ok(sqlx::query_as::<_, Revocation>(
        "SELECT session_id, revoked_at, expires_at FROM revoked_sessions \
         WHERE revoked_at >= $1 AND expires_at > $2",
    )
    .bind(since)
    .bind(now_ms)
    .fetch_all(db.pool())
    .await?)
}

pub async fn delete_expired(db: &Db, now_ms: i64) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM revoked_sessions WHERE expires_at <= $1")
            .bind(now_ms)
            .execute(db.pool())
            .await?
            .rows_affected(),
    )
}
