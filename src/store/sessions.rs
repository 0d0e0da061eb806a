//! The `sessions` table: one row per login, holding only hashes of refresh tokens.

use super::{Db, Tx};
use crate::error::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub refresh_token_hash: String,
    pub previous_token_hash: Option<String>,
    pub rotated_at: Option<i64>,
    pub expires_at: i64,
}

pub async fn insert(
    db: &Db,
    id: &str,
    user_id: &str,
    token_hash: &str,
    expires_at: i64,
    now_ms: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, refresh_token_hash, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(user_id)
    .bind(token_hash)
    .bind(expires_at)
    .bind(now_ms)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The session, if it belongs to this user and has not reached its absolute expiry.
pub async fn find_live(db: &Db, id: &str, user_id: &str, now_ms: i64) -> Result<Option<Session>> {
    Ok(sqlx::query_as::<_, Session>(
        "SELECT id, user_id, refresh_token_hash, previous_token_hash, rotated_at, expires_at \
         FROM sessions WHERE id = $1 AND user_id = $2 AND expires_at > $3",
    )
    .bind(id)
    .bind(user_id)
    .bind(now_ms)
    .fetch_optional(db.pool())
    .await?)
}

/// Compare-and-swap rotation: succeeds only if the current hash is still `expected_hash`, so of
/// two refreshes racing with the same token exactly one rotates.
pub async fn rotate(
    db: &Db,
    id: &str,
    expected_hash: &str,
    new_hash: &str,
    now_ms: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE sessions SET previous_token_hash = refresh_token_hash, refresh_token_hash = $3, \
                             rotated_at = $4 \
         WHERE id = $1 AND refresh_token_hash = $2",
    )
    .bind(id)
    .bind(expected_hash)
    .bind(new_hash)
    .bind(now_ms)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes one session and records its id as revoked until `revoked_until`, in one
/// transaction. Returns false when there was no such session.
pub async fn revoke(db: &Db, id: &str, now_ms: i64, revoked_until: i64) -> Result<bool> {
    let mut tx = db.begin().await?;
    let user: Option<(String,)> =
        sqlx::query_as("DELETE FROM sessions WHERE id = $1 RETURNING user_id")
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
    let Some((user_id,)) = user else {
        return Ok(false);
    };
    super::revocations::insert(&mut tx, id, &user_id, now_ms, revoked_until).await?;
    tx.commit().await?;
    Ok(true)
}

/// Deletes every session of a user and records them as revoked. Returns their ids.
pub async fn revoke_all_for_user(
    db: &Db,
    user_id: &str,
    now_ms: i64,
    revoked_until: i64,
) -> Result<Vec<String>> {
    let mut tx = db.begin().await?;
    let ids = revoke_all_in(&mut tx, user_id, now_ms, revoked_until).await?;
    tx.commit().await?;
    Ok(ids)
}

/// The same, inside a caller's transaction (deleting a user, changing a password).
pub(super) async fn revoke_all_in(
    tx: &mut Tx<'_>,
    user_id: &str,
    now_ms: i64,
    revoked_until: i64,
) -> Result<Vec<String>> {
    let ids: Vec<(String,)> =
        sqlx::query_as("DELETE FROM sessions WHERE user_id = $1 RETURNING id")
            .bind(user_id)
            .fetch_all(tx.conn())
            .await?;
    for (id,) in &ids {
        super::revocations::insert(tx, id, user_id, now_ms, revoked_until).await?;
    }
    Ok(ids.into_iter().map(|(id,)| id).collect())
}

/// Removes sessions past their absolute expiry. Returns how many.
pub async fn delete_expired(db: &Db, now_ms: i64) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now_ms)
        .execute(db.pool())
        .await?
        .rows_affected())
}
