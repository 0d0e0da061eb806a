//! The `saml_assertions` table: the IDs of SAML assertions already used, until they expire, so
//! a captured assertion cannot sign in a second time on this instance or any other.

use super::Db;
use crate::error::Result;

/// Records `id` as used until `expires_at_ms`; `false` when it already was (a replay). The
/// primary key decides, so two instances given the same assertion at once cannot both accept
/// it. Expired rows are purged first: an ID is remembered only as long as it could be used.
pub async fn first_use(db: &Db, id: &str, expires_at_ms: i64, now_ms: i64) -> Result<bool> {
    sqlx::query("DELETE FROM saml_assertions WHERE expires_at < $1")
        .bind(now_ms)
        .execute(db.pool())
        .await?;
    let done = sqlx::query(
        "INSERT INTO saml_assertions (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(expires_at_ms)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}
