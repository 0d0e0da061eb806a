//! Moderation state: limiter windows, violation scores and in-flight counters. Behind one small
//! trait so that several instances can share it in Redis; this is the in-process one.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::Result;

#[async_trait]
pub trait ModerationState: Send + Sync {
    /// Counts one request in `key`'s fixed window (which starts at its first request and lasts
    /// `window_ms`); returns the count including this request. Atomic: N concurrent calls
    /// return N distinct counts.
    async fn hit(&self, key: &str, window_ms: i64, now_ms: i64) -> Result<u64>;

    /// Adds `score` to a violation counter and returns `(before, after)`, atomically. Scores
    /// do not decay (LibreChat's rule).
    async fn add_score(&self, key: &str, score: i64) -> Result<(i64, i64)>;

    /// One more request in flight for `key`; returns how many now. The count is forgotten
    /// `ttl_ms` after its last change, so a crashed request cannot hold a slot forever.
    async fn enter(&self, key: &str, ttl_ms: i64, now_ms: i64) -> Result<u64>;

    /// One request fewer in flight.
    async fn leave(&self, key: &str) -> Result<()>;

    /// Drops windows and in-flight counters that have run out.
    async fn purge(&self, now_ms: i64) -> Result<()>;

    /// Whether the state's store answers (always, in memory).
    async fn ping(&self) -> bool {
        true
    }
}

#[derive(Default)]
pub struct MemoryState {
    windows: Mutex<HashMap<String, Window>>,
    scores: Mutex<HashMap<String, i64>>,
    in_flight: Mutex<HashMap<String, InFlight>>,
}

struct Window {
    ends_at: i64,
    count: u64,
}

struct InFlight {
    count: u64,
    expires_at: i64,
}

fn poisoned() -> crate::error::Error {
    anyhow::anyhow!("moderation state lock poisoned").into()
}

#[async_trait]
impl ModerationState for MemoryState {
    async fn hit(&self, key: &str, window_ms: i64, now_ms: i64) -> Result<u64> {
        let mut windows = self.windows.lock().map_err(|_| poisoned())?;
        let window = windows.entry(key.to_string()).or_insert(Window {
            ends_at: now_ms + window_ms,
            count: 0,
        });
        if window.ends_at <= now_ms {
            *window = Window {
                ends_at: now_ms + window_ms,
                count: 0,
            };
        }
        window.count += 1;
        Ok(window.count)
    }

    async fn add_score(&self, key: &str, score: i64) -> Result<(i64, i64)> {
        let mut scores = self.scores.lock().map_err(|_| poisoned())?;
        let entry = scores.entry(key.to_string()).or_insert(0);
        let before = *entry;
        *entry = before.saturating_add(score);
        Ok((before, *entry))
    }

    async fn enter(&self, key: &str, ttl_ms: i64, now_ms: i64) -> Result<u64> {
        let mut map = self.in_flight.lock().map_err(|_| poisoned())?;
        let entry = map.entry(key.to_string()).or_insert(InFlight {
            count: 0,
            expires_at: 0,
        });
        if entry.expires_at <= now_ms {
            entry.count = 0;
        }
        entry.count += 1;
        entry.expires_at = now_ms + ttl_ms;
        Ok(entry.count)
    }

    async fn leave(&self, key: &str) -> Result<()> {
        let mut map = self.in_flight.lock().map_err(|_| poisoned())?;
        if let Some(entry) = map.get_mut(key) {
            entry.count = entry.count.saturating_sub(1);
            if entry.count == 0 {
                map.remove(key);
            }
        }
        Ok(())
    }

    async fn purge(&self, now_ms: i64) -> Result<()> {
        self.windows
            .lock()
            .map_err(|_| poisoned())?
            .retain(|_, w| w.ends_at > now_ms);
        self.in_flight
            .lock()
            .map_err(|_| poisoned())?
            .retain(|_, f| f.expires_at > now_ms);
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
        s.purge(5000).await.unwrap();
        assert_eq!(s.hit("k", 1000, 5000).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn scores_accumulate_without_decay() {
        let s = MemoryState::default();
        assert_eq!(s.add_score("logins:ip:1.2.3.4", 1).await.unwrap(), (0, 1));
        assert_eq!(s.add_score("logins:ip:1.2.3.4", 19).await.unwrap(), (1, 20));
        assert_eq!(
            s.add_score("registrations:ip:1.2.3.4", 1).await.unwrap(),
            (0, 1)
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
