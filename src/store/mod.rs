//! The only place with SQL. Each table has its own module; all of them take a `Db`.

pub mod api_keys;
pub mod audit;
pub mod availability;
pub mod bans;
pub mod email_tokens;
pub mod identities;
pub mod migration;
pub mod oidc_clients;
pub mod oidc_codes;
pub mod oidc_consents;
pub mod passkeys;
pub mod revocations;
pub mod saml_assertions;
pub mod sessions;
pub mod signing_keys;
mod tracked;
pub mod two_factor;
pub mod users;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::AnyPool;
use sqlx::Executor;

use availability::Availability;
use tracked::{Tracked, Tx};

/// Which engine `DATABASE_URL` names (decided while the configuration is read).
pub use crate::config::database::Engine;

/// A handle on the database: SQLite or PostgreSQL, through one pool type so that every query
/// is one SQL text for both engines (`$1` placeholders, times as integers passed from Rust).
/// Every statement runs under the database's availability verdict (see `availability`).
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    availability: Arc<Availability>,
}

impl Db {
    /// Opens (creating a SQLite file and its folder if needed) and migrates the database.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let engine =
            Engine::of(url).with_context(|| format!("unsupported DATABASE_URL {url:?}"))?;
        let url = match engine {
            Engine::Sqlite => sqlite_url(url)?,
            Engine::Postgres => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .with_context(|| format!("DATABASE_URL {}", crate::config::redact_url(&url)))?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            // How long a request may queue for a connection of a busy but healthy pool. An
            // unreachable database does not cost this: the availability probe judges it down
            // within a second and releases the waiting requests.
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        // WAL lets readers work while one writer writes, and lets the
                        // user-management commands use the database while the server runs.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options.clone())
            .await
            .with_context(|| {
                format!("opening the database ({})", crate::config::redact_url(&url))
            })?;
        let migrator = match engine {
            Engine::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Engine::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        // On PostgreSQL the migrator holds an advisory lock, so instances starting together
        // migrate one after the other.
        migrator
            .run(&pool)
            .await
            .context("applying database migrations")?;
        let availability = Arc::new(Availability::default());
        availability.spawn_probe(options);
        Ok(Self { pool, availability })
    }

    /// The probe's last verdict: false while the database is known to be unreachable. Costs
    /// no round trip, so health checks stay instant whatever the database does.
    pub fn is_available(&self) -> bool {
        self.availability.is_up()
    }

    /// The pool's open connections and how many of them are idle, as the pool counts them (no
    /// round trip).
    pub fn pool_connections(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }

    /// The executor for one statement: the pool, under the availability verdict.
    pub(crate) fn pool(&self) -> Tracked<'_, &AnyPool> {
        Tracked {
            inner: &self.pool,
            availability: &self.availability,
        }
    }

    /// Starts a transaction under the availability verdict.
    pub(crate) async fn begin(&self) -> Result<Tx<'_>, sqlx::Error> {
        let tx = self.availability.bounded(self.pool.begin()).await?;
        Ok(Tx {
            tx,
            availability: &self.availability,
        })
    }

    pub async fn close(&self) {
        self.availability.close();
        self.pool.close().await;
    }
}

/// Creates the SQLite file's folder and asks for the file to be created if missing.
fn sqlite_url(url: &str) -> anyhow::Result<String> {
    let options =
        SqliteConnectOptions::from_str(url).with_context(|| format!("DATABASE_URL {url:?}"))?;
    if let Some(parent) = options.get_filename().parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating the database folder {}", parent.display()))?;
        }
    }
    Ok(if url.contains("mode=") {
        url.to_string()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    })
}

#[cfg(test)]
mod tests {
    /// The two migration trees must hold the same versions, so both engines reach the same
    /// schema.
    #[test]
    fn migration_trees_have_the_same_versions() {
        let versions = |engine: &str| {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(engine);
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        let sqlite = versions("sqlite");
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, versions("postgres"));
    }
}
