//! API keys of programmatic clients: made here (`secret`), checked here against an in-memory
//! index of every live key, so a gateway request with a key costs no database round trip.
//! The index is loaded at start, follows this instance's own creations and revocations at
//! once, and those of other instances through the change feed (Redis) and the half-second
//! poll (`sync`, which also notices keys gone with their deleted user); a full reload every
//! `RELOAD_EVERY` takes in role and profile changes. The last use of each key is kept in memory and written
//! in batches (`flush_last_use`), never per request.

pub mod scopes;
pub mod secret;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::change_feed::ChangeFeed;
use crate::clock::Clock;
use crate::config::api_keys::ApiKeysConfig;
use crate::error::{Error, Result};
use crate::moderation::limiter::Limiter;
use crate::sessions::AccessClaims;
use crate::store::{self, Db};
use scopes::Scopes;

/// The `typ` of the identity a key authenticates as (never a token's): the gateway counts
/// such requests in the key's own limiter, whose key id is the identity's `sid`.
pub const API_KEY_TYP: &str = "api_key";

/// How far back each poll re-reads, for rows written by instances whose clocks run behind.
const SYNC_OVERLAP_MS: i64 = 60_000;
/// How often the whole index is read again (changed roles and names of the keys' users).
pub const RELOAD_EVERY: Duration = Duration::from_secs(60);
/// How often the last uses are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);

/// The same refusal for every key that does not open the gateway, so nothing tells which keys
/// exist.
fn invalid() -> Error {
    Error::Unauthorized("Invalid API key".into())
}

struct Entry {
    digest: [u8; 32],
    scopes: Scopes,
    expires_at: Option<i64>,
    /// The owner as a request with this key is forwarded.
    identity: AccessClaims,
    /// When the key was last used (ms; 0: not since start) and the last time written.
    used_at: AtomicI64,
    written_at: AtomicI64,
}

impl Entry {
    fn from_row(row: store::api_keys::IndexedKey) -> Option<(String, Self)> {
        let digest = <[u8; 32]>::try_from(hex::decode(&row.secret_hash).ok()?).ok()?;
        let identity = AccessClaims {
            id: row.user_id,
            username: row.username,
            provider: row.provider,
            email: row.email,
            sid: row.id.clone(),
            role: Some(row.role),
            scope: None,
            name: Some(row.name).filter(|n| !n.is_empty()),
            typ: Some(API_KEY_TYP.into()),
            iat: row.created_at / 1000,
            exp: row.expires_at.map_or(i64::MAX, |ms| ms / 1000),
        };
        Some((
            row.id,
            Self {
                digest,
                scopes: Scopes::from_json(&row.scopes),
                expires_at: row.expires_at,
                identity,
                used_at: AtomicI64::new(0),
                written_at: AtomicI64::new(0),
            },
        ))
    }

