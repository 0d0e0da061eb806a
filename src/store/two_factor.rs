//! The two-factor columns of `users`. Read fresh for every check (never from the user cache),
//! and changed with compare-and-set updates so two requests cannot both use one code.

use super::Db;
use crate::error::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TwoFactorRow {
    pub two_factor_enabled: i64,
    pub totp_secret: Option<String>,
    pub backup_codes: Option<String>,
    pub pending_totp_secret: Option<String>,
    pub pending_backup_codes: Option<String>,
    pub totp_last_step: Option<i64>,
}

pub async fn load(db: &Db, user_id: &str) -> Result<Option<TwoFactorRow>> {
    Ok(sqlx::query_as::<_, TwoFactorRow>(
        "SELECT two_factor_enabled, totp_secret, backup_codes, pending_totp_secret, \
                pending_backup_codes, totp_last_step FROM users WHERE id = $1",
    )
    .bind(user_id)
    .fetch_optional(db.pool())
    .await?)
}

/// Stages an enrolment; the live secret, if any, stays in force until confirmation.
pub async fn stage(db: &Db, user_id: &str, secret: &str, codes: &str, now_ms: i64) -> Result<()> {
    sqlx::query(
        "UPDATE users SET pending_totp_secret = $2, pending_backup_codes = $3, updated_at = $4 \
         WHERE id = $1",
    )
    .bind(user_id)
    .bind(secret)
    .bind(codes)
    .bind(now_ms)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Makes the staged enrolment live, if it is still the one that was checked; `step` is the
/// step of the code that confirmed it, now used.
pub async fn confirm(
    db: &Db,
    user_id: &str,
    staged_secret: &str,
    step: i64,
    now_ms: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE users SET totp_secret = pending_totp_secret, backup_codes = pending_backup_codes, \
                          pending_totp_secret = NULL, pending_backup_codes = NULL, \
                          two_factor_enabled = 1, totp_last_step = $3, updated_at = $4 \
         WHERE id = $1 AND pending_totp_secret = $2",
    )
    .bind(user_id)
    .bind(staged_secret)
    .bind(step)
    .bind(now_ms)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records that the code of `step` was used; `false` if that step (or a later one) already was.
pub async fn claim_step(db: &Db, user_id: &str, step: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE users SET totp_last_step = $2 \
         WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)",
    )
    .bind(user_id)
    .bind(step)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the live backup codes if they are still `expected` (`None`: whatever they are).
pub async fn replace_backup_codes(
    db: &Db,
    user_id: &str,
    expected: Option<&str>,
    codes: &str,
    now_ms: i64,
) -> Result<bool> {
    let done = match expected {
        Some(expected) => {
            sqlx::query(
                "UPDATE users SET backup_codes = $3, updated_at = $4 \
                 WHERE id = $1 AND backup_codes = $2",
            )
            .bind(user_id)
            .bind(expected)
            .bind(codes)
            .bind(now_ms)
            .execute(db.pool())
            .await?
        }
        None => {
            sqlx::query("UPDATE users SET backup_codes = $2, updated_at = $3 WHERE id = $1")
                .bind(user_id)
                .bind(codes)
                .bind(now_ms)
                .execute(db.pool())
                .await?
        }
    };
    Ok(done.rows_affected() == 1)
}

pub async fn disable(db: &Db, user_id: &str, now_ms: i64) -> Result<()> {
    sqlx::query(
        "UPDATE users SET two_factor_enabled = 0, totp_secret = NULL, backup_codes = NULL, \
                          pending_totp_secret = NULL, pending_backup_codes = NULL, \
                          totp_last_step = NULL, updated_at = $2 \
         WHERE id = $1",
    )
    .bind(user_id)
    .bind(now_ms)
    .execute(db.pool())
    .await?;
    Ok(())
}
