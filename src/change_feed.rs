//! Cross-instance nudges. Every instance re-reads bans and revoked sessions from the database
//! every half second; with Redis, an instance that bans, unbans or revokes also publishes on a
//! channel, and every instance re-reads at once instead of at its next poll. A lost message
//! costs nothing but that half second, so publishing never blocks or fails a request.

use std::future::Future;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::ConnectionManager;

use crate::config::RedisSettings;
use crate::redis_client::client;

pub struct ChangeFeed {
    redis: Option<Feed>,
}

struct Feed {
    client: redis::Client,
    publisher: ConnectionManager,
    channel: String,
}

impl ChangeFeed {
    /// No Redis: the half-second poll alone.
    pub fn disabled() -> Self {
        Self { redis: None }
    }

    pub fn new(settings: &RedisSettings) -> anyhow::Result<Self> {
        let client = client(settings)?;
        let publisher = ConnectionManager::new_lazy_with_config(
            client.clone(),
            redis::aio::ConnectionManagerConfig::new()
                .set_connection_timeout(Some(Duration::from_millis(500)))
                .set_response_timeout(Some(Duration::from_millis(500))),
        )?;
        Ok(Self {
            redis: Some(Feed {
                client,
                publisher,
                channel: format!("{}bouncer:changes", settings.key_prefix),
            }),
        })
    }

    /// Tells the other instances that bans or revocations changed (fire and forget).
    pub fn announce(&self) {
        if let Some(feed) = &self.redis {
            let mut conn = feed.publisher.clone();
            let channel = feed.channel.clone();
            tokio::spawn(async move {
                let _: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                    .arg(channel)
                    .arg("1")
                    .query_async(&mut conn)
                    .await;
            });
        }
    }

    /// Runs `on_change` for every announcement, for as long as the server runs; reconnects by
    /// itself after a Redis outage.
    pub fn listen<F, Fut>(&self, on_change: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let Some(feed) = &self.redis else { return };
        let (client, channel) = (feed.client.clone(), feed.channel.clone());
        tokio::spawn(async move {
            loop {
                match client.get_async_pubsub().await {
                    Ok(mut pubsub) => {
                        if pubsub.subscribe(&channel).await.is_ok() {
                            let mut messages = pubsub.into_on_message();
                            while messages.next().await.is_some() {
                                on_change().await;
                            }
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "change feed: redis unavailable"),
                }
                // Catch up on whatever was missed while disconnected, then subscribe again.
                on_change().await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}
