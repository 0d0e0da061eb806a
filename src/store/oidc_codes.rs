//! The `oidc_codes` table: authorization codes, kept as SHA-256, redeemed once.

use super::Db;
use crate::error::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Code {
    pub client_id: String,
    pub user_id: String,
    pub browser_session_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub grant_session_id: Option<String>,
}

pub struct NewCode<'a> {
    pub code_hash: &'a str,
    pub client_id: &'a str,
    pub user_id: &'a str,
    pub browser_session_id: &'a str,
    pub redirect_uri: &'a str,
    pub scope: &'a str,
    pub nonce: Option<&'a str>,
    pub code_challenge: Option<&'a str>,
    pub auth_time: i64,
    pub expires_at: i64,
}

pub async fn insert(db: &Db, code: &NewCode<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO oidc_codes (code_hash, client_id, user_id, browser_session_id, redirect_uri, \
                                 scope, nonce, code_challenge, auth_time, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(code.code_hash)
    .bind(code.client_id)
    .bind(code.user_id)
    .bind(code.browser_session_id)
    .bind(code.redirect_uri)
    .bind(code.scope)
    .bind(code.nonce)
    .bind(code.code_challenge)
    .bind(code.auth_time)
    .bind(code.expires_at)
    .execute(db.pool())
    .await?;
    Ok(())
}

const COLUMNS: &str = "client_id, user_id, browser_session_id, redirect_uri, scope, nonce, \
                       code_challenge, auth_time, expires_at, used_at, grant_session_id";

/// Marks the code used, naming the grant its tokens will belong to, and returns it, if it was
/// not used before: of two redemptions racing with one code, exactly one gets it.
pub async fn redeem(
    db: &Db,
    code_hash: &str,
    grant_session_id: &str,
    now_ms: i64,
) -> Result<Option<Code>> {
    Ok(sqlx::query_as::<_, Code>(&format!(
        "UPDATE oidc_codes SET used_at = $2, grant_session_id = $3 \
         WHERE code_hash = $1 AND used_at IS NULL RETURNING {COLUMNS}"
    ))
    .bind(code_hash)
    .bind(now_ms)
    .bind(grant_session_id)
    .fetch_optional(db.pool())
    .await?)
}

/// The code as stored (used or not).
pub async fn find(db: &Db, code_hash: &str) -> Result<Option<Code>> {
    Ok(sqlx::query_as::<_, Code>(&format!(
        "SELECT {COLUMNS} FROM oidc_codes WHERE code_hash = $1"
    ))
    .bind(code_hash)
    .fetch_optional(db.pool())
    .await?)
}

/// Removes codes past their expiry by more than `keep_ms` (a used code is kept that long to
/// recognise its reuse).
pub async fn delete_expired(db: &Db, now_ms: i64, keep_ms: i64) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM oidc_codes WHERE expires_at <= $1")
        .bind(now_ms - keep_ms)
        .execute(db.pool())
        .await?
        .rows_affected())
}
