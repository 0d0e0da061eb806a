//! The `users` table.

use super::{Db, Tx};
use crate::config::social::SocialKind;
use crate::error::Result;

/// A user's role. LibreChat's are ADMIN and USER; a role of another name (a custom role of a
/// LibreChat user store) is kept as it is, and grants nothing here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Admin,
    User,
    Other(String),
}

impl Role {
    pub fn as_str(&self) -> &str {
        match self {
            Role::Admin => "ADMIN",
            Role::User => "USER",
            Role::Other(name) => name,
        }
    }

    /// The role a stored name stands for.
    pub fn from_name(name: String) -> Self {
        match name.as_str() {
            "ADMIN" => Role::Admin,
            "USER" => Role::User,
            _ => Role::Other(name),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a user signs in: a local password, the OpenID provider, a social provider, the LDAP
/// directory, a SAML identity provider, or another way Bouncer does not offer (a user imported
/// from a LibreChat store with a provider of its own), kept by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    Local,
    OpenId,
    Social(SocialKind),
    Ldap,
    Saml,
    Other(String),
}

impl Provider {
    /// Its name in the database, in tokens, routes and cookies (`local`, `openid`, `google`, …).
    pub fn as_str(&self) -> &str {
        match self {
            Provider::Local => "local",
            Provider::OpenId => "openid",
            Provider::Social(kind) => kind.name(),
            Provider::Ldap => "ldap",
            Provider::Saml => "saml",
            Provider::Other(name) => name,
        }
    }

    pub fn from_name(name: String) -> Self {
        match name.as_str() {
            "local" => Provider::Local,
            "openid" => Provider::OpenId,
            "ldap" => Provider::Ldap,
            "saml" => Provider::Saml,
            other => match SocialKind::ALL.into_iter().find(|k| k.name() == other) {
                Some(kind) => Provider::Social(kind),
                None => Provider::Other(name),
            },
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user as stored. Holds the password hash: never serialise it to the wire (see
/// `accounts::PublicUser`).
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub username: String,
    pub password_hash: Option<String>,
    pub email_verified: bool,
    pub avatar: Option<String>,
    pub provider: Provider,
    pub role: Role,
    pub two_factor_enabled: bool,
    pub terms_accepted: bool,
    pub terms_accepted_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// An unverified registration is deleted after this time.
    pub expires_at: Option<i64>,
    /// Since when an operator has disabled this user (no sign-in by any route).
    pub disabled_at: Option<i64>,
    /// The user has registered a passkey: a second factor beside TOTP (`REQUIRE_2FA`), asked
    /// for after a password.
    pub has_passkey: bool,
}

impl User {
    /// What a person is tempted to make their password: their name, username and email.
    pub fn personal_words(&self) -> [&str; 3] {
        [&self.name, &self.username, &self.email]
    }
}

/// The row as both engines return it: flags are 0/1 integers.
#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    email: String,
    name: String,
    username: String,
    password_hash: Option<String>,
    email_verified: i64,
    avatar: Option<String>,
    provider: String,
    role: String,
    two_factor_enabled: i64,
    terms_accepted: i64,
    terms_accepted_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
    expires_at: Option<i64>,
    disabled_at: Option<i64>,
    passkey_count: i64,
}

impl From<Row> for User {
    fn from(r: Row) -> Self {
        Self {
            id: r.id,
            email: r.email,
            name: r.name,
            username: r.username,
            password_hash: r.password_hash,
            email_verified: r.email_verified != 0,
            avatar: r.avatar,
            provider: Provider::from_name(r.provider),
            role: Role::from_name(r.role),
            two_factor_enabled: r.two_factor_enabled != 0,
            terms_accepted: r.terms_accepted != 0,
            terms_accepted_at: r.terms_accepted_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
            expires_at: r.expires_at,
            disabled_at: r.disabled_at,
            has_passkey: r.passkey_count > 0,
        }
    }
}

const COLUMNS: &str = "id, email, name, username, password_hash, email_verified, avatar, provider, \
                       role, two_factor_enabled, terms_accepted, terms_accepted_at, created_at, updated_at, expires_at, \
                       disabled_at, \
                       (SELECT COUNT(*) FROM passkeys WHERE passkeys.user_id = users.id) AS passkey_count";

/// What registration stores for a new local user.
pub struct NewLocalUser<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub username: &'a str,
    pub password_hash: &'a str,
    pub email_verified: bool,
    /// `None`: `ADMIN` for the first user ever, `USER` after.
    pub role: Option<&'a Role>,
    pub now_ms: i64,
    /// When an unverified registration is to be deleted.
    pub expires_at: Option<i64>,
    /// The invitation this registration uses; consumed in the same transaction.
    pub invite_token_id: Option<&'a str>,
}

#[derive(Debug)]
pub enum Inserted {
    Created(Box<User>),
    EmailTaken,
    /// The invitation was used by a concurrent registration.
    InviteGone,
}

/// Inserts a local user. The first user ever becomes `ADMIN` unless a role is given (see the
/// `first_user_claim` migration), decided in the same transaction as the insert, as is the
/// consumption of the invitation, if any.
pub async fn insert_local(db: &Db, new: &NewLocalUser<'_>) -> Result<Inserted> {
    let mut tx = db.begin().await?;
    let sql = format!(
        "INSERT INTO users (id, email, name, username, password_hash, email_verified, provider, role, \
                            created_at, updated_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'local', COALESCE($8, 'USER'), $7, $7, $9) \
         ON CONFLICT (email) DO NOTHING \
         RETURNING {COLUMNS}"
    );
    let inserted = sqlx::query_as::<_, Row>(&sql)
        .bind(new.id)
        .bind(new.email)
        .bind(new.name)
        .bind(new.username)
        .bind(new.password_hash)
        .bind(i64::from(new.email_verified))
        .bind(new.now_ms)
        .bind(new.role.map(Role::as_str))
        .bind(new.expires_at)
        .fetch_optional(tx.conn())
        .await?;
    let Some(mut user) = inserted.map(User::from) else {
        return Ok(Inserted::EmailTaken);
    };
    if let Some(invite) = new.invite_token_id {
        if !super::email_tokens::consume_in(&mut tx, invite).await? {
            return Ok(Inserted::InviteGone);
        }
    }
    // Every insert takes the claim, also one with a role given (an operator's user): otherwise
    // the next public registration would still count as the first user ever, and be ADMIN.
    let first = take_first_user_claim(&mut tx).await?;
    if first && new.role.is_none() {
        make_admin(&mut tx, new.id).await?;
        user.role = Role::Admin;
    }
    tx.commit().await?;
    Ok(Inserted::Created(Box::new(user)))
}

/// Makes `user_id` ADMIN if it is the first user ever (the `first_user_claim` row is taken in
/// the caller's transaction, so two first registrations cannot both win).
pub async fn claim_first_admin(tx: &mut Tx<'_>, user_id: &str) -> Result<bool> {
    let first = take_first_user_claim(tx).await?;
    if first {
        make_admin(tx, user_id).await?;
    }
    Ok(first)
}

/// Takes the `first_user_claim` row: true for the first user ever, false for everyone after.
async fn take_first_user_claim(tx: &mut Tx<'_>) -> Result<bool> {
    let first: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO first_user_claim (id) VALUES (1) ON CONFLICT (id) DO NOTHING RETURNING id",
    )
    .fetch_optional(tx.conn())
    .await?;
    Ok(first.is_some())
}

async fn make_admin(tx: &mut Tx<'_>, user_id: &str) -> Result<()> {
    sqlx::query("UPDATE users SET role = 'ADMIN' WHERE id = $1")
        .bind(user_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
    Ok(sqlx::query_as::<_, Row>(&sql)
        .bind(email)
        .fetch_optional(db.pool())
        .await?
        .map(User::from))
}

pub async fn find_by_username(db: &Db, username: &str) -> Result<Option<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE username = $1 LIMIT 1");
    Ok(sqlx::query_as::<_, Row>(&sql)
        .bind(username)
        .fetch_optional(db.pool())
        .await?
        .map(User::from))
}

/// Every user, oldest first.
pub async fn list(db: &Db) -> Result<Vec<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users ORDER BY created_at, id");
    Ok(sqlx::query_as::<_, Row>(&sql)
        .fetch_all(db.pool())
        .await?
        .into_iter()
        .map(User::from)
        .collect())
}

pub async fn find_by_id(db: &Db, id: &str) -> Result<Option<User>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    Ok(sqlx::query_as::<_, Row>(&sql)
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .map(User::from))
}

