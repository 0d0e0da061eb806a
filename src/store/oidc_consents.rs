//! The `oidc_consents` table: which scopes a user allowed a client, so consent is asked once.

use super::Db;
use crate::error::Result;

/// The scopes (space-separated) the user granted the client, if any.
pub async fn granted(db: &Db, user_id: &str, client_id: &str) -> Result<Option<String>> {
    Ok(sqlx::query_scalar::<_, String>(
        "SELECT scope FROM oidc_consents WHERE user_id = $1 AND client_id = $2",
    )
    .bind(user_id)
    .bind(client_id)
    .fetch_optional(db.pool())
    .await?)
}

/// Records (or widens) a consent.
pub async fn grant(
    db: &Db,
    user_id: &str,
    client_id: &str,
    scope: &str,
    now_ms: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO oidc_consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, client_id) DO UPDATE SET scope = $3, granted_at = $4",
    )
    .bind(user_id)
    .bind(client_id)
    .bind(scope)
    .bind(now_ms)
    .execute(db.pool())
    .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Consent {
    pub client_id: String,
    pub scope: String,
    pub granted_at: i64,
}

/// A user's consents, newest first (the account page).
pub async fn list_for_user(db: &Db, user_id: &str) -> Result<Vec<Consent>> {
    Ok(sqlx::query_as::<_, Consent>(
        "SELECT client_id, scope, granted_at FROM oidc_consents WHERE user_id = $1 \
         ORDER BY granted_at DESC, client_id",
    )
    .bind(user_id)
    .fetch_all(db.pool())
    .await?)
}

/// Withdraws a consent. `false` when there was none.
pub async fn withdraw(db: &Db, user_id: &str, client_id: &str) -> Result<bool> {
    Ok(
        sqlx::query("DELETE FROM oidc_consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id)
            .bind(client_id)
            .execute(db.pool())
            .await?
            .rows_affected()
            > 0,
    )
}
