//! Bouncer: authentication and abuse moderation for self-hosted AI chat platforms, speaking
//! LibreChat's auth protocol. `main.rs` and the integration tests both start the server through
//! this library.

pub mod accounts;
pub mod api_keys;
pub mod app;
pub mod audit;
pub mod change_feed;
pub mod cli;
pub mod clock;
pub mod config;
pub mod error;
pub mod gateway;
pub mod http;
pub mod ids;
pub mod ldap;
pub mod mail;
pub mod metrics;
pub mod migration;
pub mod moderation;
pub mod pages;
pub mod passkeys;
pub mod provider;
pub mod redis_client;
pub mod request_target;
pub mod return_to;
pub mod router;
pub mod server;
pub mod sessions;
pub mod sso;
pub mod store;
pub mod twofactor;
pub mod upstream_client;
pub mod usecases;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use app::AppContext;

/// How often expired sessions and stale revocations are purged.
const PURGE_EVERY: Duration = Duration::from_secs(600);

/// How often the provider's signing keys are re-read (rotations by the command).
const KEY_RELOAD_EVERY: Duration = Duration::from_secs(30);

/// Serves the API on `listener` until `shutdown` completes, then returns once the requests in
/// flight have finished.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ctx: Arc<AppContext>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = server::ConnectionLimits::resolve(
        &ctx.config.server,
        ctx.config.database_max_connections,
        ctx.config.gateway.upstream.is_some(),
    );
    let Some(port) = ctx.config.metrics.own_port() else {
        return server::serve(listener, router::router(ctx), limits, shutdown).await;
    };
    // `/metrics` on a listener of its own (METRICS_PORT), started beside the main one and
    // stopped by the same signal.
    let address = format!("{}:{port}", ctx.config.host);
    let metrics_listener = tokio::net::TcpListener::bind(&address).await.map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot listen on {address} (METRICS_PORT): {e}"),
        )
    })?;
    tracing::info!(address = %metrics_listener.local_addr()?, "metrics listening");
    let shutdown = futures_util::FutureExt::shared(Box::pin(shutdown));
    let metrics = tokio::spawn(server::serve(
        metrics_listener,
        http::metrics::metrics_router(ctx.clone()),
        limits,
        shutdown.clone(),
    ));
    let served = server::serve(listener, router::router(ctx), limits, shutdown).await;
    let _ = metrics.await;
    served
}

/// Background work for as long as the server runs: reading revocations and bans written by
/// other processes every half second, and purging expired sessions, bans and limiter windows every
/// ten minutes.
pub fn spawn_maintenance(ctx: Arc<AppContext>) -> tokio::task::JoinHandle<()> {
    let nudged = ctx.clone();
    ctx.changes.listen(move || {
        let ctx = nudged.clone();
        async move {
            let _ = ctx.sessions.sync_revocations().await;
            let _ = ctx.moderation.sync_bans().await;
            let _ = ctx.accounts.sync_disabled().await;
            let _ = ctx.api_keys.sync().await;
        }
    });
    let sync = ctx.clone();
    tokio::spawn(async move {
        let mut tick =
            tokio::time::interval(Duration::from_millis(sessions::REVOCATION_SYNC_EVERY_MS));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if !sync.db.is_available() {
                // The database's own probe reports the outage once; this would every tick.
                continue;
            }
            if let Err(e) = sync.sessions.sync_revocations().await {
                tracing::warn!(error = %e, "reading session revocations failed");
            }
            if let Err(e) = sync.moderation.sync_bans().await {
                tracing::warn!(error = %e, "reading bans failed");
            }
            if let Err(e) = sync.api_keys.sync().await {
                tracing::warn!(error = %e, "reading API keys failed");
            }
            if let Err(e) = sync.accounts.sync_disabled().await {
                tracing::warn!(error = %e, "reading disabled users failed");
            }
        }
    });
    spawn_api_key_upkeep(ctx.clone());
    spawn_metrics_upkeep(ctx.clone());
    let keys = ctx.clone();
    tokio::spawn(async move {
        // A key added by `bouncer rotate-signing-key` signs here within this bound; until
        // then this instance signs with the previous key, which stays published.
        let mut tick = tokio::time::interval(KEY_RELOAD_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = keys.provider.keys.reload().await {
                tracing::warn!(error = %e, "reading the provider's signing keys failed");
            }
        }
    });
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PURGE_EVERY);
        loop {
            tick.tick().await;
            match ctx.sessions.purge_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sessions = n, "purged expired sessions"),
                Err(e) => tracing::warn!(error = %e, "purging expired sessions failed"),
            }
            match ctx.accounts.purge_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(users = n, "deleted unverified accounts past their expiry"),
                Err(e) => tracing::warn!(error = %e, "purging unverified accounts failed"),
            }
            // A used code is kept a day past its expiry, to recognise it if it comes back.
            let now = ctx.clock.now_ms();
            if let Err(e) = store::oidc_codes::delete_expired(&ctx.db, now, 86_400_000).await {
                tracing::warn!(error = %e, "purging expired authorization codes failed");
            }
            match ctx.moderation.purge_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(bans = n, "purged expired bans"),
                Err(e) => tracing::warn!(error = %e, "purging expired bans failed"),
            }
            match usecases::audit::purge_expired(&ctx).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(events = n, "purged audit events past AUDIT_RETENTION_DAYS")
                }
                Err(e) => tracing::warn!(error = %e, "purging old audit events failed"),
            }
        }
    })
}

/// How often, with metrics on, the live sessions are counted and the histograms' memory is
/// bounded between scrapes.
const METRICS_UPKEEP_EVERY: Duration = Duration::from_secs(15);

/// The metrics' periodic work (with metrics on): the live sessions counted by one indexed
/// query per period, never per scrape or request; and the exporter's upkeep.
fn spawn_metrics_upkeep(ctx: Arc<AppContext>) {
    if !ctx.metrics.is_enabled() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(METRICS_UPKEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            ctx.metrics.upkeep();
            if !ctx.db.is_available() {
                continue;
            }
            match store::sessions::count_live(&ctx.db, ctx.clock.now_ms()).await {
                Ok(count) => ctx.metrics.sessions_active(count.max(0) as u64),
                Err(e) => tracing::warn!(error = %e, "counting live sessions failed"),
            }
        }
    });
}

/// The API keys' batches: their last uses written every `FLUSH_EVERY`, the whole index read
/// again every `RELOAD_EVERY`.
fn spawn_api_key_upkeep(ctx: Arc<AppContext>) {
    let flush = ctx.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(api_keys::FLUSH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = flush.api_keys.flush_last_use().await {
                tracing::warn!(error = %e, "writing API keys' last use failed");
            }
        }
    });
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(api_keys::RELOAD_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = ctx.api_keys.reload().await {
                tracing::warn!(error = %e, "reading API keys failed");
            }
        }
    });
}