/// Replaces the password hash only if it is still `old_hash`, so a rehash after login never
/// overwrites a password changed in the meantime.
pub async fn replace_password_hash(
    db: &Db,
    id: &str,
    old_hash: &str,
    new_hash: &str,
    now_ms: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE users SET password_hash = $3, updated_at = $4 WHERE id = $1 AND password_hash = $2",
    )
    .bind(id)
    .bind(old_hash)
    .bind(new_hash)
    .bind(now_ms)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks the terms accepted, keeping the first acceptance time. Returns that time, or `None`
/// when the user does not exist.
pub async fn accept_terms(db: &Db, id: &str, now_ms: i64) -> Result<Option<i64>> {
    let row: Option<(Option<i64>,)> = sqlx::query_as(
        "UPDATE users SET terms_accepted = 1, \
                          terms_accepted_at = COALESCE(terms_accepted_at, $2), updated_at = $2 \
         WHERE id = $1 RETURNING terms_accepted_at",
    )
    .bind(id)
    .bind(now_ms)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.and_then(|(at,)| at))
}

/// Sets a new password hash and ends every session of the user, in one transaction. Returns
/// the revoked session ids, or `None` when the user does not exist.
pub async fn set_password_revoking_sessions(
    db: &Db,
    id: &str,
    new_hash: &str,
    now_ms: i64,
    revoked_until: i64,
) -> Result<Option<Vec<super::sessions::Revoked>>> {
    let mut tx = db.begin().await?;
    let revoked = set_password_in(&mut tx, id, new_hash, now_ms, revoked_until).await?;
    if revoked.is_some() {
        tx.commit().await?;
    }
    Ok(revoked)
}

