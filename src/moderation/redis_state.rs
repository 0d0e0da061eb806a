//! Moderation state in Redis, shared by every instance (`USE_REDIS=true`). Each operation is one
//! atomic command or Lua script, so N instances together let exactly the limit through.
//! Limiter windows end by the injected clock, like the in-memory state; Redis expiry only
//! cleans up, a minute after a window would have ended (so a one-second window is not lost to
//! Redis's own clock before the injected one ends it).

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;

use super::state::ModerationState;
use crate::config::RedisSettings;
use crate::error::Result;
use crate::redis_client::client;

/// How long a ping may take before Redis counts as down.
const PING_TIMEOUT: Duration = Duration::from_millis(500);

pub struct RedisState {
    connection: ConnectionManager,
    prefix: String,
    hit: Script,
    add_score: Script,
    enter: Script,
    leave: Script,
}

fn failed(e: redis::RedisError) -> crate::error::Error {
    anyhow::anyhow!("redis: {e}").into()
}

impl RedisState {
    /// Connects (and checks the connection once: a wrong `REDIS_URI` stops the start). Later
    /// outages are survived: the connection manager reconnects by itself.
    pub async fn connect(settings: &RedisSettings) -> anyhow::Result<Self> {
        let client = client(settings)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| anyhow::anyhow!("redis: {e}"))?;
        let state = Self {
            connection,
            prefix: settings.key_prefix.clone(),
            hit: Script::new(
                r"local ends = tonumber(redis.call('HGET', KEYS[1], 'ends') or '0')
                  local now = tonumber(ARGV[1])
                  if ends <= now then
                    redis.call('HSET', KEYS[1], 'ends', now + tonumber(ARGV[2]), 'count', 1)
                    redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + 60000)
                    return 1
                  end
                  return redis.call('HINCRBY', KEYS[1], 'count', 1)",
            ),
            // A score and the time of its last violation; by the injected clock, as the windows.
            // The key expires a window after its last violation (never without a window).
            add_score: Script::new(
                r"local now = tonumber(ARGV[2])
                  local forget = tonumber(ARGV[3])
                  local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
                  local before = tonumber(redis.call('HGET', KEYS[1], 'score') or '0')
                  if forget > 0 and now - last >= forget then before = 0 end
                  local after = before + tonumber(ARGV[1])
                  redis.call('HSET', KEYS[1], 'score', after, 'last', now)
                  if forget > 0 then redis.call('PEXPIRE', KEYS[1], forget) end
                  return {before, after}",
            ),
            enter: Script::new(
                r"local c = redis.call('INCR', KEYS[1])
                  redis.call('PEXPIRE', KEYS[1], ARGV[1])
                  return c",
            ),
            leave: Script::new(
                r"local c = redis.call('DECR', KEYS[1])
                  if c <= 0 then redis.call('DEL', KEYS[1]) end
                  return c",
            ),
        };
        if !state.ping().await {
            anyhow::bail!(
                "redis at {} does not answer PING",
                crate::config::redact_url(&settings.uri)
            );
        }
        Ok(state)
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

#[async_trait]
impl ModerationState for RedisState {
    async fn hit(&self, key: &str, window_ms: i64, now_ms: i64) -> Result<u64> {
        let mut c = self.connection.clone();
        self.hit
            .key(self.key(key))
            .arg(now_ms)
            .arg(window_ms)
            .invoke_async(&mut c)
            .await
            .map_err(failed)
    }

    async fn add_score(
        &self,
        key: &str,
        score: i64,
        forget_after_ms: i64,
        now_ms: i64,
    ) -> Result<(i64, i64)> {
        let mut c = self.connection.clone();
        self.add_score
            .key(self.key(key))
            .arg(score)
            .arg(now_ms)
            .arg(forget_after_ms)
            .invoke_async(&mut c)
            .await
            .map_err(failed)
    }

    async fn enter(&self, key: &str, ttl_ms: i64, _now_ms: i64) -> Result<u64> {
        let mut c = self.connection.clone();
        self.enter
            .key(self.key(key))
            .arg(ttl_ms)
            .invoke_async(&mut c)
            .await
            .map_err(failed)
    }

    async fn leave(&self, key: &str) -> Result<()> {
        let mut c = self.connection.clone();
        let _: i64 = self
            .leave
            .key(self.key(key))
            .invoke_async(&mut c)
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn purge(&self, _now_ms: i64, _forget_scores_after_ms: i64) -> Result<()> {
        // Redis expires keys by itself.
        Ok(())
    }

    /// Bounded as a whole: the connection manager's own timeouts apply per attempt and it may
    /// reconnect and retry, and a Redis that accepts connections but never answers must not
    /// hold `/healthz`.
    async fn ping(&self) -> bool {
        let mut c = self.connection.clone();
        let ping = redis::cmd("PING");
        tokio::time::timeout(PING_TIMEOUT, ping.query_async::<String>(&mut c))
            .await
            .is_ok_and(|answer| answer.is_ok_and(|pong| pong == "PONG"))
    }
}
