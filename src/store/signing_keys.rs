//! The `signing_keys` table: the OpenID provider's keys, the private half encrypted.

use super::Db;
use crate::error::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredKey {
    pub kid: String,
    /// 1 for the first key, one more for each rotation.
    pub generation: i64,
    pub alg: String,
    /// Encrypted with `CREDS_KEY` (`twofactor::cipher`).
    pub private_key: String,
    pub public_jwk: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

/// Adds a key; `false` when its kid or its generation exists already (another instance or
/// command won the race).
pub async fn insert(db: &Db, key: &StoredKey) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO signing_keys (kid, generation, alg, private_key, public_jwk, created_at, \
                                   retired_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(&key.kid)
    .bind(key.generation)
    .bind(&key.alg)
    .bind(&key.private_key)
    .bind(&key.public_jwk)
    .bind(key.created_at)
    .bind(key.retired_at)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Every key, oldest first.
pub async fn all(db: &Db) -> Result<Vec<StoredKey>> {
    Ok(sqlx::query_as::<_, StoredKey>(
        "SELECT kid, generation, alg, private_key, public_jwk, created_at, retired_at \
         FROM signing_keys ORDER BY generation",
    )
    .fetch_all(db.pool())
    .await?)
}

/// Retires every live key but `kid`.
pub async fn retire_others(db: &Db, kid: &str, now_ms: i64) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE signing_keys SET retired_at = $2 WHERE retired_at IS NULL AND kid <> $1",
    )
    .bind(kid)
    .bind(now_ms)
    .execute(db.pool())
    .await?
    .rows_affected())
}

/// Deletes keys retired before `before_ms`.
pub async fn delete_retired_before(db: &Db, before_ms: i64) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < $1")
            .bind(before_ms)
            .execute(db.pool())
            .await?
            .rows_affected(),
    )
}