/// The password reset of the emailed flow: consumes the reset token, sets the password and
/// ends every session, all or nothing. `None` when the token was already used.
pub async fn reset_password_with_token(
    db: &Db,
    id: &str,
    token_id: &str,
    new_hash: &str,
    now_ms: i64,
    revoked_until: i64,
) -> Result<Option<Vec<super::sessions::Revoked>>> {
    let mut tx = db.begin().await?;
    if !super::email_tokens::consume_in(&mut tx, token_id).await? {
        return Ok(None);
    }
    let revoked = set_password_in(&mut tx, id, new_hash, now_ms, revoked_until).await?;
    if revoked.is_some() {
        tx.commit().await?;
    }
    Ok(revoked)
}

async fn set_password_in(
    tx: &mut Tx<'_>,
    id: &str,
    new_hash: &str,
    now_ms: i64,
    revoked_until: i64,
) -> Result<Option<Vec<super::sessions::Revoked>>> {
    let updated = sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(new_hash)
        .bind(now_ms)
        .execute(tx.conn())
        .await?;
    if updated.rows_affected() == 0 {
        return Ok(None);
    }
    let revoked = super::sessions::revoke_all_in(tx, id, now_ms, revoked_until).await?;
    Ok(Some(revoked))
}

/// Marks the email verified and cancels the expiry of the registration; consumes the
/// verification token in the same transaction. `false` when the token was already used.
pub async fn verify_email_with_token(
    db: &Db,
    id: &str,
    token_id: &str,
    now_ms: i64,
) -> Result<bool> {
    let mut tx = db.begin().await?;
    if !super::email_tokens::consume_in(&mut tx, token_id).await? {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE users SET email_verified = 1, expires_at = NULL, updated_at = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(now_ms)
    .execute(tx.conn())
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Marks the email verified without a token (LibreChat's legacy rule for old accounts).
pub async fn mark_verified(db: &Db, id: &str, now_ms: i64) -> Result<()> {
    sqlx::query(
        "UPDATE users SET email_verified = 1, expires_at = NULL, updated_at = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(now_ms)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Keeps an unverified account that was allowed to log in.
pub async fn clear_expiry(db: &Db, id: &str) -> Result<()> {
    sqlx::query("UPDATE users SET expires_at = NULL WHERE id = $1 AND expires_at IS NOT NULL")
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Deletes unverified registrations past their expiry (never one with a live session).
/// Returns the ids deleted.
pub async fn purge_unverified(db: &Db, now_ms: i64) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "DELETE FROM users WHERE email_verified = 0 AND expires_at IS NOT NULL AND expires_at <= $1 \
           AND NOT EXISTS (SELECT 1 FROM sessions WHERE sessions.user_id = users.id) \
         RETURNING id",
    )
    .bind(now_ms)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Deletes a user with everything that lets them in or belongs to them: their sessions are
/// revoked (so running servers refuse their access tokens) and deleted, their bans by user id
/// removed, then the user row. One transaction: a
/// failure leaves everything as it was. Returns the revoked session ids, or `None` when the
/// user does not exist.
pub async fn delete(
    db: &Db,
    id: &str,
    now_ms: i64,
    revoked_until: i64,
) -> Result<Option<Vec<super::sessions::Revoked>>> {
    let mut tx = db.begin().await?;
    let revoked = super::sessions::revoke_all_in(&mut tx, id, now_ms, revoked_until).await?;
    sqlx::query("DELETE FROM bans WHERE kind = 'user' AND subject = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    let deleted = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    if deleted.rows_affected() == 0 {
        return Ok(None);
    }
    tx.commit().await?;
    Ok(Some(revoked))
}

/// The ids of the users an operator has disabled.
pub async fn disabled_ids(db: &Db) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT id FROM users WHERE disabled_at IS NOT NULL")
        .fetch_all(db.pool())
        .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Disables a user and ends every session of theirs, in one transaction, unless that would
/// leave no enabled ADMIN. Disabling a disabled user keeps the first time.
pub async fn disable_revoking_sessions(
    db: &Db,
    id: &str,
    now_ms: i64,
    revoked_until: i64,
) -> Result<Guarded<Vec<super::sessions::Revoked>>> {
    let mut tx = db.begin().await?;
    let updated = sqlx::query(
        "UPDATE users SET disabled_at = COALESCE(disabled_at, $2), updated_at = $2 \
         WHERE id = $1 AND (role <> 'ADMIN' OR disabled_at IS NOT NULL OR EXISTS \
             (SELECT 1 FROM users o WHERE o.role = 'ADMIN' AND o.disabled_at IS NULL AND o.id <> $1))",
    )
    .bind(id)
    .bind(now_ms)
    .execute(tx.conn())
    .await?;
    if updated.rows_affected() == 0 {
        return guard_outcome(&mut tx, id).await;
    }
    let revoked = super::sessions::revoke_all_in(&mut tx, id, now_ms, revoked_until).await?;
    tx.commit().await?;
    Ok(Guarded::Done(revoked))
}

/// Enables a disabled user. `false` when the user does not exist.
pub async fn enable(db: &Db, id: &str, now_ms: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE users SET disabled_at = NULL, updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now_ms)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The outcome of a write that must leave at least one enabled ADMIN.
#[derive(Debug)]
pub enum Guarded<T> {
    Done(T),
    NotFound,
    /// It would have left no enabled ADMIN.
    LastAdmin,
}

async fn guard_outcome<T>(tx: &mut Tx<'_>, id: &str) -> Result<Guarded<T>> {
    let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    Ok(match exists {
        Some(_) => Guarded::LastAdmin,
        None => Guarded::NotFound,
    })
}

/// Sets a user's role unless that takes the role from the last enabled ADMIN.
pub async fn set_role_guarded(db: &Db, id: &str, role: &Role, now_ms: i64) -> Result<Guarded<()>> {
    let mut tx = db.begin().await?;
    let updated = sqlx::query(
        "UPDATE users SET role = $2, updated_at = $3 \
         WHERE id = $1 AND ($2 = 'ADMIN' OR role <> 'ADMIN' OR disabled_at IS NOT NULL OR EXISTS \
             (SELECT 1 FROM users o WHERE o.role = 'ADMIN' AND o.disabled_at IS NULL AND o.id <> $1))",
    )
    .bind(id)
    .bind(role.as_str())
    .bind(now_ms)
    .execute(tx.conn())
    .await?;
    if updated.rows_affected() == 0 {
        return guard_outcome(&mut tx, id).await;
    }
    tx.commit().await?;
    Ok(Guarded::Done(()))
}

/// Whether another enabled ADMIN than `id` exists.
pub async fn another_enabled_admin(db: &Db, id: &str) -> Result<bool> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM users WHERE role = 'ADMIN' AND disabled_at IS NULL AND id <> $1 LIMIT 1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.is_some())
}

/// Whether any ADMIN has 2FA on (`REQUIRE_2FA_FOR_ADMINS` unset follows this).
pub async fn any_admin_with_two_factor(db: &Db) -> Result<bool> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM users WHERE role = 'ADMIN' AND two_factor_enabled = 1 LIMIT 1",
    )
    .fetch_optional(db.pool())
    .await?;
    Ok(row.is_some())
}

/// The columns the admin list sorts by (the id breaks ties).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortColumn {
    CreatedAt,
    Email,
    Name,
    Username,
}

