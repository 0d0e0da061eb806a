//! `bouncer import-librechat` of a mongoexport file of LibreChat users (relaxed Extended JSON,
//! one a line; every user with a bcrypt hash or a Google account, one in ten with 2FA under a
//! `v3:` secret), timed from exec to exit on a fresh SQLite database. The limit, measured in the
//! same run: the same rows (user and identity) inserted straight through sqlx into a fresh
//! database of the same schema, in transactions of the same size, from this process: what is
//! left for the import's own work (reading, checking, decrypting and re-encrypting the secrets).

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context};
use bouncer::twofactor::cipher::SecretCipher;
use serde_json::json;
use sqlx::{Connection, Executor};

use super::processes::{JWT_REFRESH_SECRET, JWT_SECRET};
use super::scenarios::Row;
use super::Mode;

const CREDS_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const BATCH: usize = 1000;
/// A bcrypt hash of the shape LibreChat stores (the import checks its form, never the password).
const BCRYPT: &str = "$2a$10$sVPXPlr5x2EubuOMiiEp7.bhdEL4Zv9md877z1.VBZkwcvfsB9RJC";

fn id(i: usize) -> String {
    format!("66000000{i:016x}")
}

fn export_file(users: usize) -> String {
    let key: [u8; 32] = hex::decode(CREDS_KEY).unwrap().try_into().unwrap();
    let cipher = SecretCipher::new(key);
    let mut out = String::with_capacity(users * 600);
    for i in 0..users {
        let mut doc = json!({
            "_id": {"$oid": id(i)}, "name": format!("User {i}"), "username": format!("user{i}"),
            "email": format!("user{i}@example.com"), "emailVerified": true, "provider": "local",
            "role": "USER", "plugins": [], "twoFactorEnabled": false, "termsAccepted": true,
            "refreshToken": [], "createdAt": {"$date": "2024-01-02T03:04:05.678Z"},
            "updatedAt": {"$date": "2024-06-07T08:09:10.111Z"}, "__v": 0,
        });
        if i % 4 == 3 {
            doc["provider"] = "google".into();
            doc["googleId"] = format!("google-{i}").into();
        } else {
            doc["password"] = BCRYPT.into();
        }
        if i % 10 == 0 {
            doc["twoFactorEnabled"] = true.into();
            doc["totpSecret"] = cipher.encrypt_v3("JBSWY3DPEHPK3PXP").into();
            doc["backupCodes"] =
                json!([{"codeHash": "a".repeat(64), "used": false, "usedAt": null}]);
        }
        writeln!(out, "{doc}").unwrap();
    }
    out
}

/// The same rows straight into a fresh database of Bouncer's schema: users/s.
async fn direct_inserts(dir: &std::path::Path, users: usize) -> anyhow::Result<f64> {
    let url = format!("sqlite://{}/direct.db", dir.display());
    // Bouncer's migrations make the schema; then a plain connection as Bouncer's pool opens it.
    bouncer::store::Db::connect(&url, 1).await?.close().await;
    let mut conn = sqlx::AnyConnection::connect(&url).await?;
    conn.execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
    )
    .await?;
    let key: [u8; 32] = hex::decode(CREDS_KEY).unwrap().try_into().unwrap();
    let cipher = SecretCipher::new(key);
    let started = Instant::now();
    for chunk in (0..users).collect::<Vec<_>>().chunks(BATCH) {
        let mut tx = conn.begin().await?;
        for &i in chunk {
            let google = i % 4 == 3;
            let secret = (i % 10 == 0).then(|| cipher.encrypt("JBSWY3DPEHPK3PXP"));
            sqlx::query(
                "INSERT INTO users (id, email, name, username, password_hash, email_verified, avatar, \
                                    provider, role, two_factor_enabled, totp_secret, backup_codes, \
                                    terms_accepted, terms_accepted_at, created_at, updated_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, 1, NULL, $6, 'USER', $7, $8, $9, 1, NULL, $10, $11, NULL)",
            )
            .bind(id(i))
            .bind(format!("user{i}@example.com"))
            .bind(format!("User {i}"))
            .bind(format!("user{i}"))
            .bind((!google).then_some(BCRYPT))
            .bind(if google { "google" } else { "local" })
            .bind(i64::from(secret.is_some()))
            .bind(secret.as_deref())
            .bind(secret.as_ref().map(|_| "[]"))
            .bind(1_704_164_645_678i64)
            .bind(1_717_747_750_111i64)
            .execute(&mut *tx)
            .await?;
            if google {
                sqlx::query(
                    "INSERT INTO user_identities (provider, issuer, subject, user_id, created_at) \
                     VALUES ('google', '', $1, $2, $3)",
                )
                .bind(format!("google-{i}"))
                .bind(id(i))
                .bind(1_704_164_645_678i64)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
    }
    Ok(users as f64 / started.elapsed().as_secs_f64())
}

pub async fn rows(binary: &std::path::Path, mode: Mode) -> anyhow::Result<Vec<Row>> {
    let users = if mode.name == "quick" { 2_000 } else { 100_000 };
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("users.json");
    std::fs::write(&file, export_file(users))?;
    let db = format!("sqlite://{}/bouncer.db", dir.path().display());
    // The database exists with its schema, as on a server that has started once.
    bouncer::store::Db::connect(&db, 1).await?.close().await;

    let started = Instant::now();
    let out = Command::new(binary)
        .arg("import-librechat")
        .arg(&file)
        .current_dir(dir.path())
        .env_clear()
        .env("DATABASE_URL", &db)
        .env("JWT_SECRET", JWT_SECRET)
        .env("JWT_REFRESH_SECRET", JWT_REFRESH_SECRET)
        .env("CREDS_KEY", CREDS_KEY)
        .stdin(Stdio::null())
        .output()
        .context("running bouncer import-librechat")?;
    let seconds = started.elapsed().as_secs_f64();
    let summary = String::from_utf8_lossy(&out.stdout);
    if !out.status.success()
        || !summary.contains(&format!(
            "Imported {users}, updated 0, skipped 0, rejected 0"
        ))
    {
        bail!(
            "the import did not import every user: {summary} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let rate = users as f64 / seconds;
    let limit = direct_inserts(dir.path(), users).await?;
    Ok(vec![Row {
        scenario: format!("import-librechat of {users} users, SQLite, batches of {BATCH}"),
        bouncer: format!("{seconds:.2} s from exec to exit ({rate:.0} users/s)"),
        limit: format!("the same rows inserted straight through sqlx: {limit:.0} users/s"),
        ratio: Some(rate / limit),
        value: rate,
    }])
}
