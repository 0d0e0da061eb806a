//! The `oidc_clients` table: relying parties registered with `bouncer client add`. Lists are
//! JSON arrays of strings.

use super::Db;
use crate::error::Result;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub secret_hash: Option<String>,
    pub first_party: i64,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub audiences: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, name, secret_hash, first_party, redirect_uris, \
                       post_logout_redirect_uris, audiences, created_at, updated_at";

/// Adds a client; `false` when the id is taken.
pub async fn insert(db: &Db, row: &ClientRow) -> Result<bool> {
    let done = sqlx::query(&format!(
        "INSERT INTO oidc_clients ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (id) DO NOTHING"
    ))
    .bind(&row.id)
    .bind(&row.name)
    .bind(&row.secret_hash)
    .bind(row.first_party)
    .bind(&row.redirect_uris)
    .bind(&row.post_logout_redirect_uris)
    .bind(&row.audiences)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get(db: &Db, id: &str) -> Result<Option<ClientRow>> {
    Ok(
        sqlx::query_as::<_, ClientRow>(&format!(
            "SELECT {COLUMNS} FROM oidc_clients WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(db.pool())
        .await?,
    )
}

pub async fn list(db: &Db) -> Result<Vec<ClientRow>> {
    Ok(
        sqlx::query_as::<_, ClientRow>(&format!("SELECT {COLUMNS} FROM oidc_clients ORDER BY id"))
            .fetch_all(db.pool())
            .await?,
    )
}

pub async fn any(db: &Db) -> Result<bool> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM oidc_clients")
            .fetch_one(db.pool())
            .await?
            > 0,
    )
}

/// Replaces a client's settings (not its id or creation time); `false` when there is none.
pub async fn update(db: &Db, row: &ClientRow) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE oidc_clients SET name = $2, secret_hash = $3, first_party = $4, \
                redirect_uris = $5, post_logout_redirect_uris = $6, audiences = $7, \
                updated_at = $8 \
         WHERE id = $1",
    )
    .bind(&row.id)
    .bind(&row.name)
    .bind(&row.secret_hash)
    .bind(row.first_party)
    .bind(&row.redirect_uris)
    .bind(&row.post_logout_redirect_uris)
    .bind(&row.audiences)
    .bind(row.updated_at)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes a client and the consents given to it; `false` when there was none.
pub async fn delete(db: &Db, id: &str) -> Result<bool> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM oidc_consents WHERE client_id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    let done = sqlx::query("DELETE FROM oidc_clients WHERE id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}