impl SortColumn {
    pub fn as_str(self) -> &'static str {
        match self {
            SortColumn::CreatedAt => "created_at",
            SortColumn::Email => "email",
            SortColumn::Name => "name",
            SortColumn::Username => "username",
        }
    }
}

/// A position in the list: the sort value and the id of the last user of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortValue {
    Int(i64),
    Text(String),
}

/// One page of the admin list, filtered and sorted. Every value is bound; only the names of
/// the sort column and direction (from a closed set) are put into the SQL text.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Lower-cased substring of email, name or username.
    pub search: Option<String>,
    pub role: Option<String>,
    pub provider: Option<String>,
    pub two_factor: Option<bool>,
    pub banned: Option<bool>,
    pub unverified: Option<bool>,
    pub disabled: Option<bool>,
    pub sort: SortColumn,
    pub descending: bool,
    /// Users strictly after this position.
    pub after: Option<(SortValue, String)>,
    pub limit: i64,
    pub now_ms: i64,
}

/// `%`, `_` and `\` matched as themselves in a `LIKE … ESCAPE '\'` pattern.
fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

pub async fn list_page(db: &Db, q: &ListQuery) -> Result<Vec<User>> {
    let mut clauses: Vec<String> = Vec::new();
    let mut binds: Vec<SortValue> = Vec::new();
    let next = |binds: &mut Vec<SortValue>, v: SortValue| {
        binds.push(v);
        format!("${}", binds.len())
    };
    if let Some(search) = &q.search {
        let p = next(&mut binds, SortValue::Text(like_pattern(search)));
        clauses.push(format!(
            // Emails are stored lower-cased already.
            "(email LIKE {p} ESCAPE '\\' OR LOWER(name) LIKE {p} ESCAPE '\\' \
              OR LOWER(username) LIKE {p} ESCAPE '\\')"
        ));
    }
    if let Some(role) = &q.role {
        let p = next(&mut binds, SortValue::Text(role.clone()));
        clauses.push(format!("role = {p}"));
    }
    if let Some(provider) = &q.provider {
        let p = next(&mut binds, SortValue::Text(provider.clone()));
        clauses.push(format!("provider = {p}"));
    }
    if let Some(on) = q.two_factor {
        clauses.push(format!("two_factor_enabled = {}", i64::from(on)));
    }
    if let Some(unverified) = q.unverified {
        clauses.push(format!("email_verified = {}", i64::from(!unverified)));
    }
    if let Some(disabled) = q.disabled {
        clauses.push(if disabled {
            "disabled_at IS NOT NULL".into()
        } else {
            "disabled_at IS NULL".into()
        });
    }
    if let Some(banned) = q.banned {
        let p = next(&mut binds, SortValue::Int(q.now_ms));
        let not = if banned { "" } else { "NOT " };
        clauses.push(format!(
            "{not}EXISTS (SELECT 1 FROM bans WHERE bans.kind = 'user' AND bans.subject = users.id \
                 AND bans.expires_at > {p})"
        ));
    }
    let col = q.sort.as_str();
    let (cmp, dir) = if q.descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    if let Some((value, id)) = &q.after {
        let v = next(&mut binds, value.clone());
        let i = next(&mut binds, SortValue::Text(id.clone()));
        clauses.push(format!(
            "({col} {cmp} {v} OR ({col} = {v} AND id {cmp} {i}))"
        ));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let limit = next(&mut binds, SortValue::Int(q.limit));
    let sql = format!(
        "SELECT {COLUMNS} FROM users {filter} ORDER BY {col} {dir}, id {dir} LIMIT {limit}"
    );
    let mut query = sqlx::query_as::<_, Row>(&sql);
    for b in binds {
        query = match b {
            SortValue::Int(v) => query.bind(v),
            SortValue::Text(v) => query.bind(v),
        };
    }
    Ok(query
        .fetch_all(db.pool())
        .await?
        .into_iter()
        .map(User::from)
        .collect())
}
