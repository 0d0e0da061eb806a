//! The `passkeys` table (registered WebAuthn credentials) and `passkey_ceremonies` (the state
//! of a ceremony between its two requests, taken once).

use super::Db;
use crate::error::Result;

/// A registered passkey.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredPasskey {
    pub id: String,
    pub user_id: String,
    pub credential_id: String,
    pub user_handle: String,
    pub name: String,
    /// webauthn-rs's serialised `Passkey`.
    pub credential: String,
    pub counter: i64,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

const COLUMNS: &str = "id, user_id, credential_id, user_handle, name, credential, counter, \
                       created_at, last_used_at";

/// Stores a new passkey unless its owner already holds `max` of them. `false`: at the
/// maximum. A credential id already registered (to anyone) is a unique violation: the caller
/// checks `by_credential_id` first and treats a race as an internal failure.
pub async fn insert(db: &Db, p: &StoredPasskey, max: u64) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO passkeys (id, user_id, credential_id, user_handle, name, credential, \
         counter, created_at) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8 \
         WHERE (SELECT COUNT(*) FROM passkeys WHERE user_id = $2) < $9",
    )
    .bind(&p.id)
    .bind(&p.user_id)
    .bind(&p.credential_id)
    .bind(&p.user_handle)
    .bind(&p.name)
    .bind(&p.credential)
    .bind(p.counter)
    .bind(p.created_at)
    .bind(i64::try_from(max).unwrap_or(i64::MAX))
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// One user's passkeys, oldest first.
pub async fn for_user(db: &Db, user_id: &str) -> Result<Vec<StoredPasskey>> {
    let sql = format!("SELECT {COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, id");
    Ok(sqlx::query_as::<_, StoredPasskey>(&sql)
        .bind(user_id)
        .fetch_all(db.pool())
        .await?)
}

pub async fn count_for_user(db: &Db, user_id: &str) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(db.pool())
        .await?;
    Ok(n)
}

pub async fn by_credential_id(db: &Db, credential_id: &str) -> Result<Option<StoredPasskey>> {
    let sql = format!("SELECT {COLUMNS} FROM passkeys WHERE credential_id = $1");
    Ok(sqlx::query_as::<_, StoredPasskey>(&sql)
        .bind(credential_id)
        .fetch_optional(db.pool())
        .await?)
}

/// Records a use: the new counter and credential, only if the stored counter is still the one
/// the check was made against (two uses at once cannot both pass). `false`: it was not.
pub async fn record_use(
    db: &Db,
    id: &str,
    expected_counter: i64,
    counter: i64,
    credential: &str,
    now_ms: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE passkeys SET counter = $1, credential = $2, last_used_at = $3 \
         WHERE id = $4 AND counter = $5",
    )
    .bind(counter)
    .bind(credential)
    .bind(now_ms)
    .bind(id)
    .bind(expected_counter)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Renames one of the user's passkeys. `false`: no such passkey of theirs.
pub async fn rename(db: &Db, user_id: &str, id: &str, name: &str) -> Result<bool> {
    let done = sqlx::query("UPDATE passkeys SET name = $1 WHERE id = $2 AND user_id = $3")
        .bind(name)
        .bind(id)
        .bind(user_id)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes one of the user's passkeys; returns it. `None`: no such passkey of theirs.
pub async fn delete(db: &Db, user_id: &str, id: &str) -> Result<Option<StoredPasskey>> {
    let sql = format!("DELETE FROM passkeys WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}");
    Ok(sqlx::query_as::<_, StoredPasskey>(&sql)
        .bind(id)
        .bind(user_id)
        .fetch_optional(db.pool())
        .await?)
}

/// Removes every passkey of the user (an administrator's 2FA reset). Returns how many.
pub async fn delete_all_for_user(db: &Db, user_id: &str) -> Result<u64> {
    let done = sqlx::query("DELETE FROM passkeys WHERE user_id = $1")
        .bind(user_id)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected())
}

/// A ceremony's stored state.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredCeremony {
    pub purpose: String,
    pub user_id: Option<String>,
    pub state: String,
    pub expires_at: i64,
}

/// A ceremony to store.
pub struct NewCeremony<'a> {
    pub id_digest: &'a str,
    pub purpose: &'a str,
    pub user_id: Option<&'a str>,
    pub state: &'a str,
    pub expires_at: i64,
    pub client: &'a str,
}

/// Stores a ceremony under the digest of its id unless its client already holds `max_live`
/// live ones (`false`), and drops lapsed ones (so abandoned ceremonies do not pile up).
pub async fn insert_ceremony(
    db: &Db,
    c: &NewCeremony<'_>,
    max_live: u64,
    now_ms: i64,
) -> Result<bool> {
    sqlx::query("DELETE FROM passkey_ceremonies WHERE expires_at <= $1")
        .bind(now_ms)
        .execute(db.pool())
        .await?;
    let done = sqlx::query(
        "INSERT INTO passkey_ceremonies (id, purpose, user_id, state, expires_at, client) \
         SELECT $1, $2, $3, $4, $5, $6 \
         WHERE (SELECT COUNT(*) FROM passkey_ceremonies WHERE client = $6 AND expires_at > $7) < $8",
    )
    .bind(c.id_digest)
    .bind(c.purpose)
    .bind(c.user_id)
    .bind(c.state)
    .bind(c.expires_at)
    .bind(c.client)
    .bind(now_ms)
    .bind(i64::try_from(max_live).unwrap_or(i64::MAX))
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes a ceremony (deleting it: a ceremony is finished at most once, whatever the outcome).
pub async fn take_ceremony(db: &Db, id_digest: &str) -> Result<Option<StoredCeremony>> {
    Ok(sqlx::query_as::<_, StoredCeremony>(
        "DELETE FROM passkey_ceremonies WHERE id = $1 \
         RETURNING purpose, user_id, state, expires_at",
    )
    .bind(id_digest)
    .fetch_optional(db.pool())
    .await?)
}
