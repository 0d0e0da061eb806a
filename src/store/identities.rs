//! The `user_identities` table: which external account (provider, issuer, subject) is which user.

use super::users::{Inserted, Role, User};
use super::Db;
use crate::error::Result;

/// An account at an identity provider.
#[derive(Debug, Clone)]
pub struct IdentityKey<'a> {
    pub provider: &'a str,
    pub issuer: &'a str,
    pub subject: &'a str,
}

pub async fn find_user(db: &Db, key: &IdentityKey<'_>) -> Result<Option<User>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT user_id FROM user_identities WHERE provider = $1 AND issuer = $2 AND subject = $3",
    )
    .bind(key.provider)
    .bind(key.issuer)
    .bind(key.subject)
    .fetch_optional(db.pool())
    .await?;
    match row {
        Some((id,)) => super::users::find_by_id(db, &id).await,
        None => Ok(None),
    }
}

/// An OpenID account imported from LibreChat without its issuer (`openidId` with no
/// `openidIssuer` and no `OPENID_ISSUER` at import), or under the same issuer written with or
/// without its trailing slash: bound to `issuer` at its first sign-in, and its user returned.
/// `None` when there is no such account, or more than one (then nothing is guessed).
pub async fn bind_imported_openid(db: &Db, issuer: &str, subject: &str) -> Result<Option<User>> {
    let bare = issuer.trim_end_matches('/');
    let candidates: Vec<(String, String)> = sqlx::query_as(
        "SELECT issuer, user_id FROM user_identities \
         WHERE provider = 'openid' AND subject = $1 AND issuer IN ('', $2, $3) AND issuer <> $4",
    )
    .bind(subject)
    .bind(bare)
    .bind(format!("{bare}/"))
    .bind(issuer)
    .fetch_all(db.pool())
    .await?;
    let [(old_issuer, user_id)] = candidates.as_slice() else {
        return Ok(None);
    };
    sqlx::query(
        "UPDATE user_identities SET issuer = $1 \
         WHERE provider = 'openid' AND issuer = $2 AND subject = $3",
    )
    .bind(issuer)
    .bind(old_issuer)
    .bind(subject)
    .execute(db.pool())
    .await?;
    super::users::find_by_id(db, user_id).await
}

/// Binds an external account to an existing user.
pub async fn link(db: &Db, key: &IdentityKey<'_>, user_id: &str, now_ms: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO user_identities (provider, issuer, subject, user_id, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (provider, issuer, subject) DO NOTHING",
    )
    .bind(key.provider)
    .bind(key.issuer)
    .bind(key.subject)
    .bind(user_id)
    .bind(now_ms)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// What is stored for a user created at their first external login.
pub struct NewExternalUser<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub username: &'a str,
    pub avatar: Option<&'a str>,
    pub email_verified: bool,
    pub role: &'a Role,
    pub now_ms: i64,
    /// LDAP's rule: the first user ever becomes ADMIN, as a local one does. Other external
    /// users never become ADMIN by being first (LibreChat's rule); only a role the provider
    /// asserts makes them one.
    pub first_user_is_admin: bool,
}

/// Creates the user and binds the identity in one transaction.
pub async fn insert_user(
    db: &Db,
    new: &NewExternalUser<'_>,
    key: &IdentityKey<'_>,
) -> Result<Inserted> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "INSERT INTO users (id, email, name, username, password_hash, email_verified, avatar, \
                            provider, role, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, $8, $9, $9) \
         ON CONFLICT (email) DO NOTHING",
    )
    .bind(new.id)
    .bind(new.email)
    .bind(new.name)
    .bind(new.username)
    .bind(i64::from(new.email_verified))
    .bind(new.avatar)
    .bind(key.provider)
    .bind(new.role.as_str())
    .bind(new.now_ms)
    .execute(tx.conn())
    .await?;
    if done.rows_affected() == 0 {
        return Ok(Inserted::EmailTaken);
    }
    sqlx::query(
        "INSERT INTO user_identities (provider, issuer, subject, user_id, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(key.provider)
    .bind(key.issuer)
    .bind(key.subject)
    .bind(new.id)
    .bind(new.now_ms)
    .execute(tx.conn())
    .await?;
    if new.first_user_is_admin {
        super::users::claim_first_admin(&mut tx, new.id).await?;
    }
    tx.commit().await?;
    match super::users::find_by_id(db, new.id).await? {
        Some(user) => Ok(Inserted::Created(Box::new(user))),
        None => Ok(Inserted::EmailTaken),
    }
}

/// What the directory says of a user now, written over what is stored (LibreChat: "user
/// information is managed in LDAP"). `Ok(false)`: the email belongs to another user.
pub async fn update_profile(
    db: &Db,
    user_id: &str,
    email: &str,
    username: &str,
    name: &str,
    now_ms: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE users SET email = $2, username = $3, name = $4, updated_at = $5 \
         WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM users WHERE email = $2 AND id <> $1)",
    )
    .bind(user_id)
    .bind(email)
    .bind(username)
    .bind(name)
    .bind(now_ms)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets the role the provider asserts (admin role sync).
pub async fn set_role(db: &Db, user_id: &str, role: &Role, now_ms: i64) -> Result<()> {
    sqlx::query("UPDATE users SET role = $2, updated_at = $3 WHERE id = $1")
        .bind(user_id)
        .bind(role.as_str())
        .bind(now_ms)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// An identity provider account bound to a user, as the admin API shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BoundIdentity {
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    pub created_at: i64,
}

/// The identities bound to a user, oldest first.
pub async fn list_for_user(db: &Db, user_id: &str) -> Result<Vec<BoundIdentity>> {
    Ok(sqlx::query_as::<_, BoundIdentity>(
        "SELECT provider, issuer, subject, created_at FROM user_identities \
         WHERE user_id = $1 ORDER BY created_at, provider",
    )
    .bind(user_id)
    .fetch_all(db.pool())
    .await?)
}
