//! Connecting to the Redis of `USE_REDIS`: shared by the moderation state and the change feed.

use crate::config::RedisSettings;

/// A Redis client for the configured URI and credentials.
pub fn client(settings: &RedisSettings) -> anyhow::Result<redis::Client> {
    let mut url = url::Url::parse(&settings.uri).map_err(|e| anyhow::anyhow!("REDIS_URI: {e}"))?;
    if let Some(user) = &settings.username {
        let _ = url.set_username(user);
    }
    if let Some(password) = &settings.password {
        let _ = url.set_password(Some(password.expose()));
    }
    redis::Client::open(url).map_err(|e| anyhow::anyhow!("REDIS_URI: {e}"))
}
