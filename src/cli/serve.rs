//! `bouncer serve`: the HTTP server until SIGINT or SIGTERM.

use std::sync::Arc;

use crate::app::AppContext;
use crate::config::ModerationConfig;

pub async fn run(ctx: Arc<AppContext>) -> anyhow::Result<()> {
    if let Some(problem) = ctx.provider.keys.signing_problem() {
        anyhow::bail!("{problem}");
    }
    crate::server::raise_descriptor_limit();
    let addr = format!("{}:{}", ctx.config.host, ctx.config.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    tracing::info!(address = %listener.local_addr()?, "bouncer listening");
    log_client_ip_rule(&ctx.config.moderation);
    let maintenance = crate::spawn_maintenance(ctx.clone());
    if let Some(openid) = &ctx.openid {
        openid.spawn_discovery();
    }
    crate::serve(listener, ctx.clone(), shutdown_signal()).await?;
    // Messages already promised to someone (a verification, a reset link) still go out.
    let _ = tokio::time::timeout(crate::mail::SEND_TIMEOUT, ctx.mail.idle()).await;
    // Events of the requests just finished are stored before the database closes.
    ctx.audit.shutdown(crate::audit::DRAIN_BOUND).await;
    // So are the API keys' last uses, which are written in batches.
    if let Err(e) = ctx.api_keys.flush_last_use().await {
        tracing::warn!(error = %e, "writing API keys' last use failed");
    }
    // Purges under way would meet the closed database and warn about it.
    maintenance.abort();
    let _ = maintenance.await;
    ctx.db.close().await;
    tracing::info!("bouncer stopped");
    Ok(())
}

/// Says once, plainly, whose `X-Forwarded-For` decides the IP that limits and bans see, since
/// the defaults trust every private network and not only the real proxy.
fn log_client_ip_rule(moderation: &ModerationConfig) {
    let prefix = moderation.ipv6_prefix_length;
    if moderation.trust_proxy == 0 {
        tracing::info!(
            ipv6_prefix_length = prefix,
            "client IP: X-Forwarded-For is ignored (TRUST_PROXY=0), limits and bans see the \
             connecting peer; IPv6 clients are limited and banned per /{prefix} prefix \
             (IPV6_PREFIX_LENGTH)"
        );
        return;
    }
    let trusted: Vec<String> = moderation
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    tracing::info!(
        trust_proxy = moderation.trust_proxy,
        trusted_proxies = %trusted.join(","),
        ipv6_prefix_length = prefix,
        "client IP: X-Forwarded-For is believed for TRUST_PROXY hops from peers in \
         TRUSTED_PROXIES (by default loopback and every private range), so a client that \
         connects from one of them can write its own X-Forwarded-For and pick the IP its limits \
         and bans see; narrow TRUSTED_PROXIES to your proxy's address to prevent that. IPv6 \
         clients are limited and banned per /{prefix} prefix (IPV6_PREFIX_LENGTH)"
    );
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
