//! Whole users written and read at once, for `bouncer import-librechat` and `bouncer export`:
//! the user row, its two-factor columns and its identities, one transaction per batch.

use std::collections::HashMap;

use super::{Db, Tx};
use crate::error::Result;

/// An account at an identity provider, as `user_identities` keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityRecord {
    pub provider: String,
    pub issuer: String,
    pub subject: String,
}

/// One user with everything that belongs to their sign-in, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub email: String,
    pub name: String,
    pub username: String,
    pub password_hash: Option<String>,
    pub email_verified: bool,
    pub avatar: Option<String>,
    pub provider: String,
    pub role: String,
    pub two_factor_enabled: bool,
    /// Encrypted with `CREDS_KEY` (see `twofactor::cipher`).
    pub totp_secret: Option<String>,
    /// LibreChat's JSON shape (see `twofactor::backup_codes`).
    pub backup_codes: Option<String>,
    pub terms_accepted: bool,
    pub terms_accepted_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: Option<i64>,
    pub identities: Vec<IdentityRecord>,
}

/// What became of one record of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    Inserted,
    Updated,
    /// A user of this id exists and updates were not asked for.
    Skipped,
    /// Nothing written: why.
    Refused(String),
}

/// Writes a batch in one transaction: new users are inserted; a user whose id exists is
/// skipped, or overwritten with `update`. A record whose email belongs to another user, or
/// whose identity is bound to another user, is refused before anything is written, so a batch
/// never leaves half a user. With `dry_run` the transaction is rolled back. An error of the
/// database fails the whole batch, which then holds nothing.
pub async fn write_batch(
    db: &Db,
    records: &[UserRecord],
    update: bool,
    dry_run: bool,
) -> Result<Vec<Written>> {
    let mut tx = db.begin().await?;
    let outcomes = plan(&mut tx, records, update).await?;
    if dry_run {
        return Ok(outcomes);
    }
    let mut any_inserted = false;
    for (record, outcome) in records.iter().zip(&outcomes) {
        match outcome {
            Written::Inserted => {
                insert_user(&mut tx, record).await?;
                any_inserted = true;
            }
            Written::Updated => update_user(&mut tx, record).await?,
            Written::Skipped | Written::Refused(_) => continue,
        }
        for identity in &record.identities {
            sqlx::query(
                "INSERT INTO user_identities (provider, issuer, subject, user_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (provider, issuer, subject) DO NOTHING",
            )
            .bind(&identity.provider)
            .bind(&identity.issuer)
            .bind(&identity.subject)
            .bind(&record.id)
            .bind(record.created_at)
            .execute(tx.conn())
            .await?;
        }
    }
    if any_inserted {
        // Users exist now: the first registration after an import is not the first user ever.
        sqlx::query("INSERT INTO first_user_claim (id) VALUES (1) ON CONFLICT (id) DO NOTHING")
            .execute(tx.conn())
            .await?;
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// `$first, $first+1, …` for `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Decides each record's fate from what the database holds, in the batch's transaction.
async fn plan(tx: &mut Tx<'_>, records: &[UserRecord], update: bool) -> Result<Vec<Written>> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let n = records.len();
    let sql = format!(
        "SELECT id, email FROM users WHERE id IN ({}) OR email IN ({})",
        placeholders(1, n),
        placeholders(n + 1, n)
    );
    let mut query = sqlx::query_as::<_, (String, String)>(&sql);
    for r in records {
        query = query.bind(&r.id);
    }
    for r in records {
        query = query.bind(&r.email);
    }
    let existing = query.fetch_all(tx.conn()).await?;
    let by_id: HashMap<&str, &str> = existing
        .iter()
        .map(|(id, email)| (id.as_str(), email.as_str()))
        .collect();
    let by_email: HashMap<&str, &str> = existing
        .iter()
        .map(|(id, email)| (email.as_str(), id.as_str()))
        .collect();

    let subjects: Vec<&str> = records
        .iter()
        .flat_map(|r| r.identities.iter().map(|i| i.subject.as_str()))
        .collect();
    let mut bound: HashMap<(String, String, String), String> = HashMap::new();
    // In chunks: SQLite allows some thousands of parameters per statement.
    for chunk in subjects.chunks(1000) {
        let sql = format!(
            "SELECT provider, issuer, subject, user_id FROM user_identities WHERE subject IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query_as::<_, (String, String, String, String)>(&sql);
        for s in chunk {
            query = query.bind(*s);
        }
        for (provider, issuer, subject, user_id) in query.fetch_all(tx.conn()).await? {
            bound.insert((provider, issuer, subject), user_id);
        }
    }

    Ok(records
        .iter()
        .map(|r| {
            if let Some(owner) = by_email.get(r.email.as_str()).filter(|o| **o != r.id) {
                return Written::Refused(format!(
                    "the email {} belongs to another user ({owner})",
                    r.email
                ));
            }
            for i in &r.identities {
                let key = (i.provider.clone(), i.issuer.clone(), i.subject.clone());
                if let Some(owner) = bound.get(&key).filter(|o| **o != r.id) {
                    return Written::Refused(format!(
                        "the {} account {} is bound to another user ({owner})",
                        i.provider, i.subject
                    ));
                }
            }
            match by_id.contains_key(r.id.as_str()) {
                true if update => Written::Updated,
                true => Written::Skipped,
                false => Written::Inserted,
            }
        })
        .collect())
}

async fn insert_user(tx: &mut Tx<'_>, r: &UserRecord) -> Result<()> {
    sqlx::query(
        "INSERT INTO users (id, email, name, username, password_hash, email_verified, avatar, \
                            provider, role, two_factor_enabled, totp_secret, backup_codes, \
                            terms_accepted, terms_accepted_at, created_at, updated_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind(&r.id)
    .bind(&r.email)
    .bind(&r.name)
    .bind(&r.username)
    .bind(r.password_hash.as_deref())
    .bind(i64::from(r.email_verified))
    .bind(r.avatar.as_deref())
    .bind(&r.provider)
    .bind(&r.role)
    .bind(i64::from(r.two_factor_enabled))
    .bind(r.totp_secret.as_deref())
    .bind(r.backup_codes.as_deref())
    .bind(i64::from(r.terms_accepted))
    .bind(r.terms_accepted_at)
    .bind(r.created_at)
    .bind(r.updated_at)
    .bind(r.expires_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Overwrites what the record says; a staged (unconfirmed) 2FA enrolment is dropped.
async fn update_user(tx: &mut Tx<'_>, r: &UserRecord) -> Result<()> {
    sqlx::query(
        "UPDATE users SET email = $2, name = $3, username = $4, password_hash = $5, \
                          email_verified = $6, avatar = $7, provider = $8, role = $9, \
                          two_factor_enabled = $10, totp_secret = $11, backup_codes = $12, \
                          pending_totp_secret = NULL, pending_backup_codes = NULL, \
                          terms_accepted = $13, terms_accepted_at = $14, created_at = $15, \
                          updated_at = $16, expires_at = $17 \
         WHERE id = $1",
    )
    .bind(&r.id)
    .bind(&r.email)
    .bind(&r.name)
    .bind(&r.username)
    .bind(r.password_hash.as_deref())
    .bind(i64::from(r.email_verified))
    .bind(r.avatar.as_deref())
    .bind(&r.provider)
    .bind(&r.role)
    .bind(i64::from(r.two_factor_enabled))
    .bind(r.totp_secret.as_deref())
    .bind(r.backup_codes.as_deref())
    .bind(i64::from(r.terms_accepted))
    .bind(r.terms_accepted_at)
    .bind(r.created_at)
    .bind(r.updated_at)
    .bind(r.expires_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

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
    totp_secret: Option<String>,
    backup_codes: Option<String>,
    terms_accepted: i64,
    terms_accepted_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
    expires_at: Option<i64>,
}

/// Every user with their identities, oldest first.
pub async fn read_all(db: &Db) -> Result<Vec<UserRecord>> {
    let rows = sqlx::query_as::<_, Row>(
        "SELECT id, email, name, username, password_hash, email_verified, avatar, provider, role, \
                two_factor_enabled, totp_secret, backup_codes, terms_accepted, terms_accepted_at, \
                created_at, updated_at, expires_at \
         FROM users ORDER BY created_at, id",
    )
    .fetch_all(db.pool())
    .await?;
    let identities: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT user_id, provider, issuer, subject FROM user_identities \
         ORDER BY user_id, created_at, provider, issuer, subject",
    )
    .fetch_all(db.pool())
    .await?;
    let mut by_user: HashMap<String, Vec<IdentityRecord>> = HashMap::new();
    for (user_id, provider, issuer, subject) in identities {
        by_user.entry(user_id).or_default().push(IdentityRecord {
            provider,
            issuer,
            subject,
        });
    }
    Ok(rows
        .into_iter()
        .map(|r| UserRecord {
            identities: by_user.remove(&r.id).unwrap_or_default(),
            id: r.id,
            email: r.email,
            name: r.name,
            username: r.username,
            password_hash: r.password_hash,
            email_verified: r.email_verified != 0,
            avatar: r.avatar,
            provider: r.provider,
            role: r.role,
            two_factor_enabled: r.two_factor_enabled != 0,
            totp_secret: r.totp_secret,
            backup_codes: r.backup_codes,
            terms_accepted: r.terms_accepted != 0,
            terms_accepted_at: r.terms_accepted_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
            expires_at: r.expires_at,
        })
        .collect())
}
