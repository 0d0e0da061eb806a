//! The admin API's user list at 100,000 users (SQLite): the first page, a search, a filtered
//! page and a page deep in the cursor walk, each through the use case `admin::list_users`
//! (the route adds only the query string's reading and the JSON). Users are inserted directly
//! in batches, without password hashing.
//!
//!     cargo run --release --example bench -- --admin-users

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::{Connection, Executor};

use bouncer::clock::SystemClock;
use bouncer::config::Config;
use bouncer::usecases::admin::{self, Actor, UserQuery, UserSort};

use super::processes::{JWT_REFRESH_SECRET, JWT_SECRET};

const USERS: usize = 100_000;
const BATCH: usize = 5_000;
const CREDS_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
/// Each query is timed this many times; the median is reported.
const RUNS: usize = 15;

async fn insert_users(url: &str) -> anyhow::Result<Duration> {
    bouncer::store::Db::connect(url, 1).await?.close().await;
    let mut conn = sqlx::AnyConnection::connect(url).await?;
    conn.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
        .await?;
    let started = Instant::now();
    for chunk in (0..USERS).collect::<Vec<_>>().chunks(BATCH) {
        let mut tx = conn.begin().await?;
        for &i in chunk {
            sqlx::query(
                "INSERT INTO users (id, email, name, username, email_verified, provider, role, \
                                    two_factor_enabled, created_at, updated_at, disabled_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)",
            )
            .bind(format!("{i:024x}"))
            .bind(format!("user{i}@example.com"))
            .bind(format!("User {}", (i * 7919) % USERS))
            .bind(format!("user{i}"))
            .bind(i64::from(i % 20 != 0))
            .bind(if i % 4 == 3 { "google" } else { "local" })
            .bind(if i % 1000 == 0 { "ADMIN" } else { "USER" })
            .bind(i64::from(i % 10 == 0))
            .bind(1_704_164_645_678i64 + (i as i64) * 1000)
            .bind((i % 500 == 0).then_some(1_717_747_750_111i64))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
    }
    conn.execute("ANALYZE").await?;
    Ok(started.elapsed())
}

async fn median(ctx: &bouncer::AppContext, q: &UserQuery) -> anyhow::Result<(Duration, usize)> {
    let mut times = Vec::with_capacity(RUNS);
    let mut n = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        let page = admin::list_users(ctx, &Actor::Cli, q).await?;
        times.push(started.elapsed());
        n = page.users.len();
    }
    times.sort();
    Ok((times[RUNS / 2], n))
}

pub async fn run() -> anyhow::Result<String> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}/admin.db", dir.path().display());
    let inserted = insert_users(&url).await.context("inserting users")?;
    let vars: HashMap<String, String> = [
        ("DATABASE_URL", url.as_str()),
        ("JWT_SECRET", JWT_SECRET),
        ("JWT_REFRESH_SECRET", JWT_REFRESH_SECRET),
        ("CREDS_KEY", CREDS_KEY),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = Config::from_vars(&vars)?;
    let ctx = bouncer::AppContext::build(config, Arc::new(SystemClock)).await?;

    // The cursor of page 1,000 (50,000 users in), by walking there once.
    let mut deep = UserQuery::default();
    for _ in 0..1000 {
        let page = admin::list_users(&ctx, &Actor::Cli, &deep).await?;
        deep.cursor = page.next;
    }
    let cases: Vec<(&str, UserQuery)> = vec![
        ("first page (created_at, 50)", UserQuery::default()),
        (
            "search \"user4242\" (email/name/username)",
            UserQuery {
                search: Some("user4242".into()),
                ..Default::default()
            },
        ),
        (
            "filtered: provider=google, enabled, by email",
            UserQuery {
                provider: Some("google".into()),
                disabled: Some(false),
                sort: UserSort::Email,
                ..Default::default()
            },
        ),
        (
            "sparse filter: ADMIN with 2FA (100 of 100k)",
            UserQuery {
                role: Some("ADMIN".into()),
                two_factor: Some(true),
                ..Default::default()
            },
        ),
        ("deep cursor page (after 50,000 users)", deep),
    ];
    let mut out = format!(
        "admin user list, {USERS} users on SQLite (inserted in {:.1} s); median of {RUNS}\n",
        inserted.as_secs_f64()
    );
    for (name, q) in cases {
        let (time, n) = median(&ctx, &q).await?;
        out.push_str(&format!(
            "  {name:<45} {:>8.2} ms  ({n} users)\n",
            time.as_secs_f64() * 1000.0
        ));
    }
    Ok(out)
}
