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
/// A grant of the OpenID provider to one client: its refresh token, rotated like `api`'s.
pub const PROVIDER: &str = "provider";

/// A session about to begin.
pub struct NewSession<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub token_hash: &'a str,
    pub kind: &'static str,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub expires_at: i64,
    /// A provider grant's client, scope, browser session and time of sign-in.
    pub grant: Option<GrantOf<'a>>,
}

/// What ties a provider grant to its client and to the sign-in it came from.
#[derive(Debug, Clone, Copy)]
pub struct GrantOf<'a> {
    pub client_id: &'a str,
    pub scope: &'a str,
    pub parent_id: &'a str,
    pub auth_time: i64,
}

pub async fn insert(db: &Db, session: &NewSession<'_>, now_ms: i64) -> Result<()> {
    let grant = session.grant;
    sqlx::query(
        "INSERT INTO sessions (id, user_id, refresh_token_hash, expires_at, created_at, kind, \
                               user_agent, ip, last_used_at, client_id, scope, parent_id, \
                               auth_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $5, $9, $10, $11, $12)",
    )
    .bind(session.id)
    .bind(session.user_id)
    .bind(session.token_hash)
    .bind(session.expires_at)
    .bind(now_ms)
    .bind(session.kind)
    .bind(session.user_agent)
    .bind(session.ip)
    .bind(grant.map(|g| g.client_id))
    .bind(grant.map(|g| g.scope))
    .bind(grant.map(|g| g.parent_id))
    .bind(grant.map(|g| g.auth_time))
    .execute(db.pool())
    .await?;
    Ok(())
}

/// A session as its owner sees it on the account page.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionSummary {
    pub id: String,
    pub kind: String,
    /// A provider grant's client.
    pub client_id: Option<String>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: i64,
}

/// A user's live sessions, newest first.
pub async fn list_for_user(db: &Db, user_id: &str, now_ms: i64) -> Result<Vec<SessionSummary>> {
    Ok(sqlx::query_as::<_, SessionSummary>(
        "SELECT id, kind, client_id, user_agent, ip, created_at, last_used_at, expires_at \
         FROM sessions \
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

/// A row of `DELETE … RETURNING id, user_id, kind, expires_at`.
type Deleted = (String, String, String, i64);

/// Records deleted sessions as revoked (for as long as `revoked_until` says), in the
/// caller's transaction.
async fn record_deleted(
    tx: &mut Tx<'_>,
    rows: Vec<Deleted>,
    now_ms: i64,
    floor: i64,
) -> Result<Vec<Revoked>> {
    let mut revoked = Vec::with_capacity(rows.len());
    for (id, user_id, kind, expires_at) in rows {
        let until = revoked_until(&kind, expires_at, floor);
        super::revocations::insert(tx, &id, &user_id, now_ms, until).await?;
        revoked.push(Revoked { id, until });
    }
    Ok(revoked)
}

/// Deletes one session (of `user_id`, when given) and the provider grants begun from it, and
/// records their ids as revoked, in one transaction; the session itself comes first. `None`
/// when there was no such session.
pub async fn revoke(
    db: &Db,
    id: &str,
    user_id: Option<&str>,
    now_ms: i64,
    floor: i64,
) -> Result<Option<Vec<Revoked>>> {
    let mut tx = db.begin().await?;
    let row: Option<Deleted> = sqlx::query_as(
        "DELETE FROM sessions WHERE id = $1 AND ($2 IS NULL OR user_id = $2) \
         RETURNING id, user_id, kind, expires_at",
    )
    .bind(id)
    .bind(user_id)
    .fetch_optional(tx.conn())
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut revoked = record_deleted(&mut tx, vec![row], now_ms, floor).await?;
    // The provider grants begun from this (browser) session end with it.
    let children: Vec<Deleted> = sqlx::query_as(
        "DELETE FROM sessions WHERE parent_id = $1 RETURNING id, user_id, kind, expires_at",
    )
    .bind(id)
    .fetch_all(tx.conn())
    .await?;
    revoked.extend(record_deleted(&mut tx, children, now_ms, floor).await?);
    tx.commit().await?;
    Ok(Some(revoked))
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
    let rows: Vec<Deleted> = sqlx::query_as(
        "DELETE FROM sessions WHERE user_id = $1 RETURNING id, user_id, kind, expires_at",
    )
    .bind(user_id)
    .fetch_all(tx.conn())
    .await?;
    record_deleted(tx, rows, now_ms, floor).await
}

/// How many sessions have not reached their absolute expiry (for the metrics, on the
/// maintenance loop; the expiry is indexed).
pub async fn count_live(db: &Db, now_ms: i64) -> Result<i64> {
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions WHERE expires_at > $1")
        .bind(now_ms)
        .fetch_one(db.pool())
        .await?;
    Ok(count)
}

/// Removes sessions past their absolute expiry. Returns how many.
pub async fn delete_expired(db: &Db, now_ms: i64) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now_ms)
        .execute(db.pool())
        .await?
        .rows_affected())
}

