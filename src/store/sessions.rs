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

/// The kind of a session: `api` (LibreChat's refresh cookie) or `browser` (the sign-in pages'
/// single-sign-on cookie).
pub const API: &str = "api";
pub const BROWSER: &str = "browser";

/// A session about to begin.
pub struct NewSession<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub token_hash: &'a str,
    pub kind: &'static str,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub expires_at: i64,
}

pub async fn insert(db: &Db, session: &NewSession<'_>, now_ms: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, refresh_token_hash, expires_at, created_at, kind, \
                               user_agent, ip, last_used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $5)",
    )
    .bind(session.id)
    .bind(session.user_id)
    .bind(session.token_hash)
    .bind(session.expires_at)
    .bind(now_ms)
    .bind(session.kind)
    .bind(session.user_agent)
    .bind(session.ip)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// A session as its owner sees it on the account page.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionSummary {
    pub id: String,
    pub kind: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: i64,
}

/// A user's live sessions, newest first.
pub async fn list_for_user(db: &Db, user_id: &str, now_ms: i64) -> Result<Vec<SessionSummary>> {
    Ok(sqlx::query_as::<_, SessionSummary>(
        "SELECT id, kind, user_agent, ip, created_at, last_used_at, expires_at FROM sessions \
         WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id DESC",
    )
    .bind(user_id)
    .bind(now_ms)
    .fetch_all(db.pool())
    .await?)
}

/// Records that a session was used (never moves the time back).
pub async fn touch(db: &Db, id: &str, now_ms: i64) -> Result<()> {
    sqlx::query(
        "UPDATE sessions SET last_used_at = $2 \
         WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)",
    )
    .bind(id)
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
                             rotated_at = $4, last_used_at = $4 \
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

/// A session just revoked, and until when its revocation must be remembered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    pub id: String,
    pub until: i64,
}

/// How long a revoked session must stay refused: while an access token of it may be alive
/// (`floor`, now + the access-token lifetime), and for a browser session, whose cookie is
/// signed for the session's whole life, until the session would have ended.
fn revoked_until(kind: &str, expires_at: i64, floor: i64) -> i64 {
    if kind == BROWSER {
        floor.max(expires_at)
    } else {
        floor
    }
}

/// Deletes one session (of `user_id`, when given) and records its id as revoked, in one
/// transaction. `None` when there was no such session.
pub async fn revoke(
    db: &Db,
    id: &str,
    user_id: Option<&str>,
    now_ms: i64,
    floor: i64,
) -> Result<Option<Revoked>> {
    let mut tx = db.begin().await?;
    let row: Option<(String, String, i64)> = sqlx::query_as(
        "DELETE FROM sessions WHERE id = $1 AND ($2 IS NULL OR user_id = $2) \
         RETURNING user_id, kind, expires_at",
    )
    .bind(id)
    .bind(user_id)
    .fetch_optional(tx.conn())
    .await?;
    let Some((user_id, kind, expires_at)) = row else {
        return Ok(None);
    };
    let until = revoked_until(&kind, expires_at, floor);
    super::revocations::insert(&mut tx, id, &user_id, now_ms, until).await?;
    tx.commit().await?;
    Ok(Some(Revoked {
        id: id.to_string(),
        until,
    }))
}

/// Deletes every session of a user and records them as revoked.
pub async fn revoke_all_for_user(
    db: &Db,
    user_id: &str,
    now_ms: i64,
    floor: i64,
) -> Result<Vec<Revoked>> {
    let mut tx = db.begin().await?;
    let revoked = revoke_all_in(&mut tx, user_id, now_ms, floor).await?;
    tx.commit().await?;
    Ok(revoked)
}

/// The same, inside a caller's transaction (deleting a user, changing a password).
pub(super) async fn revoke_all_in(
    tx: &mut Tx<'_>,
    user_id: &str,
    now_ms: i64,
    floor: i64,
) -> Result<Vec<Revoked>> {
    let rows: Vec<(String, String, i64)> =
        sqlx::query_as("DELETE FROM sessions WHERE user_id = $1 RETURNING id, kind, expires_at")
            .bind(user_id)
            .fetch_all(tx.conn())
            .await?;
    let mut revoked = Vec::with_capacity(rows.len());
    for (id, kind, expires_at) in rows {
        let until = revoked_until(&kind, expires_at, floor);
        super::revocations::insert(tx, &id, user_id, now_ms, until).await?;
        revoked.push(Revoked { id, until });
    }
    Ok(revoked)
}

/// Removes sessions past their absolute expiry. Returns how many.
pub async fn delete_expired(db: &Db, now_ms: i64) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now_ms)
        .execute(db.pool())
        .await?
        .rows_affected())
}
