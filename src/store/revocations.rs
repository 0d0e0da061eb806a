//! The `revoked_sessions` table: ids of sessions ended early, kept while an access token of
//! theirs could still be alive.

use sqlx::{Sqlite, Transaction};

use super::Db;
use crate::error::Result;

pub(super) async fn insert(
    tx: &mut Transaction<'_, Sqlite>,
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
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Revocations still in force: `(session_id, expires_at)`.
pub async fn active(db: &Db, now_ms: i64) -> Result<Vec<(String, i64)>> {
    Ok(
        sqlx::query_as("SELECT session_id, expires_at FROM revoked_sessions WHERE expires_at > $1")
            .bind(now_ms)
            .fetch_all(db.pool())
            .await?,
    )
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
