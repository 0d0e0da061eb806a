//! Moderation state: limiter windows, violation scores and in-flight counters. Behind one small
//! trait so that several instances can share it in Redis; this is the in-process one.

use std::sync::Mutex;

use async_trait::async_trait;
use hashlink::LruCache;

use crate::error::Result;

#[async_trait]
pub trait ModerationState: Send + Sync {
    /// Counts one request in `key`'s fixed window (which starts at its first request and lasts
    /// `window_ms`); returns the count including this request. Atomic: N concurrent calls
    /// return N distinct counts.
    async fn hit(&self, key: &str, window_ms: i64, now_ms: i64) -> Result<u64>;

    /// Adds `score` to a violation counter and returns `(before, after)`, atomically. A counter
    /// whose last violation is `forget_after_ms` old or older starts again from zero (when
    /// `forget_after_ms` is 0 it never does: LibreChat's rule).
    async fn add_score(
        &self,
        key: &str,
        score: i64,
        forget_after_ms: i64,
        now_ms: i64,
    ) -> Result<(i64, i64)>;

    /// One more request in flight for `key`; returns how many now. The count is forgotten
    /// `ttl_ms` after its last change, so a crashed request cannot hold a slot forever.
    async fn enter(&self, key: &str, ttl_ms: i64, now_ms: i64) -> Result<u64>;

    /// One request fewer in flight.
    async fn leave(&self, key: &str) -> Result<()>;

    /// Drops windows and in-flight counters that have run out, and scores whose last violation
    /// is `forget_scores_after_ms` old (none when it is 0).
    async fn purge(&self, now_ms: i64, forget_scores_after_ms: i64) -> Result<()>;

    /// Whether the state's store answers (always, in memory).
    async fn ping(&self) -> bool {
        true
    }
}

/// The state of one process. Each map holds at most `max_keys` entries and gives up the least
/// recently used one for a new key, so a flood of distinct IPs cannot grow memory without
/// bound; what the flood can do is push out idle entries (a client's own window stays while it
/// keeps using it, and to push one out costs `max_keys` requests from other addresses).
pub struct MemoryState {
    windows: Mutex<LruCache<String, Window>>,
    scores: Mutex<LruCache<String, Score>>,
    in_flight: Mutex<LruCache<String, InFlight>>,
}

/// The entries each map keeps unless told otherwise (`MODERATION_MAX_KEYS`).
pub const DEFAULT_MAX_KEYS: usize = 250_000;

impl Default for MemoryState {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_KEYS)
    }
}

impl MemoryState {
    pub fn new(max_keys: usize) -> Self {
        let max_keys = max_keys.max(1);
        Self {
            windows: Mutex::new(LruCache::new(max_keys)),
            scores: Mutex::new(LruCache::new(max_keys)),
            in_flight: Mutex::new(LruCache::new(max_keys)),
        }
    }

    /// Entries held now: windows, scores, in-flight counts.
    pub fn sizes(&self) -> (usize, usize, usize) {
        fn len<V>(m: &Mutex<LruCache<String, V>>) -> usize {
            m.lock().map_or(0, |m| m.len())
        }
        (len(&self.windows), len(&self.scores), len(&self.in_flight))
    }
}

struct Window {
    ends_at: i64,
    count: u64,
}

struct Score {
    value: i64,
    last_at: i64,
}

struct InFlight {
    count: u64,
    expires_at: i64,
}

fn poisoned() -> crate::error::Error {
    anyhow::anyhow!("moderation state lock poisoned").into()
}

/// Removes the entries `spent` says have run out (the caches keep no order by time).
fn drop_spent<V>(map: &Mutex<LruCache<String, V>>, spent: impl Fn(&V) -> bool) -> Result<()> {
    let mut map = map.lock().map_err(|_| poisoned())?;
    let gone: Vec<String> = map
        .iter()
        .filter(|(_, v)| spent(v))
        .map(|(k, _)| k.clone())
        .collect();
    for key in gone {
        map.remove(&key);
    }
    Ok(())
}

#[async_trait]
impl ModerationState for MemoryState {
    async fn hit(&self, key: &str, window_ms: i64, now_ms: i64) -> Result<u64> {
        let mut windows = self.windows.lock().map_err(|_| poisoned())?;
        let fresh = Window {
            ends_at: now_ms.saturating_add(window_ms),
            count: 1,
        };
        match windows.get_mut(key) {
            Some(window) if window.ends_at > now_ms => {
                window.count += 1;
                Ok(window.count)
            }
            Some(window) => {
                *window = fresh;
                Ok(1)
            }
            None => {
                windows.insert(key.to_string(), fresh);
                Ok(1)
            }
        }
    }

    async fn add_score(
        &self,
        key: &str,
        score: i64,
        forget_after_ms: i64,
        now_ms: i64,
    ) -> Result<(i64, i64)> {
        let mut scores = self.scores.lock().map_err(|_| poisoned())?;
        let before = match scores.get(key) {
            Some(s) if forget_after_ms <= 0 || now_ms - s.last_at < forget_after_ms => s.value,
            _ => 0,
        };
        let after = before.saturating_add(score);
        scores.insert(
            key.to_string(),
            Score {
                value: after,
                last_at: now_ms,
            },
        );
        Ok((before, after))
    }