/// A live provider grant, as its refresh needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Grant {
    pub id: String,
    pub user_id: String,
    pub refresh_token_hash: String,
    pub previous_token_hash: Option<String>,
    pub rotated_at: Option<i64>,
    pub expires_at: i64,
    pub client_id: String,
    pub scope: String,
    pub auth_time: i64,
}

/// The provider grant with this id, if it has not reached its expiry.
pub async fn find_live_grant(db: &Db, id: &str, now_ms: i64) -> Result<Option<Grant>> {
    Ok(sqlx::query_as::<_, Grant>(
        "SELECT id, user_id, refresh_token_hash, previous_token_hash, rotated_at, expires_at, \
                client_id, scope, auth_time \
         FROM sessions WHERE id = $1 AND kind = 'provider' AND expires_at > $2",
    )
    .bind(id)
    .bind(now_ms)
    .fetch_optional(db.pool())
    .await?)
}

/// When a live session of this user began and when it ends (a browser session behind the
/// provider's `authorize`: its sign-in time is the ID token's `auth_time`).
pub async fn live_span(
    db: &Db,
    id: &str,
    user_id: &str,
    now_ms: i64,
) -> Result<Option<(i64, i64)>> {
    Ok(sqlx::query_as::<_, (i64, i64)>(
        "SELECT created_at, expires_at FROM sessions \
         WHERE id = $1 AND user_id = $2 AND expires_at > $3",
    )
    .bind(id)
    .bind(user_id)
    .bind(now_ms)
    .fetch_optional(db.pool())
    .await?)
}

/// Deletes a user's provider grants to one client (a withdrawn consent) and records them as
/// revoked.
pub async fn revoke_grants_of(
    db: &Db,
    user_id: &str,
    client_id: &str,
    now_ms: i64,
    floor: i64,
) -> Result<Vec<Revoked>> {
    let mut tx = db.begin().await?;
    let rows: Vec<Deleted> = sqlx::query_as(
        "DELETE FROM sessions WHERE user_id = $1 AND client_id = $2 \
         RETURNING id, user_id, kind, expires_at",
    )
    .bind(user_id)
    .bind(client_id)
    .fetch_all(tx.conn())
    .await?;
    let revoked = record_deleted(&mut tx, rows, now_ms, floor).await?;
    tx.commit().await?;
    Ok(revoked)
}

/// Deletes every grant of a client (the client was removed) and records them as revoked.
pub async fn revoke_all_for_client(
    db: &Db,
    client_id: &str,
    now_ms: i64,
    floor: i64,
) -> Result<Vec<Revoked>> {
    let mut tx = db.begin().await?;
    let rows: Vec<Deleted> = sqlx::query_as(
        "DELETE FROM sessions WHERE client_id = $1 RETURNING id, user_id, kind, expires_at",
    )
    .bind(client_id)
    .fetch_all(tx.conn())
    .await?;
    let revoked = record_deleted(&mut tx, rows, now_ms, floor).await?;
    tx.commit().await?;
    Ok(revoked)
}
