//! The `api_keys` table: keys of programmatic clients, each stored as the SHA-256 of the key
//! (never the key), with its owner, name, scopes (a JSON array) and lifetimes.

use super::Db;
use crate::error::Result;

/// The columns every listing shows (never the digest).
const LISTED: &str = "k.id, k.user_id, u.email, k.name, k.prefix, k.scopes, k.created_at, \
                      k.expires_at, k.last_used_at, k.revoked_at";

/// A key as listed: what it is called and how it has been used.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKey {
    pub id: String,
    pub user_id: String,
    /// The owner's email (for the admins' listing).
    pub email: String,
    pub name: String,
    pub prefix: String,
    pub scopes: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A key as the in-memory index holds it: its digest and the identity of its owner, so a
/// request with the key is answered without a database round trip.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IndexedKey {
    pub id: String,
    pub secret_hash: String,
    pub created_at: i64,
    pub scopes: String,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub user_id: String,
    pub email: String,
    pub username: String,
    pub provider: String,
    pub role: String,
    pub name: String,
}

const INDEXED: &str =
    "k.id, k.secret_hash, k.created_at, k.scopes, k.expires_at, k.revoked_at, k.user_id, \
                       u.email, u.username, u.provider, u.role, u.name";

pub struct NewKey<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub name: &'a str,
    pub prefix: &'a str,
    pub secret_hash: &'a str,
    pub scopes: &'a str,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

/// Stores a key unless its owner already holds `max_live` live keys (one statement, so two
/// creations at once cannot both pass the count on SQLite; on PostgreSQL the bound may be
/// passed by concurrent creations of the same user, never by much). `false`: at the maximum.
pub async fn insert(db: &Db, key: &NewKey<'_>, max_live: u64) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO api_keys (id, user_id, name, prefix, secret_hash, scopes, created_at, expires_at) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8 \
         WHERE (SELECT COUNT(*) FROM api_keys WHERE user_id = $2 AND revoked_at IS NULL \
                AND (expires_at IS NULL OR expires_at > $7)) < $9",
    )
    .bind(key.id)
    .bind(key.user_id)
    .bind(key.name)
    .bind(key.prefix)
    .bind(key.secret_hash)
    .bind(key.scopes)
    .bind(key.created_at)
    .bind(key.expires_at)
    .bind(i64::try_from(max_live).unwrap_or(i64::MAX))
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Keys, newest first: one user's, or everyone's.
pub async fn list(db: &Db, user_id: Option<&str>) -> Result<Vec<ApiKey>> {
    let sql = format!(
        "SELECT {LISTED} FROM api_keys k JOIN users u ON u.id = k.user_id \
         WHERE ($1 IS NULL OR k.user_id = $1) ORDER BY k.created_at DESC, k.id"
    );
    Ok(sqlx::query_as::<_, ApiKey>(&sql)
        .bind(user_id)
        .fetch_all(db.pool())
        .await?)
}

/// Revokes a live key (one user's only, when `user_id` is given). `None`: no such live key.
pub async fn revoke(
    db: &Db,
    id: &str,
    user_id: Option<&str>,
    now_ms: i64,
) -> Result<Option<ApiKey>> {
    let revoked: Option<(String,)> = sqlx::query_as(
        "UPDATE api_keys SET revoked_at = $1 \
         WHERE id = $2 AND revoked_at IS NULL AND ($3 IS NULL OR user_id = $3) RETURNING id",
    )
    .bind(now_ms)
    .bind(id)
    .bind(user_id)
    .fetch_optional(db.pool())
    .await?;
    if revoked.is_none() {
        return Ok(None);
    }
    let sql =
        format!("SELECT {LISTED} FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.id = $1");
    Ok(sqlx::query_as::<_, ApiKey>(&sql)
        .bind(id)
        .fetch_optional(db.pool())
        .await?)
}

/// Every key that can still be used at `now_ms`, with its owner's identity.
pub async fn live(db: &Db, now_ms: i64) -> Result<Vec<IndexedKey>> {
    let sql = format!(
        "SELECT {INDEXED} FROM api_keys k JOIN users u ON u.id = k.user_id \
         WHERE k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > $1)"
    );
    Ok(sqlx::query_as::<_, IndexedKey>(&sql)
        .bind(now_ms)
        .fetch_all(db.pool())
        .await?)
}

/// How many keys can still be used at `now_ms`.
pub async fn count_live(db: &Db, now_ms: i64) -> Result<i64> {
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM api_keys \
         WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)",
    )
    .bind(now_ms)
    .fetch_one(db.pool())
    .await?;
    Ok(count)
}

/// Keys created or revoked at or after `since` (by any process), revoked ones included.
pub async fn changed_since(db: &Db, since: i64) -> Result<Vec<IndexedKey>> {
    let sql = format!(
        "SELECT {INDEXED} FROM api_keys k JOIN users u ON u.id = k.user_id \
         WHERE k.created_at >= $1 OR k.revoked_at >= $1"
    );
    Ok(sqlx::query_as::<_, IndexedKey>(&sql)
        .bind(since)
        .fetch_all(db.pool())
        .await?)
}

/// Records when keys were last used, in one transaction; never moves a time backwards (two
/// instances write their own batches).
pub async fn record_last_use(db: &Db, uses: &[(String, i64)]) -> Result<()> {
    if uses.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    for (id, at) in uses {
        sqlx::query(
            "UPDATE api_keys SET last_used_at = $1 \
             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
        )
        .bind(*at)
        .bind(id.as_str())
        .execute(tx.conn())
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
