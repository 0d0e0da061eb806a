//! The `email_tokens` table: emailed verification, password-reset and invitation tokens, stored
//! as SHA-256 hashes, one live token per purpose and email.

use super::{Db, Tx};
use crate::error::Result;

/// What a token is for. Every lookup names its purpose, so no token passes for another kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    EmailVerification,
    PasswordReset,
    Invite,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::EmailVerification => "email_verification",
            Purpose::PasswordReset => "password_reset",
            Purpose::Invite => "invite",
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredToken {
    pub id: String,
    pub email: String,
    pub user_id: Option<String>,
    pub token_hash: String,
    pub expires_at: i64,
}

pub struct NewToken<'a> {
    pub id: &'a str,
    pub purpose: Purpose,
    pub email: &'a str,
    pub user_id: Option<&'a str>,
    pub token_hash: &'a str,
    pub now_ms: i64,
    pub expires_at: i64,
}

/// Stores a token, replacing any earlier one of the same purpose for the same email.
pub async fn replace(db: &Db, t: &NewToken<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO email_tokens (id, purpose, email, user_id, token_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (purpose, email) DO UPDATE SET id = excluded.id, user_id = excluded.user_id, \
             token_hash = excluded.token_hash, created_at = excluded.created_at, \
             expires_at = excluded.expires_at",
    )
    .bind(t.id)
    .bind(t.purpose.as_str())
    .bind(t.email)
    .bind(t.user_id)
    .bind(t.token_hash)
    .bind(t.now_ms)
    .bind(t.expires_at)
    .execute(db.pool())
    .await?;
    Ok(())
}

const COLUMNS: &str = "id, email, user_id, token_hash, expires_at";

pub async fn find_by_email(db: &Db, purpose: Purpose, email: &str) -> Result<Option<StoredToken>> {
    let sql = format!("SELECT {COLUMNS} FROM email_tokens WHERE purpose = $1 AND email = $2");
    Ok(sqlx::query_as::<_, StoredToken>(&sql)
        .bind(purpose.as_str())
        .bind(email)
        .fetch_optional(db.pool())
        .await?)
}

pub async fn find_by_user(db: &Db, purpose: Purpose, user_id: &str) -> Result<Option<StoredToken>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM email_tokens WHERE purpose = $1 AND user_id = $2 \
         ORDER BY created_at DESC LIMIT 1"
    );
    Ok(sqlx::query_as::<_, StoredToken>(&sql)
        .bind(purpose.as_str())
        .bind(user_id)
        .fetch_optional(db.pool())
        .await?)
}

/// Deletes the token inside the caller's transaction. `false` when it is already gone (used or
/// replaced by a concurrent request), so a token works once.
pub(super) async fn consume_in(tx: &mut Tx<'_>, id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM email_tokens WHERE id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes tokens that can no longer be used. Returns how many.
pub async fn purge_expired(db: &Db, now_ms: i64) -> Result<u64> {
    let done = sqlx::query("DELETE FROM email_tokens WHERE expires_at <= $1")
        .bind(now_ms)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}