    /// Carries the unwritten last use of the entry this one replaces.
    fn inherit(self, old: Option<&Arc<Entry>>) -> Self {
        if let Some(old) = old {
            self.used_at
                .store(old.used_at.load(Ordering::Relaxed), Ordering::Relaxed);
            self.written_at
                .store(old.written_at.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        self
    }
}

/// A key a request presented, checked.
pub struct KeyIdentity {
    pub claims: AccessClaims,
    pub scopes: Scopes,
}

pub struct ApiKeys {
    db: Db,
    clock: Arc<dyn Clock>,
    changes: Arc<ChangeFeed>,
    /// key id → the live key.
    index: RwLock<HashMap<String, Arc<Entry>>>,
    /// The newest creation or revocation time read so far.
    synced_up_to: AtomicI64,
    pub max_per_user: u64,
    /// Every gateway request with a key counts in that key's window (`API_KEY_LIMIT_*`).
    pub limiter: Limiter,
}

impl ApiKeys {
    pub async fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        changes: Arc<ChangeFeed>,
        config: &ApiKeysConfig,
    ) -> Result<Self> {
        let keys = Self {
            db,
            clock,
            changes,
            index: RwLock::default(),
            synced_up_to: AtomicI64::new(0),
            max_per_user: config.max_per_user,
            limiter: Limiter {
                name: "api_key_limiter",
                settings: config.limit.clone(),
                violation_type: "api_key_limit",
                score: config.score,
                message: format!(
                    "Too many requests with this API key, please try again after {} minute(s)",
                    config.limit.window_minutes()
                ),
            },
        };
        keys.reload().await?;
        Ok(keys)
    }

    /// The identity of a live key, or 401. Memory only.
    pub fn authenticate(&self, key: &str) -> Result<KeyIdentity> {
        let id = secret::id_of(key).ok_or_else(invalid)?;
        let entry = self.index.read().ok().and_then(|m| m.get(id).cloned());
        let entry = entry
            .filter(|e| secret::matches(key, &e.digest))
            .ok_or_else(invalid)?;
        let now = self.clock.now_ms();
        if entry.expires_at.is_some_and(|at| at <= now) {
            return Err(Error::Unauthorized("API key expired".into()));
        }
        entry.used_at.fetch_max(now, Ordering::Relaxed);
        Ok(KeyIdentity {
            claims: entry.identity.clone(),
            scopes: entry.scopes,
        })
    }

    /// Stores a new key for `user_id` (under `max_per_user`) and lets it in here at once and
    /// on the other instances soon. `false`: the user is at the maximum.
    pub async fn insert(&self, key: &store::api_keys::NewKey<'_>) -> Result<bool> {
        if !store::api_keys::insert(&self.db, key, self.max_per_user).await? {
            return Ok(false);
        }
        self.sync().await?;
        self.changes.announce();
        Ok(true)
    }

    /// Revokes a live key (only `user_id`'s when given): refused here at once, elsewhere as
    /// soon as the change feed or the poll brings it.
    pub async fn revoke(
        &self,
        id: &str,
        user_id: Option<&str>,
    ) -> Result<Option<store::api_keys::ApiKey>> {
        let revoked = store::api_keys::revoke(&self.db, id, user_id, self.clock.now_ms()).await?;
        if revoked.is_some() {
            if let Ok(mut index) = self.index.write() {
                index.remove(id);
            }
            self.changes.announce();
        }
        Ok(revoked)
    }

    /// Reads every live key again, in place of the index.
    pub async fn reload(&self) -> Result<usize> {
        let count = self.reload_only().await?;
        // A revocation committed while the rows were read must not come back with them.
        self.sync().await?;
        Ok(count)
    }

    async fn reload_only(&self) -> Result<usize> {
        let now = self.clock.now_ms();
        let rows = store::api_keys::live(&self.db, now).await?;
        let newest = rows
            .iter()
            .map(|r| r.created_at.max(r.revoked_at.unwrap_or(0)))
            .max()
            .unwrap_or(0);
        let count = rows.len();
        if let Ok(mut index) = self.index.write() {
            let mut fresh = HashMap::with_capacity(count);
            for row in rows {
                if let Some((id, entry)) = Entry::from_row(row) {
                    let entry = entry.inherit(index.get(&id));
                    fresh.insert(id, Arc::new(entry));
                }
            }
            *index = fresh;
        }
        self.synced_up_to.fetch_max(newest, Ordering::AcqRel);
        Ok(count)
    }

    /// Reads keys created or revoked since the last read (by any process) into the index.
    pub async fn sync(&self) -> Result<usize> {
        let seen = self.synced_up_to.load(Ordering::Acquire);
        let rows =
            store::api_keys::changed_since(&self.db, seen.saturating_sub(SYNC_OVERLAP_MS)).await?;
        let newest = rows
            .iter()
            .map(|r| r.created_at.max(r.revoked_at.unwrap_or(0)))
            .max()
            .unwrap_or(seen);
        let count = rows.len();
        if let Ok(mut index) = self.index.write() {
            for row in rows {
                if row.revoked_at.is_some() {
                    index.remove(&row.id);
                } else if let Some((id, entry)) = Entry::from_row(row) {
                    let entry = entry.inherit(index.get(&id));
                    index.insert(id, Arc::new(entry));
                }
            }
        }
        self.synced_up_to.fetch_max(newest, Ordering::AcqRel);
        // Keys leave the table without a revocation when their user is deleted (the rows
        // cascade): a count that differs from the index's says to read it whole again.
        let now = self.clock.now_ms();
        let held = self.index.read().map_or(0, |index| {
            index
                .values()
                .filter(|e| e.expires_at.is_none_or(|at| at > now))
                .count()
        });
        if store::api_keys::count_live(&self.db, now).await? != held as i64 {
            self.reload_only().await?;
        }
        Ok(count)
    }

    /// Writes the last uses not yet written, in one batch.
    pub async fn flush_last_use(&self) -> Result<usize> {
        let pending: Vec<(Arc<Entry>, i64)> = match self.index.read() {
            Ok(index) => index
                .values()
                .filter_map(|e| {
                    let used = e.used_at.load(Ordering::Relaxed);
                    (used > e.written_at.load(Ordering::Relaxed)).then(|| (e.clone(), used))
                })
                .collect(),
            Err(_) => return Ok(0),
        };
        if pending.is_empty() {
            return Ok(0);
        }
        let uses: Vec<(String, i64)> = pending
            .iter()
            .map(|(e, used)| (e.identity.sid.clone(), *used))
            .collect();
        store::api_keys::record_last_use(&self.db, &uses).await?;
        for (entry, used) in &pending {
            entry.written_at.fetch_max(*used, Ordering::Relaxed);
        }
        Ok(pending.len())
    }
}