    async fn enter(&self, key: &str, ttl_ms: i64, now_ms: i64) -> Result<u64> {
        let mut map = self.in_flight.lock().map_err(|_| poisoned())?;
        let expires_at = now_ms.saturating_add(ttl_ms);
        match map.get_mut(key) {
            Some(entry) => {
                if entry.expires_at <= now_ms {
                    entry.count = 0;
                }
                entry.count += 1;
                entry.expires_at = expires_at;
                Ok(entry.count)
            }
            None => {
                map.insert(
                    key.to_string(),
                    InFlight {
                        count: 1,
                        expires_at,
                    },
                );
                Ok(1)
            }
        }
    }

    async fn leave(&self, key: &str) -> Result<()> {
        let mut map = self.in_flight.lock().map_err(|_| poisoned())?;
        if let Some(entry) = map.peek_mut(key) {
            entry.count = entry.count.saturating_sub(1);
            if entry.count == 0 {
                map.remove(key);
            }
        }
        Ok(())
    }

    async fn purge(&self, now_ms: i64, forget_scores_after_ms: i64) -> Result<()> {
        drop_spent(&self.windows, |w| w.ends_at <= now_ms)?;
        drop_spent(&self.in_flight, |f| f.expires_at <= now_ms)?;
        if forget_scores_after_ms > 0 {
            drop_spent(&self.scores, |s| {
                now_ms - s.last_at >= forget_scores_after_ms
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fixed_window_counts_and_resets() {
        let s = MemoryState::default();
        assert_eq!(s.hit("k", 1000, 0).await.unwrap(), 1);
        assert_eq!(s.hit("k", 1000, 999).await.unwrap(), 2);
        assert_eq!(s.hit("other", 1000, 999).await.unwrap(), 1);
        assert_eq!(
            s.hit("k", 1000, 1000).await.unwrap(),
            1,
            "a new window starts"
        );
        s.purge(5000, 0).await.unwrap();
        assert_eq!(s.hit("k", 1000, 5000).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn scores_accumulate_and_without_a_window_never_decay() {
        let s = MemoryState::default();
        let year = 365 * 24 * 3_600_000;
        assert_eq!(
            s.add_score("logins:ip:1.2.3.4", 1, 0, 0).await.unwrap(),
            (0, 1)
        );
        assert_eq!(
            s.add_score("logins:ip:1.2.3.4", 19, 0, year).await.unwrap(),
            (1, 20)
        );
        assert_eq!(
            s.add_score("registrations:ip:1.2.3.4", 1, 0, year)
                .await
                .unwrap(),
            (0, 1)
        );
        s.purge(10 * year, 0).await.unwrap();
        assert_eq!(s.sizes().1, 2, "no window: scores are kept");
    }

    #[tokio::test]
    async fn a_score_is_forgotten_a_window_after_its_last_violation() {
        let s = MemoryState::default();
        let day = 24 * 3_600_000;
        assert_eq!(s.add_score("k", 19, day, 0).await.unwrap(), (0, 19));
        // Each violation starts the window again: steady abuse keeps its score.
        assert_eq!(s.add_score("k", 1, day, day - 1).await.unwrap(), (19, 20));
        assert_eq!(
            s.add_score("k", 1, day, 2 * day - 2).await.unwrap(),
            (20, 21)
        );
        // A quiet window, and the next slip starts from nothing.
        assert_eq!(s.add_score("k", 1, day, 3 * day - 2).await.unwrap(), (0, 1));
        s.purge(4 * day - 3, day).await.unwrap();
        assert_eq!(s.sizes().1, 1, "not yet a day old");
        s.purge(4 * day - 2, day).await.unwrap();
        assert_eq!(s.sizes().1, 0, "purged a day after the last violation");
    }

    #[tokio::test]
    async fn the_maps_are_bounded_and_a_busy_key_outlives_a_flood() {
        let s = MemoryState::new(1_000);
        for _ in 0..5 {
            s.hit("login:ip:attacker", 60_000, 0).await.unwrap();
        }
        for n in 0..10_000 {
            s.hit(&format!("login:ip:flood-{n}"), 60_000, 0)
                .await
                .unwrap();
            s.add_score(&format!("logins:ip:flood-{n}"), 1, 0, 0)
                .await
                .unwrap();
            s.enter(&format!("in_flight:user:{n}"), 60_000, 0)
                .await
                .unwrap();
            if n % 500 == 0 {
                // The attacker keeps using its own key while it floods.
                s.hit("login:ip:attacker", 60_000, 0).await.unwrap();
            }
        }
        assert_eq!(s.sizes(), (1_000, 1_000, 1_000));
        assert_eq!(
            s.hit("login:ip:attacker", 60_000, 0).await.unwrap(),
            26,
            "its count survived ten times the capacity in other keys"
        );
    }

    #[tokio::test]
    async fn in_flight_counts_expire() {
        let s = MemoryState::default();
        assert_eq!(s.enter("u", 60_000, 0).await.unwrap(), 1);
        assert_eq!(s.enter("u", 60_000, 1).await.unwrap(), 2);
        s.leave("u").await.unwrap();
        assert_eq!(s.enter("u", 60_000, 2).await.unwrap(), 2);
        assert_eq!(
            s.enter("u", 60_000, 70_000).await.unwrap(),
            1,
            "stale slots are forgotten"
        );
    }
}
